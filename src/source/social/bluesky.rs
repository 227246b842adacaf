//! `kind = "bluesky"`: post search, `GET /xrpc/app.bsky.feed.searchPosts`
//! with `sort=latest`, 100 posts a page, paged with the API's `cursor`
//! (<https://docs.bsky.app/docs/api/app-bsky-feed-search-posts>).
//!
//! One stream; its position is the newest `indexedAt` read (milliseconds),
//! also sent as `since` so the service filters too.
//!
//! Authentication is optional: with `identifier` and `app_password_env` (or
//! `_file`), a session is opened with `com.atproto.server.createSession`
//! and its access token sent as a bearer (kept for an hour, the token's
//! life being about two). Without it the public AppView is read.
//!
//! Reach: `searchPosts` gives the author but not their followers; they come
//! from `app.bsky.actor.getProfiles` (25 actors a call), cached per handle
//! for a day in a map of at most [`PROFILE_CACHE`] entries (emptied when
//! full). A failed profile lookup leaves reach unknown; it never fails the
//! poll.
//!
//! Mapping: text = the record's `text`; author = handle; URL =
//! `https://bsky.app/profile/{handle}/post/{rkey}`; publication = the
//! record's `createdAt`, else `indexedAt`.
//!
//! Rate limit: 3000 requests per 5 minutes per IP
//! (<https://docs.bsky.app/docs/advanced-guides/rate-limits>); default
//! interval one minute.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use toml::Spanned;
use tracing::debug;
use url::Url;

use super::{ApiConfig, ApiError, Item, Payload, Secret, Stream, Walk, from_json, rfc3339};
use crate::config::Parser;
use crate::mention::{Mention, id_for};
use crate::normalize::collapse_whitespace;
use crate::source::http::{ACCEPT_JSON, HttpClient, Request};
use crate::source::{Cursor, Poll, SourceConfig, SourceError};

pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
const PUBLIC_URL: &str = "https://public.api.bsky.app";
const PDS_URL: &str = "https://bsky.social";
/// Profiles kept in the reach cache, at most.
pub(crate) const PROFILE_CACHE: usize = 10_000;
/// How long a follower count is trusted.
const PROFILE_TTL: chrono::Duration = chrono::Duration::hours(24);
/// How long a session's access token is used.
const SESSION_TTL: chrono::Duration = chrono::Duration::hours(1);
/// A follower count and when it was read.
type Followers = (u64, DateTime<Utc>);
/// Actors per `getProfiles` call: the API's maximum.
const PROFILES_PER_CALL: usize = 25;

