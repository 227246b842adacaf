//! The API source kinds (mastodon, reddit, bluesky, hackernews, youtube,
//! discourse) against a loopback server answering with payloads shaped like
//! each API's documented responses (`tests/fixtures/social/<kind>/`): the
//! mentions' text, author, reach, URL and publication time; pagination, the
//! stored position and its resumption; a page failing midway; 429 with
//! `Retry-After`; the YouTube quota; and, through the daemon and the real
//! binary, `veilleur search --json 'source:NAME'`, with a restart that
//! resumes from the stored cursor without duplicate or gap.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use common::search_json;
use veilleur::config::Config;
use veilleur::mention::Mention;
use veilleur::source::{Cursor, HttpClient, Poll, SourceConfig, poll};

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: HashMap<String, String>,
    authorization: Option<String>,
    headers: HeaderMap,
}

/// What the server answers: status, extra headers, JSON body.
type Answer = (u16, Vec<(&'static str, String)>, String);
type Script = Arc<dyn Fn(&Seen) -> Answer + Send + Sync>;

/// An API server whose answers a test scripts per request, recording them.
#[derive(Clone)]
struct ApiServer {
    script: Arc<Mutex<Script>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn answer(State(s): State<ApiServer>, req: Request) -> Response {
    let query = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let seen = Seen {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        query,
        authorization: req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        headers: req.headers().clone(),
    };
    s.seen.lock().unwrap().push(seen.clone());
    let script = s.script.lock().unwrap().clone();
    let (status, headers, body) = script(&seen);
    let mut resp = (StatusCode::from_u16(status).unwrap(), body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json; charset=utf-8".parse().unwrap(),
    );
    for (k, v) in headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

impl ApiServer {
    async fn start(
        script: impl Fn(&Seen) -> Answer + Send + Sync + 'static,
    ) -> (ApiServer, String) {
        let s = ApiServer {
            script: Arc::new(Mutex::new(Arc::new(script))),
            seen: Arc::default(),
        };
        let app = Router::new().fallback(answer).with_state(s.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (s, format!("http://{addr}"))
    }

    fn set(&self, script: impl Fn(&Seen) -> Answer + Send + Sync + 'static) {
        *self.script.lock().unwrap() = Arc::new(script);
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

fn fixture(path: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/social")
            .join(path),
    )
    .unwrap()
}

fn ok(path: &str) -> Answer {
    (200, vec![], fixture(path))
}

fn not_found() -> Answer {
    (404, vec![], r#"{"error":"not found"}"#.to_string())
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The test clock: after every fixture's dates.
fn now() -> DateTime<Utc> {
    at("2026-03-05T00:00:00Z")
}

fn q<'a>(s: &'a Seen, k: &str) -> Option<&'a str> {
    s.query.get(k).map(String::as_str)
}

const DAEMON: &str = "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\ncommit_interval = \"200ms\"\n";

/// The one source of a config made of `source` (a `[[source]]` table).
fn source(source: &str) -> SourceConfig {
    let cfg = Config::parse(
        Path::new("/tmp/veilleur.toml"),
        &format!("{DAEMON}\n{source}"),
    )
    .unwrap_or_else(|d| panic!("{d:#?}"));
    cfg.sources.into_iter().next().unwrap()
}

fn client() -> HttpClient {
    veilleur::install_crypto_provider();
    HttpClient::new("veilleur-test/1.0").unwrap()
}

fn items(p: Poll) -> (Vec<Mention>, Cursor) {
    match p {
        Poll::Items { mentions, cursor } => (mentions, cursor),
        other => panic!("expected items, got {other:?}"),
    }
}

fn find<'a>(ms: &'a [Mention], url: &str) -> &'a Mention {
    ms.iter().find(|m| m.url == url).unwrap_or_else(|| {
        panic!(
            "no mention {url} in {:#?}",
            ms.iter().map(|m| &m.url).collect::<Vec<_>>()
        )
    })
}

fn mastodon_script(s: &Seen) -> Answer {
    match (s.path.as_str(), q(s, "max_id"), q(s, "min_id")) {
        ("/api/v1/timelines/tag/acme", None, None) => ok("mastodon/tag_page1.json"),
        ("/api/v1/timelines/tag/acme", Some("1002"), None) => ok("mastodon/tag_page2.json"),
        ("/api/v1/timelines/tag/acme", Some("1001"), None) => (200, vec![], "[]".into()),
        ("/api/v1/timelines/tag/acme", None, Some(_)) => (200, vec![], "[]".into()),
        ("/api/v2/search", None, None) => ok("mastodon/search_statuses.json"),
        ("/api/v2/search", _, _) => (200, vec![], r#"{"statuses":[]}"#.into()),
        _ => not_found(),
    }
}

#[tokio::test]
async fn mastodon_maps_statuses_backfills_then_reads_forwards_with_min_id() {
    let (server, base) = ApiServer::start(mastodon_script).await;
    let dir = tempfile::tempdir().unwrap();
    let token = secret(dir.path(), "token", "tok-masto\n");
    let src = source(&format!(
        "[[source]]\nname = \"masto\"\nkind = \"mastodon\"\nurl = \"{base}\"\nhashtags = [\"#acme\"]\nquery = \"acme\"\ntoken_file = \"{token}\"\n"
    ));
    assert_eq!(
        src.interval,
        Duration::from_secs(120),
        "the documented rate limit's default"
    );
    let http = client();
    let (ms, cursor) = items(poll(&src, &http, &Cursor::Start, now()).await.unwrap());
    assert_eq!(ms.len(), 4, "{ms:#?}");
    let m = find(&ms, "https://social.example/@lea/1003");
    assert_eq!(m.source, "masto");
    assert_eq!(m.text, "Encore une #Acme en panne ce matin !");
    assert_eq!(m.author, "lea");
    assert_eq!(m.author_followers, Some(5400));
    assert_eq!(m.published, at("2026-03-04T10:30:00Z"));
    let m = find(&ms, "https://social.example/@marc/1002");
    assert_eq!(m.text, "SAV Le SAV Acme m'a rappelé. Merci.");
    assert_eq!(m.author, "marc@other.example");
    assert_eq!(m.author_followers, Some(12));
    let m = find(&ms, "https://social.example/@paul/2001");
    assert_eq!(m.text, "Qui d'autre a un souci avec Acme ?");
    // The token went with every request; robots.txt was not asked for.
    let seen = server.seen();
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer tok-masto"))
    );
    assert!(seen.iter().all(|s| s.path != "/robots.txt"));
    assert_eq!(
        cursor,
        Cursor::Positions {
            positions: [
                ("search".to_string(), "2001".to_string()),
                ("tag:acme".to_string(), "1003".to_string())
            ]
            .into()
        }
    );

    // The next poll reads forwards from the stored ids.
    server.clear();
    server.set(|s| match (s.path.as_str(), q(s, "min_id")) {
        ("/api/v1/timelines/tag/acme", Some("1003")) => ok("mastodon/tag_newer.json"),
        ("/api/v2/search", Some("2001")) => (200, vec![], r#"{"statuses":[]}"#.into()),
        _ => not_found(),
    });
    let (ms, cursor) = items(poll(&src, &http, &cursor, now()).await.unwrap());
    let urls: Vec<&str> = ms.iter().map(|m| m.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://social.example/@nina/1005",
            "https://social.example/@lea/1004"
        ]
    );
    assert_eq!(cursor_position(&cursor, "tag:acme"), Some("1005"));
    assert_eq!(server.seen().len(), 2, "a short page ends the walk");
}

/// Writes a secret file; returns its path for the config.
fn secret(dir: &Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, value).unwrap();
    p.display().to_string()
}

fn cursor_position<'a>(c: &'a Cursor, stream: &str) -> Option<&'a str> {
    match c {
        Cursor::Positions { positions } => positions.get(stream).map(String::as_str),
        _ => None,
    }
}

fn reddit_script(s: &Seen) -> Answer {
    match (s.method.as_str(), s.path.as_str(), q(s, "after")) {
        ("POST", "/api/v1/access_token", _) => ok("reddit/token.json"),
        ("GET", "/r/france/search.json", None) => ok("reddit/search_page1.json"),
        ("GET", "/r/france/search.json", Some("t1_c2")) => ok("reddit/search_page2.json"),
        _ => not_found(),
    }
}

#[tokio::test]
async fn reddit_takes_an_app_token_pages_with_after_and_keeps_pages_before_a_failure() {
    let (server, base) = ApiServer::start(reddit_script).await;
    let dir = tempfile::tempdir().unwrap();
    let id = secret(dir.path(), "id", "client-id");
    let pw = secret(dir.path(), "secret", "client-secret");
    let src = source(&format!(
        "[[source]]\nname = \"rd\"\nkind = \"reddit\"\nurl = \"{base}\"\ntoken_url = \"{base}/api/v1/access_token\"\nquery = \"acme\"\nsubreddits = [\"r/france\"]\nclient_id_file = \"{id}\"\nclient_secret_file = \"{pw}\"\n"
    ));
    let http = client();

    // Page 2 fails: page 1 is kept, and the cursor remembers where to go on.
    server.set(|s| match (s.path.as_str(), q(s, "after")) {
        ("/r/france/search.json", Some("t1_c2")) => (500, vec![], "{}".into()),
        _ => reddit_script(s),
    });
    let got = poll(&src, &http, &Cursor::Start, now()).await.unwrap();
    let Poll::Partial {
        mentions,
        cursor,
        error,
    } = got
    else {
        panic!("expected a partial poll, got {got:?}");
    };
    assert!(
        error.0.to_string().contains("server answered 500"),
        "{}",
        error.0
    );
    assert_eq!(mentions.len(), 2);
    let post = find(
        &mentions,
        "https://www.reddit.com/r/france/comments/r3/post_r3/",
    );
    assert_eq!(post.title, "Acme m'a facturé deux fois");
    assert_eq!(post.text, "Quelqu'un d'autre ? J'ai écrit au SAV & rien.");
    assert_eq!(post.author, "camille");
    assert_eq!(
        post.author_followers, None,
        "reddit gives no follower count"
    );
    assert_eq!(
        post.published,
        DateTime::from_timestamp(1_772_620_200, 0).unwrap()
    );
    let comment = find(
        &mentions,
        "https://www.reddit.com/r/france/comments/r1/post_r1/c2/",
    );
    assert_eq!(comment.text, "Pareil, **double prélèvement** chez Acme.");
    assert_eq!(comment.title, "Acme et les remboursements");
    // One token request, then bearer requests with the documented parameters.
    let seen = server.seen();
    let token_calls: Vec<&Seen> = seen.iter().filter(|s| s.method == "POST").collect();
    assert_eq!(token_calls.len(), 1);
    assert!(
        token_calls[0]
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Basic ")
    );
    let first = seen.iter().find(|s| s.method == "GET").unwrap();
    assert_eq!(first.authorization.as_deref(), Some("Bearer app-token-1"));
    assert_eq!(q(first, "sort"), Some("new"));
    assert_eq!(q(first, "restrict_sr"), Some("1"));
    assert_eq!(q(first, "q"), Some("acme"));

    // Fixed; new posts meanwhile. The next poll reads the missed page, then
    // the new ones down to the stored position: nothing twice, nothing lost.
    server.clear();
    server.set(|s| match (s.path.as_str(), q(s, "after")) {
        ("/r/france/search.json", None) => ok("reddit/search_newer.json"),
        _ => reddit_script(s),
    });
    let (more, cursor) = items(poll(&src, &http, &cursor, now()).await.unwrap());
    let urls: Vec<&str> = more.iter().map(|m| m.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://www.reddit.com/r/france/comments/r1/post_r1/",
            "https://www.reddit.com/r/france/comments/r9/post_r9/"
        ]
    );
    assert_eq!(cursor_position(&cursor, "r/france"), Some("1772622000"));
    assert_eq!(cursor_position(&cursor, "r/france#gap"), None);
    assert!(
        server.seen().iter().all(|s| s.method == "GET"),
        "the token is cached until it expires"
    );
}

