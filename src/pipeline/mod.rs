//! The ingest step, written once, for `run`, `import` and `backtest`.
//!
//! [`Pipeline::ingest`] takes a batch of mentions from one source and the
//! clock (`now`) and runs, in this order:
//! dedupe (against the state store's seen ids when there is a store, the ids
//! pending commit and the batch itself; publication times clamped to `now`)
//! → enrich (language and sentiment, keeping what a mention already has) →
//! match (watches) → index (when there is an index) → count (per-watch
//! minute buckets) → detect. What to persist joins the pending commit;
//! alert transitions are recorded (when there is an alert log) and
//! returned.
//!
//! Parts, one field each in [`Pipeline`]:
//! * [`Watches`]: the rule set and its compiled matcher (reloaded whole);
//! * detection: live (`run`, `import`: [`Detector::ingest_live`] at `now`, so
//!   a mention older than every window of its watch only fills history) or
//!   a replay (`backtest`: [`Replay`], each mention's time as the clock);
//! * [`Storage`] (`run`, `import`): the index, the state store, the pending
//!   commit and the commit policy ([`commit`]);
//! * [`AlertLog`] (`run`): alert records and outbox entries in one
//!   transaction ([`alerts`]).
//!
//! Durability: a commit writes the index first, then the batch's seen ids,
//! bucket counts and cursors in one state transaction; a crash in between
//! re-ingests those mentions (the index upserts by id) and counts them once.
//!
//! Everything here is synchronous: the state store fsyncs and enrichment is
//! CPU work. The daemon lends the pipeline to `spawn_blocking` for each
//! call; the commands call it directly.

pub(crate) mod alerts;
pub(crate) mod commit;
pub(crate) mod status;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tracing::{debug, error, info, warn};

use crate::alert::AlertEvent;
use crate::detect::replay::{Matched, Replay};
use crate::detect::{AlertRecord, Detector, LATENESS, RETENTION, Transition};
use crate::mention::Mention;
use crate::rules::RuleSet;
use crate::rules::matcher::Matcher;
use crate::store::IndexError;
use crate::store::state::{IngestCommit, StateError, StateStore};
use crate::telemetry::{Metrics, WatchLabel};
pub(crate) use alerts::AlertLog;
pub(crate) use commit::{CommitPolicy, Pending};

/// The mention index the pipeline writes: the one line to change when the
/// index becomes a trait object (`dyn MentionIndex`). Openers name their
/// back end; the pipeline only holds an `Arc<Index>`.
pub(crate) type Index = dyn crate::store::MentionIndex;

/// Minute buckets older than this are folded into hourly ones by
/// [`Pipeline::housekeeping`]: past a few days they only feed the hourly
/// baseline (issue 4).
const COMPACT_AFTER_SECS: i64 = 3 * 86_400;

/// Errors of the ingest step: the store failed. They stop the daemon.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PipelineError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("cannot encode an alert record: {0}")]
    Record(#[from] serde_json::Error),
}

impl PipelineError {
    /// The store a failed read or write was for (`index` or `state`): a
    /// full disk or a read-only file system, which the daemon waits out.
    pub(crate) fn store(&self) -> Option<&'static str> {
        match self {
            PipelineError::State(_) => Some("state"),
            PipelineError::Index(_) => Some("index"),
            PipelineError::Record(_) => None,
        }
    }
}

/// The rule set mentions are matched against, and its compiled matcher.
pub(crate) struct Watches {
    /// The rules: watch `i` of the matcher and of the detector is
    /// `rules.watches[i]`.
    rules: RuleSet,
    /// Compiled from `rules`.
    matcher: Matcher,
}

impl Watches {
    pub(crate) fn new(rules: RuleSet) -> Watches {
        Watches {
            matcher: Matcher::new(&rules),
            rules,
        }
    }

    /// Enriches what `m` lacks (language, sentiment: a given one is kept),
    /// then matches it: fills `m.watches` with the names and returns the
    /// indices of the watches it belongs to.
    fn prepare(&self, m: &mut Mention) -> Vec<usize> {
        if m.sentiment.is_none() || m.lang.is_none() {
            let given = m.sentiment;
            crate::enrich::enrich(m);
            if given.is_some() {
                m.sentiment = given;
            }
        }
        let idx = self.matcher.matches(m);
        m.watches = idx
            .iter()
            .filter_map(|&i| self.rules.watches.get(i).map(|w| w.name.clone()))
            .collect();
        idx
    }
}

