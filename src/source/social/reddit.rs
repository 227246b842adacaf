//! `kind = "reddit"`: Reddit search, site-wide (`GET /search.json`) or per
//! subreddit (`GET /r/{sub}/search.json?restrict_sr=1`), newest first
//! (`sort=new`), 100 results a page, paged with `after`
//! (<https://www.reddit.com/dev/api/#GET_search>).
//!
//! One stream for the site-wide search, or one per subreddit; each stores
//! the creation time of the newest item read (posts and comments have ids
//! from two sequences, so time is what orders them both). Listings may mix
//! posts (`t3`) and comments (`t1`): both are mapped.
//!
//! Authentication is optional: with `client_id_env` and
//! `client_secret_env` (or `_file`), an application-only OAuth token is
//! taken with the client-credentials grant
//! (<https://github.com/reddit-archive/reddit/wiki/OAuth2#application-only-oauth>),
//! cached until shortly before it expires, and requests go to
//! `https://oauth.reddit.com` (100 queries a minute instead of about 10).
//!
//! Mapping: a post's title and self text, a comment's body (and its post's
//! title); author; URL = `https://www.reddit.com` + permalink; publication =
//! `created_utc`. Reddit gives no follower count for authors: reach stays
//! unknown.
//!
//! Default interval 5 minutes: within the unauthenticated limit even with a
//! few subreddits and pages.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::{ApiConfig, ApiError, Item, Payload, Secret, Stream, Walk, from_json};
use crate::config::Parser;
use crate::mention::{Mention, id_for};
use crate::normalize::{canonical_url, html_to_text};
use crate::source::http::{HttpClient, Request};
use crate::source::{Cursor, Poll, SourceConfig, SourceError};

pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
const PUBLIC_URL: &str = "https://www.reddit.com";
const OAUTH_URL: &str = "https://oauth.reddit.com";
const TOKEN_URL: &str = "https://www.reddit.com/api/v1/access_token";
/// Where permalinks point, whatever host the API was read from.
const SITE: &str = "https://www.reddit.com";
/// A cached token is renewed this long before it expires.
const TOKEN_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

#[derive(Debug, Clone)]
pub struct RedditConfig {
    pub api: ApiConfig,
    pub query: String,
    /// Subreddits to search in (without `r/`); empty: all of Reddit.
    pub subreddits: Vec<String>,
    pub client_id: Secret,
    pub client_secret: Secret,
    /// The OAuth token endpoint.
    pub token_url: Url,
    /// The cached application token and its expiry.
    token: super::TokenCache,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReddit {
    url: Option<Spanned<String>>,
    query: Option<Spanned<String>>,
    subreddits: Option<Spanned<Vec<Spanned<String>>>>,
    client_id_env: Option<String>,
    client_id_file: Option<String>,
    client_secret_env: Option<String>,
    client_secret_file: Option<String>,
    token_url: Option<Spanned<String>>,
    backfill: Option<Spanned<String>>,
    max_pages: Option<Spanned<i64>>,
}

impl RedditConfig {
    pub(crate) fn parse(
        p: &mut Parser<'_>,
        name: &Spanned<String>,
        raw: RawReddit,
    ) -> Option<RedditConfig> {
        let client_id = Secret::new(p, raw.client_id_env, raw.client_id_file);
        let client_secret = Secret::new(p, raw.client_secret_env, raw.client_secret_file);
        if client_id.is_set() != client_secret.is_set() {
            p.err(
                name,
                format!(
                    "source `{}`: OAuth needs both client_id_env (or _file) and client_secret_env (or _file)",
                    name.get_ref()
                ),
            );
        }
        let default = if client_id.is_set() {
            OAUTH_URL
        } else {
            PUBLIC_URL
        };
        let api = ApiConfig::parse(
            p,
            name,
            raw.url.as_ref(),
            Some(default),
            &raw.backfill,
            raw.max_pages.as_ref(),
        );
        let query = super::required_query(p, name, &raw.query);
        let subreddits: Vec<String> = super::non_blank_list(p, &raw.subreddits, "subreddits")
            .into_iter()
            .map(|s| {
                s.trim_start_matches("/r/")
                    .trim_start_matches("r/")
                    .to_string()
            })
            .collect();
        let token_url = match &raw.token_url {
            Some(u) => p.url(u, &["http", "https"])?,
            None => Url::parse(TOKEN_URL).ok()?,
        };
        Some(RedditConfig {
            api: api?,
            query: query?,
            subreddits,
            client_id,
            client_secret,
            token_url,
            token: Arc::default(),
        })
    }

