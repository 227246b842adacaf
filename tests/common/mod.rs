//! Real servers on loopback for integration tests: a feed/API server whose
//! answers a test changes between polls, a real SMTP server (mailin-embedded)
//! and a webhook receiver. Each binds port 0 and is started by the test.
#![allow(dead_code)]

pub(crate) mod hostile;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

/// One mail as the SMTP server received it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone)]
struct SmtpHandler {
    current: Mail,
    inbox: Arc<Mutex<Vec<Mail>>>,
}

impl mailin_embedded::Handler for SmtpHandler {
    fn data_start(
        &mut self,
        _domain: &str,
        from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.current = Mail {
            from: from.to_string(),
            to: to.to_vec(),
            data: String::new(),
        };
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.push_str(&String::from_utf8_lossy(buf));
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.inbox
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.current));
        mailin_embedded::response::OK
    }
}

/// A real SMTP server on a given listener (port 0 for a free one). It runs
/// on its own threads until the test process ends.
pub(crate) fn smtp_server_on(listener: std::net::TcpListener) -> Arc<Mutex<Vec<Mail>>> {
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let handler = SmtpHandler {
        current: Mail::default(),
        inbox: inbox.clone(),
    };
    let mut server = mailin_embedded::Server::new(handler);
    server
        .with_name("test.local")
        .with_num_threads(2)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    inbox
}

/// Starts a real SMTP server on a free loopback port.
pub(crate) fn smtp_server() -> (SocketAddr, Arc<Mutex<Vec<Mail>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, smtp_server_on(listener))
}

/// One request the webhook receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Hook {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

async fn hook(
    State(s): State<Arc<Mutex<Vec<Hook>>>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    s.lock().unwrap().push(Hook {
        path,
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
    });
    StatusCode::OK
}

/// A webhook receiver answering 200 to POST /hooks/{anything}.
pub(crate) async fn webhook_receiver() -> (SocketAddr, Arc<Mutex<Vec<Hook>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/hooks/{*path}", post(hook))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, got)
}

/// What the feed server answers for one path.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Page {
    pub(crate) fn ok(content_type: &str, body: impl Into<String>) -> Page {
        Page {
            status: 200,
            content_type: content_type.to_string(),
            body: body.into(),
        }
    }
}

/// A feed/API server whose pages the test changes between polls, counting
/// the requests per path. Successful pages carry an ETag (a hash of the
/// body) and a matching `If-None-Match` gets 304 Not Modified.
#[derive(Clone, Default)]
pub(crate) struct FeedServer {
    pages: Arc<Mutex<HashMap<String, Page>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    unmodified: Arc<Mutex<HashMap<String, usize>>>,
}

fn etag(body: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:x}\"", h.finish())
}

