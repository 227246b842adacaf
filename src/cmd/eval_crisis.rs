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
//! false alarms on the quiet scenarios per volume class, our before-peak
//! figures beside the oracle ceiling ([`crate::detect::sim::oracle`]: a
//! detector that knows the true rate, at the same false-alarm budget), and
//! the oracle's ceiling at several false-alarm budgets, and a total line;
//! `--json` prints the same as JSON lines, one object per class, each with
//! its `family`. `--family NAME` runs a scenario family of
//! [`crate::detect::sim::families`] instead of the base one (`base`, the
//! default, is the generator's scenarios unchanged); `--family all` runs
//! each in turn and ends with a summary per family and volume class.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use crate::detect::sim::families::Family;
use crate::detect::sim::generator::{FACTOR_CLASSES, RISE_CLASSES, VOLUME_CLASSES};
use crate::detect::sim::oracle::{self, Ceiling, Stream};
use crate::detect::sim::protocol::{self, Report, Stats};
use crate::detect::sim::{self, SeedSet, table};
use crate::rules::RuleSet;

/// False-alarm budgets (per quiet watch-week) the oracle's ceiling is
/// also printed at: what spending more of the goal's 0.1 could buy.
const ORACLE_BUDGETS: [f64; 5] = [0.01, 0.03, 0.05, 0.1, 0.2];

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Options<'a> {
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
    /// The scenario families to run, in order (at least one).
    pub families: &'a [Family],
}

fn load_rules(opts: &Options<'_>) -> anyhow::Result<(RuleSet, String)> {
    let render = |d: Vec<crate::diag::Diagnostic>| {
        let text: Vec<String> = d.iter().map(|d| d.render()).collect();
        anyhow::anyhow!("invalid rules:\n{}", text.join("\n"))
    };
    if let Some(dir) = opts.rules_dir {
        if let Some(o) = opts
            .overrides
            .iter()
            .find(|o| !o.trim_start().starts_with("detect."))
        {
            anyhow::bail!(
                "--set `{o}` with --rules: put rule keys in the rule file; --set takes only detect.KEY = VALUE there"
            );
        }
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

/// The JSON lines of the oracle's ceiling (`"table": "oracle"`).
fn oracle_json(c: &Ceiling) -> Vec<serde_json::Value> {
    let line = |volume: &str, rise: &str, factor: &str, s: &Stats| {
        let mut v = crisis_json("oracle", volume, rise, factor, s);
        v["theta"] = json!(c.theta);
        v["budget"] = json!(c.budget);
        v["stream"] = json!(c.stream.map_or("total", |s| s.name()));
        v["false_alarms_per_quiet_watch_week"] = json!(c.quiet.false_alarms_per_week());
        v
    };
    let mut lines = Vec::new();
    for (v, vc) in VOLUME_CLASSES.iter().enumerate() {
        lines.push(line(vc.name, "all", "all", &c.by_volume[v]));
    }
    for (r, rc) in RISE_CLASSES.iter().enumerate() {
        lines.push(line("all", rc.name, "all", &c.by_rise[r]));
    }
    for (f, (name, _, _)) in FACTOR_CLASSES.iter().enumerate() {
        lines.push(line("all", "all", name, &c.by_factor[f]));
    }
    lines.push(line("all", "all", "all", &c.crises));
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

pub(crate) fn run(opts: &Options<'_>, out: &mut impl Write) -> anyhow::Result<ExitCode> {
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
    anyhow::ensure!(!opts.families.is_empty(), "--family names no family");
    let several = opts.families.len() > 1;
    let mut summary = Vec::new();
    for &family in opts.families {
        if several && !opts.json {
            writeln!(out, "\n## family {}", family.name())?;
        }
        let (rep, ceiling) = run_family(opts, &rules, &tuning, family, threads, &progress, out)?;
        summary.push((family, rep, ceiling));
    }
    if several && !opts.json {
        table::print_families(out, &summary)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs and prints one family; returns its report and the oracle's ceiling
/// on either stream at our false-alarm rate.
fn run_family(
    opts: &Options<'_>,
    rules: &RuleSet,
    tuning: &crate::detect::Tuning,
    family: Family,
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
    out: &mut impl Write,
) -> anyhow::Result<(Report, Ceiling)> {
    let started = std::time::Instant::now();
    let outcomes = protocol::run_all_with(
        rules, tuning, family, opts.seeds, opts.cases, threads, progress,
    );
    let secs = started.elapsed().as_secs_f64();
    let rep = protocol::report(&outcomes);
    let widths = if tuning.widths.is_empty() {
        crate::detect::Tuning::default().widths
    } else {
        tuning.widths.clone()
    };
    let traces = oracle::trace_family(family, opts.seeds, opts.cases, &widths, threads);
    let streams = [Stream::Total, Stream::Negative, Stream::Either];
    let ceilings: Vec<Ceiling> = streams
        .iter()
        .map(|&s| oracle::ceiling_of(&traces, rep.quiet_total.false_alarms_per_week(), s))
        .collect();
    let budgets: Vec<Ceiling> = streams
        .iter()
        .flat_map(|&s| ORACLE_BUDGETS.iter().map(move |&b| (s, b)))
        .map(|(s, b)| oracle::ceiling_of(&traces, b, s))
        .collect();
    if opts.json {
        let mut lines = json_lines(&rep);
        lines.extend(ceilings.iter().flat_map(oracle_json));
        for c in &budgets {
            let mut line = crisis_json("oracle_budget", "all", "all", "all", &c.crises);
            line["theta"] = json!(c.theta);
            line["budget"] = json!(c.budget);
            line["stream"] = json!(c.stream.map_or("total", |s| s.name()));
            line["false_alarms_per_quiet_watch_week"] = json!(c.quiet.false_alarms_per_week());
            lines.push(line);
        }
        for mut line in lines {
            line["family"] = json!(family.name());
            writeln!(out, "{line}")?;
        }
    } else {
        table::print(out, &rep)?;
        table::print_oracle(out, &rep, &ceilings)?;
        table::print_budgets(out, &budgets)?;
        writeln!(out, "\n{}", table::total_line(&rep, secs))?;
    }
    let either = ceilings
        .into_iter()
        .find(|c| c.stream == Some(Stream::Either))
        .unwrap_or_default();
    Ok((rep, either))
}

/// The families `--family` names: `all`, or one name or several separated
/// by commas.
pub(crate) fn parse_families(s: &str) -> anyhow::Result<Vec<Family>> {
    if s.trim() == "all" {
        return Ok(crate::detect::sim::families::FAMILIES.to_vec());
    }
    s.split(',')
        .map(|name| name.trim().parse::<Family>().map_err(anyhow::Error::msg))
        .collect()
}
