//! The poll loop, the same for every source kind: poll, send what was found
//! to the pipeline as a [`Batch`], wait, again, until stopped.
//!
//! Owns the schedule ([`next_delay`], pure): sources configured together
//! on one host start one host turn apart (the n-th at n × the host's
//! request period, `HttpClient::first_turn`), plus a little jitter, never
//! later than their interval: 300 feeds on one host are spread over the
//! minute the host's pace needs instead of bursting at start, and a lone
//! source starts within seconds ([`first_poll_delay`]); each poll runs
//! `patiently` (its requests
//! wait their turn in the host's queue for up to an interval rather than
//! failing as `throttled`, `http/pacing.rs`); after a success the next one comes an `interval` later (±10 %);
//! transient errors back off exponentially; a permanent one (404, not a
//! feed, robots.txt refusal) is retried at the normal interval, since
//! polling it faster or slower changes nothing until someone fixes it; a
//! server's `Retry-After` is a floor. Also owns reading the source's stored
//! cursor at start, and the source's health metrics (fetches, failures in a
//! row, last success, items per fetch, time in the host's queue).
//!
//! Deliberately not here: what a poll does (`source::poll`, one arm per
//! kind) and storing the cursor: a [`Batch`] carries it to the pipeline,
//! which commits it with the batch's mentions, so a crash in between
//! fetches them again rather than losing them.
//!
//! Invariants: every wait selects on `stop`; the cursor in memory only moves
//! with a batch handed to the pipeline; [`next_delay`] never returns less
//! than [`MIN_DELAY`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::http::patiently;
use super::{Cursor, HttpClient, Poll, SourceConfig};
use crate::mention::Mention;
use crate::retry::{Backoff, spread};
use crate::store::state::StateStore;
use crate::telemetry::Metrics;

/// The shortest delay [`next_delay`] ever returns, whatever it is given.
pub const MIN_DELAY: Duration = Duration::from_secs(1);
/// The first retry after a failure waits at most this long (less if the
/// interval is shorter).
pub(crate) const FIRST_RETRY: Duration = Duration::from_secs(5);
/// Backoff grows up to this, or up to the interval when that is longer.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// ± share of the delay spread by jitter.
pub(crate) const JITTER: f64 = 0.10;
/// The jitter of a first poll is at most this share of the interval…
const FIRST_POLL_SPREAD: f64 = 0.1;
/// …and at most this.
const FIRST_POLL_CAP: Duration = Duration::from_secs(10);

/// What one poll of a source hands to the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The configured source name.
    pub source: String,
    pub mentions: Vec<Mention>,
    /// Where the source resumes once these mentions are committed; store
    /// [`Cursor::to_bytes`] under the source's name.
    pub cursor: Cursor,
}

/// Delay before the next poll of a source.
///
/// * `failures == 0` (last poll succeeded, or the caller chooses to keep the
///   normal pace, e.g. for a non-retryable 404): `interval`.
/// * `failures == n > 0` consecutive failures: exponential backoff
///   `min(interval, 5 s) × 2^(n-1)`, capped at `max(interval, 1 h)`. A source
///   polled every 5 minutes that goes down is retried after 5 s, 10 s, 20 s,
///   … then every hour until it comes back; a daily source never waits more
///   than a day.
/// * The result is then spread by ±10 % (`jitter` is a random number in
///   [0, 1): 0 gives −10 %, 0.5 the exact value, just under 1 gives +10 %)
///   so sources configured together don't poll in lockstep.
/// * `retry_after` (from the server's `Retry-After`) is a floor: we never
///   come back earlier than asked, even past the backoff cap.
/// * Never less than [`MIN_DELAY`], so a zero interval cannot spin.
pub fn next_delay(
    interval: Duration,
    failures: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let spread = if failures == 0 {
        spread(interval, JITTER, jitter)
    } else {
        Backoff {
            first: interval.min(FIRST_RETRY).max(MIN_DELAY),
            cap: interval.max(MAX_BACKOFF),
            jitter: JITTER,
        }
        .delay(failures, jitter)
    };
    spread
        .max(retry_after.unwrap_or(Duration::ZERO))
        .max(MIN_DELAY)
}

