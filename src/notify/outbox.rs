//! The delivery loop: drains the durable outbox into the notifiers.
//!
//! Owns: when each queued notification is attempted, retries with backoff,
//! giving up, the `veilleur_notifications_total{channel,outcome}` counter and
//! the `veilleur_outbox_pending` gauge, with their log lines. It does not
//! queue notifications (detection commits them with the alert record, see
//! [`AlertLog::commit`](crate::store::state::AlertLog::commit)) and it does not know how a channel speaks
//! (the [`Notifier`]s do).
//!
//! For each due entry, as alertmanager does:
//! 1. check the notification log ([`Outbox::was_sent`](crate::store::state::Outbox::was_sent)): an entry already
//!    delivered (a replay, or a crash after the record) is removed unsent;
//! 2. send with the channel's notifier;
//! 3. record the send ([`Outbox::delivered`](crate::store::state::Outbox::delivered)) only after it
//!    succeeded: a crash in between means one duplicate, which receivers drop
//!    thanks to the idempotency key.
//!
//! Failures:
//! * retryable (connection refused, timeouts, 4xx SMTP, 408/429/5xx HTTP):
//!   outcome `retry`, WARN, tried again after an exponential backoff with
//!   jitter (`backoff_base` doubling up to `backoff_max`, or longer when the
//!   receiver sent `Retry-After`); after `max_attempts` it is dropped (ERROR,
//!   outcome `failed`);
//! * permanent (5xx SMTP, other 4xx HTTP, a bad address): outcome `failed`,
//!   ERROR, tried again after `permanent_backoff` so that an operator who
//!   fixes the receiver gets the alert, and dropped after
//!   `max_permanent_failures` such failures in this process;
//! * a channel that is no longer configured: the entry can never be delivered
//!   by this process, so it is dropped at once with an ERROR naming the
//!   channel (outcome `failed`) rather than kept forever in the gauge.
//!
//! Invariants: channels are independent — every entry is sent in its own task
//! and each channel has its own bound of concurrent sends (`per_channel`), so
//! a slow or down channel never delays another; no std mutex is held across
//! an `.await`; every redb call goes through `spawn_blocking` because write
//! transactions fsync. Time for backoffs is the wall clock (the store keeps
//! Unix milliseconds), so tests use short backoffs rather than paused time.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::{Notifier, NotifyError};
use crate::alert::Notification;
use crate::store::state::outbox::Entry;
use crate::store::state::{StateError, StateStore};
use crate::telemetry::Metrics;

/// Tuning of the delivery loop. [`Default`] is what the daemon runs.
#[derive(Debug, Clone)]
pub struct OutboxOptions {
    /// Most entries read from the store per pass.
    pub batch: usize,
    /// Most concurrent sends to one channel.
    pub per_channel: usize,
    /// First retry delay after a retryable failure; doubles each attempt.
    pub backoff_base: Duration,
    /// Longest retry delay after a retryable failure.
    pub backoff_max: Duration,
    /// Delay before trying again after a permanent failure.
    pub permanent_backoff: Duration,
    /// Attempts after which a retryable failure gives up.
    pub max_attempts: u32,
    /// Permanent failures (in this process) after which an entry is dropped.
    pub max_permanent_failures: u32,
    /// Upper bound on one send, on top of the notifier's own timeouts.
    pub send_timeout: Duration,
    /// Longest sleep without looking at the store (covers a lost wake-up).
    pub idle_poll: Duration,
    /// Pause after a state store error before trying again.
    pub store_retry: Duration,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        OutboxOptions {
            batch: 256,
            per_channel: 4,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            permanent_backoff: Duration::from_secs(3600),
            // With the 5 min cap: about three days of a receiver being down.
            max_attempts: 870,
            max_permanent_failures: 6,
            send_timeout: Duration::from_secs(120),
            idle_poll: Duration::from_secs(60),
            store_retry: Duration::from_secs(5),
        }
    }
}

/// Runs the delivery loop with [`OutboxOptions::default`] until `shutdown`,
/// then spends at most `flush_deadline` on one last pass over due entries.
/// Notify `wake` (with `notify_one`) after committing new entries.
pub async fn run(
    state: Arc<StateStore>,
    notifiers: Arc<HashMap<String, Notifier>>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
    flush_deadline: Duration,
) {
    run_with_options(
        state,
        notifiers,
        metrics,
        wake,
        shutdown,
        flush_deadline,
        OutboxOptions::default(),
    )
    .await
}

