//! robots.txt ([RFC 9309](https://www.rfc-editor.org/rfc/rfc9309)): read
//! once per origin, cached, and consulted before every request.
//!
//! Read for the product token of our user agent (`veilleur` in
//! `veilleur/0.1 (+https://…)`), cached per origin (scheme, host, port) for
//! [`ROBOTS_TTL`] or a shorter `Cache-Control: max-age` (never less than
//! [`ROBOTS_MIN_TTL`]), fetched with the same client, the request's timeout
//! and at most [`ROBOTS_MAX_BYTES`] (the rest is ignored, as the RFC
//! allows). One request per origin per TTL, however many sources share it:
//! concurrent requests wait for the one reading robots.txt. robots.txt
//! requests count against the host's rate limit too. What the answer means:
//!
//! * 2xx: its rules; a disallowed URL fails with [`FetchError::Robots`]
//!   (not retryable: someone must ask the site or remove the source), and
//!   its `Crawl-delay` sets the host's pace (`pacing.rs`);
//! * 4xx but 429 (404 above all), too many redirects, or a file that does
//!   not parse: no rules, everything is allowed;
//! * 5xx, 429, timeout or network error: "unreachable". The last good
//!   answer of the origin, if any, stays in force; without one, requests
//!   fail with the retryable [`FetchError::RobotsUnreachable`] and
//!   robots.txt is asked again after [`ROBOTS_RETRY`] (or the server's
//!   `Retry-After`). After [`ROBOTS_TTL`] of unbroken unreachability it
//!   counts as allowing everything, so a site whose robots.txt is broken for
//!   good is still polled (RFC 9309 §2.3.1.4 allows this; Google does the
//!   same after 30 days).
//!
//! Only the URL asked for is checked, not the targets of its redirects. The
//! cache lives in memory: a restart reads robots.txt again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use texting_robots::Robot;
use tracing::debug;
use url::Url;

use super::client::{HttpClient, Request};
use super::pacing::MAX_CRAWL_DELAY;
use super::{FetchError, Fetched};

/// How long a robots.txt answer is kept, at most.
pub const ROBOTS_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a robots.txt answer is kept, at least, whatever its
/// `Cache-Control` says.
pub const ROBOTS_MIN_TTL: Duration = Duration::from_secs(300);
/// How long an unreachable robots.txt is remembered before it is asked again.
pub const ROBOTS_RETRY: Duration = Duration::from_secs(60);
/// Bytes of robots.txt read at most; the rest is ignored (RFC 9309 §2.5
/// asks for at least 500 KiB).
pub const ROBOTS_MAX_BYTES: u64 = 512 * 1024;
/// What we ask for when reading robots.txt.
const ACCEPT_ROBOTS: &str = "text/plain, */*;q=0.8";

/// The cached robots.txt of one origin, behind the lock its reader holds.
pub(super) type RobotsSlot = Arc<tokio::sync::Mutex<Option<RobotsEntry>>>;

impl HttpClient {
    /// Fails unless the origin's robots.txt (cached, or read now) allows
    /// `url` for our agent.
    pub(super) async fn check_robots(
        &self,
        url: &Url,
        timeout: Duration,
    ) -> Result<(), FetchError> {
        let origin = url.origin().ascii_serialization();
        let robots_url = {
            let mut u = url.clone();
            u.set_path("/robots.txt");
            u.set_query(None);
            u.set_fragment(None);
            // Only fails for URLs that cannot have credentials, which http(s) can.
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u
        };
        let slot = {
            let mut robots = self.robots.lock().unwrap_or_else(|p| p.into_inner());
            robots.entry(origin.clone()).or_default().clone()
        };
        let mut entry = tokio::time::timeout(timeout, slot.lock())
            .await
            .map_err(|_elapsed| FetchError::Timeout {
                method: reqwest::Method::GET,
                url: robots_url.clone(),
                timeout,
            })?;
        if entry
            .as_ref()
            .is_none_or(|e| Instant::now() >= e.refresh_at)
        {
            let answer = self.read_robots(&robots_url, timeout).await?;
            let updated = RobotsEntry::update(entry.take(), answer, Instant::now());
            if let Verdict::Rules { crawl_delay, .. } | Verdict::AllowAll { crawl_delay } =
                &updated.verdict
            {
                self.host(url).set_crawl_delay(*crawl_delay);
            }
            debug!(origin = %origin, verdict = updated.verdict.label(), "robots.txt read");
            *entry = Some(updated);
        }
        let Some(entry) = entry.as_ref() else {
            // Just set above when it was None.
            return Ok(());
        };
        match &entry.verdict {
            Verdict::AllowAll { .. } => Ok(()),
            Verdict::Rules { robot, .. } => {
                if robot.allowed(url.as_str()) {
                    Ok(())
                } else {
                    Err(FetchError::Robots {
                        url: url.clone(),
                        agent: self.agent.to_string(),
                    })
                }
            }
            Verdict::Unreachable { cause } => Err(FetchError::RobotsUnreachable {
                url: url.clone(),
                cause: cause.clone(),
                retry_after: Some(entry.refresh_at.saturating_duration_since(Instant::now())),
            }),
        }
    }

