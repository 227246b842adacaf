//! The alert log: one lifecycle record per (watch, rule), as detection
//! encodes it.
//!
//! Owns the `alerts` table (record key → opaque bytes). Recording alerts
//! queues their notifications in the same transaction (through
//! [`super::outbox`]): an alert is never recorded as fired without its
//! outbox entries, nor queued without its record. It does not decode
//! records (`detect/` does).
//!
//! Every method is a blocking redb call; writes fsync: async callers run
//! them on `spawn_blocking`.

use std::collections::HashMap;

use redb::{ReadableTable, TableDefinition};

use super::StateError;
use super::outbox::{self, Entry};

pub(super) const ALERTS: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("alerts");

/// The alert log. Borrowed from [`StateStore::alerts`](super::StateStore::alerts).
#[derive(Debug, Clone, Copy)]
pub struct AlertLog<'a> {
    pub(super) db: &'a super::Db,
}

impl AlertLog<'_> {
    /// Every alert record, by key. Blocking read.
    pub fn records(&self) -> Result<HashMap<String, Vec<u8>>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(ALERTS)?;
        let mut out = HashMap::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.insert(k.value().to_string(), v.value().to_vec());
        }
        Ok(out)
    }

    /// Stores alert records (key, bytes) and queues `entries` in one
    /// transaction. Blocking, fsyncs.
    pub fn commit(
        &self,
        records: &[(String, Vec<u8>)],
        entries: &[Entry],
    ) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        {
            let mut alerts = tx.open_table(ALERTS)?;
            for (k, v) in records {
                alerts.insert(k.as_str(), v.as_slice())?;
            }
        }
        outbox::enqueue_in(&tx, entries)?;
        tx.commit()?;
        Ok(())
    }
}
