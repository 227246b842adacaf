//! Silences, acknowledgements and the alert history, as in Alertmanager.
//!
//! Owns five tables:
//! - `silences` (id → JSON [`Silence`]): a watch (and optionally one of its
//!   rules) muted from `starts_at` to `ends_at`, with a comment and who set
//!   it. Expiring a silence sets its end to now; it stays listed.
//! - `acks` (record key `watch/rule` → JSON [`Ack`]): a firing alert
//!   acknowledged; its repeats are not notified until it resolves.
//! - `held` (record key → JSON [`Held`]): the latest notification of a
//!   firing alert that a silence kept back, sent once when no silence
//!   covers it any more (if it still fires).
//! - `alert_events` (id → JSON [`AlertEntry`]): every alert event recorded,
//!   notified or not, with what kept it back: the history the API, the
//!   digest and `veilleur ack` read. Its ids are the alert ids users give.
//! - `alert_latest` (record key → id of its latest event).
//!
//! The id sequences live in the shared `meta` table. [`commit_alerts`]
//! writes alert records, outbox entries and these tables in one
//! transaction, so a recorded event, its notification (or what held it
//! back) and its record move together.
//!
//! It decides nothing: `crate::silence` decides which transition is
//! silenced, acknowledged or notified. It does not decode alert records.
//!
//! Every method is a blocking redb call; writes fsync: async callers run
//! them on `spawn_blocking`.

use chrono::{DateTime, Utc};
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::StateError;
use super::alerts::ALERTS;
use super::outbox::{self, Entry, META};
use crate::alert::{AlertEvent, AlertState};

pub(super) const SILENCES: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("silences");
pub(super) const ACKS: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("acks");
pub(super) const HELD: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("held");
pub(super) const EVENTS: TableDefinition<'static, u64, &[u8]> =
    TableDefinition::new("alert_events");
pub(super) const LATEST: TableDefinition<'static, &str, u64> = TableDefinition::new("alert_latest");

const SILENCE_SEQ: &str = "silence_seq";
const EVENT_SEQ: &str = "alert_event_seq";

/// Longest comment or author kept with a silence or an acknowledgement
/// (characters): a note for people, not a document.
pub const MAX_NOTE_CHARS: usize = 1000;
/// Longest silence: a forgotten silence must not mute a watch for ever.
pub const MAX_SILENCE: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);

/// A watch (and optionally one rule of it) muted for a while.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: u64,
    pub watch: String,
    /// Only this alert rule of the watch; `None`: every rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub starts_at: DateTime<Utc>,
    /// Exclusive. Expiring a silence sets it to the time of expiry.
    pub ends_at: DateTime<Utc>,
    pub comment: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl Silence {
    /// Whether it mutes alerts of rule `rule` of watch `watch`.
    pub fn matches(&self, watch: &str, rule: &str) -> bool {
        self.watch == watch && self.rule.as_deref().is_none_or(|r| r == rule)
    }

    /// Whether it mutes at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// `pending` (not started), `active` or `expired` at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if now < self.starts_at {
            "pending"
        } else if now < self.ends_at {
            "active"
        } else {
            "expired"
        }
    }
}

/// What a new silence says; [`Silences::add`] validates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSilence {
    pub watch: String,
    #[serde(default)]
    pub rule: Option<String>,
    /// Default: now.
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: DateTime<Utc>,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub created_by: String,
}

/// A firing alert acknowledged by someone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The alert id acknowledged (an id of [`AlertEntry`]).
    pub alert_id: u64,
    pub watch: String,
    pub rule: String,
    /// When the acknowledged firing started: a later firing of the same rule
    /// is not acknowledged.
    pub fired_at: Option<DateTime<Utc>>,
    pub acked_at: DateTime<Utc>,
    pub by: String,
    #[serde(default)]
    pub comment: String,
}

/// A notification a silence kept back, released once when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub event: AlertEvent,
    /// The channels it was for.
    pub channels: Vec<String>,
    /// When its firing started (to tell a later firing apart).
    pub fired_at: Option<DateTime<Utc>>,
}

