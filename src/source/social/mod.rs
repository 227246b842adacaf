//! Social network and forum API sources: what the six API kinds share.
//!
//! Each kind is one file here (`mastodon`, `reddit`, `bluesky`,
//! `hackernews`, `youtube`, `discourse`) with its config, its requests and
//! a pure `parse_payload(bytes, now)` (bytes → [`Payload`]: mentions with
//! their ordering keys, and the next page token). This module owns the rest,
//! written once:
//!
//! * **the walk** ([`poll_stream`]): one stream (a hashtag, a subreddit, a
//!   query) is read newest first, page after page, down to the stored
//!   position (the newest key seen), bounded by `max_pages`. A stream
//!   without a stored position is *backfilled*: read back to `backfill` ago
//!   (the first start of a source, and `veilleur backfill`). APIs that can
//!   page forwards from a position (Mastodon's `min_id`) are walked forwards
//!   instead, so a burst larger than `max_pages` is read over several polls
//!   rather than skipped.
//! * **partial pages**: when a page fails after others succeeded, what was
//!   read is kept ([`super::Poll::Partial`]) and the cursor records a *gap*
//!   (the failed page's token and the old position) that the next poll
//!   reads first: no duplicate, no hole.
//! * **secrets** ([`Secret`]): `*_env` / `*_file`, read at each poll, never
//!   inline in the config and never logged.
//! * the config keys every API kind takes (`url`, `backfill`, `max_pages`).
//!
//! robots.txt: these are documented JSON APIs governed by their terms of
//! use and rate limits, not pages crawled by a robot (RFC 9309 is about
//! crawlers), so their requests skip robots.txt. Politeness comes from the
//! shared client's per-host pacing, `Retry-After` on 429/503, and each
//! kind's default `interval` set from its documented rate limit.
//!
//! Invariants: parsing is pure and never panics on any input; a mention's
//! `published` is never later than `now`; keys grow with time within a
//! stream, so "newer than the stored position" is a comparison.

pub mod bluesky;
pub mod discourse;
pub mod hackernews;
pub mod mastodon;
pub mod reddit;
pub mod youtube;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use toml::Spanned;
use url::Url;

use super::http::{ACCEPT_JSON, Fetched, HttpClient, Request};
use super::{Cursor, Poll, SourceConfig, SourceError};
use crate::config::Parser;
use crate::mention::Mention;

/// Default `backfill`: how far back the first start of a source reads.
pub(crate) const DEFAULT_BACKFILL: Duration = Duration::from_secs(30 * 86_400);
/// Default `max_pages`: pages read per stream and poll (a backfill reads up
/// to [`BACKFILL_PAGES_FACTOR`] times more).
pub(crate) const DEFAULT_MAX_PAGES: usize = 10;
/// A backfill may read this many times `max_pages`.
pub(crate) const BACKFILL_PAGES_FACTOR: usize = 5;
/// Largest `max_pages` accepted: a page is a request to someone's API.
const MAX_MAX_PAGES: i64 = 1000;

/// Why an API payload could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not the JSON the API documents (cut short, an error
    /// page, another endpoint's shape).
    #[error("cannot parse the answer of {shown}: {detail}", shown = crate::notify::redact::for_log(.url))]
    Parse { url: String, detail: String },
    /// A secret the source needs cannot be read.
    #[error("source `{source_name}`: {detail}")]
    Secret { source_name: String, detail: String },
    /// The API refused our credentials (login, token).
    #[error("source `{source_name}`: authentication failed: {detail}")]
    Auth { source_name: String, detail: String },
    /// The daily quota (YouTube) is spent: nothing more until it resets.
    #[error(
        "source `{source_name}`: daily quota of {quota} units spent; polling resumes after the reset at {reset} (raise daily_quota if the project has more)"
    )]
    Quota {
        source_name: String,
        quota: u64,
        reset: DateTime<Utc>,
        /// From the check until the reset.
        wait: Duration,
    },
}

