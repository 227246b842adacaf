//! Backfill of an API source: `veilleur backfill --source NAME --since 30d`,
//! and the daemon's own backfill on a source's first start, both against a
//! loopback Hacker News (Algolia) API holding three weeks of history with a
//! past crisis in it. History fills the index and the watch's baseline and
//! never alerts; a live crisis afterwards fires once.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use chrono::{DateTime, Utc};
use common::{metric, search_json, start_daemon};
use veilleur::alert::{AlertEvent, AlertState};

const RULE: &str = r#"
[watch]
name = "acme"
query = 'acme'

[[alert]]
name = "bad-buzz"
kind = "volume_spike"
window = "10m"
min_mentions = 10
"#;

/// (objectID, created_at_i, text)
type Hit = (u64, i64, String);

/// The history: three weeks of one post every half hour (the newest five
/// minutes ago), and a past crisis five days ago: 60 complaints in a minute.
fn history(now: DateTime<Utc>) -> Vec<Hit> {
    let mut v: Vec<Hit> = (0..21 * 48)
        .map(|k| {
            (
                1_000_000 + k as u64,
                (now - chrono::Duration::minutes(5 + 30 * k)).timestamp(),
                "Acme présente ses offres de la rentrée".to_string(),
            )
        })
        .collect();
    let past = (now - chrono::Duration::days(5)).timestamp();
    v.extend((0..60).map(|k| {
        (
            2_000_000 + k,
            past + k as i64 % 50,
            "Panne géante chez Acme, service client injoignable, arnaque".to_string(),
        )
    }));
    v
}

/// A live crisis: 30 complaints in the last forty seconds.
fn burst(now: DateTime<Utc>) -> Vec<Hit> {
    (0..30)
        .map(|k| {
            (
                3_000_000 + k,
                (now - chrono::Duration::seconds(40 - k as i64)).timestamp(),
                "Panne géante chez Acme, service client injoignable, arnaque".to_string(),
            )
        })
        .collect()
}

#[derive(Clone, Default)]
struct Algolia {
    hits: Arc<Mutex<Vec<Hit>>>,
    /// Requests carrying `numericFilters` (reads from a stored position).
    filtered: Arc<AtomicBool>,
}

/// `search_by_date`: newest first, `created_at_i>=T` honoured, 100 a page.
async fn search(
    State(s): State<Algolia>,
    Query(q): Query<HashMap<String, String>>,
) -> axum::Json<serde_json::Value> {
    let floor = q
        .get("numericFilters")
        .and_then(|f| f.strip_prefix("created_at_i>="))
        .and_then(|t| t.parse::<i64>().ok());
    if floor.is_some() {
        s.filtered.store(true, Ordering::Relaxed);
    }
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let mut hits: Vec<Hit> = s
        .hits
        .lock()
        .unwrap()
        .iter()
        .filter(|h| floor.is_none_or(|f| h.1 >= f))
        .cloned()
        .collect();
    hits.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    let pages = hits.len().div_ceil(100);
    let shown: Vec<serde_json::Value> = hits
        .iter()
        .skip(page * 100)
        .take(100)
        .map(|(id, t, text)| {
            serde_json::json!({
                "objectID": id.to_string(), "title": text, "url": null, "author": format!("user{}", id % 97),
                "points": 1, "num_comments": 0, "created_at_i": t, "story_text": null, "comment_text": null,
                "_tags": ["story", format!("story_{id}")],
            })
        })
        .collect();
    axum::Json(serde_json::json!({
        "hits": shown, "page": page, "nbPages": pages, "hitsPerPage": 100, "nbHits": hits.len(),
    }))
}

