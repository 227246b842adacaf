//! Per-host pacing: the concurrency cap and the rate limit every request to
//! a host goes through, robots.txt requests included.
//!
//! Owns [`Host`] (one per host name, port ignored) and [`wait_turn`]. The
//! rate limit is a GCRA (governor) of [`REQUESTS_PER_SECOND_PER_HOST`] with
//! a burst of as many, or one request per robots.txt `Crawl-delay` when that
//! is slower (capped at [`MAX_CRAWL_DELAY`]). Waiters are served in order;
//! a request whose turn would come after its timeout fails at once with the
//! retryable [`FetchError::Throttled`], never waiting unboundedly.
//!
//! Deliberately not here: reading robots.txt (`robots.rs`) and sending the
//! request (`client.rs`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::Method;
use tokio::sync::Semaphore;
use url::Url;

use super::FetchError;

/// Concurrent requests to one host at most, however many sources share it
/// (every Google Alerts feed lives on www.google.com).
pub const MAX_REQUESTS_PER_HOST: usize = 4;
/// Requests a second to one host at most (and the burst allowed), unless its
/// robots.txt asks for a longer `Crawl-delay`. The default is a guard, not a
/// schedule: feeds are polled every few minutes, so even hundreds of sources
/// on one host stay under it, while a lower default would slow down short
/// test intervals for nothing.
pub const REQUESTS_PER_SECOND_PER_HOST: u32 = 5;
/// A `Crawl-delay` longer than this is read as this: past it, the source's
/// own interval is what spaces the polls.
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(3600);

/// Politeness state of one host.
pub(super) struct Host {
    /// The concurrency cap.
    pub(super) permits: Arc<Semaphore>,
    /// Held while waiting for the rate limiter, so waiters go in order
    /// (tokio's mutex is fair) instead of racing for each free slot.
    queue: tokio::sync::Mutex<()>,
    /// The limiter in force; replaced when robots.txt's Crawl-delay changes.
    /// Each host has its own limiter rather than one keyed limiter because
    /// Crawl-delay gives hosts different quotas.
    pace: Mutex<Pace>,
}

#[derive(Clone)]
pub(super) struct Pace {
    limiter: Arc<DefaultDirectRateLimiter>,
    crawl_delay: Option<Duration>,
}

impl Pace {
    pub(super) fn new(crawl_delay: Option<Duration>) -> Pace {
        let default = default_quota();
        let quota = crawl_delay
            .filter(|d| *d > default.replenish_interval())
            .and_then(|d| Quota::with_period(d.min(MAX_CRAWL_DELAY)))
            .unwrap_or(default);
        Pace {
            limiter: Arc::new(RateLimiter::direct(quota)),
            crawl_delay,
        }
    }

    pub(super) fn describe(&self) -> String {
        match self.crawl_delay {
            Some(d) if d > default_quota().replenish_interval() => {
                format!("Crawl-delay {:.3}s", d.min(MAX_CRAWL_DELAY).as_secs_f64())
            }
            _ => format!("{REQUESTS_PER_SECOND_PER_HOST} requests/s"),
        }
    }
}

fn default_quota() -> Quota {
    // Invariant: the constant is not zero (checked at compile time below).
    const RATE: std::num::NonZeroU32 = match std::num::NonZeroU32::new(REQUESTS_PER_SECOND_PER_HOST)
    {
        Some(n) => n,
        None => panic!("REQUESTS_PER_SECOND_PER_HOST must not be zero"),
    };
    Quota::per_second(RATE)
}

impl Host {
    pub(super) fn new() -> Host {
        Host {
            permits: Arc::new(Semaphore::new(MAX_REQUESTS_PER_HOST)),
            queue: tokio::sync::Mutex::new(()),
            pace: Mutex::new(Pace::new(None)),
        }
    }

    fn pace(&self) -> Pace {
        // A poisoned lock only means a panic while swapping two fields; the
        // value is still a valid pace.
        self.pace.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Applies a robots.txt `Crawl-delay` (or its absence); keeps the
    /// current limiter, and what it has counted, when nothing changed.
    pub(super) fn set_crawl_delay(&self, crawl_delay: Option<Duration>) {
        let mut pace = self.pace.lock().unwrap_or_else(|p| p.into_inner());
        if pace.crawl_delay != crawl_delay {
            *pace = Pace::new(crawl_delay);
        }
    }
}

/// Waits, in order with the host's other requests, until its rate limiter
/// lets one through; fails at once when that would take longer than
/// `timeout`.
pub(super) async fn wait_turn(
    host: &Host,
    method: &Method,
    url: &Url,
    timeout: Duration,
) -> Result<(), FetchError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let throttled = |wait: Duration| FetchError::Throttled {
        method: method.clone(),
        url: url.clone(),
        limit: host.pace().describe().into(),
        wait,
    };
    let _turn = tokio::time::timeout_at(deadline, host.queue.lock())
        .await
        .map_err(|_elapsed| throttled(timeout))?;
    loop {
        let Pace { limiter, .. } = host.pace();
        let Err(not_until) = limiter.check() else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(governor::clock::Clock::now(limiter.clock()));
        if tokio::time::Instant::now() + wait > deadline {
            return Err(throttled(wait));
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_slower_crawl_delay_changes_the_pace() {
        assert_eq!(
            Pace::new(Some(Duration::from_millis(10))).describe(),
            "5 requests/s"
        );
        assert_eq!(
            Pace::new(Some(Duration::from_secs(10))).describe(),
            "Crawl-delay 10.000s"
        );
        assert_eq!(
            Pace::new(Some(Duration::from_secs(99_999))).describe(),
            "Crawl-delay 3600.000s"
        );
    }
}
