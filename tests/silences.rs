//! Silences and acknowledgements, with injected time and a real webhook
//! receiver on loopback: detection's transitions go through
//! `silence::record` (what the daemon's alert log does) into the real
//! outbox; and the `veilleur silence` commands through the binary, beside
//! a held state store and across a restart of the real daemon.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{FeedServer, Page, rss, start_daemon, wait_for, webhook_receiver};
use veilleur::alert::{AlertEvent, AlertState, Stage};
use veilleur::detect::Detector;
use veilleur::mention::Mention;
use veilleur::silence::record;
use veilleur::store::state::StateStore;
use veilleur::store::state::silences::NewSilence;

const RULE: &str = r#"
[watch]
name = "acme"
query = "acme"

[[alert]]
name = "crisis"
kind = "keyword"
query = "panne"
window = "10m"
notify = ["hook"]
repeat_interval = "1h"
resolve_after = "10m"
cooldown = "30m"
"#;

fn t0() -> DateTime<Utc> {
    "2026-03-03T08:00:00Z".parse().unwrap()
}

fn at(min: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::minutes(min)
}

/// A crisis from minute `from` to `until` (excluded): four mentions at
/// once, then one every three minutes — a steady volume that neither
/// escalates (it never doubles) nor resolves.
fn crisis(min: i64, from: i64, until: i64) -> usize {
    match min {
        m if m == from => 4,
        m if m > from && m < until && (m - from) % 3 == 0 => 1,
        _ => 0,
    }
}

