//! The client itself: a [`Request`] in, a [`Fetched`] out, politely.
//!
//! Owns: the `User-Agent`, the request shape (method, URL, extra headers,
//! auth, `Accept`, body), conditional requests (`If-None-Match` /
//! `If-Modified-Since` from [`Validators`]), compressed transfer (gzip,
//! deflate, brotli), a connect timeout and a total timeout per request, a
//! hard cap on the (decompressed) body size enforced while streaming, at most
//! [`MAX_REDIRECTS`] redirects and only to http(s) (a redirect to another
//! scheme is [`FetchError::RedirectScheme`]), and `Retry-After` on
//! errors. Every request, whatever its method or kind, first passes
//! robots.txt (`robots.rs`) and then the host's pacing (`pacing.rs`).
//!
//! Deliberately not here: what a body means (each source kind parses its
//! own), scheduling and backoff (`source/poll.rs`), storing validators (the
//! state store, through the source's cursor).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use url::Url;

use super::FetchError;
use super::errors::classify;
use super::pacing::{Host, HostRate, wait_turn};
use super::robots::RobotsSlot;

/// Redirects followed at most before a request fails.
pub const MAX_REDIRECTS: usize = 5;
/// Time allowed to establish a TCP (and TLS) connection; the request's own
/// `timeout` still bounds the whole request when it is shorter.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// What a feed asks for: feeds first, anything as a last resort.
pub const ACCEPT_FEED: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
     application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.9, */*;q=0.8";
/// What a JSON API source asks for.
pub const ACCEPT_JSON: &str = "application/json";
/// What a request asks for unless told otherwise.
pub const ACCEPT_ANY: &str = "*/*";
/// A request's total time unless told otherwise (the config's default).
pub const DEFAULT_TIMEOUT: Duration = crate::config::DEFAULT_TIMEOUT;
/// A request's body cap unless told otherwise (the config's default).
pub const DEFAULT_MAX_BODY_BYTES: u64 = crate::config::DEFAULT_MAX_BODY_BYTES;

/// HTTP cache validators of the last successful fetch, kept per source (in
/// its cursor) so the next fetch can be conditional.
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

/// The outcome of a successful request.
// One value per request, moved once: boxing the body's fields would only add
// an allocation.
#[allow(clippy::large_enum_variant)]
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
        /// Every response header (pagination `Link`, rate-limit counters…).
        headers: HeaderMap,
    },
}

/// Credentials sent with a request. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic …` (RFC 7617).
    Basic {
        user: String,
        password: Option<String>,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Auth::Bearer(…)"),
            Auth::Basic { user, .. } => write!(f, "Auth::Basic({user}, …)"),
        }
    }
}

/// One HTTP request, as a source kind asks for it. Built with
/// [`Request::get`] or [`Request::post`] and the builder methods; every
/// request goes through the same politeness whatever its shape.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: Url,
    /// The `Accept` header ([`ACCEPT_FEED`], [`ACCEPT_JSON`], …).
    pub accept: Cow<'static, str>,
    /// Extra headers, sent as given (after `Accept` and auth).
    pub headers: HeaderMap,
    pub auth: Option<Auth>,
    /// The body and its `Content-Type`.
    pub body: Option<(Cow<'static, str>, Vec<u8>)>,
    /// Makes the request conditional when not empty.
    pub validators: Validators,
    /// The whole exchange (connect, headers, body), and the longest wait for
    /// a turn under the host's rate limit.
    pub timeout: Duration,
    /// Larger (decompressed) bodies fail with [`FetchError::TooLarge`].
    pub max_body_bytes: u64,
    /// Whether the origin's robots.txt is consulted (default yes).
    pub robots: bool,
    /// Past `max_body_bytes`, keep what was read instead of failing
    /// (robots.txt only).
    pub(super) truncate: bool,
}

impl Request {
    /// A request of `method` for `url` with the defaults: `Accept: */*`,
    /// [`DEFAULT_TIMEOUT`], [`DEFAULT_MAX_BODY_BYTES`], robots.txt honoured.
    pub fn new(method: Method, url: Url) -> Request {
        Request {
            method,
            url,
            accept: Cow::Borrowed(ACCEPT_ANY),
            headers: HeaderMap::new(),
            auth: None,
            body: None,
            validators: Validators::default(),
            timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            robots: true,
            truncate: false,
        }
    }

    /// A GET of `url`.
    pub fn get(url: Url) -> Request {
        Request::new(Method::GET, url)
    }

    /// A POST to `url` (give it a body with [`Request::json`] or
    /// [`Request::body`]).
    pub fn post(url: Url) -> Request {
        Request::new(Method::POST, url)
    }

    pub fn accept(mut self, accept: impl Into<Cow<'static, str>>) -> Request {
        self.accept = accept.into();
        self
    }