/// Delay before a source's first poll: its turn among the sources of its
/// host (`host_turn`), plus `jitter` (a random number in [0, 1)) of a tenth
/// of its interval (at most 10 s), never more than the interval (past it,
/// polls wait in the host's queue); garbage jitter counts as 0.
pub fn first_poll_delay(interval: Duration, host_turn: Duration, jitter: f64) -> Duration {
    let share = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let spread = interval.mul_f64(FIRST_POLL_SPREAD).min(FIRST_POLL_CAP);
    (host_turn + spread.mul_f64(share)).min(interval)
}

/// The cursor stored for `source`, or [`Cursor::Start`] (with a warning when
/// what is stored cannot be read).
pub(crate) async fn stored_cursor(state: &Arc<StateStore>, source: &str) -> Cursor {
    let (state, name) = (state.clone(), source.to_string());
    let stored = tokio::task::spawn_blocking(move || state.ledger().cursor(&name)).await;
    match stored {
        Ok(Ok(Some(bytes))) => Cursor::from_bytes(&bytes).unwrap_or_else(|e| {
            warn!(source, error = %e, "unreadable stored cursor, starting over");
            Cursor::Start
        }),
        Ok(Ok(None)) => Cursor::Start,
        Ok(Err(e)) => {
            warn!(source, error = %e, "cannot read the stored cursor, starting over");
            Cursor::Start
        }
        Err(e) => {
            warn!(source, error = %e, "cannot read the stored cursor, starting over");
            Cursor::Start
        }
    }
}