impl ApiError {
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::Parse { .. } => "parse",
            ApiError::Secret { .. } => "secret",
            ApiError::Auth { .. } => "auth",
            ApiError::Quota { .. } => "quota",
        }
    }

    /// A broken body is often a transient proxy or overload page; a
    /// missing secret, refused credentials or a spent quota stay so.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ApiError::Parse { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Quota { wait, .. } => Some(*wait),
            _ => None,
        }
    }

    pub(crate) fn parse(url: impl Into<String>, detail: impl std::fmt::Display) -> ApiError {
        ApiError::Parse {
            url: url.into(),
            detail: detail.to_string(),
        }
    }
}

/// A token and until when it is used, shared by a source's clones.
pub(crate) type TokenCache = Arc<std::sync::Mutex<Option<(String, DateTime<Utc>)>>>;

/// One parsed page of an API answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// The page's items, in the API's order. Their `source` is empty: the
    /// poll fills it.
    pub items: Vec<Item>,
    /// The token of the next (older) page, when the API says there is one.
    pub next: Option<String>,
}

/// A mention and where it stands in its stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub mention: Mention,
    /// Grows with time within a stream: a numeric id (Mastodon, Discourse)
    /// or a Unix time (seconds, or milliseconds for Bluesky).
    pub key: i64,
}

/// A secret named in the config by `*_env` and/or `*_file` (the variable
/// wins when both are set, as for channels).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secret {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
}

impl Secret {
    pub(crate) fn new(p: &Parser<'_>, env: Option<String>, file: Option<String>) -> Secret {
        Secret {
            env,
            file: file.map(|f| p.resolve(&f)),
        }
    }

    pub fn is_set(&self) -> bool {
        self.env.is_some() || self.file.is_some()
    }

    /// The secret, trimmed of a trailing newline; `Ok(None)` when none is
    /// configured. `what` names it in errors ("access token").
    pub(crate) fn read(&self, source: &str, what: &str) -> Result<Option<String>, ApiError> {
        let err = |detail: String| ApiError::Secret {
            source_name: source.to_string(),
            detail,
        };
        if let Some(var) = &self.env {
            return match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
                _ => Err(err(format!(
                    "environment variable {var} is not set (it should hold the {what})"
                ))),
            };
        }
        if let Some(path) = &self.file {
            return match std::fs::read_to_string(path) {
                Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
                Ok(_) => Err(err(format!("the {what} file {} is empty", path.display()))),
                Err(e) => Err(err(format!(
                    "cannot read the {what} file {}: {e}",
                    path.display()
                ))),
            };
        }
        Ok(None)
    }
}

/// The keys every API kind takes besides its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Base URL of the service; the API paths are appended to it.
    pub url: Url,
    /// How far back the first poll of a stream (no stored position) reads.
    pub backfill: Duration,
    /// Pages read per stream and poll.
    pub max_pages: usize,
}

impl ApiConfig {
    /// Validates the shared API keys: `url` (http or https, else
    /// `default_url`), `backfill` (a duration), `max_pages` (1 to 1000).
    pub(crate) fn parse(
        p: &mut Parser<'_>,
        name: &Spanned<String>,
        url: Option<&Spanned<String>>,
        default_url: Option<&str>,
        backfill: &Option<Spanned<String>>,
        max_pages: Option<&Spanned<i64>>,
    ) -> Option<ApiConfig> {
        let url = match (url, default_url) {
            (Some(u), _) => p.url(u, &["http", "https"])?,
            (None, Some(d)) => Url::parse(d).ok()?,
            (None, None) => {
                p.err(name, format!("source `{}` needs `url`", name.get_ref()));
                return None;
            }
        };
        let backfill = p.duration(backfill, DEFAULT_BACKFILL);
        let max_pages = match max_pages {
            None => DEFAULT_MAX_PAGES,
            Some(n) if (1..=MAX_MAX_PAGES).contains(n.get_ref()) => *n.get_ref() as usize,
            Some(n) => {
                p.err(
                    n,
                    format!("max_pages must be between 1 and {MAX_MAX_PAGES}"),
                );
                return None;
            }
        };
        Some(ApiConfig {
            url,
            backfill,
            max_pages,
        })
    }

