//! Wiring: the only place that starts tasks and connects the stages.
//!
//! Tasks: one per source (fetch → parse → send a batch), the pipeline loop
//! (this task: it hands each batch, tick, reload and housekeeping to the
//! [`Pipeline`] on a blocking thread), the outbox (delivery with retry) and
//! the HTTP server. What the pipeline does with a batch, and when it
//! commits, is `crate::pipeline`'s business; this file decides only when
//! it runs.
//!
//! Durability (see `crate::pipeline`): a batch's seen ids, bucket counts
//! and HTTP validators are committed to the state store right *after* the
//! index commit that makes its mentions searchable; alert records and their
//! outbox entries are committed before anything is sent.
//!
//! Shutdown order (on the token): stop sources, drain the batches already
//! sent, commit the index and the state, flush the outbox within
//! [`FLUSH_DEADLINE`], stop the HTTP server. Rules are reloaded on SIGHUP,
//! on `POST /-/reload` and when a file of the rules directory changes; an
//! invalid rule set is reported and the previous one kept.
//!
//! The HTTP API never locks the pipeline: every [`STATUS`] (and after a
//! reload or an alert) the loop has the worker take the watches' status
//! and publishes it, with the recent alert events, on a `watch` channel.
//! The systemd watchdog ([`crate::watchdog`]) is fed while the worker
//! finishes jobs.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use chrono::Utc;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::alert::AlertEvent;
use crate::config::Config;
use crate::http::api::{ReloadRequest, Snapshot};
use crate::notify::Notifier;
use crate::pipeline::{AlertLog, CommitPolicy, Pipeline, PipelineError, Storage};
use crate::source::{Batch, HttpClient};
use crate::store::state::StateStore;
use crate::telemetry::Metrics;
use crate::watchdog::Progress;

/// How long shutdown waits for pending notifications.
pub(crate) const FLUSH_DEADLINE: Duration = Duration::from_secs(5);
/// How often pending data is committed and firing alerts re-evaluated.
const TICK: Duration = Duration::from_secs(1);

