//! The embedded transactional state store (redb) under `data_dir/state`,
//! handed out as named handles.
//!
//! [`StateStore`] owns the redb [`Database`] and creates every table at
//! open; each handle owns its tables and borrows the database:
//! - [`Ledger`] ([`StateStore::ledger`]): seen mention ids and per-source
//!   cursors (HTTP validators);
//! - [`Buckets`] ([`StateStore::buckets`]): per-watch minute counts;
//! - [`AlertLog`] ([`StateStore::alerts`]): alert lifecycle records, queued
//!   with their notifications in one transaction;
//! - [`Outbox`] ([`StateStore::outbox`]): the notification outbox and the
//!   sent log;
//! - [`Silences`] ([`StateStore::silences`]): silences, acknowledgements,
//!   held notifications and the alert history;
//! - [`Digests`] ([`StateStore::digests`]): when each channel's digest was
//!   last queued.
//!
//! Every write that matters is one transaction, so a crash leaves either all
//! of it or none. [`StateStore::commit_ingest`] spans the ledger and the
//! buckets: a batch's seen ids, counts and cursors move together.
//!
//! Every method here and on the handles is a plain blocking function: reads
//! touch the disk, writes fsync. Async callers run them on `spawn_blocking`.
//!
//! A failed write (a full disk, an I/O error) makes redb refuse every later
//! operation on that [`Database`] until it is reopened: [`Db`] notices
//! (redb's `PreviousIo`), drops the database, opens the file again
//! (redb recovers it from its last commit and checks it) and goes on, so
//! the running daemon stores again as soon as the disk allows. What the
//! failed transaction carried is the caller's to retry (the pipeline keeps
//! it pending; the outbox retries its entry).
//!
//! It stores detection's alert records and sources' cursors as opaque bytes:
//! it does not know their types, so the store stays a narrow interface that
//! another back end can implement.
//!

mod alerts;
mod buckets;
pub mod digests;
mod ledger;
pub mod outbox;
pub mod silences;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, StorageError, TableDefinition,
    TransactionError, WriteTransaction,
};
use tracing::{info, warn};

pub use alerts::AlertLog;
pub use buckets::Buckets;
pub use digests::Digests;
pub use ledger::Ledger;
pub use outbox::Outbox;
pub use silences::Silences;

/// Most rows one pruning transaction deletes: a prune of months of ids
/// holds the write lock (and delays an ingest commit) for one batch at a time.
pub(crate) const PRUNE_BATCH: usize = 10_000;
/// Most rows one pruning transaction reads while looking for old ones, as a
/// multiple of the batch (bounds a transaction when few rows are old).
const PRUNE_SCAN_FACTOR: usize = 8;

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