    /// Reads robots.txt and says what the answer means. Errors are the
    /// non-answers that say nothing about the site (the rate limit, a
    /// client that cannot work at all): they are not cached.
    async fn read_robots(
        &self,
        robots_url: &Url,
        timeout: Duration,
    ) -> Result<RobotsAnswer, FetchError> {
        let mut req = Request::get(robots_url.clone())
            .accept(ACCEPT_ROBOTS)
            .timeout(timeout)
            .max_body_bytes(ROBOTS_MAX_BYTES);
        req.truncate = true;
        let res = self.request(&req).await;
        match res {
            Ok((Fetched::Body { bytes, .. }, max_age)) => {
                let agent = self.agent.clone();
                // Parsing half a megabyte of rules is CPU work.
                let parsed = tokio::task::spawn_blocking(move || Robot::new(&agent, &bytes)).await;
                match parsed {
                    Ok(Ok(robot)) => Ok(RobotsAnswer::Rules { robot, max_age }),
                    Ok(Err(e)) => {
                        debug!(url = %robots_url, error = %format!("{e:#}"), "robots.txt does not parse, allowing all");
                        Ok(RobotsAnswer::Unavailable)
                    }
                    Err(e) => {
                        debug!(url = %robots_url, error = %e, "robots.txt parser crashed, allowing all");
                        Ok(RobotsAnswer::Unavailable)
                    }
                }
            }
            // Not asked for; cannot happen without validators.
            Ok((Fetched::NotModified, _)) => Ok(RobotsAnswer::Unavailable),
            Err(e @ (FetchError::Throttled { .. } | FetchError::Client { .. })) => Err(e),
            Err(e) => Ok(RobotsAnswer::from_error(e)),
        }
    }
}

/// The robots.txt product token of a `User-Agent`: what comes before the
/// first `/` or space, lowercase (RFC 9309 §2.2.1).
pub(super) fn robots_agent(user_agent: &str) -> String {
    let token: String = user_agent
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    if token.is_empty() {
        "veilleur".to_string()
    } else {
        token.to_ascii_lowercase()
    }
}

/// `max-age` of one `Cache-Control` header value.
pub(super) fn parse_max_age(value: &str) -> Option<Duration> {
    value.split(',').find_map(|directive| {
        let (name, secs) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        let secs = secs.trim().trim_matches('"').parse::<u64>().ok()?;
        Some(Duration::from_secs(secs))
    })
}

/// What a robots.txt request said.
enum RobotsAnswer {
    /// 2xx: rules, and how long they may be cached.
    Rules {
        robot: Robot,
        max_age: Option<Duration>,
    },
    /// 4xx (but 429), too many redirects, unparsable: there are no rules.
    Unavailable,
    /// 5xx, 429, timeout, network: we cannot know.
    Unreachable(FetchError),
}

impl RobotsAnswer {
    fn from_error(e: FetchError) -> RobotsAnswer {
        let unavailable = match &e {
            FetchError::Status { status, .. } => {
                status.is_client_error() && *status != StatusCode::TOO_MANY_REQUESTS
            }
            FetchError::Redirect { .. } | FetchError::TooLarge { .. } => true,
            _ => false,
        };
        if unavailable {
            RobotsAnswer::Unavailable
        } else {
            RobotsAnswer::Unreachable(e)
        }
    }
}

