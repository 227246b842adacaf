//! The one HTTP client every source fetches through, and its politeness.
//!
//! Owns: the `User-Agent`, conditional GET (`If-None-Match` /
//! `If-Modified-Since` from the stored [`Validators`]), compressed transfer
//! (gzip, deflate, brotli), a connect timeout and a total timeout per fetch, a
//! hard cap on the (decompressed) body size enforced while streaming, a limit
//! on redirects, a cap on concurrent requests per host, robots.txt, a
//! per-host rate limit, and the classification of failures
//! ([`FetchError::is_retryable`], [`FetchError::reason`],
//! [`FetchError::retry_after`]).
//!
//! Politeness, in the order a fetch goes through it:
//!
//! 1. **robots.txt** ([RFC 9309](https://www.rfc-editor.org/rfc/rfc9309)),
//!    read for the product token of our user agent (`veilleur` in
//!    `veilleur/0.1 (+https://…)`), cached per origin (scheme, host, port)
//!    for [`ROBOTS_TTL`] or a shorter `Cache-Control: max-age` (never less
//!    than [`ROBOTS_MIN_TTL`]), fetched with this same client, the fetch's
//!    timeout and at most [`ROBOTS_MAX_BYTES`] (the rest is ignored, as the
//!    RFC allows). One request per origin per TTL, however many sources share
//!    it: concurrent fetches wait for the one reading robots.txt. What the
//!    answer means:
//!    * 2xx: its rules; a disallowed URL fails with [`FetchError::Robots`]
//!      (not retryable: someone must ask the site or remove the source);
//!    * 4xx but 429 (404 above all), too many redirects, or a file that does
//!      not parse: no rules, everything is allowed;
//!    * 5xx, 429, timeout or network error: "unreachable". The last good
//!      answer of the origin, if any, stays in force; without one, fetches
//!      fail with the retryable [`FetchError::RobotsUnreachable`] and
//!      robots.txt is asked again after [`ROBOTS_RETRY`] (or the server's
//!      `Retry-After`). After [`ROBOTS_TTL`] of unbroken unreachability it
//!      counts as allowing everything, so a site whose robots.txt is broken
//!      for good is still polled (RFC 9309 §2.3.1.4 allows this; Google
//!      does the same after 30 days).
//!
//!    Only the URL asked for is checked, not the targets of its redirects.
//! 2. **Rate limit per host** (governor, GCRA): at most
//!    [`REQUESTS_PER_SECOND_PER_HOST`] requests a second with a burst of as
//!    many, or one request per `Crawl-delay` when robots.txt asks for
//!    slower (capped at [`MAX_CRAWL_DELAY`]). robots.txt requests count too.
//!    Waiters are served in order; a request whose turn would come after its
//!    timeout fails at once with the retryable [`FetchError::Throttled`]
//!    (its `retry_after` is the wait), never waiting unboundedly. The default
//!    is a guard, not a schedule: feeds are polled every few minutes, so even
//!    hundreds of sources on one host (Google Alerts) stay under it, while a
//!    lower default would slow down short test intervals for nothing. Each
//!    host has its own limiter rather than one keyed limiter because
//!    Crawl-delay gives hosts different quotas.
//! 3. **Concurrency per host**: at most [`MAX_REQUESTS_PER_HOST`] requests in
//!    flight.
//!
//! Deliberately not here: parsing bodies (`feed.rs`), scheduling and backoff
//! (`next_delay` in `source/mod.rs`, the loop in `daemon.rs`), storing
//! validators (the state store). The robots.txt cache and the limiters live
//! in memory: a restart reads robots.txt again.
//!
//! Invariants: a request never takes longer than its `timeout` once it holds
//! its per-host permit, and never waits longer than `timeout` for its turn
//! under the rate limit (so a fetch, robots.txt included, is bounded by a
//! few timeouts plus the permit queue); never buffers more than
//! `max_body_bytes` of body; never follows more than [`MAX_REDIRECTS`]
//! redirects; the per-host and per-origin maps only grow with the hosts of
//! configured sources.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use texting_robots::Robot;
use tokio::sync::Semaphore;
use tracing::debug;
use url::Url;

