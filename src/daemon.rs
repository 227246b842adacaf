//! Wiring: the only place that starts tasks and connects the stages.
//!
//! Tasks: one per source (fetch → parse → send a batch), the pipeline (this
//! task: dedupe → enrich → match → index → detect → record alerts), the
//! outbox (delivery with retry) and the HTTP server.
//!
//! Durability: a batch's seen ids, bucket counts and HTTP validators are
//! committed to the state store right *after* the index commit that makes its
//! mentions searchable, in one transaction; a crash in between re-fetches and
//! re-upserts them (the index upserts by id). Alert records and their outbox
//! entries are committed before anything is sent.
//!
//! Shutdown order (on the token): stop sources, drain the batches already
//! sent, commit the index and the state, flush the outbox within
//! [`FLUSH_DEADLINE`], stop the HTTP server. Rules are reloaded on SIGHUP and
//! when a file of the rules directory changes; an invalid rule set is
//! reported and the previous one kept.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use crate::alert::AlertEvent;
use crate::config::Config;
use crate::detect::{Detector, LATENESS, RETENTION, Transition};
use crate::mention::Mention;
use crate::notify::Notifier;
use crate::rules::RuleSet;
use crate::rules::matcher::Matcher;
use crate::source::{Batch, HttpClient};
use crate::store::index::MentionIndex;
use crate::store::state::{IngestCommit, OutboxEntry, StateStore};
use crate::telemetry::Metrics;

/// How long shutdown waits for pending notifications.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(5);
/// How often rules are checked for changes and firing alerts re-evaluated.
const TICK: Duration = Duration::from_secs(1);
const RULES_CHECK: Duration = Duration::from_secs(5);
/// Batches in flight between sources and the pipeline.
const BATCH_QUEUE: usize = 64;

/// Optional observers, for `demo` and tests.
#[derive(Default)]
pub struct Hooks {
    /// Receives the bound HTTP address once listening.
    pub listening: Option<oneshot::Sender<SocketAddr>>,
    /// Receives every alert event as it is recorded (dropped if full).
    pub alerts: Option<mpsc::Sender<AlertEvent>>,
}

/// Runs the daemon until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_with(config, shutdown, Hooks::default()).await
}

fn diagnostics(diags: Vec<crate::diag::Diagnostic>) -> anyhow::Error {
    let text: Vec<String> = diags.iter().map(|d| d.render()).collect();
    anyhow::anyhow!("invalid rules:\n{}", text.join("\n"))
}

