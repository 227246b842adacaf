//! `kind = "youtube"`: YouTube Data API v3. Videos from `GET
//! /youtube/v3/search` (`type=video`, `order=date`, 50 a page, `q` and/or
//! `channelId`), then the latest comment threads of each video found, `GET
//! /youtube/v3/commentThreads` (<https://developers.google.com/youtube/v3/docs/search/list>,
//! <https://developers.google.com/youtube/v3/docs/commentThreads/list>).
//!
//! The key comes from `api_key_env` (or `_file`) and is sent in the
//! `X-Goog-Api-Key` header, never in the URL, so it cannot end up in a log.
//!
//! Quota: the API gives a project 10,000 units a day, and a search costs 100
//! units, a comment-thread page 1
//! (<https://developers.google.com/youtube/v3/determine_quota_cost>). The
//! source counts what it spends against `daily_quota` (default 10,000) and,
//! when the next request would overspend, stops until the reset at midnight
//! Pacific time (taken as UTC−8, so an hour late in summer): the poll fails
//! with reason `quota` (a log line and `veilleur_fetch_errors_by_reason_total`)
//! and the next one waits for the reset. The count lives in memory: a
//! restart starts it again at zero. The default interval of 30 minutes
//! spends about 5,000 units a day with comments on ten new videos a poll.
//!
//! One stream; its position is the newest `publishedAt` read (seconds),
//! sent back as `publishedAfter`. Comments are read for the videos found by
//! this poll only (at most `comment_videos`, default 10).
//!
//! Mapping: a video's title and description (HTML entities decoded),
//! channel title as author, `https://www.youtube.com/watch?v=…`; a comment's
//! `textOriginal`, author display name, `…watch?v=…&lc=<comment id>`;
//! publication = `publishedAt`. Reach (subscribers) would cost another call
//! per channel: left unknown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, SecondsFormat, Utc};
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use toml::Spanned;
use tracing::{debug, warn};
use url::Url;

use super::{ApiConfig, ApiError, Item, Payload, Secret, Stream, Walk, from_json, rfc3339};
use crate::config::Parser;
use crate::mention::{Mention, id_for};
use crate::normalize::html_to_text;
use crate::source::http::{ACCEPT_JSON, FetchError, HttpClient, Request};
use crate::source::{Cursor, Poll, SourceConfig, SourceError};

pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(1800);
const DEFAULT_URL: &str = "https://www.googleapis.com";
/// Units a day (the API's default allocation).
pub(crate) const DEFAULT_DAILY_QUOTA: u64 = 10_000;
/// Cost of one `search.list` call.
pub(crate) const SEARCH_COST: u64 = 100;
/// Cost of one `commentThreads.list` call.
pub(crate) const COMMENTS_COST: u64 = 1;
const DEFAULT_COMMENT_VIDEOS: usize = 10;
const WATCH: &str = "https://www.youtube.com/watch";

#[derive(Debug, Clone)]
pub struct YoutubeConfig {
    pub api: ApiConfig,
    pub query: Option<String>,
    /// A channel id (`UC…`) to restrict the search to.
    pub channel: Option<String>,
    pub api_key: Secret,
    pub daily_quota: u64,
    /// Videos per poll whose comments are read (0: none).
    pub comment_videos: usize,
    /// (Pacific day, units spent that day).
    spent: Arc<Mutex<(NaiveDate, u64)>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawYoutube {
    url: Option<Spanned<String>>,
    query: Option<Spanned<String>>,
    channel: Option<Spanned<String>>,
    api_key_env: Option<String>,
    api_key_file: Option<String>,
    daily_quota: Option<Spanned<i64>>,
    comment_videos: Option<Spanned<i64>>,
    backfill: Option<Spanned<String>>,
    max_pages: Option<Spanned<i64>>,
}

impl YoutubeConfig {
    pub(crate) fn parse(
        p: &mut Parser<'_>,
        name: &Spanned<String>,
        raw: RawYoutube,
    ) -> Option<YoutubeConfig> {
        let api = ApiConfig::parse(
            p,
            name,
            raw.url.as_ref(),
            Some(DEFAULT_URL),
            &raw.backfill,
            raw.max_pages.as_ref(),
        );
        let api_key = Secret::new(p, raw.api_key_env, raw.api_key_file);
        if !api_key.is_set() {
            p.err(
                name,
                format!(
                    "source `{}` of kind `youtube` needs api_key_env or api_key_file",
                    name.get_ref()
                ),
            );
        }
        if raw.query.is_none() && raw.channel.is_none() {
            p.err(
                name,
                format!(
                    "source `{}` of kind `youtube` needs `query`, `channel` or both",
                    name.get_ref()
                ),
            );
        }
        let daily_quota = match &raw.daily_quota {
            None => Some(DEFAULT_DAILY_QUOTA),
            Some(q) if *q.get_ref() >= SEARCH_COST as i64 => Some(*q.get_ref() as u64),
            Some(q) => {
                p.err(
                    q,
                    format!("daily_quota must be at least {SEARCH_COST} units (one search)"),
                );
                None
            }
        };
        let comment_videos = match &raw.comment_videos {
            None => Some(DEFAULT_COMMENT_VIDEOS),
            Some(n) if (0..=50).contains(n.get_ref()) => Some(*n.get_ref() as usize),
            Some(n) => {
                p.err(n, "comment_videos must be between 0 and 50");
                None
            }
        };
        let text = |v: &Option<Spanned<String>>| {
            v.as_ref()
                .map(|s| s.get_ref().trim().to_string())
                .filter(|s| !s.is_empty())
        };
        if !api_key.is_set() || (raw.query.is_none() && raw.channel.is_none()) {
            return None;
        }
        Some(YoutubeConfig {
            api: api?,
            query: text(&raw.query),
            channel: text(&raw.channel),
            api_key,
            daily_quota: daily_quota?,
            comment_videos: comment_videos?,
            spent: Arc::new(Mutex::new((NaiveDate::MIN, 0))),
        })
    }