    /// `url` with `path` appended (the base may itself have a path, as a
    /// proxy's does).
    pub(crate) fn endpoint(&self, path: &str) -> Url {
        let mut u = self.url.clone();
        let joined = format!(
            "{}/{}",
            u.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        u.set_path(&joined);
        u.set_query(None);
        u
    }
}

/// Checks a list of strings is not empty and has no blank entry.
/// A kind's required `query`: present and not blank (errors reported to
/// `p`), trimmed. `None` when it is missing; a blank one is reported and
/// kept, so the whole file fails with every error listed.
pub(crate) fn required_query(
    p: &mut Parser<'_>,
    name: &Spanned<String>,
    raw: &Option<Spanned<String>>,
) -> Option<String> {
    let query = p.required(raw, name, "source", "query")?;
    if query.get_ref().trim().is_empty() {
        p.err(query, "`query` must not be empty");
    }
    Some(query.get_ref().trim().to_string())
}

/// A kind's optional `query`: trimmed when given; a blank one is an error
/// (`hint` says what leaving it out does, when that helps).
pub(crate) fn optional_query(
    p: &mut Parser<'_>,
    raw: &Option<Spanned<String>>,
    hint: &str,
) -> Option<String> {
    let query = raw.as_ref()?;
    let text = query.get_ref().trim();
    if text.is_empty() {
        p.err(query, format!("`query` must not be empty{hint}"));
        return None;
    }
    Some(text.to_string())
}

pub(crate) fn non_blank_list(
    p: &mut Parser<'_>,
    v: &Option<Spanned<Vec<Spanned<String>>>>,
    what: &str,
) -> Vec<String> {
    let Some(list) = v else { return Vec::new() };
    if list.get_ref().is_empty() {
        p.err(
            list,
            format!("`{what}` needs at least one entry, or leave it out"),
        );
    }
    let mut out = Vec::new();
    for s in list.get_ref() {
        let t = s.get_ref().trim().trim_start_matches('#');
        if t.is_empty() {
            p.err(s, format!("`{what}` entries must not be empty"));
        } else {
            out.push(t.to_string());
        }
    }
    out
}

/// How a poll reads: the live schedule, or an explicit backfill.
#[derive(Clone)]
pub struct Walk {
    /// For a stream without a stored position: read back to this time.
    pub since: DateTime<Utc>,
    /// Pages per stream on a walk down to a stored position.
    pub max_pages: usize,
    /// Pages per stream on a backfill.
    pub backfill_pages: usize,
    /// Ignore stored positions: every stream is backfilled (`veilleur
    /// backfill`).
    pub from_scratch: bool,
    /// Called after each page with (pages, mentions) read so far.
    pub progress: Option<Arc<dyn Fn(usize, usize) + Send + Sync>>,
}

impl std::fmt::Debug for Walk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walk")
            .field("since", &self.since)
            .field("max_pages", &self.max_pages)
            .field("backfill_pages", &self.backfill_pages)
            .field("from_scratch", &self.from_scratch)
            .finish_non_exhaustive()
    }
}

impl Walk {
    /// The daemon's walk at `now` for `api`: a stream without a position is
    /// backfilled `api.backfill` deep.
    pub fn live(api: &ApiConfig, now: DateTime<Utc>) -> Walk {
        Walk {
            since: now - chrono::Duration::from_std(api.backfill).unwrap_or(chrono::Duration::MAX),
            max_pages: api.max_pages,
            backfill_pages: api.max_pages.saturating_mul(BACKFILL_PAGES_FACTOR),
            from_scratch: false,
            progress: None,
        }
    }
}