/// [`run`] with chosen options (tests use short backoffs).
pub async fn run_with_options(
    state: Arc<StateStore>,
    notifiers: Arc<HashMap<String, Notifier>>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
    flush_deadline: Duration,
    opts: OutboxOptions,
) {
    let mut d = Dispatcher {
        ctx: Arc::new(Ctx {
            state,
            notifiers,
            metrics,
            opts,
        }),
        tasks: JoinSet::new(),
        task_seq: HashMap::new(),
        in_flight: HashSet::new(),
        in_flight_keys: HashSet::new(),
        channel_slots: HashMap::new(),
        permanent_failures: HashMap::new(),
    };
    loop {
        let pause = d.pass().await;
        d.update_gauge().await;
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            Some(done) = d.tasks.join_next_with_id(), if !d.tasks.is_empty() => d.finished(done),
            _ = wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }

    let in_flight = d.in_flight.len();
    debug!(in_flight, "outbox flushing before shutdown");
    let flush = async {
        loop {
            d.pass().await;
            match d.tasks.join_next_with_id().await {
                Some(done) => d.finished(done),
                None => break,
            }
        }
    };
    if tokio::time::timeout(flush_deadline, flush).await.is_err() {
        warn!(
            in_flight = d.in_flight.len(),
            deadline = %crate::duration::format_duration(flush_deadline),
            "outbox flush deadline reached, undelivered notifications stay queued"
        );
        // An aborted send was not recorded: it is sent again on the next start.
        d.tasks.abort_all();
        while d.tasks.join_next().await.is_some() {}
    }
    d.update_gauge().await;
}

struct Ctx {
    state: Arc<StateStore>,
    notifiers: Arc<HashMap<String, Notifier>>,
    metrics: Arc<Metrics>,
    opts: OutboxOptions,
}

/// How one delivery task ended, for the dispatcher's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The entry left the outbox (sent, already sent, or dropped).
    Done,
    /// Rescheduled after a retryable failure.
    Retried,
    /// Rescheduled after a permanent failure.
    FailedPermanently,
    /// The store failed; the entry is untouched.
    StoreError,
}

struct Dispatcher {
    ctx: Arc<Ctx>,
    tasks: JoinSet<Outcome>,
    /// Task → (outbox sequence number, (channel, key)).
    task_seq: HashMap<tokio::task::Id, (u64, (String, String))>,
    /// Outbox sequence numbers being delivered right now.
    in_flight: HashSet<u64>,
    /// (channel, key) being delivered: a replayed duplicate of an entry in
    /// flight waits, then finds it in the sent log instead of sending twice.
    in_flight_keys: HashSet<(String, String)>,
    channel_slots: HashMap<String, Arc<Semaphore>>,
    /// Permanent failures per entry since this process started.
    permanent_failures: HashMap<u64, u32>,
}

impl Dispatcher {
    /// Starts a task for every due entry not already in flight whose channel
    /// has a free slot; returns how long to sleep if nothing else happens.
    async fn pass(&mut self) -> Duration {
        let opts = &self.ctx.opts;
        let now = now_ms();
        let limit = opts.batch + self.in_flight.len();
        let due = match blocking(&self.ctx.state, move |s| s.outbox().due(now, limit)).await {
            Ok(due) => due,
            Err(err) => {
                error!(error = %err, "cannot read the outbox");
                return opts.store_retry;
            }
        };
        for (seq, entry) in due {
            let ck = (entry.channel.clone(), entry.key.clone());
            if self.in_flight.contains(&seq) || self.in_flight_keys.contains(&ck) {
                continue;
            }
            let slots = self
                .channel_slots
                .entry(entry.channel.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(opts.per_channel.max(1))));
            // A busy channel is picked up again when one of its sends ends.
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                continue;
            };
            let failures = self.permanent_failures.get(&seq).copied().unwrap_or(0);
            let handle = self
                .tasks
                .spawn(deliver(self.ctx.clone(), seq, entry, failures, permit));
            self.task_seq.insert(handle.id(), (seq, ck.clone()));
            self.in_flight.insert(seq);
            self.in_flight_keys.insert(ck);
        }
        let next = match blocking(&self.ctx.state, |s| s.outbox().next_due()).await {
            Ok(next) => next,
            Err(err) => {
                error!(error = %err, "cannot read the outbox");
                return opts.store_retry;
            }
        };
        let now = now_ms();
        match next {
            None => opts.idle_poll,
            Some(t) if t > now => Duration::from_millis((t - now) as u64).min(opts.idle_poll),
            // Due entries are all in flight or waiting for a busy channel: a
            // finished task wakes the loop.
            Some(_) if !self.tasks.is_empty() => opts.idle_poll,
            Some(_) => opts.backoff_base.min(opts.idle_poll),
        }
    }

    fn finished(&mut self, done: Result<(tokio::task::Id, Outcome), tokio::task::JoinError>) {
        let (id, outcome) = match done {
            Ok((id, outcome)) => (id, Some(outcome)),
            Err(e) => {
                if e.is_panic() {
                    error!(error = %e, "notification task panicked");
                }
                (e.id(), None)
            }
        };
        let Some((seq, ck)) = self.task_seq.remove(&id) else {
            return;
        };
        self.in_flight.remove(&seq);
        self.in_flight_keys.remove(&ck);
        match outcome {
            Some(Outcome::Done) => {
                self.permanent_failures.remove(&seq);
            }
            Some(Outcome::FailedPermanently) => {
                *self.permanent_failures.entry(seq).or_insert(0) += 1;
            }
            Some(Outcome::Retried | Outcome::StoreError) | None => {}
        }
    }

    async fn update_gauge(&self) {
        match blocking(&self.ctx.state, |s| s.outbox().len()).await {
            Ok(n) => {
                self.ctx
                    .metrics
                    .outbox_pending
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            Err(err) => error!(error = %err, "cannot count the outbox"),
        }
    }
}