    /// Spends `cost` units at `now`, or says when the quota resets.
    fn charge(&self, src: &str, cost: u64, now: DateTime<Utc>) -> Result<(), ApiError> {
        let pacific = FixedOffset::west_opt(8 * 3600).unwrap_or_else(|| Utc.fix());
        let day = now.with_timezone(&pacific).date_naive();
        let mut spent = self
            .spent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if spent.0 != day {
            *spent = (day, 0);
        }
        if spent.1 + cost > self.daily_quota {
            let reset = day
                .succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(|t| t.and_local_timezone(pacific).single())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(now + chrono::Duration::days(1));
            return Err(ApiError::Quota {
                source_name: src.to_string(),
                quota: self.daily_quota,
                reset,
                wait: (reset - now).to_std().unwrap_or(Duration::from_secs(60)),
            });
        }
        spent.1 += cost;
        Ok(())
    }

    pub(crate) async fn poll(
        &self,
        src: &SourceConfig,
        client: &HttpClient,
        cursor: &Cursor,
        walk: &Walk,
        now: DateTime<Utc>,
    ) -> Result<Poll, SourceError> {
        let key = self.api_key.read(&src.name, "API key")?.unwrap_or_default();
        let key = HeaderValue::from_str(&key).map_err(|_| ApiError::Secret {
            source_name: src.name.clone(),
            detail: "the API key holds characters a header cannot carry".into(),
        })?;
        let streams: Vec<(String, Box<dyn Stream + Send + '_>)> = vec![(
            String::new(),
            Box::new(Search {
                cfg: self,
                source: src.name.clone(),
                url: self.api.endpoint("youtube/v3/search"),
                key: key.clone(),
                now,
            }),
        )];
        let mut poll = super::poll_streams(src, client, &streams, cursor, walk, now).await?;
        if let Poll::Items { mentions, .. } | Poll::Partial { mentions, .. } = &mut poll {
            let videos: Vec<String> = mentions
                .iter()
                .filter_map(|m| video_id(&m.url))
                .take(self.comment_videos)
                .collect();
            for v in videos {
                match self.comments(src, client, &key, &v, now).await {
                    Ok(more) => mentions.extend(more),
                    Err(e) => {
                        warn!(source = %src.name, error = %e, "comments not read");
                        break;
                    }
                }
            }
        }
        if let Poll::Partial { error, .. } = &poll
            && let SourceError::Api(ApiError::Quota { .. }) = error.0.as_ref()
        {
            debug!(source = %src.name, "quota spent mid-poll; what was read is kept");
        }
        Ok(poll)
    }