/// Redirects followed at most before a fetch fails.
pub const MAX_REDIRECTS: usize = 5;
/// Time allowed to establish a TCP (and TLS) connection; the fetch's own
/// `timeout` still bounds the whole request when it is shorter.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrent requests to one host at most, however many sources share it
/// (every Google Alerts feed lives on www.google.com).
pub const MAX_REQUESTS_PER_HOST: usize = 4;
/// Requests a second to one host at most (and the burst allowed), unless its
/// robots.txt asks for a longer `Crawl-delay`. See the module doc for why
/// this is not lower.
pub const REQUESTS_PER_SECOND_PER_HOST: u32 = 5;
/// A `Crawl-delay` longer than this is read as this: past it, the source's
/// own interval is what spaces the polls.
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(3600);
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
/// What we ask for: feeds first, anything as a last resort.
const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
     application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.9, */*;q=0.8";
/// What we ask for when reading robots.txt.
const ACCEPT_ROBOTS: &str = "text/plain, */*;q=0.8";

/// HTTP cache validators of the last successful fetch, kept per source so the
/// next fetch can be conditional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// The `ETag` header, verbatim (quotes and `W/` included).
    pub etag: Option<String>,
    /// The `Last-Modified` header, verbatim.
    pub last_modified: Option<String>,
}

impl Validators {
    /// Whether there is nothing to make a request conditional with.
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }

    fn from_headers(headers: &HeaderMap) -> Validators {
        let get = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        Validators {
            etag: get(header::ETAG),
            last_modified: get(header::LAST_MODIFIED),
        }
    }
}

/// The outcome of a successful fetch.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// `304 Not Modified`: nothing new since the validators were issued.
    NotModified,
    /// A 2xx response and its whole (decompressed) body.
    Body {
        bytes: Vec<u8>,
        /// The `Content-Type` header, verbatim (charset included).
        content_type: Option<String>,
        /// Validators to send with the next fetch (empty if the server gave none).
        validators: Validators,
        /// The URL after redirects: the base for relative links.
        final_url: Url,
    },
}

/// Why a fetch failed. Messages name the method, the URL and what happened.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The HTTP client could not be built (bad user agent, TLS set-up).
    #[error("cannot build the http client: {detail}")]
    Client { detail: String },
    /// Only http and https are fetched.
    #[error("GET {url}: unsupported url scheme `{scheme}`, expected http or https")]
    Scheme { url: Url, scheme: String },
    /// No complete answer within the fetch's timeout.
    #[error("GET {url}: no complete answer within {}", crate::config::format_duration(*.timeout))]
    Timeout { url: Url, timeout: Duration },
    /// DNS, TCP or TLS failure before any response.
    #[error("GET {url}: cannot connect: {detail}")]
    Connect { url: Url, detail: String },
    /// Too many redirects, or a redirect to somewhere we don't follow.
    #[error("GET {url}: bad redirect: {detail}")]
    Redirect { url: Url, detail: String },
    /// The server answered with a status other than 2xx or 304.
    #[error("GET {url}: server answered {status}")]
    Status {
        url: Url,
        status: StatusCode,
        /// From `Retry-After` (seconds or HTTP date), when given.
        retry_after: Option<Duration>,
    },
    /// The body is larger than the source's `max_body_bytes`.
    #[error(
        "GET {url}: body larger than the {limit}-byte limit (raise max_body_bytes if the feed is legitimately this big)"
    )]
    TooLarge { url: Url, limit: u64 },
    /// The connection broke or the body could not be decompressed.
    #[error("GET {url}: cannot read the body: {detail}")]
    Body { url: Url, detail: String },
    /// Any other transport failure.
    #[error("GET {url}: request failed: {detail}")]
    Request { url: Url, detail: String },
    /// The origin's robots.txt disallows the URL for our user agent.
    #[error(
        "robots.txt of {} disallows {} for {agent}; ask the site to allow it or remove the source",
        .url.origin().ascii_serialization(),
        path_and_query(.url)
    )]
    Robots {
        url: Url,
        /// The product token the rules were read for.
        agent: String,
    },
    /// The origin's robots.txt could not be read (5xx, 429, network) and no
    /// earlier answer is known: the URL is not fetched until it can be.
    #[error(
        "not fetching {url} until robots.txt of its origin can be read (after 24 h without an answer it counts as allowing all): {cause}"
    )]
    RobotsUnreachable {
        url: Url,
        /// The robots.txt failure, shared by every fetch it holds.
        cause: Arc<FetchError>,
        /// When robots.txt will be asked again.
        retry_after: Option<Duration>,
    },
    /// The host's rate limit (or its robots.txt `Crawl-delay`) would hold the
    /// request past its timeout.
    #[error(
        "GET {url}: the rate limit of its host ({limit}) would hold it for {}, longer than its timeout; poll this host's sources less often",
        crate::config::format_duration(*.wait)
    )]
    Throttled {
        url: Url,
        /// The limit in force, for people: `5 requests/s`, `Crawl-delay 10.000s`.
        limit: Box<str>,
        /// How long the request would have had to wait, at least.
        wait: Duration,
    },
}