    /// Adds a header (a second one of the same name is added, not replaced).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Request {
        self.headers.append(name, value);
        self
    }

    pub fn bearer(mut self, token: impl Into<String>) -> Request {
        self.auth = Some(Auth::Bearer(token.into()));
        self
    }

    /// A bearer token when there is one (anonymous API access otherwise).
    pub fn bearer_opt(self, token: Option<&str>) -> Request {
        match token {
            Some(t) => self.bearer(t),
            None => self,
        }
    }

    pub fn basic(mut self, user: impl Into<String>, password: Option<String>) -> Request {
        self.auth = Some(Auth::Basic {
            user: user.into(),
            password,
        });
        self
    }

    /// Sends `bytes` with `content_type`.
    pub fn body(mut self, content_type: impl Into<Cow<'static, str>>, bytes: Vec<u8>) -> Request {
        self.body = Some((content_type.into(), bytes));
        self
    }

    /// Sends `value` as `application/json`.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Request, serde_json::Error> {
        let bytes = serde_json::to_vec(value)?;
        Ok(self.body("application/json", bytes))
    }

    pub fn validators(mut self, validators: Validators) -> Request {
        self.validators = validators;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = timeout;
        self
    }

    pub fn max_body_bytes(mut self, max_body_bytes: u64) -> Request {
        self.max_body_bytes = max_body_bytes;
        self
    }

    /// Whether to consult robots.txt (RFC 9309 is about crawlers; an API
    /// whose terms govern automated access may say it does not apply).
    pub fn robots(mut self, robots: bool) -> Request {
        self.robots = robots;
        self
    }
}

/// The shared HTTP client. Cheap to clone; clones share connections, the
/// per-host limits and the robots.txt cache.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    /// The robots.txt product token of our user agent, lowercase.
    pub(super) agent: Arc<str>,
    /// Per host (lowercase, port ignored); bounded by the configured sources.
    hosts: Arc<Mutex<HashMap<String, Arc<Host>>>>,
    /// Each host's default rate limit (see [`HttpClient::with_host_rate`]).
    host_rate: HostRate,
    /// Per origin; bounded by the configured sources. The inner async lock
    /// makes one request read robots.txt while the others wait for its answer.
    pub(super) robots: Arc<Mutex<HashMap<String, RobotsSlot>>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