/// One recorded alert event and what became of its notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEntry {
    /// The alert id: give it to `veilleur ack` or `POST /api/alerts/{id}/ack`.
    pub id: u64,
    pub event: AlertEvent,
    /// When the firing this event belongs to started.
    #[serde(default)]
    pub fired_at: Option<DateTime<Utc>>,
    /// Channels it was queued for (empty: recorded only, silenced or acked).
    #[serde(default)]
    pub notified: Vec<String>,
    /// The silence that kept it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_by: Option<u64>,
    /// Kept back because the alert was acknowledged (a repeat).
    #[serde(default)]
    pub acked: bool,
    /// Sent when the silence that held it back ended.
    #[serde(default)]
    pub released: bool,
}

impl AlertEntry {
    /// `watch/rule`: the key of the alert's record.
    pub fn record_key(&self) -> String {
        format!("{}/{}", self.event.watch, self.event.rule)
    }
}

/// Everything one alert recording writes, in one transaction.
#[derive(Debug, Default)]
pub struct AlertCommit {
    /// Alert records (key, opaque bytes).
    pub records: Vec<(String, Vec<u8>)>,
    /// Outbox entries to queue.
    pub entries: Vec<Entry>,
    /// Events to append to the history; their `id` is assigned here.
    pub events: Vec<AlertEntry>,
    /// Held notifications to store (key → held), replacing older ones.
    pub hold: Vec<(String, Held)>,
    /// Keys whose held notification and acknowledgement are forgotten
    /// (resolved, released or superseded).
    pub unhold: Vec<String>,
    pub unack: Vec<String>,
}

impl AlertCommit {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
            && self.entries.is_empty()
            && self.events.is_empty()
            && self.hold.is_empty()
            && self.unhold.is_empty()
            && self.unack.is_empty()
    }
}

/// Why an acknowledgement or an expiry was refused.
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    #[error("{0}")]
    Invalid(String),
    #[error("no {what} with id {id}: list them with `veilleur silence list` or GET /api/{what}s")]
    NotFound { what: &'static str, id: String },
    #[error(transparent)]
    State(#[from] StateError),
}

impl From<redb::Error> for SilenceError {
    fn from(e: redb::Error) -> Self {
        SilenceError::State(e.into())
    }
}

macro_rules! silence_from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for SilenceError {
            fn from(e: $t) -> Self {
                SilenceError::State(e.into())
            }
        }
    )*};
}
silence_from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    serde_json::Error
);

/// Silences, acknowledgements and the alert history. Borrowed from
/// [`StateStore::silences`](super::StateStore::silences).
#[derive(Debug, Clone, Copy)]
pub struct Silences<'a> {
    pub(super) db: &'a super::Db,
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_NOTE_CHARS) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

