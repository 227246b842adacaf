//! `veilleur import` warms the baselines exactly as live ingestion would:
//! a watch whose history was imported fires on the first live burst the
//! daemon fetches, with no warm-up wait, and the live fetch of an imported
//! item is not counted twice; the same burst on a data dir without the
//! import does not fire (the watch is warming up).

mod common;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use common::{FeedServer, Page, metric, rss, start_daemon};
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

type Item = (String, String, String, DateTime<Utc>);

/// What `veilleur check` prints on standard output for `config`.
fn check(config: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_veilleur"))
        .args(["check", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn setup(dir: &Path, base: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/acme.toml"), RULE).unwrap();
    let config = dir.join("veilleur.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon]
data_dir = "data"
rules_dir = "rules"
listen = "127.0.0.1:0"
commit_interval = "200ms"

[[source]]
name = "brand"
kind = "feed"
url = "{base}/brand.xml"
interval = "1s"
"#
        ),
    )
    .unwrap();
    config
}

/// Three weeks of one post every half hour, the newest five minutes ago.
fn history(now: DateTime<Utc>) -> Vec<Item> {
    (0..21 * 48)
        .map(|k| {
            (
                format!("h{k}"),
                "Acme présente ses offres".to_string(),
                "Nouvelle offre Acme pour la rentrée.".to_string(),
                now - chrono::Duration::minutes(5 + 30 * k),
            )
        })
        .collect()
}

/// Thirty complaints in the last forty seconds.
fn burst(now: DateTime<Utc>) -> Vec<Item> {
    (0..30)
        .map(|k| {
            (
                format!("b{k}"),
                "Panne géante chez Acme".to_string(),
                "Service client Acme injoignable, c'est une arnaque".to_string(),
                now - chrono::Duration::seconds(40 - k),
            )
        })
        .collect()
}

/// The JSON lines of `items`, with the ids the feed source derives from
/// the same links (see `common::rss`).
fn jsonl(items: &[Item]) -> String {
    let mut out = String::new();
    for (id, title, text, at) in items {
        let url = format!("http://example.org/posts/{id}");
        let canonical = veilleur::normalize::canonical_url(&url, None).unwrap();
        let line = serde_json::json!({
            "id": veilleur::mention::id_for(&canonical, "", ""),
            "source": "brand",
            "url": url,
            "title": title,
            "text": text,
            "author": format!("{id}@example.org"),
            "published": at.to_rfc3339(),
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// Runs the daemon on `config` until it has indexed `docs` documents (so
/// that what it fetched is ingested and its alerts recorded), and returns
/// the events it recorded and its last `/metrics`.
async fn run_until_indexed(config: &Path, docs: f64) -> (Vec<AlertEvent>, String) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let d = start_daemon(config, Some(tx)).await;
    let text = d.metrics_until("veilleur_index_documents", docs).await;
    d.stop().await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (events, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_history_fires_on_the_first_live_burst_and_a_cold_start_waits() {
    veilleur::install_crypto_provider();
    let (feeds, base) = FeedServer::start().await;
    let now = Utc::now();
    let history = history(now);

    // Import the history with the real command.
    let warm = tempfile::tempdir().unwrap();
    let config = setup(warm.path(), &base);
    let file = warm.path().join("history.jsonl");
    std::fs::write(&file, jsonl(&history)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_veilleur"))
        .args(["import", "--config"])
        .arg(&config)
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("imported 1008 mentions"), "{stdout}");
    {
        // History only: no alert recorded, nothing queued.
        let state =
            veilleur::store::state::StateStore::open(&warm.path().join("data/state")).unwrap();
        assert!(state.alerts().records().unwrap().is_empty());
        assert_eq!(state.outbox().len().unwrap(), 0);
        let counted: u64 = state
            .buckets()
            .since(i64::MIN)
            .unwrap()
            .iter()
            .map(|b| b.2)
            .sum();
        assert_eq!(counted, 1008, "every imported mention counted once");
    }
    // `check` says the watch starts warm.
    let said = check(&config);
    assert!(said.contains("  acme: warm"), "{said}");

    // The feed: the burst, and the three newest imported posts again.
    let mut items = burst(Utc::now());
    items.extend(history[..3].iter().cloned());
    feeds.set("brand.xml", Page::ok("application/rss+xml", rss(&items)));

    let (events, text) = run_until_indexed(&config, 1038.0).await;
    assert_eq!(
        metric(&text, "veilleur_mentions_ingested_total{source=\"brand\"}"),
        Some(30.0),
        "imported posts fetched again are not counted twice:\n{text}"
    );
    assert_eq!(
        metric(&text, "veilleur_watch_warm{watch=\"acme\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "veilleur_mentions_duplicate_total{source=\"brand\"}"),
        Some(3.0),
        "{text}"
    );
    let fired: Vec<&AlertEvent> = events
        .iter()
        .filter(|e| e.rule == "bad-buzz" && e.state == AlertState::Firing)
        .collect();
    assert_eq!(fired.len(), 1, "{events:#?}");
    // The baseline comes from the imported history (a third of a post per
    // ten minutes), not from nothing.
    assert!(
        fired[0].expected > 0.0 && fired[0].expected < 2.0,
        "{:#?}",
        fired[0]
    );
    assert!(fired[0].observed >= 10, "{:#?}", fired[0]);

    // The same feed on a data dir without the import: warming up, silent.
    let cold = tempfile::tempdir().unwrap();
    let config = setup(cold.path(), &base);
    let said = check(&config);
    assert!(said.contains("  acme: no history yet"), "{said}");
    let (events, text) = run_until_indexed(&config, 33.0).await;
    assert_eq!(
        metric(&text, "veilleur_watch_warm{watch=\"acme\"}"),
        Some(0.0),
        "a cold watch is reported warming up:\n{text}"
    );
    assert!(
        metric(
            &text,
            "veilleur_watch_warm_at_timestamp_seconds{watch=\"acme\"}"
        )
        .unwrap_or(0.0)
            == 0.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "veilleur_index_documents"),
        Some(33.0),
        "{text}"
    );
    assert!(events.is_empty(), "a cold watch fired: {events:#?}");
}
