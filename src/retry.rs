//! Trying again: the one `Retry-After` parser, the one exponential backoff
//! with jitter, and the one way to print an error with its causes.
//!
//! Used by the source client and poll loop (`source/`) and by the notifiers
//! (`notify/`), so that a server's `Retry-After`, a backoff step and an error
//! line read the same everywhere.
//!
//! Deliberately not here: *whether* an error is worth retrying (each error
//! type says so with `is_retryable`) and the loops that wait (the poll loop,
//! the outbox). Everything here is pure: time and randomness are passed in.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Longest wait accepted from a `Retry-After` header; a server asking for
/// more is read as asking for this (callers may cap it further).
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Parses a `Retry-After` value ([RFC 9110 §10.2.3]): delta-seconds or an
/// HTTP date, read relative to `now` (a date in the past is zero). `None`
/// for anything else. Capped at [`MAX_RETRY_AFTER`].
///
/// [RFC 9110 §10.2.3]: https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let d = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc);
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(d.min(MAX_RETRY_AFTER))
}

/// Exponential backoff with jitter: attempt `n` (counted from 1) waits
/// `first · 2^(n-1)`, capped at `cap`, then spread by ± `jitter` (a share of
/// the delay) so that things that failed together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait, before jitter.
    pub cap: Duration,
    /// ± share of the delay spread by jitter, in [0, 1).
    pub jitter: f64,
}

impl Backoff {
    /// The delay after `failures` consecutive failures (0 is treated as 1).
    /// `random` is a number in [0, 1): 0 gives `−jitter`, 0.5 the exact
    /// value, just under 1 gives `+jitter`; anything else is clamped (NaN
    /// counts as 0.5).
    pub(crate) fn delay(&self, failures: u32, random: f64) -> Duration {
        // 2^30 × anything is past any sensible cap; avoids overflow.
        let factor = 1u32 << failures.saturating_sub(1).min(30);
        spread(
            self.first.saturating_mul(factor).min(self.cap),
            self.jitter,
            random,
        )
    }
}

/// `d` scaled by `1 − jitter + 2 · jitter · random`; see [`Backoff::delay`].
pub(crate) fn spread(d: Duration, jitter: f64, random: f64) -> Duration {
    let random = if random.is_finite() {
        random.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    d.mul_f64(1.0 - jitter + 2.0 * jitter * random)
}

/// The error and its sources joined by `: `, for one log line. A source
/// whose text is already in the line (libraries often repeat their cause in
/// their own message), and hyper's bare `client error (Connect)` wrapper,
/// are left out.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    push_causes(&mut s, e.source());
    s
}

/// Like [`error_chain`] without the error's own message, for errors (like
/// reqwest's) whose message repeats what the caller already prints (the
/// URL); the error's own message when it has no source.
pub(crate) fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut s = String::new();
    push_causes(&mut s, e.source());
    if s.is_empty() { e.to_string() } else { s }
}

fn push_causes(s: &mut String, mut cur: Option<&dyn std::error::Error>) {
    while let Some(err) = cur {
        let m = err.to_string();
        if !m.starts_with("client error (") && !m.is_empty() && !s.contains(&m) {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(&m);
        }
        cur = err.source();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str, expected: Option<u64>) {
        let now: DateTime<Utc> = "2026-03-01T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after(value, now),
            expected.map(Duration::from_secs),
            "{value:?}"
        );
    }

    #[test]
    fn retry_after_forms() {
        check("120", Some(120));
        check(" 0 ", Some(0));
        check("Sun, 01 Mar 2026 12:05:00 GMT", Some(300));
        check("Sun, 01 Mar 2026 11:00:00 GMT", Some(0));
        check("Wed, 21 Oct 2015 07:28:00 GMT", Some(0));
        check("99999999", Some(24 * 3600));
        check("soon", None);
        check("-5", None);
        check("", None);
    }

    #[test]
    fn backoff_doubles_caps_and_spreads() {
        let b = Backoff {
            first: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            jitter: 0.2,
        };
        for (failures, secs) in [
            (0, 1),
            (1, 1),
            (2, 2),
            (3, 4),
            (9, 256),
            (10, 300),
            (u32::MAX, 300),
        ] {
            assert_eq!(
                b.delay(failures, 0.5),
                Duration::from_secs(secs),
                "{failures}"
            );
            assert_eq!(
                b.delay(failures, 0.0),
                Duration::from_secs(secs).mul_f64(0.8),
                "{failures}"
            );
            assert!(b.delay(failures, 0.999_999) < Duration::from_secs(secs).mul_f64(1.2));
        }
        assert_eq!(b.delay(1, f64::NAN), Duration::from_secs(1));
        assert_eq!(b.delay(1, 7.0), Duration::from_secs(1).mul_f64(1.2));
    }

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn chains_skip_repeats_and_wrappers() {
        let e = E(
            "error sending request for url (http://x/)",
            Some(Box::new(E(
                "client error (Connect)",
                Some(Box::new(E(
                    "tcp connect error: connection refused",
                    Some(Box::new(E("connection refused", None))),
                ))),
            ))),
        );
        assert_eq!(
            error_chain(&e),
            "error sending request for url (http://x/): tcp connect error: connection refused"
        );
        assert_eq!(cause_chain(&e), "tcp connect error: connection refused");
        let alone = E("timed out", None);
        assert_eq!(error_chain(&alone), "timed out");
        assert_eq!(cause_chain(&alone), "timed out");
    }
}