/// The path of `url`, and its query if any.
fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

impl FetchError {
    /// Whether trying again soon may succeed: timeouts, connection failures,
    /// broken bodies, 5xx, 429 and 408, an unreachable robots.txt, the rate
    /// limit. Other 4xx, too-large bodies, bad redirects, bad URLs and
    /// robots.txt refusals will fail the same way until someone changes
    /// something (the daemon still polls them at their normal interval).
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Timeout { .. }
            | FetchError::Connect { .. }
            | FetchError::Body { .. }
            | FetchError::Request { .. }
            | FetchError::RobotsUnreachable { .. }
            | FetchError::Throttled { .. } => true,
            FetchError::Status { status, .. } => {
                status.is_server_error()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || *status == StatusCode::REQUEST_TIMEOUT
            }
            FetchError::Client { .. }
            | FetchError::Scheme { .. }
            | FetchError::Redirect { .. }
            | FetchError::TooLarge { .. }
            | FetchError::Robots { .. } => false,
        }
    }

    /// A short fixed label for metrics and logs. An unreachable robots.txt
    /// reports why it was unreachable (`connect`, `timeout`, `status`…): the
    /// host is what is failing.
    pub fn reason(&self) -> &'static str {
        match self {
            FetchError::Client { .. } => "client",
            FetchError::Scheme { .. } => "url",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Connect { .. } => "connect",
            FetchError::Redirect { .. } => "redirect",
            FetchError::Status { .. } => "status",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Body { .. } => "body",
            FetchError::Request { .. } => "request",
            FetchError::Robots { .. } => "robots",
            FetchError::RobotsUnreachable { cause, .. } => cause.reason(),
            FetchError::Throttled { .. } => "throttled",
        }
    }

    /// How long to wait before trying again: the server's `Retry-After` (on
    /// 429 and 503), until robots.txt is asked again, or until the rate
    /// limit lets the request through.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. }
            | FetchError::RobotsUnreachable { retry_after, .. } => *retry_after,
            FetchError::Throttled { wait, .. } => Some(*wait),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The shared HTTP client. Cheap to clone; clones share connections, the
/// per-host limits and the robots.txt cache.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    /// The robots.txt product token of our user agent, lowercase.
    agent: Arc<str>,
    /// Per host (lowercase, port ignored); bounded by the configured sources.
    hosts: Arc<Mutex<HashMap<String, Arc<Host>>>>,
    /// Per origin; bounded by the configured sources. The inner async lock
    /// makes one fetch read robots.txt while the others wait for its answer.
    robots: Arc<Mutex<HashMap<String, RobotsSlot>>>,
}

/// The cached robots.txt of one origin, behind the lock its reader holds.
type RobotsSlot = Arc<tokio::sync::Mutex<Option<RobotsEntry>>>;

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

/// Politeness state of one host.
struct Host {
    /// The concurrency cap.
    permits: Arc<Semaphore>,
    /// Held while waiting for the rate limiter, so waiters go in order
    /// (tokio's mutex is fair) instead of racing for each free slot.
    queue: tokio::sync::Mutex<()>,
    /// The limiter in force; replaced when robots.txt's Crawl-delay changes.
    pace: Mutex<Pace>,
}

#[derive(Clone)]
struct Pace {
    limiter: Arc<DefaultDirectRateLimiter>,
    crawl_delay: Option<Duration>,
}

impl Pace {
    fn new(crawl_delay: Option<Duration>) -> Pace {
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

    fn describe(&self) -> String {
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
    fn new() -> Host {
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
    fn set_crawl_delay(&self, crawl_delay: Option<Duration>) {
        let mut pace = self.pace.lock().unwrap_or_else(|p| p.into_inner());
        if pace.crawl_delay != crawl_delay {
            *pace = Pace::new(crawl_delay);
        }
    }
}

/// How a request should be made.
struct Request<'a> {
    validators: &'a Validators,
    accept: &'static str,
    timeout: Duration,
    max_body_bytes: u64,
    /// Past `max_body_bytes`, keep what was read instead of failing.
    truncate: bool,
}

impl HttpClient {
    /// Builds the client with `user_agent` on every request; robots.txt is
    /// read for its product token (what comes before the first `/` or
    /// space). Installs the rustls crypto provider if nobody has yet.
    pub fn new(user_agent: &str) -> Result<HttpClient, FetchError> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .gzip(true)
            .deflate(true)
            .brotli(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| FetchError::Client {
                detail: error_chain(&e),
            })?;
        Ok(HttpClient {
            client,
            agent: robots_agent(user_agent).into(),
            hosts: Arc::default(),
            robots: Arc::default(),
        })
    }

    fn host(&self, url: &Url) -> Arc<Host> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        // A poisoned lock only means another fetch panicked while inserting;
        // the map itself is still a valid map.
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .entry(host)
            .or_insert_with(|| Arc::new(Host::new()))
            .clone()
    }

