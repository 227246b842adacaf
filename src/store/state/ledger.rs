//! The ledger: which mention ids were already ingested, and where each
//! source resumes (its cursor: HTTP validators today, an API's opaque
//! `after`/`since_id` tomorrow).
//!
//! Owns the `seen` table (id → Unix seconds) and the `validators` table
//! (source name → opaque bytes; the name predates other kinds of cursor and
//! stays so that existing state files read unchanged). It does not decode
//! cursors: each source kind does.
//!
//! The time of a seen id is what the ingest commit gave: the ingestion time
//! (`now`), so that an old item a source still serves is remembered for the
//! whole retention, not forgotten at once and ingested again. State files
//! written before held the publication time, which is never later: their
//! rows are pruned sooner, never later, and read unchanged.
//!
//! Every method is a blocking redb call; the pruning and the writes fsync:
//! async callers run them on `spawn_blocking`.

use chrono::{DateTime, Utc};
#[cfg(test)]
use redb::ReadableTableMetadata;
use redb::{TableDefinition, WriteTransaction};

use super::{PRUNE_BATCH, StateError, prune_older};

pub(super) const SEEN: TableDefinition<'static, &str, i64> = TableDefinition::new("seen");
pub(super) const VALIDATORS: TableDefinition<'static, &str, &[u8]> =
    TableDefinition::new("validators");

/// The ledger of seen ids and source cursors. Borrowed from
/// [`StateStore::ledger`](super::StateStore::ledger).
#[derive(Debug, Clone, Copy)]
pub struct Ledger<'a> {
    pub(super) db: &'a super::Db,
}

impl Ledger<'_> {
    /// For each id, whether it was never seen before (or was pruned).
    /// Blocking read.
    pub(crate) fn unseen(&self, ids: &[&str]) -> Result<Vec<bool>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(SEEN)?;
        ids.iter().map(|id| Ok(t.get(*id)?.is_none())).collect()
    }

    /// The cursor stored for a source (opaque bytes). Blocking read.
    pub fn cursor(&self, source: &str) -> Result<Option<Vec<u8>>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(VALIDATORS)?;
        Ok(t.get(source)?.map(|v| v.value().to_vec()))
    }

    /// Forgets the ids seen before `before`, in transactions of at most
    /// [`PRUNE_BATCH`] deletions each (so the daemon's ingest commits wait
    /// for one batch at most); returns how many. Blocking, fsyncs.
    pub(crate) fn prune_seen(&self, before: DateTime<Utc>) -> Result<u64, StateError> {
        self.prune_seen_in_batches(before, PRUNE_BATCH)
    }

    pub(super) fn prune_seen_in_batches(
        &self,
        before: DateTime<Utc>,
        batch: usize,
    ) -> Result<u64, StateError> {
        prune_older(self.db, SEEN, before.timestamp(), batch)
    }

    /// Number of seen ids. Blocking read.
    #[cfg(test)]
    pub(crate) fn seen_len(&self) -> Result<u64, StateError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(SEEN)?.len()?)
    }
}

/// Records seen ids (id, Unix seconds) and cursors (source, bytes) inside
/// the caller's transaction.
pub(super) fn write(
    tx: &WriteTransaction,
    seen: &[(String, i64)],
    cursors: &[(String, Vec<u8>)],
) -> Result<(), StateError> {
    let mut t = tx.open_table(SEEN)?;
    for (id, ts) in seen {
        t.insert(id.as_str(), ts)?;
    }
    let mut c = tx.open_table(VALIDATORS)?;
    for (source, v) in cursors {
        c.insert(source.as_str(), v.as_slice())?;
    }
    Ok(())
}