/// One stream of a kind: how to ask for a page and read it.
pub(crate) trait Stream: Sync {
    /// The request for the page `token` (`None`: the newest page). `floor`
    /// is the stored position, for APIs that filter on it server-side.
    /// `forward`: page upwards from `floor` (only when
    /// [`Stream::forward_page_size`] is some).
    fn request(
        &self,
        token: Option<&str>,
        floor: Option<i64>,
        forward: bool,
    ) -> Result<Request, ApiError>;

    /// Parses one page's body.
    fn parse(&self, url: &Url, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError>;

    /// Some(page size) when the API can page forwards from a position (the
    /// next page's token is then the newest key read).
    fn forward_page_size(&self) -> Option<usize> {
        None
    }
}

/// An unfinished walk, kept in the cursor until it is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Gap {
    /// The page to read next.
    token: String,
    /// Read down to this key (the position before the walk), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    floor: Option<i64>,
    /// Read back to this time (a backfill), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<DateTime<Utc>>,
}

/// The position keys of a stream in [`Cursor::Positions`].
fn gap_key(stream: &str) -> String {
    format!("{stream}#gap")
}

/// The positions of `cursor` (empty for any other form).
pub(crate) fn positions(cursor: &Cursor) -> BTreeMap<String, String> {
    match cursor {
        Cursor::Positions { positions } => positions.clone(),
        Cursor::Start | Cursor::Http(_) => BTreeMap::new(),
    }
}

/// How a walk ended.
enum End {
    /// Reached the floor, the `since` bound, or the last page.
    Done,
    /// `max_pages` read and more remain.
    Capped(Option<String>),
    /// A page failed; `token` is the page to ask again.
    Failed {
        token: Option<String>,
        error: SourceError,
    },
}

struct Walked {
    mentions: Vec<Mention>,
    /// Newest key read.
    top: Option<i64>,
    end: End,
}

/// Reads `stream` from page `start` down to `floor` / `since`, at most
/// `pages` pages. Items older than the bound are dropped.
#[allow(clippy::too_many_arguments)]
async fn walk_down(
    src: &SourceConfig,
    client: &HttpClient,
    stream: &dyn Stream,
    start: Option<String>,
    floor: Option<i64>,
    since: Option<DateTime<Utc>>,
    pages: usize,
    walk: &Walk,
    read_so_far: &mut (usize, usize),
    now: DateTime<Utc>,
) -> Walked {
    let mut out = Walked {
        mentions: Vec::new(),
        top: None,
        end: End::Done,
    };
    let mut token = start;
    for _ in 0..pages {
        let page = match fetch_page(src, client, stream, token.as_deref(), floor, false, now).await
        {
            Ok(p) => p,
            Err(error) => {
                out.end = End::Failed { token, error };
                return out;
            }
        };
        let mut reached = page.items.is_empty();
        let before = out.mentions.len();
        for item in page.items {
            let old = floor.is_some_and(|f| item.key < f)
                || since.is_some_and(|s| item.mention.published < s);
            if old {
                reached = true;
                continue;
            }
            out.top = Some(out.top.map_or(item.key, |t| t.max(item.key)));
            out.mentions.push(stamp(src, item.mention, now));
        }
        read_so_far.0 += 1;
        read_so_far.1 += out.mentions.len() - before;
        if let Some(progress) = &walk.progress {
            progress(read_so_far.0, read_so_far.1);
        }
        match page.next {
            Some(next) if !reached => token = Some(next),
            _ => return out,
        }
    }
    out.end = End::Capped(token);
    out
}

/// Reads `stream` forwards from `floor` (exclusive), at most `pages` pages.
async fn walk_up(
    src: &SourceConfig,
    client: &HttpClient,
    stream: &dyn Stream,
    size: usize,
    floor: i64,
    pages: usize,
    now: DateTime<Utc>,
) -> Walked {
    let mut out = Walked {
        mentions: Vec::new(),
        top: None,
        end: End::Done,
    };
    let mut from = floor;
    for _ in 0..pages {
        let token = from.to_string();
        let page = match fetch_page(src, client, stream, Some(&token), Some(from), true, now).await
        {
            Ok(p) => p,
            Err(error) => {
                out.end = End::Failed {
                    token: Some(token),
                    error,
                };
                return out;
            }
        };
        let n = page.items.len();
        for item in page.items {
            if item.key <= floor {
                continue;
            }
            from = from.max(item.key);
            out.top = Some(from);
            out.mentions.push(stamp(src, item.mention, now));
        }
        if n < size {
            return out;
        }
    }
    out.end = End::Capped(None);
    out
}