/// A config with one webhook channel `hook` to `hook_addr` and the rule
/// above; returns the config path.
fn setup(dir: &Path, hook_addr: std::net::SocketAddr, feed: Option<&str>) -> PathBuf {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/acme.toml"), RULE).unwrap();
    let source = feed.map_or(String::new(), |url| {
        format!(
            "[[source]]\nname = \"news\"\nkind = \"feed\"\nurl = \"{url}\"\ninterval = \"1s\"\n"
        )
    });
    let config = format!(
        r#"
[daemon]
data_dir = "data"
rules_dir = "rules"
listen = "127.0.0.1:0"
commit_interval = "200ms"

{source}
[[channel]]
name = "hook"
kind = "webhook"
url = "http://{hook_addr}/hooks/acme"
"#
    );
    let path = dir.join("veilleur.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// Detection over the rule, driven minute by minute, recording through
/// `silence::record` into a real state store.
struct Bench {
    detector: Detector,
    state: Arc<StateStore>,
    /// (minute, event, queued entries) of every recorded event.
    log: Vec<(i64, AlertEvent, usize)>,
    next_id: u32,
}

impl Bench {
    fn new(config: &Path, state: Arc<StateStore>) -> Bench {
        let cfg = veilleur::config::Config::load(config).unwrap();
        let rules = veilleur::rules::load_dir(&cfg.daemon.rules_dir, None).unwrap();
        Bench {
            detector: Detector::new(&rules),
            state,
            log: Vec::new(),
            next_id: 0,
        }
    }

    /// One minute: `hits` "panne" mentions, or time passing; then the
    /// recording. Returns the entries queued.
    fn step(&mut self, min: i64, hits: usize) -> usize {
        let now = at(min);
        let ts = if hits > 0 {
            let ms: Vec<Mention> = (0..hits)
                .map(|_| {
                    self.next_id += 1;
                    serde_json::from_value(serde_json::json!({
                        "id": format!("m{}", self.next_id),
                        "source": "news",
                        "url": format!("https://news.example.org/{}", self.next_id),
                        "title": "Acme en panne",
                        "text": "acme panne générale",
                        "author": "jdoe",
                        "published": now,
                    }))
                    .unwrap()
                })
                .collect();
            let items: Vec<(usize, &Mention)> = ms.iter().map(|m| (0, m)).collect();
            self.detector.ingest_live(&items, now)
        } else {
            self.detector.advance(now)
        };
        let dirty = self.detector.take_dirty_records();
        let r = record(&self.state, &ts, &dirty, now).unwrap();
        for e in &r.events {
            self.log.push((min, e.event.clone(), r.queued));
        }
        r.queued
    }
}

/// Delivers the outbox of `state` to the channels of `config`.
async fn deliver(config: &Path, state: Arc<StateStore>) {
    let cfg = veilleur::config::Config::load(config).unwrap();
    common::deliver_outbox(&cfg, state).await;
}

fn posted(hooks: &Arc<std::sync::Mutex<Vec<common::Hook>>>) -> Vec<AlertEvent> {
    common::posted_events(hooks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silenced_alert_is_recorded_not_sent_and_sent_once_when_the_silence_ends() {
    veilleur::install_crypto_provider();
    let (hook_addr, hooks) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), hook_addr, None);
    let state = Arc::new(StateStore::open(&dir.path().join("state")).unwrap());
    let silence = state
        .silences()
        .add(
            NewSilence {
                watch: "acme".into(),
                rule: None,
                starts_at: None,
                ends_at: at(150),
                comment: "salon annuel, panne annoncée".into(),
                created_by: "cm".into(),
            },
            at(0),
        )
        .unwrap();

    let mut b = Bench::new(&config, state.clone());
    // Still firing for 170 minutes: a mention every 5 minutes.
    let mut queued = Vec::new();
    for min in 0..=170 {
        let q = b.step(min, crisis(min, 0, 1000));
        if q > 0 {
            queued.push((min, q));
        }
    }
    // Fired at 0, repeated at 60 and 120: all silenced, all recorded.
    let firing: Vec<(i64, Stage)> = b
        .log
        .iter()
        .filter(|(_, e, _)| e.state == AlertState::Firing)
        .map(|(m, e, _)| (*m, e.stage))
        .collect();
    assert_eq!(
        firing,
        vec![
            (0, Stage::Threshold),
            (60, Stage::Repeat),
            (120, Stage::Repeat),
            (150, Stage::Repeat),
        ],
        "{:?}",
        b.log
    );
    // Nothing queued while silenced; one notification when the silence
    // ended at 150 (the latest held one, not one per missed repeat).
    assert_eq!(queued, vec![(150, 1)]);
    let history = state.silences().events(100).unwrap();
    assert_eq!(history.len(), 4);
    for e in &history[..3] {
        assert_eq!(e.silenced_by, Some(silence.id), "{e:?}");
        assert!(e.notified.is_empty());
    }
    assert!(history[3].released && history[3].notified == vec!["hook".to_string()]);
    assert_eq!(
        history[3].event.at,
        at(120),
        "the held event is the one sent"
    );

    deliver(&config, state.clone()).await;
    let got = posted(&hooks);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].watch.as_str(), got[0].state),
        ("acme", AlertState::Firing)
    );
    assert_eq!(got[0].at, at(120));
    // The silence stays listed, expired.
    assert_eq!(
        state.silences().list().unwrap()[0].status(at(170)),
        "expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_that_resolves_under_a_silence_is_never_sent() {
    veilleur::install_crypto_provider();
    let (hook_addr, hooks) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), hook_addr, None);
    let state = Arc::new(StateStore::open(&dir.path().join("state")).unwrap());
    state
        .silences()
        .add(
            NewSilence {
                watch: "acme".into(),
                rule: Some("crisis".into()),
                starts_at: None,
                ends_at: at(60),
                comment: String::new(),
                created_by: "cm".into(),
            },
            at(0),
        )
        .unwrap();
    let mut b = Bench::new(&config, state.clone());
    let mut queued = 0;
    for min in 0..=90 {
        queued += b.step(min, crisis(min, 0, 10));
    }
    let states: Vec<AlertState> = b.log.iter().map(|(_, e, _)| e.state).collect();
    assert_eq!(states, vec![AlertState::Firing, AlertState::Resolved]);
    assert_eq!(queued, 0);
    assert!(state.silences().held().unwrap().is_empty());
    deliver(&config, state.clone()).await;
    assert!(posted(&hooks).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_stops_repeats_until_the_alert_resolves() {
    veilleur::install_crypto_provider();
    let (hook_addr, hooks) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), hook_addr, None);
    let state = Arc::new(StateStore::open(&dir.path().join("state")).unwrap());
    let mut b = Bench::new(&config, state.clone());
    let mut queued = Vec::new();
    for min in 0..=10 {
        if b.step(min, crisis(min, 0, 181)) > 0 {
            queued.push(min);
        }
    }
    assert_eq!(queued, vec![0]);
    // Acknowledged by `watch/rule`; an unknown alert is refused.
    let ack = state
        .silences()
        .ack("acme/crisis", "cm", "on it", at(10))
        .unwrap();
    assert_eq!(ack.fired_at, Some(at(0)));
    let err = state.silences().ack("42", "cm", "", at(10)).unwrap_err();
    assert!(err.to_string().contains("no alert with id 42"), "{err}");
    // Still firing for three hours: the repeats are recorded, not sent.
    for min in 11..=180 {
        if b.step(min, crisis(min, 0, 181)) > 0 {
            queued.push(min);
        }
    }
    assert_eq!(queued, vec![0]);
    let history = state.silences().events(100).unwrap();
    let repeats: Vec<bool> = history
        .iter()
        .filter(|e| e.event.stage == Stage::Repeat)
        .map(|e| e.acked)
        .collect();
    assert_eq!(repeats, vec![true, true, true]);
    // It resolves (no mention for 20 min): acknowledging it is refused.
    for min in 181..=230 {
        if b.step(min, 0) > 0 {
            queued.push(min);
        }
    }
    assert!(state.silences().acks().unwrap().is_empty());
    let err = state
        .silences()
        .ack(&history[0].id.to_string(), "cm", "", at(230))
        .unwrap_err();
    assert!(err.to_string().contains("is not firing"), "{err}");
    // A new firing is not acknowledged.
    for min in 231..=260 {
        if b.step(min, crisis(min, 240, 1000)) > 0 {
            queued.push(min);
        }
    }
    assert_eq!(queued, vec![0, 240]);
    // The id of the first firing names that firing only.
    let err = state
        .silences()
        .ack(&history[0].id.to_string(), "cm", "", at(260))
        .unwrap_err();
    assert!(err.to_string().contains("is over"), "{err}");
    deliver(&config, state.clone()).await;
    let got = posted(&hooks);
    assert_eq!(
        got.iter().map(|e| e.at).collect::<Vec<_>>(),
        vec![at(0), at(240)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_alert_still_notifies_its_escalation() {
    let (hook_addr, _) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), hook_addr, None);
    let state = Arc::new(StateStore::open(&dir.path().join("state")).unwrap());
    let mut b = Bench::new(&config, state.clone());
    let mut queued = Vec::new();
    for min in 0..=5 {
        if b.step(min, crisis(min, 0, 100)) > 0 {
            queued.push(min);
        }
    }
    state
        .silences()
        .ack("acme/crisis", "cm", "", at(5))
        .unwrap();
    // The volume more than doubles: 12 mentions at minute 15.
    for min in 6..=20 {
        let hits = if min == 15 { 12 } else { crisis(min, 0, 100) };
        if b.step(min, hits) > 0 {
            queued.push(min);
        }
    }
    assert_eq!(queued, vec![0, 15]);
    let last = state.silences().events(1).unwrap().remove(0);
    assert_eq!((last.event.stage, last.acked), (Stage::Escalation, false));
}

