//! `notify_resolved = true` on a rule: its resolution goes through the
//! outbox to the rule's channels (a real webhook receiver on loopback);
//! without it, the resolution is recorded only. Time is injected.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::webhook_receiver;
use veilleur::alert::{AlertEvent, AlertState};
use veilleur::detect::Detector;
use veilleur::mention::Mention;
use veilleur::store::state::StateStore;

fn at(min: i64) -> DateTime<Utc> {
    "2026-03-03T08:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::minutes(min)
}

/// Fires the rule with mentions for 10 minutes, lets it resolve, delivers
/// the outbox to a webhook receiver; returns what it received.
async fn run(notify_resolved: bool) -> Vec<AlertEvent> {
    veilleur::install_crypto_provider();
    let (hook_addr, hooks) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/acme.toml"),
        format!(
            r#"
[watch]
name = "acme"
query = "acme"

[[alert]]
name = "crisis"
kind = "keyword"
query = "panne"
window = "10m"
notify = ["hook"]
notify_resolved = {notify_resolved}
resolve_after = "10m"
"#
        ),
    )
    .unwrap();
    let config = dir.path().join("veilleur.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\n\n[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://{hook_addr}/hooks/acme\"\n"
        ),
    )
    .unwrap();
    let cfg = veilleur::config::Config::load(&config).unwrap();
    let rules = veilleur::rules::load_dir(&cfg.daemon.rules_dir, None).unwrap();
    let state = Arc::new(StateStore::open(&dir.path().join("state")).unwrap());
    let mut d = Detector::new(&rules);
    for min in 0..=60 {
        let now = at(min);
        // Four mentions at once, then one every three minutes: a steady
        // crisis that does not escalate, over by minute 10.
        let hits = match min {
            0 => 4,
            3 | 6 | 9 => 1,
            _ => 0,
        };
        let ts = if hits > 0 {
            let ms: Vec<Mention> = (0..hits)
                .map(|k| {
                    serde_json::from_value(serde_json::json!({
                        "id": format!("m{min}-{k}"),
                        "source": "news",
                        "url": format!("https://news.example.org/{min}/{k}"),
                        "title": "Acme en panne",
                        "text": "acme panne générale",
                        "author": "jdoe",
                        "published": now,
                    }))
                    .unwrap()
                })
                .collect();
            let items: Vec<(usize, &Mention)> = ms.iter().map(|m| (0, m)).collect();
            d.ingest_live(&items, now)
        } else {
            d.advance(now)
        };
        let dirty = d.take_dirty_records();
        veilleur::silence::record(&state, &ts, &dirty, now).unwrap();
    }
    // Both transitions are in the history either way.
    let states: Vec<AlertState> = state
        .silences()
        .events(10)
        .unwrap()
        .iter()
        .map(|e| e.event.state)
        .collect();
    assert_eq!(states, vec![AlertState::Firing, AlertState::Resolved]);

    common::deliver_outbox(&cfg, state).await;
    common::posted_events(&hooks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_resolved_sends_the_resolution_to_the_rule_channels() {
    let got = run(true).await;
    let states: Vec<AlertState> = got.iter().map(|e| e.state).collect();
    assert_eq!(states, vec![AlertState::Firing, AlertState::Resolved]);
    let r = &got[1];
    assert_eq!((r.watch.as_str(), r.rule.as_str()), ("acme", "crisis"));
    assert!(r.summary.contains("back to"), "{}", r.summary);
    assert!(r.at > got[0].at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_notify_resolved_the_resolution_is_recorded_only() {
    let got = run(false).await;
    let states: Vec<AlertState> = got.iter().map(|e| e.state).collect();
    assert_eq!(states, vec![AlertState::Firing]);
}
