//! Feed sources end to end: the shared HTTP client against a real HTTP server
//! on loopback (conditional GET, compression, size cap, timeouts, status
//! classification, robots.txt, Crawl-delay and the per-host rate limit), and the feed parser on the fixtures in
//! `tests/fixtures/feeds/` (RSS 2.0, Atom, JSON Feed, RSS 1.0, Latin-1,
//! relative links, malformed).

use std::io::Write;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use url::Url;
use veilleur::config::{SourceConfig, SourceKind};
use veilleur::mention::{Mention, id_for};
use veilleur::source::Cursor;
use veilleur::source::feed::FeedConfig;
use veilleur::source::feed::{FeedError, parse_feed, parse_feed_with_content_type};
use veilleur::source::http::{FetchError, Fetched, HttpClient, Validators};
use veilleur::source::{Poll, SourceError, poll};

const RSS_FR: &[u8] = include_bytes!("fixtures/feeds/rss2_fr.xml");
const ATOM: &[u8] = include_bytes!("fixtures/feeds/atom.xml");
const JSON_FEED: &[u8] = include_bytes!("fixtures/feeds/jsonfeed.json");
const RSS1: &[u8] = include_bytes!("fixtures/feeds/rss1.rdf");
const LATIN1: &[u8] = include_bytes!("fixtures/feeds/latin1.xml");
const LATIN1_UNDECLARED: &[u8] = include_bytes!("fixtures/feeds/latin1_undeclared.xml");
const RELATIVE: &[u8] = include_bytes!("fixtures/feeds/relative.xml");
const MALFORMED: &[u8] = include_bytes!("fixtures/feeds/malformed.xml");
const NOT_A_FEED: &[u8] = include_bytes!("fixtures/feeds/not_a_feed.html");

const ETAG: &str = "\"v1\"";
const LAST_MODIFIED: &str = "Wed, 04 Mar 2026 12:00:00 GMT";
const BIG: usize = 256 * 1024;

fn now() -> DateTime<Utc> {
    "2026-03-10T00:00:00Z".parse().unwrap()
}

fn feed_url() -> Url {
    Url::parse("https://feeds.example.org/veille/feed.xml").unwrap()
}

async fn conditional(headers: HeaderMap) -> Response {
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if inm == Some(ETAG) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/rss+xml; charset=utf-8"),
            (header::ETAG, ETAG),
            (header::LAST_MODIFIED, LAST_MODIFIED),
        ],
        RSS_FR,
    )
        .into_response()
}

async fn gzipped(headers: HeaderMap) -> Response {
    let accepts = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    if !accepts {
        return (StatusCode::BAD_REQUEST, "client must accept gzip").into_response();
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(ATOM).unwrap();
    let body = enc.finish().unwrap();
    (
        [
            (header::CONTENT_TYPE, "application/atom+xml"),
            (header::CONTENT_ENCODING, "gzip"),
        ],
        body,
    )
        .into_response()
}

/// A gzip bomb in miniature: small on the wire, over the cap once inflated.
async fn gzip_bomb() -> Response {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![b' '; BIG * 4]).unwrap();
    ([(header::CONTENT_ENCODING, "gzip")], enc.finish().unwrap()).into_response()
}

/// Announces its length.
async fn big() -> Vec<u8> {
    vec![b'x'; BIG]
}

/// Chunked, no Content-Length, and never ends: only the cap stops it.
async fn endless() -> Response {
    let chunk = bytes_of(16 * 1024);
    let stream = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
    Body::from_stream(stream).into_response()
}

fn bytes_of(n: usize) -> Vec<u8> {
    vec![b'y'; n]
}

async fn hang() -> &'static str {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    "too late"
}

/// Headers at once, then a body that stalls after the first chunk.
async fn stall_body() -> Response {
    let first =
        futures::stream::once(async { Ok::<_, std::io::Error>(b"<rss version=\"2.0\">".to_vec()) });
    let stall = futures::stream::once(async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok::<_, std::io::Error>(Vec::new())
    });
    Body::from_stream(futures::StreamExt::chain(first, stall)).into_response()
}