/// Polls one source until `stop`, sending what it finds to the pipeline.
pub async fn run(
    cfg: SourceConfig,
    client: HttpClient,
    state: Arc<StateStore>,
    metrics: Arc<Metrics>,
    tx: mpsc::Sender<Batch>,
    stop: CancellationToken,
) {
    let mut cursor = tokio::select! {
        c = stored_cursor(&state, &cfg.name) => c,
        _ = stop.cancelled() => return,
    };
    let turn = client.first_turn(cfg.kind.url());
    let first = first_poll_delay(cfg.interval, turn, rand::random::<f64>());
    tokio::select! {
        _ = tokio::time::sleep(first) => {}
        _ = stop.cancelled() => return,
    }
    let kind = cfg.kind.name();
    // `failures` drives the backoff (a permanent error keeps the normal
    // pace); `failing` is the health figure: every failure in a row.
    let (mut failures, mut failing) = (0u32, 0u32);
    // A turn in the host's queue later than an interval away is pointless:
    // the next poll would be due by then.
    let patience = cfg.interval.max(MIN_DELAY);
    loop {
        let started = Instant::now();
        let (res, queued) = tokio::select! {
            r = patiently(patience, super::poll(&cfg, &client, &cursor, Utc::now())) => r,
            _ = stop.cancelled() => return,
        };
        metrics.fetch_finished(&cfg.name, kind, started.elapsed().as_secs_f64(), queued);
        let mut retry_after = None;
        // A partial walk kept what it read but failed: not a success.
        if matches!(res, Ok(Poll::Items { .. } | Poll::NotModified)) {
            failing = 0;
            let items = match &res {
                Ok(Poll::Items { mentions, .. }) => Some(mentions.len()),
                _ => None,
            };
            metrics.fetch_succeeded(&cfg.name, Utc::now(), items);
        }
        match res {
            Ok(Poll::NotModified) => {
                failures = 0;
                debug!(source = %cfg.name, "not modified");
            }
            Ok(Poll::Items {
                mut mentions,
                cursor: next,
            }) => {
                failures = 0;
                let bounded = crate::normalize::bound_mentions(&mut mentions);
                metrics.fetch_bounded(&cfg.name, bounded);
                debug!(source = %cfg.name, items = mentions.len(), "fetched");
                cursor = next.clone();
                let batch = Batch {
                    source: cfg.name.clone(),
                    mentions,
                    cursor: next,
                };
                tokio::select! {
                    r = tx.send(batch) => if r.is_err() { return },
                    _ = stop.cancelled() => return,
                }
            }
            Ok(Poll::Partial {
                mentions,
                cursor: next,
                error,
            }) => {
                // What was read is kept; the failure counts as one.
                cursor = next.clone();
                let batch = Batch {
                    source: cfg.name.clone(),
                    mentions,
                    cursor: next,
                };
                tokio::select! {
                    r = tx.send(batch) => if r.is_err() { return },
                    _ = stop.cancelled() => return,
                }
                let e = &error.0;
                failures = if e.is_retryable() { failures + 1 } else { 0 };
                failing = failing.saturating_add(1);
                retry_after = e.retry_after();
                let delay = next_delay(cfg.interval, failures, retry_after, 0.5);
                metrics.fetch_failed(&cfg.name, e.reason(), e.as_ref(), delay, failing);
            }
            Err(e) => {
                failures = if e.is_retryable() { failures + 1 } else { 0 };
                failing = failing.saturating_add(1);
                retry_after = e.retry_after();
                // The log shows the delay without jitter.
                let delay = next_delay(cfg.interval, failures, retry_after, 0.5);
                metrics.fetch_failed(&cfg.name, e.reason(), &e, delay, failing);
            }
        }
        let delay = next_delay(cfg.interval, failures, retry_after, rand::random::<f64>());
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1;
    const M: u64 = 60;
    const H: u64 = 3600;

    fn check(
        interval: u64,
        failures: u32,
        retry_after: Option<u64>,
        jitter: f64,
        expected_ms: u64,
    ) {
        let got = next_delay(
            Duration::from_secs(interval),
            failures,
            retry_after.map(Duration::from_secs),
            jitter,
        );
        assert_eq!(
            got.as_millis() as u64,
            expected_ms,
            "next_delay({interval}s, {failures}, {retry_after:?}, {jitter})"
        );
    }

    #[test]
    fn first_polls_are_spread_over_the_interval() {
        let d = |i: u64, turn_ms: u64, j: f64| {
            first_poll_delay(Duration::from_secs(i), Duration::from_millis(turn_ms), j).as_millis()
                as u64
        };
        // A lone source: within a tenth of its interval, 10 s at most.
        assert_eq!(d(5 * M, 0, 0.0), 0);
        assert_eq!(d(5 * M, 0, 0.5), 5_000);
        assert_eq!(d(2 * S, 0, 0.5), 100);
        assert_eq!(d(24 * H, 0, 0.999), 9_990);
        // The 300th feed on a host paced at 5 requests a second.
        assert_eq!(d(5 * M, 299 * 200, 0.5), 64_800);
        // Never past the interval.
        assert_eq!(d(5 * M, 3000 * 200, 0.5), 300_000);
        assert_eq!(d(5 * M, 0, f64::NAN), 0);
        assert_eq!(d(5 * M, 0, 7.0), 10_000);
    }

    #[test]
    fn next_delay_rules() {
        // Success: the interval, ±10 %.
        check(5 * M, 0, None, 0.5, 300_000);
        check(5 * M, 0, None, 0.0, 270_000);
        check(5 * M, 0, None, 0.999_999, 329_999);
        // Backoff from min(interval, 5 s), doubling.
        check(5 * M, 1, None, 0.5, 5_000);
        check(5 * M, 2, None, 0.5, 10_000);
        check(5 * M, 3, None, 0.5, 20_000);
        check(5 * M, 7, None, 0.5, 320_000);
        // Capped at max(interval, 1 h).
        check(5 * M, 12, None, 0.5, 3_600_000);
        check(5 * M, 1000, None, 0.5, 3_600_000);
        check(5 * M, u32::MAX, None, 0.0, 3_240_000);
        check(24 * H, 30, None, 0.5, 86_400_000);
        // A short interval starts its backoff at the interval.
        check(2 * S, 1, None, 0.5, 2_000);
        check(2 * S, 2, None, 0.5, 4_000);
        // Retry-After is a floor, even past the cap, never shortened.
        check(5 * M, 1, Some(120), 0.5, 120_000);
        check(5 * M, 12, Some(2 * H), 0.5, 7_200_000);
        check(5 * M, 7, Some(10), 0.5, 320_000);
        check(5 * M, 0, Some(600), 0.0, 600_000);
        // Never below a second; garbage jitter is tamed.
        check(0, 0, None, 0.5, 1_000);
        check(0, 3, None, 0.0, 3_600);
        check(0, 1, None, 0.0, 1_000);
        check(5 * M, 0, None, f64::NAN, 300_000);
        check(5 * M, 0, None, -3.0, 270_000);
        check(5 * M, 0, None, 42.0, 330_000);
    }
}
