//! Per-host pacing: the concurrency cap and the rate limit every request to
//! a host goes through, robots.txt requests included.
//!
//! Owns [`Host`] (one per host name, port ignored), [`wait_turn`] and the
//! host's queue. The rate limit is a GCRA (governor) of
//! [`REQUESTS_PER_SECOND_PER_HOST`] with a burst of as many (or the client's
//! own quota, [`HostRate`]), or one request per robots.txt `Crawl-delay`
//! when that is slower (capped at [`MAX_CRAWL_DELAY`]). Waiters are served
//! in order (a fair lock is the queue).
//!
//! How long a request may wait for its turn: its `timeout`, or, inside
//! [`patiently`], the patience given there when that is longer. The poll
//! loop polls each source patiently (for up to its interval), so 300 feeds
//! on one host wait their turn instead of failing: waiting in the host's
//! queue is not an error. Only a turn that would come after the patience
//! fails at once with the retryable [`FetchError::Throttled`], so nothing
//! waits unboundedly. [`patiently`] also adds up the time its requests
//! spent in the queue, for `veilleur_source_queue_wait_seconds`.
//!
//! Deliberately not here: reading robots.txt (`robots.rs`), sending the
//! request (`client.rs`), when a source polls (`source/poll.rs`).

use std::cell::Cell;
use std::future::Future;
use std::num::NonZeroU32;
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

/// A host's default rate limit when robots.txt asks for nothing slower:
/// `per_second` requests a second, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostRate {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Default for HostRate {
    /// [`REQUESTS_PER_SECOND_PER_HOST`], with a burst of as many.
    fn default() -> HostRate {
        // Invariant: the constant is not zero (checked at compile time).
        const RATE: NonZeroU32 = match NonZeroU32::new(REQUESTS_PER_SECOND_PER_HOST) {
            Some(n) => n,
            None => panic!("REQUESTS_PER_SECOND_PER_HOST must not be zero"),
        };
        HostRate {
            per_second: RATE,
            burst: RATE,
        }
    }
}

impl HostRate {
    fn quota(self) -> Quota {
        Quota::per_second(self.per_second).allow_burst(self.burst)
    }
}

/// What a [`patiently`] scope lends the requests made inside it.
struct Patience {
    /// The longest wait for a turn (when longer than a request's timeout).
    patience: Duration,
    /// Time its requests spent waiting for their turn so far.
    waited: Cell<Duration>,
}

tokio::task_local! {
    static PATIENCE: Patience;
}

/// Runs `fut` (one poll of a source) letting each of its requests wait up to
/// `patience` for its turn in its host's queue (instead of only its own
/// timeout, when that is shorter); returns its output and the total time
/// its requests spent waiting. Requests made by tasks `fut` spawns are not
/// covered (none of the source kinds spawns a request).
pub async fn patiently<F: Future>(patience: Duration, fut: F) -> (F::Output, Duration) {
    let scope = Patience {
        patience,
        waited: Cell::new(Duration::ZERO),
    };
    PATIENCE
        .scope(scope, async move {
            let out = fut.await;
            let waited = PATIENCE.with(|p| p.waited.get());
            (out, waited)
        })
        .await
}

/// The patience of the current [`patiently`] scope, if any.
fn patience() -> Option<Duration> {
    PATIENCE.try_with(|p| p.patience).ok()
}

/// Adds `d` to the current [`patiently`] scope's queue time, if any.
fn record_wait(d: Duration) {
    let _ = PATIENCE.try_with(|p| p.waited.set(p.waited.get() + d));
}

/// Politeness state of one host.
pub(super) struct Host {
    /// The concurrency cap.
    pub(super) permits: Arc<Semaphore>,
    /// Held while waiting for the rate limiter, so waiters go in order
    /// (tokio's mutex is fair) instead of racing for each free slot.
    queue: tokio::sync::Mutex<()>,
    /// Sources that asked for their first turn so far ([`Host::first_turn`]).
    starts: std::sync::atomic::AtomicU32,
    /// The limiter in force; replaced when robots.txt's Crawl-delay changes.
    /// Each host has its own limiter rather than one keyed limiter because
    /// Crawl-delay gives hosts different quotas.
    pace: Mutex<Pace>,
}

#[derive(Clone)]
pub(super) struct Pace {
    limiter: Arc<DefaultDirectRateLimiter>,
    rate: HostRate,
    crawl_delay: Option<Duration>,
}

impl Pace {
    pub(super) fn new(rate: HostRate, crawl_delay: Option<Duration>) -> Pace {
        let default = rate.quota();
        let quota = crawl_delay
            .filter(|d| *d > default.replenish_interval())
            .and_then(|d| Quota::with_period(d.min(MAX_CRAWL_DELAY)))
            .unwrap_or(default);
        Pace {
            limiter: Arc::new(RateLimiter::direct(quota)),
            rate,
            crawl_delay,
        }
    }

    /// The time between two requests at this pace.
    fn limiter_period(&self) -> Duration {
        let default = self.rate.quota().replenish_interval();
        match self.crawl_delay {
            Some(d) if d > default => d.min(MAX_CRAWL_DELAY),
            _ => default,
        }
    }

