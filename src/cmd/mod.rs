//! One file per subcommand. Each turns arguments into a call to the library
//! and its result into output for a person (or JSON lines with `--json`).

pub(crate) mod backfill;
pub(crate) mod backtest;
pub(crate) mod check;
pub(crate) mod conformance;
pub(crate) mod demo;
pub(crate) mod digest;
pub(crate) mod eval_crisis;
pub(crate) mod eval_nab;
pub(crate) mod eval_sentiment;
pub(crate) mod import;
pub(crate) mod run;
pub(crate) mod search;
pub(crate) mod sentiment;
pub(crate) mod silence;
pub(crate) mod train_sentiment;

use std::path::Path;

use anyhow::Context;

use crate::config::Config;

/// Loads a config, turning its diagnostics into one readable error.
pub(crate) fn load_config(path: &Path) -> anyhow::Result<Config> {
    Config::load(path).map_err(|diags| {
        let text: Vec<String> = diags.iter().map(|d| d.render()).collect();
        anyhow::anyhow!("invalid config:\n{}", text.join("\n"))
    })
}

/// Threads for `spawn_blocking` (tokio's default is 512). A thousand feeds
/// polled at once each parse on a blocking thread: with 512 allowed, the
/// daemon ran 176 threads, each with its allocator's caches and a parsed
/// batch waiting for the pipeline, and peaked at 1.4 GiB at 100k mentions
/// (README, Performance). Blocking work here is CPU (parsing, the ingest
/// step, charts) or short redb transactions: a few threads per core keep
/// the cores busy, and the rest waits in tokio's queue.
const MAX_BLOCKING_THREADS: usize = 16;

/// A multi-threaded tokio runtime for commands that need one.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
