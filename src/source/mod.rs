//! Sources: fetch and parse, nothing else.
//!
//! The seam: a source kind is one file here (`feed.rs`, `html/`; next `mastodon.rs`,
//! `reddit.rs`, …), one [`SourceKind`] variant holding its own config, and
//! one arm in each of `SourceKind::parse` (its config keys) and [`poll()`]
//! (one fetch). Every kind fetches through the shared [`HttpClient`]
//! (`http/`), which owns politeness and failure classification, and resumes
//! from its own [`Cursor`] (`cursor.rs`), which the store keeps as opaque
//! bytes. The poll loop (`poll.rs`) is the same for every kind: first-poll
//! jitter, backoff, `Retry-After`, metrics, batches to the pipeline.
//!
//! Deliberately not here: enrichment, deduplication against what was
//! already stored, the index. A source never calls a later stage.
//!
//! Invariants: a poll produces mentions whose `published` is never later than
//! the `now` passed in; a poll that fails leaves the cursor where it was.

pub mod cursor;
pub mod dates;
pub mod feed;
pub mod html;
pub mod http;
pub mod poll;

use std::time::Duration;

use chrono::{DateTime, Utc};
use toml::Spanned;
use toml::de::DeTable;

use crate::config::Parser;
use crate::mention::Mention;

pub use cursor::Cursor;
pub use feed::{FeedConfig, FeedError};
pub use html::{HtmlConfig, HtmlError};
pub use http::{FetchError, Fetched, HttpClient, Request, Validators};
pub use poll::{Batch, MIN_DELAY, next_delay};

/// One `[[source]]`: the keys every kind shares, and its kind's own.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Unique among sources; the `source` of its mentions and metric labels.
    pub name: String,
    pub kind: SourceKind,
    /// Time between polls (spread by jitter, stretched by backoff).
    pub interval: Duration,
    /// Total time allowed for one request (connect, headers and body).
    pub timeout: Duration,
    /// Larger (decompressed) response bodies are refused.
    pub max_body_bytes: u64,
}

/// A source's kind and its own config keys.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// RSS 0.9x/1.0/2.0, Atom, JSON Feed.
    Feed(FeedConfig),
    /// A web page or forum read with CSS selectors or a preset.
    Html(HtmlConfig),
}

impl SourceKind {
    /// The kinds, as `kind = "…"` names them.
    pub(crate) const NAMES: &[&str] = &["feed", "html"];

    /// The `kind` value.
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Feed(_) => "feed",
            SourceKind::Html(_) => "html",
        }
    }

    /// The URL the source fetches first (its host paces the first polls).
    pub fn url(&self) -> &url::Url {
        match self {
            SourceKind::Feed(f) => &f.url,
            SourceKind::Html(h) => &h.url,
        }
    }

    /// Parses a kind's own keys (`own`: the table without the keys every
    /// source shares, `common`), reporting problems to `p`. `name` is the
    /// source's name, for messages.
    pub(crate) fn parse(
        p: &mut Parser<'_>,
        name: &Spanned<String>,
        kind: &Spanned<String>,
        own: Spanned<DeTable<'_>>,
        common: &[&str],
    ) -> Option<SourceKind> {
        let keys = Some(("source", kind.get_ref().as_str(), common));
        match kind.get_ref().as_str() {
            "feed" => p
                .table(own, keys)
                .and_then(|raw| FeedConfig::parse(p, name, raw))
                .map(SourceKind::Feed),
            "html" => p
                .table(own, keys)
                .and_then(|raw| HtmlConfig::parse(p, name, raw))
                .map(SourceKind::Html),
            other => {
                p.err(
                    kind,
                    format!(
                        "unknown source kind `{other}`: expected {}",
                        SourceKind::NAMES.join(", ")
                    ),
                );
                None
            }
        }
    }
}

/// What one poll of a source produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll {
    /// Nothing changed since the cursor (an HTTP 304): the cursor stays.
    NotModified,
    /// The source's current items (possibly none, possibly all already
    /// seen) and where to resume next time.
    Items {
        mentions: Vec<Mention>,
        cursor: Cursor,
    },
}

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Html(#[from] HtmlError),
}

impl SourceError {
    /// A short fixed label for metrics and logs (`timeout`, `status`,
    /// `too_large`, `parse`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            SourceError::Fetch(e) => e.reason(),
            SourceError::Feed(e) => e.reason(),
            SourceError::Html(e) => e.reason(),
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
            SourceError::Html(e) => e.is_retryable(),
        }
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SourceError::Fetch(e) => e.retry_after(),
            SourceError::Feed(_) | SourceError::Html(_) => None,
        }
    }
}

/// Fetches and parses one source once, resuming from `cursor`. `now` is the
/// fetch time: the fallback publication date and the upper bound of every
/// mention's `published`.
pub async fn poll(
    cfg: &SourceConfig,
    client: &HttpClient,
    cursor: &Cursor,
    now: DateTime<Utc>,
) -> Result<Poll, SourceError> {
    match &cfg.kind {
        SourceKind::Feed(feed) => feed::poll(cfg, feed, client, cursor, now).await,
        SourceKind::Html(html) => html::poll(cfg, html, client, cursor, now).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let too_large: SourceError = FetchError::TooLarge {
            method: reqwest::Method::GET,
            url,
            limit: 10,
        }
        .into();
        assert_eq!(too_large.reason(), "too_large");
        assert!(!too_large.is_retryable());
        assert!(
            too_large
                .to_string()
                .starts_with("GET https://example.org/feed: body larger")
        );
    }
}
