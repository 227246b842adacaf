//! The ingest step: dedupe, counts and cursors committed after the index,
//! history that warms a restarted pipeline without alerting, housekeeping,
//! and a batched replay equal to the detector's own.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::*;
use crate::alert::AlertState;
use crate::store::index::MentionIndex;

const RULE: &str = r#"
[watch]
name = "acme"
query = 'acme'

[[alert]]
name = "spike"
kind = "volume_spike"
window = "10m"
min_mentions = 10

[[alert]]
name = "words"
kind = "keyword"
query = 'boycott'
window = "10m"
"#;

fn rules(dir: &Path) -> RuleSet {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("acme.toml"), RULE).unwrap();
    crate::rules::load_dir(&rules, None).unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-03-30T12:00:00Z".parse().unwrap()
}

/// A live pipeline over the stores of `dir`, restored at `now`; commits
/// only when told to.
fn live(dir: &Path, now: DateTime<Utc>) -> Pipeline {
    let index = Arc::new(MentionIndex::open(&dir.join("index")).unwrap());
    let state = Arc::new(StateStore::open(&dir.join("state")).unwrap());
    let policy = CommitPolicy::new(usize::MAX, Duration::MAX, Instant::now());
    let storage = Storage::new(index, state, policy);
    Pipeline::live(rules(dir), storage, Arc::new(Metrics::new()), now).unwrap()
}

fn mention(id: &str, text: &str, published: DateTime<Utc>) -> Mention {
    Mention {
        id: id.into(),
        source: "feed".into(),
        url: format!("https://ex.org/{id}"),
        title: text.into(),
        text: text.into(),
        author: format!("author-{id}"),
        author_followers: None,
        published,
        lang: Some("fr".into()),
        sentiment: Some(if text.contains("panne") { -0.7 } else { 0.3 }),
        watches: vec![],
    }
}

fn ids(p: &mut Pipeline, batch: &[&str], at: DateTime<Utc>) -> Ingested {
    let ms = batch
        .iter()
        .map(|id| mention(id, "Acme offre fibre", at))
        .collect();
    p.ingest("feed", ms, Some(b"etag".to_vec()), at).unwrap()
}

fn state(dir: &Path) -> StateStore {
    StateStore::open(&dir.join("state")).unwrap()
}

#[test]
fn a_mention_is_counted_once_whether_repeated_in_a_batch_pending_or_committed() {
    let dir = tempfile::tempdir().unwrap();
    let t = now() - chrono::Duration::days(2);
    let mut p = live(dir.path(), now());
    let a = ids(&mut p, &["a", "a", "b"], t);
    assert_eq!((a.fresh, a.duplicates), (2, 1), "within the batch");
    let b = ids(&mut p, &["a", "c"], t);
    assert_eq!((b.fresh, b.duplicates), (1, 1), "pending commit");
    assert!(p.commit(Instant::now()).unwrap());
    assert!(!p.commit(Instant::now()).unwrap(), "nothing left to commit");
    let c = ids(&mut p, &["b", "d"], t);
    assert_eq!((c.fresh, c.duplicates), (1, 1), "committed");
    p.commit(Instant::now()).unwrap();
    drop(p);

    let s = state(dir.path());
    let unseen = s.ledger().unseen(&["a", "b", "c", "d", "e"]).unwrap();
    assert_eq!(unseen, vec![false, false, false, false, true]);
    let total: u64 = s
        .buckets()
        .since(i64::MIN)
        .unwrap()
        .iter()
        .map(|b| b.2)
        .sum();
    assert_eq!(total, 4, "one count per mention");
    assert_eq!(
        s.ledger().cursor("feed").unwrap().as_deref(),
        Some(&b"etag"[..])
    );
    let index = MentionIndex::open_read_only(&dir.path().join("index")).unwrap();
    assert_eq!(index.num_docs(), 4);
}

#[test]
fn the_commit_policy_decides_after_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(MentionIndex::open(&dir.path().join("index")).unwrap());
    let st = Arc::new(StateStore::open(&dir.path().join("state")).unwrap());
    let t0 = Instant::now();
    let storage = Storage::new(index, st, CommitPolicy::new(3, Duration::from_secs(60), t0));
    let mut p =
        Pipeline::live(rules(dir.path()), storage, Arc::new(Metrics::new()), now()).unwrap();
    ids(&mut p, &["a", "b"], now());
    assert!(!p.commit_if_due(t0).unwrap());
    ids(&mut p, &["c"], now());
    assert!(p.commit_if_due(t0).unwrap(), "three documents");
    ids(&mut p, &["d"], now());
    assert!(!p.commit_if_due(t0 + Duration::from_secs(59)).unwrap());
    assert!(
        p.commit_if_due(t0 + Duration::from_secs(60)).unwrap(),
        "a minute"
    );
}

