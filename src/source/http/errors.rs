//! Why a fetch failed, and what the poll loop should do about it.
//!
//! Owns [`FetchError`] and its classification: [`FetchError::is_retryable`]
//! (back off and try soon, or keep the normal pace), [`FetchError::reason`]
//! (a fixed label for metrics) and [`FetchError::retry_after`] (the wait the
//! server or our own politeness asks for). Messages name the method, the URL
//! and what happened, and say what to change when something must change.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use url::Url;

use crate::duration::format_duration;

/// Why a fetch failed. Messages name the method, the URL and what happened.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The HTTP client could not be built (bad user agent, TLS set-up).
    #[error("cannot build the http client: {detail}")]
    Client { detail: String },
    /// The request could not be built (a header or a token that is not a
    /// valid header value): the source's settings must change.
    #[error("{method} {shown}: cannot build the request: {detail}", shown = crate::notify::redact::for_log(.url))]
    Build {
        method: Method,
        url: Url,
        detail: String,
    },
    /// Only http and https are fetched.
    #[error("{method} {shown}: unsupported url scheme `{scheme}`, expected http or https", shown = crate::notify::redact::for_log(.url))]
    Scheme {
        method: Method,
        url: Url,
        scheme: String,
    },
    /// No complete answer within the fetch's timeout.
    #[error("{method} {shown}: no complete answer within {}", format_duration(*.timeout), shown = crate::notify::redact::for_log(.url))]
    Timeout {
        method: Method,
        url: Url,
        timeout: Duration,
    },
    /// DNS, TCP or TLS failure before any response.
    #[error("{method} {shown}: cannot connect: {detail}", shown = crate::notify::redact::for_log(.url))]
    Connect {
        method: Method,
        url: Url,
        detail: String,
    },
    /// Too many redirects, or a redirect to somewhere we don't follow.
    #[error("{method} {shown}: bad redirect: {detail}", shown = crate::notify::redact::for_log(.url))]
    Redirect {
        method: Method,
        url: Url,
        detail: String,
    },
    /// A redirect to a URL of another scheme than http or https (`file:`,
    /// `ftp:`, `data:`…): refused, whatever the server intends.
    #[error(
        "{method} {shown}: redirect to a {scheme}: URL refused: only http and https are followed"
    , shown = crate::notify::redact::for_log(.url))]
    RedirectScheme {
        method: Method,
        url: Url,
        /// The scheme of the redirect's target, lowercase.
        scheme: String,
    },
    /// The server answered with a status other than 2xx or 304.
    #[error("{method} {shown}: server answered {status}", shown = crate::notify::redact::for_log(.url))]
    Status {
        method: Method,
        url: Url,
        status: StatusCode,
        /// From `Retry-After` (seconds or HTTP date), when given.
        retry_after: Option<Duration>,
    },
    /// The body is larger than the source's `max_body_bytes`.
    #[error(
        "{method} {shown}: body larger than the {limit}-byte limit (raise max_body_bytes if the source is legitimately this big)"
    , shown = crate::notify::redact::for_log(.url))]
    TooLarge {
        method: Method,
        url: Url,
        limit: u64,
    },
    /// The connection broke or the body could not be decompressed.
    #[error("{method} {shown}: cannot read the body: {detail}", shown = crate::notify::redact::for_log(.url))]
    Body {
        method: Method,
        url: Url,
        detail: String,
    },
    /// Any other transport failure.
    #[error("{method} {shown}: request failed: {detail}", shown = crate::notify::redact::for_log(.url))]
    Request {
        method: Method,
        url: Url,
        detail: String,
    },
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
        "not fetching {shown} until robots.txt of its origin can be read (after 24 h without an answer it counts as allowing all): {cause}"
    , shown = crate::notify::redact::for_log(.url))]
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
        "{method} {shown}: the rate limit of its host ({limit}) would hold it for {}, longer than its timeout; poll this host's sources less often",
        format_duration(*.wait)
    , shown = crate::notify::redact::for_log(.url))]
    Throttled {
        method: Method,
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
            | FetchError::Build { .. }
            | FetchError::Scheme { .. }
            | FetchError::Redirect { .. }
            | FetchError::RedirectScheme { .. }
            | FetchError::TooLarge { .. }
            | FetchError::Robots { .. } => false,
        }
    }

    /// A short fixed label for metrics and logs. An unreachable robots.txt
    /// reports why it was unreachable (`connect`, `timeout`, `status`…): the
    /// host is what is failing.
    pub fn reason(&self) -> &'static str {
        match self {
            FetchError::Client { .. } | FetchError::Build { .. } => "client",
            FetchError::Scheme { .. } => "url",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Connect { .. } => "connect",
            FetchError::Redirect { .. } | FetchError::RedirectScheme { .. } => "redirect",
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

/// Maps a reqwest error to our classification.
pub(super) fn classify(
    method: &Method,
    url: &Url,
    timeout: Duration,
    e: &reqwest::Error,
) -> FetchError {
    let method = method.clone();
    let url = url.clone();
    // reqwest's own message repeats the URL we already print.
    let detail = crate::retry::cause_chain(e);
    if e.is_timeout() {
        FetchError::Timeout {
            method,
            url,
            timeout,
        }
    } else if e.is_redirect() {
        FetchError::Redirect {
            method,
            url,
            detail,
        }
    } else if e.is_connect() {
        FetchError::Connect {
            method,
            url,
            detail,
        }
    } else if e.is_body() || e.is_decode() {
        FetchError::Body {
            method,
            url,
            detail,
        }
    } else {
        FetchError::Request {
            method,
            url,
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn status_err(code: u16) -> FetchError {
        FetchError::Status {
            method: Method::GET,
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
        let post = FetchError::Status {
            method: Method::POST,
            url: Url::parse("https://api.example.org/search").unwrap(),
            status: StatusCode::UNAUTHORIZED,
            retry_after: None,
        };
        assert_eq!(
            post.to_string(),
            "POST https://api.example.org/search: server answered 401 Unauthorized"
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
            method: Method::GET,
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
