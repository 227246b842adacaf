//! `kind = "discourse"`: a Discourse forum's JSON API. With `query`, the
//! search (`GET /search.json?q=<query> order:latest&page=N`,
//! <https://docs.discourse.org/#tag/Search>); without, the latest posts of
//! the whole forum (`GET /posts.json`, older pages with `before=<id>`,
//! <https://docs.discourse.org/#tag/Posts/operation/listPosts>).
//!
//! There is no public Discourse: `url` (the forum's base URL) is required.
//! An API key is optional (`api_key_env` or `_file`, with `api_username`),
//! sent in the `Api-Key` / `Api-Username` headers; without one the forum's
//! public content is read.
//!
//! One stream; its position is the newest post id read.
//!
//! Mapping: text = the post's `cooked` HTML as text (search results carry
//! only a `blurb` on most forums: that is used then); title = the topic's
//! title; author = username; URL = `<url>/t/<slug>/<topic id>/<post
//! number>`; publication = `created_at`. Discourse gives no follower
//! counts: reach stays unknown.
//!
//! Rate limit: Discourse's defaults allow 20 requests a minute per IP for
//! anonymous users and 60 for API keys; default interval 5 minutes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::{ApiConfig, ApiError, Item, Payload, Secret, Stream, Walk, from_json, rfc3339};
use crate::config::Parser;
use crate::mention::{Mention, id_for};
use crate::normalize::{canonical_url, html_to_text};
use crate::source::http::{HttpClient, Request};
use crate::source::{Cursor, Poll, SourceConfig, SourceError};

pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscourseConfig {
    pub api: ApiConfig,
    pub query: Option<String>,
    pub api_key: Secret,
    pub api_username: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiscourse {
    url: Option<Spanned<String>>,
    query: Option<Spanned<String>>,
    api_key_env: Option<String>,
    api_key_file: Option<String>,
    api_username: Option<Spanned<String>>,
    backfill: Option<Spanned<String>>,
    max_pages: Option<Spanned<i64>>,
}

impl DiscourseConfig {
    pub(crate) fn parse(
        p: &mut Parser<'_>,
        name: &Spanned<String>,
        raw: RawDiscourse,
    ) -> Option<DiscourseConfig> {
        let api = ApiConfig::parse(
            p,
            name,
            raw.url.as_ref(),
            None,
            &raw.backfill,
            raw.max_pages.as_ref(),
        );
        let api_key = Secret::new(p, raw.api_key_env, raw.api_key_file);
        let query =
            super::optional_query(p, &raw.query, " (leave it out to read the latest posts)");
        Some(DiscourseConfig {
            api: api?,
            query,
            api_key,
            api_username: raw.api_username.map(|u| u.get_ref().trim().to_string()),
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
        let mut headers = Vec::new();
        if let Some(key) = self.api_key.read(&src.name, "API key")? {
            let value = |v: &str| {
                HeaderValue::from_str(v).map_err(|_| ApiError::Secret {
                    source_name: src.name.clone(),
                    detail: "the API key or username holds characters a header cannot carry".into(),
                })
            };
            headers.push((HeaderName::from_static("api-key"), value(&key)?));
            let user = self.api_username.as_deref().unwrap_or("system");
            headers.push((HeaderName::from_static("api-username"), value(user)?));
        }
        let stream = Posts {
            base: self.api.url.clone(),
            url: self.api.endpoint(if self.query.is_some() {
                "search.json"
            } else {
                "posts.json"
            }),
            query: self.query.clone(),
            headers,
        };
        let streams: Vec<(String, Box<dyn Stream + Send>)> =
            vec![(String::new(), Box::new(stream))];
        super::poll_streams(src, client, &streams, cursor, walk, now).await
    }
}

struct Posts {
    base: Url,
    url: Url,
    query: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Stream for Posts {
    fn request(
        &self,
        token: Option<&str>,
        _floor: Option<i64>,
        _forward: bool,
    ) -> Result<Request, ApiError> {
        let mut url = self.url.clone();
        {
            let mut q = url.query_pairs_mut();
            match &self.query {
                Some(query) => {
                    q.append_pair("q", &format!("{query} order:latest"));
                    if let Some(page) = token {
                        q.append_pair("page", page);
                    }
                }
                None => {
                    if let Some(before) = token {
                        q.append_pair("before", before);
                    }
                }
            }
        }
        let mut req = Request::get(url);
        for (k, v) in &self.headers {
            req = req.header(k.clone(), v.clone());
        }
        Ok(req)
    }

    fn parse(&self, url: &Url, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
        let mut p = parse_page(&self.base, url.as_str(), bytes, now)?;
        if self.query.is_some() {
            // Search pages are numbered from 1; `next` only says there are more.
            let page: u64 = url
                .query_pairs()
                .find(|(k, _)| k == "page")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(1);
            p.next = p.next.map(|_| (page + 1).to_string());
        }
        Ok(p)
    }
}

#[derive(Deserialize)]
struct Body {
    /// `/posts.json`.
    latest_posts: Option<Vec<serde_json::Value>>,
    /// `/search.json`.
    posts: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    topics: Vec<Topic>,
    grouped_search_result: Option<Grouped>,
}

#[derive(Deserialize)]
struct Grouped {
    more_posts: Option<bool>,
    more_full_page_results: Option<bool>,
}

#[derive(Deserialize)]
struct Topic {
    id: i64,
    title: Option<String>,
    slug: Option<String>,
}

#[derive(Deserialize)]
struct Post {
    id: i64,
    username: Option<String>,
    created_at: Option<String>,
    cooked: Option<String>,
    blurb: Option<String>,
    post_number: Option<i64>,
    topic_id: Option<i64>,
    topic_slug: Option<String>,
    topic_title: Option<String>,
}

/// Parses `/posts.json` (`latest_posts`) or `/search.json` (`posts` and
/// `topics`) into mentions keyed by post id, with URLs on
/// `http://localhost/` (see [`parse_page`] for a forum's own base). For
/// latest posts `next` is the oldest id (the `before` of the next page);
/// for a search, `"more"` when the forum says there are more results.
pub fn parse_payload(bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
    let base = Url::parse("http://localhost/").map_err(|e| ApiError::parse("base", e))?;
    parse_page(&base, "discourse payload", bytes, now)
}

/// [`parse_payload`] with the forum's base URL.
pub fn parse_page(
    base: &Url,
    url: &str,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<Payload, ApiError> {
    let body: Body = from_json(url, bytes)?;
    let search = body.posts.is_some();
    let Some(values) = body.latest_posts.or(body.posts) else {
        return Err(ApiError::parse(
            url,
            "neither `latest_posts` (/posts.json) nor `posts` (/search.json)",
        ));
    };
    let mut items = Vec::with_capacity(values.len());
    for post in super::lenient::<Post>(values) {
        let topic = post
            .topic_id
            .and_then(|t| body.topics.iter().find(|x| x.id == t));
        let title = post
            .topic_title
            .as_deref()
            .or(topic.and_then(|t| t.title.as_deref()))
            .map(html_to_text)
            .unwrap_or_default();
        let slug = post
            .topic_slug
            .as_deref()
            .or(topic.and_then(|t| t.slug.as_deref()))
            .unwrap_or("-");
        let url = match post.topic_id {
            Some(t) => {
                let n = post.post_number.unwrap_or(1);
                let mut u = base.clone();
                let path = format!("{}/t/", base.path().trim_end_matches('/'));
                u.set_path(&path);
                u.set_query(None);
                if let Ok(mut seg) = u.path_segments_mut() {
                    seg.pop_if_empty()
                        .push(slug)
                        .push(&t.to_string())
                        .push(&n.to_string());
                }
                canonical_url(u.as_str(), None).unwrap_or_default()
            }
            None => String::new(),
        };
        let text = html_to_text(
            post.cooked
                .as_deref()
                .filter(|c| !c.trim().is_empty())
                .or(post.blurb.as_deref())
                .unwrap_or_default(),
        );
        items.push(Item {
            mention: Mention {
                id: id_for(&url, &title, &text),
                source: String::new(),
                url,
                title,
                text,
                author: post.username.unwrap_or_default(),
                author_followers: None,
                published: rfc3339(post.created_at.as_deref()).unwrap_or(now).min(now),
                lang: None,
                sentiment: None,
                watches: Vec::new(),
            },
            key: post.id,
        });
    }
    let next = if search {
        body.grouped_search_result
            .filter(|g| g.more_full_page_results == Some(true) || g.more_posts == Some(true))
            .map(|_| "more".to_string())
    } else {
        items.iter().map(|i| i.key).min().map(|k| k.to_string())
    };
    Ok(Payload { items, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_posts_and_search_map_to_mentions() {
        let now: DateTime<Utc> = "2026-03-04T12:00:00Z".parse().unwrap();
        let base = Url::parse("https://forum.example/community").unwrap();
        let latest = br#"{"latest_posts":[
          {"id":52,"username":"ana","created_at":"2026-03-04T10:00:00.000Z","cooked":"<p>Acme <b>rembourse</b> enfin</p>",
           "post_number":3,"topic_id":7,"topic_slug":"acme-remboursement","topic_title":"Acme &amp; remboursements"},
          {"id":"bad"}
        ]}"#;
        let p = parse_page(&base, "u", latest, now).unwrap();
        assert_eq!(p.items.len(), 1);
        let m = &p.items[0].mention;
        assert_eq!(m.text, "Acme rembourse enfin");
        assert_eq!(m.title, "Acme & remboursements");
        assert_eq!(m.author, "ana");
        assert_eq!(
            m.url,
            "https://forum.example/community/t/acme-remboursement/7/3"
        );
        assert_eq!(p.items[0].key, 52);
        assert_eq!(p.next.as_deref(), Some("52"));
        let search = br#"{"posts":[{"id":9,"username":"bob","created_at":"2026-03-01T00:00:00Z","blurb":"acme...","post_number":1,"topic_id":2}],
          "topics":[{"id":2,"title":"Acme?","slug":"acme"}],"grouped_search_result":{"more_posts":null,"more_full_page_results":true}}"#;
        let p = parse_page(&base, "u", search, now).unwrap();
        let m = &p.items[0].mention;
        assert_eq!((m.title.as_str(), m.text.as_str()), ("Acme?", "acme..."));
        assert_eq!(m.url, "https://forum.example/community/t/acme/2/1");
        assert_eq!(p.next.as_deref(), Some("more"));
        assert!(parse_payload(br#"{"topic_list":{}}"#, now).is_err());
    }
}