    pub(super) fn describe(&self) -> String {
        match self.crawl_delay {
            Some(d) if d > self.rate.quota().replenish_interval() => {
                format!("Crawl-delay {:.3}s", d.min(MAX_CRAWL_DELAY).as_secs_f64())
            }
            _ => format!("{} requests/s", self.rate.per_second),
        }
    }
}

impl Host {
    pub(super) fn new(rate: HostRate) -> Host {
        Host {
            permits: Arc::new(Semaphore::new(MAX_REQUESTS_PER_HOST)),
            queue: tokio::sync::Mutex::new(()),
            starts: std::sync::atomic::AtomicU32::new(0),
            pace: Mutex::new(Pace::new(rate, None)),
        }
    }

    /// When the next source starting on this host should first poll, from
    /// now: one request period after the one before (the n-th source at n
    /// periods), so sources configured together start at the host's pace.
    pub(super) fn first_turn(&self) -> Duration {
        let n = self
            .starts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let period = self.pace().limiter_period();
        period.saturating_mul(n)
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
            *pace = Pace::new(pace.rate, crawl_delay);
        }
    }
}

/// Waits, in order with the host's other requests, until its rate limiter
/// lets one through; fails at once when that would take longer than
/// `timeout` (or the longer patience of the current [`patiently`] scope).
/// The time waited counts towards that scope's queue time.
pub(super) async fn wait_turn(
    host: &Host,
    method: &Method,
    url: &Url,
    timeout: Duration,
) -> Result<(), FetchError> {
    let started = tokio::time::Instant::now();
    let result = wait_in_queue(
        host,
        method,
        url,
        timeout.max(patience().unwrap_or_default()),
    )
    .await;
    record_wait(started.elapsed());
    result
}

async fn wait_in_queue(
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
        let rate = HostRate::default();
        assert_eq!(
            Pace::new(rate, Some(Duration::from_millis(10))).describe(),
            "5 requests/s"
        );
        assert_eq!(
            Pace::new(rate, Some(Duration::from_secs(10))).describe(),
            "Crawl-delay 10.000s"
        );
        assert_eq!(
            Pace::new(rate, Some(Duration::from_secs(99_999))).describe(),
            "Crawl-delay 3600.000s"
        );
        let fast = HostRate {
            per_second: NonZeroU32::new(100).unwrap(),
            burst: NonZeroU32::new(1).unwrap(),
        };
        assert_eq!(
            Pace::new(fast, Some(Duration::from_millis(100))).describe(),
            "Crawl-delay 0.100s"
        );
    }

    fn url() -> Url {
        Url::parse("http://example.org/feed.xml").unwrap()
    }

    // Real time: governor keeps its own clock.
    #[tokio::test]
    async fn a_patient_request_waits_its_turn_past_its_timeout() {
        let rate = HostRate {
            per_second: NonZeroU32::new(50).unwrap(),
            burst: NonZeroU32::new(1).unwrap(),
        };
        // Impatient (outside a poll): a turn that comes after the timeout
        // fails at once.
        let host = Host::new(rate);
        let mut failed = 0;
        for _ in 0..6 {
            if wait_turn(&host, &Method::GET, &url(), Duration::ZERO)
                .await
                .is_err()
            {
                failed += 1;
            }
        }
        assert_eq!(failed, 5, "only the first passes without waiting");
        // Sources starting together get one turn each, a period apart.
        let turns: Vec<_> = (0..3).map(|_| host.first_turn()).collect();
        assert_eq!(
            turns,
            [0, 20, 40].map(Duration::from_millis),
            "50 requests/s"
        );
        // Patient: 20 requests with a 50 ms timeout queue and all pass, in
        // 19 turns of 20 ms; the scopes report the time spent waiting.
        let host = Arc::new(Host::new(rate));
        let timeout = Duration::from_millis(50);
        let started = tokio::time::Instant::now();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let host = host.clone();
                tokio::spawn(patiently(Duration::from_secs(5), async move {
                    wait_turn(&host, &Method::GET, &url(), timeout).await
                }))
            })
            .collect();
        let mut total = Duration::ZERO;
        for t in tasks {
            let (res, waited) = t.await.unwrap();
            assert!(res.is_ok(), "{res:?}");
            total += waited;
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(370) && elapsed < Duration::from_secs(2),
            "{elapsed:?}"
        );
        // About 0 + 20 + … + 380 ms = 3.8 s in all.
        assert!(total >= Duration::from_millis(3_500), "{total:?}");
        // Past the patience, still an error, at once.
        let host = Host::new(rate);
        let _ = wait_turn(&host, &Method::GET, &url(), timeout).await;
        let (res, waited) = patiently(Duration::from_millis(5), async {
            wait_turn(&host, &Method::GET, &url(), Duration::from_millis(1)).await
        })
        .await;
        assert_eq!(res.unwrap_err().reason(), "throttled");
        assert!(waited < Duration::from_millis(5), "{waited:?}");
    }
}