/// Delivers one entry and records what happened; see the module doc.
async fn deliver(
    ctx: Arc<Ctx>,
    seq: u64,
    mut e: Entry,
    permanent_failures: u32,
    _slot: OwnedSemaphorePermit,
) -> Outcome {
    let opts = &ctx.opts;
    let Some(notifier) = ctx.notifiers.get(&e.channel) else {
        return match blocking(&ctx.state, move |s| s.outbox().drop_entry(seq)).await {
            Ok(()) => {
                dropped(&ctx.metrics, &e, "channel is no longer configured");
                Outcome::Done
            }
            Err(err) => store_failed(&ctx, &e, &err).await,
        };
    };

    let (key, channel) = (e.key.clone(), e.channel.clone());
    match blocking(&ctx.state, move |s| s.outbox().was_sent(&key, &channel)).await {
        Ok(false) => {}
        Ok(true) => {
            let now = now_ms();
            let entry = e.clone();
            return match blocking(&ctx.state, move |s| s.outbox().delivered(seq, &entry, now)).await
            {
                Ok(()) => {
                    info!(channel = %e.channel, key = %e.key, "notification already sent, not sending again");
                    Outcome::Done
                }
                Err(err) => store_failed(&ctx, &e, &err).await,
            };
        }
        Err(err) => return store_failed(&ctx, &e, &err).await,
    }

    let result = match tokio::time::timeout(
        opts.send_timeout,
        send(&ctx.state, notifier, &e.notification, &e.key),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(NotifyError::Timeout(opts.send_timeout)),
    };
    let now = now_ms();
    match result {
        Ok(()) => {
            sent(&ctx.metrics, &e);
            let entry = e.clone();
            let recorded =
                blocking(&ctx.state, move |s| s.outbox().delivered(seq, &entry, now)).await;
            match recorded {
                Ok(()) => Outcome::Done,
                Err(err) => {
                    error!(
                        channel = %e.channel,
                        key = %e.key,
                        error = %err,
                        "notification sent but not recorded, it may be sent again"
                    );
                    tokio::time::sleep(opts.store_retry).await;
                    Outcome::StoreError
                }
            }
        }
        Err(err) => {
            e.attempts = e.attempts.saturating_add(1);
            e.last_error = Some(err.to_string());
            let (delay, outcome) = if err.is_retryable() {
                if e.attempts >= opts.max_attempts {
                    return drop_entry(&ctx, seq, &e, "gave up after too many attempts").await;
                }
                let delay = backoff(opts, e.attempts).max(err.retry_after().unwrap_or_default());
                retrying(&ctx.metrics, &e, &err, delay);
                (delay, Outcome::Retried)
            } else {
                if permanent_failures + 1 >= opts.max_permanent_failures {
                    failed(&ctx.metrics, &e, &err, None);
                    return drop_entry(&ctx, seq, &e, "failed permanently too many times").await;
                }
                failed(&ctx.metrics, &e, &err, Some(opts.permanent_backoff));
                (opts.permanent_backoff, Outcome::FailedPermanently)
            };
            e.next_attempt_ms =
                now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
            let entry = e.clone();
            match blocking(&ctx.state, move |s| s.outbox().update(seq, &entry)).await {
                Ok(()) => outcome,
                Err(err) => store_failed(&ctx, &e, &err).await,
            }
        }
    }
}

async fn drop_entry(ctx: &Ctx, seq: u64, e: &Entry, why: &'static str) -> Outcome {
    match blocking(&ctx.state, move |s| s.outbox().drop_entry(seq)).await {
        Ok(()) => {
            dropped(&ctx.metrics, e, why);
            Outcome::Done
        }
        Err(err) => store_failed(ctx, e, &err).await,
    }
}