/// How the detector sees time.
enum Detection {
    /// `run` and `import`: live data arriving at the wall clock.
    Live(Detector),
    /// `backtest`: history replayed at its own time.
    Replay(Replay),
}

/// Where ingested mentions are kept (`run`, `import`).
pub(crate) struct Storage {
    /// The mention index (upserts by id).
    index: Arc<Index>,
    /// Seen ids, cursors, per-watch minute buckets, alert records, outbox.
    state: Arc<StateStore>,
    /// What was ingested since the last commit.
    pending: Pending,
    /// When a batch makes a commit due.
    policy: CommitPolicy,
    /// Seen ids and sent-log rows older than this are pruned
    /// (`daemon.retention`).
    retention: std::time::Duration,
    /// An upsert failed (tantivy's writer dies when a worker cannot write
    /// a segment, on a full disk): the next commit rebuilds the writer and
    /// adds the pending mentions again first.
    broken: bool,
}

impl Storage {
    pub(crate) fn new(index: Arc<Index>, state: Arc<StateStore>, policy: CommitPolicy) -> Storage {
        Storage {
            index,
            state,
            pending: Pending::default(),
            policy,
            retention: crate::config::DEFAULT_RETENTION,
            broken: false,
        }
    }

    /// Keeps seen ids and sent-log rows for `retention` after their
    /// ingestion or delivery (default [`crate::config::DEFAULT_RETENTION`]).
    pub(crate) fn with_retention(mut self, retention: std::time::Duration) -> Storage {
        self.retention = retention;
        self
    }

    /// Commits the index, then the state changes of what it now holds, in
    /// one transaction. Returns whether there was anything to commit.
    fn commit(&mut self, at: Instant, metrics: &Metrics) -> Result<bool, PipelineError> {
        if self.pending.is_empty() {
            return Ok(false);
        }
        if self.broken {
            self.rebuild()?;
        }
        if self.pending.docs() > 0 {
            if let Err(e) = self.index.commit() {
                // Nothing of this commit is visible; the next one retries
                // with the same mentions on a rebuilt writer.
                self.broken = true;
                return Err(e.into());
            }
            metrics.index_commits.inc();
            metrics.index_documents.set(self.index.num_docs() as i64);
        }
        let (changes, _) = self.pending.take();
        if let Err(e) = self.state.commit_ingest(&changes) {
            // The mentions are searchable; their seen ids, counts and
            // cursors wait for the next commit (a crash before it
            // re-ingests them, and the index upserts by id).
            self.pending.restore(changes);
            return Err(e.into());
        }
        self.policy.committed(at);
        Ok(true)
    }
}

impl Storage {
    /// Rolls the index writer back to the last commit and adds the pending
    /// mentions again.
    fn rebuild(&mut self) -> Result<(), PipelineError> {
        self.index.rollback()?;
        for m in self.pending.mentions() {
            self.index.upsert(m)?;
        }
        self.broken = false;
        Ok(())
    }
}

/// What one [`Pipeline::ingest`] did.
#[derive(Debug, Default)]
pub(crate) struct Ingested {
    /// Mentions ingested (new to the store, the pending commit and the batch).
    pub fresh: usize,
    /// Mentions skipped as already seen.
    pub duplicates: usize,
    /// Alert transitions, already recorded when the pipeline has an alert
    /// log (a replay returns none: see [`Pipeline::finish`]).
    pub transitions: Vec<Transition>,
}