/// Sets the source name and clamps the publication time.
fn stamp(src: &SourceConfig, mut m: Mention, now: DateTime<Utc>) -> Mention {
    m.source = src.name.clone();
    m.published = m.published.min(now);
    m
}

/// One page: the request, the exchange, the parse (on the blocking pool:
/// big JSON is CPU work).
async fn fetch_page(
    src: &SourceConfig,
    client: &HttpClient,
    stream: &dyn Stream,
    token: Option<&str>,
    floor: Option<i64>,
    forward: bool,
    now: DateTime<Utc>,
) -> Result<Payload, SourceError> {
    let req = stream
        .request(token, floor, forward)
        .map_err(SourceError::Api)?
        .accept(ACCEPT_JSON)
        .robots(false)
        .timeout(src.timeout)
        .max_body_bytes(src.max_body_bytes);
    let (bytes, url) = send(client, req).await?;
    Ok(stream.parse(&url, &bytes, now)?)
}

/// Sends `req`; the body (a 304 counts as empty) and the final URL.
pub(crate) async fn send(client: &HttpClient, req: Request) -> Result<(Vec<u8>, Url), SourceError> {
    let url = req.url.clone();
    match client.send(req).await? {
        Fetched::Body {
            bytes, final_url, ..
        } => Ok((bytes, final_url)),
        Fetched::NotModified => Ok((b"{}".to_vec(), url)),
    }
}

/// What one stream's poll produced.
pub(crate) struct StreamPoll {
    pub mentions: Vec<Mention>,
    /// Set when a page failed: the positions were moved past what was read
    /// and a gap records what remains.
    pub error: Option<SourceError>,
}