#[derive(Debug, Clone)]
pub struct BlueskyConfig {
    pub api: ApiConfig,
    pub query: String,
    /// Handle or DID to log in with.
    pub identifier: Option<String>,
    pub app_password: Secret,
    /// Session token and until when it is used.
    session: super::TokenCache,
    /// Handle → (followers, when read).
    profiles: Arc<Mutex<HashMap<String, Followers>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBluesky {
    url: Option<Spanned<String>>,
    query: Option<Spanned<String>>,
    identifier: Option<Spanned<String>>,
    app_password_env: Option<String>,
    app_password_file: Option<String>,
    backfill: Option<Spanned<String>>,
    max_pages: Option<Spanned<i64>>,
}

impl BlueskyConfig {
    pub(crate) fn parse(
        p: &mut Parser<'_>,
        name: &Spanned<String>,
        raw: RawBluesky,
    ) -> Option<BlueskyConfig> {
        let app_password = Secret::new(p, raw.app_password_env, raw.app_password_file);
        if raw.identifier.is_some() != app_password.is_set() {
            p.err(
                name,
                format!(
                    "source `{}`: logging in needs both `identifier` and app_password_env (or _file)",
                    name.get_ref()
                ),
            );
        }
        let default = if raw.identifier.is_some() {
            PDS_URL
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
        Some(BlueskyConfig {
            api: api?,
            query: query?,
            identifier: raw.identifier.map(|i| i.get_ref().trim().to_string()),
            app_password,
            session: Arc::default(),
            profiles: Arc::default(),
        })
    }

    async fn session(
        &self,
        src: &SourceConfig,
        client: &HttpClient,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, SourceError> {
        let Some(identifier) = &self.identifier else {
            return Ok(None);
        };
        if let Ok(s) = self.session.lock()
            && let Some((t, until)) = s.as_ref()
            && *until > now
        {
            return Ok(Some(t.clone()));
        }
        let password = self
            .app_password
            .read(&src.name, "app password")?
            .unwrap_or_default();
        let body = serde_json::json!({ "identifier": identifier, "password": password });
        let req = Request::post(self.api.endpoint("xrpc/com.atproto.server.createSession"))
            .json(&body)
            .map_err(|e| ApiError::parse("createSession", e))?
            .accept(ACCEPT_JSON)
            .robots(false)
            .timeout(src.timeout);
        let (bytes, url) = super::send(client, req).await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Session {
            access_jwt: Option<String>,
        }
        let s: Session = from_json(url.as_str(), &bytes)?;
        let Some(token) = s.access_jwt.filter(|t| !t.is_empty()) else {
            return Err(ApiError::Auth {
                source_name: src.name.clone(),
                detail: "createSession gave no access token: check identifier and app password"
                    .into(),
            }
            .into());
        };
        if let Ok(mut s) = self.session.lock() {
            *s = Some((token.clone(), now + SESSION_TTL));
        }
        Ok(Some(token))
    }

    pub(crate) async fn poll(
        &self,
        src: &SourceConfig,
        client: &HttpClient,
        cursor: &Cursor,
        walk: &Walk,
        now: DateTime<Utc>,
    ) -> Result<Poll, SourceError> {
        let token = self.session(src, client, now).await?;
        let streams: Vec<(String, Box<dyn Stream + Send>)> = vec![(
            String::new(),
            Box::new(Search {
                url: self.api.endpoint("xrpc/app.bsky.feed.searchPosts"),
                query: self.query.clone(),
                token: token.clone(),
            }),
        )];
        let mut poll = super::poll_streams(src, client, &streams, cursor, walk, now).await?;
        if let Poll::Items { mentions, .. } | Poll::Partial { mentions, .. } = &mut poll {
            self.fill_reach(src, client, token.as_deref(), mentions, now)
                .await;
        }
        Ok(poll)
    }

    /// Sets `author_followers` from the cache, looking up the authors it
    /// lacks.
    async fn fill_reach(
        &self,
        src: &SourceConfig,
        client: &HttpClient,
        token: Option<&str>,
        mentions: &mut [Mention],
        now: DateTime<Utc>,
    ) {
        let cached = |handle: &str| -> Option<u64> {
            let cache = self.profiles.lock().ok()?;
            cache
                .get(handle)
                .filter(|(_, at)| now - *at < PROFILE_TTL)
                .map(|(n, _)| *n)
        };
        let mut missing: Vec<String> = mentions
            .iter()
            .filter(|m| !m.author.is_empty() && cached(&m.author).is_none())
            .map(|m| m.author.clone())
            .collect();
        missing.sort();
        missing.dedup();
        for chunk in missing.chunks(PROFILES_PER_CALL) {
            let mut url = self.api.endpoint("xrpc/app.bsky.actor.getProfiles");
            for a in chunk {
                url.query_pairs_mut().append_pair("actors", a);
            }
            let mut req = Request::get(url)
                .accept(ACCEPT_JSON)
                .robots(false)
                .timeout(src.timeout)
                .max_body_bytes(src.max_body_bytes);
            if let Some(t) = token {
                req = req.bearer(t.to_string());
            }
            let got = match super::send(client, req).await {
                Ok((bytes, url)) => parse_profiles(url.as_str(), &bytes).map_err(SourceError::Api),
                Err(e) => Err(e),
            };
            match got {
                Ok(profiles) => {
                    if let Ok(mut cache) = self.profiles.lock() {
                        if cache.len() + profiles.len() > PROFILE_CACHE {
                            cache.clear();
                        }
                        for (handle, n) in profiles {
                            cache.insert(handle, (n, now));
                        }
                    }
                }
                Err(e) => {
                    debug!(source = %src.name, error = %e, "profile lookup failed; reach left unknown");
                    break;
                }
            }
        }
        for m in mentions.iter_mut() {
            if m.author_followers.is_none() {
                m.author_followers = cached(&m.author);
            }
        }
    }
}

fn parse_profiles(url: &str, bytes: &[u8]) -> Result<Vec<(String, u64)>, ApiError> {
    #[derive(Deserialize)]
    struct Profiles {
        #[serde(default)]
        profiles: Vec<serde_json::Value>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Profile {
        handle: String,
        followers_count: Option<u64>,
    }
    let p: Profiles = from_json(url, bytes)?;
    Ok(super::lenient::<Profile>(p.profiles)
        .filter_map(|p| Some((p.handle, p.followers_count?)))
        .collect())
}

struct Search {
    url: Url,
    query: String,
    token: Option<String>,
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
            q.append_pair("q", &self.query)
                .append_pair("sort", "latest")
                .append_pair("limit", "100");
            if let Some(since) = floor.and_then(DateTime::from_timestamp_millis) {
                q.append_pair("since", &since.to_rfc3339_opts(SecondsFormat::Millis, true));
            }
            if let Some(c) = token {
                q.append_pair("cursor", c);
            }
        }
        Ok(Request::get(url).bearer_opt(self.token.as_deref()))
    }

    fn parse(&self, url: &Url, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
        parse_page(url.as_str(), bytes, now)
    }
}

#[derive(Deserialize)]
struct SearchBody {
    posts: Vec<serde_json::Value>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostView {
    uri: String,
    author: Author,
    #[serde(default)]
    record: serde_json::Value,
    indexed_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Author {
    handle: String,
    followers_count: Option<u64>,
}

/// Parses a `searchPosts` answer (`{"posts": [postView…], "cursor": …}`)
/// into mentions keyed by `indexedAt` in milliseconds; `next` is the
/// cursor.
pub fn parse_payload(bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
    parse_page("bluesky payload", bytes, now)
}

fn parse_page(url: &str, bytes: &[u8], now: DateTime<Utc>) -> Result<Payload, ApiError> {
    let body: SearchBody = from_json(url, bytes)?;
    let mut items = Vec::with_capacity(body.posts.len());
    for post in super::lenient::<PostView>(body.posts) {
        let text = collapse_whitespace(
            post.record
                .get("text")
                .and_then(|t| t.as_str())
                .unwrap_or_default(),
        );
        let created = rfc3339(post.record.get("createdAt").and_then(|t| t.as_str()));
        let indexed = rfc3339(post.indexed_at.as_deref());
        let Some(at) = indexed.or(created) else {
            continue;
        };
        // at://did/app.bsky.feed.post/rkey
        let rkey = post.uri.rsplit('/').next().unwrap_or_default();
        let url = if post.author.handle.is_empty() || rkey.is_empty() {
            String::new()
        } else {
            let mut u = Url::parse("https://bsky.app/profile/").ok();
            if let Some(u) = &mut u
                && let Ok(mut seg) = u.path_segments_mut()
            {
                seg.pop_if_empty()
                    .push(&post.author.handle)
                    .push("post")
                    .push(rkey);
            }
            u.map(String::from).unwrap_or_default()
        };
        items.push(Item {
            mention: Mention {
                id: id_for(&url, "", &text),
                source: String::new(),
                url,
                title: String::new(),
                text,
                author: post.author.handle,
                author_followers: post.author.followers_count,
                published: created.unwrap_or(at).min(now),
                lang: None,
                sentiment: None,
                watches: Vec::new(),
            },
            key: at.timestamp_millis(),
        });
    }
    Ok(Payload {
        items,
        next: body.cursor.filter(|c| !c.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_map_to_mentions() {
        let now: DateTime<Utc> = "2026-03-04T12:00:00Z".parse().unwrap();
        let body = br#"{"cursor":"25","hitsTotal":3,"posts":[
          {"uri":"at://did:plc:abc/app.bsky.feed.post/3kx1","cid":"b",
           "author":{"did":"did:plc:abc","handle":"ana.bsky.social","displayName":"Ana"},
           "record":{"$type":"app.bsky.feed.post","text":"Acme  est en panne\nencore","createdAt":"2026-03-04T10:00:00.000Z"},
           "indexedAt":"2026-03-04T10:00:01.500Z","likeCount":3},
          {"uri":"at://did:plc:x/app.bsky.feed.post/3kx2","author":{"handle":"x.test"},"record":{}},
          {"nope":1}
        ]}"#;
        let p = parse_payload(body, now).unwrap();
        assert_eq!(p.items.len(), 1);
        let m = &p.items[0].mention;
        assert_eq!(m.text, "Acme est en panne encore");
        assert_eq!(m.author, "ana.bsky.social");
        assert_eq!(m.url, "https://bsky.app/profile/ana.bsky.social/post/3kx1");
        assert_eq!(m.published.to_rfc3339(), "2026-03-04T10:00:00+00:00");
        assert_eq!(p.items[0].key, 1_772_618_401_500);
        assert_eq!(p.next.as_deref(), Some("25"));
        let profiles = parse_profiles(
            "x",
            br#"{"profiles":[{"did":"d","handle":"ana.bsky.social","followersCount":42},{"handle":"b"}]}"#,
        )
        .unwrap();
        assert_eq!(profiles, vec![("ana.bsky.social".to_string(), 42)]);
    }
}
