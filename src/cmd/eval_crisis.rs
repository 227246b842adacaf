//! `veilleur eval-crisis`: measures crisis detection on the generated
//! scenarios of [`crate::detect::sim::generator`] (every volume class,
//! every rise time, quiet weeks with harmless bumps), replayed through the
//! detector's count path by [`crate::detect::sim::protocol`].
//!
//! The rules are those a new user gets: one watch with a `volume_spike` and
//! a `negative_surge` rule giving only `name` and `kind`; `--set 'key =
//! value'` adds a key to both rules (to measure an alternative; `--set
//! 'detect.KEY = VALUE'` sets a method parameter of the detector instead,
//! as in `eval-nab`), `--rules
//! DIR` takes the alert rules of the one watch of a rules directory
//! instead. `--seeds tuning` (the default) draws from the seeds defaults may
//! be chosen on, `--seeds reporting` from the disjoint ones the README
//! reports. Output: a table per volume × rise-time class, per peak factor,
//! false alarms on the quiet scenarios per volume class, and a total line;
//! `--json` prints the same as JSON lines, one object per class.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use crate::detect::sim::generator::{FACTOR_CLASSES, QUIET_WEEKS, RISE_CLASSES, VOLUME_CLASSES};
use crate::detect::sim::protocol::{self, Report, Stats};
use crate::detect::sim::{self, SeedSet};
use crate::rules::RuleSet;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    pub seeds: SeedSet,
    /// Scenarios per class (crisis: per volume × rise class; quiet: per
    /// volume class).
    pub cases: u64,
    pub overrides: &'a [String],
    pub rules_dir: Option<&'a Path>,
    pub json: bool,
    /// Worker threads (0: as many as the machine has cores).
    pub threads: usize,
    /// Progress lines on stderr.
    pub progress: bool,
}

/// The definitions printed above the tables.
pub(crate) const DEFINITIONS: &str = "\
# detected before peak: the first alert onset (either rule; stage threshold or early warning) at or after the crisis start is strictly before the peak
# lead: peak time minus that onset (median over the crises detected before their peak)
# detected at all: an onset at or after the crisis start, up to the scenario's end (peak + 3 decay time constants, at least 3 h)
# false alarm: an onset in a quiet scenario (8 weeks with harmless bumps), or before the crisis start in a crisis scenario (21-28 days of history)";

