//! The oracle ceiling of the crisis protocol: what a detector that *knows*
//! each watch's true expected rate could do at the same false-alarm budget
//! as ours — the honest frame for the detection goals (a watch of one
//! mention an hour rising to four over an hour gives about four mentions
//! where one was expected: no detector can be sure of that).
//!
//! The oracle knows, for every minute, the generator's usual rate (daily
//! cycle, weekends and harmless bumps, without the crisis) and the watch's
//! hourly over-dispersion; it tests the windows of the same widths as the
//! detector, ending at every minute, with the exact negative-binomial tail
//! (`phi` = the hourly noise's squared relative s.d., shrinking as
//! `1 / hours` past an hour), and fires when the smallest tail of any width
//! is at most `10^−θ`. One threshold `θ` for every watch, set on the quiet
//! scenarios: the smallest of a grid whose false alarms per quiet watch-week
//! do not exceed ours. A false alarm is a minute above `θ` with none in the
//! hour before it (a new episode). It never learns and has no warm-up: it
//! is an upper bound for a window test, not a detector.
//!
//! Three streams ([`Stream`]): the **total** counts against the usual rate;
//! the **negative** counts against the usual negative rate (the usual rate
//! × the watch's negative share, with the same hourly noise: the negatives
//! are a thinning of the same gamma-Poisson counts) — the crises
//! are negative waves, whose negative count rises far more, relatively,
//! than the total; and **either**, the larger of the two scores at each
//! minute, with its own single threshold set on the quiet weeks (so the
//! two tests share one false-alarm budget).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::SeedSet;
use super::families::Family;
use super::generator::{
    FACTOR_CLASSES, Kind, RISE_CLASSES, Scenario, VOLUME_CLASSES, factor_class,
};
use super::protocol::{Stats, scenarios};
use crate::detect::stats;

/// Scores below this are not kept (a tail probability above 10^−2 is
/// never an alarm at any budget considered).
const MIN_SCORE: f64 = 2.0;
/// Threshold grid: `MIN_SCORE + k · GRID_STEP`.
const GRID_STEP: f64 = 0.05;
const GRID_LEN: usize = 600;
/// Minutes without a score above the threshold before a new false alarm.
const REFRACTORY_MIN: i64 = 60;

/// The oracle's scores of one scenario: `(minute, score)` for the minutes
/// scoring at least [`MIN_SCORE`] — over the whole span of a quiet
/// scenario, from the crisis start to its peak for a crisis.
#[derive(Debug, Clone)]
pub struct Trace {
    pub kind: Kind,
    pub volume: usize,
    pub rise: Option<usize>,
    pub peak_factor: f64,
    /// Minutes from the crisis start to the peak (crises).
    pub rise_min: i64,
    pub watch_weeks: f64,
    /// Minutes since the scenario (quiet) or the crisis (crisis) start, and
    /// the score of the total counts there.
    pub scores: Vec<(i64, f64)>,
    /// The same for the negative counts.
    pub negative: Vec<(i64, f64)>,
}

/// Which counts the oracle tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// All mentions, against the usual rate.
    Total,
    /// Negative mentions, against the usual rate × the usual negative share.
    Negative,
    /// The larger score of the two at each minute, one threshold.
    Either,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Total => "total",
            Stream::Negative => "negative",
            Stream::Either => "either",
        }
    }
}

/// The scores of `tr` on `stream`, by minute.
fn stream_scores(tr: &Trace, stream: Stream) -> Vec<(i64, f64)> {
    match stream {
        Stream::Total => tr.scores.clone(),
        Stream::Negative => tr.negative.clone(),
        Stream::Either => {
            let (a, b) = (&tr.scores, &tr.negative);
            let mut out = Vec::with_capacity(a.len() + b.len());
            let (mut i, mut j) = (0, 0);
            while i < a.len() || j < b.len() {
                match (a.get(i), b.get(j)) {
                    (Some(&(ma, sa)), Some(&(mb, sb))) if ma == mb => {
                        out.push((ma, sa.max(sb)));
                        i += 1;
                        j += 1;
                    }
                    (Some(&x), Some(&(mb, _))) if x.0 < mb => {
                        out.push(x);
                        i += 1;
                    }
                    (Some(_), Some(&y)) | (None, Some(&y)) => {
                        out.push(y);
                        j += 1;
                    }
                    (Some(&x), None) => {
                        out.push(x);
                        i += 1;
                    }
                    (None, None) => break,
                }
            }
            out
        }
    }
}