    /// The newest comment threads of video `id` (one page).
    async fn comments(
        &self,
        src: &SourceConfig,
        client: &HttpClient,
        key: &HeaderValue,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Mention>, SourceError> {
        self.charge(&src.name, COMMENTS_COST, now)?;
        let mut url = self.api.endpoint("youtube/v3/commentThreads");
        url.query_pairs_mut()
            .append_pair("part", "snippet")
            .append_pair("videoId", id)
            .append_pair("order", "time")
            .append_pair("maxResults", "100")
            .append_pair("textFormat", "plainText");
        let req = Request::get(url)
            .header(HeaderName::from_static("x-goog-api-key"), key.clone())
            .accept(ACCEPT_JSON)
            .robots(false)
            .timeout(src.timeout)
            .max_body_bytes(src.max_body_bytes);
        match super::send(client, req).await {
            Ok((bytes, url)) => {
                let p = parse_comments(url.as_str(), &bytes, now)?;
                Ok(p.items
                    .into_iter()
                    .map(|i| super::stamp(src, i.mention, now))
                    .collect())
            }
            // Comments turned off on the video: nothing to read.
            Err(SourceError::Fetch(FetchError::Status { status, .. })) if status == 403 => {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }
}

/// The `v` of a watch URL.
fn video_id(url: &str) -> Option<String> {
    let u = Url::parse(url).ok()?;
    if u.query_pairs().any(|(k, _)| k == "lc") {
        return None;
    }
    u.query_pairs()
        .find(|(k, _)| k == "v")
        .map(|(_, v)| v.into_owned())
}

struct Search<'a> {
    cfg: &'a YoutubeConfig,
    source: String,
    url: Url,
    key: HeaderValue,
    now: DateTime<Utc>,
}

impl Stream for Search<'_> {
    fn request(
        &self,
        token: Option<&str>,
        floor: Option<i64>,
        _forward: bool,
    ) -> Result<Request, ApiError> {
        self.cfg.charge(&self.source, SEARCH_COST, self.now)?;
        let mut url = self.url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("part", "snippet")
                .append_pair("type", "video")
                .append_pair("order", "date")
                .append_pair("maxResults", "50");
            if let Some(query) = &self.cfg.query {
                q.append_pair("q", query);
            }
            if let Some(c) = &self.cfg.channel {
                q.append_pair("channelId", c);
            }
            if let Some(after) = floor.and_then(|f| DateTime::from_timestamp(f, 0)) {
                q.append_pair(
                    "publishedAfter",
                    &after.to_rfc3339_opts(SecondsFormat::Secs, true),
                );
            }
            if let Some(t) = token {
                q.append_pair("pageToken", t);
            }
        }
        Ok(Request::get(url).header(HeaderName::from_static("x-goog-api-key"), self.key.clone()))
    }