/// Counts the operations that failed with an I/O error or redb's latched
/// `PreviousIo` (which can come from a commit or a table operation, not
/// only from beginning a transaction). The error conversions below cannot
/// tell which [`Db`] failed, so each `Db` remembers the count it last saw
/// and the next transaction it begins after the count moved reopens the
/// file first. A daemon has one store; where a process holds several (the
/// tests), a healthy one reopens once too, which costs an integrity check
/// and loses nothing, and no store can consume another's latch.
static LATCHES: AtomicU64 = AtomicU64::new(0);

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StateError {
            fn from(e: $t) -> Self {
                let e: redb::Error = e.into();
                if matches!(e, redb::Error::PreviousIo | redb::Error::Io(_)) {
                    LATCHES.fetch_add(1, Ordering::Relaxed);
                }
                StateError::Store(e)
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

/// What ingesting one batch changes, committed as one transaction.
#[derive(Debug, Default)]
pub struct IngestCommit {
    /// (id, Unix seconds) of the mentions now seen. The time is what pruning
    /// compares with the retention horizon: give the ingestion time (`now`;
    /// see [`Ledger`]).
    pub seen: Vec<(String, i64)>,
    /// (watch, minute, total, negative) increments.
    pub buckets: Vec<(String, i64, u64, u64)>,
    /// (source, cursor) to store.
    pub validators: Vec<(String, Vec<u8>)>,
}

/// How many rows one [`StateStore::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pruned {
    pub seen: u64,
    pub sent: u64,
    /// Alert history rows and ended silences.
    pub alerts: u64,
}

/// The redb database of a [`StateStore`], reopened after a failed write.
///
/// redb latches an I/O error: once a write or commit has failed, every
/// later transaction of that [`Database`] fails with `PreviousIo`. A
/// transaction begun here that meets it drops the database and begins on
/// a fresh open of the same file; when that open fails (the disk is still
/// full), the transaction fails with the reason and the next one tries
/// again. Handles borrow it and begin their transactions through it.
pub(crate) struct Db {
    path: PathBuf,
    /// `None` between a dropped database and a successful reopen.
    slot: Mutex<Option<Arc<Database>>>,
    /// How many times the file was reopened after a latched error.
    reopened: AtomicU64,
    /// The value of [`LATCHES`] this database was last checked against.
    latches_seen: AtomicU64,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Begins a write transaction, reopening the file first if a failed
    /// write left the database refusing.
    pub(crate) fn begin_write(&self) -> Result<WriteTransaction, TransactionError> {
        self.begin(Database::begin_write)
    }

    /// Begins a read transaction, reopening like [`Db::begin_write`].
    pub(crate) fn begin_read(&self) -> Result<ReadTransaction, TransactionError> {
        self.begin(|db: &Database| db.begin_read())
    }

    fn begin<T>(
        &self,
        f: impl Fn(&Database) -> Result<T, TransactionError>,
    ) -> Result<T, TransactionError> {
        let latches = LATCHES.load(Ordering::Relaxed);
        if self.latches_seen.swap(latches, Ordering::Relaxed) != latches {
            let db = self.current()?;
            self.discard(&db);
        }
        let db = self.current()?;
        match f(&db) {
            Err(TransactionError::Storage(StorageError::PreviousIo)) => {
                self.discard(&db);
                drop(db);
                let db = self.current()?;
                f(&db)
            }
            r => r,
        }
    }

    /// The open database, opening the file again when the last one was
    /// dropped.
    fn current(&self) -> Result<Arc<Database>, StorageError> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(db) = &*slot {
            return Ok(db.clone());
        }
        let db = reopen(&self.path).map_err(|e| {
            StorageError::Io(std::io::Error::other(format!(
                "cannot reopen the state store {} after a failed write (retried at the next write): {e}",
                self.path.display()
            )))
        })?;
        let db = Arc::new(db);
        *slot = Some(db.clone());
        let n = self.reopened.fetch_add(1, Ordering::Relaxed) + 1;
        info!(path = %self.path.display(), reopened = n, "state store reopened after a failed write");
        Ok(db)
    }

    /// Drops `db` if it is still the current database: the next
    /// transaction opens the file again. Transactions other threads hold on
    /// it end with an error; the file closes when the last one ends.
    fn discard(&self, db: &Arc<Database>) {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref().is_some_and(|d| Arc::ptr_eq(d, db)) {
            *slot = None;
            warn!(path = %self.path.display(), "state store refuses after a failed write: reopening it");
        }
    }
}

/// redb's page cache (its default is 1 GiB, which a daemon ingesting
/// 100,000 mentions fills with every page it wrote, and keeps): 16 MiB
/// holds the hot pages (seen-id lookups of recent mentions, recent
/// buckets, the outbox) of a small VM's daemon; the rest is read from the
/// OS page cache when needed.
const CACHE_BYTES: usize = 16 << 20;

/// Opens the file again after a latched error: redb recovers it to its
/// last commit, the integrity check reads every page's checksum, and every
/// table must open.
fn reopen(path: &Path) -> Result<Database, redb::Error> {
    let db = Database::builder()
        .set_cache_size(CACHE_BYTES)
        .set_check_integrity_on_open(true)
        .create(path)
        .map_err(redb::Error::from)?;
    let tx = db.begin_read()?;
    tx.open_table(ledger::SEEN)?;
    tx.open_table(ledger::VALIDATORS)?;
    tx.open_table(buckets::BUCKETS)?;
    tx.open_table(alerts::ALERTS)?;
    tx.open_table(outbox::OUTBOX)?;
    tx.open_table(outbox::SENT)?;
    tx.open_table(outbox::META)?;
    tx.open_table(silences::SILENCES)?;
    tx.open_table(silences::ACKS)?;
    tx.open_table(silences::HELD)?;
    tx.open_table(silences::EVENTS)?;
    tx.open_table(silences::LATEST)?;
    tx.open_table(digests::DIGESTS)?;
    drop(tx);
    Ok(db)
}

/// The state store. Cheap to share behind an `Arc`; redb serialises writers.
pub struct StateStore {
    db: Db,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore").finish_non_exhaustive()
    }
}

