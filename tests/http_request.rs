//! The shared HTTP client takes a request (method, headers, auth, Accept,
//! body) and keeps its politeness for every shape: against a real server on
//! loopback, a JSON POST with a bearer token passes robots.txt and the
//! host's Crawl-delay like a feed GET does; and the poll loop resumes from
//! the validators a daemon stored before cursors existed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use url::Url;
use veilleur::source::http::{
    ACCEPT_FEED, ACCEPT_JSON, FetchError, Fetched, HttpClient, Request, Validators,
};

const ROBOTS: &str = "User-agent: *\nDisallow: /private/\nCrawl-delay: 1\n";
const TOKEN: &str = "t0ken-acme";

/// Records when each path was requested, and answers with what it saw.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<HashMap<String, Vec<Instant>>>>);

impl Seen {
    fn times(&self, path: &str) -> Vec<Instant> {
        self.0
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }
}

async fn api(
    axum::extract::State((seen, robots)): axum::extract::State<(Seen, &'static str)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    seen.0
        .lock()
        .unwrap()
        .entry(uri.path().to_string())
        .or_default()
        .push(Instant::now());
    let get = |h| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    match uri.path() {
        "/robots.txt" => robots.into_response(),
        "/to-ftp" => (
            StatusCode::FOUND,
            [(header::LOCATION, "ftp://127.0.0.1/feed.xml")],
        )
            .into_response(),
        _ if get(header::AUTHORIZATION) != format!("Bearer {TOKEN}") && method == Method::POST => {
            StatusCode::UNAUTHORIZED.into_response()
        }
        _ => {
            let echo = json!({
                "method": method.as_str(),
                "accept": get(header::ACCEPT),
                "content_type": get(header::CONTENT_TYPE),
                "authorization": get(header::AUTHORIZATION),
                "body": serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                echo.to_string(),
            )
                .into_response()
        }
    }
}

async fn start(robots: &'static str) -> (Seen, Url) {
    let seen = Seen::default();
    let app = Router::new()
        .fallback(api)
        .with_state((seen.clone(), robots));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (seen, Url::parse(&format!("http://{addr}/")).unwrap())
}

fn client() -> HttpClient {
    veilleur::install_crypto_provider();
    HttpClient::new("veilleur-test/0.1 (+https://example.org)").unwrap()
}

fn search(base: &Url, path: &str, token: &str, timeout: Duration) -> Request {
    Request::post(base.join(path).unwrap())
        .accept(ACCEPT_JSON)
        .bearer(token)
        .json(&json!({"q": "acme", "sort": "latest"}))
        .unwrap()
        .timeout(timeout)
}

fn echo(fetched: Fetched) -> Value {
    let Fetched::Body { bytes, .. } = fetched else {
        panic!("expected a body, got {fetched:?}");
    };
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn json_post_with_bearer_token_honours_robots_and_crawl_delay() {
    let (seen, base) = start(ROBOTS).await;
    let http = client();
    let timeout = Duration::from_secs(5);

    // The request arrives as built: method, Accept, auth, JSON body.
    let got = echo(
        http.send(search(&base, "api/search", TOKEN, timeout))
            .await
            .unwrap(),
    );
    assert_eq!(got["method"], "POST");
    assert_eq!(got["accept"], ACCEPT_JSON);
    assert_eq!(got["content_type"], "application/json");
    assert_eq!(got["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(got["body"], json!({"q": "acme", "sort": "latest"}));

    // The second one waits for the Crawl-delay of robots.txt.
    http.send(search(&base, "api/search", TOKEN, timeout))
        .await
        .unwrap();
    let times = seen.times("/api/search");
    assert_eq!(times.len(), 2);
    let gap = times[1] - times[0];
    assert!(gap >= Duration::from_millis(950), "{gap:?}");

    // One whose turn would come after its timeout fails at once, unsent.
    let short = Duration::from_millis(200);
    let started = Instant::now();
    let err = http
        .send(search(&base, "api/search", TOKEN, short))
        .await
        .unwrap_err();
    assert!(started.elapsed() < short, "{:?}", started.elapsed());
    assert!(matches!(err, FetchError::Throttled { .. }), "{err}");
    assert!(err.to_string().starts_with("POST http://"), "{err}");
    assert!(err.is_retryable());

    // A path robots.txt disallows is never requested, POST or not.
    let err = http
        .send(search(&base, "private/search", TOKEN, timeout))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Robots { .. }), "{err}");
    assert!(!err.is_retryable());
    assert!(seen.times("/private/search").is_empty());

    // A refused token is a permanent status error naming the method.
    let err = http
        .send(search(&base, "api/search", "wrong", timeout))
        .await
        .unwrap_err();
    assert_eq!(
        err.status(),
        Some(reqwest::StatusCode::UNAUTHORIZED),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        format!("POST {}api/search: server answered 401 Unauthorized", base)
    );
    assert_eq!(seen.times("/api/search").len(), 3);
    // robots.txt was read once for all of them.
    assert_eq!(seen.times("/robots.txt").len(), 1);
}

#[tokio::test]
async fn feed_and_json_paths_send_their_accept_and_redirects_stay_http() {
    let (seen, base) = start("User-agent: *\nDisallow:\n").await;
    let http = client();
    let timeout = Duration::from_secs(5);
    let url = base.join("echo").unwrap();
    let feed = echo(
        http.fetch(&url, &Validators::default(), timeout, 64 * 1024)
            .await
            .unwrap(),
    );
    assert_eq!(feed["method"], "GET");
    assert_eq!(feed["accept"], ACCEPT_FEED);
    assert_eq!(feed["authorization"], "");
    let api = echo(
        http.send(
            Request::get(url)
                .accept(ACCEPT_JSON)
                .basic("me", Some("pw".into())),
        )
        .await
        .unwrap(),
    );
    assert_eq!(api["accept"], ACCEPT_JSON);
    // RFC 7617: base64("me:pw").
    assert_eq!(api["authorization"], "Basic bWU6cHc=");
    // A token that cannot be a header value is a settings error, not sent.
    let err = http
        .send(Request::get(base.join("api/bad").unwrap()).bearer("two\nlines"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Build { .. }), "{err}");
    assert!(!err.is_retryable());
    assert!(
        err.to_string().contains("cannot build the request"),
        "{err}"
    );
    assert!(seen.times("/api/bad").is_empty());
    // A redirect to another scheme is refused, not followed.
    let err = http
        .send(Request::get(base.join("to-ftp").unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "redirect", "{err}");
    assert!(err.to_string().contains("only http and https"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(seen.times("/to-ftp").len(), 1);
    // Robots can be turned off for an API whose terms govern access.
    let (seen, base) = start("User-agent: *\nDisallow: /\n").await;
    let url = base.join("api/x").unwrap();
    let err = http.send(Request::get(url.clone())).await.unwrap_err();
    assert_eq!(err.reason(), "robots");
    http.send(Request::get(url).robots(false)).await.unwrap();
    assert_eq!(seen.times("/api/x").len(), 1);
}

/// An upgraded daemon finds the bare validators JSON that older versions
/// stored for a source, and its poll loop still sends a conditional GET:
/// the server answers 304 and no batch is sent.
#[tokio::test]
async fn poll_loop_resumes_from_validators_stored_before_cursors() {
    use tokio::sync::{Notify, mpsc};
    use veilleur::config::{SourceConfig, SourceKind};
    use veilleur::source::feed::FeedConfig;
    use veilleur::store::state::{IngestCommit, StateStore};

    const ETAG: &str = "\"v7\"";
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let hit = Arc::new(Notify::new());
    let app = Router::new().route(
        "/feed.xml",
        axum::routing::get({
            let (asked, hit) = (asked.clone(), hit.clone());
            move |headers: HeaderMap| async move {
                let inm = headers
                    .get(header::IF_NONE_MATCH)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let fresh = inm != ETAG;
                asked.lock().unwrap().push(inm);
                hit.notify_one();
                if fresh {
                    (
                        [(header::ETAG, ETAG)],
                        "<rss version=\"2.0\"><channel></channel></rss>",
                    )
                        .into_response()
                } else {
                    StatusCode::NOT_MODIFIED.into_response()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(StateStore::open(&dir.path().join("state")).unwrap());
    let old = format!(
        r#"{{"etag":{},"last_modified":null}}"#,
        serde_json::to_string(ETAG).unwrap()
    );
    state
        .commit_ingest(&IngestCommit {
            validators: vec![("presse".into(), old.into_bytes())],
            ..IngestCommit::default()
        })
        .unwrap();
    let cfg = SourceConfig {
        name: "presse".into(),
        kind: SourceKind::Feed(FeedConfig {
            url: Url::parse(&format!("http://{addr}/feed.xml")).unwrap(),
        }),
        interval: Duration::from_secs(3600),
        timeout: Duration::from_secs(5),
        max_body_bytes: 64 * 1024,
    };
    let (tx, mut rx) = mpsc::channel(4);
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(veilleur::source::poll::run(
        cfg,
        client(),
        state,
        Arc::new(veilleur::telemetry::Metrics::new()),
        tx,
        stop.clone(),
    ));
    tokio::time::timeout(Duration::from_secs(10), hit.notified())
        .await
        .expect("the source is polled within its first-poll jitter");
    assert_eq!(*asked.lock().unwrap(), vec![ETAG.to_string()]);
    // 304: nothing to hand to the pipeline. Give the loop time to send one
    // if it wrongly would, then stop it: the channel closes empty.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rx.recv().await, None);
}
