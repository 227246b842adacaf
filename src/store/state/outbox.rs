//! The durable outbox: notifications waiting for their channel, and the
//! sent log that keeps a replayed notification from going out twice.
//!
//! Owns the `outbox` table (sequence number → JSON [`Entry`]), the outbox
//! sequence in `meta`, and the `sent` table ((channel, key) → Unix
//! milliseconds of the delivery). It does not send anything
//! (`notify::outbox` does) and does not know what a notification says.
//!
//! Entries written before notifications became an enum hold an `event`
//! field (an alert event) instead of `notification`: they read as
//! [`Notification::Alert`] and are delivered as before.
//!
//! Every method is a blocking redb call; writes fsync: async callers run
//! them on `spawn_blocking`.

use chrono::{DateTime, Utc};
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{PRUNE_BATCH, StateError, prune_older};
use crate::alert::{AlertEvent, Notification};

pub(super) const OUTBOX: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("outbox");
pub(super) const SENT: TableDefinition<'static, &str, i64> = TableDefinition::new("sent");
pub(super) const META: TableDefinition<'static, &str, u64> = TableDefinition::new("meta");

const OUTBOX_SEQ: &str = "outbox_seq";

/// A notification waiting to be delivered to one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawEntry")]
pub struct Entry {
    /// The notification's idempotency key.
    pub key: String,
    pub channel: String,
    pub notification: Notification,
    pub attempts: u32,
    /// Unix milliseconds before which it is not retried.
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
}

impl Entry {
    /// A first attempt of `notification` to `channel`, due at `now_ms`.
    pub fn new(notification: Notification, channel: &str, now_ms: i64) -> Entry {
        Entry {
            key: notification.idempotency_key(),
            channel: channel.to_string(),
            notification,
            attempts: 0,
            next_attempt_ms: now_ms,
            last_error: None,
        }
    }
}

/// Both stored shapes of an entry: `notification`, or the older `event`.
#[derive(Deserialize)]
struct RawEntry {
    key: String,
    channel: String,
    #[serde(default)]
    notification: Option<Notification>,
    #[serde(default)]
    event: Option<AlertEvent>,
    attempts: u32,
    next_attempt_ms: i64,
    last_error: Option<String>,
}

impl TryFrom<RawEntry> for Entry {
    type Error = String;

    fn try_from(r: RawEntry) -> Result<Entry, String> {
        let notification = match (r.notification, r.event) {
            (Some(n), _) => n,
            (None, Some(ev)) => Notification::Alert(ev),
            (None, None) => return Err(format!("outbox entry {} has no notification", r.key)),
        };
        Ok(Entry {
            key: r.key,
            channel: r.channel,
            notification,
            attempts: r.attempts,
            next_attempt_ms: r.next_attempt_ms,
            last_error: r.last_error,
        })
    }
}

/// The outbox and its sent log. Borrowed from
/// [`StateStore::outbox`](super::StateStore::outbox).
#[derive(Debug, Clone, Copy)]
pub struct Outbox<'a> {
    pub(super) db: &'a super::Db,
}

impl Outbox<'_> {
    /// Queues entries on their own (alerts are queued with their record by
    /// [`AlertLog::commit`](super::AlertLog::commit)). Blocking, fsyncs.
    pub fn enqueue(&self, entries: &[Entry]) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        enqueue_in(&tx, entries)?;
        tx.commit()?;
        Ok(())
    }

    /// Entries whose next attempt is due at `now_ms`, oldest first, at most
    /// `limit`. Blocking read.
    pub fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<(u64, Entry)>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(OUTBOX)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            let e: Entry = serde_json::from_slice(v.value())?;
            if e.next_attempt_ms <= now_ms {
                out.push((k.value(), e));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The earliest next attempt among queued entries, if any. Blocking read.
    pub(crate) fn next_due(&self) -> Result<Option<i64>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(OUTBOX)?;
        let mut min = None;
        for row in t.iter()? {
            let (_, v) = row?;
            let e: Entry = serde_json::from_slice(v.value())?;
            min = Some(min.map_or(e.next_attempt_ms, |m: i64| m.min(e.next_attempt_ms)));
        }
        Ok(min)
    }

    /// Number of entries waiting. Blocking read.
    pub fn len(&self) -> Result<u64, StateError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(OUTBOX)?.len()?)
    }

    /// Whether nothing waits. Blocking read.
    pub fn is_empty(&self) -> Result<bool, StateError> {
        Ok(self.len()? == 0)
    }

    /// Whether `key` was already delivered to `channel` (and not pruned
    /// since). Blocking read.
    pub fn was_sent(&self, key: &str, channel: &str) -> Result<bool, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(SENT)?;
        Ok(t.get(sent_key(key, channel).as_str())?.is_some())
    }

    /// Removes a delivered entry and records the delivery at `now_ms`, in
    /// one transaction. Blocking, fsyncs.
    pub fn delivered(&self, seq: u64, e: &Entry, now_ms: i64) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        {
            tx.open_table(OUTBOX)?.remove(seq)?;
            tx.open_table(SENT)?
                .insert(sent_key(&e.key, &e.channel).as_str(), now_ms)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Rewrites an entry after a failed attempt (attempts, next attempt,
    /// error). Blocking, fsyncs.
    pub fn update(&self, seq: u64, e: &Entry) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        tx.open_table(OUTBOX)?
            .insert(seq, serde_json::to_vec(e)?.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// Drops an entry that can never be delivered (its channel is gone or it
    /// failed permanently). Blocking, fsyncs.
    pub(crate) fn drop_entry(&self, seq: u64) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        tx.open_table(OUTBOX)?.remove(seq)?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets the deliveries recorded before `before`, in transactions of
    /// at most [`PRUNE_BATCH`] deletions each; returns how many. A
    /// notification replayed after its row is pruned would be sent again,
    /// so the horizon must be longer than any replay (the retention is).
    /// Blocking, fsyncs.
    pub(crate) fn prune_sent(&self, before: DateTime<Utc>) -> Result<u64, StateError> {
        self.prune_sent_in_batches(before, PRUNE_BATCH)
    }

    pub(super) fn prune_sent_in_batches(
        &self,
        before: DateTime<Utc>,
        batch: usize,
    ) -> Result<u64, StateError> {
        prune_older(self.db, SENT, before.timestamp_millis(), batch)
    }
}

/// Appends entries to the outbox inside the caller's transaction.
pub(super) fn enqueue_in(tx: &WriteTransaction, entries: &[Entry]) -> Result<(), StateError> {
    let mut meta = tx.open_table(META)?;
    let mut seq = meta.get(OUTBOX_SEQ)?.map_or(0, |v| v.value());
    let mut ob = tx.open_table(OUTBOX)?;
    for e in entries {
        seq += 1;
        ob.insert(seq, serde_json::to_vec(e)?.as_slice())?;
    }
    meta.insert(OUTBOX_SEQ, seq)?;
    Ok(())
}

fn sent_key(key: &str, channel: &str) -> String {
    format!("{channel}\u{1f}{key}")
}