/// How often a commit is retried while the disk is full or read-only.
const STORAGE_RETRY: Duration = Duration::from_secs(2);
/// How often the rules directory is checked for changes.
const RULES_CHECK: Duration = Duration::from_secs(5);
/// How often old buckets are pruned and compacted.
const HOUSEKEEPING: Duration = Duration::from_secs(3600);
/// How often the per-watch warm-up and disk usage gauges are refreshed.
const WARMUP_METRICS: Duration = Duration::from_secs(60);
/// How often the watches' status is published for the API and the
/// per-watch gauges (also after a reload and an alert transition).
const STATUS: Duration = Duration::from_secs(15);
/// Reload requests from the API waiting for the loop.
const RELOAD_QUEUE: usize = 4;
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
    // Opening the stores writes and fsyncs: off the runtime's threads.
    let data_dir = d.data_dir.clone();
    let backend = d.index;
    let (state, index) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create data_dir {}", data_dir.display()))?;
        let state = Arc::new(StateStore::open(&data_dir.join("state"))?);
        let index = crate::store::open_index(backend, &data_dir.join("index"))?;
        Ok((state, index))
    })
    .await
    .context("opening the stores panicked")??;
    let channels = config.channel_names();
    // Stamped before loading: an edit made while the daemon starts is seen
    // by the first check instead of being taken for the loaded version.
    let rules_stamp_at_load = rules_stamp(&d.rules_dir);
    let rules = crate::rules::load_dir(&d.rules_dir, Some(&channels)).map_err(diagnostics)?;
    let mut notifiers = std::collections::HashMap::new();
    for ch in &config.channels {
        let n = Notifier::from_config(ch, &d.user_agent)?;
        notifiers.insert(ch.name.clone(), n);
    }
    let auth = Arc::new(
        crate::http::auth::Auth::from_config(&config.api).context("cannot read the API tokens")?,
    );
    if !d.listen.ip().is_loopback() && !auth.has_tokens() {
        warn!(listen = %d.listen, "listening beyond loopback without [api] tokens: remote clients get 401 on /api; set api.token_env or api.token_file");
    }
    let metrics = Arc::new(Metrics::new().with_locale(d.locale));
    metrics.rules_reloaded(true, Utc::now());
    metrics.index_documents.set(index.num_docs() as i64);
    metrics.outbox_pending.set(state.outbox().len()? as i64);
    info!(
        watches = rules.watches.len(),
        sources = config.sources.len(),
        channels = config.channels.len(),
        documents = index.num_docs(),
        "starting"
    );

    // Restoring detection reads weeks of buckets: off the runtime's threads.
    let wake = Arc::new(Notify::new());
    let storage = Storage::new(
        index.clone(),
        state.clone(),
        CommitPolicy::new(d.commit_docs, d.commit_interval, Instant::now()),
    )
    .with_retention(d.retention);
    let log = AlertLog::new(state.clone(), wake.clone(), hooks.alerts);
    let m = metrics.clone();
    let pipeline = tokio::task::spawn_blocking(move || {
        Pipeline::live(rules, storage, m, Utc::now()).map(|p| p.with_alert_log(log))
    })
    .await
    .context("restoring detection state panicked")??;
    log_warmup(&pipeline.warmup(Utc::now()));

    let tracker = TaskTracker::new();
    let ready = Arc::new(AtomicBool::new(false));
    let http_stop = CancellationToken::new();
    let (snapshot_tx, snapshot_rx) = watch::channel(Arc::new(Snapshot::default()));
    let (reload_tx, reload_rx) = mpsc::channel(RELOAD_QUEUE);
    let api = crate::http::api::Api {
        search: index.clone(),
        state: state.clone(),
        snapshot: snapshot_rx,
        reload: reload_tx,
        reads: Arc::new(tokio::sync::Semaphore::new(
            crate::http::api::BLOCKING_READS,
        )),
        locale: d.locale,
    };
    let (addr, server) = crate::http::bind(
        d.listen,
        crate::http::HttpState {
            metrics: metrics.clone(),
            ready: ready.clone(),
            api,
            auth,
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
    info!(%addr, "serving the web page, /api, /metrics and /healthz");
    if let Some(tx) = hooks.listening {
        let _ = tx.send(addr);
    }

    let outbox_stop = CancellationToken::new();
    let outbox = tokio::spawn(crate::notify::outbox::run(
        state.clone(),
        Arc::new(notifiers),
        metrics.clone(),
        wake.clone(),
        outbox_stop.clone(),
        FLUSH_DEADLINE,
    ));

    // Digests are queued in the outbox on their schedule (nothing to do
    // without a channel's `digest` key).
    let search: Arc<dyn crate::store::MentionSearch> = index.clone();
    tracker.spawn(crate::digest::schedule::run(
        crate::digest::schedule::DigestTask {
            channels: config.digests.clone(),
            rules_dir: d.rules_dir.clone(),
            state: state.clone(),
            index: search,
            wake: wake.clone(),
        },
        shutdown.child_token(),
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

    let progress = Progress::new(Instant::now());
    let mut worker = Worker {
        pipeline: Some(pipeline),
        progress: progress.clone(),
    };
    let mut status = StatusFeed {
        tx: snapshot_tx,
        snapshot: Snapshot::default(),
        data_dir: d.data_dir.clone(),
        metrics: metrics.clone(),
        last: Instant::now(),
    };
    status.refresh(&mut worker, Vec::new(), true).await?;
    ready.store(true, Ordering::Relaxed);
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let watchdog_stop = CancellationToken::new();
    if let Some(timeout) = sd_notify::watchdog_enabled() {
        tracker.spawn(crate::watchdog::run(
            progress,
            timeout,
            watchdog_stop.clone(),
        ));
    }
    let rules = RulesDir {
        stamp: rules_stamp_at_load,
        dir: d.rules_dir.clone(),
        channels,
    };
    let result = drive(
        &mut worker,
        &mut status,
        rules,
        rx,
        reload_rx,
        &shutdown,
        &metrics,
    )
    .await;

    // Shutdown: sources are stopped (child token) and drained by now.
    ready.store(false, Ordering::Relaxed);
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    sources_stop.cancel();
    let flushed = worker.run(|p| p.commit(Instant::now())).await;
    outbox_stop.cancel();
    if tokio::time::timeout(FLUSH_DEADLINE + Duration::from_secs(1), outbox)
        .await
        .is_err()
    {
        warn!("outbox did not stop in time; pending notifications stay queued");
    }
    http_stop.cancel();
    watchdog_stop.cancel();
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(2), tracker.wait())
        .await
        .is_err()
    {
        warn!("some tasks did not stop in time");
    }
    result?;
    flushed??;
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

/// Where rules are reloaded from, and how to tell they changed.
struct RulesDir {
    /// The rules directory of the config.
    dir: PathBuf,
    /// The configured channel names, which `notify` may name.
    channels: HashSet<String>,
    /// [`rules_stamp`] of `dir` when last loaded.
    stamp: Vec<(PathBuf, u64, Option<SystemTime>)>,
}

/// The pipeline, lent to a blocking thread for each job: its store writes
/// fsync and enrichment is CPU work, neither belongs on the runtime's
/// threads. Jobs run one at a time, in the order the loop sends them.
struct Worker {
    /// `None` only while a job holds it (or after one panicked).
    pipeline: Option<Pipeline>,
    /// Marked when a job finishes: what feeds the systemd watchdog.
    progress: Arc<Progress>,
}

impl Worker {
    /// Runs `job` on the pipeline on a blocking thread.
    async fn run<T: Send + 'static>(
        &mut self,
        job: impl FnOnce(&mut Pipeline) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let mut p = self
            .pipeline
            .take()
            .context("the pipeline was lost when an earlier job panicked")?;
        let (p, out) = tokio::task::spawn_blocking(move || {
            let out = job(&mut p);
            (p, out)
        })
        .await
        .context("the pipeline panicked")?;
        self.pipeline = Some(p);
        self.progress.mark(Instant::now());
        Ok(out)
    }
}

/// Publishes the pipeline's status for the API and sets the per-watch and
/// disk gauges.
struct StatusFeed {
    /// Where the API reads snapshots.
    tx: watch::Sender<Arc<Snapshot>>,
    /// The last snapshot published, and the events it keeps.
    snapshot: Snapshot,
    /// Holds `index/` and `state`, whose sizes are gauges.
    data_dir: PathBuf,
    metrics: Arc<Metrics>,
    /// When the status was last taken.
    last: Instant,
}

impl StatusFeed {
    /// Adds `events`; takes the status and publishes it with the events
    /// when `now` is set, events came or [`STATUS`] has passed.
    async fn refresh(
        &mut self,
        worker: &mut Worker,
        events: Vec<AlertEvent>,
        now: bool,
    ) -> anyhow::Result<()> {
        let fresh = !events.is_empty();
        self.snapshot.push_events(events);
        if now || fresh || self.last.elapsed() >= STATUS {
            self.last = Instant::now();
            let watches = match worker.run(|p| p.status(Utc::now())).await? {
                Ok(w) => w,
                // A state store refusing reads (a failed write, a full disk
                // it cannot reopen on yet) keeps the last status.
                Err(e) if e.store().is_some() => {
                    warn!(error = %e, "cannot read the watch status; keeping the last one");
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            };
            let gone: Vec<String> = self
                .snapshot
                .watches
                .iter()
                .filter(|o| !watches.iter().any(|w| w.name == o.name))
                .map(|o| o.name.clone())
                .collect();
            for name in gone {
                self.metrics.forget_watch(&name);
            }
            for w in &watches {
                self.metrics.watch_figures(
                    &w.name,
                    w.hour.0,
                    w.negative_share(),
                    w.anomaly_score(),
                );
            }
            self.snapshot.watches = watches;
            self.snapshot.at = Some(Utc::now());
            self.tx.send_replace(Arc::new(self.snapshot.clone()));
        }
        Ok(())
    }

    /// Sets the disk usage gauges (walks the data directory: blocking).
    async fn disk(&self) -> anyhow::Result<()> {
        let (dir, m) = (self.data_dir.clone(), self.metrics.clone());
        tokio::task::spawn_blocking(move || {
            let index = crate::telemetry::disk::usage(&dir.join("index"));
            let state = crate::telemetry::disk::usage(&dir.join("state"));
            m.index_disk_bytes
                .set(i64::try_from(index).unwrap_or(i64::MAX));
            m.state_disk_bytes
                .set(i64::try_from(state).unwrap_or(i64::MAX));
        })
        .await
        .context("measuring the data directory panicked")
    }
}

/// A pipeline result as the loop takes it: a failed write to a store pauses
/// ingestion (`stalled` set, ERROR log, `veilleur_storage_errors_total`)
/// and gives `None`; any other error stops the daemon.
fn storage<T>(
    metrics: &Metrics,
    r: Result<T, PipelineError>,
    stalled: &mut Option<Instant>,
) -> anyhow::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => match e.store() {
            Some(store) => {
                metrics.storage_failed(store, &crate::retry::error_chain(&e));
                *stalled = Some(Instant::now());
                Ok(None)
            }
            None => Err(anyhow::Error::from(e)),
        },
    }
}

/// The pipeline loop: batches from the sources, the tick (commit, alert
/// clock), rule reloads (SIGHUP or a changed file) and hourly housekeeping,
/// until `shutdown`; then drains the batches already sent.
///
/// A failed write to the index or the state store (a full disk, a
/// read-only file system) pauses ingestion instead of stopping the daemon:
/// batches wait in the bounded queue (so the sources wait too), the outbox
/// keeps delivering, and the pending commit is retried every
/// [`STORAGE_RETRY`] until it succeeds.
async fn drive(
    worker: &mut Worker,
    status: &mut StatusFeed,
    mut rules: RulesDir,
    mut rx: mpsc::Receiver<Batch>,
    mut reloads: mpsc::Receiver<ReloadRequest>,
    shutdown: &CancellationToken,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    // Since when ingestion is paused by a failed write, and the last try.
    let mut stalled: Option<Instant> = None;
    status.disk().await?;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_rules_check = Instant::now();
    let mut last_housekeeping = Instant::now();
    let mut last_warmup = Instant::now();
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot install the SIGHUP handler")?;
    let mut open = true;
    loop {
        tokio::select! {
            b = rx.recv(), if open && stalled.is_none() => match b {
                Some(b) => {
                    let r = ingest(worker, b).await?;
                    if let Some(events) = storage(metrics, r, &mut stalled)?
                        && !events.is_empty()
                    {
                        status.refresh(worker, events, false).await?;
                    }
                }
                None => {
                    open = false;
                    if shutdown.is_cancelled() {
                        return Ok(());
                    }
                }
            },
            _ = tick.tick() => {
                if let Some(since) = stalled {
                    if since.elapsed() < STORAGE_RETRY {
                        continue;
                    }
                    let r = worker.run(|p| p.commit(Instant::now()).map(|_| ())).await?;
                    storage(metrics, r, &mut stalled)?;
                    if stalled.is_some_and(|t| t > since) {
                        continue;
                    }
                    stalled = None;
                    info!("storage writable again: ingestion resumes");
                }
                let r = worker.run(|p| p.tick(Utc::now(), Instant::now())).await?;
                let ts = storage(metrics, r, &mut stalled)?.unwrap_or_default();
                let mut reloaded = false;
                if last_rules_check.elapsed() >= RULES_CHECK {
                    last_rules_check = Instant::now();
                    let stamp = rules_stamp(&rules.dir);
                    if stamp != rules.stamp {
                        rules.stamp = stamp;
                        reloaded = reload(worker, &rules).await?.is_ok();
                    }
                }
                if last_warmup.elapsed() >= WARMUP_METRICS {
                    last_warmup = Instant::now();
                    worker.run(|p| Ok::<_, anyhow::Error>(p.warmup(Utc::now()))).await??;
                    status.disk().await?;
                }
                status
                    .refresh(worker, ts.into_iter().map(|t| t.event).collect(), reloaded)
                    .await?;
                if last_housekeeping.elapsed() >= HOUSEKEEPING {
                    last_housekeeping = Instant::now();
                    let r = worker
                        .run(|p| {
                            let now = Utc::now();
                            p.housekeeping(now)?;
                            p.expire_mentions(now).map(|_| ())
                        })
                        .await?;
                    storage(metrics, r, &mut stalled)?;
                }
            }
            _ = hup.recv() => {
                info!("SIGHUP: reloading rules");
                rules.stamp = rules_stamp(&rules.dir);
                let ok = reload(worker, &rules).await?.is_ok();
                status.refresh(worker, Vec::new(), ok).await?;
            }
            Some(req) = reloads.recv() => {
                info!("POST /-/reload: reloading rules");
                rules.stamp = rules_stamp(&rules.dir);
                let outcome = reload(worker, &rules).await?;
                status.refresh(worker, Vec::new(), outcome.is_ok()).await?;
                let _ = req.reply.send(outcome);
            }
            _ = shutdown.cancelled(), if open => {
                // Sources stop on the same token; drain what they sent.
                // Not while the disk is full: they are fetched again
                // after the restart, from the committed cursors.
                while stalled.is_none() && let Some(b) = rx.recv().await {
                    let r = ingest(worker, b).await?;
                    storage(metrics, r, &mut stalled)?;
                }
                return Ok(());
            }
            _ = shutdown.cancelled(), if !open => return Ok(()),
        }
    }
}

/// One batch through the ingest step at the wall clock, then a commit if
/// the policy says so. Returns the alert events it recorded, or the
/// pipeline's error for the caller to classify ([`storage`]).
async fn ingest(
    worker: &mut Worker,
    b: Batch,
) -> anyhow::Result<Result<Vec<AlertEvent>, PipelineError>> {
    let cursor = b.cursor.to_bytes();
    let got = worker
        .run(move |p| {
            let got = p.ingest(&b.source, b.mentions, Some(cursor), Utc::now())?;
            p.commit_if_due(Instant::now())?;
            Ok::<_, PipelineError>(got)
        })
        .await?;
    Ok(got.map(|g| g.transitions.into_iter().map(|t| t.event).collect()))
}

/// Reloads the rules: the number of watches in force, or the rendered
/// diagnostics of a refused rule set (the previous rules keep running).
async fn reload(
    worker: &mut Worker,
    rules: &RulesDir,
) -> anyhow::Result<Result<usize, Vec<String>>> {
    let (dir, channels) = (rules.dir.clone(), rules.channels.clone());
    let outcome = worker
        .run(move |p| p.reload_checked(&dir, &channels, Utc::now()))
        .await?;
    Ok(outcome.map_err(|diags| diags.iter().map(|d| d.render()).collect()))
}

/// Says at start-up which watches are still warming up, and until when.
fn log_warmup(watches: &[crate::pipeline::WatchWarmup]) {
    for w in watches.iter().filter(|w| !w.warm) {
        info!(
            watch = %w.watch,
            warm_at = %w.warm_at.map_or_else(|| "after its first day of mentions".to_string(), |t| t.to_rfc3339()),
            "warming up: until then only overwhelming spikes alert; `veilleur import` of past mentions starts a watch warm"
        );
    }
}
