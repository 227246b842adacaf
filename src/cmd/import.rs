//! `veilleur import --config FILE FILE.jsonl`: loads historical mentions into
//! the index (enriched and matched like live ones). Bad lines are reported
//! with their line number and skipped; the exit code is 1 if any was bad.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;

use crate::rules::matcher::Matcher;
use crate::store::index::MentionIndex;

/// Documents between progress lines and commits.
const CHUNK: usize = 50_000;

pub fn run(config: &Path, file: &Path) -> anyhow::Result<ExitCode> {
    let cfg = super::load_config(config)?;
    let rules = crate::rules::load_dir(&cfg.daemon.rules_dir, None).map_err(|d| {
        let text: Vec<String> = d.iter().map(|d| d.render()).collect();
        anyhow::anyhow!("invalid rules:\n{}", text.join("\n"))
    })?;
    let matcher = Matcher::new(&rules);
    std::fs::create_dir_all(&cfg.daemon.data_dir)
        .with_context(|| format!("cannot create {}", cfg.daemon.data_dir.display()))?;
    let index = MentionIndex::open(&cfg.daemon.data_dir.join("index"))?;
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
    );
    let now = Utc::now();
    let (mut ok, mut bad) = (0usize, 0usize);
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{}: read error", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match crate::mention::Mention::from_json_line(&line, now) {
            Ok(mut m) => {
                crate::enrich::enrich(&mut m);
                m.watches = matcher
                    .matches(&m)
                    .into_iter()
                    .filter_map(|i| rules.watches.get(i).map(|w| w.name.clone()))
                    .collect();
                index.add(&m)?;
                ok += 1;
                if ok % CHUNK == 0 {
                    index.commit()?;
                    eprintln!("{ok} mentions imported…");
                }
            }
            Err(e) => {
                bad += 1;
                eprintln!("{}:{}: skipped: {e}", file.display(), n + 1);
            }
        }
    }
    index.commit()?;
    println!(
        "imported {ok} mentions from {} ({bad} bad lines); the index holds {}",
        file.display(),
        index.num_docs()
    );
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