/// Runs the daemon with observers.
pub async fn run_with(
    config: Config,
    shutdown: CancellationToken,
    hooks: Hooks,
) -> anyhow::Result<()> {
    let d = &config.daemon;
    std::fs::create_dir_all(&d.data_dir)
        .with_context(|| format!("cannot create data_dir {}", d.data_dir.display()))?;
    let state = Arc::new(StateStore::open(&d.data_dir.join("state"))?);
    let index = Arc::new(MentionIndex::open(&d.data_dir.join("index"))?);
    let channels = config.channel_names();
    let rules = crate::rules::load_dir(&d.rules_dir, Some(&channels)).map_err(diagnostics)?;
    let mut notifiers = HashMap::new();
    for ch in &config.channels {
        let n = Notifier::from_config(ch, &d.user_agent)?;
        notifiers.insert(ch.name.clone(), n);
    }
    let metrics = Arc::new(Metrics::new());
    metrics.index_documents.set(index.num_docs() as i64);
    metrics.outbox_pending.set(state.outbox_len()? as i64);

    let mut detector = Detector::new(&rules);
    let now = Utc::now();
    let since = (now.timestamp() - RETENTION.as_secs() as i64).div_euclid(60);
    let bad = detector.restore(&state.buckets_since(since)?, &state.alert_records()?);
    for key in bad {
        warn!(alert = %key, "unreadable alert record reset");
    }
    info!(
        watches = rules.watches.len(),
        sources = config.sources.len(),
        channels = config.channels.len(),
        documents = index.num_docs(),
        "starting"
    );

    let tracker = TaskTracker::new();
    let ready = Arc::new(AtomicBool::new(false));
    let http_stop = CancellationToken::new();
    let (addr, server) = crate::http::bind(
        d.listen,
        crate::http::HttpState {
            metrics: metrics.clone(),
            ready: ready.clone(),
        },
        http_stop.clone(),
    )
    .await
    .with_context(|| format!("cannot listen on {} (daemon.listen)", d.listen))?;
    tracker.spawn(async move {
        if let Err(e) = server.await {
            error!(error = %e, "http server failed");
        }
    });
    info!(%addr, "serving /metrics and /healthz");
    if let Some(tx) = hooks.listening {
        let _ = tx.send(addr);
    }

    let wake = Arc::new(Notify::new());
    let outbox_stop = CancellationToken::new();
    let outbox = tokio::spawn(crate::notify::outbox::run(
        state.clone(),
        Arc::new(notifiers),
        metrics.clone(),
        wake.clone(),
        outbox_stop.clone(),
        FLUSH_DEADLINE,
    ));

    let client = HttpClient::new(&d.user_agent).context("cannot build the HTTP client")?;
    let (tx, rx) = mpsc::channel(BATCH_QUEUE);
    let sources_stop = shutdown.child_token();
    for s in &config.sources {
        tracker.spawn(crate::source::poll::run(
            s.clone(),
            client.clone(),
            state.clone(),
            metrics.clone(),
            tx.clone(),
            sources_stop.clone(),
        ));
    }
    drop(tx);

    ready.store(true, Ordering::Relaxed);
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let mut pipeline = Pipeline {
        matcher: Arc::new(Matcher::new(&rules)),
        rules,
        rules_dir: d.rules_dir.clone(),
        rules_stamp: rules_stamp(&d.rules_dir),
        channels,
        detector,
        state: state.clone(),
        index: index.clone(),
        metrics: metrics.clone(),
        wake: wake.clone(),
        alerts: hooks.alerts,
        pending: IngestCommit::default(),
        pending_seen: HashSet::new(),
        pending_docs: 0,
        last_commit: Instant::now(),
        commit_interval: d.commit_interval,
        commit_docs: d.commit_docs,
    };
    let result = pipeline.run(rx, &shutdown).await;

    // Shutdown: sources are stopped (child token) and drained by now.
    ready.store(false, Ordering::Relaxed);
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    sources_stop.cancel();
    let flushed = pipeline.commit().await;
    outbox_stop.cancel();
    if tokio::time::timeout(FLUSH_DEADLINE + Duration::from_secs(1), outbox)
        .await
        .is_err()
    {
        warn!("outbox did not stop in time; pending notifications stay queued");
    }
    http_stop.cancel();
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(2), tracker.wait())
        .await
        .is_err()
    {
        warn!("some tasks did not stop in time");
    }
    result?;
    flushed?;
    info!("stopped");
    Ok(())
}

/// A cheap fingerprint of the rules directory: names, sizes and mtimes.
fn rules_stamp(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((e.path(), m.len(), m.modified().ok()))
        })
        .collect();
    v.sort();
    v
}

struct Pipeline {
    rules: RuleSet,
    matcher: Arc<Matcher>,
    rules_dir: PathBuf,
    rules_stamp: Vec<(PathBuf, u64, Option<SystemTime>)>,
    channels: HashSet<String>,
    detector: Detector,
    state: Arc<StateStore>,
    index: Arc<MentionIndex>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    alerts: Option<mpsc::Sender<AlertEvent>>,
    /// State changes waiting for the next index commit.
    pending: IngestCommit,
    pending_seen: HashSet<String>,
    pending_docs: usize,
    last_commit: Instant,
    commit_interval: Duration,
    commit_docs: usize,
}

