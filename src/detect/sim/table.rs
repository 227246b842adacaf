//! The crisis protocol's report as a person reads it: the tables that
//! `veilleur eval-crisis` and `benches/crisis.rs` print, and the one-line
//! total. Formatting only; the figures come from [`super::protocol`].

use std::io::Write;

use super::families::Family;
use super::generator::{FACTOR_CLASSES, QUIET_WEEKS, RISE_CLASSES, VOLUME_CLASSES};
use super::oracle::Ceiling;
use super::protocol::{Report, Stats};

/// The definitions printed above the tables.
pub const DEFINITIONS: &str = "\
# detected before peak: the first alert onset (either rule; stage threshold or early warning) at or after the crisis start is strictly before the peak
# lead: peak time minus that onset (median over the crises detected before their peak)
# detected at all: an onset at or after the crisis start, up to the scenario's end (peak + 3 decay time constants, at least 3 h)
# false alarm: an onset in a quiet scenario (8 weeks with harmless bumps), or before the crisis start in a crisis scenario (21-28 days of history)";

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

/// Prints the tables of `rep`.
pub fn print(out: &mut impl Write, rep: &Report) -> std::io::Result<()> {
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

/// Prints our before-peak figures beside the oracle's ceilings (see
/// [`super::oracle`]: one per stream tested, each at the same false-alarm
/// budget), per volume class, rise time and peak factor.
pub fn print_oracle(out: &mut impl Write, rep: &Report, cs: &[Ceiling]) -> std::io::Result<()> {
    for c in cs {
        writeln!(
            out,
            "\noracle ceiling ({}): knows the generator's usual rate and dispersion, same widths, one threshold (tail <= 1e-{:.2}) set so quiet weeks give <= {:.3} false alarms per watch-week as ours (it gives {:.3})",
            c.stream.map_or("total", |s| s.name()),
            c.theta,
            c.budget,
            c.quiet.false_alarms_per_week()
        )?;
    }
    write!(
        out,
        "{:<8} {:<8} {:>6} {:>11} {:>8}",
        "class", "", "crises", "before-peak", "lead-min"
    )?;
    for c in cs {
        let name = c.stream.map_or("total", |s| s.name());
        write!(out, " {:>15} {:>8}", format!("oracle-{name}"), "lead")?;
    }
    writeln!(out)?;
    let row = |out: &mut dyn Write, a: &str, b: &str, s: &Stats, os: &[&Stats]| {
        write!(
            out,
            "{a:<8} {b:<8} {:>6} {:>11} {:>8}",
            s.crises,
            pct(s.before_peak_share()),
            lead(s)
        )?;
        for o in os {
            write!(out, " {:>15} {:>8}", pct(o.before_peak_share()), lead(o))?;
        }
        writeln!(out)
    };
    for (v, vc) in VOLUME_CLASSES.iter().enumerate() {
        let os: Vec<&Stats> = cs.iter().map(|c| &c.by_volume[v]).collect();
        row(out, "volume", vc.name, &rep.by_volume[v], &os)?;
    }
    for (r, rc) in RISE_CLASSES.iter().enumerate() {
        let os: Vec<&Stats> = cs.iter().map(|c| &c.by_rise[r]).collect();
        row(out, "rise", rc.name, &rep.by_rise[r], &os)?;
    }
    for (f, (name, _, _)) in FACTOR_CLASSES.iter().enumerate() {
        let os: Vec<&Stats> = cs.iter().map(|c| &c.by_factor[f]).collect();
        row(out, "factor", name, &rep.by_factor[f], &os)?;
    }
    let os: Vec<&Stats> = cs.iter().map(|c| &c.crises).collect();
    row(out, "all", "", &rep.crises, &os)
}

/// Prints the oracle's before-peak share at several false-alarm budgets
/// (per quiet watch-week), overall and per volume class: what a window
/// test could reach by spending more of the budget.
pub fn print_budgets(out: &mut impl Write, ceilings: &[Ceiling]) -> std::io::Result<()> {
    writeln!(
        out,
        "
oracle ceiling by false-alarm budget (before-peak share; FA = its false alarms per quiet watch-week)"
    )?;
    write!(
        out,
        "{:<8} {:>8} {:>8} {:>7} {:>7}",
        "stream", "budget", "theta", "FA", "all"
    )?;
    for vc in &VOLUME_CLASSES {
        write!(out, " {:>7}", vc.name)?;
    }
    writeln!(out)?;
    for c in ceilings {
        write!(
            out,
            "{:<8} {:>8.3} {:>8.2} {:>7.3} {:>7}",
            c.stream.map_or("total", |s| s.name()),
            c.budget,
            c.theta,
            c.quiet.false_alarms_per_week(),
            pct(c.crises.before_peak_share())
        )?;
        for s in &c.by_volume {
            write!(out, " {:>7}", pct(s.before_peak_share()))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Prints the summary of several families ([`super::families`]): per
/// family and volume class, crises detected before the peak, the median
/// lead, false alarms per quiet watch-week, and the oracle's before-peak
/// ceiling on either stream at that family's false-alarm rate.
pub fn print_families(
    out: &mut impl Write,
    runs: &[(Family, Report, Ceiling)],
) -> std::io::Result<()> {
    writeln!(
        out,
        "\nby family (before-peak / median lead in minutes / false alarms per quiet watch-week; oracle: either stream at the family's false-alarm rate)"
    )?;
    write!(out, "{:<10} {:<8}", "family", "")?;
    for vc in &VOLUME_CLASSES {
        write!(out, " {:>8}", vc.name)?;
    }
    writeln!(out, " {:>8}", "all")?;
    for (family, rep, ceiling) in runs {
        let nv = VOLUME_CLASSES.len();
        let fa = |s: &Stats| format!("{:.3}", s.false_alarms_per_week());
        let rows: [(&str, Vec<String>, String); 4] = [
            (
                "before",
                (0..nv)
                    .map(|v| pct(rep.by_volume[v].before_peak_share()))
                    .collect(),
                pct(rep.crises.before_peak_share()),
            ),
            (
                "lead",
                (0..nv).map(|v| lead(&rep.by_volume[v])).collect(),
                lead(&rep.crises),
            ),
            (
                "FA/week",
                (0..nv).map(|v| fa(&rep.quiet[v])).collect(),
                fa(&rep.quiet_total),
            ),
            (
                "oracle",
                (0..nv)
                    .map(|v| {
                        ceiling
                            .by_volume
                            .get(v)
                            .map_or("-".to_string(), |s| pct(s.before_peak_share()))
                    })
                    .collect(),
                pct(ceiling.crises.before_peak_share()),
            ),
        ];
        for (name, cells, all) in rows {
            write!(out, "{:<10} {name:<8}", family.name())?;
            for c in cells {
                write!(out, " {c:>8}")?;
            }
            writeln!(out, " {all:>8}")?;
        }
    }
    Ok(())
}