    /// The application token, from the cache or the token endpoint.
    async fn token(
        &self,
        src: &SourceConfig,
        client: &HttpClient,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, SourceError> {
        let (Some(id), Some(secret)) = (
            self.client_id.read(&src.name, "client id")?,
            self.client_secret.read(&src.name, "client secret")?,
        ) else {
            return Ok(None);
        };
        if let Ok(cached) = self.token.lock()
            && let Some((t, until)) = cached.as_ref()
            && *until > now
        {
            return Ok(Some(t.clone()));
        }
        let req = Request::post(self.token_url.clone())
            .basic(id, Some(secret))
            .body(
                "application/x-www-form-urlencoded",
                b"grant_type=client_credentials".to_vec(),
            )
            .accept(crate::source::http::ACCEPT_JSON)
            .robots(false)
            .timeout(src.timeout);
        let (bytes, url) = super::send(client, req).await?;
        #[derive(Deserialize)]
        struct Token {
            access_token: Option<String>,
            expires_in: Option<i64>,
            error: Option<serde_json::Value>,
        }
        let t: Token = from_json(url.as_str(), &bytes)?;
        let Some(access) = t.access_token.filter(|a| !a.is_empty()) else {
            return Err(ApiError::Auth {
                source_name: src.name.clone(),
                detail: format!(
                    "the token endpoint gave no token{}: check the client id and secret",
                    t.error.map(|e| format!(" ({e})")).unwrap_or_default()
                ),
            }
            .into());
        };
        let until = now + chrono::Duration::seconds(t.expires_in.unwrap_or(3600)) - TOKEN_MARGIN;
        if let Ok(mut cached) = self.token.lock() {
            *cached = Some((access.clone(), until));
        }
        Ok(Some(access))
    }

    pub(crate) async fn poll(
        &self,
        src: &SourceConfig,
        client: &HttpClient,
        cursor: &Cursor,
        walk: &Walk,
        now: DateTime<Utc>,
    ) -> Result<Poll, SourceError> {
        let token = self.token(src, client, now).await?;
        let mut streams: Vec<(String, Box<dyn Stream + Send>)> = Vec::new();
        if self.subreddits.is_empty() {
            streams.push((
                String::new(),
                Box::new(Search {
                    url: self.api.endpoint("search.json"),
                    query: self.query.clone(),
                    restrict: false,
                    token: token.clone(),
                }),
            ));
        }
        for sub in &self.subreddits {
            let mut url = self.api.endpoint("r/");
            if let Ok(mut seg) = url.path_segments_mut() {
                seg.pop_if_empty().push(sub).push("search.json");
            }
            streams.push((
                format!("r/{sub}"),
                Box::new(Search {
                    url,
                    query: self.query.clone(),
                    restrict: true,
                    token: token.clone(),
                }),
            ));
        }
        super::poll_streams(src, client, &streams, cursor, walk, now).await
    }
}

struct Search {
    url: Url,
    query: String,
    restrict: bool,
    token: Option<String>,
}

impl Stream for Search {
    fn request(
        &self,
        token: Option<&str>,
        _floor: Option<i64>,
        _forward: bool,
    ) -> Result<Request, ApiError> {
        let mut url = self.url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("q", &self.query)
                .append_pair("sort", "new")
                .append_pair("limit", "100")
                .append_pair("raw_json", "1");
            if self.restrict {
                q.append_pair("restrict_sr", "1");
            }
            if let Some(after) = token {
                q.append_pair("after", after);
            }
        }
        Ok(Request::get(url).bearer_opt(self.token.as_deref()))
    }