/// Scores one scenario on `widths` (seconds).
pub fn trace(sc: &Scenario, widths: &[i64]) -> Trace {
    let minutes = ((sc.end - sc.start) / 60) as usize + 1;
    let mut counts = vec![0u64; minutes];
    let mut negatives = vec![0u64; minutes];
    for (s, total, negative) in sc.counts() {
        let m = ((s - sc.start) / 60) as usize;
        if m < minutes {
            counts[m] += total;
            negatives[m] += negative;
        }
    }
    // Prefix sums: cum[m] = counts (expected) of minutes before m.
    let mut cum = vec![0u64; minutes + 1];
    let mut exp = vec![0f64; minutes + 1];
    let mut cum_neg = vec![0u64; minutes + 1];
    let mut exp_neg = vec![0f64; minutes + 1];
    let share = sc.profile.negative_share;
    for m in 0..minutes {
        let t = sc.start + m as i64 * 60;
        let usual = sc.rates(t).0 / 60.0;
        cum[m + 1] = cum[m] + counts[m];
        exp[m + 1] = exp[m] + usual;
        cum_neg[m + 1] = cum_neg[m] + negatives[m];
        exp_neg[m + 1] = exp_neg[m] + usual * share;
    }
    let cv2 = sc.profile.dispersion * sc.profile.dispersion;
    let (from, to) = match sc.crisis {
        Some(c) => (
            ((c.onset() - sc.start) / 60) as usize,
            ((c.peak() - sc.start) / 60) as usize,
        ),
        None => (0, minutes),
    };
    // The best score of the windows ending with minute `m` (inclusive).
    let score = |cum: &[u64], exp: &[f64], m: usize| {
        let mut best: f64 = 0.0;
        for &wd in widths {
            let k = (wd / 60).max(1) as usize;
            if m + 1 < k {
                continue;
            }
            let x = cum[m + 1] - cum[m + 1 - k];
            let mu = exp[m + 1] - exp[m + 1 - k];
            if mu <= 0.0 {
                continue;
            }
            let phi = cv2 * (3600.0 / wd as f64).min(1.0);
            if (x as f64) < mu + 2.0 * (mu + phi * mu * mu).sqrt() {
                continue;
            }
            let p = stats::nb_tail(x, mu, phi);
            best = best.max(-p.max(1e-300).log10());
        }
        best
    };
    let mut scores = Vec::new();
    let mut negative = Vec::new();
    for m in from..to.min(minutes) {
        let at = m as i64 - from as i64;
        let best = score(&cum, &exp, m);
        if best >= MIN_SCORE {
            scores.push((at, best));
        }
        let best = score(&cum_neg, &exp_neg, m);
        if best >= MIN_SCORE {
            negative.push((at, best));
        }
    }
    let c = sc.crisis;
    Trace {
        kind: sc.kind,
        volume: sc.volume,
        rise: sc.rise,
        peak_factor: c.map_or(0.0, |c| c.peak_factor),
        rise_min: c.map_or(0, |c| (c.peak() - c.onset()) / 60),
        watch_weeks: match c {
            Some(c) => (c.onset() - sc.start) as f64 / (7.0 * 86_400.0),
            None => (sc.end - sc.start) as f64 / (7.0 * 86_400.0),
        },
        scores,
        negative,
    }
}

/// Traces every scenario of a run (in [`scenarios`] order) on `threads`
/// threads.
pub fn trace_all(seeds: SeedSet, cases: u64, widths: &[i64], threads: usize) -> Vec<Trace> {
    trace_family(Family::Base, seeds, cases, widths, threads)
}