async fn page(
    State(s): State<FeedServer>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    *s.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let p = s.pages.lock().unwrap().get(&path).cloned();
    match p {
        Some(p) if p.status == 200 => {
            let tag = etag(&p.body);
            let asked = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok());
            if asked == Some(tag.as_str()) {
                *s.unmodified.lock().unwrap().entry(path).or_default() += 1;
                return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response();
            }
            let h = [(header::CONTENT_TYPE, p.content_type), (header::ETAG, tag)];
            (StatusCode::OK, h, p.body).into_response()
        }
        Some(p) => {
            let h = [(header::CONTENT_TYPE, p.content_type)];
            (StatusCode::from_u16(p.status).unwrap(), h, p.body).into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

impl FeedServer {
    /// Starts the server; returns it and its base URL (`http://127.0.0.1:port`).
    pub(crate) async fn start() -> (FeedServer, String) {
        let s = FeedServer::default();
        let app = Router::new()
            .route("/{*path}", get(page))
            .with_state(s.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (s, format!("http://{addr}"))
    }

    pub(crate) fn set(&self, path: &str, page: Page) {
        self.pages
            .lock()
            .unwrap()
            .insert(path.trim_start_matches('/').to_string(), page);
    }

    /// How many requests to `path` were answered 304 Not Modified.
    pub(crate) fn not_modified(&self, path: &str) -> usize {
        self.unmodified
            .lock()
            .unwrap()
            .get(path.trim_start_matches('/'))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .get(path.trim_start_matches('/'))
            .copied()
            .unwrap_or(0)
    }
}

/// Polls `cond` every 50 ms until it holds or `timeout` passes; returns
/// whether it held.
pub(crate) async fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An RSS 2.0 document with `(guid, title, description, pubDate)` items.
pub(crate) fn rss(items: &[(String, String, String, chrono::DateTime<chrono::Utc>)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title><link>http://example.org/</link><description>d</description>\n",
    );
    for (id, title, desc, date) in items {
        out.push_str(&format!(
            "<item><title>{title}</title><link>http://example.org/posts/{id}</link><guid>http://example.org/posts/{id}</guid><description>{desc}</description><author>{id}@example.org (auteur {id})</author><pubDate>{}</pubDate></item>\n",
            date.to_rfc2822()
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// The value of a Prometheus sample line `name{labels} value`, if present.
pub(crate) fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// A daemon started by a test with [`start_daemon`].
pub(crate) struct Daemon {
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// `http://127.0.0.1:port/metrics` of this daemon.
    pub metrics_url: String,
}

/// Runs the real daemon on `config` (listen on port 0), sending every alert
/// event it records to `alerts` when given, and waits until it listens.
pub(crate) async fn start_daemon(
    config: &std::path::Path,
    alerts: Option<tokio::sync::mpsc::Sender<veilleur::alert::AlertEvent>>,
) -> Daemon {
    let cfg = veilleur::config::Config::load(config).unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(veilleur::daemon::run_with(
        cfg,
        stop.clone(),
        veilleur::daemon::Hooks {
            listening: Some(tx),
            alerts,
        },
    ));
    let addr = rx.await.expect("daemon started listening");
    Daemon {
        stop,
        task,
        metrics_url: format!("http://{addr}/metrics"),
    }
}

impl Daemon {
    /// The current `/metrics` text.
    pub(crate) async fn metrics(&self) -> String {
        reqwest::get(&self.metrics_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Polls `/metrics` until the sample `name` reaches `at_least` (at most
    /// 30 s); returns the last text.
    pub(crate) async fn metrics_until(&self, name: &str, at_least: f64) -> String {
        let mut text = String::new();
        for _ in 0..300 {
            text = self.metrics().await;
            if metric(&text, name).unwrap_or(0.0) >= at_least {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        text
    }

    /// Stops the daemon and checks it exits cleanly within 10 s.
    pub(crate) async fn stop(self) {
        self.stop.cancel();
        // Shutdown drains the batches already read, commits the index and
        // flushes the outbox (up to 6 s): a few seconds on an idle machine,
        // more on a loaded one with a debug build. The bound says it stops,
        // not how fast (systemd allows 90 s).
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("daemon stops within 30 s")
            .unwrap()
            .expect("daemon exits without error");
    }
}

/// `veilleur search --config CONFIG --json QUERY` through the real binary:
/// every hit (up to a million), one JSON mention each, newest first.
pub(crate) fn search_json(config: &std::path::Path, query: &str) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_veilleur"))
        .args(["search", "--config"])
        .arg(config)
        .args(["--json", "--limit", "1000000", query])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Delivers the outbox of `state` to the channels of `cfg` with the real
/// outbox loop until every entry is gone (at most ten seconds), then shuts
/// the loop down: the harness of the silence, resolution and digest tests.
pub(crate) async fn deliver_outbox(
    cfg: &veilleur::config::Config,
    state: Arc<veilleur::store::state::StateStore>,
) {
    use veilleur::notify::Notifier;
    use veilleur::notify::outbox::{OutboxOptions, run_with_options};
    let notifiers: HashMap<String, Notifier> = cfg
        .channels
        .iter()
        .map(|ch| {
            (
                ch.name.clone(),
                Notifier::from_config(ch, "veilleur-test").unwrap(),
            )
        })
        .collect();
    let stop = tokio_util::sync::CancellationToken::new();
    let wake = Arc::new(tokio::sync::Notify::new());
    let task = tokio::spawn(run_with_options(
        state.clone(),
        Arc::new(notifiers),
        Arc::new(veilleur::telemetry::Metrics::new()),
        wake.clone(),
        stop.clone(),
        Duration::from_secs(2),
        OutboxOptions::default(),
    ));
    wake.notify_one();
    assert!(
        wait_for(Duration::from_secs(10), || state
            .outbox()
            .is_empty()
            .unwrap())
        .await,
        "the outbox was not delivered within ten seconds"
    );
    stop.cancel();
    task.await.unwrap();
}

/// The alert events a webhook receiver got, in event order (the outbox
/// delivers concurrently).
pub(crate) fn posted_events(hooks: &Arc<Mutex<Vec<Hook>>>) -> Vec<veilleur::alert::AlertEvent> {
    let mut got: Vec<veilleur::alert::AlertEvent> = hooks
        .lock()
        .unwrap()
        .iter()
        .map(|h| serde_json::from_slice(&h.body).unwrap())
        .collect();
    got.sort_by_key(|e| e.at);
    got
}