fn veilleur(args: &[&str], config: &Path) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_veilleur"));
    cmd.args(&args[..2])
        .arg("--config")
        .arg(config)
        .args(&args[2..]);
    cmd.output().unwrap()
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_commands_survive_a_restart_and_refuse_while_the_store_is_held() {
    veilleur::install_crypto_provider();
    let (hook_addr, _) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), hook_addr, None);
    let added = ok(&veilleur(
        &[
            "silence",
            "add",
            "--watch",
            "acme",
            "--for",
            "6h",
            "--comment",
            "salon",
            "--by",
            "cm",
        ],
        &config,
    ));
    assert!(added.starts_with("silence 1 added: acme until"), "{added}");
    // Unknown watches and rules are refused with the names to choose from.
    let bad = veilleur(
        &["silence", "add", "--watch", "acne", "--for", "6h"],
        &config,
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("no watch `acne`"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let bad = veilleur(
        &[
            "silence", "add", "--watch", "acme", "--rule", "x", "--for", "6h",
        ],
        &config,
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected one of crisis"));
    ok(&veilleur(
        &[
            "silence", "add", "--watch", "acme", "--rule", "crisis", "--for", "1h",
        ],
        &config,
    ));
    ok(&veilleur(&["silence", "expire", "2"], &config));

    let listed = ok(&veilleur(&["silence", "list", "--json"], &config));
    let rows: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            &rows[0]["watch"],
            &rows[0]["status"],
            &rows[0]["comment"],
            &rows[0]["created_by"]
        ),
        (
            &"acme".into(),
            &"active".into(),
            &"salon".into(),
            &"cm".into()
        )
    );
    assert_eq!(
        (&rows[1]["rule"], &rows[1]["status"]),
        (&"crisis".into(), &"expired".into())
    );

    // The daemon's store, reopened: the silence is there and mutes.
    {
        let state = StateStore::open(&dir.path().join("data/state")).unwrap();
        assert_eq!(state.silences().active(Utc::now()).unwrap().len(), 1);
        // While a process holds the store, the commands say what to do.
        let held = veilleur(&["silence", "list"], &config);
        assert!(!held.status.success());
        let err = String::from_utf8_lossy(&held.stderr);
        assert!(
            err.contains("held by a running daemon") && err.contains("/api/silences"),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_records_a_silenced_alert_and_sends_it_once_after_expiry_and_restart() {
    veilleur::install_crypto_provider();
    let (feeds, base) = FeedServer::start().await;
    let (hook_addr, hooks) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), hook_addr, Some(&format!("{base}/news.xml")));
    ok(&veilleur(
        &[
            "silence",
            "add",
            "--watch",
            "acme",
            "--for",
            "6h",
            "--comment",
            "maintenance",
        ],
        &config,
    ));
    let now = Utc::now();
    feeds.set(
        "news.xml",
        Page::ok(
            "application/rss+xml",
            rss(&[(
                "p1".into(),
                "Acme en panne".into(),
                "acme panne générale".into(),
                now,
            )]),
        ),
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let d = start_daemon(&config, Some(tx)).await;
    let ev = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("the alert is recorded")
        .unwrap();
    assert_eq!((ev.rule.as_str(), ev.state), ("crisis", AlertState::Firing));
    d.stop().await;
    assert!(
        hooks.lock().unwrap().is_empty(),
        "a silenced alert is not sent"
    );
    {
        let state = StateStore::open(&dir.path().join("data/state")).unwrap();
        let h = state.silences().events(10).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].silenced_by, Some(1));
        assert!(state.outbox().is_empty().unwrap());
    }

    // The silence is expired while the daemon is stopped; at start the
    // still-firing alert is sent, once.
    ok(&veilleur(&["silence", "expire", "1"], &config));
    let d = start_daemon(&config, None).await;
    assert!(
        wait_for(Duration::from_secs(20), || !hooks
            .lock()
            .unwrap()
            .is_empty())
        .await
    );
    // A few more ticks: nothing else goes out.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    d.stop().await;
    let got = posted(&hooks);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].rule, "crisis");
}
