//! `veilleur backtest`: replays mentions in publication order through the
//! daemon's own enrichment, matcher and detector, with each mention's time
//! as the clock, and prints the alert events that would have fired.
//!
//! Two inputs, one path ([`Replay`]):
//! * `--rules DIR --mentions FILE.jsonl` reads a whole file (any order);
//! * `--config FILE --from WHEN [--to WHEN]` streams the mentions of the
//!   daemon's index (opened read-only, so it runs beside the daemon)
//!   published in `[from, to]`, in batches, with the config's rules.
//!
//! Text output: the events in time order, then a summary (firing events per
//! rule and per UTC day). `--json` prints only the event lines.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::alert::{AlertEvent, AlertState};
use crate::detect::Detector;
use crate::mention::Mention;
use crate::rules::RuleSet;
use crate::rules::matcher::Matcher;
use crate::store::index::MentionIndex;

/// Mentions read from the index per batch.
const INDEX_BATCH: usize = 10_000;
/// How often a long run reports its progress on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// A replay fed in batches, for inputs too large to hold at once.
///
/// Batches must come in publication order: each one's mentions (in any
/// order among themselves) are no older than the previous batches'. The
/// mentions of a batch's newest second are held back until the next batch
/// (or [`Replay::finish`]), so that the detector evaluates each second once
/// with all its mentions — the same evaluations as one call over the whole
/// input, whatever the batch boundaries.
pub struct Replay {
    matcher: Matcher,
    detector: Detector,
    /// Mentions of the newest second seen, not yet ingested.
    carry: Vec<Mention>,
    newest: Option<DateTime<Utc>>,
    events: Vec<AlertEvent>,
}

impl Replay {
    /// A replay of `rules` from an empty history.
    pub fn new(rules: &RuleSet) -> Replay {
        Replay {
            matcher: Matcher::new(rules),
            detector: Detector::new(rules),
            carry: Vec::new(),
            newest: None,
            events: Vec::new(),
        }
    }

    /// Replays a batch. Mentions without a sentiment or a language are
    /// enriched first, as the daemon would.
    pub fn push(&mut self, batch: Vec<Mention>) {
        let mut ms = std::mem::take(&mut self.carry);
        ms.extend(batch);
        for m in &mut ms {
            if m.sentiment.is_none() || m.lang.is_none() {
                let keep = m.sentiment;
                crate::enrich::enrich(m);
                if keep.is_some() {
                    m.sentiment = keep;
                }
            }
        }
        // Stable: ties keep their input order, as in one whole replay.
        ms.sort_by_key(|m| m.published);
        let Some(last) = ms.last().map(|m| m.published) else {
            return;
        };
        self.newest = Some(self.newest.map_or(last, |n| n.max(last)));
        let cut = ms.partition_point(|m| m.published.timestamp() < last.timestamp());
        self.carry = ms.split_off(cut);
        self.ingest(&ms);
    }

    fn ingest(&mut self, ms: &[Mention]) {
        let matched: Vec<Vec<usize>> = ms.iter().map(|m| self.matcher.matches(m)).collect();
        let items: Vec<(usize, &Mention)> = ms
            .iter()
            .zip(&matched)
            .flat_map(|(m, idx)| idx.iter().map(move |&i| (i, m)))
            .collect();
        let ts = self.detector.ingest(&items);
        self.events.extend(ts.into_iter().map(|t| t.event));
    }

    /// Ingests what is held back, moves time on to the newest mention (so
    /// that pending and firing alerts are judged up to it) and returns the
    /// events in time order (ties in the order they happened).
    pub fn finish(mut self) -> Vec<AlertEvent> {
        let carry = std::mem::take(&mut self.carry);
        self.ingest(&carry);
        if let Some(newest) = self.newest {
            let ts = self.detector.advance(newest);
            self.events.extend(ts.into_iter().map(|t| t.event));
        }
        let mut events = self.events;
        events.sort_by_key(|e| e.at);
        events
    }

    /// Events so far (held-back mentions not included).
    pub fn events(&self) -> usize {
        self.events.len()
    }
}

/// Replays `mentions` (any order) and returns the alert events in time order.
/// Mentions without a sentiment are scored, as the daemon would.
pub fn replay(rules: &RuleSet, mentions: Vec<Mention>) -> Vec<AlertEvent> {
    let mut r = Replay::new(rules);
    r.push(mentions);
    r.finish()
}