async fn serve(hits: Vec<Hit>) -> (Algolia, String) {
    let s = Algolia::default();
    *s.hits.lock().unwrap() = hits;
    let app = Router::new()
        .route("/api/v1/search_by_date", get(search))
        .with_state(s.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (s, format!("http://{addr}"))
}

fn setup(dir: &Path, base: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/acme.toml"), RULE).unwrap();
    let config = dir.join("veilleur.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\ncommit_interval = \"200ms\"\n\n[[source]]\nname = \"hn\"\nkind = \"hackernews\"\nurl = \"{base}\"\nquery = \"acme\"\ninterval = \"1s\"\n"
        ),
    )
    .unwrap();
    config
}

/// The alert events received so far.
fn drain(rx: &mut tokio::sync::mpsc::Receiver<AlertEvent>) -> Vec<AlertEvent> {
    let mut v = Vec::new();
    while let Ok(e) = rx.try_recv() {
        v.push(e);
    }
    v
}

fn firing(events: &[AlertEvent]) -> usize {
    events
        .iter()
        .filter(|e| e.rule == "bad-buzz" && e.state == AlertState::Firing)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_command_fills_history_without_alerting_and_a_live_crisis_then_fires() {
    veilleur::install_crypto_provider();
    let now = Utc::now();
    let (api, base) = serve(history(now)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), &base);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_veilleur"))
        .args(["backfill", "--config"])
        .arg(&config)
        .args(["--source", "hn", "--since", "30d"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("backfilled 1068 mentions from `hn`"),
        "{stdout}"
    );
    assert!(stdout.contains("acme: warm"), "{stdout}");
    assert!(stderr.contains("page 11: 1068 mentions read"), "{stderr}");
    assert!(
        !api.filtered.load(Ordering::Relaxed),
        "a backfill reads from the top"
    );
    {
        let state =
            veilleur::store::state::StateStore::open(&dir.path().join("data/state")).unwrap();
        assert!(
            state.alerts().records().unwrap().is_empty(),
            "history never alerts"
        );
        assert_eq!(state.outbox().len().unwrap(), 0);
    }
    assert_eq!(search_json(&config, "source:hn").len(), 1068);
    // A shorter --since reads less; what is already stored is not counted twice.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_veilleur"))
        .args(["backfill", "--config"])
        .arg(&config)
        .args(["--source", "hn", "--since", "1d"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("backfilled 0 mentions from `hn` (48 read, 48 already seen)"),
        "{stdout}"
    );

    // Live: the crisis comes in; the daemon resumes from the stored position.
    api.hits.lock().unwrap().extend(burst(Utc::now()));
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let d = start_daemon(&config, Some(tx)).await;
    let text = d.metrics_until("veilleur_index_documents", 1098.0).await;
    d.stop().await;
    assert_eq!(
        metric(&text, "veilleur_index_documents"),
        Some(1098.0),
        "{text}"
    );
    assert!(
        api.filtered.load(Ordering::Relaxed),
        "the daemon read from the stored position"
    );
    let events = drain(&mut rx);
    assert_eq!(firing(&events), 1, "{events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_backfills_without_alerting_and_a_live_crisis_then_fires() {
    veilleur::install_crypto_provider();
    let now = Utc::now();
    let (api, base) = serve(history(now)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), &base);

    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let d = start_daemon(&config, Some(tx)).await;
    let text = d.metrics_until("veilleur_index_documents", 1068.0).await;
    assert_eq!(
        metric(&text, "veilleur_index_documents"),
        Some(1068.0),
        "{text}"
    );
    // Let a tick or two judge what came in: the past crisis stays silent.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let quiet = drain(&mut rx);
    assert!(quiet.is_empty(), "history alerted: {quiet:#?}");

    api.hits.lock().unwrap().extend(burst(Utc::now()));
    let text = d.metrics_until("veilleur_index_documents", 1098.0).await;
    d.stop().await;
    assert_eq!(
        metric(&text, "veilleur_index_documents"),
        Some(1098.0),
        "{text}"
    );
    let events = drain(&mut rx);
    assert_eq!(firing(&events), 1, "{events:#?}");
}
