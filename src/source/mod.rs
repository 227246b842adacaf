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
pub mod social;

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
pub use social::{ApiError, Walk};

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
    /// Mastodon hashtag timelines and status search.
    Mastodon(social::mastodon::MastodonConfig),
    /// Reddit search, site-wide or in subreddits.
    Reddit(social::reddit::RedditConfig),
    /// Bluesky post search.
    Bluesky(social::bluesky::BlueskyConfig),
    /// Hacker News stories and comments (Algolia search).
    Hackernews(social::hackernews::HackernewsConfig),
    /// YouTube videos and their comments (Data API v3).
    Youtube(social::youtube::YoutubeConfig),
    /// A Discourse forum's search or latest posts.
    Discourse(social::discourse::DiscourseConfig),
}

impl SourceKind {
    /// The kinds, as `kind = "…"` names them.
    pub(crate) const NAMES: &[&str] = &[
        "feed",
        "html",
        "mastodon",
        "reddit",
        "bluesky",
        "hackernews",
        "youtube",
        "discourse",
    ];

    /// The `kind` value.
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Feed(_) => "feed",
            SourceKind::Html(_) => "html",
            SourceKind::Mastodon(_) => "mastodon",
            SourceKind::Reddit(_) => "reddit",
            SourceKind::Bluesky(_) => "bluesky",
            SourceKind::Hackernews(_) => "hackernews",
            SourceKind::Youtube(_) => "youtube",
            SourceKind::Discourse(_) => "discourse",
        }
    }

    /// The `interval` of a source of kind `kind` that sets none: the API's
    /// documented rate limit with room to spare (see each kind's file),
    /// else `fallback`.
    pub(crate) fn default_interval(kind: &str, fallback: Duration) -> Duration {
        match kind {
            "mastodon" => social::mastodon::DEFAULT_INTERVAL,
            "reddit" => social::reddit::DEFAULT_INTERVAL,
            "bluesky" => social::bluesky::DEFAULT_INTERVAL,
            "hackernews" => social::hackernews::DEFAULT_INTERVAL,
            "youtube" => social::youtube::DEFAULT_INTERVAL,
            "discourse" => social::discourse::DEFAULT_INTERVAL,
            _ => fallback,
        }
    }

    /// The API settings of an API kind (`None` for feeds and pages).
    pub fn api(&self) -> Option<&social::ApiConfig> {
        match self {
            SourceKind::Feed(_) | SourceKind::Html(_) => None,
            SourceKind::Mastodon(c) => Some(&c.api),
            SourceKind::Reddit(c) => Some(&c.api),
            SourceKind::Bluesky(c) => Some(&c.api),
            SourceKind::Hackernews(c) => Some(&c.api),
            SourceKind::Youtube(c) => Some(&c.api),
            SourceKind::Discourse(c) => Some(&c.api),
        }
    }

    /// The URL the source fetches first (its host paces the first polls).
    pub fn url(&self) -> &url::Url {
        match self {
            SourceKind::Feed(f) => &f.url,
            SourceKind::Html(h) => &h.url,
            SourceKind::Mastodon(c) => &c.api.url,
            SourceKind::Reddit(c) => &c.api.url,
            SourceKind::Bluesky(c) => &c.api.url,
            SourceKind::Hackernews(c) => &c.api.url,
            SourceKind::Youtube(c) => &c.api.url,
            SourceKind::Discourse(c) => &c.api.url,
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
            "mastodon" => p
                .table(own, keys)
                .and_then(|raw| social::mastodon::MastodonConfig::parse(p, name, raw))
                .map(SourceKind::Mastodon),
            "reddit" => p
                .table(own, keys)
                .and_then(|raw| social::reddit::RedditConfig::parse(p, name, raw))
                .map(SourceKind::Reddit),
            "bluesky" => p
                .table(own, keys)
                .and_then(|raw| social::bluesky::BlueskyConfig::parse(p, name, raw))
                .map(SourceKind::Bluesky),
            "hackernews" => p
                .table(own, keys)
                .and_then(|raw| social::hackernews::HackernewsConfig::parse(p, name, raw))
                .map(SourceKind::Hackernews),
            "youtube" => p
                .table(own, keys)
                .and_then(|raw| social::youtube::YoutubeConfig::parse(p, name, raw))
                .map(SourceKind::Youtube),
            "discourse" => p
                .table(own, keys)
                .and_then(|raw| social::discourse::DiscourseConfig::parse(p, name, raw))
                .map(SourceKind::Discourse),
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
    /// Some pages were read, then one failed: the mentions read are kept
    /// with a cursor that resumes right after them; the poll loop hands
    /// them on, then treats the poll as failed (backoff, `Retry-After`).
    Partial {
        mentions: Vec<Mention>,
        cursor: Cursor,
        error: PollError,
    },
    /// Nothing changed since the cursor (an HTTP 304): the cursor stays.
    NotModified,
    /// The source's current items (possibly none, possibly all already
    /// seen) and where to resume next time.
    Items {
        mentions: Vec<Mention>,
        cursor: Cursor,
    },
}

/// The error of a [`Poll::Partial`]: shared, so the poll can be cloned;
/// equal when the messages are.
#[derive(Debug, Clone)]
pub struct PollError(pub std::sync::Arc<SourceError>);

impl PollError {
    pub(crate) fn new(e: SourceError) -> PollError {
        PollError(std::sync::Arc::new(e))
    }
}

impl PartialEq for PollError {
    fn eq(&self, other: &PollError) -> bool {
        self.0.to_string() == other.0.to_string()
    }
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
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl SourceError {
    /// A short fixed label for metrics and logs (`timeout`, `status`,
    /// `too_large`, `parse`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            SourceError::Fetch(e) => e.reason(),
            SourceError::Feed(e) => e.reason(),
            SourceError::Html(e) => e.reason(),
            SourceError::Api(e) => e.reason(),
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
            SourceError::Api(e) => e.is_retryable(),
        }
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SourceError::Fetch(e) => e.retry_after(),
            SourceError::Feed(_) | SourceError::Html(_) => None,
            SourceError::Api(e) => e.retry_after(),
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
    poll_with(cfg, client, cursor, None, now).await
}

/// [`poll()`] with an explicit [`Walk`] for the API kinds (`veilleur
/// backfill` reads from scratch with its own bounds; `None`: the daemon's
/// walk, [`Walk::live`]). Feeds ignore it.
pub async fn poll_with(
    cfg: &SourceConfig,
    client: &HttpClient,
    cursor: &Cursor,
    walk: Option<&Walk>,
    now: DateTime<Utc>,
) -> Result<Poll, SourceError> {
    let live = |api: &social::ApiConfig| walk.cloned().unwrap_or_else(|| Walk::live(api, now));
    match &cfg.kind {
        SourceKind::Feed(feed) => feed::poll(cfg, feed, client, cursor, now).await,
        SourceKind::Html(html) => html::poll(cfg, html, client, cursor, now).await,
        SourceKind::Mastodon(c) => c.poll(cfg, client, cursor, &live(&c.api), now).await,
        SourceKind::Reddit(c) => c.poll(cfg, client, cursor, &live(&c.api), now).await,
        SourceKind::Bluesky(c) => c.poll(cfg, client, cursor, &live(&c.api), now).await,
        SourceKind::Hackernews(c) => c.poll(cfg, client, cursor, &live(&c.api), now).await,
        SourceKind::Youtube(c) => c.poll(cfg, client, cursor, &live(&c.api), now).await,
        SourceKind::Discourse(c) => c.poll(cfg, client, cursor, &live(&c.api), now).await,
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
