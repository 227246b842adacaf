//! `kind = "mastodon"`: hashtag timelines (`GET /api/v1/timelines/tag/{tag}`)
//! and status search (`GET /api/v2/search?type=statuses`) of a Mastodon
//! instance (<https://docs.joinmastodon.org/methods/timelines/#tag>,
//! <https://docs.joinmastodon.org/methods/search/#v2>).
//!
//! One stream per hashtag (`tag:<name>`) and one for the query
//! (`search`); each stores the newest status id read. Once a stream has a
//! position it is read *forwards* with `min_id` (40 statuses a page, the
//! API's maximum), so a burst is caught up over polls and a failed page
//! resumes exactly after the last one read. A stream without a position is
//! backfilled newest first with `max_id`.
//!
//! Mapping: text = content warning + content (HTML → text); author = the
//! account's `acct`; reach = `followers_count`; URL = the status' `url`
//! (else its `uri`); publication = `created_at`. A boost carries the
//! boosted status, which is what is mapped. Ids must be Mastodon's numeric
//! ids (servers with other id schemes are not supported: their statuses are
//! skipped).
//!
//! Rate limit: 300 requests per 5 minutes per account or IP
//! (<https://docs.joinmastodon.org/api/rate-limits/>); the default interval
//! of 2 minutes leaves room for many streams on one instance.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::{ApiConfig, ApiError, Item, Payload, Secret, Stream, Walk, from_json, rfc3339};
use crate::config::Parser;
use crate::mention::{Mention, id_for};
use crate::normalize::{canonical_url, html_to_text};
use crate::source::http::{HttpClient, Request};
use crate::source::{Cursor, Poll, SourceConfig, SourceError};

/// Default `interval` (see the module doc).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(120);
/// Statuses per page: the API's maximum.
const PAGE: usize = 40;
const DEFAULT_URL: &str = "https://mastodon.social";

/// A Mastodon source's own keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MastodonConfig {
    pub api: ApiConfig,
    /// Hashtags, without `#`.
    pub hashtags: Vec<String>,
    /// Full-text status search (most instances require a token for it).
    pub query: Option<String>,
    /// An access token (`token_env` / `token_file`).
    pub token: Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMastodon {
    url: Option<Spanned<String>>,
    hashtags: Option<Spanned<Vec<Spanned<String>>>>,
    query: Option<Spanned<String>>,
    token_env: Option<String>,
    token_file: Option<String>,
    backfill: Option<Spanned<String>>,
    max_pages: Option<Spanned<i64>>,
}

