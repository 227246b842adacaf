//! Alert recording for `run`: the alert records that changed and the outbox
//! entries of the transitions, committed in one state transaction before
//! anything is sent; then the outbox is woken. Silences and
//! acknowledgements are applied on the way (`crate::silence`).
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
use crate::detect::{AlertRecord, Transition};
use crate::store::state::StateStore;
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
    /// one clearing), in one transaction, through [`crate::silence::record`]:
    /// a silenced or acknowledged notification is recorded, not queued, and
    /// what a silence held is released once it ends. Then counts and logs
    /// the events, hands them to the observer and wakes the outbox.
    pub(crate) fn record(
        &self,
        ts: &[Transition],
        dirty: Vec<(String, AlertRecord)>,
        now: DateTime<Utc>,
        metrics: &Metrics,
    ) -> Result<(), PipelineError> {
        let recorded = crate::silence::record(&self.state, ts, &dirty, now)?;
        if recorded.events.is_empty() && dirty.is_empty() {
            return Ok(());
        }
        // Recorded: a failure from here on must not make the caller record
        // the same transitions again.
        match self.state.outbox().len() {
            Ok(n) => {
                metrics
                    .outbox_pending
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            Err(e) => tracing::warn!(error = %e, "cannot count the outbox"),
        }
        for t in ts {
            metrics.alert_fired(&t.event);
            if let Some(tx) = &self.observer {
                let _ = tx.try_send(t.event.clone());
            }
        }
        if recorded.queued > 0 {
            self.wake.notify_one();
        }
        Ok(())
    }
}