fn load_rules(opts: &Options<'_>) -> anyhow::Result<(RuleSet, String)> {
    let render = |d: Vec<crate::diag::Diagnostic>| {
        let text: Vec<String> = d.iter().map(|d| d.render()).collect();
        anyhow::anyhow!("invalid rules:\n{}", text.join("\n"))
    };
    if let Some(dir) = opts.rules_dir {
        let rules = crate::rules::load_dir(dir, None).map_err(render)?;
        anyhow::ensure!(
            rules.watches.len() == 1,
            "{} holds {} watches: eval-crisis replays one watch, keep one rule file there",
            dir.display(),
            rules.watches.len()
        );
        return Ok((rules, format!("rules of {}", dir.display())));
    }
    let rule_lines: Vec<String> = opts
        .overrides
        .iter()
        .filter(|o| !o.trim_start().starts_with("detect."))
        .cloned()
        .collect();
    let rules = sim::rules_with(&rule_lines).map_err(render)?;
    let what = if opts.overrides.is_empty() {
        "defaults (volume_spike and negative_surge, name and kind only)".to_string()
    } else {
        format!("defaults with {}", opts.overrides.join(", "))
    };
    Ok((rules, what))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn lead(s: &Stats) -> String {
    s.median_lead_minutes()
        .map_or("-".to_string(), |m| format!("{m:.0}"))
}

fn crisis_row(out: &mut impl Write, a: &str, b: &str, s: &Stats) -> std::io::Result<()> {
    writeln!(
        out,
        "{a:<8} {b:<8} {:>6} {:>11} {:>11} {:>9} {:>14.3}",
        s.crises,
        pct(s.before_peak_share()),
        lead(s),
        pct(s.detected_share()),
        s.false_alarms_per_week()
    )
}

fn crisis_json(
    table: &str,
    volume: &str,
    rise: &str,
    factor: &str,
    s: &Stats,
) -> serde_json::Value {
    json!({
        "table": table,
        "volume": volume,
        "rise": rise,
        "factor": factor,
        "crises": s.crises,
        "before_peak": s.before_peak,
        "before_peak_share": s.before_peak_share(),
        "median_lead_minutes": s.median_lead_minutes(),
        "detected": s.detected,
        "detected_share": s.detected_share(),
        "false_alarms": s.false_alarms,
        "watch_weeks": s.watch_weeks,
        "false_alarms_per_watch_week": s.false_alarms_per_week(),
    })
}

/// Prints the tables of `rep`.
pub fn print_table(out: &mut impl Write, rep: &Report) -> std::io::Result<()> {
    writeln!(out, "{DEFINITIONS}")?;
    writeln!(out, "\ncrises by volume class and rise time")?;
    let header = |out: &mut dyn Write, a: &str, b: &str| {
        writeln!(
            out,
            "{a:<8} {b:<8} {:>6} {:>11} {:>11} {:>9} {:>14}",
            "crises", "before-peak", "lead-min", "detected", "FA/week-hist"
        )
    };
    header(out, "volume", "rise")?;
    for (v, vc) in VOLUME_CLASSES.iter().enumerate() {
        for (r, rc) in RISE_CLASSES.iter().enumerate() {
            crisis_row(out, vc.name, rc.name, &rep.by_class[v][r])?;
        }
        crisis_row(out, vc.name, "all", &rep.by_volume[v])?;
    }
    for (r, rc) in RISE_CLASSES.iter().enumerate() {
        crisis_row(out, "all", rc.name, &rep.by_rise[r])?;
    }
    writeln!(out, "\ncrises by peak factor")?;
    header(out, "factor", "")?;
    for (f, (name, _, _)) in FACTOR_CLASSES.iter().enumerate() {
        crisis_row(out, name, "", &rep.by_factor[f])?;
    }
    writeln!(
        out,
        "\nfalse alarms on quiet scenarios ({QUIET_WEEKS} weeks each, harmless bumps)"
    )?;
    writeln!(
        out,
        "{:<8} {:>8} {:>12} {:>13} {:>15}",
        "volume", "watches", "watch-weeks", "false-alarms", "FA/watch-week"
    )?;
    let quiet_row = |out: &mut dyn Write, name: &str, s: &Stats, n: usize| {
        writeln!(
            out,
            "{name:<8} {n:>8} {:>12.0} {:>13} {:>15.3}",
            s.watch_weeks,
            s.false_alarms,
            s.false_alarms_per_week()
        )
    };
    let per_class = |s: &Stats| (s.watch_weeks / QUIET_WEEKS as f64).round() as usize;
    for (v, vc) in VOLUME_CLASSES.iter().enumerate() {
        quiet_row(out, vc.name, &rep.quiet[v], per_class(&rep.quiet[v]))?;
    }
    quiet_row(out, "all", &rep.quiet_total, per_class(&rep.quiet_total))?;
    Ok(())
}

/// The JSON lines of `rep`: one object per class.
pub(crate) fn json_lines(rep: &Report) -> Vec<serde_json::Value> {
    let mut lines = Vec::new();
    for (v, vc) in VOLUME_CLASSES.iter().enumerate() {
        for (r, rc) in RISE_CLASSES.iter().enumerate() {
            lines.push(crisis_json(
                "crisis",
                vc.name,
                rc.name,
                "all",
                &rep.by_class[v][r],
            ));
        }
        lines.push(crisis_json(
            "crisis",
            vc.name,
            "all",
            "all",
            &rep.by_volume[v],
        ));
    }
    for (r, rc) in RISE_CLASSES.iter().enumerate() {
        lines.push(crisis_json(
            "crisis",
            "all",
            rc.name,
            "all",
            &rep.by_rise[r],
        ));
    }
    for (f, (name, _, _)) in FACTOR_CLASSES.iter().enumerate() {
        lines.push(crisis_json("crisis", "all", "all", name, &rep.by_factor[f]));
    }
    lines.push(crisis_json("crisis", "all", "all", "all", &rep.crises));
    for (v, vc) in VOLUME_CLASSES.iter().enumerate() {
        let s = &rep.quiet[v];
        lines.push(quiet_json(vc.name, s));
    }
    lines.push(quiet_json("all", &rep.quiet_total));
    lines
}

fn quiet_json(volume: &str, s: &Stats) -> serde_json::Value {
    json!({
        "table": "quiet",
        "volume": volume,
        "false_alarms": s.false_alarms,
        "watch_weeks": s.watch_weeks,
        "false_alarms_per_watch_week": s.false_alarms_per_week(),
    })
}

/// The one-line total.
pub fn total_line(rep: &Report, secs: f64) -> String {
    let c = &rep.crises;
    let q = &rep.quiet_total;
    let mentions = c.mentions + q.mentions;
    format!(
        "TOTAL: {} crises, {} detected before the peak, median lead {} min, {} detected at all; {:.3} false alarms per quiet watch-week ({:.0} watch-weeks), {:.3} per week of crisis history; {mentions} mentions in {secs:.1}s ({:.0} mentions/s)",
        c.crises,
        pct(c.before_peak_share()),
        lead(c),
        pct(c.detected_share()),
        q.false_alarms_per_week(),
        q.watch_weeks,
        c.false_alarms_per_week(),
        mentions as f64 / secs.max(1e-9)
    )
}

pub fn run(opts: &Options<'_>, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(opts.cases > 0, "--cases must be at least 1");
    let (rules, what) = load_rules(opts)?;
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.threads
    };
    let seeds = opts.seeds.seeds(opts.cases);
    if !opts.json {
        writeln!(
            out,
            "# eval-crisis: {} seeds {}..{} ({} cases per class), rules: {what}",
            opts.seeds.name(),
            seeds.start,
            seeds.end,
            seeds.end - seeds.start
        )?;
    }
    let started = std::time::Instant::now();
    let step = std::sync::atomic::AtomicU64::new(0);
    let progress = |done: usize, total: usize| {
        if !opts.progress {
            return;
        }
        // About every 10 % of the run.
        let tenth = (done * 10 / total.max(1)) as u64;
        if step.fetch_max(tenth, std::sync::atomic::Ordering::Relaxed) < tenth {
            eprintln!(
                "eval-crisis: {done}/{total} scenarios ({:.0}s)",
                started.elapsed().as_secs_f64()
            );
        }
    };
    let tuning = crate::cmd::eval_nab::split_overrides(opts.overrides)?;
    let outcomes =
        protocol::run_all_with(&rules, &tuning, opts.seeds, opts.cases, threads, &progress);
    let secs = started.elapsed().as_secs_f64();
    let rep = protocol::report(&outcomes);
    if opts.json {
        for line in json_lines(&rep) {
            writeln!(out, "{line}")?;
        }
    } else {
        print_table(out, &rep)?;
        writeln!(out, "\n{}", total_line(&rep, secs))?;
    }
    Ok(ExitCode::SUCCESS)
}
