//! Which alert transitions are notified, silenced or acknowledged, and the
//! one transaction that records them: what `run` does with detection's
//! transitions (`pipeline::AlertLog` calls [`record`]).
//!
//! As in Alertmanager, a silence mutes notifications, not detection: a
//! silenced alert is recorded (its record, and its event in the history
//! marked with the silence) and not queued. The latest firing notification
//! a silence kept back is held; once no silence covers its rule any more,
//! a still-firing alert is sent once (not once per repeat it missed), and
//! one that resolved meanwhile is dropped together with its resolution.
//!
//! An acknowledgement stops the repeats (`repeat_interval`) of the firing
//! it names, until that firing resolves. It does not stop an escalation
//! (the volume doubled again since the last notification): that is news
//! for whoever acknowledged the alert. Resolution notifications
//! (`notify_resolved`) are sent as usual.
//!
//! Time is passed in (`now`): whether a silence is active is judged at the
//! time of the recording. Blocking (redb reads and one fsynced write).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tracing::info;

use crate::alert::{AlertState, Notification, Stage};
use crate::detect::{AlertRecord, Transition};
use crate::store::state::outbox::Entry;
use crate::store::state::silences::{AlertCommit, AlertEntry, Held, Silence};
use crate::store::state::{StateError, StateStore};

/// What one [`record`] wrote.
#[derive(Debug, Default)]
pub struct Recorded {
    /// The events appended to the history, with their ids (released held
    /// notifications first, then the transitions in order).
    pub events: Vec<AlertEntry>,
    /// Outbox entries queued.
    pub queued: usize,
}

/// Records `ts` and the records changed without a transition (`dirty`) at
/// `now`, releasing the held notifications no silence covers any more: one
/// transaction with the alert records, the outbox entries of what is
/// notified, the history and the held notifications. Blocking, fsyncs
/// (nothing is written when there is nothing to record or release).
pub fn record(
    state: &StateStore,
    ts: &[Transition],
    dirty: &[(String, AlertRecord)],
    now: DateTime<Utc>,
) -> Result<Recorded, StateError> {
    let store = state.silences();
    let held = store.held()?;
    if ts.is_empty() && dirty.is_empty() && held.is_empty() {
        return Ok(Recorded::default());
    }
    let silences = store.active(now)?;
    let acks: HashMap<String, _> = store.acks()?.into_iter().collect();
    let now_ms = now.timestamp_millis();
    let mut c = AlertCommit::default();

    // Each changed record once, in its current state (a transition's
    // record may be an older state of the same rule).
    for (key, r) in dirty {
        c.records.push((key.clone(), r.encode()?));
    }
    for t in ts {
        if !dirty.iter().any(|(k, _)| *k == t.record_key) {
            c.records.push((t.record_key.clone(), t.record.encode()?));
        }
    }

    for (key, h) in held {
        if covering(&silences, &h.event.watch, &h.event.rule).is_some() {
            continue;
        }
        c.unhold.push(key.clone());
        // A resolution, or a fresh notification of the same rule, in this
        // very recording supersedes what was held.
        let superseded = ts.iter().any(|t| {
            t.record_key == key && (t.event.state == AlertState::Resolved || !t.notify.is_empty())
        });
        let still_firing = store
            .latest(&key)?
            .is_some_and(|l| l.event.state == AlertState::Firing && l.fired_at == h.fired_at);
        let acked = acks.get(&key).is_some_and(|a| a.fired_at == h.fired_at);
        if superseded || !still_firing || acked {
            continue;
        }
        info!(watch = %h.event.watch, rule = %h.event.rule, "silence ended: sending the alert it held, once");
        for ch in &h.channels {
            c.entries
                .push(Entry::new(Notification::Alert(h.event.clone()), ch, now_ms));
        }
        c.events.push(AlertEntry {
            id: 0,
            event: h.event,
            fired_at: h.fired_at,
            notified: h.channels,
            silenced_by: None,
            acked: false,
            released: true,
        });
    }

    for t in ts {
        let key = &t.record_key;
        let firing = t.event.state == AlertState::Firing;
        let mut entry = AlertEntry {
            id: 0,
            event: t.event.clone(),
            fired_at: t.record.fired_at,
            notified: Vec::new(),
            silenced_by: None,
            acked: false,
            released: false,
        };
        if !firing {
            c.unhold.push(key.clone());
            c.unack.push(key.clone());
        }
        if !t.notify.is_empty() {
            if let Some(s) = covering(&silences, &t.event.watch, &t.event.rule) {
                info!(watch = %t.event.watch, rule = %t.event.rule, silence = s.id, state = t.event.state.as_str(), "alert silenced: recorded, not notified");
                entry.silenced_by = Some(s.id);
                if firing {
                    c.hold.push((
                        key.clone(),
                        Held {
                            event: t.event.clone(),
                            channels: t.notify.clone(),
                            fired_at: t.record.fired_at,
                        },
                    ));
                }
            } else if firing
                && t.event.stage == Stage::Repeat
                && acks
                    .get(key)
                    .is_some_and(|a| a.fired_at == t.record.fired_at)
            {
                entry.acked = true;
            } else {
                for ch in &t.notify {
                    c.entries
                        .push(Entry::new(Notification::Alert(t.event.clone()), ch, now_ms));
                }
                entry.notified = t.notify.clone();
                if firing {
                    c.unhold.push(key.clone());
                }
            }
        }
        c.events.push(entry);
    }
    if c.is_empty() {
        return Ok(Recorded::default());
    }
    let queued = c.entries.len();
    let events = store.commit_alerts(c)?;
    Ok(Recorded { events, queued })
}

/// The first active silence muting rule `rule` of watch `watch`.
fn covering<'s>(silences: &'s [Silence], watch: &str, rule: &str) -> Option<&'s Silence> {
    silences.iter().find(|s| s.matches(watch, rule))
}