async fn spawn_server() -> Url {
    let app = Router::new()
        .route("/feed.xml", get(conditional))
        .route(
            "/redirect",
            get(|| async { axum::response::Redirect::temporary("/feed.xml") }),
        )
        .route(
            "/loop",
            get(|| async { axum::response::Redirect::temporary("/loop") }),
        )
        .route("/gzip.xml", get(gzipped))
        .route("/bomb", get(gzip_bomb))
        .route("/big", get(big))
        .route("/endless", get(endless))
        .route("/hang", get(hang))
        .route("/stall", get(stall_body))
        .route(
            "/html",
            get(|| async { ([(header::CONTENT_TYPE, "text/html")], NOT_A_FEED) }),
        )
        .route("/500", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route("/404", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/429",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "120")],
                )
            }),
        )
        .route(
            "/503",
            get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "Fri, 31 Dec 1999 23:59:59 GMT")],
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Url::parse(&format!("http://{addr}/")).unwrap()
}

fn client() -> HttpClient {
    veilleur::install_crypto_provider();
    HttpClient::new("veilleur-test/0.1 (+https://example.org)").unwrap()
}

const TIMEOUT: Duration = Duration::from_secs(5);
const CAP: u64 = 64 * 1024;

async fn fetch(base: &Url, path: &str) -> Result<Fetched, FetchError> {
    client()
        .fetch(
            &base.join(path).unwrap(),
            &Validators::default(),
            TIMEOUT,
            CAP,
        )
        .await
}

#[tokio::test]
async fn conditional_get_round_trips_validators_and_gets_not_modified() {
    let base = spawn_server().await;
    let url = base.join("feed.xml").unwrap();
    let http = client();
    let first = http
        .fetch(&url, &Validators::default(), TIMEOUT, CAP)
        .await
        .unwrap();
    let Fetched::Body {
        bytes,
        content_type,
        validators,
        final_url,
        headers,
    } = first
    else {
        panic!("expected a body, got {first:?}");
    };
    assert_eq!(bytes, RSS_FR);
    assert_eq!(
        content_type.as_deref(),
        Some("application/rss+xml; charset=utf-8")
    );
    assert_eq!(final_url, url);
    assert_eq!(
        validators,
        Validators {
            etag: Some(ETAG.into()),
            last_modified: Some(LAST_MODIFIED.into()),
        }
    );
    assert_eq!(
        headers.get("etag").and_then(|v| v.to_str().ok()),
        Some(ETAG)
    );
    // The validators survive the state store's serialisation, as a cursor…
    let stored = Cursor::Http(validators.clone()).to_bytes();
    assert_eq!(
        Cursor::from_bytes(&stored).unwrap().validators(),
        validators
    );
    // …and as the bare validators JSON a daemon stored before cursors.
    let old = serde_json::to_vec(&validators).unwrap();
    let validators = Cursor::from_bytes(&old).unwrap().validators();
    let second = http.fetch(&url, &validators, TIMEOUT, CAP).await.unwrap();
    assert_eq!(second, Fetched::NotModified);
}

#[tokio::test]
async fn redirect_is_followed_and_final_url_reported() {
    let base = spawn_server().await;
    let Fetched::Body { final_url, .. } = fetch(&base, "redirect").await.unwrap() else {
        panic!("expected a body");
    };
    assert_eq!(final_url, base.join("feed.xml").unwrap());
    let err = fetch(&base, "loop").await.unwrap_err();
    assert_eq!(err.reason(), "redirect", "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn gzip_body_is_decompressed() {
    let base = spawn_server().await;
    let Fetched::Body { bytes, .. } = fetch(&base, "gzip.xml").await.unwrap() else {
        panic!("expected a body");
    };
    assert_eq!(bytes, ATOM);
}

#[tokio::test]
async fn body_over_the_cap_is_too_large() {
    let base = spawn_server().await;
    for path in ["big", "endless", "bomb"] {
        let err = fetch(&base, path).await.unwrap_err();
        assert!(
            matches!(err, FetchError::TooLarge { limit: CAP, .. }),
            "{path}: {err}"
        );
        assert_eq!(err.reason(), "too_large");
        assert!(!err.is_retryable());
        assert!(err.to_string().contains(path), "{err}");
    }
    // The same body under a larger cap is fine.
    let url = base.join("big").unwrap();
    let ok = client()
        .fetch(&url, &Validators::default(), TIMEOUT, BIG as u64)
        .await
        .unwrap();
    assert!(matches!(ok, Fetched::Body { ref bytes, .. } if bytes.len() == BIG));
}

#[tokio::test]
async fn hanging_server_times_out_within_the_timeout() {
    let base = spawn_server().await;
    let timeout = Duration::from_millis(300);
    for path in ["hang", "stall"] {
        let url = base.join(path).unwrap();
        let started = Instant::now();
        let err = client()
            .fetch(&url, &Validators::default(), timeout, CAP)
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.reason(), "timeout", "{path}: {err}");
        assert!(err.is_retryable());
        assert!(
            took >= timeout && took < timeout + Duration::from_secs(2),
            "{path}: {took:?}"
        );
    }
}

