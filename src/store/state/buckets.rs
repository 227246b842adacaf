//! Per-watch time buckets: total and negative mention counts per minute
//! (per hour once compacted), which detection restores its series from.
//!
//! Owns the `buckets` table ((watch, minute) → (total, negative)). It does
//! not know windows or baselines (`detect/` does).
//!
//! Every method is a blocking redb call; writes fsync: async callers run
//! them on `spawn_blocking`.

use std::collections::HashMap;

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::StateError;

pub(super) const BUCKETS: TableDefinition<'static, (&str, i64), (u64, u64)> =
    TableDefinition::new("buckets");

/// The bucket counts. Borrowed from
/// [`StateStore::buckets`](super::StateStore::buckets).
#[derive(Debug, Clone, Copy)]
pub struct Buckets<'a> {
    pub(super) db: &'a super::Db,
}

impl Buckets<'_> {
    /// All buckets at or after `since_minute`: (watch, minute, total,
    /// negative), by watch then minute. Blocking read.
    pub fn since(&self, since_minute: i64) -> Result<Vec<(String, i64, u64, u64)>, StateError> {
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

    /// One watch's buckets in `[from_minute, to_minute]`: (minute, total,
    /// negative), oldest first. A range read of that watch's rows only (the
    /// alert chart, the HTTP API's charts and the per-watch gauges).
    /// Blocking read.
    pub fn of_watch(
        &self,
        watch: &str,
        from_minute: i64,
        to_minute: i64,
    ) -> Result<Vec<(i64, u64, u64)>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(BUCKETS)?;
        let mut out = Vec::new();
        for row in t.range((watch, from_minute)..=(watch, to_minute))? {
            let (k, v) = row?;
            let (total, neg) = v.value();
            out.push((k.value().1, total, neg));
        }
        Ok(out)
    }

    /// Deletes buckets older than `before_minute`; returns how many.
    /// Blocking, fsyncs.
    pub(crate) fn prune(&self, before_minute: i64) -> Result<u64, StateError> {
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
    /// their shape, and those only look at recent minutes. Blocking, fsyncs.
    pub(crate) fn compact(&self, before_minute: i64) -> Result<u64, StateError> {
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
}

/// Adds (watch, minute, total, negative) increments inside the caller's
/// transaction.
pub(super) fn add(
    tx: &WriteTransaction,
    rows: &[(String, i64, u64, u64)],
) -> Result<(), StateError> {
    let mut t = tx.open_table(BUCKETS)?;
    for (watch, minute, total, neg) in rows {
        let key = (watch.as_str(), *minute);
        let (t0, n0) = t.get(key)?.map_or((0, 0), |v| v.value());
        t.insert(key, (t0 + total, n0 + neg))?;
    }
    Ok(())
}