fn load_rules(dir: &Path) -> anyhow::Result<RuleSet> {
    crate::rules::load_dir(dir, None).map_err(|d| {
        let text: Vec<String> = d.iter().map(|d| d.render()).collect();
        anyhow::anyhow!("invalid rules:\n{}", text.join("\n"))
    })
}

/// `backtest --rules DIR --mentions FILE.jsonl`.
pub fn run(rules_dir: &Path, file: &Path, json: bool) -> anyhow::Result<ExitCode> {
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
    let events = replay(&rules, mentions);
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
pub fn parse_when(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if s == "now" {
        return Ok(now);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = crate::config::parse_duration(s).map_err(|e| {
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
pub fn run_index(
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
    let index = MentionIndex::open_read_only(&dir)
        .with_context(|| format!("cannot open the index in {}", dir.display()))?;
    let started = Instant::now();
    let mut batches = index.between(from, to, INDEX_BATCH)?;
    let total = batches.total();
    let mut r = Replay::new(&rules);
    let mut reported = Instant::now();
    while let Some(batch) = batches.next() {
        r.push(batch.context("cannot read a mention from the index")?);
        if reported.elapsed() >= PROGRESS_EVERY {
            reported = Instant::now();
            eprintln!(
                "backtest: {}/{total} mentions ({:.0}%), {} events so far, {:.0}s",
                batches.read(),
                batches.read() as f64 * 100.0 / total.max(1) as f64,
                r.events(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let events = r.finish();
    let secs = started.elapsed().as_secs_f64();
    print(&events, total, secs, json)?;
    Ok(ExitCode::SUCCESS)
}

/// Firing events per `watch/rule` and per UTC day.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub per_rule: BTreeMap<String, usize>,
    pub per_day: BTreeMap<String, usize>,
}

impl Summary {
    /// Counts the firing events of `events`.
    pub fn of(events: &[AlertEvent]) -> Summary {
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

    fn rules() -> (tempfile::TempDir, RuleSet) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("acme.toml"),
            r#"
[watch]
name = "acme"
query = 'acme'

[[alert]]
name = "spike"
kind = "volume_spike"
window = "10m"
min_mentions = 10

[[alert]]
name = "words"
kind = "keyword"
query = 'boycott'
window = "10m"
"#,
        )
        .unwrap();
        let rules = crate::rules::load_dir(dir.path(), None).unwrap();
        (dir, rules)
    }

    fn mentions() -> Vec<Mention> {
        let t0: DateTime<Utc> = "2026-03-02T00:00:00Z".parse().unwrap();
        let mut at = Vec::new();
        for k in 0..300 {
            at.push((k * 60, "Acme offre fibre"));
        }
        // Several mentions per second, so batches cut inside seconds.
        for k in 0..90 {
            at.push((18_000 + (k / 3) * 5, "Acme panne, boycott"));
        }
        for k in 0..60 {
            at.push((18_600 + k * 60, "Acme offre fibre"));
        }
        at.into_iter()
            .enumerate()
            .map(|(i, (s, text))| Mention {
                id: format!("m{i}"),
                source: "feed".into(),
                url: format!("https://ex.org/{i}"),
                title: text.into(),
                text: text.into(),
                author: format!("a{i}"),
                author_followers: Some(i as u64),
                published: t0 + chrono::Duration::seconds(s),
                lang: Some("fr".into()),
                sentiment: Some(if text.contains("panne") { -0.7 } else { 0.3 }),
                watches: vec![],
            })
            .collect()
    }

    #[test]
    fn batched_replay_equals_whole_replay_whatever_the_cuts() {
        let (_dir, rules) = rules();
        let ms = mentions();
        let whole = replay(&rules, ms.clone());
        assert!(whole.iter().any(|e| e.rule == "spike"), "{whole:#?}");
        assert!(whole.iter().any(|e| e.rule == "words"));
        assert!(whole.windows(2).all(|w| w[0].at <= w[1].at));
        for size in [1, 2, 7, 100, 1000] {
            let mut r = Replay::new(&rules);
            for chunk in ms.chunks(size) {
                r.push(chunk.to_vec());
            }
            assert_eq!(r.finish(), whole, "batches of {size}");
        }
        assert!(replay(&rules, Vec::new()).is_empty());
    }

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