/// Polls one stream, moving its entries of `positions`: the stored
/// position `name` (the newest key read) and its gap `name#gap`, if a walk
/// was left unfinished. See the module doc.
pub(crate) async fn poll_stream(
    src: &SourceConfig,
    client: &HttpClient,
    stream: &dyn Stream,
    name: &str,
    positions: &mut BTreeMap<String, String>,
    walk: &Walk,
    now: DateTime<Utc>,
) -> StreamPoll {
    let mut read = (0, 0);
    let mut mentions = Vec::new();
    let stored: Option<i64> = if walk.from_scratch {
        None
    } else {
        positions.get(name).and_then(|p| p.parse().ok())
    };
    let set_top = |positions: &mut BTreeMap<String, String>, top: Option<i64>| {
        if let Some(t) = top {
            let cur = positions.get(name).and_then(|p| p.parse::<i64>().ok());
            if cur.is_none_or(|c| t > c) {
                positions.insert(name.to_string(), t.to_string());
            }
        }
    };

    // First the gap an earlier poll left.
    let gap: Option<Gap> = (!walk.from_scratch)
        .then(|| positions.get(&gap_key(name)))
        .flatten()
        .and_then(|g| serde_json::from_str(g).ok());
    if let Some(gap) = gap {
        let w = walk_down(
            src,
            client,
            stream,
            Some(gap.token.clone()),
            gap.floor,
            gap.since,
            walk.max_pages,
            walk,
            &mut read,
            now,
        )
        .await;
        mentions.extend(w.mentions);
        match w.end {
            End::Done | End::Capped(None) => {
                positions.remove(&gap_key(name));
            }
            End::Capped(Some(token)) => {
                // Still behind: the rest of the gap waits for the next poll.
                let gap = Gap { token, ..gap };
                positions.insert(gap_key(name), json(&gap));
                return StreamPoll {
                    mentions,
                    error: None,
                };
            }
            End::Failed { token, error } => {
                let gap = Gap {
                    token: token.unwrap_or(gap.token),
                    ..gap
                };
                positions.insert(gap_key(name), json(&gap));
                return StreamPoll {
                    mentions,
                    error: Some(error),
                };
            }
        }
    }

    let w = match (stored, stream.forward_page_size()) {
        (Some(floor), Some(size)) => {
            walk_up(src, client, stream, size, floor, walk.max_pages, now).await
        }
        (Some(floor), None) => {
            walk_down(
                src,
                client,
                stream,
                None,
                Some(floor),
                None,
                walk.max_pages,
                walk,
                &mut read,
                now,
            )
            .await
        }
        (None, _) => {
            walk_down(
                src,
                client,
                stream,
                None,
                None,
                Some(walk.since),
                walk.backfill_pages,
                walk,
                &mut read,
                now,
            )
            .await
        }
    };
    mentions.extend(w.mentions);
    set_top(positions, w.top);
    let forward = stored.is_some() && stream.forward_page_size().is_some();
    // Forwards, the new position is exactly where to resume; downwards,
    // what lies between the page not read and the old position is a gap
    // the next poll reads first.
    let mut gap_from = |token: Option<String>| {
        if let (false, Some(token)) = (forward, token) {
            let gap = Gap {
                token,
                floor: stored,
                since: stored.is_none().then_some(walk.since),
            };
            positions.insert(gap_key(name), json(&gap));
        }
    };
    let error = match w.end {
        End::Done => None,
        End::Capped(token) => {
            tracing::debug!(source = %src.name, stream = name, "max_pages read: the rest waits for the next poll");
            gap_from(token);
            None
        }
        End::Failed { token, error } => {
            gap_from(token);
            Some(error)
        }
    };
    StreamPoll { mentions, error }
}

fn json(g: &Gap) -> String {
    // A struct of strings and integers always serialises.
    serde_json::to_string(g).unwrap_or_default()
}

/// Polls every stream in order and folds the outcome into a [`Poll`]: the
/// first failure stops the poll; what was read before it is kept.
pub(crate) async fn poll_streams<'a>(
    src: &SourceConfig,
    client: &HttpClient,
    streams: &[(String, Box<dyn Stream + Send + 'a>)],
    cursor: &Cursor,
    walk: &Walk,
    now: DateTime<Utc>,
) -> Result<Poll, SourceError> {
    let before = positions(cursor);
    let mut positions = before.clone();
    let mut mentions = Vec::new();
    for (name, stream) in streams {
        let got = poll_stream(
            src,
            client,
            stream.as_ref(),
            name,
            &mut positions,
            walk,
            now,
        )
        .await;
        mentions.extend(got.mentions);
        if let Some(error) = got.error {
            if mentions.is_empty() && positions == before {
                return Err(error);
            }
            return Ok(Poll::Partial {
                mentions,
                cursor: Cursor::Positions { positions },
                error: super::PollError::new(error),
            });
        }
    }
    Ok(Poll::Items {
        mentions,
        cursor: Cursor::Positions { positions },
    })
}

/// RFC 3339 time, or `None`.
pub(crate) fn rfc3339(s: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s?.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The items of a payload's array that have the expected shape: one odd item
/// is skipped, it does not cost the page.
pub(crate) fn lenient<T: serde::de::DeserializeOwned>(
    values: Vec<serde_json::Value>,
) -> impl Iterator<Item = T> {
    values
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
}

/// Deserializes a JSON payload, describing a failure with its place.
pub(crate) fn from_json<'a, T: Deserialize<'a>>(url: &str, bytes: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let what = if bytes.trim_ascii_start().starts_with(b"<") {
            "an HTML or XML page, not the API's JSON (is `url` the API's base?)".to_string()
        } else {
            e.to_string()
        };
        ApiError::parse(url, what)
    })
}