#[tokio::test]
async fn server_errors_are_retryable_client_errors_are_not() {
    let base = spawn_server().await;
    let err = fetch(&base, "500").await.unwrap_err();
    assert_eq!(err.reason(), "status");
    assert!(err.is_retryable());
    assert_eq!(
        err.to_string(),
        format!("GET {}500: server answered 500 Internal Server Error", base)
    );

    let err = fetch(&base, "404").await.unwrap_err();
    assert_eq!(err.reason(), "status");
    assert!(!err.is_retryable());
    assert!(
        err.to_string().ends_with("server answered 404 Not Found"),
        "{err}"
    );

    let err = fetch(&base, "429").await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));

    // An HTTP date in the past means "now".
    let err = fetch(&base, "503").await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::ZERO));
}

#[tokio::test]
async fn refused_connection_is_a_retryable_connect_error() {
    // Bind then drop: nothing listens on that port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = Url::parse(&format!("http://127.0.0.1:{port}/feed.xml")).unwrap();
    let err = client()
        .fetch(&url, &Validators::default(), TIMEOUT, CAP)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "connect", "{err}");
    assert!(err.is_retryable());
}

fn source(base: &Url, path: &str) -> SourceConfig {
    SourceConfig {
        name: "presse".into(),
        kind: SourceKind::Feed(FeedConfig {
            url: base.join(path).unwrap(),
        }),
        interval: Duration::from_secs(300),
        timeout: TIMEOUT,
        max_body_bytes: CAP,
    }
}

#[tokio::test]
async fn poll_parses_then_reports_not_modified() {
    let base = spawn_server().await;
    let cfg = source(&base, "feed.xml");
    let http = client();
    let Poll::Items { mentions, cursor } = poll(&cfg, &http, &Cursor::Start, now()).await.unwrap()
    else {
        panic!("expected items");
    };
    assert_eq!(mentions.len(), 4);
    assert!(mentions.iter().all(|m| m.source == "presse"));
    assert_eq!(cursor.validators().etag.as_deref(), Some(ETAG));
    let again = poll(&cfg, &http, &cursor, now()).await.unwrap();
    assert_eq!(again, Poll::NotModified);
    // An upgraded daemon reads the validators stored before cursors and
    // still polls conditionally.
    let old = br#"{"etag":"\"v1\"","last_modified":null}"#;
    let again = poll(&cfg, &http, &Cursor::from_bytes(old).unwrap(), now())
        .await
        .unwrap();
    assert_eq!(again, Poll::NotModified);
}

#[tokio::test]
async fn poll_errors_carry_reason_and_retryability() {
    let base = spawn_server().await;
    let http = client();
    let err = poll(&source(&base, "html"), &http, &Cursor::Start, now())
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Feed(_)), "{err}");
    assert_eq!(err.reason(), "parse");
    assert!(err.to_string().contains("HTML page"), "{err}");
    assert!(!err.is_retryable());
    let err = poll(&source(&base, "404"), &http, &Cursor::Start, now())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "status");
    assert!(!err.is_retryable());
    let err = poll(&source(&base, "429"), &http, &Cursor::Start, now())
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
}

// ---- parsing the fixtures -------------------------------------------------

fn parse(body: &[u8]) -> Vec<Mention> {
    parse_feed("presse", &feed_url(), body, now()).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn rss2_french_feed_is_cleaned_and_deduplicated() {
    let ms = parse(RSS_FR);
    let summary: Vec<(&str, &str, &str)> = ms
        .iter()
        .map(|m| (m.url.as_str(), m.title.as_str(), m.text.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "https://presse.example.fr/eco/acme-reclamation.html",
                "Acme : la réclamation des clients s'étend",
                "Les clients d’Acme sont furieux : remboursements bloqués. AT&T n'est pas concerné.",
            ),
            (
                "https://journal.example.com/acme-concurrents?id=42",
                "Google relaie : Acme & ses concurrents",
                "Part de voix & e-réputation",
            ),
            (
                "https://presse.example.fr/futur.html",
                "Article daté du futur",
                "R&D et prix : 5 € & plus",
            ),
            (
                "",
                "Brève sans lien",
                "Un communiqué d'Acme, sans lien ni date."
            ),
        ]
    );
    let first = &ms[0];
    assert_eq!(first.id, id_for(&first.url, "", ""));
    assert_eq!(first.author, "Léa Dupré");
    assert_eq!(first.published, at("2026-03-03T08:30:00Z"));
    assert_eq!(first.source, "presse");
    assert_eq!((first.lang.as_ref(), first.author_followers), (None, None));
    // Future dates are clamped; missing dates are the fetch time.
    assert_eq!(ms[2].published, now());
    assert_eq!(ms[3].published, now());
    assert_eq!(ms[3].id, id_for("", &ms[3].title, &ms[3].text));
}