impl MastodonConfig {
    pub(crate) fn parse(
        p: &mut Parser<'_>,
        name: &Spanned<String>,
        raw: RawMastodon,
    ) -> Option<MastodonConfig> {
        let api = ApiConfig::parse(
            p,
            name,
            raw.url.as_ref(),
            Some(DEFAULT_URL),
            &raw.backfill,
            raw.max_pages.as_ref(),
        );
        let hashtags = super::non_blank_list(p, &raw.hashtags, "hashtags");
        let query = super::optional_query(p, &raw.query, "");
        if raw.hashtags.is_none() && raw.query.is_none() {
            p.err(
                name,
                format!(
                    "source `{}` of kind `mastodon` needs `hashtags`, `query` or both",
                    name.get_ref()
                ),
            );
            return None;
        }
        Some(MastodonConfig {
            api: api?,
            hashtags,
            query: query.filter(|q| !q.is_empty()),
            token: Secret::new(p, raw.token_env, raw.token_file),
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
        let token = self.token.read(&src.name, "access token")?;
        let mut streams: Vec<(String, Box<dyn Stream + Send>)> = Vec::new();
        for tag in &self.hashtags {
            let mut url = self.api.endpoint("api/v1/timelines/tag/");
            // Pushed as a path segment: escaped, never a path of its own.
            if let Ok(mut seg) = url.path_segments_mut() {
                seg.pop_if_empty().push(tag);
            }
            streams.push((
                format!("tag:{tag}"),
                Box::new(Timeline {
                    url,
                    query: None,
                    token: token.clone(),
                }),
            ));
        }
        if let Some(q) = &self.query {
            streams.push((
                "search".to_string(),
                Box::new(Timeline {
                    url: self.api.endpoint("api/v2/search"),
                    query: Some(q.clone()),
                    token: token.clone(),
                }),
            ));
        }
        super::poll_streams(src, client, &streams, cursor, walk, now).await
    }
}

/// A tag timeline (`query: None`) or the status search.
struct Timeline {
    url: Url,
    query: Option<String>,
    token: Option<String>,
}

impl Stream for Timeline {
    fn request(
        &self,
        token: Option<&str>,
        _floor: Option<i64>,
        forward: bool,
    ) -> Result<Request, ApiError> {
        let mut url = self.url.clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(query) = &self.query {
                q.append_pair("q", query)
                    .append_pair("type", "statuses")
                    .append_pair("resolve", "false");
            }
            q.append_pair("limit", &PAGE.to_string());
            if let Some(t) = token {
                q.append_pair(if forward { "min_id" } else { "max_id" }, t);
            }
        }
        Ok(Request::get(url).bearer_opt(self.token.as_deref()))
    }

    fn parse(&self, url: &Url, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
        parse_page(url.as_str(), bytes, now)
    }

    fn forward_page_size(&self) -> Option<usize> {
        Some(PAGE)
    }
}

#[derive(Deserialize)]
struct Status {
    id: String,
    created_at: Option<String>,
    url: Option<String>,
    uri: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    spoiler_text: Option<String>,
    account: Option<Account>,
    reblog: Option<Box<Status>>,
}

#[derive(Deserialize)]
struct Account {
    acct: Option<String>,
    username: Option<String>,
    followers_count: Option<u64>,
}

fn not_statuses(url: &str) -> ApiError {
    ApiError::parse(
        url,
        "neither an array of statuses (/api/v1/timelines/tag) nor a search result with `statuses` (/api/v2/search)",
    )
}

/// Parses a tag timeline (an array of statuses) or a v2 search result
/// (`{"statuses": [...]}`) into mentions keyed by status id; `next` is the
/// oldest id (the `max_id` of the next page).
pub fn parse_payload(bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
    parse_page("mastodon payload", bytes, now)
}

fn parse_page(url: &str, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
    let values = match from_json::<serde_json::Value>(url, bytes)? {
        serde_json::Value::Array(v) => v,
        serde_json::Value::Object(mut o) => match o.remove("statuses") {
            Some(serde_json::Value::Array(v)) => v,
            _ => return Err(not_statuses(url)),
        },
        _ => return Err(not_statuses(url)),
    };
    let mut items = Vec::with_capacity(values.len());
    // A status of an unexpected shape is skipped, not the whole page.
    for s in super::lenient::<Status>(values) {
        let Ok(key) = s.id.parse::<i64>() else {
            continue;
        };
        let s = match s.reblog {
            Some(inner) => *inner,
            None => s,
        };
        let link = s.url.as_deref().or(s.uri.as_deref()).unwrap_or_default();
        let url = canonical_url(link, None).unwrap_or_default();
        let warning = html_to_text(s.spoiler_text.as_deref().unwrap_or_default());
        let body = html_to_text(s.content.as_deref().unwrap_or_default());
        let text = match (warning.is_empty(), body.is_empty()) {
            (false, false) => format!("{warning} {body}"),
            (false, true) => warning,
            _ => body,
        };
        let account = s.account.as_ref();
        let author = account
            .and_then(|a| a.acct.as_deref().or(a.username.as_deref()))
            .unwrap_or_default()
            .to_string();
        let published = rfc3339(s.created_at.as_deref()).unwrap_or(now).min(now);
        items.push(Item {
            mention: Mention {
                id: id_for(&url, "", &text),
                source: String::new(),
                url,
                title: String::new(),
                text,
                author,
                author_followers: account.and_then(|a| a.followers_count),
                published,
                lang: None,
                sentiment: None,
                watches: Vec::new(),
            },
            key,
        });
    }
    let next = items.iter().map(|i| i.key).min().map(|k| k.to_string());
    Ok(Payload { items, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-03-04T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn statuses_map_to_mentions() {
        let body = br##"[
          {"id":"110","created_at":"2026-03-04T10:00:00.000Z","url":"https://m.example/@ana/110",
           "uri":"https://m.example/users/ana/statuses/110","spoiler_text":"",
           "content":"<p>Panne chez <a href=\"#\">#Acme</a> &amp; co</p>",
           "account":{"acct":"ana@m.example","username":"ana","followers_count":1234}},
          {"id":"109","created_at":"2027-01-01T00:00:00Z","uri":"https://m.example/s/109",
           "spoiler_text":"CW","content":"","account":{"username":"bob"}},
          {"id":"not-a-number","created_at":"2026-03-04T10:00:00Z","content":"x"},
          {"weird":true}
        ]"##;
        let p = parse_payload(body, now()).unwrap();
        assert_eq!(p.items.len(), 2);
        let m = &p.items[0].mention;
        assert_eq!(m.text, "Panne chez #Acme & co");
        assert_eq!(m.author, "ana@m.example");
        assert_eq!(m.author_followers, Some(1234));
        assert_eq!(m.url, "https://m.example/@ana/110");
        assert_eq!(
            m.published,
            "2026-03-04T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(p.items[0].key, 110);
        // Future dates are clamped; the uri stands in for a missing url.
        let m = &p.items[1].mention;
        assert_eq!(m.published, now());
        assert_eq!(m.text, "CW");
        assert_eq!(m.url, "https://m.example/s/109");
        assert_eq!(p.next.as_deref(), Some("109"));
    }

    #[test]
    fn search_results_and_errors() {
        let p = parse_payload(
            br#"{"accounts":[],"hashtags":[],"statuses":[{"id":"5","content":"hi"}]}"#,
            now(),
        )
        .unwrap();
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.items[0].mention.published, now());
        assert!(parse_payload(b"<html>", now()).is_err());
        assert!(parse_payload(b"", now()).is_err());
        assert!(parse_payload(b"42", now()).is_err());
        assert_eq!(parse_payload(b"[]", now()).unwrap(), Payload::default());
        // Another endpoint's object (a streaming event) is not taken for
        // an empty page.
        assert!(parse_payload(br#"{"event":"update","payload":"{}"}"#, now()).is_err());
    }
}
