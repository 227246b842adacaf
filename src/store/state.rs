//! The embedded transactional state store (redb) under `data_dir/state`.
//!
//! Owns: seen mention ids, per-source HTTP validators, per-watch minute
//! buckets (total and negative counts), alert lifecycle records and the
//! notification outbox with its delivery log. Every write that matters is one
//! transaction, so a crash leaves either all of it or none.
//!
//! It stores detection's alert records and sources' validators as opaque
//! bytes: it does not know their types, so the store stays a narrow interface
//! that another back end can implement.

use std::collections::HashMap;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::alert::AlertEvent;

const SEEN: TableDefinition<&str, i64> = TableDefinition::new("seen");
const VALIDATORS: TableDefinition<&str, &[u8]> = TableDefinition::new("validators");
const BUCKETS: TableDefinition<(&str, i64), (u64, u64)> = TableDefinition::new("buckets");
const ALERTS: TableDefinition<&str, &[u8]> = TableDefinition::new("alerts");
const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
const SENT: TableDefinition<&str, i64> = TableDefinition::new("sent");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

const OUTBOX_SEQ: &str = "outbox_seq";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot open state store {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: redb::DatabaseError,
    },
    #[error("state store: {0}")]
    Store(#[from] redb::Error),
    #[error("state store holds an unreadable record: {0}")]
    Corrupt(#[from] serde_json::Error),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StateError {
            fn from(e: $t) -> Self {
                StateError::Store(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A notification waiting to be delivered to one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The event's idempotency key.
    pub key: String,
    pub channel: String,
    pub event: AlertEvent,
    pub attempts: u32,
    /// Unix milliseconds before which it is not retried.
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
}

/// What ingesting one batch changes, committed as one transaction.
#[derive(Debug, Default)]
pub struct IngestCommit {
    /// (id, published unix seconds) of the mentions now seen.
    pub seen: Vec<(String, i64)>,
    /// (watch, minute, total, negative) increments.
    pub buckets: Vec<(String, i64, u64, u64)>,
    /// (source, validators) to store.
    pub validators: Vec<(String, Vec<u8>)>,
}

/// The state store. Cheap to share behind an `Arc`; redb serialises writers.
pub struct StateStore {
    db: Database,
}

impl StateStore {
    /// Opens (creating if needed) the store file at `path`.
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        let db = Database::create(path).map_err(|source| StateError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let tx = db.begin_write()?;
        tx.open_table(SEEN)?;
        tx.open_table(VALIDATORS)?;
        tx.open_table(BUCKETS)?;
        tx.open_table(ALERTS)?;
        tx.open_table(OUTBOX)?;
        tx.open_table(SENT)?;
        tx.open_table(META)?;
        tx.commit()?;
        Ok(StateStore { db })
    }

    /// For each id, whether it was never seen before.
    pub fn unseen(&self, ids: &[&str]) -> Result<Vec<bool>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(SEEN)?;
        ids.iter().map(|id| Ok(t.get(*id)?.is_none())).collect()
    }

    /// The validators stored for a source.
    pub fn validators(&self, source: &str) -> Result<Option<Vec<u8>>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(VALIDATORS)?;
        Ok(t.get(source)?.map(|v| v.value().to_vec()))
    }

    /// Records seen ids, bucket increments and validators in one transaction.
    pub fn commit_ingest(&self, c: &IngestCommit) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        {
            let mut seen = tx.open_table(SEEN)?;
            for (id, ts) in &c.seen {
                seen.insert(id.as_str(), ts)?;
            }
            let mut buckets = tx.open_table(BUCKETS)?;
            for (watch, minute, total, neg) in &c.buckets {
                let key = (watch.as_str(), *minute);
                let (t0, n0) = buckets.get(key)?.map_or((0, 0), |v| v.value());
                buckets.insert(key, (t0 + total, n0 + neg))?;
            }
            let mut val = tx.open_table(VALIDATORS)?;
            for (source, v) in &c.validators {
                val.insert(source.as_str(), v.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// All buckets at or after `since_minute`: (watch, minute, total, negative).
    pub fn buckets_since(
        &self,
        since_minute: i64,
    ) -> Result<Vec<(String, i64, u64, u64)>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(BUCKETS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            let (watch, minute) = k.value();
            if minute >= since_minute {
                let (total, neg) = v.value();
                out.push((watch.to_string(), minute, total, neg));
            }
        }
        Ok(out)
    }

    /// Deletes buckets older than `before_minute`; returns how many.
    pub fn prune_buckets(&self, before_minute: i64) -> Result<u64, StateError> {
        let tx = self.db.begin_write()?;
        let mut n = 0;
        {
            let mut t = tx.open_table(BUCKETS)?;
            t.retain(|(_, minute), _| {
                let keep = minute >= before_minute;
                if !keep {
                    n += 1;
                }
                keep
            })?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Merges the minute buckets older than `before_minute` into one bucket
    /// per hour, keyed at the hour's first minute, in one transaction;
    /// returns how many minute rows were folded away. Totals are preserved,
    /// buckets at or after `before_minute` are untouched, and running it
    /// again changes nothing. Detection restores minute and hour rows alike
    /// (it learns hourly counts); only windows shorter than an hour lose
    /// their shape, and those only look at recent minutes.
    pub fn compact_buckets(&self, before_minute: i64) -> Result<u64, StateError> {
        let tx = self.db.begin_write()?;
        let mut n = 0;
        {
            let mut t = tx.open_table(BUCKETS)?;
            let mut hours: HashMap<(String, i64), (u64, u64)> = HashMap::new();
            t.retain(|(watch, minute), (total, neg)| {
                let hour = minute - minute.rem_euclid(60);
                if minute >= before_minute || minute == hour {
                    return true;
                }
                let e = hours.entry((watch.to_string(), hour)).or_default();
                e.0 += total;
                e.1 += neg;
                n += 1;
                false
            })?;
            for ((watch, hour), (total, neg)) in hours {
                let key = (watch.as_str(), hour);
                let (t0, n0) = t.get(key)?.map_or((0, 0), |v| v.value());
                t.insert(key, (t0 + total, n0 + neg))?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Every alert record, by key.
    pub fn alert_records(&self) -> Result<HashMap<String, Vec<u8>>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(ALERTS)?;
        let mut out = HashMap::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.insert(k.value().to_string(), v.value().to_vec());
        }
        Ok(out)
    }

    /// Stores alert records and queues their notifications in one
    /// transaction: an alert is never recorded as fired without its outbox
    /// entries, nor queued without its record.
    pub fn commit_alerts(
        &self,
        records: &[(String, Vec<u8>)],
        outbox: &[OutboxEntry],
    ) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        {
            let mut alerts = tx.open_table(ALERTS)?;
            for (k, v) in records {
                alerts.insert(k.as_str(), v.as_slice())?;
            }
            let mut meta = tx.open_table(META)?;
            let mut seq = meta.get(OUTBOX_SEQ)?.map_or(0, |v| v.value());
            let mut ob = tx.open_table(OUTBOX)?;
            for e in outbox {
                seq += 1;
                ob.insert(seq, serde_json::to_vec(e)?.as_slice())?;
            }
            meta.insert(OUTBOX_SEQ, seq)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Entries whose next attempt is due at `now_ms`, oldest first.
    pub fn outbox_due(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<(u64, OutboxEntry)>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(OUTBOX)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            let e: OutboxEntry = serde_json::from_slice(v.value())?;
            if e.next_attempt_ms <= now_ms {
                out.push((k.value(), e));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The earliest next attempt among queued entries, if any.
    pub fn outbox_next_due(&self) -> Result<Option<i64>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(OUTBOX)?;
        let mut min = None;
        for row in t.iter()? {
            let (_, v) = row?;
            let e: OutboxEntry = serde_json::from_slice(v.value())?;
            min = Some(min.map_or(e.next_attempt_ms, |m: i64| m.min(e.next_attempt_ms)));
        }
        Ok(min)
    }

    /// Number of entries waiting in the outbox.
    pub fn outbox_len(&self) -> Result<u64, StateError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(OUTBOX)?.len()?)
    }

    /// Whether `key` was already delivered to `channel`.
    pub fn was_sent(&self, key: &str, channel: &str) -> Result<bool, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(SENT)?;
        Ok(t.get(sent_key(key, channel).as_str())?.is_some())
    }

    /// Removes a delivered entry and records the delivery, in one transaction.
    pub fn outbox_delivered(
        &self,
        seq: u64,
        e: &OutboxEntry,
        now_ms: i64,
    ) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        {
            tx.open_table(OUTBOX)?.remove(seq)?;
            tx.open_table(SENT)?
                .insert(sent_key(&e.key, &e.channel).as_str(), now_ms)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Rewrites an entry after a failed attempt (attempts, next attempt, error).
    pub fn outbox_update(&self, seq: u64, e: &OutboxEntry) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        tx.open_table(OUTBOX)?
            .insert(seq, serde_json::to_vec(e)?.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// Drops an entry that can never be delivered (its channel is gone or it
    /// failed permanently).
    pub fn outbox_drop(&self, seq: u64) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        tx.open_table(OUTBOX)?.remove(seq)?;
        tx.commit()?;
        Ok(())
    }
}

fn sent_key(key: &str, channel: &str) -> String {
    format!("{channel}\u{1f}{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_survives_reopen_and_buckets_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        {
            let s = StateStore::open(&path).unwrap();
            assert_eq!(s.unseen(&["a", "b"]).unwrap(), vec![true, true]);
            s.commit_ingest(&IngestCommit {
                seen: vec![("a".into(), 1)],
                buckets: vec![("w".into(), 10, 2, 1), ("w".into(), 10, 1, 0)],
                validators: vec![("src".into(), b"etag".to_vec())],
            })
            .unwrap();
        }
        let s = StateStore::open(&path).unwrap();
        assert_eq!(s.unseen(&["a", "b"]).unwrap(), vec![false, true]);
        assert_eq!(s.buckets_since(0).unwrap(), vec![("w".into(), 10, 3, 1)]);
        assert!(s.buckets_since(11).unwrap().is_empty());
        assert_eq!(s.validators("src").unwrap().unwrap(), b"etag");
        assert_eq!(s.prune_buckets(11).unwrap(), 1);
        assert!(s.buckets_since(0).unwrap().is_empty());
    }

    #[test]
    fn compaction_folds_old_minutes_into_hours_and_keeps_totals() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(&dir.path().join("state")).unwrap();
        // Hour 100 (minutes 6000..6060) whole, hour 101 straddling the
        // horizon at minute 6090, and another watch.
        let mut rows = Vec::new();
        for m in [6000, 6001, 6030, 6059, 6060, 6075, 6089, 6090, 6100, 6200] {
            rows.push(("w".to_string(), m, 2, 1));
        }
        rows.push(("v".to_string(), 6001, 5, 0));
        rows.push(("v".to_string(), -61, 1, 1));
        s.commit_ingest(&IngestCommit {
            buckets: rows,
            ..IngestCommit::default()
        })
        .unwrap();
        let sum =
            |b: &[(String, i64, u64, u64)]| b.iter().fold((0, 0), |(t, n), r| (t + r.2, n + r.3));
        let before = s.buckets_since(i64::MIN).unwrap();
        assert_eq!(s.compact_buckets(6090).unwrap(), 7);
        let after = s.buckets_since(i64::MIN).unwrap();
        assert_eq!(sum(&after), sum(&before));
        assert_eq!(
            after,
            vec![
                ("v".into(), -120, 1, 1),
                ("v".into(), 6000, 5, 0),
                ("w".into(), 6000, 8, 4),
                ("w".into(), 6060, 6, 3),
                ("w".into(), 6090, 2, 1),
                ("w".into(), 6100, 2, 1),
                ("w".into(), 6200, 2, 1),
            ]
        );
        assert_eq!(s.compact_buckets(6090).unwrap(), 0, "idempotent");
        assert_eq!(s.buckets_since(i64::MIN).unwrap(), after);
        // A later horizon folds the rest of hour 101 into its first minute.
        assert_eq!(s.compact_buckets(6120).unwrap(), 2);
        let later = s.buckets_since(i64::MIN).unwrap();
        assert_eq!(sum(&later), sum(&before));
        assert!(later.contains(&("w".into(), 6060, 10, 5)), "{later:?}");
    }

    #[test]
    fn outbox_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(&dir.path().join("state")).unwrap();
        let ev = AlertEvent::example();
        let e = OutboxEntry {
            key: ev.idempotency_key(),
            channel: "mail".into(),
            event: ev,
            attempts: 0,
            next_attempt_ms: 100,
            last_error: None,
        };
        s.commit_alerts(&[("w/r".into(), b"{}".to_vec())], std::slice::from_ref(&e))
            .unwrap();
        assert!(s.outbox_due(99, 10).unwrap().is_empty());
        let due = s.outbox_due(100, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(s.outbox_next_due().unwrap(), Some(100));
        let (seq, mut entry) = due.into_iter().next().unwrap();
        entry.attempts = 1;
        entry.next_attempt_ms = 500;
        s.outbox_update(seq, &entry).unwrap();
        assert!(s.outbox_due(499, 10).unwrap().is_empty());
        assert!(!s.was_sent(&entry.key, "mail").unwrap());
        s.outbox_delivered(seq, &entry, 600).unwrap();
        assert_eq!(s.outbox_len().unwrap(), 0);
        assert!(s.was_sent(&entry.key, "mail").unwrap());
        assert!(!s.was_sent(&entry.key, "other").unwrap());
        assert_eq!(s.alert_records().unwrap()["w/r"], b"{}");
    }
}
