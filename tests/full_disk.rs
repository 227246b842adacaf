//! A full disk under a running daemon: the data directory is a small tmpfs
//! (`mount -t tmpfs -o size=…`, so the test needs root; where mounting is
//! refused it says so and returns). The disk fills up while an alert waits
//! in the outbox and new mentions arrive; then space comes back.
//!
//! Checked: ingestion stops with an ERROR log and
//! `veilleur_storage_errors_total`, the daemon keeps serving, the alert
//! already in the outbox is still delivered, once space returns the new
//! mentions are indexed by the same daemon (no restart), and after a stop
//! every mention is in the index exactly once.
//!
//! A second test fills the state store's file system only (the index has
//! one of its own, mounted inside): redb refuses everything after its
//! failed write until reopened, so this checks that the same daemon
//! reopens it once space returns, then stores the pending seen ids and
//! counts (each exactly once), records the alert detected while the disk
//! was full and delivers it.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::Utc;
use common::{FeedServer, Page, metric, start_daemon};

/// A tmpfs mounted for the test, unmounted (lazily) when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "full_disk: skipped, cannot mount a tmpfs here (needs root): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` with one file until a write fails.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        if f.write_all(&chunk).is_err() || f.sync_all().is_err() {
            break;
        }
    }
    // Small writes too, until not a byte fits.
    while f.write_all(&[0u8; 512]).is_ok() && f.sync_all().is_ok() {}
    path
}

/// Webhook receiver: refuses (503) until `accept` is set; counts attempts
/// and keeps the idempotency keys it accepted.
#[derive(Clone, Default)]
struct Receiver {
    accept: Arc<AtomicBool>,
    attempts: Arc<Mutex<usize>>,
    accepted: Arc<Mutex<Vec<String>>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap) -> StatusCode {
    *r.attempts.lock().unwrap() += 1;
    if !r.accept.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    r.accepted.lock().unwrap().push(key);
    StatusCode::OK
}

fn item(id: &str, title: &str) -> (String, String, String, chrono::DateTime<Utc>) {
    (
        id.to_string(),
        title.to_string(),
        "veille".to_string(),
        Utc::now() - chrono::Duration::seconds(5),
    )
}

/// Sum of the `veilleur_storage_errors_total` samples of `store`.
fn storage_errors(text: &str, store: &str) -> f64 {
    metric(
        text,
        &format!("veilleur_storage_errors_total{{store=\"{store}\"}}"),
    )
    .unwrap_or(0.0)
}