    fn parse(&self, url: &Url, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
        parse_search(url.as_str(), bytes, now)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListBody {
    #[serde(default)]
    items: Vec<serde_json::Value>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchResult {
    id: SearchId,
    snippet: VideoSnippet,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchId {
    video_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VideoSnippet {
    published_at: Option<String>,
    title: Option<String>,
    description: Option<String>,
    channel_title: Option<String>,
}

/// Parses a `search.list` answer (videos) or a `commentThreads.list`
/// answer, told apart by their `kind`, into mentions keyed by
/// `publishedAt` (seconds); `next` is `nextPageToken`.
pub fn parse_payload(bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
    let url = "youtube payload";
    #[derive(Deserialize)]
    struct Kind {
        kind: Option<String>,
    }
    let kind: Kind = from_json(url, bytes)?;
    match kind.kind.as_deref() {
        Some("youtube#commentThreadListResponse") => parse_comments(url, bytes, now),
        _ => parse_search(url, bytes, now),
    }
}

fn parse_search(url: &str, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
    let body: ListBody = from_json(url, bytes)?;
    let mut items = Vec::with_capacity(body.items.len());
    for r in super::lenient::<SearchResult>(body.items) {
        let Some(id) = r.id.video_id.filter(|i| !i.is_empty()) else {
            continue;
        };
        let Some(at) = rfc3339(r.snippet.published_at.as_deref()) else {
            continue;
        };
        let Ok(mut link) = Url::parse(WATCH) else {
            continue;
        };
        link.query_pairs_mut().append_pair("v", &id);
        let url = String::from(link);
        let title = html_to_text(r.snippet.title.as_deref().unwrap_or_default());
        let text = html_to_text(r.snippet.description.as_deref().unwrap_or_default());
        items.push(Item {
            mention: Mention {
                id: id_for(&url, "", ""),
                source: String::new(),
                url,
                title,
                text,
                author: html_to_text(r.snippet.channel_title.as_deref().unwrap_or_default()),
                author_followers: None,
                published: at.min(now),
                lang: None,
                sentiment: None,
                watches: Vec::new(),
            },
            key: at.timestamp(),
        });
    }
    Ok(Payload {
        items,
        next: body.next_page_token.filter(|t| !t.is_empty()),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Thread {
    snippet: ThreadSnippet,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadSnippet {
    video_id: Option<String>,
    top_level_comment: Comment,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Comment {
    id: String,
    snippet: CommentSnippet,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommentSnippet {
    author_display_name: Option<String>,
    video_id: Option<String>,
    text_original: Option<String>,
    text_display: Option<String>,
    published_at: Option<String>,
}

fn parse_comments(url: &str, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
    let body: ListBody = from_json(url, bytes)?;
    let mut items = Vec::with_capacity(body.items.len());
    for t in super::lenient::<Thread>(body.items) {
        let c = t.snippet.top_level_comment;
        let Some(video) = c.snippet.video_id.or(t.snippet.video_id) else {
            continue;
        };
        let Some(at) = rfc3339(c.snippet.published_at.as_deref()) else {
            continue;
        };
        let Ok(mut link) = Url::parse(WATCH) else {
            continue;
        };
        link.query_pairs_mut()
            .append_pair("v", &video)
            .append_pair("lc", &c.id);
        let url = String::from(link);
        let text = match c.snippet.text_original {
            Some(t) => crate::normalize::collapse_whitespace(&t),
            None => html_to_text(c.snippet.text_display.as_deref().unwrap_or_default()),
        };
        items.push(Item {
            mention: Mention {
                id: id_for(&url, "", ""),
                source: String::new(),
                url,
                title: String::new(),
                text,
                author: c.snippet.author_display_name.unwrap_or_default(),
                author_followers: None,
                published: at.min(now),
                lang: None,
                sentiment: None,
                watches: Vec::new(),
            },
            key: at.timestamp(),
        });
    }
    Ok(Payload {
        items,
        next: body.next_page_token.filter(|t| !t.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-03-04T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn videos_and_comments_map_to_mentions() {
        let search = r#"{"kind":"youtube#searchListResponse","nextPageToken":"CDIQAA","items":[
          {"kind":"youtube#searchResult","id":{"kind":"youtube#video","videoId":"vid1"},
           "snippet":{"publishedAt":"2026-03-04T10:00:00Z","channelId":"UC1","title":"Acme: l&#39;arnaque ?",
           "description":"Tout sur Acme &amp; co","channelTitle":"Chaîne Conso"}},
          {"kind":"youtube#searchResult","id":{"kind":"youtube#channel","channelId":"UC2"},"snippet":{}}
        ]}"#;
        let p = parse_payload(search.as_bytes(), now()).unwrap();
        assert_eq!(p.items.len(), 1);
        let m = &p.items[0].mention;
        assert_eq!(m.title, "Acme: l'arnaque ?");
        assert_eq!(m.text, "Tout sur Acme & co");
        assert_eq!(m.author, "Chaîne Conso");
        assert_eq!(m.url, "https://www.youtube.com/watch?v=vid1");
        assert_eq!(video_id(&m.url).as_deref(), Some("vid1"));
        assert_eq!(p.next.as_deref(), Some("CDIQAA"));
        let comments = r#"{"kind":"youtube#commentThreadListResponse","items":[
          {"id":"c1","snippet":{"videoId":"vid1","topLevelComment":{"id":"c1","snippet":{
            "authorDisplayName":"Léa","videoId":"vid1","textDisplay":"<b>nul</b>","textOriginal":"nul  !",
            "publishedAt":"2026-03-04T11:00:00Z"}}}}
        ]}"#;
        let p = parse_payload(comments.as_bytes(), now()).unwrap();
        let m = &p.items[0].mention;
        assert_eq!(m.text, "nul !");
        assert_eq!(m.author, "Léa");
        assert_eq!(m.url, "https://www.youtube.com/watch?v=vid1&lc=c1");
        assert_eq!(video_id(&m.url), None);
    }

    #[test]
    fn quota_stops_until_the_pacific_midnight() {
        let cfg = YoutubeConfig {
            api: ApiConfig {
                url: Url::parse(DEFAULT_URL).unwrap(),
                backfill: Duration::ZERO,
                max_pages: 1,
            },
            query: Some("acme".into()),
            channel: None,
            api_key: Secret::default(),
            daily_quota: 250,
            comment_videos: 0,
            spent: Arc::new(Mutex::new((NaiveDate::MIN, 0))),
        };
        let t = now();
        cfg.charge("yt", SEARCH_COST, t).unwrap();
        cfg.charge("yt", SEARCH_COST, t).unwrap();
        cfg.charge("yt", 50, t).unwrap();
        let Err(ApiError::Quota { reset, wait, .. }) = cfg.charge("yt", 1, t) else {
            panic!("quota not enforced");
        };
        // 12:00 UTC is 04:00 at UTC−8; the reset is at 08:00 UTC.
        assert_eq!(reset.to_rfc3339(), "2026-03-05T08:00:00+00:00");
        assert_eq!(wait, Duration::from_secs(20 * 3600));
        // The next Pacific day has the whole quota again.
        cfg.charge("yt", 250, reset).unwrap();
    }
}