#[test]
fn same_article_from_two_feeds_has_the_same_id() {
    let a = parse(RSS_FR);
    let other = r#"<rss version="2.0"><channel><item>
        <title>Autre titre</title>
        <link>HTTPS://Presse.Example.FR:443/eco/acme-reclamation.html?fbclid=1</link>
        </item></channel></rss>"#;
    let b = parse(other.as_bytes());
    assert_eq!(a[0].id, b[0].id);
}

#[test]
fn atom_resolves_xml_base_and_decodes_once() {
    let ms = parse(ATOM);
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0].url, "https://blog.example.org/acme/2026/03/reponse");
    assert_eq!(ms[0].title, "Acme répond aux critiques");
    assert_eq!(ms[0].text, "Nous avons entendu vos retours. Merci !");
    assert_eq!(ms[0].author, "Service communication");
    assert_eq!(ms[0].published, at("2026-03-05T06:45:00Z"));
    assert_eq!(ms[1].url, "https://autre.example.net/billet?page=2");
    assert_eq!(ms[1].text, "Texte &nbsp; échappé deux fois");
    assert_eq!(ms[1].published, now());
}

#[test]
fn json_feed_items_become_mentions() {
    let ms = parse(JSON_FEED);
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0].url, "https://news.example.com/acme-recall");
    assert_eq!(ms[0].title, "Acme recalls & apologises");
    assert_eq!(ms[0].text, "Acme recalls its rocket skates.");
    assert_eq!(ms[0].author, "Jane Reporter");
    assert_eq!(ms[0].published, at("2026-03-02T10:00:00Z"));
    assert_eq!(ms[1].url, "https://feeds.example.org/relative-item");
    assert_eq!(ms[1].text, "Plain text item about Acme.");
    assert_eq!(ms[1].published, at("2026-03-01T10:00:00Z"));
}

#[test]
fn rss1_rdf_items_become_mentions() {
    let ms = parse(RSS1);
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].url, "https://rdf.example.org/a");
    assert_eq!(ms[0].author, "R. Dee");
    assert_eq!(ms[0].published, at("2026-02-28T17:00:00Z"));
}

#[test]
fn latin1_feeds_are_decoded_declared_or_not() {
    let ms = parse(LATIN1);
    assert_eq!(ms[0].title, "Acme à l'épreuve : déception générale");
    assert_eq!(ms[0].text, "Très déçus par le service après-vente.");
    let ms = parse(LATIN1_UNDECLARED);
    assert_eq!(ms[0].title, "Café crème brûlée à la chaîne Acme");
    // The HTTP charset is used when the document says nothing.
    let ms = parse_feed_with_content_type(
        "presse",
        &feed_url(),
        LATIN1_UNDECLARED,
        Some("text/xml; charset=ISO-8859-1"),
        now(),
    )
    .unwrap();
    assert_eq!(ms[0].title, "Café crème brûlée à la chaîne Acme");
}

#[test]
fn relative_links_resolve_against_the_feed_url() {
    let urls: Vec<String> = parse(RELATIVE).into_iter().map(|m| m.url).collect();
    assert_eq!(
        urls,
        [
            "https://feeds.example.org/news/1",
            "https://feeds.example.org/veille/2",
            "https://rel.example.org/guid-link",
        ]
    );
}

#[test]
fn malformed_feeds_are_errors_with_the_parser_message() {
    let cases: &[(&[u8], &str)] = &[
        (MALFORMED, "CDATA not closed"),
        (NOT_A_FEED, "HTML page"),
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (b"just words", "neither XML nor JSON"),
        (b"{\"version\": 3", "JSON"),
        (
            b"<rss version=\"2.0\"><channel><item><title>x</ti",
            "unable to parse XML",
        ),
    ];
    for (body, needle) in cases {
        let err = parse_feed("presse", &feed_url(), body, now()).unwrap_err();
        assert_eq!(err.reason(), "parse");
        let not_a_feed = matches!(err, FeedError::NotAFeed { .. });
        assert_eq!(not_a_feed, !err.is_retryable());
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot parse feed https://feeds.example.org/"),
            "{msg}"
        );
        assert!(msg.contains(needle), "{msg} should mention {needle}");
    }
}