/// The ingest step and its state; see the module doc.
pub(crate) struct Pipeline {
    /// The rule set and its matcher.
    watches: Watches,
    /// The detector, live or replaying.
    detection: Detection,
    /// The index, the state store, the pending commit and the commit
    /// policy; `None` in a backtest, which stores nothing.
    storage: Option<Storage>,
    /// Where alert transitions are recorded; `None`: only returned.
    alerts: Option<AlertLog>,
    /// Counters of what passes through (the daemon's `/metrics`; the
    /// commands' are thrown away).
    metrics: Arc<Metrics>,
    /// Transitions and changed records whose commit failed (a full disk),
    /// recorded first by the next [`Pipeline::record`]: nothing detected
    /// while the state store refuses is lost.
    unrecorded: (Vec<Transition>, Vec<(String, AlertRecord)>),
}

impl Pipeline {
    /// `run` and `import`: live detection over `storage`, with the detection
    /// state restored from its state store at `now` (minute buckets of the
    /// last [`RETENTION`], alert records). Reads the store: blocking.
    pub(crate) fn live(
        rules: RuleSet,
        storage: Storage,
        metrics: Arc<Metrics>,
        now: DateTime<Utc>,
    ) -> Result<Pipeline, PipelineError> {
        let detector = restore_detector(&rules, &storage.state, now)?;
        Ok(Pipeline {
            watches: Watches::new(rules),
            detection: Detection::Live(detector),
            storage: Some(storage),
            alerts: None,
            metrics,
            unrecorded: Default::default(),
        })
    }

    /// `backtest`: a replay from an empty history that stores nothing;
    /// [`Pipeline::finish`] returns its events.
    pub(crate) fn replay(rules: RuleSet) -> Pipeline {
        Pipeline {
            detection: Detection::Replay(Replay::new(&rules)),
            watches: Watches::new(rules),
            storage: None,
            alerts: None,
            metrics: Arc::new(Metrics::new()),
            unrecorded: Default::default(),
        }
    }

    /// Records alert transitions in `log` (the daemon).
    pub(crate) fn with_alert_log(mut self, log: AlertLog) -> Pipeline {
        self.alerts = Some(log);
        self
    }

    /// The ingest step over one batch of `source` at `now`; `cursor` is the
    /// source's resume point after this batch, committed with its mentions.
    /// Does not commit: see [`Pipeline::commit_if_due`].
    pub(crate) fn ingest(
        &mut self,
        source: &str,
        mentions: Vec<Mention>,
        cursor: Option<Vec<u8>>,
        now: DateTime<Utc>,
    ) -> Result<Ingested, PipelineError> {
        let total = mentions.len();
        let mut fresh = self.dedupe(mentions, now)?;
        let duplicates = total - fresh.len();
        self.metrics
            .mentions_stored(source, fresh.len() as u64, duplicates as u64);
        let mut delta = IngestCommit::default();
        if let Some(c) = cursor {
            delta.validators.push((source.to_string(), c));
        }
        let mut out = Ingested {
            fresh: fresh.len(),
            duplicates,
            transitions: Vec::new(),
        };
        if fresh.is_empty() {
            if let Some(s) = &mut self.storage {
                s.pending.absorb(delta, &[]);
            }
            return Ok(out);
        }

        let mut matched = Vec::with_capacity(fresh.len());
        for m in &mut fresh {
            matched.push(self.watches.prepare(m));
            if let Some(s) = &mut self.storage
                && !s.broken
                && let Err(e) = s.index.upsert(m)
            {
                // Kept pending all the same; the commit rebuilds the writer.
                warn!(error = %e, "index write failed; the next commit retries");
                s.broken = true;
            }
        }
        self.count(&fresh, &matched, now, &mut delta);
        if let Some(s) = &mut self.storage {
            s.pending.absorb(delta, &fresh);
        }
        out.transitions = match &mut self.detection {
            Detection::Live(d) => {
                let observed: Vec<(usize, &Mention)> = fresh
                    .iter()
                    .zip(&matched)
                    .flat_map(|(m, idx)| idx.iter().map(move |&i| (i, m)))
                    .collect();
                d.ingest_live(&observed, now)
            }
            Detection::Replay(r) => {
                r.push(
                    fresh
                        .into_iter()
                        .zip(matched)
                        .map(|(mention, watches)| Matched { mention, watches })
                        .collect(),
                );
                Vec::new()
            }
        };
        self.record(&out.transitions, now)?;
        Ok(out)
    }

