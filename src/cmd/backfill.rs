//! `veilleur backfill --config FILE --source NAME [--since 30d]`: reads an
//! API source as far back as its API allows (bounded by `--since` and a page
//! cap) and loads what it finds through the daemon's own ingest step
//! (`crate::pipeline`), as `veilleur import` does: deduplicated against the
//! seen ids, enriched, matched, indexed and counted in the per-watch
//! history, so a new watch has history from its first day.
//!
//! Backfilled history never alerts: detection runs live at the backfill's
//! clock, so a mention older than every window only fills history, and the
//! events recent mentions would raise are counted, not recorded (no alert
//! log). What was read is committed even when a page fails midway. The
//! source's cursor is stored only when the source has none yet, so the
//! daemon then resumes after what was backfilled; a stored cursor is left
//! as it is. Progress goes to stderr, page by page.
//!
//! Deliberately not here: the paging itself (`source::social`, the same
//! walk the daemon does on a source's first start).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;

use crate::pipeline::{CommitPolicy, Pipeline, Storage};
use crate::source::social::{BACKFILL_PAGES_FACTOR, Walk};
use crate::source::{Cursor, HttpClient, Poll};
use crate::store::state::StateStore;
use crate::telemetry::Metrics;

/// Mentions per ingest step.
const BATCH: usize = 5_000;

pub(crate) fn run(
    config: &Path,
    source: &str,
    since: &str,
    max_pages: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let cfg = super::load_config(config)?;
    let Some(src) = cfg.sources.iter().find(|s| s.name == source) else {
        let names: Vec<&str> = cfg.sources.iter().map(|s| s.name.as_str()).collect();
        anyhow::bail!(
            "no source named `{source}` in {}: the sources are {}",
            config.display(),
            names.join(", ")
        );
    };
    let Some(api) = src.kind.api() else {
        anyhow::bail!(
            "source `{source}` is of kind `{}`, which serves only its latest items: there is no history to backfill (import past mentions with `veilleur import`)",
            src.kind.name()
        );
    };
    let since =
        crate::duration::parse_duration(since).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let pages = max_pages.unwrap_or(api.max_pages.saturating_mul(BACKFILL_PAGES_FACTOR));
    if pages == 0 {
        anyhow::bail!("--max-pages must be at least 1");
    }
    let rules = crate::rules::load_dir(&cfg.daemon.rules_dir, None).map_err(|d| {
        let text: Vec<String> = d.iter().map(|d| d.render()).collect();
        anyhow::anyhow!("invalid rules:\n{}", text.join("\n"))
    })?;
    let data = &cfg.daemon.data_dir;
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let state = Arc::new(
        StateStore::open(&data.join("state"))
            .context("cannot open the state store (is the daemon running? stop it first)")?,
    );
    let stored = state
        .ledger()
        .cursor(source)?
        .map(|b| Cursor::from_bytes(&b).unwrap_or_default());
    let index = crate::store::open_index(cfg.daemon.index, &data.join("index"))?;
    let now = Utc::now();

    let walk = Walk {
        since: now - chrono::Duration::from_std(since).unwrap_or(chrono::Duration::MAX),
        max_pages: pages,
        backfill_pages: pages,
        from_scratch: true,
        progress: Some(Arc::new(|pages, mentions| {
            eprintln!("page {pages}: {mentions} mentions read…");
        })),
    };
    let client = HttpClient::new(&cfg.daemon.user_agent).context("cannot build the HTTP client")?;
    let start = stored.clone().unwrap_or_default();
    let polled = super::runtime()?.block_on(crate::source::poll_with(
        src,
        &client,
        &start,
        Some(&walk),
        now,
    ));
    let (mentions, cursor, failure) = match polled {
        Ok(Poll::Items { mentions, cursor }) => (mentions, cursor, None),
        Ok(Poll::Partial {
            mentions,
            cursor,
            error,
        }) => (mentions, cursor, Some(error.0.to_string())),
        Ok(Poll::NotModified) => (Vec::new(), start, None),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("backfill of `{source}`"))),
    };

    let storage = Storage::new(
        index.clone(),
        state,
        CommitPolicy::new(usize::MAX, Duration::MAX, Instant::now()),
    )
    .with_retention(cfg.daemon.retention);
    let mut p = Pipeline::live(rules, storage, Arc::new(Metrics::new()), now)?;
    let read = mentions.len();
    let (mut fresh, mut duplicates, mut events) = (0, 0, 0);
    let mut cursor = stored.is_none().then(|| cursor.to_bytes());
    let mut rest = mentions;
    while !rest.is_empty() || cursor.is_some() {
        let tail = rest.split_off(rest.len().min(BATCH));
        let done = p.ingest(source, rest, cursor.take(), now)?;
        fresh += done.fresh;
        duplicates += done.duplicates;
        events += done.transitions.len();
        rest = tail;
    }
    p.commit(Instant::now())?;
    p.housekeeping(now)?;
    println!(
        "backfilled {fresh} mentions from `{source}` ({read} read, {duplicates} already seen); the index holds {}",
        index.num_docs()
    );
    if events > 0 {
        println!(
            "{events} alert events not raised: backfilled history never alerts (`veilleur backtest` shows what it would have fired)"
        );
    }
    for w in p.warmup(now) {
        println!("{}", w.describe());
    }
    if let Some(e) = failure {
        eprintln!("stopped early: {e}; what was read before is kept, run it again to read further");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