    /// Conditional GET of `url`, if the origin's robots.txt allows it and
    /// once the host's rate limit lets it through (see the module doc):
    /// sends `If-None-Match` / `If-Modified-Since` from `validators`,
    /// accepts gzip/deflate/brotli, follows at most [`MAX_REDIRECTS`]
    /// redirects, and fails with [`FetchError::Timeout`] if the whole
    /// exchange (connect, headers, body) takes longer than `timeout`, or
    /// [`FetchError::TooLarge`] as soon as the announced or received
    /// (decompressed) body exceeds `max_body_bytes`.
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
        timeout: Duration,
        max_body_bytes: u64,
    ) -> Result<Fetched, FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Scheme {
                url: url.clone(),
                scheme: url.scheme().to_string(),
            });
        }
        self.check_robots(url, timeout).await?;
        let (fetched, _max_age) = self
            .request(
                url,
                Request {
                    validators,
                    accept: ACCEPT,
                    timeout,
                    max_body_bytes,
                    truncate: false,
                },
            )
            .await?;
        Ok(fetched)
    }

    /// Fails unless the origin's robots.txt (cached, or read now) allows
    /// `url` for our agent.
    async fn check_robots(&self, url: &Url, timeout: Duration) -> Result<(), FetchError> {
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
        let res = self
            .request(
                robots_url,
                Request {
                    validators: &Validators::default(),
                    accept: ACCEPT_ROBOTS,
                    timeout,
                    max_body_bytes: ROBOTS_MAX_BYTES,
                    truncate: true,
                },
            )
            .await;
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

    /// One GET under the host's rate limit and concurrency cap.
    async fn request(
        &self,
        url: &Url,
        req: Request<'_>,
    ) -> Result<(Fetched, Option<Duration>), FetchError> {
        let host = self.host(url);
        wait_turn(&host, url, req.timeout).await?;
        // The semaphore is never closed, so acquiring only waits.
        let _permit = host.permits.clone().acquire_owned().await.ok();
        let timeout = req.timeout;
        match tokio::time::timeout(timeout, self.send(url, req)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(FetchError::Timeout {
                url: url.clone(),
                timeout,
            }),
        }
    }

    /// Sends the request and reads the body; also returns the response's
    /// `Cache-Control: max-age`.
    async fn send(
        &self,
        url: &Url,
        req: Request<'_>,
    ) -> Result<(Fetched, Option<Duration>), FetchError> {
        let Request {
            validators,
            accept,
            timeout,
            max_body_bytes,
            truncate,
        } = req;
        let mut builder = self
            .client
            .get(url.clone())
            .timeout(timeout)
            .header(header::ACCEPT, accept);
        if let Some(etag) = &validators.etag {
            builder = builder.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            builder = builder.header(header::IF_MODIFIED_SINCE, lm);
        }
        let mut resp = builder
            .send()
            .await
            .map_err(|e| classify(url, timeout, &e))?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok((Fetched::NotModified, None));
        }
        if !status.is_success() {
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, Utc::now()));
            return Err(FetchError::Status {
                url: url.clone(),
                status,
                retry_after,
            });
        }
        let too_large = || FetchError::TooLarge {
            url: url.clone(),
            limit: max_body_bytes,
        };
        // With transparent decompression reqwest reports no length; when it
        // does, it is the length we would buffer.
        if !truncate && resp.content_length().is_some_and(|n| n > max_body_bytes) {
            return Err(too_large());
        }
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let max_age = resp
            .headers()
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(parse_max_age);
        let new_validators = Validators::from_headers(resp.headers());
        let final_url = resp.url().clone();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(url, timeout, &e))? {
            let room = (max_body_bytes as usize).saturating_sub(bytes.len());
            if chunk.len() > room {
                if truncate {
                    bytes.extend_from_slice(&chunk[..room]);
                    break;
                }
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((
            Fetched::Body {
                bytes,
                content_type,
                validators: new_validators,
                final_url,
            },
            max_age,
        ))
    }
}