/// Sends one notification with the channel's notifier; each kind of
/// notification gets its arm here. An alert to a channel that shows the
/// chart inline gets it drawn first ([`alert_chart`]).
async fn send(
    state: &Arc<StateStore>,
    notifier: &Notifier,
    n: &Notification,
    key: &str,
) -> Result<(), NotifyError> {
    match n {
        Notification::Alert(ev) => {
            let chart = if notifier.wants_chart() {
                alert_chart(state, ev).await
            } else {
                None
            };
            notifier.send_with_chart(ev, key, chart.as_deref()).await
        }
        Notification::Digest(d) => notifier.send_digest(d, key).await,
    }
}

/// The chart of `ev`: the watch's buckets of the last days, read and drawn
/// on a blocking thread. A chart that cannot be made is left out (DEBUG):
/// the alert goes out without it.
async fn alert_chart(state: &Arc<StateStore>, ev: &crate::alert::AlertEvent) -> Option<Vec<u8>> {
    use super::chart;
    let state = state.clone();
    let watch = ev.watch.clone();
    let end = ev.at.timestamp();
    let window = i64::try_from(ev.window_secs).unwrap_or(0);
    let expected = super::render::factor(ev).map(|_| ev.expected);
    let made = tokio::task::spawn_blocking(move || {
        chart::watch_png(&state, &watch, end, window, expected)
    })
    .await;
    match made {
        Ok(Ok(png)) => Some(png),
        Ok(Err(e)) => {
            debug!(watch = %ev.watch, error = %e, "alert sent without its chart");
            None
        }
        Err(e) => {
            debug!(watch = %ev.watch, error = %e, "alert sent without its chart");
            None
        }
    }
}

/// Delay before attempt `attempts + 1`: `base · 2^(attempts-1)`, capped at
/// `max`, then scaled by a random factor in [0.8, 1.2) so that entries that
/// failed together do not retry together.
pub fn backoff(opts: &OutboxOptions, attempts: u32) -> Duration {
    crate::retry::Backoff {
        first: opts.backoff_base,
        cap: opts.backoff_max,
        jitter: 0.2,
    }
    .delay(attempts, rand::random())
}

// One function per operational event: the log line and the counter agree.

fn sent(metrics: &Metrics, e: &Entry) {
    info!(channel = %e.channel, key = %e.key, attempts = e.attempts + 1, "notification sent");
    metrics.notification(&e.channel, "sent");
}

fn retrying(metrics: &Metrics, e: &Entry, err: &NotifyError, delay: Duration) {
    warn!(
        channel = %e.channel,
        key = %e.key,
        attempts = e.attempts,
        retry_in = %crate::duration::format_duration(delay),
        error = %err,
        "notification failed, will retry"
    );
    metrics.notification(&e.channel, "retry");
}

fn failed(metrics: &Metrics, e: &Entry, err: &NotifyError, retry_in: Option<Duration>) {
    match retry_in {
        Some(d) => error!(
            channel = %e.channel,
            key = %e.key,
            attempts = e.attempts,
            retry_in = %crate::duration::format_duration(d),
            error = %err,
            "notification rejected, check the channel; will try again later"
        ),
        None => error!(
            channel = %e.channel,
            key = %e.key,
            attempts = e.attempts,
            error = %err,
            "notification rejected, check the channel"
        ),
    }
    metrics.notification(&e.channel, "failed");
}

fn dropped(metrics: &Metrics, e: &Entry, why: &'static str) {
    error!(
        channel = %e.channel,
        key = %e.key,
        attempts = e.attempts,
        last_error = e.last_error.as_deref().unwrap_or(""),
        reason = why,
        "notification dropped"
    );
    metrics.notification(&e.channel, "failed");
}

/// Logs a store failure and pauses the task (keeping the entry in flight) so
/// that a broken store does not turn into a busy loop.
async fn store_failed(ctx: &Ctx, e: &Entry, err: &StoreFailure) -> Outcome {
    error!(channel = %e.channel, key = %e.key, error = %err, "state store failed during delivery");
    tokio::time::sleep(ctx.opts.store_retry).await;
    Outcome::StoreError
}

#[derive(Debug, thiserror::Error)]
enum StoreFailure {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("state store task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Runs a short redb call off the async threads (write transactions fsync).
async fn blocking<T, F>(state: &Arc<StateStore>, f: F) -> Result<T, StoreFailure>
where
    F: FnOnce(&StateStore) -> Result<T, StateError> + Send + 'static,
    T: Send + 'static,
{
    let s = state.clone();
    Ok(tokio::task::spawn_blocking(move || f(&s)).await??)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let opts = OutboxOptions::default();
        for (attempts, secs) in [
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (9, 256.0),
            (10, 300.0),
            (500, 300.0),
        ] {
            for _ in 0..20 {
                let d = backoff(&opts, attempts).as_secs_f64();
                assert!(
                    d >= secs * 0.8 - 1e-9 && d < secs * 1.2 + 1e-9,
                    "attempt {attempts}: {d}"
                );
            }
        }
    }
}