/// [`trace_all`] on the scenarios of `family` (the oracle knows the
/// family's true usual rate: trend, day levels, outages and all).
pub fn trace_family(
    family: Family,
    seeds: SeedSet,
    cases: u64,
    widths: &[i64],
    threads: usize,
) -> Vec<Trace> {
    let all = scenarios(seeds, cases);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Trace>>> = Mutex::new(vec![None; all.len()]);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(kind, seed, v, r)) = all.get(i) else {
                        break;
                    };
                    let sc = Scenario::of(family, kind, seed, v, r);
                    let tr = trace(&sc, widths);
                    if let Ok(mut res) = results.lock() {
                        res[i] = Some(tr);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

/// False alarms of quiet scores at threshold `theta`: new episodes.
fn false_alarms(scores: &[(i64, f64)], theta: f64) -> usize {
    let mut n = 0;
    let mut last: Option<i64> = None;
    for &(m, s) in scores {
        if s < theta {
            continue;
        }
        if last.is_none_or(|l| m - l > REFRACTORY_MIN) {
            n += 1;
        }
        last = Some(m);
    }
    n
}

/// The oracle's figures at the threshold it chose.
#[derive(Debug, Clone, Default)]
pub struct Ceiling {
    /// The threshold, `−log10` of the tail probability.
    pub theta: f64,
    /// The budget it was set for: false alarms per quiet watch-week.
    pub budget: f64,
    /// The counts it tested.
    pub stream: Option<Stream>,
    pub by_volume: Vec<Stats>,
    pub by_rise: Vec<Stats>,
    pub by_factor: Vec<Stats>,
    pub quiet: Stats,
    pub crises: Stats,
}

/// The oracle's ceiling on the total counts: see [`ceiling_of`].
pub fn ceiling(traces: &[Trace], budget: f64) -> Ceiling {
    ceiling_of(traces, budget, Stream::Total)
}

/// The oracle's ceiling on `stream`: the smallest threshold of the grid
/// whose false alarms per quiet watch-week are at most `budget`, and the
/// crises it detects before their peak at that threshold.
pub fn ceiling_of(traces: &[Trace], budget: f64, stream: Stream) -> Ceiling {
    let scored: Vec<Vec<(i64, f64)>> = traces.iter().map(|t| stream_scores(t, stream)).collect();
    let quiet: Vec<(&Trace, &[(i64, f64)])> = traces
        .iter()
        .zip(&scored)
        .filter(|(t, _)| t.kind == Kind::Quiet)
        .map(|(t, s)| (t, s.as_slice()))
        .collect();
    let weeks: f64 = quiet.iter().map(|(t, _)| t.watch_weeks).sum();
    let mut theta = MIN_SCORE + GRID_LEN as f64 * GRID_STEP;
    for k in 0..=GRID_LEN {
        let th = MIN_SCORE + k as f64 * GRID_STEP;
        let fa: usize = quiet.iter().map(|(_, s)| false_alarms(s, th)).sum();
        if fa as f64 <= budget * weeks + 1e-9 {
            theta = th;
            break;
        }
    }
    let mut c = Ceiling {
        theta,
        budget,
        stream: Some(stream),
        by_volume: vec![Stats::default(); VOLUME_CLASSES.len()],
        by_rise: vec![Stats::default(); RISE_CLASSES.len()],
        by_factor: vec![Stats::default(); FACTOR_CLASSES.len()],
        ..Ceiling::default()
    };
    for (tr, scores) in traces.iter().zip(&scored) {
        let mut s = Stats {
            watch_weeks: tr.watch_weeks,
            ..Stats::default()
        };
        match tr.kind {
            Kind::Quiet => {
                s.false_alarms = false_alarms(scores, theta);
                add(&mut c.quiet, &s);
            }
            Kind::Crisis => {
                s.crises = 1;
                if let Some(&(m, _)) = scores.iter().find(|(_, sc)| *sc >= theta) {
                    // The window ending with minute m is complete at m + 1.
                    let at = m + 1;
                    s.detected = 1;
                    if at < tr.rise_min {
                        s.before_peak = 1;
                        s.leads.push((tr.rise_min - at) * 60);
                    }
                }
                let v = tr.volume.min(VOLUME_CLASSES.len() - 1);
                let r = tr.rise.unwrap_or(0).min(RISE_CLASSES.len() - 1);
                add(&mut c.by_volume[v], &s);
                add(&mut c.by_rise[r], &s);
                add(&mut c.by_factor[factor_class(tr.peak_factor)], &s);
                add(&mut c.crises, &s);
            }
        }
    }
    c
}

/// Adds the figures of one trace to a class (leads kept sorted).
fn add(into: &mut Stats, s: &Stats) {
    into.crises += s.crises;
    into.before_peak += s.before_peak;
    into.detected += s.detected;
    into.false_alarms += s.false_alarms;
    into.watch_weeks += s.watch_weeks;
    for &l in &s.leads {
        let at = into.leads.partition_point(|&x| x < l);
        into.leads.insert(at, l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_detects_a_large_crisis_early_and_never_a_quiet_hour_at_a_strict_threshold() {
        let widths = [900, 1800, 3600, 7200, 14_400, 28_800];
        // A ~100/h watch, 4-12 h rise: the oracle sees it long before the peak.
        let sc = Scenario::crisis(3, 4, 2);
        let tr = trace(&sc, &widths);
        let quiet = trace(&Scenario::quiet(3, 4), &widths);
        let c = ceiling(&[tr.clone(), quiet.clone()], 0.0);
        assert_eq!(c.quiet.false_alarms, 0);
        assert!(c.theta > MIN_SCORE, "the quiet weeks set the threshold");
        assert_eq!(
            c.crises.before_peak,
            1,
            "{:?}",
            &tr.scores[..tr.scores.len().min(5)]
        );
        // Detection before the peak means some score reached theta then.
        assert!(
            tr.scores
                .iter()
                .any(|&(m, s)| s >= c.theta && m + 1 < tr.rise_min)
        );
        // A looser budget can only lower the threshold.
        let loose = ceiling(&[tr, quiet], 10.0);
        assert!(loose.theta <= c.theta);
    }

    #[test]
    fn false_alarms_count_episodes_not_minutes() {
        let tr = Trace {
            kind: Kind::Quiet,
            volume: 0,
            rise: None,
            peak_factor: 0.0,
            rise_min: 0,
            watch_weeks: 1.0,
            scores: vec![(10, 5.0), (11, 6.0), (40, 5.0), (200, 3.0), (300, 9.0)],
            negative: vec![(11, 7.0), (100, 4.5), (300, 2.0)],
        };
        assert_eq!(false_alarms(&tr.scores, 4.0), 2);
        assert_eq!(false_alarms(&tr.scores, 2.5), 3);
        assert_eq!(false_alarms(&tr.scores, 10.0), 0);
        // Either stream: the larger score of each minute, in minute order.
        let either = stream_scores(&tr, Stream::Either);
        assert_eq!(
            either,
            vec![
                (10, 5.0),
                (11, 7.0),
                (40, 5.0),
                (100, 4.5),
                (200, 3.0),
                (300, 9.0)
            ]
        );
        assert_eq!(false_alarms(&either, 4.0), 2);
    }

    #[test]
    fn negative_oracle_sees_a_small_negative_wave_the_total_oracle_cannot() {
        let widths = [900, 1800, 3600, 7200, 14_400, 28_800];
        // ~1/h watches: the negatives rise far more, relatively, than the
        // total; over the quiet weeks the negative stream is tested against
        // its own usual rate, so its threshold is set honestly.
        let mut traces = Vec::new();
        for seed in 0..6 {
            traces.push(trace(&Scenario::quiet(seed, 0), &widths));
            for rise in 0..RISE_CLASSES.len() {
                traces.push(trace(&Scenario::crisis(seed, 0, rise), &widths));
            }
        }
        let total = ceiling_of(&traces, 0.05, Stream::Total);
        let negative = ceiling_of(&traces, 0.05, Stream::Negative);
        let either = ceiling_of(&traces, 0.05, Stream::Either);
        for c in [&total, &negative, &either] {
            assert!(c.quiet.false_alarms_per_week() <= 0.05 + 1e-9);
        }
        assert!(
            negative.crises.before_peak > total.crises.before_peak,
            "negative {} total {}",
            negative.crises.before_peak,
            total.crises.before_peak
        );
        assert!(either.crises.before_peak + 2 >= negative.crises.before_peak);
    }
}
