//! `veilleur backtest --rules DIR --mentions FILE.jsonl [--json]`: replays
//! mentions in publication order through the daemon's own enrichment,
//! matcher and detector, with each mention's time as the clock, and prints
//! the alert events that would have fired.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;

use crate::alert::{AlertEvent, AlertState};
use crate::detect::Detector;
use crate::mention::Mention;
use crate::rules::RuleSet;
use crate::rules::matcher::Matcher;

/// Replays `mentions` (any order) and returns the alert events in time order.
/// Mentions without a sentiment are scored, as the daemon would.
pub fn replay(rules: &RuleSet, mut mentions: Vec<Mention>) -> Vec<AlertEvent> {
    mentions.sort_by_key(|m| m.published);
    let matcher = Matcher::new(rules);
    let mut detector = Detector::new(rules);
    let mut events = Vec::new();
    for m in &mut mentions {
        if m.sentiment.is_none() || m.lang.is_none() {
            let keep = m.sentiment;
            crate::enrich::enrich(m);
            if keep.is_some() {
                m.sentiment = keep;
            }
        }
    }
    let matched: Vec<Vec<usize>> = mentions.iter().map(|m| matcher.matches(m)).collect();
    let items: Vec<(usize, &Mention)> = mentions
        .iter()
        .zip(&matched)
        .flat_map(|(m, idx)| idx.iter().map(move |&i| (i, m)))
        .collect();
    events.extend(detector.ingest(&items).into_iter().map(|t| t.event));
    if let Some(last) = mentions.last() {
        events.extend(
            detector
                .advance(last.published)
                .into_iter()
                .map(|t| t.event),
        );
    }
    events
}

pub fn run(rules_dir: &Path, file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let rules = crate::rules::load_dir(rules_dir, None).map_err(|d| {
        let text: Vec<String> = d.iter().map(|d| d.render()).collect();
        anyhow::anyhow!("invalid rules:\n{}", text.join("\n"))
    })?;
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
    );
    let now = Utc::now();
    let mut mentions = Vec::new();
    let mut bad = 0usize;
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{}: read error", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match Mention::from_json_line(&line, now) {
            Ok(m) => mentions.push(m),
            Err(e) => {
                bad += 1;
                eprintln!("{}:{}: skipped: {e}", file.display(), n + 1);
            }
        }
    }
    let count = mentions.len();
    let started = std::time::Instant::now();
    let events = replay(&rules, mentions);
    let secs = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    let mut per_rule: BTreeMap<String, usize> = BTreeMap::new();
    for ev in &events {
        if json {
            writeln!(out, "{}", serde_json::to_string(ev)?)?;
        } else {
            let mark = match ev.state {
                AlertState::Firing => "FIRING  ",
                AlertState::Resolved => "resolved",
            };
            writeln!(
                out,
                "{}  {mark} {:<8} {}",
                ev.at.to_rfc3339(),
                ev.severity,
                ev.summary
            )?;
        }
        if ev.state == AlertState::Firing {
            *per_rule
                .entry(format!("{}/{}", ev.watch, ev.rule))
                .or_default() += 1;
        }
    }
    if !json {
        writeln!(
            out,
            "\n{count} mentions replayed in {secs:.2}s; firings per rule:"
        )?;
        for (rule, n) in &per_rule {
            writeln!(out, "  {rule}: {n}")?;
        }
        if per_rule.is_empty() {
            writeln!(out, "  none")?;
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