/// Three weeks of quiet, every half hour, ending an hour before `now`.
fn history() -> Vec<Mention> {
    (0..21 * 48)
        .map(|k| {
            let at = now() - chrono::Duration::hours(1) - chrono::Duration::minutes(30 * k);
            mention(&format!("h{k}"), "Acme offre fibre", at)
        })
        .collect()
}

/// Thirty complaints in the minute before `now`.
fn burst() -> Vec<Mention> {
    (0..30)
        .map(|k| {
            let at = now() - chrono::Duration::seconds(60 - 2 * k);
            mention(&format!("b{k}"), "Acme panne", at)
        })
        .collect()
}

fn fired(ts: &[Transition]) -> bool {
    ts.iter()
        .any(|t| t.event.rule == "spike" && t.event.state == AlertState::Firing)
}

#[test]
fn stored_history_warms_a_restarted_pipeline_without_alerting_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = live(dir.path(), now());
    let got = p.ingest("import", history(), None, now()).unwrap();
    assert_eq!(got.fresh, 21 * 48);
    assert!(got.transitions.is_empty(), "{:#?}", got.transitions);
    p.commit(Instant::now()).unwrap();
    drop(p);

    // Restarted on that store, the first burst fires at once...
    let mut p = live(dir.path(), now());
    let got = p.ingest("feed", burst(), None, now()).unwrap();
    assert!(fired(&got.transitions), "{:#?}", got.transitions);

    // ...while without the history the watch is still warming up.
    let empty = tempfile::tempdir().unwrap();
    let mut cold = live(empty.path(), now());
    let got = cold.ingest("feed", burst(), None, now()).unwrap();
    assert!(!fired(&got.transitions), "{:#?}", got.transitions);
}

#[test]
fn housekeeping_drops_buckets_past_retention_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = live(dir.path(), now());
    let old = now() - chrono::Duration::days(40);
    let recent = now() - chrono::Duration::days(1);
    p.ingest("feed", vec![mention("old", "Acme", old)], None, now())
        .unwrap();
    p.ingest("feed", vec![mention("new", "Acme", recent)], None, now())
        .unwrap();
    p.commit(Instant::now()).unwrap();
    p.housekeeping(now()).unwrap();
    drop(p);
    let minutes: Vec<i64> = state(dir.path())
        .buckets()
        .since(i64::MIN)
        .unwrap()
        .iter()
        .map(|b| b.1)
        .collect();
    assert_eq!(minutes, vec![recent.timestamp().div_euclid(60)]);
}

#[test]
fn housekeeping_forgets_seen_ids_ingested_before_the_retention_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(MentionIndex::open(&dir.path().join("index")).unwrap());
    let st = Arc::new(StateStore::open(&dir.path().join("state")).unwrap());
    let policy = CommitPolicy::new(usize::MAX, Duration::MAX, Instant::now());
    let storage =
        Storage::new(index, st.clone(), policy).with_retention(Duration::from_secs(30 * 86_400));
    let mut p =
        Pipeline::live(rules(dir.path()), storage, Arc::new(Metrics::new()), now()).unwrap();
    // Ingested 40 days ago (an old post) and yesterday (an even older post:
    // retention goes by ingestion time, not publication time).
    let long_ago = now() - chrono::Duration::days(40);
    let yesterday = now() - chrono::Duration::days(1);
    p.ingest(
        "feed",
        vec![mention("early", "Acme", long_ago)],
        None,
        long_ago,
    )
    .unwrap();
    p.ingest(
        "feed",
        vec![mention(
            "late",
            "Acme",
            long_ago - chrono::Duration::days(100),
        )],
        None,
        yesterday,
    )
    .unwrap();
    p.commit(Instant::now()).unwrap();
    p.housekeeping(now()).unwrap();
    assert_eq!(
        st.ledger().unseen(&["early", "late"]).unwrap(),
        vec![true, false],
        "the id ingested 40 days ago is forgotten, yesterday's is kept"
    );
}