/// Follows at most [`MAX_REDIRECTS`] redirects, and only to http(s): a
/// redirect elsewhere is not followed, and [`refused_redirect`] names it.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        // The first URL of `previous` is the one asked for, not a redirect.
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if !matches!(attempt.url().scheme(), "http" | "https") {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// The scheme of a redirect's target when it is not http(s). A `Location`
/// such as `file:///etc/passwd` never reaches the redirect policy (it is not
/// an HTTP URI), so the 3xx comes back as it is and is recognised here.
fn refused_redirect(status: StatusCode, headers: &HeaderMap, base: &Url) -> Option<String> {
    if !status.is_redirection() {
        return None;
    }
    let location = headers.get(header::LOCATION)?.to_str().ok()?;
    let target = base.join(location.trim()).ok()?;
    let scheme = target.scheme();
    (!matches!(scheme, "http" | "https")).then(|| scheme.to_ascii_lowercase())
}

impl HttpClient {
    /// Builds the client with `user_agent` on every request; robots.txt is
    /// read for its product token (what comes before the first `/` or
    /// space). Installs the rustls crypto provider if nobody has yet.
    // Called once at start-up: the size of its error does not matter.
    #[allow(clippy::result_large_err)]
    pub fn new(user_agent: &str) -> Result<HttpClient, FetchError> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(redirect_policy())
            .gzip(true)
            .deflate(true)
            .brotli(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| FetchError::Client {
                detail: crate::retry::error_chain(&e),
            })?;
        Ok(HttpClient {
            client,
            agent: super::robots::robots_agent(user_agent).into(),
            hosts: Arc::default(),
            host_rate: HostRate::default(),
            robots: Arc::default(),
        })
    }

    /// The same client with another default per-host rate limit (robots.txt
    /// may still ask for slower). For hosts not contacted yet: set it before
    /// the first request.
    pub fn with_host_rate(mut self, rate: HostRate) -> HttpClient {
        self.host_rate = rate;
        self
    }

    pub(super) fn host(&self, url: &Url) -> Arc<Host> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        // A poisoned lock only means another request panicked while
        // inserting; the map itself is still a valid map.
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .entry(host)
            .or_insert_with(|| Arc::new(Host::new(self.host_rate)))
            .clone()
    }

    /// How long a source starting now on `url`'s host should wait before
    /// its first poll: one host turn after the source that asked before it
    /// (see `pacing.rs`), so sources configured together do not burst.
    pub fn first_turn(&self, url: &Url) -> Duration {
        self.host(url).first_turn()
    }

    /// Sends `req` if the origin's robots.txt allows it and once the host's
    /// rate limit lets it through (see the module doc of `source::http`):
    /// conditional on its validators, gzip/deflate/brotli accepted, at most
    /// [`MAX_REDIRECTS`] redirects, [`FetchError::Timeout`] if the whole
    /// exchange takes longer than its `timeout`, [`FetchError::TooLarge`]
    /// as soon as the announced or received (decompressed) body exceeds its
    /// `max_body_bytes`.
    pub async fn send(&self, req: Request) -> Result<Fetched, FetchError> {
        if !matches!(req.url.scheme(), "http" | "https") {
            return Err(FetchError::Scheme {
                method: req.method.clone(),
                url: req.url.clone(),
                scheme: req.url.scheme().to_string(),
            });
        }
        if req.robots {
            self.check_robots(&req.url, req.timeout).await?;
        }
        let (fetched, _max_age) = self.request(&req).await?;
        Ok(fetched)
    }

    /// Conditional GET of a feed: [`HttpClient::send`] with the feed-shaped
    /// `Accept` ([`ACCEPT_FEED`]).
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
        timeout: Duration,
        max_body_bytes: u64,
    ) -> Result<Fetched, FetchError> {
        self.send(
            Request::get(url.clone())
                .accept(ACCEPT_FEED)
                .validators(validators.clone())
                .timeout(timeout)
                .max_body_bytes(max_body_bytes),
        )
        .await
    }

    /// One request under the host's rate limit and concurrency cap; also
    /// returns the response's `Cache-Control: max-age`.
    pub(super) async fn request(
        &self,
        req: &Request,
    ) -> Result<(Fetched, Option<Duration>), FetchError> {
        let host = self.host(&req.url);
        wait_turn(&host, &req.method, &req.url, req.timeout).await?;
        // The semaphore is never closed, so acquiring only waits.
        let _permit = host.permits.clone().acquire_owned().await.ok();
        match tokio::time::timeout(req.timeout, self.transmit(req)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(FetchError::Timeout {
                method: req.method.clone(),
                url: req.url.clone(),
                timeout: req.timeout,
            }),
        }
    }

    /// Sends the request and reads the body.
    async fn transmit(&self, req: &Request) -> Result<(Fetched, Option<Duration>), FetchError> {
        let Request {
            method,
            url,
            accept,
            headers,
            auth,
            body,
            validators,
            timeout,
            max_body_bytes,
            truncate,
            robots: _,
        } = req;
        let (timeout, max_body_bytes) = (*timeout, *max_body_bytes);
        let mut builder = self
            .client
            .request(method.clone(), url.clone())
            .timeout(timeout)
            .header(header::ACCEPT, accept.as_ref());
        match auth {
            Some(Auth::Bearer(token)) => builder = builder.bearer_auth(token),
            Some(Auth::Basic { user, password }) => {
                builder = builder.basic_auth(user, password.as_ref());
            }
            None => {}
        }
        if let Some(etag) = &validators.etag {
            builder = builder.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            builder = builder.header(header::IF_MODIFIED_SINCE, lm);
        }
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if let Some((content_type, bytes)) = body {
            builder = builder
                .header(header::CONTENT_TYPE, content_type.as_ref())
                .body(bytes.clone());
        }
        let mut resp = builder.send().await.map_err(|e| {
            if e.is_builder() {
                FetchError::Build {
                    method: method.clone(),
                    url: url.clone(),
                    detail: crate::retry::cause_chain(&e),
                }
            } else {
                classify(method, url, timeout, &e)
            }
        })?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok((Fetched::NotModified, None));
        }
        if let Some(scheme) = refused_redirect(status, resp.headers(), resp.url()) {
            return Err(FetchError::RedirectScheme {
                method: method.clone(),
                url: url.clone(),
                scheme,
            });
        }
        if !status.is_success() {
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| crate::retry::parse_retry_after(v, Utc::now()));
            return Err(FetchError::Status {
                method: method.clone(),
                url: url.clone(),
                status,
                retry_after,
            });
        }
        let too_large = || FetchError::TooLarge {
            method: method.clone(),
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
            .find_map(super::robots::parse_max_age);
        let new_validators = Validators::from_headers(resp.headers());
        let response_headers = resp.headers().clone();
        let final_url = resp.url().clone();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| classify(method, url, timeout, &e))?
        {
            let room = (max_body_bytes as usize).saturating_sub(bytes.len());
            if chunk.len() > room {
                if *truncate {
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
                headers: response_headers,
            },
            max_age,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_builder_and_redacted_auth() {
        let url = Url::parse("https://api.example.org/v1/search").unwrap();
        let req = Request::post(url.clone())
            .accept(ACCEPT_JSON)
            .bearer("s3cret")
            .json(&serde_json::json!({"q": "acme"}))
            .unwrap()
            .timeout(Duration::from_secs(3));
        assert_eq!(req.method, Method::POST);
        assert_eq!(req.accept, ACCEPT_JSON);
        let (ct, bytes) = req.body.as_ref().unwrap();
        assert_eq!(ct, "application/json");
        assert_eq!(bytes, br#"{"q":"acme"}"#);
        let shown = format!("{req:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let get = Request::get(url);
        assert_eq!(get.accept, ACCEPT_ANY);
        assert!(get.robots);
        assert_eq!(get.timeout, DEFAULT_TIMEOUT);
        let basic = get.basic("me", Some("pw".into()));
        assert!(!format!("{basic:?}").contains("pw\""));
    }
}
