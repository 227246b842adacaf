//! The one HTTP client every source fetches through, and its politeness.
//!
//! Owns: the `User-Agent`, conditional GET (`If-None-Match` /
//! `If-Modified-Since` from the stored [`Validators`]), compressed transfer
//! (gzip, deflate, brotli), a connect timeout and a total timeout per fetch, a
//! hard cap on the (decompressed) body size enforced while streaming, a limit
//! on redirects, a cap on concurrent requests per host, and the
//! classification of failures ([`FetchError::is_retryable`],
//! [`FetchError::reason`], [`FetchError::retry_after`]).
//!
//! Deliberately not here: parsing bodies (`feed.rs`), scheduling and backoff
//! (`next_delay` in `source/mod.rs`, the loop in `daemon.rs`), storing
//! validators (the state store), robots.txt.
//!
//! Invariants: a fetch never takes longer than its `timeout` once it holds its
//! per-host permit; never buffers more than `max_body_bytes` of body; never
//! follows more than [`MAX_REDIRECTS`] redirects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use url::Url;

/// Redirects followed at most before a fetch fails.
pub const MAX_REDIRECTS: usize = 5;
/// Time allowed to establish a TCP (and TLS) connection; the fetch's own
/// `timeout` still bounds the whole request when it is shorter.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrent requests to one host at most, however many sources share it
/// (every Google Alerts feed lives on www.google.com).
pub const MAX_REQUESTS_PER_HOST: usize = 4;
/// What we ask for: feeds first, anything as a last resort.
const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
     application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.9, */*;q=0.8";

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
}

impl FetchError {
    /// Whether trying again soon may succeed: timeouts, connection failures,
    /// broken bodies, 5xx, 429 and 408. Other 4xx, too-large bodies, bad
    /// redirects and bad URLs will fail the same way until someone changes
    /// something (the daemon still polls them at their normal interval).
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Timeout { .. }
            | FetchError::Connect { .. }
            | FetchError::Body { .. }
            | FetchError::Request { .. } => true,
            FetchError::Status { status, .. } => {
                status.is_server_error()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || *status == StatusCode::REQUEST_TIMEOUT
            }
            FetchError::Client { .. }
            | FetchError::Scheme { .. }
            | FetchError::Redirect { .. }
            | FetchError::TooLarge { .. } => false,
        }
    }

    /// A short fixed label for metrics and logs.
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
        }
    }

    /// How long the server asked us to wait (`Retry-After` on 429 and 503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
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

/// The shared HTTP client. Cheap to clone; clones share connections and the
/// per-host limits.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    /// One semaphore per host seen; bounded by the configured sources.
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds the client with `user_agent` on every request. Installs the
    /// rustls crypto provider if nobody has yet.
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
            hosts: Arc::default(),
        })
    }

    fn host_limit(&self, url: &Url) -> Arc<Semaphore> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        // A poisoned lock only means another fetch panicked while inserting;
        // the map itself is still a valid map.
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_REQUESTS_PER_HOST)))
            .clone()
    }

    /// Conditional GET of `url`: sends `If-None-Match` / `If-Modified-Since`
    /// from `validators`, accepts gzip/deflate/brotli, follows at most
    /// [`MAX_REDIRECTS`] redirects, and fails with [`FetchError::Timeout`] if
    /// the whole exchange (connect, headers, body) takes longer than
    /// `timeout`, or [`FetchError::TooLarge`] as soon as the announced or
    /// received (decompressed) body exceeds `max_body_bytes`.
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
        let limit = self.host_limit(url);
        // The semaphore is never closed, so acquiring only waits.
        let _permit = limit.acquire_owned().await.ok();
        match tokio::time::timeout(
            timeout,
            self.fetch_inner(url, validators, timeout, max_body_bytes),
        )
        .await
        {
            Ok(result) => result,
            Err(_elapsed) => Err(FetchError::Timeout {
                url: url.clone(),
                timeout,
            }),
        }
    }

    async fn fetch_inner(
        &self,
        url: &Url,
        validators: &Validators,
        timeout: Duration,
        max_body_bytes: u64,
    ) -> Result<Fetched, FetchError> {
        let mut req = self
            .client
            .get(url.clone())
            .timeout(timeout)
            .header(header::ACCEPT, ACCEPT);
        if let Some(etag) = &validators.etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm);
        }
        let mut resp = req.send().await.map_err(|e| classify(url, timeout, &e))?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
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
        if resp.content_length().is_some_and(|n| n > max_body_bytes) {
            return Err(too_large());
        }
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let new_validators = Validators::from_headers(resp.headers());
        let final_url = resp.url().clone();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| classify(url, timeout, &e))? {
            if (bytes.len() + chunk.len()) as u64 > max_body_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body {
            bytes,
            content_type,
            validators: new_validators,
            final_url,
        })
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
}