#[test]
fn hostile_feeds_neither_panic_nor_hang() {
    let deep = format!(
        "<rss version=\"2.0\"><channel><item><title>t</title><description>{}x{}</description></item></channel></rss>",
        "&lt;div&gt;".repeat(50_000),
        "&lt;/div&gt;".repeat(50_000)
    );
    let started = Instant::now();
    let ms = parse(deep.as_bytes());
    assert_eq!(ms[0].text, "x");
    let nested = "<a>".repeat(100_000);
    let _ = parse_feed("presse", &feed_url(), nested.as_bytes(), now());
    let amps = format!("<rss>{}</rss>", "&".repeat(200_000));
    let _ = parse_feed("presse", &feed_url(), amps.as_bytes(), now());
    let garbage: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let _ = parse_feed("presse", &feed_url(), &garbage, now());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

// ---- politeness: robots.txt and the per-host rate limit --------------------

/// A feed server whose robots.txt is `robots` (status and body; `None`: no
/// route, so 404) and that counts requests per path.
#[derive(Clone, Default)]
struct PoliteServer {
    robots: Option<(StatusCode, &'static str)>,
    hits: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

impl PoliteServer {
    async fn start(robots: Option<(StatusCode, &'static str)>) -> (PoliteServer, Url) {
        let s = PoliteServer {
            robots,
            ..PoliteServer::default()
        };
        let app = Router::new().fallback(polite_page).with_state(s.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (s, Url::parse(&format!("http://{addr}/")).unwrap())
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

async fn polite_page(
    axum::extract::State(s): axum::extract::State<PoliteServer>,
    uri: axum::http::Uri,
) -> Response {
    *s.hits
        .lock()
        .unwrap()
        .entry(uri.path().to_string())
        .or_default() += 1;
    match (uri.path(), s.robots) {
        ("/robots.txt", Some((status, body))) => (status, body).into_response(),
        ("/robots.txt", None) => StatusCode::NOT_FOUND.into_response(),
        (p, _) if p.ends_with(".xml") => {
            ([(header::CONTENT_TYPE, "application/rss+xml")], RSS_FR).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::test]
async fn robots_disallow_is_a_robots_error_and_the_feed_is_never_requested() {
    let robots = "User-agent: *\nAllow: /\n\nUser-agent: veilleur-test\nDisallow: /private/\n";
    let (server, base) = PoliteServer::start(Some((StatusCode::OK, robots))).await;
    let http = client();
    let url = base.join("private/feed.xml?q=acme").unwrap();
    for _ in 0..2 {
        let err = http
            .fetch(&url, &Validators::default(), TIMEOUT, CAP)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Robots { .. }), "{err}");
        assert_eq!(err.reason(), "robots");
        assert!(!err.is_retryable());
        assert_eq!(err.retry_after(), None);
        let origin = base.as_str().trim_end_matches('/');
        assert_eq!(
            err.to_string(),
            format!(
                "robots.txt of {origin} disallows /private/feed.xml?q=acme for veilleur-test; \
                 ask the site to allow it or remove the source"
            )
        );
    }
    // Through a poll too, and other paths stay allowed.
    let err = poll(
        &source(&base, "private/other.xml"),
        &http,
        &Cursor::Start,
        now(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason(), "robots");
    assert!(!err.is_retryable());
    let ok = poll(&source(&base, "public.xml"), &http, &Cursor::Start, now()).await;
    assert!(matches!(ok, Ok(Poll::Items { .. })), "{ok:?}");
    assert_eq!(server.hits("/private/feed.xml"), 0);
    assert_eq!(server.hits("/private/other.xml"), 0);
    assert_eq!(server.hits("/public.xml"), 1);
    assert_eq!(server.hits("/robots.txt"), 1);
}

#[tokio::test]
async fn robots_404_allows_everything() {
    let (server, base) = PoliteServer::start(None).await;
    let got = fetch(&base, "feed.xml").await.unwrap();
    assert!(matches!(got, Fetched::Body { ref bytes, .. } if bytes == RSS_FR));
    assert_eq!(server.hits("/robots.txt"), 1);
    assert_eq!(server.hits("/feed.xml"), 1);
    // A robots.txt that forbids nothing to us is the same.
    let (server, base) = PoliteServer::start(Some((
        StatusCode::OK,
        "User-agent: otherbot\nDisallow: /\n",
    )))
    .await;
    assert!(fetch(&base, "feed.xml").await.is_ok());
    assert_eq!(server.hits("/feed.xml"), 1);
}

#[tokio::test]
async fn robots_txt_is_read_once_per_origin_for_many_fetches() {
    let (server, base) =
        PoliteServer::start(Some((StatusCode::OK, "User-agent: *\nDisallow:\n"))).await;
    let http = client();
    // Concurrent fetches on a cold cache wait for one robots.txt read…
    let urls: Vec<Url> = (0..4)
        .map(|i| base.join(&format!("f{i}.xml")).unwrap())
        .collect();
    const NO_VALIDATORS: Validators = Validators {
        etag: None,
        last_modified: None,
    };
    let results = futures::future::join_all(
        urls.iter()
            .map(|u| http.fetch(u, &NO_VALIDATORS, TIMEOUT, CAP)),
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // …and later ones use the cache, clones of the client included.
    for u in &urls {
        http.clone()
            .fetch(u, &Validators::default(), TIMEOUT, CAP)
            .await
            .unwrap();
    }
    assert_eq!(server.hits("/robots.txt"), 1);
    assert_eq!(server.hits("/f0.xml"), 2);
}

#[tokio::test]
async fn unreachable_robots_txt_holds_the_feed_with_a_retryable_error() {
    let (server, base) = PoliteServer::start(Some((StatusCode::SERVICE_UNAVAILABLE, "down"))).await;
    let http = client();
    let url = base.join("feed.xml").unwrap();
    for _ in 0..2 {
        let err = http
            .fetch(&url, &Validators::default(), TIMEOUT, CAP)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::RobotsUnreachable { .. }), "{err}");
        assert_eq!(err.reason(), "status");
        assert!(err.is_retryable());
        // Asked again in a minute at the earliest.
        let wait = err.retry_after().unwrap();
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("robots.txt"), "{msg}");
        assert!(msg.contains("503 Service Unavailable"), "{msg}");
    }
    // The failure is cached: one robots.txt request, no feed request.
    assert_eq!(server.hits("/robots.txt"), 1);
    assert_eq!(server.hits("/feed.xml"), 0);
}

#[tokio::test]
async fn crawl_delay_spaces_fetches_and_throttles_past_the_timeout() {
    let (server, base) =
        PoliteServer::start(Some((StatusCode::OK, "User-agent: *\nCrawl-delay: 1\n"))).await;
    let http = client();
    let url = base.join("feed.xml").unwrap();
    let started = Instant::now();
    http.fetch(&url, &Validators::default(), TIMEOUT, CAP)
        .await
        .unwrap();
    let first = started.elapsed();
    http.fetch(&url, &Validators::default(), TIMEOUT, CAP)
        .await
        .unwrap();
    let both = started.elapsed();
    // The first fetch comes right after robots.txt; the second one a
    // Crawl-delay later.
    assert!(first < Duration::from_millis(500), "{first:?}");
    assert!(
        both >= Duration::from_millis(950) && both < Duration::from_secs(3),
        "{both:?}"
    );
    // A fetch whose turn would come after its timeout fails at once,
    // without a request.
    let short = Duration::from_millis(200);
    let started = Instant::now();
    let err = http
        .fetch(&url, &Validators::default(), short, CAP)
        .await
        .unwrap_err();
    assert!(started.elapsed() < short, "{:?}", started.elapsed());
    assert_eq!(err.reason(), "throttled", "{err}");
    assert!(err.is_retryable());
    let wait = err.retry_after().unwrap();
    assert!(wait > short && wait <= Duration::from_secs(1), "{wait:?}");
    assert!(err.to_string().contains("Crawl-delay 1.000s"), "{err}");
    assert_eq!(server.hits("/feed.xml"), 2);
    assert_eq!(server.hits("/robots.txt"), 1);
}

#[tokio::test]
async fn default_rate_limit_lets_a_small_burst_through_at_once() {
    let (server, base) = PoliteServer::start(None).await;
    let http = client();
    let started = Instant::now();
    // robots.txt and four feeds: within the default burst.
    for i in 0..4 {
        let url = base.join(&format!("f{i}.xml")).unwrap();
        http.fetch(&url, &Validators::default(), TIMEOUT, CAP)
            .await
            .unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.hits("/robots.txt"), 1);
}