#[tokio::test]
async fn bluesky_logs_in_pages_with_the_cursor_and_reads_reach_from_profiles_once() {
    let (server, base) = ApiServer::start(|s| match (s.path.as_str(), q(s, "cursor")) {
        ("/xrpc/com.atproto.server.createSession", _) => ok("bluesky/session.json"),
        ("/xrpc/app.bsky.feed.searchPosts", None) => ok("bluesky/search_page1.json"),
        ("/xrpc/app.bsky.feed.searchPosts", Some("100")) => ok("bluesky/search_page2.json"),
        ("/xrpc/app.bsky.actor.getProfiles", _) => ok("bluesky/profiles.json"),
        _ => not_found(),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let pw = secret(dir.path(), "pw", "app-pass");
    let src = source(&format!(
        "[[source]]\nname = \"sky\"\nkind = \"bluesky\"\nurl = \"{base}\"\nquery = \"acme\"\nidentifier = \"veille.example.social\"\napp_password_file = \"{pw}\"\n"
    ));
    let http = client();
    let (ms, cursor) = items(poll(&src, &http, &Cursor::Start, now()).await.unwrap());
    assert_eq!(ms.len(), 3);
    let m = find(
        &ms,
        "https://bsky.app/profile/marc.example.social/post/3lacme2",
    );
    assert_eq!(m.text, "Acme, le service client ne répond plus");
    assert_eq!(m.author, "marc.example.social");
    assert_eq!(m.author_followers, Some(12));
    assert_eq!(m.published, at("2026-03-04T10:00:00Z"));
    let lea = find(
        &ms,
        "https://bsky.app/profile/lea.example.social/post/3lacme3",
    );
    assert_eq!(lea.author_followers, Some(5400));
    assert_eq!(cursor_position(&cursor, ""), Some("1772620201000"));
    let seen = server.seen();
    let login = seen.iter().find(|s| s.method == "POST").unwrap();
    assert_eq!(login.path, "/xrpc/com.atproto.server.createSession");
    let search = seen
        .iter()
        .find(|s| s.path.ends_with("searchPosts"))
        .unwrap();
    assert_eq!(q(search, "sort"), Some("latest"));
    assert_eq!(search.authorization.as_deref(), Some("Bearer jwt-access-1"));
    let profiles = seen
        .iter()
        .filter(|s| s.path.ends_with("getProfiles"))
        .count();
    assert_eq!(profiles, 1, "two authors, one getProfiles call");

    // The next poll: session and follower counts come from the caches;
    // `since` carries the stored position.
    server.clear();
    let (again, _) = items(poll(&src, &http, &cursor, now()).await.unwrap());
    assert!(again.iter().all(|m| m.author_followers.is_some()));
    let seen = server.seen();
    assert!(
        seen.iter().all(|s| s.path.ends_with("searchPosts")),
        "{seen:#?}"
    );
    assert_eq!(q(&seen[0], "since"), Some("2026-03-04T10:30:01.000Z"));
}

#[tokio::test]
async fn hackernews_filters_on_the_stored_time_and_pages_by_number() {
    let (server, base) = ApiServer::start(|s| match (s.path.as_str(), q(s, "page")) {
        ("/api/v1/search_by_date", None) => ok("hackernews/search_page1.json"),
        ("/api/v1/search_by_date", Some("1")) => ok("hackernews/search_page2.json"),
        _ => not_found(),
    })
    .await;
    let src = source(&format!(
        "[[source]]\nname = \"hn\"\nkind = \"hackernews\"\nurl = \"{base}\"\nquery = \"acme\"\n"
    ));
    let http = client();
    let (ms, cursor) = items(poll(&src, &http, &Cursor::Start, now()).await.unwrap());
    assert_eq!(ms.len(), 3);
    let c = find(&ms, "https://news.ycombinator.com/item?id=40000003");
    assert_eq!(c.text, "Acme's outage page says \"all good\". It is not.");
    assert_eq!(c.title, "Acme is down for everyone");
    assert_eq!(c.author, "pg_fan");
    assert_eq!(
        c.published,
        DateTime::from_timestamp(1_772_620_200, 0).unwrap()
    );
    let ask = find(&ms, "https://news.ycombinator.com/item?id=40000002");
    assert_eq!(ask.title, "Ask HN: Anyone else locked out of Acme?");
    assert_eq!(ask.text, "Since 9am UTC.");
    let first = &server.seen()[0];
    assert_eq!(q(first, "tags"), Some("(story,comment)"));
    assert_eq!(q(first, "numericFilters"), None, "a first poll backfills");

    server.clear();
    server.set(|_| (200, vec![], r#"{"hits":[],"page":0,"nbPages":0}"#.into()));
    let (none, again) = items(poll(&src, &http, &cursor, now()).await.unwrap());
    assert!(none.is_empty());
    assert_eq!(again, cursor);
    assert_eq!(
        q(&server.seen()[0], "numericFilters"),
        Some("created_at_i>=1772620200")
    );
}

#[tokio::test]
async fn youtube_reads_videos_and_their_comments_and_stops_when_the_quota_is_spent() {
    let (server, base) =
        ApiServer::start(
            |s| match (s.path.as_str(), q(s, "pageToken"), q(s, "videoId")) {
                ("/youtube/v3/search", None, _) => ok("youtube/search_page1.json"),
                ("/youtube/v3/search", Some("CAIQAA"), _) => ok("youtube/search_page2.json"),
                ("/youtube/v3/commentThreads", _, Some("vidAcme03")) => {
                    ok("youtube/comments_vidAcme03.json")
                }
                ("/youtube/v3/commentThreads", _, Some(_)) => (
                    200,
                    vec![],
                    r#"{"kind":"youtube#commentThreadListResponse","items":[]}"#.into(),
                ),
                _ => not_found(),
            },
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let key = secret(dir.path(), "key", "AIza-test-key");
    let src = source(&format!(
        "[[source]]\nname = \"yt\"\nkind = \"youtube\"\nurl = \"{base}\"\nquery = \"acme\"\napi_key_file = \"{key}\"\ndaily_quota = 300\n"
    ));
    let http = client();
    let (ms, cursor) = items(poll(&src, &http, &Cursor::Start, now()).await.unwrap());
    assert_eq!(ms.len(), 4, "{ms:#?}");
    let v = find(&ms, "https://www.youtube.com/watch?v=vidAcme03");
    assert_eq!(v.title, "Acme : l'arnaque du siècle ?");
    assert_eq!(v.text, "On a testé le SAV d'Acme & voilà...");
    assert_eq!(v.author, "Conso Enquête");
    assert_eq!(v.published, at("2026-03-04T10:30:00Z"));
    let c = find(&ms, "https://www.youtube.com/watch?v=vidAcme03&lc=UgzAcme1");
    assert_eq!(c.text, "Même problème, Acme ne rembourse pas");
    assert_eq!(c.author, "Julie R.");
    let seen = server.seen();
    // The key travels in a header, never in a URL that could be logged.
    assert!(
        seen.iter()
            .all(|s| s.headers.get("x-goog-api-key").unwrap() == "AIza-test-key")
    );
    assert!(seen.iter().all(|s| !s.query.contains_key("key")));
    assert_eq!(
        seen.iter().filter(|s| s.path.ends_with("search")).count(),
        2
    );
    assert_eq!(
        seen.iter()
            .filter(|s| s.path.ends_with("commentThreads"))
            .count(),
        3
    );

    // 2 searches (200) + 3 comment pages (3) spent of 300: the next search
    // (100) would overspend, so nothing is asked until the reset.
    server.clear();
    let err = poll(&src, &http, &cursor, now()).await.unwrap_err();
    assert_eq!(err.reason(), "quota");
    assert!(!err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(8 * 3600)));
    assert!(
        err.to_string().contains("daily quota of 300 units spent"),
        "{err}"
    );
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn discourse_reads_latest_posts_with_before_and_the_search() {
    let (server, base) = ApiServer::start(|s| match (s.path.as_str(), q(s, "before")) {
        ("/forum/posts.json", None) => ok("discourse/posts_page1.json"),
        ("/forum/posts.json", Some("302")) => ok("discourse/posts_page2.json"),
        ("/forum/posts.json", Some("301")) => (200, vec![], r#"{"latest_posts":[]}"#.into()),
        ("/forum/search.json", _) => ok("discourse/search.json"),
        _ => not_found(),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let key = secret(dir.path(), "key", "discourse-key");
    let src = source(&format!(
        "[[source]]\nname = \"forum\"\nkind = \"discourse\"\nurl = \"{base}/forum/\"\napi_key_file = \"{key}\"\napi_username = \"veille\"\n"
    ));
    let http = client();
    let (ms, cursor) = items(poll(&src, &http, &Cursor::Start, now()).await.unwrap());
    assert_eq!(ms.len(), 3);
    let m = find(&ms, &format!("{base}/forum/t/acme-conditions/77/3"));
    assert_eq!(m.text, "Acme a encore changé ses conditions.");
    assert_eq!(m.title, "Acme & ses conditions");
    assert_eq!(m.author, "lea");
    assert_eq!(m.published, at("2026-03-04T10:30:00Z"));
    assert_eq!(cursor_position(&cursor, ""), Some("303"));
    let seen = server.seen();
    assert!(
        seen.iter()
            .all(|s| s.headers.get("api-key").unwrap() == "discourse-key"
                && s.headers.get("api-username").unwrap() == "veille")
    );

    let src = source(&format!(
        "[[source]]\nname = \"forum\"\nkind = \"discourse\"\nurl = \"{base}/forum\"\nquery = \"acme\"\n"
    ));
    server.clear();
    let (ms, _) = items(poll(&src, &http, &Cursor::Start, now()).await.unwrap());
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].title, "Acme & ses conditions");
    assert_eq!(q(&server.seen()[0], "q"), Some("acme order:latest"));
}

#[tokio::test]
async fn retry_after_on_429_is_honoured_on_the_first_page_and_midway() {
    let (server, base) = ApiServer::start(|_| {
        (
            429,
            vec![("retry-after", "120".to_string())],
            r#"{"error":"Too many requests"}"#.into(),
        )
    })
    .await;
    let src = source(&format!(
        "[[source]]\nname = \"hn\"\nkind = \"hackernews\"\nurl = \"{base}\"\nquery = \"acme\"\n"
    ));
    let http = client();
    let err = poll(&src, &http, &Cursor::Start, now()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert!(err.is_retryable());
    let delay = veilleur::source::next_delay(src.interval, 1, err.retry_after(), 0.5);
    assert!(delay >= Duration::from_secs(120), "{delay:?}");

    // Midway: page 1 is kept, and the wait asked for stands.
    server.set(|s| match q(s, "page") {
        None => ok("hackernews/search_page1.json"),
        Some(_) => (503, vec![("retry-after", "300".to_string())], "{}".into()),
    });
    let got = poll(&src, &http, &Cursor::Start, now()).await.unwrap();
    let Poll::Partial {
        mentions, error, ..
    } = got
    else {
        panic!("expected a partial poll, got {got:?}");
    };
    assert_eq!(mentions.len(), 2);
    assert_eq!(error.0.retry_after(), Some(Duration::from_secs(300)));
}

#[test]
fn api_kinds_refuse_inline_secrets_and_missing_keys() {
    let bad = |table: &str| -> String {
        let text = format!("{DAEMON}\n[[source]]\nname = \"s\"\n{table}");
        let d = Config::parse(Path::new("/etc/veilleur/veilleur.toml"), &text).unwrap_err();
        d.iter().map(|d| d.render()).collect::<Vec<_>>().join("\n")
    };
    let e = bad("kind = \"mastodon\"\ntoken = \"inline\"\nhashtags = [\"a\"]\n");
    assert!(e.contains("does not take `token`"), "{e}");
    let e = bad("kind = \"mastodon\"\n");
    assert!(e.contains("needs `hashtags`, `query` or both"), "{e}");
    let e = bad("kind = \"youtube\"\nquery = \"acme\"\n");
    assert!(e.contains("needs api_key_env or api_key_file"), "{e}");
    let e = bad("kind = \"discourse\"\n");
    assert!(e.contains("needs `url`"), "{e}");
    let e = bad("kind = \"reddit\"\nquery = \"a\"\nclient_id_env = \"X\"\n");
    assert!(e.contains("needs both client_id_env"), "{e}");
    let e = bad("kind = \"hackernews\"\nquery = \"a\"\nmax_pages = 0\n");
    assert!(e.contains("max_pages must be between 1 and 1000"), "{e}");
    for kind in ["hackernews", "bluesky", "reddit"] {
        let e = bad(&format!("kind = \"{kind}\"\n"));
        assert!(e.contains("needs `query`"), "{kind}: {e}");
        let e = bad(&format!("kind = \"{kind}\"\nquery = \"  \"\n"));
        assert!(e.contains("`query` must not be empty"), "{kind}: {e}");
    }
    let e = bad("kind = \"mastodon\"\nquery = \" \"\n");
    assert!(e.contains("`query` must not be empty"), "{e}");
    let e = bad("kind = \"discourse\"\nurl = \"https://forum.example\"\nquery = \"\"\n");
    assert!(e.contains("leave it out to read the latest posts"), "{e}");
    let e = bad("kind = \"telepathy\"\n");
    assert!(
        e.contains(
            "expected feed, html, mastodon, reddit, bluesky, hackernews, youtube, discourse"
        ),
        "{e}"
    );
}

/// Every kind's API on one server, as the daemon test serves them.
fn all_apis(s: &Seen) -> Answer {
    let p = s.path.as_str();
    if p.starts_with("/api/v1/timelines") || p.starts_with("/api/v2/search") {
        return mastodon_script(s);
    }
    match (
        p,
        q(s, "after"),
        q(s, "cursor"),
        q(s, "page"),
        q(s, "pageToken"),
    ) {
        ("/search.json", None, ..) => ok("reddit/search_page1.json"),
        ("/search.json", Some("t1_c2"), ..) => ok("reddit/search_page2.json"),
        ("/xrpc/app.bsky.feed.searchPosts", _, None, ..) => ok("bluesky/search_page1.json"),
        ("/xrpc/app.bsky.feed.searchPosts", _, Some("100"), ..) => ok("bluesky/search_page2.json"),
        ("/xrpc/app.bsky.actor.getProfiles", ..) => ok("bluesky/profiles.json"),
        ("/api/v1/search_by_date", _, _, None, _) => ok("hackernews/search_page1.json"),
        ("/api/v1/search_by_date", _, _, Some("1"), _) => ok("hackernews/search_page2.json"),
        ("/youtube/v3/search", _, _, _, None) => ok("youtube/search_page1.json"),
        ("/youtube/v3/search", _, _, _, Some("CAIQAA")) => ok("youtube/search_page2.json"),
        ("/youtube/v3/commentThreads", ..) if q(s, "videoId") == Some("vidAcme03") => {
            ok("youtube/comments_vidAcme03.json")
        }
        ("/youtube/v3/commentThreads", ..) => (
            200,
            vec![],
            r#"{"kind":"youtube#commentThreadListResponse","items":[]}"#.into(),
        ),
        ("/d/posts.json", _, _, _, _) => match q(s, "before") {
            None => ok("discourse/posts_page1.json"),
            Some("302") => ok("discourse/posts_page2.json"),
            Some(_) => (200, vec![], r#"{"latest_posts":[]}"#.into()),
        },
        _ => not_found(),
    }
}

fn daemon_config(dir: &Path, base: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(
        dir.join("rules/acme.toml"),
        "[watch]\nname = \"acme\"\nquery = 'acme'\n",
    )
    .unwrap();
    let key = secret(dir, "yt-key", "AIza-test-key");
    let common = "interval = \"2s\"\nbackfill = \"3650d\"\n";
    let config = dir.join("veilleur.toml");
    std::fs::write(
        &config,
        format!(
            "{DAEMON}
[[source]]
name = \"masto\"
kind = \"mastodon\"
url = \"{base}\"
hashtags = [\"acme\"]
query = \"acme\"
{common}
[[source]]
name = \"rd\"
kind = \"reddit\"
url = \"{base}\"
query = \"acme\"
{common}
[[source]]
name = \"sky\"
kind = \"bluesky\"
url = \"{base}\"
query = \"acme\"
{common}
[[source]]
name = \"hn\"
kind = \"hackernews\"
url = \"{base}\"
query = \"acme\"
{common}
[[source]]
name = \"yt\"
kind = \"youtube\"
url = \"{base}\"
query = \"acme\"
api_key_file = \"{key}\"
{common}
[[source]]
name = \"forum\"
kind = \"discourse\"
url = \"{base}/d\"
{common}"
        ),
    )
    .unwrap();
    config
}

/// The hits of `source:NAME`, as (url, author, followers, published, text).
fn listed(config: &Path, name: &str) -> Vec<(String, String, Option<u64>, String, String)> {
    let mut v: Vec<_> = search_json(config, &format!("source:{name}"))
        .into_iter()
        .map(|m| {
            (
                m["url"].as_str().unwrap().to_string(),
                m["author"].as_str().unwrap().to_string(),
                m["author_followers"].as_u64(),
                m["published"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_indexes_every_kind_searchable_by_source_and_resumes_after_a_restart() {
    veilleur::install_crypto_provider();
    let (server, base) = ApiServer::start(all_apis).await;
    let dir = tempfile::tempdir().unwrap();
    let config = daemon_config(dir.path(), &base);

    // 4 masto + 3 rd + 3 sky + 3 hn + 3 yt videos + 1 comment + 3 forum.
    let d = common::start_daemon(&config, None).await;
    let text = d.metrics_until("veilleur_index_documents", 20.0).await;
    d.stop().await;
    assert_eq!(
        common::metric(&text, "veilleur_index_documents"),
        Some(20.0),
        "{text}"
    );

    let masto = listed(&config, "masto");
    assert_eq!(masto.len(), 4);
    assert!(
        masto.contains(&(
            "https://social.example/@lea/1003".into(),
            "lea".into(),
            Some(5400),
            "2026-03-04T10:30:00Z".into(),
            "Encore une #Acme en panne ce matin !".into()
        )),
        "{masto:#?}"
    );
    let sky = listed(&config, "sky");
    assert_eq!(sky.len(), 3);
    assert!(
        sky.iter().any(|m| m.0.ends_with("/3lacme2")
            && m.1 == "marc.example.social"
            && m.2 == Some(12)
            && m.3 == "2026-03-04T10:00:00Z"),
        "{sky:#?}"
    );
    let rd = listed(&config, "rd");
    assert_eq!(rd.len(), 3);
    assert!(
        rd.iter().any(
            |m| m.0 == "https://www.reddit.com/r/france/comments/r3/post_r3/"
                && m.1 == "camille"
                && m.3 == "2026-03-04T10:30:00Z"
        ),
        "{rd:#?}"
    );
    let hn = listed(&config, "hn");
    assert_eq!(hn.len(), 3);
    assert!(
        hn.iter()
            .any(|m| m.0 == "https://news.ycombinator.com/item?id=40000003"
                && m.1 == "pg_fan"
                && m.4 == "Acme's outage page says \"all good\". It is not."),
        "{hn:#?}"
    );
    let yt = listed(&config, "yt");
    assert_eq!(yt.len(), 4);
    assert!(
        yt.iter().any(
            |m| m.0 == "https://www.youtube.com/watch?v=vidAcme03&lc=UgzAcme1"
                && m.1 == "Julie R."
                && m.3 == "2026-03-04T11:00:00Z"
        ),
        "{yt:#?}"
    );
    let forum = listed(&config, "forum");
    assert_eq!(forum.len(), 3);
    assert!(
        forum
            .iter()
            .any(|m| m.0 == format!("{base}/d/t/acme-conditions/77/3")
                && m.1 == "lea"
                && m.4 == "Acme a encore changé ses conditions."),
        "{forum:#?}"
    );

    // Restart with new items: each source resumes from its stored cursor.
    server.clear();
    server.set(|s| match (s.path.as_str(), q(s, "min_id"), q(s, "after")) {
        ("/api/v1/timelines/tag/acme", Some("1003"), _) => ok("mastodon/tag_newer.json"),
        ("/search.json", _, None) => ok("reddit/search_newer.json"),
        _ => all_apis(s),
    });
    let d = common::start_daemon(&config, None).await;
    let text = d.metrics_until("veilleur_index_documents", 23.0).await;
    // A few more polls: nothing new may come in twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let text_later = d.metrics().await;
    d.stop().await;
    assert_eq!(
        common::metric(&text, "veilleur_index_documents"),
        Some(23.0),
        "{text}"
    );
    assert_eq!(
        common::metric(&text_later, "veilleur_index_documents"),
        Some(23.0),
        "{text_later}"
    );
    let seen = server.seen();
    let tag: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path == "/api/v1/timelines/tag/acme")
        .collect();
    assert!(!tag.is_empty());
    assert!(
        tag.iter().all(|s| q(s, "min_id").is_some()),
        "no backfill again after a restart: {tag:#?}"
    );
    let hn: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path == "/api/v1/search_by_date")
        .collect();
    assert!(
        hn.iter()
            .all(|s| q(s, "numericFilters") == Some("created_at_i>=1772620200")),
        "{hn:#?}"
    );

    let masto = listed(&config, "masto");
    assert_eq!(masto.len(), 6, "{masto:#?}");
    let rd = listed(&config, "rd");
    assert_eq!(rd.len(), 4, "{rd:#?}");
    for name in ["masto", "rd", "sky", "hn", "yt", "forum"] {
        let urls: Vec<String> = listed(&config, name).into_iter().map(|m| m.0).collect();
        let mut unique = urls.clone();
        unique.dedup();
        assert_eq!(urls, unique, "{name}: no duplicate");
    }
}

#[test]
fn readme_and_deploy_source_examples_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let md = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = md
        .split("## Sources: social networks and forums")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the README section on social sources");
    let mut kinds = Vec::new();
    for block in section.split("```toml").skip(1) {
        let block = block.split("```").next().unwrap();
        if !block.contains("[[source]]") {
            continue;
        }
        let src = source(block);
        kinds.push(src.kind.name());
    }
    assert_eq!(
        kinds,
        [
            "mastodon",
            "reddit",
            "bluesky",
            "hackernews",
            "youtube",
            "discourse",
            "html",
            "html"
        ]
    );
    let deploy = std::fs::read_to_string(root.join("deploy/veilleur.toml")).unwrap();
    let cfg = Config::parse(Path::new("/etc/veilleur/veilleur.toml"), &deploy)
        .unwrap_or_else(|d| panic!("{d:#?}"));
    let deployed: Vec<&str> = cfg.sources.iter().map(|s| s.kind.name()).collect();
    // The API kinds are shown live in the example config; html (a forum of
    // the user's) is shown commented out.
    for k in kinds.into_iter().filter(|k| *k != "html") {
        assert!(
            deployed.contains(&k),
            "deploy/veilleur.toml shows no {k} source"
        );
    }
}

#[test]
fn conformance_reports_each_file_and_exits_zero_unless_the_dir_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/social");
    for kind in ["hackernews", "discourse"] {
        std::fs::create_dir_all(dir.path().join("social").join(kind)).unwrap();
    }
    std::fs::copy(
        root.join("hackernews/search_page1.json"),
        dir.path().join("social/hackernews/page1.json"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("social/discourse/broken.json"),
        "{\"latest_posts\": [",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("feeds")).unwrap();
    std::fs::write(
        dir.path().join("feeds/one.xml"),
        "<rss version=\"2.0\"><channel><title>t</title><item><title>Acme</title><link>http://example.org/a</link></item></channel></rss>",
    )
    .unwrap();
    let run = |d: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_veilleur"))
            .arg("conformance")
            .arg(d)
            .output()
            .unwrap()
    };
    let out = run(dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok      feeds/one.xml: 1 mentions"), "{text}");
    assert!(
        text.contains("ok      social/hackernews/page1.json: 2 mentions"),
        "{text}"
    );
    assert!(
        text.contains("failed  social/discourse/broken.json: cannot parse"),
        "{text}"
    );
    assert!(text.ends_with("2 of 3 parsed\n"), "{text}");
    assert!(!run(&dir.path().join("missing")).status.success());
}

#[tokio::test]
async fn a_burst_larger_than_max_pages_is_read_over_the_next_polls() {
    let (server, base) = ApiServer::start(reddit_script).await;
    let src = source(&format!(
        "[[source]]\nname = \"rd\"\nkind = \"reddit\"\nurl = \"{base}\"\nquery = \"acme\"\nsubreddits = [\"france\"]\nmax_pages = 1\n"
    ));
    let http = client();
    // Stored: a position older than everything served.
    let stored = Cursor::Positions {
        positions: [("r/france".to_string(), "1772618000".to_string())].into(),
    };
    let (first, cursor) = items(poll(&src, &http, &stored, now()).await.unwrap());
    assert_eq!(first.len(), 2, "one page only");
    assert!(
        cursor_position(&cursor, "r/france#gap").is_some(),
        "{cursor:?}"
    );
    let (second, cursor) = items(poll(&src, &http, &cursor, now()).await.unwrap());
    assert_eq!(cursor_position(&cursor, "r/france#gap"), None);
    assert_eq!(cursor_position(&cursor, "r/france"), Some("1772620200"));
    let mut urls: Vec<&str> = first
        .iter()
        .chain(&second)
        .map(|m| m.url.as_str())
        .collect();
    urls.sort();
    urls.dedup();
    assert_eq!(urls.len(), 3, "every item read, none lost: {urls:#?}");
    let seen = server.seen();
    let afters: Vec<Option<&str>> = seen.iter().map(|s| q(s, "after")).collect();
    assert_eq!(afters, [None, Some("t1_c2"), None]);
}
