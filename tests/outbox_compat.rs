//! A state file written before notifications became an enum: its queued
//! entries (the old shape, with an `event` field) are still delivered, once,
//! and the outbox goes on numbering after them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redb::{Database, TableDefinition};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use veilleur::alert::{AlertEvent, AlertState, Notification};
use veilleur::notify::Notifier;
use veilleur::notify::file::FileNotifier;
use veilleur::notify::outbox::{OutboxOptions, run_with_options};
use veilleur::store::state::StateStore;
use veilleur::store::state::outbox::Entry;
use veilleur::telemetry::{ChannelOutcomeLabels, Metrics};

// The tables as the older version laid them out.
const OUTBOX: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("outbox");
const META: TableDefinition<'static, &str, u64> = TableDefinition::new("meta");

#[tokio::test]
async fn old_outbox_entries_are_delivered_after_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    let old = AlertEvent::example();
    {
        let db = Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        let entry = serde_json::json!({
            "key": old.idempotency_key(),
            "channel": "files",
            "event": old,
            "attempts": 0,
            "next_attempt_ms": 0,
            "last_error": null,
        });
        tx.open_table(OUTBOX)
            .unwrap()
            .insert(1, serde_json::to_vec(&entry).unwrap().as_slice())
            .unwrap();
        tx.open_table(META)
            .unwrap()
            .insert("outbox_seq", 1)
            .unwrap();
        tx.commit().unwrap();
    }

    let state = Arc::new(StateStore::open(&path).unwrap());
    // A new entry queued after the upgrade takes the next number.
    let mut resolved = old.clone();
    resolved.state = AlertState::Resolved;
    let new = Entry::new(Notification::Alert(resolved.clone()), "files", 0);
    state
        .alerts()
        .commit(&[], std::slice::from_ref(&new))
        .unwrap();
    let due = state.outbox().due(i64::MAX, 10).unwrap();
    let seqs: Vec<u64> = due.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, vec![1, 2]);
    assert_eq!(due[0].1.notification, Notification::Alert(old.clone()));

    let out = dir.path().join("out");
    let files = FileNotifier::new(&out);
    let paths = [
        files.path_for(&old.idempotency_key()),
        files.path_for(&resolved.idempotency_key()),
    ];
    let notifiers = HashMap::from([("files".to_string(), Notifier::File(files))]);
    let metrics = Arc::new(Metrics::new());
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(run_with_options(
        state.clone(),
        Arc::new(notifiers),
        metrics.clone(),
        Arc::new(Notify::new()),
        shutdown.clone(),
        Duration::from_secs(2),
        OutboxOptions {
            idle_poll: Duration::from_millis(50),
            ..OutboxOptions::default()
        },
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while state.outbox().len().unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "outbox not drained");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    handle.await.unwrap();

    for (p, ev) in paths.iter().zip([&old, &resolved]) {
        let eml = std::fs::read_to_string(p).unwrap();
        assert!(eml.contains("Message-ID"), "{eml}");
        assert!(
            state
                .outbox()
                .was_sent(&ev.idempotency_key(), "files")
                .unwrap()
        );
    }
    let sent = metrics
        .notifications
        .get_or_create(&ChannelOutcomeLabels {
            channel: "files".into(),
            outcome: "sent".into(),
        })
        .get();
    assert_eq!(sent, 2);
}