/// Waits, in order with the host's other requests, until its rate limiter
/// lets one through; fails at once when that would take longer than
/// `timeout`.
async fn wait_turn(host: &Host, url: &Url, timeout: Duration) -> Result<(), FetchError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let throttled = |wait: Duration| FetchError::Throttled {
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

/// The robots.txt product token of a `User-Agent`: what comes before the
/// first `/` or space, lowercase (RFC 9309 §2.2.1).
fn robots_agent(user_agent: &str) -> String {
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
fn parse_max_age(value: &str) -> Option<Duration> {
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
struct RobotsEntry {
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

/// Maps a reqwest error to our classification.
fn classify(url: &Url, timeout: Duration, e: &reqwest::Error) -> FetchError {
    let url = url.clone();
    let detail = error_chain(e);
    if e.is_timeout() {
        FetchError::Timeout { url, timeout }
    } else if e.is_redirect() {
        FetchError::Redirect { url, detail }
    } else if e.is_connect() {
        FetchError::Connect { url, detail }
    } else if e.is_body() || e.is_decode() {
        FetchError::Body { url, detail }
    } else {
        FetchError::Request { url, detail }
    }
}

/// The causes under a reqwest error, joined with `: `. reqwest's own message
/// repeats the URL we already print, so it is used only when nothing is
/// under it.
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cur = std::error::Error::source(e);
    while let Some(err) = cur {
        let msg = err.to_string();
        // hyper-util's wrapper ("client error (Connect)") says nothing the
        // variant doesn't.
        if !msg.starts_with("client error (") && parts.last() != Some(&msg) {
            parts.push(msg);
        }
        cur = err.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// Longest wait we accept from a `Retry-After` header; a server asking for
/// more is capped (the backoff rules cap it again).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Parses `Retry-After`: delta-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
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
        check("99999999", Some(24 * 3600));
        check("soon", None);
        check("-5", None);
    }

    fn status_err(code: u16) -> FetchError {
        FetchError::Status {
            url: Url::parse("https://example.org/feed").unwrap(),
            status: StatusCode::from_u16(code).unwrap(),
            retry_after: None,
        }
    }

    #[test]
    fn status_classification() {
        for (code, retryable) in [
            (500, true),
            (502, true),
            (503, true),
            (429, true),
            (408, true),
            (404, false),
            (410, false),
            (403, false),
            (401, false),
        ] {
            assert_eq!(status_err(code).is_retryable(), retryable, "{code}");
            assert_eq!(status_err(code).reason(), "status");
        }
        assert_eq!(
            status_err(500).to_string(),
            "GET https://example.org/feed: server answered 500 Internal Server Error"
        );
    }

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
        // Only a delay longer than the default spacing slows a host down.
        assert_eq!(
            Pace::new(Some(Duration::from_millis(10))).describe(),
            "5 requests/s"
        );
        assert_eq!(
            Pace::new(Some(Duration::from_secs(10))).describe(),
            "Crawl-delay 10.000s"
        );
    }

    #[test]
    fn politeness_errors_are_classified() {
        let url = Url::parse("https://example.org/feed.xml").unwrap();
        let robots = FetchError::Robots {
            url: Url::parse("https://example.org/feed.xml?q=acme").unwrap(),
            agent: "veilleur".into(),
        };
        assert_eq!(robots.reason(), "robots");
        assert!(!robots.is_retryable());
        assert_eq!(
            robots.to_string(),
            "robots.txt of https://example.org disallows /feed.xml?q=acme for veilleur; ask the site to allow it or remove the source"
        );
        let down = FetchError::RobotsUnreachable {
            url: url.clone(),
            cause: Arc::new(status_err(503)),
            retry_after: Some(Duration::from_secs(60)),
        };
        assert_eq!(down.reason(), "status");
        assert!(down.is_retryable());
        assert_eq!(down.retry_after(), Some(Duration::from_secs(60)));
        assert!(
            down.to_string()
                .ends_with("server answered 503 Service Unavailable"),
            "{down}"
        );
        let throttled = FetchError::Throttled {
            url,
            limit: "Crawl-delay 60.000s".into(),
            wait: Duration::from_secs(42),
        };
        assert_eq!(throttled.reason(), "throttled");
        assert!(throttled.is_retryable());
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(42)));
        assert!(
            throttled
                .to_string()
                .contains("(Crawl-delay 60.000s) would hold it for 42s"),
            "{throttled}"
        );
    }
}
