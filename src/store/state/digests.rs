//! When each channel's digest was last queued: the `digests` table
//! (channel → Unix milliseconds of the end of the period last queued).
//!
//! Queuing a digest writes its outbox entry and this mark in one
//! transaction, so a restart neither skips nor repeats a digest. It does
//! not know what a digest says (`crate::digest` does).
//!
//! Every method is a blocking redb call; writes fsync.

use chrono::{DateTime, Utc};
use redb::TableDefinition;

use super::StateError;
use super::outbox::{self, Entry};

pub(super) const DIGESTS: TableDefinition<'static, &str, i64> = TableDefinition::new("digests");

/// The digest marks. Borrowed from [`StateStore::digests`](super::StateStore::digests).
#[derive(Debug, Clone, Copy)]
pub struct Digests<'a> {
    pub(super) db: &'a super::Db,
}

impl Digests<'_> {
    /// The end of the period of the digest last queued for `channel`.
    /// Blocking read.
    pub fn last(&self, channel: &str) -> Result<Option<DateTime<Utc>>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(DIGESTS)?;
        Ok(t.get(channel)?
            .and_then(|v| DateTime::from_timestamp_millis(v.value())))
    }

    /// Marks the period ending at `end` as queued for `channel`, with
    /// `entries` (none: only the mark). One transaction. Blocking, fsyncs.
    pub fn queue(
        &self,
        channel: &str,
        end: DateTime<Utc>,
        entries: &[Entry],
    ) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        tx.open_table(DIGESTS)?
            .insert(channel, end.timestamp_millis())?;
        outbox::enqueue_in(&tx, entries)?;
        tx.commit()?;
        Ok(())
    }
}