/// What the cached robots.txt answer of an origin says about its URLs.
#[derive(Debug, Clone)]
enum Verdict {
    Rules {
        robot: Arc<Robot>,
        crawl_delay: Option<Duration>,
    },
    AllowAll {
        crawl_delay: Option<Duration>,
    },
    Unreachable {
        cause: Arc<FetchError>,
    },
}

impl Verdict {
    fn label(&self) -> &'static str {
        match self {
            Verdict::Rules { .. } => "rules",
            Verdict::AllowAll { .. } => "allow_all",
            Verdict::Unreachable { .. } => "unreachable",
        }
    }
}

/// The cached robots.txt of one origin.
#[derive(Debug, Clone)]
pub(super) struct RobotsEntry {
    verdict: Verdict,
    /// When to read robots.txt again.
    refresh_at: Instant,
    /// Since when robots.txt has been unreachable without a break.
    failing_since: Option<Instant>,
}

impl RobotsEntry {
    /// The rules of the module doc, as a pure function of the previous
    /// entry, the new answer and the time it came.
    fn update(prev: Option<RobotsEntry>, answer: RobotsAnswer, now: Instant) -> RobotsEntry {
        match answer {
            RobotsAnswer::Rules { robot, max_age } => {
                let ttl = max_age
                    .unwrap_or(ROBOTS_TTL)
                    .clamp(ROBOTS_MIN_TTL, ROBOTS_TTL);
                let crawl_delay = robot
                    .delay
                    .filter(|d| d.is_finite() && *d > 0.0)
                    .map(|d| Duration::from_secs_f32(d.min(MAX_CRAWL_DELAY.as_secs_f32())));
                RobotsEntry {
                    verdict: Verdict::Rules {
                        robot: Arc::new(robot),
                        crawl_delay,
                    },
                    refresh_at: now + ttl,
                    failing_since: None,
                }
            }
            RobotsAnswer::Unavailable => RobotsEntry {
                verdict: Verdict::AllowAll { crawl_delay: None },
                refresh_at: now + ROBOTS_TTL,
                failing_since: None,
            },
            RobotsAnswer::Unreachable(cause) => {
                let retry_after = cause.retry_after();
                let failing_since = prev.as_ref().and_then(|p| p.failing_since).unwrap_or(now);
                let refresh_at = now + retry_after.unwrap_or(ROBOTS_RETRY).max(ROBOTS_RETRY);
                let verdict = match prev.map(|p| p.verdict) {
                    // The last good answer stays in force.
                    Some(v @ (Verdict::Rules { .. } | Verdict::AllowAll { .. })) => v,
                    _ if now.saturating_duration_since(failing_since) >= ROBOTS_TTL => {
                        Verdict::AllowAll { crawl_delay: None }
                    }
                    _ => Verdict::Unreachable {
                        cause: Arc::new(cause),
                    },
                };
                RobotsEntry {
                    verdict,
                    refresh_at,
                    failing_since: Some(failing_since),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robots_agent_is_the_product_token() {
        for (ua, token) in [
            ("veilleur/0.1 (+https://example.org/veille)", "veilleur"),
            ("Veilleur-Test/0.1", "veilleur-test"),
            ("veilleur", "veilleur"),
            ("  ", "veilleur"),
            ("(weird)", "veilleur"),
        ] {
            assert_eq!(robots_agent(ua), token, "{ua:?}");
        }
    }

    #[test]
    fn max_age_directive() {
        for (value, secs) in [
            ("max-age=600", Some(600)),
            ("public, Max-Age=\"120\", must-revalidate", Some(120)),
            ("no-cache", None),
            ("max-age=soon", None),
            ("s-maxage=60", None),
        ] {
            assert_eq!(
                parse_max_age(value),
                secs.map(Duration::from_secs),
                "{value:?}"
            );
        }
    }

    fn rules(txt: &str, max_age: Option<u64>) -> RobotsAnswer {
        RobotsAnswer::Rules {
            robot: Robot::new("veilleur", txt.as_bytes()).unwrap(),
            max_age: max_age.map(Duration::from_secs),
        }
    }

    fn unreachable(retry_after: Option<u64>) -> RobotsAnswer {
        RobotsAnswer::from_error(FetchError::Status {
            method: reqwest::Method::GET,
            url: Url::parse("https://example.org/robots.txt").unwrap(),
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    /// Feeds `answers` (seconds after the start, answer) one after the
    /// other; checks the last entry's verdict and its refresh delay.
    fn check_robots(answers: Vec<(u64, RobotsAnswer)>, verdict: &str, refresh_in: u64) {
        let t0 = Instant::now();
        let mut entry = None;
        let mut last = t0;
        for (at, answer) in answers {
            last = t0 + Duration::from_secs(at);
            entry = Some(RobotsEntry::update(entry, answer, last));
        }
        let entry = entry.unwrap();
        assert_eq!(entry.verdict.label(), verdict, "{entry:?}");
        assert_eq!(
            entry.refresh_at - last,
            Duration::from_secs(refresh_in),
            "{entry:?}"
        );
    }

    #[test]
    fn robots_answers_and_their_lifetimes() {
        const DAY: u64 = 24 * 3600;
        // Rules: a day, or a shorter max-age, never under 5 minutes.
        check_robots(vec![(0, rules("Disallow: /x", None))], "rules", DAY);
        check_robots(vec![(0, rules("Disallow: /x", Some(3600)))], "rules", 3600);
        check_robots(vec![(0, rules("Disallow: /x", Some(0)))], "rules", 300);
        check_robots(
            vec![(0, rules("Disallow: /x", Some(10 * DAY)))],
            "rules",
            DAY,
        );
        // 404 and friends: allow all, for a day.
        check_robots(vec![(0, RobotsAnswer::Unavailable)], "allow_all", DAY);
        let not_found = RobotsAnswer::from_error(FetchError::Status {
            method: reqwest::Method::GET,
            url: Url::parse("https://example.org/robots.txt").unwrap(),
            status: StatusCode::NOT_FOUND,
            retry_after: None,
        });
        check_robots(vec![(0, not_found)], "allow_all", DAY);
        // Unreachable with nothing known: held, asked again in a minute or
        // after Retry-After.
        check_robots(vec![(0, unreachable(None))], "unreachable", 60);
        check_robots(vec![(0, unreachable(Some(600)))], "unreachable", 600);
        check_robots(vec![(0, unreachable(Some(5)))], "unreachable", 60);
        // Unreachable after a good answer: the good answer stays in force.
        check_robots(
            vec![(0, rules("Disallow: /x", None)), (DAY, unreachable(None))],
            "rules",
            60,
        );
        check_robots(
            vec![(0, RobotsAnswer::Unavailable), (DAY, unreachable(None))],
            "allow_all",
            60,
        );
        // Unreachable for a whole day without a break: allow all.
        check_robots(
            vec![(0, unreachable(None)), (DAY - 1, unreachable(None))],
            "unreachable",
            60,
        );
        check_robots(
            vec![
                (0, unreachable(None)),
                (3600, unreachable(None)),
                (DAY, unreachable(None)),
            ],
            "allow_all",
            60,
        );
        // An answer in between restarts the count.
        check_robots(
            vec![
                (0, unreachable(None)),
                (3600, RobotsAnswer::Unavailable),
                (2 * 3600, unreachable(None)),
                (DAY, unreachable(None)),
            ],
            "allow_all",
            60,
        );
    }

    #[test]
    fn crawl_delay_is_read_and_capped() {
        let delay = |txt: &str| {
            let entry = RobotsEntry::update(None, rules(txt, None), Instant::now());
            match entry.verdict {
                Verdict::Rules { crawl_delay, .. } => crawl_delay,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            delay("User-agent: *\nCrawl-delay: 2\n"),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            delay("User-agent: *\nCrawl-delay: 0.5\n"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            delay("User-agent: *\nCrawl-delay: 99999\n"),
            Some(MAX_CRAWL_DELAY)
        );
        assert_eq!(delay("User-agent: *\nDisallow: /x\n"), None);
    }
}
