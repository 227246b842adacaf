//! Alert recording for `run`: the alert records that changed and the outbox
//! entries of the transitions, committed in one state transaction before
//! anything is sent; then the outbox is woken.
//!
//! `import` and `backtest` have no alert log: imported history never
//! alerts, and a backtest prints its events instead.
//!
//! Blocking: [`AlertLog::record`] commits to redb (an fsync); callers on
//! the async runtime run it through `spawn_blocking`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc};

use super::PipelineError;
use crate::alert::AlertEvent;
use crate::alert::Notification;
use crate::detect::{AlertRecord, Transition};
use crate::store::state::StateStore;
use crate::store::state::outbox::Entry;
use crate::telemetry::Metrics;

/// Where the daemon's alert transitions go.
pub(crate) struct AlertLog {
    /// Holds the alert records and the outbox.
    state: Arc<StateStore>,
    /// Wakes the outbox task once entries are queued.
    wake: Arc<Notify>,
    /// Receives every recorded event (`demo`, tests); an event is dropped
    /// when it is full, never waited for.
    observer: Option<mpsc::Sender<AlertEvent>>,
}

impl AlertLog {
    pub(crate) fn new(
        state: Arc<StateStore>,
        wake: Arc<Notify>,
        observer: Option<mpsc::Sender<AlertEvent>>,
    ) -> AlertLog {
        AlertLog {
            state,
            wake,
            observer,
        }
    }

    /// Persists the transitions with their outbox entries, and the records
    /// that changed without one (`dirty`: a rule becoming pending, a firing
    /// one clearing), in one transaction; then counts and logs the events,
    /// hands them to the observer and wakes the outbox.
    pub(crate) fn record(
        &self,
        ts: &[Transition],
        dirty: Vec<(String, AlertRecord)>,
        now: DateTime<Utc>,
        metrics: &Metrics,
    ) -> Result<(), PipelineError> {
        if ts.is_empty() && dirty.is_empty() {
            return Ok(());
        }
        let mut records = Vec::new();
        let mut entries = Vec::new();
        // Each changed record once, in its current state (a transition's
        // record may be an older state of the same rule).
        for (key, r) in &dirty {
            records.push((key.clone(), r.encode()?));
        }
        for t in ts {
            if !dirty.iter().any(|(k, _)| *k == t.record_key) {
                records.push((t.record_key.clone(), t.record.encode()?));
            }
            for ch in &t.notify {
                entries.push(Entry::new(
                    Notification::Alert(t.event.clone()),
                    ch,
                    now.timestamp_millis(),
                ));
            }
        }
        self.state.alerts().commit(&records, &entries)?;
        metrics
            .outbox_pending
            .set(self.state.outbox().len()? as i64);
        for t in ts {
            metrics.alert_fired(&t.event);
            if let Some(tx) = &self.observer {
                let _ = tx.try_send(t.event.clone());
            }
        }
        if !entries.is_empty() {
            self.wake.notify_one();
        }
        Ok(())
    }
}