impl Pipeline {
    async fn run(
        &mut self,
        mut rx: mpsc::Receiver<Batch>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_rules_check = Instant::now();
        let mut last_prune = Instant::now();
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot install the SIGHUP handler")?;
        let mut open = true;
        loop {
            tokio::select! {
                b = rx.recv(), if open => match b {
                    Some(b) => self.ingest(b).await?,
                    None => {
                        open = false;
                        if shutdown.is_cancelled() {
                            return Ok(());
                        }
                    }
                },
                _ = tick.tick() => {
                    if self.due() {
                        self.commit().await?;
                    }
                    let now = Utc::now();
                    // Pending and firing alerts move on with the clock, a
                    // little behind it so that a poll's mentions are in.
                    let grid = now - chrono::Duration::from_std(LATENESS).unwrap_or_default();
                    let ts = self.detector.advance(grid);
                    self.record(ts, now)?;
                    if last_rules_check.elapsed() >= RULES_CHECK {
                        last_rules_check = Instant::now();
                        let stamp = rules_stamp(&self.rules_dir);
                        if stamp != self.rules_stamp {
                            self.rules_stamp = stamp;
                            self.reload();
                        }
                    }
                    if last_prune.elapsed() >= Duration::from_secs(3600) {
                        last_prune = Instant::now();
                        self.detector.prune(now);
                        let before = (now.timestamp() - RETENTION.as_secs() as i64).div_euclid(60);
                        // Minute rows past a few days only feed the hourly
                        // baseline: keep one row per hour (issue 4).
                        const COMPACT_AFTER_SECS: i64 = 3 * 86_400;
                        let horizon = (now.timestamp() - COMPACT_AFTER_SECS).div_euclid(60);
                        let state = self.state.clone();
                        let (n, folded) = tokio::task::spawn_blocking(move || {
                            Ok::<_, crate::store::state::StateError>((
                                state.prune_buckets(before)?,
                                state.compact_buckets(horizon)?,
                            ))
                        })
                        .await??;
                        debug!(buckets = n, folded, "pruned and compacted old buckets");
                    }
                }
                _ = hup.recv() => {
                    info!("SIGHUP: reloading rules");
                    self.rules_stamp = rules_stamp(&self.rules_dir);
                    self.reload();
                }
                _ = shutdown.cancelled(), if open => {
                    // Sources stop on the same token; drain what they sent.
                    while let Some(b) = rx.recv().await {
                        self.ingest(b).await?;
                    }
                    return Ok(());
                }
                _ = shutdown.cancelled(), if !open => return Ok(()),
            }
        }
    }

    fn reload(&mut self) {
        match crate::rules::load_dir(&self.rules_dir, Some(&self.channels)) {
            Ok(rules) => {
                self.matcher = Arc::new(Matcher::new(&rules));
                self.detector.reload(&rules);
                info!(watches = rules.watches.len(), "rules reloaded");
                self.rules = rules;
            }
            Err(diags) => {
                self.metrics.rules_reload_errors.inc();
                for d in &diags {
                    error!(diagnostic = %d, "invalid rule file; keeping the previous rules");
                }
            }
        }
    }

    fn due(&self) -> bool {
        !self.pending.seen.is_empty()
            || !self.pending.validators.is_empty()
            || self.pending_docs > 0
    }

