//! `kind = "hackernews"`: Hacker News stories and comments through the
//! Algolia search API, newest first: `GET /api/v1/search_by_date` with
//! `tags=(story,comment)`, 100 hits a page, paged with `page`
//! (<https://hn.algolia.com/api>).
//!
//! One stream; its position is the newest `created_at_i` read, sent back as
//! `numericFilters=created_at_i>=…` so the service returns only what is new
//! (the item at the boundary second comes again and is deduplicated by the
//! store).
//!
//! Mapping: a story's title and text, a comment's text (its story's title
//! as title); author; URL = `https://news.ycombinator.com/item?id=…`;
//! publication = `created_at_i`. Hacker News has karma, not followers:
//! reach stays unknown.
//!
//! Rate limit: 10,000 requests an hour per IP; default interval one minute.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::{ApiConfig, ApiError, Item, Payload, Stream, Walk, from_json};
use crate::config::Parser;
use crate::mention::{Mention, id_for};
use crate::normalize::html_to_text;
use crate::source::http::{HttpClient, Request};
use crate::source::{Cursor, Poll, SourceConfig, SourceError};

pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_URL: &str = "https://hn.algolia.com";
const ITEM_URL: &str = "https://news.ycombinator.com/item?id=";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HackernewsConfig {
    pub api: ApiConfig,
    pub query: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHackernews {
    url: Option<Spanned<String>>,
    query: Option<Spanned<String>>,
    backfill: Option<Spanned<String>>,
    max_pages: Option<Spanned<i64>>,
}

impl HackernewsConfig {
    pub(crate) fn parse(
        p: &mut Parser<'_>,
        name: &Spanned<String>,
        raw: RawHackernews,
    ) -> Option<HackernewsConfig> {
        let api = ApiConfig::parse(
            p,
            name,
            raw.url.as_ref(),
            Some(DEFAULT_URL),
            &raw.backfill,
            raw.max_pages.as_ref(),
        );
        let query = super::required_query(p, name, &raw.query);
        Some(HackernewsConfig {
            api: api?,
            query: query?,
        })
    }

    pub(crate) async fn poll(
        &self,
        src: &SourceConfig,
        client: &HttpClient,
        cursor: &Cursor,
        walk: &Walk,
        now: DateTime<Utc>,
    ) -> Result<Poll, SourceError> {
        let streams: Vec<(String, Box<dyn Stream + Send>)> = vec![(
            String::new(),
            Box::new(Search {
                url: self.api.endpoint("api/v1/search_by_date"),
                query: self.query.clone(),
            }),
        )];
        super::poll_streams(src, client, &streams, cursor, walk, now).await
    }
}

struct Search {
    url: Url,
    query: String,
}

impl Stream for Search {
    fn request(
        &self,
        token: Option<&str>,
        floor: Option<i64>,
        _forward: bool,
    ) -> Result<Request, ApiError> {
        let mut url = self.url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("query", &self.query)
                .append_pair("tags", "(story,comment)")
                .append_pair("hitsPerPage", "100");
            if let Some(f) = floor {
                q.append_pair("numericFilters", &format!("created_at_i>={f}"));
            }
            if let Some(page) = token {
                q.append_pair("page", page);
            }
        }
        Ok(Request::get(url))
    }

    fn parse(&self, url: &Url, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
        parse_page(url.as_str(), bytes, now)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    #[serde(default)]
    hits: Vec<serde_json::Value>,
    page: Option<u64>,
    nb_pages: Option<u64>,
}

#[derive(Deserialize)]
struct Hit {
    #[serde(rename = "objectID")]
    object_id: String,
    title: Option<String>,
    story_title: Option<String>,
    author: Option<String>,
    created_at_i: Option<i64>,
    story_text: Option<String>,
    comment_text: Option<String>,
}

/// Parses a `search_by_date` answer into mentions keyed by `created_at_i`;
/// `next` is the next page number while `page + 1 < nbPages`.
pub fn parse_payload(bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
    parse_page("hackernews payload", bytes, now)
}

fn parse_page(url: &str, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
    let body: Body = from_json(url, bytes)?;
    let mut items = Vec::with_capacity(body.hits.len());
    for h in super::lenient::<Hit>(body.hits) {
        let Some(key) = h.created_at_i else { continue };
        if h.object_id.is_empty() || !h.object_id.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let (title, text) = match h.comment_text.as_deref() {
            Some(c) => (h.story_title.as_deref().unwrap_or_default(), c),
            None => (
                h.title.as_deref().unwrap_or_default(),
                h.story_text.as_deref().unwrap_or_default(),
            ),
        };
        let (title, text) = (html_to_text(title), html_to_text(text));
        let url = format!("{ITEM_URL}{}", h.object_id);
        items.push(Item {
            mention: Mention {
                id: id_for(&url, "", ""),
                source: String::new(),
                url,
                title,
                text,
                author: h.author.unwrap_or_default(),
                author_followers: None,
                published: DateTime::from_timestamp(key, 0).unwrap_or(now).min(now),
                lang: None,
                sentiment: None,
                watches: Vec::new(),
            },
            key,
        });
    }
    let next = match (body.page, body.nb_pages) {
        (Some(p), Some(n)) if p + 1 < n => Some((p + 1).to_string()),
        _ => None,
    };
    Ok(Payload { items, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stories_and_comments_map_to_mentions() {
        let now: DateTime<Utc> = "2026-03-04T12:00:00Z".parse().unwrap();
        let body = br#"{"hits":[
          {"objectID":"100","title":"Acme is down","url":"https://acme.example/status","author":"ana",
           "created_at":"2026-03-04T10:00:00.000Z","created_at_i":1772618400,"story_text":null,"comment_text":null,"_tags":["story"]},
          {"objectID":"101","title":null,"story_title":"Acme is down","author":"bob","created_at_i":1772618460,
           "comment_text":"<p>Confirmed &gt; here</p>","_tags":["comment"]},
          {"objectID":"x","created_at_i":1},
          {"objectID":"102"}
        ],"page":0,"nbPages":3,"hitsPerPage":100}"#;
        let p = parse_payload(body, now).unwrap();
        assert_eq!(p.items.len(), 2);
        let story = &p.items[0].mention;
        assert_eq!(story.title, "Acme is down");
        assert_eq!(story.url, "https://news.ycombinator.com/item?id=100");
        assert_eq!(story.author, "ana");
        assert_eq!(story.published.timestamp(), 1_772_618_400);
        let comment = &p.items[1].mention;
        assert_eq!(comment.text, "Confirmed > here");
        assert_eq!(comment.title, "Acme is down");
        assert_eq!(p.next.as_deref(), Some("1"));
        let last = parse_payload(br#"{"hits":[],"page":2,"nbPages":3}"#, now).unwrap();
        assert_eq!(last.next, None);
    }
}
