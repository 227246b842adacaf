//! The systemd watchdog (`WatchdogSec=` in the unit): keep-alives
//! (`WATCHDOG=1`) are sent only while the pipeline makes progress, so a
//! wedged pipeline stops them and systemd restarts the service.
//!
//! Progress is the pipeline worker finishing a job ([`Progress::mark`]);
//! the pipeline loop gives it one at least every tick (a second), so a
//! silence of [`Cadence::stall`] (half the watchdog timeout) means a job
//! is stuck or the loop is. Keep-alives go every quarter of the timeout;
//! systemd kills the service a whole timeout after the last one. The
//! decision ([`Watchdog::decide`]) is a pure function of the times it is
//! given; [`run`] is the task that reads the clock and notifies.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::{error, info};

/// When the pipeline last finished a job, shared between the pipeline
/// loop (which marks it) and the watchdog task (which reads it).
#[derive(Debug)]
pub(crate) struct Progress {
    /// Origin of the stored offsets.
    base: Instant,
    /// Milliseconds after `base` of the last job finished.
    last_ms: AtomicU64,
}

impl Progress {
    /// Progress as of `now` (start-up counts as progress).
    pub(crate) fn new(now: Instant) -> Arc<Progress> {
        Arc::new(Progress {
            base: now,
            last_ms: AtomicU64::new(0),
        })
    }

    /// A job finished at `now`.
    pub(crate) fn mark(&self, now: Instant) {
        let ms =
            u64::try_from(now.saturating_duration_since(self.base).as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// When the last job finished.
    pub(crate) fn last(&self) -> Instant {
        self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// How often to send keep-alives and how long a silence means a stall,
/// from the watchdog timeout systemd gives (`WATCHDOG_USEC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cadence {
    pub(crate) every: Duration,
    pub(crate) stall: Duration,
}

impl Cadence {
    pub(crate) fn new(timeout: Duration) -> Cadence {
        Cadence {
            every: (timeout / 4).max(Duration::from_millis(100)),
            stall: timeout / 2,
        }
    }
}

/// What to do at one keep-alive time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Send `WATCHDOG=1`.
    KeepAlive,
    /// The pipeline stalled: send nothing. `first` is the first time in a
    /// row (log it once).
    Withhold { first: bool },
}

/// The keep-alive decisions, one per tick.
#[derive(Debug)]
pub(crate) struct Watchdog {
    cadence: Cadence,
    /// Whether the previous decision withheld.
    withholding: bool,
}

impl Watchdog {
    pub(crate) fn new(cadence: Cadence) -> Watchdog {
        Watchdog {
            cadence,
            withholding: false,
        }
    }

    /// At `now`, with the pipeline's last job finished at `last`.
    pub(crate) fn decide(&mut self, last: Instant, now: Instant) -> Decision {
        if now.saturating_duration_since(last) < self.cadence.stall {
            self.withholding = false;
            Decision::KeepAlive
        } else {
            let first = !self.withholding;
            self.withholding = true;
            Decision::Withhold { first }
        }
    }
}

/// Sends keep-alives every `cadence.every` while `progress` moves, until
/// `shutdown`.
pub(crate) async fn run(progress: Arc<Progress>, timeout: Duration, shutdown: CancellationToken) {
    let cadence = Cadence::new(timeout);
    let mut dog = Watchdog::new(cadence);
    info!(
        timeout_secs = timeout.as_secs_f64(),
        "systemd watchdog on: keep-alives while the pipeline makes progress"
    );
    let mut every = tokio::time::interval(cadence.every);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        match dog.decide(progress.last(), Instant::now()) {
            Decision::KeepAlive => {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            }
            Decision::Withhold { first: true } => error!(
                stalled_secs = progress.last().elapsed().as_secs(),
                "the pipeline is not making progress: withholding watchdog keep-alives, systemd will restart the service"
            ),
            Decision::Withhold { first: false } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alives_stop_when_the_pipeline_stalls_and_resume_with_it() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let cadence = Cadence::new(Duration::from_secs(120));
        assert_eq!(
            cadence,
            Cadence {
                every: Duration::from_secs(30),
                stall: Duration::from_secs(60)
            }
        );
        let progress = Progress::new(t0);
        let mut dog = Watchdog::new(cadence);
        // Jobs finish every second: keep-alives.
        for n in 1..=30 {
            progress.mark(s(n));
        }
        assert_eq!(dog.decide(progress.last(), s(30)), Decision::KeepAlive);
        // A job wedged at 30 s: still alive at 89 s, withheld from 90 s on,
        // logged once.
        assert_eq!(dog.decide(progress.last(), s(89)), Decision::KeepAlive);
        assert_eq!(
            dog.decide(progress.last(), s(90)),
            Decision::Withhold { first: true }
        );
        assert_eq!(
            dog.decide(progress.last(), s(120)),
            Decision::Withhold { first: false }
        );
        // It finishes: keep-alives again.
        progress.mark(s(121));
        assert_eq!(dog.decide(progress.last(), s(122)), Decision::KeepAlive);
        assert_eq!(
            dog.decide(progress.last(), s(300)),
            Decision::Withhold { first: true }
        );
    }

    #[test]
    fn progress_never_goes_back() {
        let t0 = Instant::now();
        let p = Progress::new(t0);
        p.mark(t0 + Duration::from_secs(5));
        p.mark(t0 + Duration::from_secs(2));
        assert_eq!(p.last(), t0 + Duration::from_secs(5));
    }
}