impl StateStore {
    /// Opens (creating if needed) the store file at `path`, with every
    /// table. Blocking, fsyncs.
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|source| StateError::Open {
                path: path.display().to_string(),
                source,
            })?;
        let tx = db.begin_write()?;
        tx.open_table(ledger::SEEN)?;
        tx.open_table(ledger::VALIDATORS)?;
        tx.open_table(buckets::BUCKETS)?;
        tx.open_table(alerts::ALERTS)?;
        tx.open_table(outbox::OUTBOX)?;
        tx.open_table(outbox::SENT)?;
        tx.open_table(outbox::META)?;
        tx.open_table(silences::SILENCES)?;
        tx.open_table(silences::ACKS)?;
        tx.open_table(silences::HELD)?;
        tx.open_table(silences::EVENTS)?;
        tx.open_table(silences::LATEST)?;
        tx.open_table(digests::DIGESTS)?;
        tx.commit()?;
        Ok(StateStore {
            db: Db {
                path: path.to_path_buf(),
                slot: Mutex::new(Some(Arc::new(db))),
                reopened: AtomicU64::new(0),
                latches_seen: AtomicU64::new(LATCHES.load(Ordering::Relaxed)),
            },
        })
    }

    /// Seen ids and source cursors.
    pub(crate) fn ledger(&self) -> Ledger<'_> {
        Ledger { db: &self.db }
    }

    /// Per-watch minute counts.
    pub fn buckets(&self) -> Buckets<'_> {
        Buckets { db: &self.db }
    }

    /// Alert lifecycle records.
    pub fn alerts(&self) -> AlertLog<'_> {
        AlertLog { db: &self.db }
    }

    /// The notification outbox and sent log.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox { db: &self.db }
    }

    /// Silences, acknowledgements and the alert history.
    pub fn silences(&self) -> Silences<'_> {
        Silences { db: &self.db }
    }

    /// When each channel's digest was last queued.
    pub fn digests(&self) -> Digests<'_> {
        Digests { db: &self.db }
    }

    /// Records seen ids, bucket increments and cursors in one transaction.
    /// Blocking, fsyncs.
    pub fn commit_ingest(&self, c: &IngestCommit) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        ledger::write(&tx, &c.seen, &c.validators)?;
        buckets::add(&tx, &c.buckets)?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets seen ids and sent-log rows older than `before` (the retention
    /// horizon, `daemon.retention` before now), batch by batch. Blocking,
    /// fsyncs once per batch.
    pub(crate) fn prune(&self, before: DateTime<Utc>) -> Result<Pruned, StateError> {
        Ok(Pruned {
            seen: self.ledger().prune_seen(before)?,
            sent: self.outbox().prune_sent(before)?,
            alerts: self.silences().prune(before)?,
        })
    }
}

