//! `veilleur eval-nab DIR`: scores the `volume_spike` defaults on the
//! Numenta Anomaly Benchmark's Twitter volume series.
//!
//! Each `Twitter_volume_*.csv` of `DIR` (rows `timestamp,value`: tweets per
//! 5 minutes) becomes one watch whose mentions are spread evenly over each
//! row's 5 minutes and replayed through the detector's count path
//! ([`Detector::ingest_counts`], the same decisions as mentions: see its
//! docs), with one `volume_spike` rule that gives only `name` and `kind`:
//! the defaults users get. Each alert onset (an event that starts firing;
//! escalations and repeats of a firing alert are not new detections) is a
//! detection at its row;
//! the rows are scored with NAB's rules (`labels.json` windows, probation,
//! scaled sigmoid, earliest detection per window, normalisation against the
//! null and perfect detectors) for the three NAB profiles. Fully online: the
//! detector only ever sees the past.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDateTime;

use crate::alert::{AlertState, Stage};
use crate::detect::{Detector, Tuning};
use crate::rules::RuleSet;

/// One NAB cost profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Profile {
    pub name: &'static str,
    pub tp: f64,
    pub fp: f64,
    pub fn_: f64,
}

/// NAB's `config/profiles.json`.
pub(crate) const PROFILES: [Profile; 3] = [
    Profile {
        name: "standard",
        tp: 1.0,
        fp: 0.11,
        fn_: 1.0,
    },
    Profile {
        name: "reward_low_FP_rate",
        tp: 1.0,
        fp: 0.22,
        fn_: 1.0,
    },
    Profile {
        name: "reward_low_FN_rate",
        tp: 1.0,
        fp: 0.11,
        fn_: 2.0,
    },
];

/// NAB's scaled sigmoid: 2/(1+e^{5y}) − 1, and −1 beyond y = 3.
pub(crate) fn scaled_sigmoid(y: f64) -> f64 {
    if y > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * y).exp()) - 1.0
    }
}

/// NAB's probationary period: the first min(⌊0.15 n⌋, 750) rows.
pub(crate) fn probation(n: usize) -> usize {
    ((0.15 * n as f64).floor() as usize).min(750)
}

/// Raw score of one file: `windows` are inclusive row ranges, sorted;
/// `detections` are rows (any order, duplicates allowed). Returns the raw
/// score, the windows detected and the detections outside windows.
pub(crate) fn score_file(
    n: usize,
    windows: &[(usize, usize)],
    detections: &[usize],
    p: &Profile,
) -> (f64, usize, usize) {
    let prob = probation(n);
    let windows: Vec<(usize, usize)> = windows.iter().copied().filter(|w| w.0 >= prob).collect();
    let mut rows: Vec<usize> = detections
        .iter()
        .copied()
        .filter(|&r| r >= prob && r < n)
        .collect();
    rows.sort_unstable();
    rows.dedup();
    let max_tp = scaled_sigmoid(-1.0);
    let mut best: Vec<Option<f64>> = vec![None; windows.len()];
    let mut score = 0.0;
    let mut fps = 0;
    for &i in &rows {
        if let Some(k) = windows.iter().position(|&(l, r)| i >= l && i <= r) {
            let (_, r) = windows[k];
            let width = (r - windows[k].0 + 1) as f64;
            let y = -((r - i + 1) as f64) / width;
            let s = scaled_sigmoid(y) * p.tp / max_tp;
            if best[k].is_none() {
                best[k] = Some(s);
            }
            continue;
        }
        fps += 1;
        match windows.iter().rev().find(|&&(_, r)| r < i) {
            None => score -= p.fp,
            Some(&(l, r)) => {
                let y = (i - r) as f64 / ((r - l + 1) as f64 - 1.0);
                score += scaled_sigmoid(y) * p.fp;
            }
        }
    }
    let mut detected = 0;
    for b in &best {
        match b {
            Some(s) => {
                score += s;
                detected += 1;
            }
            None => score -= p.fn_,
        }
    }
    (score, detected, fps)
}

/// NAB's normalisation of a summed raw score over `windows` windows.
pub(crate) fn normalise(raw: f64, windows: usize, p: &Profile) -> f64 {
    let null = -p.fn_ * windows as f64;
    let perfect = p.tp * windows as f64;
    100.0 * (raw - null) / (perfect - null)
}