    async fn ingest(&mut self, b: Batch) -> anyhow::Result<()> {
        let now = Utc::now();
        let total = b.mentions.len();
        let ids: Vec<&str> = b.mentions.iter().map(|m| m.id.as_str()).collect();
        let unseen = self.state.unseen(&ids)?;
        let mut batch_ids = HashSet::new();
        let mut fresh: Vec<Mention> = b
            .mentions
            .into_iter()
            .zip(unseen)
            .filter(|(m, unseen)| {
                *unseen && !self.pending_seen.contains(&m.id) && batch_ids.insert(m.id.clone())
            })
            .map(|(mut m, _)| {
                if m.published > now {
                    m.published = now;
                }
                m
            })
            .collect();
        self.metrics
            .mentions_stored(&b.source, fresh.len() as u64, (total - fresh.len()) as u64);
        self.pending
            .validators
            .push((b.source.clone(), b.cursor.to_bytes()));
        if fresh.is_empty() {
            return Ok(());
        }

        let matcher = self.matcher.clone();
        let names: Vec<String> = self.rules.watches.iter().map(|w| w.name.clone()).collect();
        let index = self.index.clone();
        let (fresh_back, matched) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut matched = Vec::with_capacity(fresh.len());
            for m in &mut fresh {
                crate::enrich::enrich(m);
                let idx = matcher.matches(m);
                m.watches = idx.iter().filter_map(|&i| names.get(i).cloned()).collect();
                index.add(m)?;
                matched.push(idx);
            }
            Ok((fresh, matched))
        })
        .await??;
        fresh = fresh_back;

        let mut buckets: HashMap<(usize, i64), (u64, u64)> = HashMap::new();
        let mut observed: Vec<(usize, &Mention)> = Vec::new();
        for (m, idx) in fresh.iter().zip(&matched) {
            self.pending
                .seen
                .push((m.id.clone(), m.published.timestamp()));
            self.pending_seen.insert(m.id.clone());
            for &i in idx {
                observed.push((i, m));
                let e = buckets
                    .entry((i, m.published.timestamp().div_euclid(60)))
                    .or_default();
                e.0 += 1;
                e.1 += u64::from(m.is_negative());
                if let Some(w) = self.rules.watches.get(i) {
                    self.metrics
                        .watch_matches
                        .get_or_create(&crate::telemetry::WatchLabel {
                            watch: w.name.clone(),
                        })
                        .inc();
                }
            }
        }
        for ((i, minute), (t, n)) in buckets {
            if let Some(w) = self.rules.watches.get(i) {
                self.pending.buckets.push((w.name.clone(), minute, t, n));
            }
        }
        self.pending_docs += fresh.len();
        // The same detection path as `backtest` (publication order, each
        // watch evaluated at the publication time of its mentions), except
        // that mentions already out of every window only fill history.
        let ts = self.detector.ingest_live(&observed, now);
        self.record(ts, now)?;
        if self.pending_docs >= self.commit_docs
            || self.last_commit.elapsed() >= self.commit_interval
        {
            self.commit().await?;
        }
        Ok(())
    }

    /// Persists alert transitions with their outbox entries, and the records
    /// that changed without one (a rule becoming pending, a firing one
    /// clearing), in one transaction; then wakes the outbox.
    fn record(&mut self, ts: Vec<Transition>, now: DateTime<Utc>) -> anyhow::Result<()> {
        let dirty = self.detector.take_dirty_records();
        if ts.is_empty() && dirty.is_empty() {
            return Ok(());
        }
        let mut records = Vec::new();
        let mut entries = Vec::new();
        // Each changed record once, in its current state (a transition's
        // record may be an older state of the same rule).
        for (key, r) in &dirty {
            records.push((key.clone(), serde_json::to_vec(r)?));
        }
        for t in &ts {
            if !dirty.iter().any(|(k, _)| *k == t.record_key) {
                records.push((t.record_key.clone(), serde_json::to_vec(&t.record)?));
            }
            for ch in &t.notify {
                entries.push(OutboxEntry {
                    key: t.event.idempotency_key(),
                    channel: ch.clone(),
                    event: t.event.clone(),
                    attempts: 0,
                    next_attempt_ms: now.timestamp_millis(),
                    last_error: None,
                });
            }
        }
        self.state.commit_alerts(&records, &entries)?;
        self.metrics
            .outbox_pending
            .set(self.state.outbox_len()? as i64);
        for t in ts {
            self.metrics.alert_fired(&t.event);
            if let Some(tx) = &self.alerts {
                let _ = tx.try_send(t.event);
            }
        }
        if !entries.is_empty() {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Commits the index, then the state changes of what it now holds.
    async fn commit(&mut self) -> anyhow::Result<()> {
        if !self.due() {
            return Ok(());
        }
        if self.pending_docs > 0 {
            let index = self.index.clone();
            tokio::task::spawn_blocking(move || index.commit()).await??;
            self.metrics.index_commits.inc();
            self.metrics
                .index_documents
                .set(self.index.num_docs() as i64);
        }
        let pending = std::mem::take(&mut self.pending);
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || state.commit_ingest(&pending)).await??;
        self.pending_seen.clear();
        self.pending_docs = 0;
        self.last_commit = Instant::now();
        Ok(())
    }
}