/// Deletes the rows of `table` whose time is before `before`, resuming
/// where the previous transaction stopped: each transaction reads at most
/// `batch · PRUNE_SCAN_FACTOR` rows and deletes at most `batch`. Returns how
/// many rows it deleted.
fn prune_older(
    db: &Db,
    table: TableDefinition<'_, &str, i64>,
    before: i64,
    batch: usize,
) -> Result<u64, StateError> {
    let batch = batch.max(1);
    let scan = batch.saturating_mul(PRUNE_SCAN_FACTOR);
    let mut deleted = 0;
    // The last key read by the previous transaction.
    let mut resume: Option<String> = None;
    loop {
        let tx = db.begin_write()?;
        let finished;
        {
            let mut t = tx.open_table(table)?;
            let mut old = Vec::new();
            let mut read = 0;
            let mut last = None;
            {
                let rows = match &resume {
                    Some(k) => t.range::<&str>((
                        std::ops::Bound::Excluded(k.as_str()),
                        std::ops::Bound::Unbounded,
                    ))?,
                    None => t.range::<&str>(..)?,
                };
                for row in rows {
                    let (k, v) = row?;
                    read += 1;
                    if v.value() < before {
                        old.push(k.value().to_string());
                    }
                    if old.len() >= batch || read >= scan {
                        last = Some(k.value().to_string());
                        break;
                    }
                }
            }
            for k in &old {
                t.remove(k.as_str())?;
            }
            deleted += old.len() as u64;
            finished = last.is_none();
            resume = last;
        }
        tx.commit()?;
        if finished {
            return Ok(deleted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertEvent, Notification};

    #[test]
    fn ingest_survives_reopen_and_buckets_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        {
            let s = StateStore::open(&path).unwrap();
            assert_eq!(s.ledger().unseen(&["a", "b"]).unwrap(), vec![true, true]);
            s.commit_ingest(&IngestCommit {
                seen: vec![("a".into(), 1)],
                buckets: vec![("w".into(), 10, 2, 1), ("w".into(), 10, 1, 0)],
                validators: vec![("src".into(), b"etag".to_vec())],
            })
            .unwrap();
        }
        let s = StateStore::open(&path).unwrap();
        assert_eq!(s.ledger().unseen(&["a", "b"]).unwrap(), vec![false, true]);
        assert_eq!(s.buckets().since(0).unwrap(), vec![("w".into(), 10, 3, 1)]);
        assert!(s.buckets().since(11).unwrap().is_empty());
        assert_eq!(s.ledger().cursor("src").unwrap().unwrap(), b"etag");
        assert_eq!(s.buckets().prune(11).unwrap(), 1);
        assert!(s.buckets().since(0).unwrap().is_empty());
    }

    /// A latch recorded by one store's failed operation reaches every open
    /// store: the one that begins first cannot consume it for the others
    /// (it once was one process-wide flag that the first `begin` cleared).
    #[test]
    fn a_latch_makes_every_open_store_reopen_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = StateStore::open(&dir.path().join("a")).unwrap();
        let b = StateStore::open(&dir.path().join("b")).unwrap();
        let reopened = |s: &StateStore| s.db.reopened.load(Ordering::Relaxed);
        // What the error conversions do when redb reports an I/O failure.
        LATCHES.fetch_add(1, Ordering::Relaxed);
        drop(a.db.begin_read().unwrap());
        assert!(reopened(&a) >= 1, "the first store reopens");
        drop(b.db.begin_read().unwrap());
        assert!(reopened(&b) >= 1, "the second store reopens too");
        // Seen: no reopen without a new latch (other tests of this process
        // may add one; wait for a quiet count before asserting).
        let (ra, rb) = (reopened(&a), reopened(&b));
        let latches = LATCHES.load(Ordering::Relaxed);
        drop(a.db.begin_write().unwrap());
        drop(b.db.begin_read().unwrap());
        if LATCHES.load(Ordering::Relaxed) == latches {
            assert_eq!((reopened(&a), reopened(&b)), (ra, rb));
        }
        // Both still hold their data after the reopen.
        a.commit_ingest(&IngestCommit {
            buckets: vec![("w".into(), 1, 1, 0)],
            ..IngestCommit::default()
        })
        .unwrap();
        assert_eq!(a.buckets().since(0).unwrap(), vec![("w".into(), 1, 1, 0)]);
        assert!(b.buckets().since(0).unwrap().is_empty());
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
        let before = s.buckets().since(i64::MIN).unwrap();
        assert_eq!(s.buckets().compact(6090).unwrap(), 7);
        let after = s.buckets().since(i64::MIN).unwrap();
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
        assert_eq!(s.buckets().compact(6090).unwrap(), 0, "idempotent");
        assert_eq!(s.buckets().since(i64::MIN).unwrap(), after);
        // A later horizon folds the rest of hour 101 into its first minute.
        assert_eq!(s.buckets().compact(6120).unwrap(), 2);
        let later = s.buckets().since(i64::MIN).unwrap();
        assert_eq!(sum(&later), sum(&before));
        assert!(later.contains(&("w".into(), 6060, 10, 5)), "{later:?}");
    }

    #[test]
    fn outbox_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(&dir.path().join("state")).unwrap();
        let ev = AlertEvent::example();
        let e = outbox::Entry::new(ev.into(), "mail", 100);
        s.alerts()
            .commit(&[("w/r".into(), b"{}".to_vec())], std::slice::from_ref(&e))
            .unwrap();
        assert!(s.outbox().due(99, 10).unwrap().is_empty());
        let due = s.outbox().due(100, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(s.outbox().next_due().unwrap(), Some(100));
        let (seq, mut entry) = due.into_iter().next().unwrap();
        entry.attempts = 1;
        entry.next_attempt_ms = 500;
        s.outbox().update(seq, &entry).unwrap();
        assert!(s.outbox().due(499, 10).unwrap().is_empty());
        assert!(!s.outbox().was_sent(&entry.key, "mail").unwrap());
        s.outbox().delivered(seq, &entry, 600).unwrap();
        assert_eq!(s.outbox().len().unwrap(), 0);
        assert!(s.outbox().was_sent(&entry.key, "mail").unwrap());
        assert!(!s.outbox().was_sent(&entry.key, "other").unwrap());
        assert_eq!(s.alerts().records().unwrap()["w/r"], b"{}");
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn pruning_removes_old_seen_ids_and_sent_rows_and_keeps_recent_ones() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(&dir.path().join("state")).unwrap();
        let horizon = t("2026-06-01T00:00:00Z");
        let (old, new) = (horizon.timestamp() - 1, horizon.timestamp());
        // Old and recent ids interleaved in key order, more than one batch.
        let ids: Vec<String> = (0..25).map(|i| format!("id{i:02}")).collect();
        let seen = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), if i % 3 == 0 { new } else { old }))
            .collect();
        s.commit_ingest(&IngestCommit {
            seen,
            ..IngestCommit::default()
        })
        .unwrap();
        let ev = AlertEvent::example();
        for (i, ch) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            let e = outbox::Entry::new(ev.clone().into(), ch, 0);
            s.alerts().commit(&[], std::slice::from_ref(&e)).unwrap();
            let (seq, e) = s.outbox().due(0, 1).unwrap().remove(0);
            let at = horizon.timestamp_millis() + if i < 3 { -1 } else { 0 };
            s.outbox().delivered(seq, &e, at).unwrap();
        }
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(s.ledger().seen_len().unwrap(), 25);

        // Batches of 2 rows (so 8 transactions for 16 old ids, each reading
        // at most 16 rows).
        assert_eq!(s.ledger().prune_seen_in_batches(horizon, 2).unwrap(), 16);
        let unseen = s.ledger().unseen(&refs).unwrap();
        for (i, u) in unseen.iter().enumerate() {
            assert_eq!(*u, i % 3 != 0, "id{i:02}");
        }
        assert_eq!(s.ledger().seen_len().unwrap(), 9);
        assert_eq!(s.outbox().prune_sent_in_batches(horizon, 2).unwrap(), 3);
        let key = ev.idempotency_key();
        for (ch, kept) in [
            ("a", false),
            ("b", false),
            ("c", false),
            ("d", true),
            ("e", true),
        ] {
            assert_eq!(s.outbox().was_sent(&key, ch).unwrap(), kept, "{ch}");
        }
        // Nothing left to prune at the same horizon; a later one takes the rest.
        assert_eq!(s.prune(horizon).unwrap(), Pruned::default());
        assert_eq!(
            s.prune(t("2026-06-01T00:00:01Z")).unwrap(),
            Pruned {
                seen: 9,
                sent: 2,
                alerts: 0
            }
        );
        assert_eq!(s.ledger().seen_len().unwrap(), 0);
    }

    #[test]
    fn outbox_entries_of_the_old_shape_still_decode_as_alerts() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(&dir.path().join("state")).unwrap();
        let ev = AlertEvent::example();
        // The JSON an older version stored: `event`, no `notification`.
        let old = serde_json::json!({
            "key": ev.idempotency_key(),
            "channel": "mail",
            "event": ev,
            "attempts": 2,
            "next_attempt_ms": 5,
            "last_error": "boom",
        });
        let tx = s.db.begin_write().unwrap();
        tx.open_table(outbox::OUTBOX)
            .unwrap()
            .insert(7, serde_json::to_vec(&old).unwrap().as_slice())
            .unwrap();
        tx.commit().unwrap();
        let due = s.outbox().due(5, 10).unwrap();
        assert_eq!(due.len(), 1);
        let (seq, e) = &due[0];
        assert_eq!(*seq, 7);
        assert_eq!(e.notification, Notification::Alert(ev.clone()));
        assert_eq!((e.attempts, e.last_error.as_deref()), (2, Some("boom")));
        // Rewritten in the new shape, it reads back the same.
        s.outbox().update(7, e).unwrap();
        let raw: serde_json::Value = {
            let tx = s.db.begin_read().unwrap();
            let t = tx.open_table(outbox::OUTBOX).unwrap();
            serde_json::from_slice(t.get(7).unwrap().unwrap().value()).unwrap()
        };
        assert!(raw.get("event").is_none() && raw["notification"]["alert"].is_object());
        assert_eq!(s.outbox().due(5, 10).unwrap(), due);
        // An entry with neither is corrupt, and says so.
        let tx = s.db.begin_write().unwrap();
        tx.open_table(outbox::OUTBOX)
            .unwrap()
            .insert(
                8,
                br#"{"key":"k","channel":"c","attempts":0,"next_attempt_ms":0,"last_error":null}"#
                    .as_slice(),
            )
            .unwrap();
        tx.commit().unwrap();
        let err = s.outbox().due(5, 10).unwrap_err();
        assert!(err.to_string().contains("no notification"), "{err}");
    }
}