    /// The mentions of a batch not seen before, in batch order, with
    /// publication times clamped to `now` (a mention can't come from the
    /// future).
    fn dedupe(
        &self,
        mentions: Vec<Mention>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Mention>, PipelineError> {
        let mut keep = match &self.storage {
            Some(s) => {
                let ids: Vec<&str> = mentions.iter().map(|m| m.id.as_str()).collect();
                s.state.ledger().unseen(&ids)?
            }
            None => vec![true; mentions.len()],
        };
        let mut batch: HashSet<&str> = HashSet::with_capacity(mentions.len());
        for (m, k) in mentions.iter().zip(keep.iter_mut()) {
            let pending = self
                .storage
                .as_ref()
                .is_some_and(|s| s.pending.contains(&m.id));
            *k = *k && !pending && batch.insert(m.id.as_str());
        }
        Ok(mentions
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(mut m, _)| {
                m.published = m.published.min(now);
                m
            })
            .collect())
    }

    /// Adds the batch's seen ids (with the ingestion time `now`: retention
    /// prunes by it, so an old item a source keeps serving stays known as
    /// long as it is ingested recently) and per-watch minute buckets to
    /// `delta`, and counts the matches per watch.
    fn count(
        &self,
        fresh: &[Mention],
        matched: &[Vec<usize>],
        now: DateTime<Utc>,
        delta: &mut IngestCommit,
    ) {
        let mut buckets: HashMap<(usize, i64), (u64, u64)> = HashMap::new();
        for (m, idx) in fresh.iter().zip(matched) {
            delta.seen.push((m.id.clone(), now.timestamp()));
            for &i in idx {
                let e = buckets
                    .entry((i, m.published.timestamp().div_euclid(60)))
                    .or_default();
                e.0 += 1;
                e.1 += u64::from(m.is_negative());
            }
        }
        let mut per_watch: HashMap<usize, u64> = HashMap::new();
        for ((i, minute), (total, negative)) in buckets {
            if let Some(w) = self.watches.rules.watches.get(i) {
                delta
                    .buckets
                    .push((w.name.clone(), minute, total, negative));
                *per_watch.entry(i).or_default() += total;
            }
        }
        for (i, n) in per_watch {
            if let Some(w) = self.watches.rules.watches.get(i) {
                self.metrics
                    .watch_matches
                    .get_or_create(&WatchLabel {
                        watch: w.name.clone(),
                    })
                    .inc_by(n);
            }
        }
    }

    /// Records transitions and the records changed without one in the
    /// alert log, when there is one, after those a failed commit left
    /// (kept for the next call when this one fails too).
    fn record(&mut self, ts: &[Transition], now: DateTime<Utc>) -> Result<(), PipelineError> {
        let (Some(log), Detection::Live(d)) = (&self.alerts, &mut self.detection) else {
            return Ok(());
        };
        let (mut all, mut dirty) = std::mem::take(&mut self.unrecorded);
        all.extend_from_slice(ts);
        let fresh = d.take_dirty_records();
        dirty.retain(|(k, _)| !fresh.iter().any(|(f, _)| f == k));
        dirty.extend(fresh);
        let r = log.record(&all, dirty.clone(), now, &self.metrics);
        if r.is_err() {
            self.unrecorded = (all, dirty);
        }
        r
    }

    /// Commits if the commit policy says a batch ingested at `at` makes it
    /// due. Returns whether it committed.
    pub(crate) fn commit_if_due(&mut self, at: Instant) -> Result<bool, PipelineError> {
        match &mut self.storage {
            Some(s) if s.broken || s.policy.due(&s.pending, at) => s.commit(at, &self.metrics),
            _ => Ok(false),
        }
    }

    /// Commits whatever is pending (index, then state). Returns whether
    /// there was anything.
    pub(crate) fn commit(&mut self, at: Instant) -> Result<bool, PipelineError> {
        match &mut self.storage {
            Some(s) => s.commit(at, &self.metrics),
            None => Ok(false),
        }
    }