async fn wait(what: &str, timeout: Duration, mut cond: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// The feed server, the webhook receiver (accepting or not) and a config
/// in `dir`: one feed polled every second, a keyword alert on `crisis`
/// for the watch `acme` to the webhook, commits every 200 ms.
async fn setup(dir: &Path, accept: bool) -> (FeedServer, Receiver, PathBuf) {
    let (feeds, base) = FeedServer::start().await;
    let receiver = Receiver::default();
    receiver.accept.store(accept, Ordering::SeqCst);
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(
        dir.join("rules/acme.toml"),
        "[watch]\nname = \"acme\"\nquery = 'acme'\n\n[[alert]]\nname = \"kw\"\nkind = \"keyword\"\nquery = 'crisis'\nmin_mentions = 1\nwindow = \"1h\"\nnotify = [\"hook\"]\n",
    )
    .unwrap();
    let config = dir.join("veilleur.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\ncommit_interval = \"200ms\"\n\n[[source]]\nname = \"feed\"\nkind = \"feed\"\nurl = \"{base}/feed.xml\"\ninterval = \"1s\"\n\n[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook}\"\n"
        ),
    )
    .unwrap();
    (feeds, receiver, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_pauses_ingestion_delivers_the_outbox_and_recovers_alone() {
    veilleur::install_crypto_provider();
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("veilleur=info")
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let Some(_mount) = Tmpfs::mount(&data, "24m") else {
        return;
    };

    let (feeds, receiver, config) = setup(dir.path(), false).await;

    // Before: five mentions, committed.
    let mut items: Vec<_> = (0..5)
        .map(|i| item(&format!("a{i}"), &format!("acme {i}")))
        .collect();
    feeds.set(
        "feed.xml",
        Page::ok("application/rss+xml", common::rss(&items)),
    );
    let d = start_daemon(&config, None).await;
    d.metrics_until("veilleur_index_documents", 5.0).await;

    // An alert that waits in the outbox: the receiver refuses it for now.
    items.push(item("crisis", "acme crisis"));
    feeds.set(
        "feed.xml",
        Page::ok("application/rss+xml", common::rss(&items)),
    );
    wait("a refused delivery", Duration::from_secs(30), async || {
        *receiver.attempts.lock().unwrap() >= 1
    })
    .await;
    d.metrics_until("veilleur_index_documents", 6.0).await;

    // The disk fills up; new mentions arrive.
    let filler = fill(&data);
    for i in 0..3 {
        items.push(item(&format!("full{i}"), &format!("acme full {i}")));
    }
    feeds.set(
        "feed.xml",
        Page::ok("application/rss+xml", common::rss(&items)),
    );
    wait(
        "veilleur_storage_errors_total",
        Duration::from_secs(30),
        async || {
            let text = d.metrics().await;
            text.lines()
                .filter(|l| l.starts_with("veilleur_storage_errors_total"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>()
                >= 1.0
        },
    )
    .await;

    // The alert already queued still goes out, disk full or not.
    receiver.accept.store(true, Ordering::SeqCst);
    wait(
        "the queued alert delivered",
        Duration::from_secs(30),
        async || !receiver.accepted.lock().unwrap().is_empty(),
    )
    .await;
    let key = receiver.accepted.lock().unwrap()[0].clone();
    assert!(key.starts_with("acme/kw/firing/"), "{key}");

    // Space comes back: the same daemon catches up by itself.
    std::fs::remove_file(&filler).unwrap();
    let text = d.metrics_until("veilleur_index_documents", 9.0).await;
    assert_eq!(
        metric(&text, "veilleur_index_documents"),
        Some(9.0),
        "{text}"
    );
    d.stop().await;

    // Nothing lost, nothing twice, the committed part intact.
    let hits = common::search_json(&config, "acme");
    let mut urls: Vec<String> = hits
        .iter()
        .map(|m| m["url"].as_str().unwrap().to_string())
        .collect();
    urls.sort();
    let mut want: Vec<String> = items
        .iter()
        .map(|i| format!("http://example.org/posts/{}", i.0))
        .collect();
    want.sort();
    assert_eq!(urls, want);
    let keys = receiver.accepted.lock().unwrap().clone();
    assert!(
        keys.iter().all(|k| *k == key),
        "one alert, one key: {keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_state_store_is_reopened_by_the_same_daemon_and_loses_nothing() {
    veilleur::install_crypto_provider();
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("veilleur=info")
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The state file on a small file system; the index on its own, inside.
    let Some(_state_fs) = Tmpfs::mount(&data, "8m") else {
        return;
    };
    let Some(_index_fs) = Tmpfs::mount(&data.join("index"), "64m") else {
        return;
    };

    let (feeds, receiver, config) = setup(dir.path(), true).await;

    let mut items: Vec<_> = (0..5)
        .map(|i| item(&format!("a{i}"), &format!("acme {i}")))
        .collect();
    let publish = |items: &[(String, String, String, chrono::DateTime<Utc>)]| {
        feeds.set(
            "feed.xml",
            Page::ok("application/rss+xml", common::rss(items)),
        );
    };
    publish(&items);
    let d = start_daemon(&config, None).await;
    d.metrics_until("veilleur_index_documents", 5.0).await;

    // The state's disk fills up. New mentions come, in rounds, until a
    // state write fails (redb reuses freed pages, so a small commit may
    // still fit), then the crisis that makes an alert.
    let filler = fill(&data);
    let mut round = 0;
    wait(
        "a failed state write",
        Duration::from_secs(120),
        async || {
            if storage_errors(&d.metrics().await, "state") >= 1.0 {
                return true;
            }
            for i in 0..40 {
                items.push(item(
                    &format!("full-{round}-{i}-{}", "x".repeat(60)),
                    &format!("acme full {round} {i}"),
                ));
            }
            round += 1;
            publish(&items);
            tokio::time::sleep(Duration::from_millis(800)).await;
            false
        },
    )
    .await;
    items.push(item("crisis", "acme crisis"));
    publish(&items);
    // Still serving, and still refusing: the batches wait.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let text = d.metrics().await;
    assert!(storage_errors(&text, "state") >= 1.0, "{text}");
    assert_eq!(storage_errors(&text, "index"), 0.0, "{text}");

    // Space comes back: the same daemon reopens the store, commits what
    // waited, records the alert and delivers it.
    std::fs::remove_file(&filler).unwrap();
    wait("the alert delivered", Duration::from_secs(60), async || {
        !receiver.accepted.lock().unwrap().is_empty()
    })
    .await;
    let key = receiver.accepted.lock().unwrap()[0].clone();
    assert!(key.starts_with("acme/kw/firing/"), "{key}");
    // And goes on storing: one more mention after the recovery.
    items.push(item("after", "acme after"));
    publish(&items);
    let n = items.len() as f64;
    let text = d.metrics_until("veilleur_index_documents", n).await;
    assert_eq!(metric(&text, "veilleur_index_documents"), Some(n), "{text}");
    // Its state commit follows the index's within the commit interval.
    tokio::time::sleep(Duration::from_secs(1)).await;
    d.stop().await;

    // Every mention indexed once, counted once, its seen id stored; the
    // alert recorded and its delivery logged.
    let hits = common::search_json(&config, "acme");
    assert_eq!(hits.len(), items.len());
    let state = veilleur::store::state::StateStore::open(&data.join("state")).unwrap();
    let counted: u64 = state
        .buckets()
        .since(i64::MIN)
        .unwrap()
        .iter()
        .filter(|b| b.0 == "acme")
        .map(|b| b.2)
        .sum();
    assert_eq!(counted, items.len() as u64, "each mention counted once");
    assert!(state.alerts().records().unwrap().contains_key("acme/kw"));
    assert!(state.outbox().was_sent(&key, "hook").unwrap());
    assert_eq!(state.outbox().len().unwrap(), 0);
    let keys = receiver.accepted.lock().unwrap().clone();
    assert!(keys.iter().all(|k| *k == key), "one alert: {keys:?}");
}