impl Silences<'_> {
    /// Adds a silence at `now`; returns it with its id. The watch must be
    /// named; the end must follow the start and lie at most
    /// [`MAX_SILENCE`] after it. Whether the watch exists is the caller's
    /// check (it knows the rules). Blocking, fsyncs.
    pub fn add(&self, new: NewSilence, now: DateTime<Utc>) -> Result<Silence, SilenceError> {
        let watch = new.watch.trim().to_string();
        if watch.is_empty() {
            return Err(SilenceError::Invalid(
                "a silence needs a watch: give its name".into(),
            ));
        }
        let starts_at = new.starts_at.unwrap_or(now);
        if new.ends_at <= starts_at || new.ends_at <= now {
            return Err(SilenceError::Invalid(
                "a silence must end after it starts and in the future: give a positive duration"
                    .into(),
            ));
        }
        let longest = chrono::Duration::from_std(MAX_SILENCE).unwrap_or(chrono::Duration::MAX);
        if new.ends_at - starts_at > longest {
            return Err(SilenceError::Invalid(format!(
                "a silence lasts at most {} days: add another when it ends",
                MAX_SILENCE.as_secs() / 86_400
            )));
        }
        let tx = self.db.begin_write()?;
        let s;
        {
            let mut meta = tx.open_table(META)?;
            let id = meta.get(SILENCE_SEQ)?.map_or(0, |v| v.value()) + 1;
            meta.insert(SILENCE_SEQ, id)?;
            s = Silence {
                id,
                watch,
                rule: new
                    .rule
                    .map(|r| r.trim().to_string())
                    .filter(|r| !r.is_empty()),
                starts_at,
                ends_at: new.ends_at,
                comment: clip(&new.comment),
                created_by: clip(&new.created_by),
                created_at: now,
            };
            tx.open_table(SILENCES)?
                .insert(id, serde_json::to_vec(&s)?.as_slice())?;
        }
        tx.commit()?;
        Ok(s)
    }

    /// Every silence, oldest first (expired ones too). Blocking read.
    pub fn list(&self) -> Result<Vec<Silence>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(SILENCES)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (_, v) = row?;
            out.push(serde_json::from_slice(v.value())?);
        }
        Ok(out)
    }

    /// The silences active at `now`. Blocking read.
    pub fn active(&self, now: DateTime<Utc>) -> Result<Vec<Silence>, StateError> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|s| s.is_active(now))
            .collect())
    }

    /// Ends silence `id` at `now` (a pending one ends before it starts);
    /// returns it as it is now. Expiring an expired silence changes nothing.
    /// Blocking, fsyncs.
    pub fn expire(&self, id: u64, now: DateTime<Utc>) -> Result<Silence, SilenceError> {
        let tx = self.db.begin_write()?;
        let s;
        {
            let mut t = tx.open_table(SILENCES)?;
            let mut cur: Silence = match t.get(id)? {
                Some(v) => serde_json::from_slice(v.value())?,
                None => {
                    return Err(SilenceError::NotFound {
                        what: "silence",
                        id: id.to_string(),
                    });
                }
            };
            if cur.ends_at > now {
                cur.ends_at = now;
                if cur.starts_at > now {
                    cur.starts_at = now;
                }
                t.insert(id, serde_json::to_vec(&cur)?.as_slice())?;
            }
            s = cur;
        }
        tx.commit()?;
        Ok(s)
    }

    /// Acknowledges the firing alert `alert`: an alert id (a number), or
    /// `watch/rule` for the rule's current firing. Its repeats are no
    /// longer notified until it resolves. Refused when it does not fire.
    /// Blocking, fsyncs.
    pub fn ack(
        &self,
        alert: &str,
        by: &str,
        comment: &str,
        now: DateTime<Utc>,
    ) -> Result<Ack, SilenceError> {
        let tx = self.db.begin_write()?;
        let ack;
        {
            let events = tx.open_table(EVENTS)?;
            let latest = tx.open_table(LATEST)?;
            let not_found = || SilenceError::NotFound {
                what: "alert",
                id: alert.to_string(),
            };
            // An id names one firing; `watch/rule` the rule's current one.
            let (key, named) = match alert.trim().parse::<u64>() {
                Ok(id) => {
                    let e: AlertEntry = match events.get(id)? {
                        Some(v) => serde_json::from_slice(v.value())?,
                        None => return Err(not_found()),
                    };
                    (e.record_key(), Some(e))
                }
                Err(_) => (alert.trim().to_string(), None),
            };
            let Some(last_id) = latest.get(key.as_str())?.map(|v| v.value()) else {
                return Err(not_found());
            };
            let Some(v) = events.get(last_id)? else {
                return Err(not_found());
            };
            let last: AlertEntry = serde_json::from_slice(v.value())?;
            if last.event.state != AlertState::Firing {
                return Err(SilenceError::Invalid(format!(
                    "alert {alert} is not firing (it resolved at {}): nothing to acknowledge",
                    last.event.at.to_rfc3339()
                )));
            }
            if let Some(e) = named
                && e.fired_at != last.fired_at
            {
                return Err(SilenceError::Invalid(format!(
                    "alert {alert} is over; its rule fires again as alert {}: acknowledge that one",
                    last.id
                )));
            }
            drop(v);
            ack = Ack {
                alert_id: last.id,
                watch: last.event.watch.clone(),
                rule: last.event.rule.clone(),
                fired_at: last.fired_at,
                acked_at: now,
                by: clip(by),
                comment: clip(comment),
            };
            tx.open_table(ACKS)?
                .insert(key.as_str(), serde_json::to_vec(&ack)?.as_slice())?;
        }
        tx.commit()?;
        Ok(ack)
    }

    /// Every acknowledgement in force, by record key. Blocking read.
    pub fn acks(&self) -> Result<Vec<(String, Ack)>, StateError> {
        read_all(self.db, ACKS)
    }

    /// Every held notification, by record key. Blocking read.
    pub fn held(&self) -> Result<Vec<(String, Held)>, StateError> {
        read_all(self.db, HELD)
    }

    /// The alert events recorded with `at` in `[from, to)`, oldest first
    /// (by id). Blocking read.
    pub fn events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AlertEntry>, StateError> {
        // Events are stored in the order they fired, so `at` grows with the
        // sequence number up to small disorder (a backfill, a clock step):
        // read from the newest back and stop a day past `from` rather than
        // decoding the whole history.
        let stop = from - chrono::Duration::days(1);
        let tx = self.db.begin_read()?;
        let t = tx.open_table(EVENTS)?;
        let mut out = Vec::new();
        for row in t.iter()?.rev() {
            let (_, v) = row?;
            let e: AlertEntry = serde_json::from_slice(v.value())?;
            if e.event.at < stop {
                break;
            }
            if e.event.at >= from && e.event.at < to {
                out.push(e);
            }
        }
        out.reverse();
        Ok(out)
    }

    /// The latest `limit` alert events, oldest first. Blocking read.
    pub fn events(&self, limit: usize) -> Result<Vec<AlertEntry>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(EVENTS)?;
        let mut out = Vec::new();
        for row in t.iter()?.rev() {
            if out.len() >= limit {
                break;
            }
            let (_, v) = row?;
            out.push(serde_json::from_slice(v.value())?);
        }
        out.reverse();
        Ok(out)
    }

    /// One alert event by id. Blocking read.
    pub fn event(&self, id: u64) -> Result<Option<AlertEntry>, StateError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(EVENTS)?;
        Ok(match t.get(id)? {
            Some(v) => Some(serde_json::from_slice(v.value())?),
            None => None,
        })
    }

    /// The latest event of the alert record `key` (`watch/rule`). Blocking read.
    pub fn latest(&self, key: &str) -> Result<Option<AlertEntry>, StateError> {
        let id = {
            let tx = self.db.begin_read()?;
            let t = tx.open_table(LATEST)?;
            t.get(key)?.map(|v| v.value())
        };
        match id {
            Some(id) => self.event(id),
            None => Ok(None),
        }
    }

    /// Forgets the alert events recorded before `before` (the retention
    /// horizon) and the silences that ended before it; returns how many
    /// rows. Blocking, fsyncs.
    pub(crate) fn prune(&self, before: DateTime<Utc>) -> Result<u64, StateError> {
        let tx = self.db.begin_write()?;
        let mut n = 0;
        {
            let mut ev = tx.open_table(EVENTS)?;
            let mut old = Vec::new();
            for row in ev.iter()? {
                let (k, v) = row?;
                let e: AlertEntry = serde_json::from_slice(v.value())?;
                if e.event.at >= before {
                    // Ids grow with time: the rest is younger.
                    break;
                }
                old.push(k.value());
            }
            for k in old {
                ev.remove(k)?;
                n += 1;
            }
            let mut si = tx.open_table(SILENCES)?;
            let mut old = Vec::new();
            for row in si.iter()? {
                let (k, v) = row?;
                let s: Silence = serde_json::from_slice(v.value())?;
                if s.ends_at < before {
                    old.push(k.value());
                }
            }
            for k in old {
                si.remove(k)?;
                n += 1;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Writes one alert recording in one transaction: records, outbox
    /// entries, history (ids assigned in order), held notifications and
    /// acknowledgements. Returns the events with their ids. Blocking, fsyncs.
    pub fn commit_alerts(&self, c: AlertCommit) -> Result<Vec<AlertEntry>, StateError> {
        let tx = self.db.begin_write()?;
        let events = commit_in(&tx, c)?;
        tx.commit()?;
        Ok(events)
    }
}

fn commit_in(tx: &WriteTransaction, c: AlertCommit) -> Result<Vec<AlertEntry>, StateError> {
    {
        let mut alerts = tx.open_table(ALERTS)?;
        for (k, v) in &c.records {
            alerts.insert(k.as_str(), v.as_slice())?;
        }
    }
    outbox::enqueue_in(tx, &c.entries)?;
    let mut out = Vec::with_capacity(c.events.len());
    {
        let mut meta = tx.open_table(META)?;
        let mut seq = meta.get(EVENT_SEQ)?.map_or(0, |v| v.value());
        let mut events = tx.open_table(EVENTS)?;
        let mut latest = tx.open_table(LATEST)?;
        for mut e in c.events {
            seq += 1;
            e.id = seq;
            events.insert(seq, serde_json::to_vec(&e)?.as_slice())?;
            latest.insert(e.record_key().as_str(), seq)?;
            out.push(e);
        }
        meta.insert(EVENT_SEQ, seq)?;
    }
    {
        let mut held = tx.open_table(HELD)?;
        for k in &c.unhold {
            held.remove(k.as_str())?;
        }
        for (k, h) in &c.hold {
            held.insert(k.as_str(), serde_json::to_vec(h)?.as_slice())?;
        }
        let mut acks = tx.open_table(ACKS)?;
        for k in &c.unack {
            acks.remove(k.as_str())?;
        }
    }
    Ok(out)
}

fn read_all<T: serde::de::DeserializeOwned>(
    db: &super::Db,
    table: TableDefinition<'_, &str, &[u8]>,
) -> Result<Vec<(String, T)>, StateError> {
    let tx = db.begin_read()?;
    let t = tx.open_table(table)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        out.push((k.value().to_string(), serde_json::from_slice(v.value())?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::state::StateStore;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_261_600 + s, 0).unwrap()
    }

    fn new(watch: &str, rule: Option<&str>, until: i64) -> NewSilence {
        NewSilence {
            watch: watch.into(),
            rule: rule.map(Into::into),
            starts_at: None,
            ends_at: t(until),
            comment: "salon".into(),
            created_by: "cm".into(),
        }
    }

    #[test]
    fn events_between_finds_an_instant_and_reads_back_only_a_day_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(&dir.path().join("state")).unwrap();
        let entry = |at: i64| AlertEntry {
            id: 0,
            event: AlertEvent {
                at: t(at),
                ..AlertEvent::example()
            },
            fired_at: None,
            notified: Vec::new(),
            silenced_by: None,
            acked: false,
            released: false,
        };
        // Ten days of hourly events, one of them a little out of order.
        let mut events: Vec<AlertEntry> = (0..240).map(|h| entry(h * 3600)).collect();
        events.swap(100, 101);
        s.silences()
            .commit_alerts(AlertCommit {
                events,
                ..AlertCommit::default()
            })
            .unwrap();
        let at = t(150 * 3600);
        let one = s
            .silences()
            .events_between(at, at + chrono::Duration::milliseconds(1))
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].event.at, at);
        let day = s
            .silences()
            .events_between(t(96 * 3600), t(120 * 3600))
            .unwrap();
        let hours: Vec<i64> = day
            .iter()
            .map(|e| (e.event.at - t(0)).num_hours())
            .collect();
        // Oldest first by id: the swapped pair keeps its stored order.
        let mut want: Vec<i64> = (96..120).collect();
        want.swap(4, 5);
        assert_eq!(hours, want);
        assert!(s.silences().events_between(at, at).unwrap().is_empty());
    }

    #[test]
    fn silences_are_numbered_listed_matched_and_expired() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(&dir.path().join("state")).unwrap();
        let a = s.silences().add(new("acme", None, 3600), t(0)).unwrap();
        let b = s
            .silences()
            .add(new("acme", Some("bad-buzz"), 60), t(0))
            .unwrap();
        assert_eq!((a.id, b.id), (1, 2));
        assert!(a.matches("acme", "x") && !a.matches("other", "x"));
        assert!(b.matches("acme", "bad-buzz") && !b.matches("acme", "neg"));
        assert_eq!(s.silences().active(t(30)).unwrap().len(), 2);
        assert_eq!(s.silences().active(t(60)).unwrap(), vec![a.clone()]);
        let e = s.silences().expire(1, t(100)).unwrap();
        assert_eq!((e.ends_at, e.status(t(100))), (t(100), "expired"));
        assert!(s.silences().active(t(100)).unwrap().is_empty());
        assert_eq!(s.silences().list().unwrap().len(), 2);
        assert!(matches!(
            s.silences().expire(9, t(0)),
            Err(SilenceError::NotFound { .. })
        ));
    }

    #[test]
    fn invalid_silences_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(&dir.path().join("state")).unwrap();
        for (n, why) in [
            (new(" ", None, 60), "needs a watch"),
            (new("acme", None, 0), "positive duration"),
            (new("acme", None, 91 * 86_400), "at most 90 days"),
        ] {
            let e = s.silences().add(n, t(0)).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
        let mut long = new("acme", None, 60);
        long.comment = "x".repeat(5000);
        let got = s.silences().add(long, t(0)).unwrap();
        assert_eq!(got.comment.chars().count(), MAX_NOTE_CHARS);
    }
}