    /// Which watches are warm at `now` (live detection only; empty for a
    /// replay), one entry per watch with spike rules: warm when all its
    /// spike rules are, warm from the latest of their warm-up ends. Also
    /// sets the per-watch warm-up gauges.
    pub(crate) fn warmup(&self, now: DateTime<Utc>) -> Vec<WatchWarmup> {
        let Detection::Live(d) = &self.detection else {
            return Vec::new();
        };
        let out = WatchWarmup::by_watch(d.warmup_status(now));
        for w in &out {
            self.metrics.watch_warmup(&w.watch, w.warm, w.warm_at);
        }
        out
    }

    /// The daemon's tick at `now`: commits when the commit policy says so, then moves
    /// live detection on to `now` minus [`LATENESS`] (so that a poll's
    /// mentions are in before their minute is judged), evaluating pending
    /// and firing alerts, and records their transitions.
    pub(crate) fn tick(
        &mut self,
        now: DateTime<Utc>,
        at: Instant,
    ) -> Result<Vec<Transition>, PipelineError> {
        // By the documented policy (`commit_docs`, `commit_interval`), not
        // whenever anything is pending: each commit costs tens of ms of CPU.
        self.commit_if_due(at)?;
        let Detection::Live(d) = &mut self.detection else {
            return Ok(Vec::new());
        };
        let grid = now - chrono::Duration::from_std(LATENESS).unwrap_or_default();
        let ts = d.advance(grid);
        self.record(&ts, now)?;
        Ok(ts)
    }

    /// Periodic upkeep at `now`, the one entry point for pruning: the
    /// detector forgets what no window needs; the state store drops minute
    /// buckets older than [`RETENTION`] and folds those older than three
    /// days into one row per hour; seen ids and sent-log rows older than
    /// `daemon.retention` are deleted (indexed mentions: see
    /// [`Pipeline::expire_mentions`]).
    pub(crate) fn housekeeping(&mut self, now: DateTime<Utc>) -> Result<(), PipelineError> {
        if let Detection::Live(d) = &mut self.detection {
            d.prune(now);
        }
        let Some(s) = &self.storage else {
            return Ok(());
        };
        let before = (now.timestamp() - RETENTION.as_secs() as i64).div_euclid(60);
        let horizon = (now.timestamp() - COMPACT_AFTER_SECS).div_euclid(60);
        let pruned = s.state.buckets().prune(before)?;
        let folded = s.state.buckets().compact(horizon)?;
        debug!(buckets = pruned, folded, "pruned and compacted old buckets");
        let horizon =
            now - chrono::Duration::from_std(s.retention).unwrap_or(chrono::Duration::MAX);
        let old = s.state.prune(horizon)?;
        debug!(
            seen = old.seen,
            sent = old.sent,
            "pruned seen ids and sent-log rows past retention"
        );
        Ok(())
    }

    /// Deletes from the index the mentions published more than
    /// `daemon.retention` before `now` (the daemon's hourly housekeeping;
    /// `import` keeps what it was given until the daemon's next round).
    /// What is pending is committed first (index, then its state), so the
    /// deletion's own commit carries nothing else. Returns how many went.
    pub(crate) fn expire_mentions(&mut self, now: DateTime<Utc>) -> Result<u64, PipelineError> {
        let Some(s) = &self.storage else {
            return Ok(0);
        };
        let horizon =
            now - chrono::Duration::from_std(s.retention).unwrap_or(chrono::Duration::MAX);
        let index = s.index.clone();
        self.commit(Instant::now())?;
        let deleted = index.delete_older_than(horizon)?;
        if deleted > 0 {
            index.commit()?;
            self.metrics.index_commits.inc();
            self.metrics.index_documents.set(index.num_docs() as i64);
            info!(mentions = deleted, "deleted mentions past retention");
        }
        Ok(deleted)
    }