/// One series: its timestamps and values.
pub(crate) struct Series {
    pub name: String,
    pub times: Vec<i64>,
    pub values: Vec<u64>,
}

fn parse_time(s: &str) -> anyhow::Result<i64> {
    Ok(NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S")
        .with_context(|| format!("bad timestamp `{s}`"))?
        .and_utc()
        .timestamp())
}

/// Reads a NAB CSV (`timestamp,value`).
pub(crate) fn read_series(path: &Path) -> anyhow::Result<Series> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut times = Vec::new();
    let mut values = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (t, v) = line
            .split_once(',')
            .with_context(|| format!("{}:{}: expected timestamp,value", path.display(), n + 1))?;
        times.push(parse_time(t)?);
        values.push(
            v.trim()
                .parse::<f64>()
                .with_context(|| format!("{}:{}: bad value", path.display(), n + 1))?
                .max(0.0)
                .round() as u64,
        );
    }
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok(Series {
        name,
        times,
        values,
    })
}

/// The rule set NAB measures: one watch with one `volume_spike` rule that
/// gives only `name` and `kind`.
/// `overrides` (TOML `key = value` lines added to the alert) measure
/// alternatives to the defaults; the reported figures use none. Lines
/// `detect.KEY = VALUE` set the detector's method parameters instead (see
/// [`split_overrides`]).
pub(crate) fn default_rules(overrides: &[String]) -> anyhow::Result<RuleSet> {
    let mut src = "[watch]\nname = 'ticker'\nquery = 'ticker'\n\n[[alert]]\nname = 'spike'\nkind = 'volume_spike'\n".to_string();
    for o in overrides {
        if o.trim_start().starts_with("detect.") {
            continue;
        }
        src.push_str(o);
        src.push('\n');
    }
    let w = crate::rules::parse_rule_file(Path::new("nab.toml"), &src, None).map_err(|d| {
        anyhow::anyhow!(
            "{}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    Ok(RuleSet { watches: vec![w] })
}

/// The detector parameters of `detect.KEY = VALUE` overrides (e.g.
/// `--set 'detect.gate = 2'`), over the defaults.
pub(crate) fn split_overrides(overrides: &[String]) -> anyhow::Result<Tuning> {
    let mut t = Tuning::default();
    for o in overrides {
        let Some(rest) = o.trim_start().strip_prefix("detect.") else {
            continue;
        };
        let (k, v) = rest
            .split_once('=')
            .with_context(|| format!("`{o}`: expected detect.KEY = VALUE"))?;
        let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
        t.set(k.trim(), v).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(t)
}

/// Replays a series through the detector and returns the rows of its
/// firing events. Row `i` (at `times[i]`, `values[i]` tweets) spreads its
/// mentions evenly over the seconds `[times[i], times[i] + step)`.
/// (`tuning`: the detector's method parameters; the defaults are
/// `Tuning::default()`.)
/// With each row, what the detector saw: the width that fired, its
/// observed and expected counts and tail probability.
pub(crate) fn detect_events(rules: &RuleSet, tuning: &Tuning, s: &Series) -> Vec<(usize, String)> {
    let mut d = Detector::with_tuning(rules, tuning.clone());
    let step = if s.times.len() > 1 {
        (s.times[1] - s.times[0]).max(1)
    } else {
        300
    };
    let mut rows = Vec::new();
    for (i, (&t0, &v)) in s.times.iter().zip(&s.values).enumerate() {
        let step_u = step as u64;
        for k in 0..step_u {
            let n = (k + 1) * v / step_u - k * v / step_u;
            if n == 0 {
                continue;
            }
            for tr in d.ingest_counts(0, t0 + k as i64, n, 0) {
                if is_onset(&tr.event) {
                    let e = &tr.event;
                    rows.push((
                        i,
                        format!(
                            "{}s {} vs {:.1} p {:.1e}",
                            e.window_secs,
                            e.observed,
                            e.expected,
                            e.tail_probability.unwrap_or(1.0)
                        ),
                    ));
                }
            }
        }
        if i % 2048 == 0
            && let Some(at) = chrono::DateTime::from_timestamp(t0, 0)
        {
            d.prune(at);
        }
    }
    rows
}

/// Whether an event is a detection: an alert that starts firing. Follow-up
/// notifications of an alert already firing (escalation, repeat) report the
/// same incident again and are not new detections.
pub(crate) fn is_onset(ev: &crate::alert::AlertEvent) -> bool {
    ev.state == AlertState::Firing && matches!(ev.stage, Stage::Threshold | Stage::EarlyWarning)
}

/// Reads `labels.json` windows as timestamps.
fn read_labels(dir: &Path) -> anyhow::Result<BTreeMap<String, Vec<(String, String)>>> {
    let path = dir.join("labels.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not NAB windows", path.display()))
}

/// The labelled windows of a series as sorted inclusive row ranges.
fn label_rows(
    s: &Series,
    labels: &BTreeMap<String, Vec<(String, String)>>,
) -> anyhow::Result<Vec<(usize, usize)>> {
    let index: BTreeMap<i64, usize> = s.times.iter().enumerate().map(|(i, &t)| (t, i)).collect();
    let mut windows = Vec::new();
    for (a, b) in labels.get(&s.name).map(Vec::as_slice).unwrap_or(&[]) {
        let (a, b) = (parse_time(a)?, parse_time(b)?);
        let l = *index
            .get(&a)
            .with_context(|| format!("{}: window start {a} is not a row", s.name))?;
        let r = *index
            .get(&b)
            .with_context(|| format!("{}: window end {b} is not a row", s.name))?;
        windows.push((l, r));
    }
    windows.sort_unstable();
    Ok(windows)
}

/// Reads the `.csv` series of `dir`, sorted by name.
fn read_dir_series(dir: &Path) -> anyhow::Result<Vec<Series>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "no .csv series in {}", dir.display());
    files.iter().map(|f| read_series(f)).collect()
}

/// Runs the detector on every series, two at a time (the detector is
/// single-threaded per watch); the rows detected, in `series` order.
fn detect_all(rules: &RuleSet, tuning: &Tuning, series: &[Series]) -> Vec<Vec<usize>> {
    detect_all_events(rules, tuning, series)
        .into_iter()
        .map(|v| v.into_iter().map(|(r, _)| r).collect())
        .collect()
}

/// [`detect_all`] with what the detector saw (see [`detect_events`]).
fn detect_all_events(
    rules: &RuleSet,
    tuning: &Tuning,
    series: &[Series],
) -> Vec<Vec<(usize, String)>> {
    std::thread::scope(|scope| {
        let mut out = Vec::new();
        for pair in series.chunks(2) {
            let handles: Vec<_> = pair
                .iter()
                .map(|s| scope.spawn(|| detect_events(rules, tuning, s)))
                .collect();
            for h in handles {
                out.push(h.join().unwrap_or_default());
            }
        }
        out
    })
}

/// The grid `--loo` chooses from: the score gate × the significance. Wide
/// enough that every fold's choice is inside it (gate 6 was the edge of a
/// grid up to 6, chosen on every fold: a choice at the edge says the grid,
/// not the series, set it); a choice on an edge is marked in the output.
pub(crate) const LOO_GATES: [&str; 9] = ["3", "4", "4.5", "5", "5.5", "6", "7", "8", "10"];
pub(crate) const LOO_SIGNIFICANCES: [&str; 5] = ["1e-6", "1e-8", "1e-10", "1e-12", "1e-14"];

/// Whether setting `j` of the `--loo` grid (gates outer, significances
/// inner) sits on an edge of the grid.
fn on_grid_edge(j: usize) -> bool {
    let (g, s) = (j / LOO_SIGNIFICANCES.len(), j % LOO_SIGNIFICANCES.len());
    g == 0 || g + 1 == LOO_GATES.len() || s == 0 || s + 1 == LOO_SIGNIFICANCES.len()
}

/// The grid neighbours of setting `j` of the `--loo` grid (gates outer,
/// significances inner): the gates one step below and above at the same
/// significance, the significances one step looser and stricter at the
/// same gate — those inside the grid.
fn grid_neighbours(j: usize) -> Vec<usize> {
    let n = LOO_SIGNIFICANCES.len();
    let (g, s) = (j / n, j % n);
    let mut v = Vec::with_capacity(4);
    if g > 0 {
        v.push(j - n);
    }
    if g + 1 < LOO_GATES.len() {
        v.push(j + n);
    }
    if s > 0 {
        v.push(j - 1);
    }
    if s + 1 < n {
        v.push(j + 1);
    }
    v
}

/// How a `--loo` fold chooses its setting from the training scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Choice {
    /// The best setting itself (the choice before issue 9's robust one).
    Argmax,
    /// The best mean over the setting and its grid neighbours: a setting
    /// next to a cliff is not chosen (the `--loo` procedure).
    NeighbourhoodMean,
    /// The best minimum over the setting and its grid neighbours (measured
    /// for information).
    NeighbourhoodMin,
}

