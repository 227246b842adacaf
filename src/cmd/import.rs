//! `veilleur import --config FILE FILE.jsonl`: loads historical mentions
//! through the daemon's own ingest step (`crate::pipeline`), so that they
//! warm the watches' baselines exactly as live ingestion would: they are
//! deduplicated against the seen ids, enriched, matched, indexed, counted
//! in the per-watch buckets the daemon restores at start, and their ids are
//! marked seen (a later live fetch of the same item is not counted twice).
//!
//! Imported history never alerts: detection runs live at the import's
//! clock, so a mention older than every window only fills history, and the
//! few events recent mentions would raise are counted, not recorded (no
//! alert log). What was read is committed even when the import stops
//! early on an error. Bad lines are reported with their line number and
//! skipped; the exit code is 1 if any was bad.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::lines::{Line, Lines};
use crate::mention::Mention;
use crate::pipeline::{CommitPolicy, Pipeline, Storage};
use crate::store::state::StateStore;
use crate::telemetry::Metrics;

/// Mentions read per ingest step.
const BATCH: usize = 5_000;
/// Documents between commits (and progress lines).
const CHUNK: usize = 50_000;

/// What an import went through.
#[derive(Debug, Default)]
struct Tally {
    fresh: usize,
    duplicates: usize,
    bad: usize,
    events: usize,
}

pub(crate) fn run(config: &Path, file: &Path) -> anyhow::Result<ExitCode> {
    let cfg = super::load_config(config)?;
    let rules = crate::rules::load_dir(&cfg.daemon.rules_dir, None).map_err(|d| {
        let text: Vec<String> = d.iter().map(|d| d.render()).collect();
        anyhow::anyhow!("invalid rules:\n{}", text.join("\n"))
    })?;
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
    );
    let data = &cfg.daemon.data_dir;
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let state = Arc::new(StateStore::open(&data.join("state"))?);
    let index = crate::store::open_index(cfg.daemon.index, &data.join("index"))?;
    let now = Utc::now();
    // Commits by size only: the time of an import is not a reason to commit.
    let storage = Storage::new(
        index.clone(),
        state,
        CommitPolicy::new(CHUNK, Duration::MAX, Instant::now()),
    )
    .with_retention(cfg.daemon.retention);
    let mut p = Pipeline::live(rules, storage, Arc::new(Metrics::new()), now)?;

    let mut tally = Tally::default();
    let read = ingest_lines(&mut p, reader, file, now, &mut tally);
    // What was read is committed whether the reading finished or not.
    let committed = p.commit(Instant::now());
    read?;
    committed?;
    p.housekeeping(now)?;
    println!(
        "imported {} mentions from {} ({} already seen, {} bad lines); the index holds {}",
        tally.fresh,
        file.display(),
        tally.duplicates,
        tally.bad,
        index.num_docs()
    );
    if tally.events > 0 {
        println!(
            "{} alert events not raised: imported history never alerts (`veilleur backtest` shows what it would have fired)",
            tally.events
        );
    }
    Ok(if tally.bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Reads `reader` line by line and ingests the mentions in batches at
/// `now`. On an error, what was read before it is ingested first.
fn ingest_lines(
    p: &mut Pipeline,
    reader: impl BufRead,
    file: &Path,
    now: DateTime<Utc>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let source = file.display().to_string();
    let mut batch: Vec<Mention> = Vec::with_capacity(BATCH);
    let flush = |p: &mut Pipeline, batch: &mut Vec<Mention>, tally: &mut Tally| {
        let done = p.ingest(&source, std::mem::take(batch), None, now)?;
        tally.fresh += done.fresh;
        tally.duplicates += done.duplicates;
        tally.events += done.transitions.len();
        if p.commit_if_due(Instant::now())? {
            eprintln!("{} mentions imported…", tally.fresh);
        }
        anyhow::Ok(())
    };
    // A line that is not UTF-8 (or too long) is reported and skipped; an
    // I/O error stops the import after committing what was read.
    for (n, line) in Lines::new(reader) {
        let line = match line {
            Ok(Line::Text(line)) => line,
            Ok(bad) => {
                tally.bad += 1;
                let problem = bad.problem().unwrap_or_default();
                eprintln!("{}:{n}: skipped: {problem}", file.display());
                continue;
            }
            Err(e) => {
                flush(p, &mut batch, tally)?;
                return Err(e).with_context(|| format!("{}:{n}: read error", file.display()));
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match Mention::from_json_line(&line, now) {
            Ok(m) => batch.push(m),
            Err(e) => {
                tally.bad += 1;
                eprintln!("{}:{n}: skipped: {e}", file.display());
            }
        }
        if batch.len() >= BATCH {
            flush(p, &mut batch, tally)?;
        }
    }
    flush(p, &mut batch, tally)
}