    /// Reloads the rule files of `dir` (`notify` checked against
    /// `channels`): the matcher and the detector adopt the new rules,
    /// keeping the history and records of watches that keep their name. An
    /// invalid rule set is reported (log, metric) and the previous one kept.
    /// Returns the number of watches now in force or, when the rule set is
    /// refused, its diagnostics (`POST /-/reload` shows them). Sets the
    /// last-reload gauges at `now`.
    pub(crate) fn reload_checked(
        &mut self,
        dir: &Path,
        channels: &HashSet<String>,
        now: DateTime<Utc>,
    ) -> Result<usize, Vec<crate::diag::Diagnostic>> {
        match crate::rules::load_dir(dir, Some(channels)) {
            Ok(rules) => {
                if let Detection::Live(d) = &mut self.detection {
                    d.reload(&rules);
                }
                let n = rules.watches.len();
                info!(watches = n, "rules reloaded");
                self.watches = Watches::new(rules);
                self.metrics.rules_reloaded(true, now);
                Ok(n)
            }
            Err(diags) => {
                self.metrics.rules_reload_errors.inc();
                self.metrics.rules_reloaded(false, now);
                for d in &diags {
                    error!(diagnostic = %d, "invalid rule file; keeping the previous rules");
                }
                Err(diags)
            }
        }
    }

    /// Alert events a replay has produced so far (progress reports).
    pub(crate) fn events(&self) -> usize {
        match &self.detection {
            Detection::Replay(r) => r.events(),
            Detection::Live(_) => 0,
        }
    }

    /// Ends a replay: its events in time order. A live pipeline has none
    /// to give (its transitions came out of each call).
    pub(crate) fn finish(self) -> Vec<AlertEvent> {
        match self.detection {
            Detection::Replay(r) => r.finish(),
            Detection::Live(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;

/// The detector of `rules` with the detection state of `state` at `now`
/// (minute buckets of the last [`RETENTION`], alert records). Blocking.
fn restore_detector(
    rules: &RuleSet,
    state: &StateStore,
    now: DateTime<Utc>,
) -> Result<Detector, PipelineError> {
    let mut detector = Detector::new(rules);
    let since = (now.timestamp() - RETENTION.as_secs() as i64).div_euclid(60);
    let buckets = state.buckets().since(since)?;
    let bad = detector.restore(&buckets, &state.alerts().records()?);
    for key in bad {
        warn!(alert = %key, "unreadable alert record reset");
    }
    Ok(detector)
}

/// The warm-up of each watch of `rules` given the history in `state` (or
/// none), as the daemon would start with it at `now`: for `veilleur check`.
pub(crate) fn warmup_from_state(
    rules: &RuleSet,
    state: Option<&StateStore>,
    now: DateTime<Utc>,
) -> Result<Vec<WatchWarmup>, PipelineError> {
    let detector = match state {
        Some(s) => restore_detector(rules, s, now)?,
        None => Detector::new(rules),
    };
    Ok(WatchWarmup::by_watch(detector.warmup_status(now)))
}

/// The warm-up of one watch: see [`Pipeline::warmup`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WatchWarmup {
    pub(crate) watch: String,
    /// Every spike rule of the watch has its full baseline.
    pub(crate) warm: bool,
    /// When the last of them is (or was) warm; `None` while the watch has
    /// seen nothing.
    pub(crate) warm_at: Option<DateTime<Utc>>,
}

impl WatchWarmup {
    /// Folds per-rule statuses into one per watch, in the rule set's order.
    pub(crate) fn by_watch(rules: Vec<crate::detect::WarmupStatus>) -> Vec<WatchWarmup> {
        let mut out: Vec<WatchWarmup> = Vec::new();
        for r in rules {
            match out.iter_mut().find(|w| w.watch == r.watch) {
                Some(w) => {
                    w.warm &= r.warm;
                    w.warm_at = match (w.warm_at, r.warm_at) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                }
                None => out.push(WatchWarmup {
                    watch: r.watch,
                    warm: r.warm,
                    warm_at: r.warm_at,
                }),
            }
        }
        out
    }

    /// One line for a person: `check` and the start-up log.
    pub(crate) fn describe(&self) -> String {
        match (self.warm, self.warm_at) {
            (true, _) => format!("{}: warm", self.watch),
            (false, Some(at)) => format!(
                "{}: warming up until {} UTC; until then only overwhelming spikes alert (import history with `veilleur import` to start warm)",
                self.watch,
                at.format("%Y-%m-%d %H:%M")
            ),
            (false, None) => format!(
                "{}: no history yet; warms up a day after its first mention (import history with `veilleur import` to start warm)",
                self.watch
            ),
        }
    }
}