    fn parse(&self, url: &Url, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
        parse_page(url.as_str(), bytes, now)
    }
}

#[derive(Deserialize)]
struct Listing {
    data: ListingData,
}

#[derive(Deserialize)]
struct ListingData {
    #[serde(default)]
    children: Vec<Thing>,
    after: Option<String>,
}

#[derive(Deserialize)]
struct Thing {
    kind: String,
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct Fields {
    author: Option<String>,
    created_utc: Option<f64>,
    permalink: Option<String>,
    title: Option<String>,
    selftext: Option<String>,
    body: Option<String>,
    link_title: Option<String>,
}

/// Parses a Reddit Listing (search results, or any listing of posts `t3`
/// and comments `t1`) into mentions keyed by creation time (seconds);
/// `next` is the listing's `after`.
pub fn parse_payload(bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
    parse_page("reddit payload", bytes, now)
}

fn parse_page(url: &str, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
    let listing: Listing = from_json(url, bytes)?;
    let mut items = Vec::with_capacity(listing.data.children.len());
    for thing in listing.data.children {
        if thing.kind != "t1" && thing.kind != "t3" {
            continue;
        }
        let Ok(f) = serde_json::from_value::<Fields>(thing.data) else {
            continue;
        };
        let Some(created) = f.created_utc.filter(|c| c.is_finite()) else {
            continue;
        };
        let key = created as i64;
        let published = DateTime::from_timestamp(key, 0).unwrap_or(now).min(now);
        let (title, text) = if thing.kind == "t3" {
            (
                html_to_text(f.title.as_deref().unwrap_or_default()),
                html_to_text(f.selftext.as_deref().unwrap_or_default()),
            )
        } else {
            (
                html_to_text(f.link_title.as_deref().unwrap_or_default()),
                html_to_text(f.body.as_deref().unwrap_or_default()),
            )
        };
        let link = f.permalink.as_deref().unwrap_or_default();
        let url = Url::parse(SITE)
            .ok()
            .and_then(|base| canonical_url(link, Some(&base)))
            .unwrap_or_default();
        if url.is_empty() && title.is_empty() && text.is_empty() {
            continue;
        }
        items.push(Item {
            mention: Mention {
                id: id_for(&url, &title, &text),
                source: String::new(),
                url,
                title,
                text,
                author: f.author.unwrap_or_default(),
                author_followers: None,
                published,
                lang: None,
                sentiment: None,
                watches: Vec::new(),
            },
            key,
        });
    }
    Ok(Payload {
        items,
        next: listing.data.after.filter(|a| !a.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_and_comments_map_to_mentions() {
        let now: DateTime<Utc> = "2026-03-04T12:00:00Z".parse().unwrap();
        let body = br#"{"kind":"Listing","data":{"after":"t1_abc","before":null,"children":[
          {"kind":"t3","data":{"id":"p1","name":"t3_p1","title":"Acme &amp; the outage","selftext":"It is down",
            "author":"ana","created_utc":1772618400.0,"permalink":"/r/sysadmin/comments/p1/acme/","subreddit":"sysadmin"}},
          {"kind":"t1","data":{"id":"c1","name":"t1_c1","body":"Same here","author":"bob","created_utc":1772618460,
            "permalink":"/r/sysadmin/comments/p1/acme/c1/","link_title":"Acme & the outage"}},
          {"kind":"more","data":{"count":3}},
          {"kind":"t3","data":{"title":"no date"}}
        ]}}"#;
        let p = parse_payload(body, now).unwrap();
        assert_eq!(p.items.len(), 2);
        let post = &p.items[0].mention;
        assert_eq!(post.title, "Acme & the outage");
        assert_eq!(post.text, "It is down");
        assert_eq!(post.author, "ana");
        assert_eq!(
            post.url,
            "https://www.reddit.com/r/sysadmin/comments/p1/acme/"
        );
        assert_eq!(post.published.timestamp(), 1_772_618_400);
        assert_eq!(p.items[0].key, 1_772_618_400);
        let comment = &p.items[1].mention;
        assert_eq!(comment.text, "Same here");
        assert_eq!(comment.title, "Acme & the outage");
        assert_eq!(p.next.as_deref(), Some("t1_abc"));
        assert!(
            parse_payload(br#"{"data":{}}"#, now)
                .unwrap()
                .items
                .is_empty()
        );
        assert!(parse_payload(br#"[1]"#, now).is_err());
    }
}
