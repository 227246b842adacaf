//! `veilleur search`: the index, queried with the rule query language.
//! Opens the index read-only, so it works while the daemon runs.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::store::{self, SearchRequest};

pub(crate) fn run(
    config: &Path,
    since: Option<&str>,
    limit: usize,
    json: bool,
    query: &str,
) -> anyhow::Result<ExitCode> {
    let cfg = super::load_config(config)?;
    let q = crate::rules::query::parse(query).map_err(|e| {
        anyhow::anyhow!(
            "invalid query at column {}: {e}\n    {query}\n    {}^",
            query[..e.offset.min(query.len())].chars().count() + 1,
            " ".repeat(query[..e.offset.min(query.len())].chars().count())
        )
    })?;
    let since = since
        .map(|s| {
            crate::duration::parse_duration(s)
                .map_err(|e| anyhow::anyhow!("--since: {e}"))
                .and_then(|d| Ok(chrono::Utc::now() - chrono::Duration::from_std(d)?))
        })
        .transpose()?;
    let dir = cfg.daemon.data_dir.join("index");
    let index = store::open_search(cfg.daemon.index, &dir)
        .with_context(|| format!("cannot open the index in {}", dir.display()))?;
    let mut req = SearchRequest::new(&q, limit);
    req.since = since;
    let hits = index.search(&req)?.mentions;
    let mut out = std::io::stdout().lock();
    for m in &hits {
        if json {
            writeln!(out, "{}", serde_json::to_string(m)?)?;
        } else {
            let title = if m.title.is_empty() {
                &m.text
            } else {
                &m.title
            };
            let title: String = title.chars().take(100).collect();
            writeln!(
                out,
                "{}  {:<12} {}\n    {}",
                m.published.format("%Y-%m-%d %H:%M"),
                m.source,
                title,
                m.url
            )?;
        }
    }
    if !json {
        writeln!(
            out,
            "{} mention{}",
            hits.len(),
            if hits.len() == 1 { "" } else { "s" }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
