//! Sources: fetch and parse, nothing else.
//!
//! A source kind is one file here, one [`SourceKind`] variant and one arm in
//! [`poll`]; today only feeds (`feed.rs`). Every kind fetches through the
//! shared [`HttpClient`] (`http.rs`), which owns politeness and failure
//! classification. [`next_delay`] holds the scheduling rules (interval,
//! jitter, backoff, `Retry-After`) as a pure function.
//!
//! Deliberately not here: the polling loop, metrics and the persisted
//! validators (`daemon.rs` and the state store), enrichment, deduplication
//! against what was already stored.
//!
//! Invariants: a poll produces mentions whose `published` is never later than
//! the `now` passed in; [`next_delay`] is pure and never returns less than
//! [`MIN_DELAY`].

pub mod feed;
pub mod http;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{SourceConfig, SourceKind};
use crate::mention::Mention;

pub use feed::FeedError;
pub use http::{FetchError, Fetched, HttpClient, Validators};

/// What one poll of a source produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll {
    /// The server said nothing changed since `validators` were issued.
    NotModified,
    /// The source's current items (possibly none, possibly all already
    /// seen) and the validators to send next time.
    Items {
        mentions: Vec<Mention>,
        validators: Validators,
    },
}

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Feed(#[from] FeedError),
}

impl SourceError {
    /// A short fixed label for metrics and logs (`timeout`, `status`,
    /// `too_large`, `parse`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            SourceError::Fetch(e) => e.reason(),
            SourceError::Feed(e) => e.reason(),
        }
    }

    /// Whether trying again soon may help (see [`FetchError::is_retryable`]
    /// and [`FeedError::is_retryable`]: a malformed feed is retried, since
    /// feeds are often served half-written or cut by a proxy; an HTML page
    /// is not).
    pub fn is_retryable(&self) -> bool {
        match self {
            SourceError::Fetch(e) => e.is_retryable(),
            SourceError::Feed(e) => e.is_retryable(),
        }
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SourceError::Fetch(e) => e.retry_after(),
            SourceError::Feed(_) => None,
        }
    }
}

/// Fetches and parses one source once, conditionally on `validators`.
/// `now` is the fetch time: the fallback publication date and the upper bound
/// of every mention's `published`. Parsing runs on the blocking pool (big
/// feeds are CPU work).
pub async fn poll(
    cfg: &SourceConfig,
    client: &HttpClient,
    validators: &Validators,
    now: DateTime<Utc>,
) -> Result<Poll, SourceError> {
    match cfg.kind {
        SourceKind::Feed => {
            let fetched = client
                .fetch(&cfg.url, validators, cfg.timeout, cfg.max_body_bytes)
                .await?;
            let Fetched::Body {
                bytes,
                content_type,
                validators,
                final_url,
            } = fetched
            else {
                return Ok(Poll::NotModified);
            };
            let name = cfg.name.clone();
            let url_for_error = final_url.clone();
            let mentions = tokio::task::spawn_blocking(move || {
                feed::parse_feed_with_content_type(
                    &name,
                    &final_url,
                    &bytes,
                    content_type.as_deref(),
                    now,
                )
            })
            .await
            .map_err(|e| FeedError::Parse {
                url: url_for_error,
                detail: format!("feed parser crashed: {e}"),
            })??;
            Ok(Poll::Items {
                mentions,
                validators,
            })
        }
    }
}

/// The shortest delay [`next_delay`] ever returns, whatever it is given.
pub const MIN_DELAY: Duration = Duration::from_secs(1);
/// The first retry after a failure waits at most this long (less if the
/// interval is shorter).
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
/// Backoff grows up to this, or up to the interval when that is longer.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// ± share of the delay spread by jitter.
pub const JITTER: f64 = 0.10;

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
    let base = if failures == 0 {
        interval
    } else {
        let first = interval.min(FIRST_RETRY).max(MIN_DELAY);
        let cap = interval.max(MAX_BACKOFF);
        // 2^20 × 1 s is already past any cap; avoids overflow.
        let factor = 1u32 << (failures - 1).min(20);
        first.saturating_mul(factor).min(cap)
    };
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let spread = base.mul_f64(1.0 - JITTER + 2.0 * JITTER * jitter);
    spread
        .max(retry_after.unwrap_or(Duration::ZERO))
        .max(MIN_DELAY)
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

    #[test]
    fn source_error_classification() {
        let url = url::Url::parse("https://example.org/feed").unwrap();
        let parse: SourceError = FeedError::Parse {
            url: url.clone(),
            detail: "no root".into(),
        }
        .into();
        assert_eq!(parse.reason(), "parse");
        assert!(parse.is_retryable());
        let html: SourceError = FeedError::NotAFeed {
            url: url.clone(),
            detail: "an HTML page".into(),
        }
        .into();
        assert_eq!(html.reason(), "parse");
        assert!(!html.is_retryable());
        let too_large: SourceError = FetchError::TooLarge { url, limit: 10 }.into();
        assert_eq!(too_large.reason(), "too_large");
        assert!(!too_large.is_retryable());
        assert!(
            too_large
                .to_string()
                .starts_with("GET https://example.org/feed: body larger")
        );
    }
}