#[test]
fn expired_mentions_leave_the_index_past_the_retention_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(MentionIndex::open(&dir.path().join("index")).unwrap());
    let st = Arc::new(StateStore::open(&dir.path().join("state")).unwrap());
    let policy = CommitPolicy::new(usize::MAX, Duration::MAX, Instant::now());
    let storage =
        Storage::new(index.clone(), st, policy).with_retention(Duration::from_secs(30 * 86_400));
    let metrics = Arc::new(Metrics::new());
    let mut p = Pipeline::live(rules(dir.path()), storage, metrics.clone(), now()).unwrap();
    let old = mention("old", "Acme", now() - chrono::Duration::days(31));
    let kept = mention("kept", "Acme", now() - chrono::Duration::days(29));
    p.ingest("feed", vec![old, kept], None, now()).unwrap();
    p.housekeeping(now()).unwrap();
    p.commit(Instant::now()).unwrap();
    assert_eq!(index.num_docs(), 2, "housekeeping alone deletes no mention");
    // A pending one is committed first, then deleted with the other.
    let pending = mention("pending", "Acme", now() - chrono::Duration::days(40));
    p.ingest("feed", vec![pending], None, now()).unwrap();
    assert_eq!(p.expire_mentions(now()).unwrap(), 2);
    let q = crate::rules::query::parse("acme").unwrap();
    let ids: Vec<String> = index
        .search(&q, None, 10)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, vec!["kept".to_string()]);
    assert!(
        metrics.encode().contains("veilleur_index_documents 1\n"),
        "the documents gauge follows"
    );
}

#[test]
fn status_reports_counts_rules_and_warm_up_from_the_committed_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = live(dir.path(), now());
    let ms: Vec<Mention> = (0..6)
        .map(|i| {
            let mut m = mention(
                &format!("s{i}"),
                "Acme",
                now() - chrono::Duration::minutes(10 * i),
            );
            m.sentiment = Some(if i % 2 == 0 { -0.6 } else { 0.4 });
            m
        })
        .chain([mention(
            "boy",
            "Acme boycott",
            now() - chrono::Duration::hours(3),
        )])
        .collect();
    p.ingest("feed", ms, None, now()).unwrap();
    p.commit(Instant::now()).unwrap();
    let st = p.status(now()).unwrap();
    assert_eq!(st.len(), 1);
    let w = &st[0];
    assert_eq!(w.name, "acme");
    assert_eq!(w.hour, (6, 3), "the six of the last hour, three negative");
    assert_eq!(w.day.0, 7);
    assert_eq!(w.rules.len(), 2);
    assert_eq!(w.rules[0].kind, "volume_spike");
    assert_eq!(
        w.rules[0].observed, 1,
        "its 10 minute window, (now - 10m, now]"
    );
    assert!(!w.warm, "a day of history is needed");
}

#[test]
fn a_replay_in_batches_equals_the_detectors_replay_and_counts_a_repeat_once() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path());
    let t0 = now() - chrono::Duration::days(1);
    let mut ms: Vec<Mention> = (0..300)
        .map(|k| {
            mention(
                &format!("q{k}"),
                "Acme offre fibre",
                t0 + chrono::Duration::minutes(k),
            )
        })
        .collect();
    ms.extend((0..60).map(|k| {
        let at = t0 + chrono::Duration::seconds(18_000 + (k / 3) * 5);
        mention(&format!("c{k}"), "Acme panne, boycott", at)
    }));
    let want = crate::detect::replay::replay(&rules, ms.clone());
    assert!(want.iter().any(|e| e.rule == "spike"), "{want:#?}");
    assert!(want.iter().any(|e| e.rule == "words"));

    let mut p = Pipeline::replay(rules.clone());
    for chunk in ms.chunks(37) {
        p.ingest("file", chunk.to_vec(), None, now()).unwrap();
    }
    assert_eq!(p.finish(), want);

    // A repeated id in one batch (a file with duplicates) counts once.
    let mut doubled = ms.clone();
    doubled.extend(ms.iter().filter(|m| m.id.starts_with('c')).cloned());
    let mut p = Pipeline::replay(rules);
    let got = p.ingest("file", doubled, None, now()).unwrap();
    assert_eq!((got.fresh, got.duplicates), (360, 60));
    assert_eq!(p.finish(), want);
}