/// The setting a fold chooses: `scores[j]` is setting `j`'s score on the
/// training series (grid order, see [`grid_neighbours`]). Ties go to the
/// lower index (lower gate, then looser significance). Returns 0 for an
/// empty grid.
pub(crate) fn choose(scores: &[f64], how: Choice) -> usize {
    let value = |j: usize| {
        let around = grid_neighbours(j)
            .into_iter()
            .filter(|&k| k < scores.len())
            .map(|k| scores[k]);
        match how {
            Choice::Argmax => scores[j],
            Choice::NeighbourhoodMean => {
                let (sum, n) = around.fold((scores[j], 1.0), |(s, n), v| (s + v, n + 1.0));
                sum / n
            }
            Choice::NeighbourhoodMin => around.fold(scores[j], f64::min),
        }
    };
    (0..scores.len())
        .map(|j| (j, value(j)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or(0, |b| b.0)
}

/// Leave-one-series-out: for each series and each profile, the setting of
/// the grid ([`LOO_GATES`] × [`LOO_SIGNIFICANCES`], over `overrides`) whose
/// neighbourhood scores best on the *other* series (the mean of the
/// setting and its grid neighbours, [`Choice::NeighbourhoodMean`]) is
/// scored on the held-out one; the held-out raw scores are summed and
/// normalised as NAB does. The figure says how well choosing the
/// parameters on some series carries over to a series not seen. Each row
/// also shows what the raw argmax would have chosen, and the totals of
/// the argmax and of the neighbourhood minimum follow.
pub(crate) fn run_loo(
    dir: &Path,
    overrides: &[String],
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !overrides.iter().any(|o| {
            let k = o.trim_start();
            k.starts_with("significance")
                || k.starts_with("detect.gate ")
                || k.starts_with("detect.gate=")
        }),
        "--loo chooses significance and detect.gate itself: drop them from --set"
    );
    let labels = read_labels(dir)?;
    let series = read_dir_series(dir)?;
    let windows: Vec<Vec<(usize, usize)>> = series
        .iter()
        .map(|s| label_rows(s, &labels))
        .collect::<anyhow::Result<_>>()?;
    let kept: Vec<usize> = series
        .iter()
        .zip(&windows)
        .map(|(s, w)| w.iter().filter(|w| w.0 >= probation(s.times.len())).count())
        .collect();
    // raw[setting][series][profile]
    let mut settings = Vec::new();
    let mut raw: Vec<Vec<[f64; 3]>> = Vec::new();
    for g in LOO_GATES {
        for sg in LOO_SIGNIFICANCES {
            let mut o = overrides.to_vec();
            o.push(format!("detect.gate = {g}"));
            o.push(format!("significance = {sg}"));
            let rules = default_rules(&o)?;
            let tuning = split_overrides(&o)?;
            let rows = detect_all(&rules, &tuning, &series);
            let per: Vec<[f64; 3]> = series
                .iter()
                .zip(&rows)
                .zip(&windows)
                .map(|((s, r), w)| {
                    let mut v = [0.0; 3];
                    for (k, p) in PROFILES.iter().enumerate() {
                        v[k] = score_file(s.times.len(), w, r, p).0;
                    }
                    v
                })
                .collect();
            settings.push(format!("gate {g}, significance {sg}"));
            raw.push(per);
        }
    }
    writeln!(
        out,
        "# leave-one-series-out over gate {{{}}} x significance {{{}}}{}",
        LOO_GATES.join(", "),
        LOO_SIGNIFICANCES.join(", "),
        if overrides.is_empty() {
            String::new()
        } else {
            format!(", with {}", overrides.join(", "))
        }
    )?;
    writeln!(
        out,
        "{:<28} {:<10} {:>9}  chosen on the others (neighbourhood mean) | raw argmax",
        "held out", "profile", "score"
    )?;
    let total_kept: usize = kept.iter().sum();
    let choices = [
        Choice::NeighbourhoodMean,
        Choice::Argmax,
        Choice::NeighbourhoodMin,
    ];
    // held[choice][profile]
    let mut held = [[0.0; 3]; 3];
    let edge = |j: usize| {
        if on_grid_edge(j) {
            " (edge of the grid)"
        } else {
            ""
        }
    };
    for (i, s) in series.iter().enumerate() {
        for (k, p) in PROFILES.iter().enumerate() {
            let others_kept = total_kept - kept[i];
            let train: Vec<f64> = (0..settings.len())
                .map(|j| {
                    let sum: f64 = (0..series.len())
                        .filter(|&x| x != i)
                        .map(|x| raw[j][x][k])
                        .sum();
                    normalise(sum, others_kept, p)
                })
                .collect();
            let picked: Vec<usize> = choices.iter().map(|&c| choose(&train, c)).collect();
            for (c, &j) in picked.iter().enumerate() {
                held[c][k] += raw[j][i][k];
            }
            let (best, arg) = (picked[0], picked[1]);
            writeln!(
                out,
                "{:<28} {:<10} {:>9.2}  {}{} | {:.2} {}{}",
                s.name,
                p.name.trim_start_matches("reward_"),
                normalise(raw[best][i][k], kept[i], p),
                settings[best],
                edge(best),
                normalise(raw[arg][i][k], kept[i], p),
                settings[arg],
                edge(arg),
            )?;
        }
    }
    for (c, label) in [
        "ALL held out (NAB score)",
        "  raw argmax instead",
        "  neighbourhood minimum",
    ]
    .iter()
    .enumerate()
    {
        writeln!(
            out,
            "{:<28} standard {:.2}, low_FP {:.2}, low_FN {:.2}",
            label,
            normalise(held[c][0], total_kept, &PROFILES[0]),
            normalise(held[c][1], total_kept, &PROFILES[1]),
            normalise(held[c][2], total_kept, &PROFILES[2]),
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run(
    dir: &Path,
    overrides: &[String],
    list: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let labels = read_labels(dir)?;
    let rules = default_rules(overrides)?;
    let tuning = split_overrides(overrides)?;
    let mut raw = [0.0; 3];
    let mut total_windows = 0;
    writeln!(
        out,
        "{:<28} {:>6} {:>8} {:>8} {:>5} {:>9} {:>9} {:>9}",
        "series", "rows", "windows", "detected", "FP", "standard", "low_FP", "low_FN"
    )?;
    let started = std::time::Instant::now();
    let mut mentions = 0u64;
    let series = read_dir_series(dir)?;
    let detected = detect_all_events(&rules, &tuning, &series);
    for (s, events) in series.iter().zip(detected) {
        let rows: Vec<usize> = events.iter().map(|(r, _)| *r).collect();
        mentions += s.values.iter().sum::<u64>();
        let windows = label_rows(s, &labels)?;
        if list {
            let prob = probation(s.times.len());
            for (r, saw) in &events {
                let r = *r;
                let verdict = match windows.iter().position(|&(l, h)| r >= l && r <= h) {
                    Some(k) => format!("window {} (rows {}-{})", k + 1, windows[k].0, windows[k].1),
                    None if r < prob => "probation".to_string(),
                    None => "FP".to_string(),
                };
                let at = chrono::DateTime::from_timestamp(s.times[r], 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {:<26} row {r:>6} {at} value {:>6}  {verdict}  ({saw})",
                    s.name, s.values[r]
                )?;
            }
        }
        let mut cells = Vec::new();
        let mut detected = 0;
        let mut fps = 0;
        for (k, p) in PROFILES.iter().enumerate() {
            let (sc, d, f) = score_file(s.times.len(), &windows, &rows, p);
            raw[k] += sc;
            detected = d;
            fps = f;
            let kept = windows
                .iter()
                .filter(|w| w.0 >= probation(s.times.len()))
                .count();
            cells.push(normalise(sc, kept, p));
        }
        let kept = windows
            .iter()
            .filter(|w| w.0 >= probation(s.times.len()))
            .count();
        total_windows += kept;
        writeln!(
            out,
            "{:<28} {:>6} {:>8} {:>8} {:>5} {:>9.2} {:>9.2} {:>9.2}",
            s.name,
            s.times.len(),
            kept,
            detected,
            fps,
            cells[0],
            cells[1],
            cells[2]
        )?;
    }
    writeln!(
        out,
        "{:<28} {:>6} {:>8} {:>8} {:>5} {:>9.2} {:>9.2} {:>9.2}",
        "ALL (NAB score)",
        "",
        total_windows,
        "",
        "",
        normalise(raw[0], total_windows, &PROFILES[0]),
        normalise(raw[1], total_windows, &PROFILES[1]),
        normalise(raw[2], total_windows, &PROFILES[2]),
    )?;
    writeln!(
        out,
        "\n{mentions} mentions replayed in {:.2}s (volume_spike defaults, fully online)",
        started.elapsed().as_secs_f64()
    )?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(detections: &[usize], p: &Profile, expected: f64) {
        // 100 rows: probation 15; windows [20, 29] and [60, 69].
        let (got, _, _) = score_file(100, &[(20, 29), (60, 69)], detections, p);
        assert!(
            (got - expected).abs() < 1e-9,
            "{detections:?} {}: got {got}, expected {expected}",
            p.name
        );
    }

    #[test]
    fn toy_scores_match_hand_computation() {
        let std = &PROFILES[0];
        let s = |y: f64| 2.0 / (1.0 + (5.0 * y).exp()) - 1.0;
        let max = s(-1.0);
        // Nothing: two misses.
        check(&[], std, -2.0);
        // In probation: ignored.
        check(&[3], std, -2.0);
        // Before the first window: −A_FP.
        check(&[16], std, -2.0 - 0.11);
        // Left edge of window 1: y = −(29 − 20 + 1)/10 = −1 → A_TP.
        check(&[20], std, 1.0 - 1.0);
        // Only the earliest detection of a window counts.
        check(&[25, 20, 29], std, 1.0 - 1.0);
        // Row 25: y = −(29 − 25 + 1)/10 = −0.5.
        check(&[25], std, s(-0.5) / max - 1.0);
        // Row 35, after window 1: y = (35 − 29)/(10 − 1), an FP worth σ(y)·A_FP.
        check(&[35], std, -2.0 + s(6.0 / 9.0) * 0.11);
        // Far after: y > 3 → −A_FP; low-FN profile doubles the misses.
        check(&[59], &PROFILES[2], -2.0 * 2.0 - 0.11);
        assert_eq!(scaled_sigmoid(3.5), -1.0);
        // Normalisation: perfect 100, null 0.
        assert_eq!(normalise(2.0, 2, std), 100.0);
        assert_eq!(normalise(-2.0, 2, std), 0.0);
    }

    /// Writes `names` as 4-day series of 5-minute counts (about 20 a row,
    /// a daily cycle and a little noise) with a tenfold burst of half an
    /// hour on day 3, labelled.
    fn write_series(dir: &Path, names: &[&str]) {
        let start = 1_425_168_000; // 2015-03-01 00:00 UTC
        let fmt = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .unwrap()
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        };
        let mut labels = serde_json::Map::new();
        for (k, name) in names.iter().enumerate() {
            let mut csv = "timestamp,value\n".to_string();
            let burst = 3 * 288 + 100 + 7 * k as i64;
            for i in 0..4 * 288i64 {
                let hour = (i / 12) % 24;
                let base = 20.0 + 8.0 * ((hour as f64 - 6.0) * std::f64::consts::PI / 12.0).sin();
                let noise = ((i * 7919 + k as i64 * 31) % 11) as f64 - 5.0;
                let mut v = (base + noise).max(0.0);
                if (burst..burst + 6).contains(&i) {
                    v *= 10.0;
                }
                csv.push_str(&format!("{},{}\n", fmt(start + i * 300), v.round()));
            }
            std::fs::write(dir.join(name), csv).unwrap();
            labels.insert(
                name.to_string(),
                serde_json::json!([[
                    fmt(start + (burst - 20) * 300),
                    fmt(start + (burst + 20) * 300)
                ]]),
            );
        }
        std::fs::write(
            dir.join("labels.json"),
            serde_json::Value::Object(labels).to_string(),
        )
        .unwrap();
    }

    #[test]
    fn leave_one_series_out_scores_each_series_with_a_setting_chosen_on_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "Twitter_volume_A.csv",
            "Twitter_volume_B.csv",
            "Twitter_volume_C.csv",
        ];
        write_series(dir.path(), &names);
        let mut out = Vec::new();
        run_loo(dir.path(), &[], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for name in names {
            let rows = text.lines().filter(|l| l.starts_with(name)).count();
            assert_eq!(rows, PROFILES.len(), "{text}");
        }
        let all = text
            .lines()
            .find(|l| l.starts_with("ALL held out"))
            .unwrap_or_else(|| panic!("{text}"));
        let standard: f64 = all
            .split("standard ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{all}"));
        // Every burst is found early in its window: far above the null
        // detector's 0.
        assert!(standard > 50.0, "{text}");
        // The grid's own parameters cannot be set too.
        let err = run_loo(
            dir.path(),
            &["significance = 1e-6".to_string()],
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("--loo chooses"), "{err:#}");
    }

    #[test]
    fn the_loo_grid_marks_only_its_edges() {
        let n = LOO_SIGNIFICANCES.len();
        let at = |g: usize, s: usize| g * n + s;
        assert!(on_grid_edge(at(0, 2)), "lowest gate");
        assert!(on_grid_edge(at(LOO_GATES.len() - 1, 2)), "highest gate");
        assert!(on_grid_edge(at(3, 0)), "loosest significance");
        assert!(on_grid_edge(at(3, n - 1)), "strictest significance");
        assert!(!on_grid_edge(at(5, 2)), "gate 6, 1e-10: inside");
        assert_eq!(LOO_GATES[5], "6");
    }

    #[test]
    fn the_neighbourhood_choice_avoids_a_setting_next_to_a_cliff() {
        let n = LOO_SIGNIFICANCES.len();
        let at = |g: usize, s: usize| g * n + s;
        // A plateau of 70 with a peak of 80 at (6, 2) next to a cliff at
        // (7, 2), and a broad hill of 78 around (3, 2).
        let mut scores = vec![70.0; LOO_GATES.len() * n];
        scores[at(6, 2)] = 80.0;
        scores[at(7, 2)] = 20.0;
        for j in [at(3, 2), at(2, 2), at(4, 2), at(3, 1), at(3, 3)] {
            scores[j] = 78.0;
        }
        assert_eq!(choose(&scores, Choice::Argmax), at(6, 2));
        assert_eq!(choose(&scores, Choice::NeighbourhoodMean), at(3, 2));
        assert_eq!(choose(&scores, Choice::NeighbourhoodMin), at(3, 2));
        // Ties go to the lower gate, then the looser significance.
        let flat = vec![1.0; LOO_GATES.len() * n];
        for c in [
            Choice::Argmax,
            Choice::NeighbourhoodMean,
            Choice::NeighbourhoodMin,
        ] {
            assert_eq!(choose(&flat, c), 0, "{c:?}");
        }
        assert_eq!(choose(&[], Choice::NeighbourhoodMean), 0);
    }

    #[test]
    fn grid_neighbours_stay_inside_the_grid() {
        let n = LOO_SIGNIFICANCES.len();
        let at = |g: usize, s: usize| g * n + s;
        let mut corner = grid_neighbours(at(0, 0));
        corner.sort_unstable();
        assert_eq!(corner, vec![at(0, 1), at(1, 0)]);
        let mut inside = grid_neighbours(at(4, 2));
        inside.sort_unstable();
        assert_eq!(inside, vec![at(3, 2), at(4, 1), at(4, 3), at(5, 2)]);
        let last = at(LOO_GATES.len() - 1, n - 1);
        assert_eq!(grid_neighbours(last).len(), 2);
    }

    #[test]
    fn probation_is_capped_at_750() {
        assert_eq!(probation(100), 15);
        assert_eq!(probation(15_902), 750);
    }
}
