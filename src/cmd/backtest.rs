//! `veilleur backtest`: replays mentions in publication order through the
//! daemon's own ingest step (`crate::pipeline`: enrichment, matcher) and
//! its replay engine (`crate::detect::replay`), with each mention's time as
//! the clock, and prints the alert events that would have fired.
//!
//! Two inputs, one path:
//! * `--rules DIR --mentions FILE.jsonl` reads a whole file (any order);
//! * `--config FILE --from WHEN [--to WHEN]` streams the mentions of the
//!   daemon's index (opened read-only, so it runs beside the daemon)
//!   published in `[from, to]`, in batches, with the config's rules.
//!
//! This file only reads the input and prints. Text output: the events in
//! time order, then a summary (firing events per rule and per UTC day).
//! `--json` prints only the event lines.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::alert::{AlertEvent, AlertState};
use crate::mention::Mention;
use crate::pipeline::Pipeline;
use crate::rules::RuleSet;

/// Mentions read from the index per batch.
const INDEX_BATCH: usize = 10_000;
/// How often a long run reports its progress on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

fn load_rules(dir: &Path) -> anyhow::Result<RuleSet> {
    crate::rules::load_dir(dir, None).map_err(|d| {
        let text: Vec<String> = d.iter().map(|d| d.render()).collect();
        anyhow::anyhow!("invalid rules:\n{}", text.join("\n"))
    })
}

/// `backtest --rules DIR --mentions FILE.jsonl`.
pub(crate) fn run(rules_dir: &Path, file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let rules = load_rules(rules_dir)?;
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
    let started = Instant::now();
    let mut p = Pipeline::replay(rules);
    p.ingest(&file.display().to_string(), mentions, None, now)?;
    let events = p.finish();
    let secs = started.elapsed().as_secs_f64();
    print(&events, count, secs, json)?;
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Parses `--from` / `--to`: an RFC 3339 time, a duration ago (`7d`: seven
/// days before `now`), or `now`.
pub(crate) fn parse_when(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if s == "now" {
        return Ok(now);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = crate::duration::parse_duration(s).map_err(|e| {
        format!(
            "expected an RFC 3339 time (2026-03-01T00:00:00Z), a duration ago (7d) or `now`: {e}"
        )
    })?;
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| format!("{s} ago is out of range"))
}

/// `backtest --config FILE --from WHEN [--to WHEN]`: the index's mentions
/// published in `[from, to]` (`to` defaults to now).
pub(crate) fn run_index(
    config: &Path,
    from: &str,
    to: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let cfg = super::load_config(config)?;
    let now = Utc::now();
    let from = parse_when(from, now).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let to = match to {
        Some(s) => parse_when(s, now).map_err(|e| anyhow::anyhow!("--to: {e}"))?,
        None => now,
    };
    if to < from {
        anyhow::bail!("--to ({to}) is before --from ({from}): swap them");
    }
    let rules = load_rules(&cfg.daemon.rules_dir)?;
    let dir = cfg.daemon.data_dir.join("index");
    let index = crate::store::open_search(cfg.daemon.index, &dir)
        .with_context(|| format!("cannot open the index in {}", dir.display()))?;
    let started = Instant::now();
    let mut batches = index.between(from, to, INDEX_BATCH)?;
    let total = batches.total();
    let mut p = Pipeline::replay(rules);
    let mut reported = Instant::now();
    while let Some(batch) = batches.next() {
        let batch = batch.context("cannot read a mention from the index")?;
        p.ingest("index", batch, None, now)?;
        if reported.elapsed() >= PROGRESS_EVERY {
            reported = Instant::now();
            eprintln!(
                "backtest: {}/{total} mentions ({:.0}%), {} events so far, {:.0}s",
                batches.read(),
                batches.read() as f64 * 100.0 / total.max(1) as f64,
                p.events(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let events = p.finish();
    let secs = started.elapsed().as_secs_f64();
    print(&events, total, secs, json)?;
    Ok(ExitCode::SUCCESS)
}

/// Firing events per `watch/rule` and per UTC day.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Summary {
    pub per_rule: BTreeMap<String, usize>,
    pub per_day: BTreeMap<String, usize>,
}

impl Summary {
    /// Counts the firing events of `events`.
    pub(crate) fn of(events: &[AlertEvent]) -> Summary {
        let mut s = Summary::default();
        for ev in events.iter().filter(|e| e.state == AlertState::Firing) {
            *s.per_rule
                .entry(format!("{}/{}", ev.watch, ev.rule))
                .or_default() += 1;
            *s.per_day
                .entry(ev.at.format("%Y-%m-%d").to_string())
                .or_default() += 1;
        }
        s
    }
}

fn print(events: &[AlertEvent], count: usize, secs: f64, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for ev in events {
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
    }
    if !json {
        let s = Summary::of(events);
        writeln!(
            out,
            "\n{count} mentions replayed in {secs:.2}s; firings per rule:"
        )?;
        for (rule, n) in &s.per_rule {
            writeln!(out, "  {rule}: {n}")?;
        }
        if s.per_rule.is_empty() {
            writeln!(out, "  none")?;
        }
        if !s.per_day.is_empty() {
            writeln!(out, "firings per day (UTC):")?;
            for (day, n) in &s.per_day {
                writeln!(out, "  {day}: {n}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_firings_per_rule_and_day() {
        let mut a = AlertEvent::example();
        a.at = "2026-03-02T23:59:00Z".parse().unwrap();
        let mut b = a.clone();
        b.at = "2026-03-03T00:01:00Z".parse().unwrap();
        let mut c = b.clone();
        c.state = AlertState::Resolved;
        let mut d = b.clone();
        d.rule = "words".into();
        let s = Summary::of(&[a, b, c, d]);
        let m = |v: &[(&str, usize)]| -> BTreeMap<String, usize> {
            v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        };
        assert_eq!(s.per_rule, m(&[("acme/bad-buzz", 2), ("acme/words", 1)]));
        assert_eq!(s.per_day, m(&[("2026-03-02", 1), ("2026-03-03", 2)]));
    }

    #[test]
    fn when_is_a_time_a_duration_ago_or_now() {
        let now: DateTime<Utc> = "2026-03-10T12:00:00Z".parse().unwrap();
        let check = |s: &str, want: &str| {
            assert_eq!(
                parse_when(s, now).unwrap(),
                want.parse::<DateTime<Utc>>().unwrap(),
                "{s}"
            );
        };
        check("2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z");
        check("2026-03-01T01:00:00+01:00", "2026-03-01T00:00:00Z");
        check("7d", "2026-03-03T12:00:00Z");
        check("90m", "2026-03-10T10:30:00Z");
        check("now", "2026-03-10T12:00:00Z");
        let err = parse_when("yesterday", now).unwrap_err();
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
