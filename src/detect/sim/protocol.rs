//! The crisis protocol: replays generated scenarios ([`super::generator`])
//! through the detector's count path and scores it, per class.
//!
//! Each scenario is one watch: every minute with mentions goes to
//! [`Detector::ingest_counts`] at one second of the minute (the same
//! decisions as mentions published then), the detector is pruned daily as
//! the daemon does, and [`Detector::advance`] closes the span. Only alert
//! *onsets* count: a firing event of stage threshold or early warning
//! (escalations and repeats of a firing alert are not new detections), of
//! any rule, at the event's time (`at`).
//!
//! Definitions (also in `veilleur eval-crisis`'s header):
//! * **detected before the peak**: the first onset at or after the crisis
//!   start is strictly before the peak time;
//! * **lead**: the peak time minus the time of that onset (only for crises
//!   detected before the peak);
//! * **detected at all**: an onset at or after the crisis start, before the
//!   end of the scenario (three decay time constants after the peak);
//! * **false alarm**: any onset in a quiet scenario, or before the crisis
//!   start in a crisis scenario. They are counted per watch-week: of quiet
//!   scenarios (eight weeks each) and separately of crisis histories.
//!
//! The crisis start is its onset
//! ([`Crisis::onset`](super::generator::Crisis::onset)): in the `twowaves`
//! family ([`super::families`]) the first wave's start, the peak being the
//! main wave's.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::DateTime;

use crate::alert::{AlertEvent, AlertState, Stage};
use crate::detect::{Detector, Tuning};
use crate::rules::RuleSet;

use super::SeedSet;
use super::families::Family;
use super::generator::{
    FACTOR_CLASSES, Kind, RISE_CLASSES, Scenario, VOLUME_CLASSES, factor_class,
};

const WEEK: f64 = 7.0 * 86_400.0;

/// Whether an event is a detection: an alert that starts firing.
pub(crate) fn is_onset(ev: &AlertEvent) -> bool {
    ev.state == AlertState::Firing && matches!(ev.stage, Stage::Threshold | Stage::EarlyWarning)
}

/// What one scenario gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub kind: Kind,
    pub volume: usize,
    pub rise: Option<usize>,
    /// Peak factor of the crisis (0 for quiet scenarios).
    pub peak_factor: f64,
    /// Seconds from the crisis start to its peak.
    pub rise_secs: i64,
    /// The first onset at or after the crisis start, as seconds after the
    /// start.
    pub detected_after_start: Option<i64>,
    /// Onsets before the crisis start, or anywhere in a quiet scenario.
    pub false_alarms: usize,
    /// Weeks over which false alarms were counted.
    pub watch_weeks: f64,
    /// Mentions replayed.
    pub mentions: u64,
}

impl Outcome {
    /// The crisis was detected strictly before its peak.
    pub fn before_peak(&self) -> bool {
        self.detected_after_start
            .is_some_and(|d| d < self.rise_secs)
    }

    /// Seconds from the detection to the peak, when before it.
    pub(crate) fn lead_secs(&self) -> Option<i64> {
        self.detected_after_start
            .filter(|&d| d < self.rise_secs)
            .map(|d| self.rise_secs - d)
    }
}

/// Replays one scenario through a fresh detector of `rules` (its watch 0).
pub fn replay(rules: &RuleSet, sc: &Scenario) -> Outcome {
    replay_with(rules, &Tuning::default(), sc)
}

/// [`replay`] with other method parameters (to measure alternatives).
pub(crate) fn replay_with(rules: &RuleSet, tuning: &Tuning, sc: &Scenario) -> Outcome {
    let crisis_start = sc.crisis.map(|c| c.onset());
    let mut out = Outcome {
        kind: sc.kind,
        volume: sc.volume,
        rise: sc.rise,
        peak_factor: sc.crisis.map_or(0.0, |c| c.peak_factor),
        rise_secs: sc.crisis.map_or(0, |c| c.peak() - c.onset()),
        detected_after_start: None,
        false_alarms: 0,
        watch_weeks: (crisis_start.unwrap_or(sc.end) - sc.start) as f64 / WEEK,
        mentions: 0,
    };
    out.mentions = replay_events(rules, tuning, sc, &mut |ev| {
        if !is_onset(ev) {
            return;
        }
        let at = ev.at.timestamp();
        match crisis_start {
            Some(s) if at >= s => {
                if out.detected_after_start.is_none() {
                    out.detected_after_start = Some(at - s);
                }
            }
            _ => out.false_alarms += 1,
        }
    });
    out
}

/// Replays `sc` through a fresh detector, calling `on_event` with each
/// event in order; returns the mentions replayed.
pub(crate) fn replay_events(
    rules: &RuleSet,
    tuning: &Tuning,
    sc: &Scenario,
    on_event: &mut dyn FnMut(&AlertEvent),
) -> u64 {
    let mut d = Detector::with_tuning(rules, tuning.clone());
    let mut mentions = 0;
    let mut next_prune = sc.start + 86_400;
    for (s, total, negative) in sc.counts() {
        mentions += total;
        for tr in d.ingest_counts(0, s, total, negative) {
            on_event(&tr.event);
        }
        if s >= next_prune {
            if let Some(at) = DateTime::from_timestamp(s, 0) {
                d.prune(at);
            }
            next_prune += 86_400;
        }
    }
    if let Some(end) = DateTime::from_timestamp(sc.end, 0) {
        for tr in d.advance(end) {
            on_event(&tr.event);
        }
    }
    mentions
}

/// Every scenario of a run: for each of `seeds`, a crisis per volume × rise
/// class and a quiet scenario per volume class.
pub fn scenarios(seeds: SeedSet, cases: u64) -> Vec<(Kind, u64, usize, usize)> {
    let mut all = Vec::new();
    for seed in seeds.seeds(cases) {
        for v in 0..VOLUME_CLASSES.len() {
            for r in 0..RISE_CLASSES.len() {
                all.push((Kind::Crisis, seed, v, r));
            }
            all.push((Kind::Quiet, seed, v, 0));
        }
    }
    all
}

/// Replays every scenario of `seeds` (`cases` per class) on `threads`
/// threads; `progress(done, total)` is called after each scenario. The
/// outcomes are in [`scenarios`] order whatever the threads.
pub fn run_all(
    rules: &RuleSet,
    seeds: SeedSet,
    cases: u64,
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Outcome> {
    run_all_with(
        rules,
        &Tuning::default(),
        Family::Base,
        seeds,
        cases,
        threads,
        progress,
    )
}

/// [`run_all`] with other method parameters, on the scenarios of `family`.
pub(crate) fn run_all_with(
    rules: &RuleSet,
    tuning: &Tuning,
    family: Family,
    seeds: SeedSet,
    cases: u64,
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Outcome> {
    let all = scenarios(seeds, cases);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; all.len()]);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(kind, seed, v, r)) = all.get(i) else {
                        break;
                    };
                    let sc = Scenario::of(family, kind, seed, v, r);
                    let o = replay_with(rules, tuning, &sc);
                    if let Ok(mut res) = results.lock() {
                        res[i] = Some(o);
                    }
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, all.len());
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

/// Figures of one class of scenarios.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub crises: usize,
    pub before_peak: usize,
    /// Leads of the crises detected before their peak, in seconds, sorted.
    pub leads: Vec<i64>,
    pub detected: usize,
    pub false_alarms: usize,
    pub watch_weeks: f64,
    pub mentions: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Outcome) {
        if o.kind == Kind::Crisis {
            self.crises += 1;
            if let Some(l) = o.lead_secs() {
                self.before_peak += 1;
                let at = self.leads.partition_point(|&x| x < l);
                self.leads.insert(at, l);
            }
            if o.detected_after_start.is_some() {
                self.detected += 1;
            }
        }
        self.false_alarms += o.false_alarms;
        self.watch_weeks += o.watch_weeks;
        self.mentions += o.mentions;
    }

    /// Share of crises detected before their peak, in [0, 1].
    pub fn before_peak_share(&self) -> f64 {
        self.before_peak as f64 / self.crises.max(1) as f64
    }

    /// Share of crises detected at all.
    pub(crate) fn detected_share(&self) -> f64 {
        self.detected as f64 / self.crises.max(1) as f64
    }

    /// Median lead of the crises detected before their peak, in minutes
    /// (the lower median; `None` when none was).
    pub fn median_lead_minutes(&self) -> Option<f64> {
        if self.leads.is_empty() {
            return None;
        }
        Some(self.leads[(self.leads.len() - 1) / 2] as f64 / 60.0)
    }

    /// False alarms per watch-week.
    pub fn false_alarms_per_week(&self) -> f64 {
        self.false_alarms as f64 / self.watch_weeks.max(1e-9)
    }
}

/// The tables of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Crises by volume class, then rise class.
    pub by_class: Vec<Vec<Stats>>,
    /// Crises by volume class (all rise times).
    pub by_volume: Vec<Stats>,
    /// Crises by rise class (all volumes).
    pub by_rise: Vec<Stats>,
    /// Crises by peak-factor class ([`FACTOR_CLASSES`]).
    pub by_factor: Vec<Stats>,
    /// Quiet scenarios by volume class.
    pub quiet: Vec<Stats>,
    /// Every crisis scenario (false alarms: over their histories).
    pub crises: Stats,
    /// Every quiet scenario.
    pub quiet_total: Stats,
}

/// Tabulates outcomes.
pub fn report(outcomes: &[Outcome]) -> Report {
    let nv = VOLUME_CLASSES.len();
    let mut rep = Report {
        by_class: vec![vec![Stats::default(); RISE_CLASSES.len()]; nv],
        by_volume: vec![Stats::default(); nv],
        by_rise: vec![Stats::default(); RISE_CLASSES.len()],
        by_factor: vec![Stats::default(); FACTOR_CLASSES.len()],
        quiet: vec![Stats::default(); nv],
        ..Report::default()
    };
    for o in outcomes {
        let v = o.volume.min(nv - 1);
        match (o.kind, o.rise) {
            (Kind::Crisis, Some(r)) => {
                let r = r.min(RISE_CLASSES.len() - 1);
                rep.by_class[v][r].add(o);
                rep.by_volume[v].add(o);
                rep.by_rise[r].add(o);
                rep.by_factor[factor_class(o.peak_factor)].add(o);
                rep.crises.add(o);
            }
            _ => {
                rep.quiet[v].add(o);
                rep.quiet_total.add(o);
            }
        }
    }
    rep
}

/// Why each rule of the simulated watch did or did not fire before a
/// crisis's peak (tests only: the attribution behind the README's small
/// classes). Causes, the first that holds at some evaluation between the
/// crisis start and its peak: `fires` (every condition holds), `gate`,
/// `factor`, `min_mentions` (the tail passes the significance but that
/// condition stops it), `level` (the tail passes only against the true
/// usual rate: the baseline's expected count is too high), `tail` (not
/// even then: the count is not improbable enough), `cold` (not warm).
/// With each, the ratio of the baseline's expected count of the widest
/// window to the true usual one at the first evaluation after the start.
#[cfg(test)]
pub(crate) fn attribute(
    rules: &RuleSet,
    tuning: &Tuning,
    sc: &Scenario,
) -> Vec<(&'static str, f64)> {
    use crate::detect::stats;
    const CAUSES: [&str; 7] = [
        "fires",
        "gate",
        "factor",
        "min_mentions",
        "level",
        "tail",
        "cold",
    ];
    let Some(c) = sc.crisis else {
        return Vec::new();
    };
    let nrules = rules.watches.first().map_or(0, |w| w.alerts.len());
    let mut best = vec![CAUSES.len() - 1; nrules];
    let mut ratio = vec![f64::NAN; nrules];
    let mut d = Detector::with_tuning(rules, tuning.clone());
    let cv2 = sc.profile.dispersion * sc.profile.dispersion;
    let mut next_prune = sc.start + 86_400;
    for (s, total, negative) in sc.counts() {
        if s >= c.peak() {
            break;
        }
        d.ingest_counts(0, s, total, negative);
        if s >= next_prune {
            if let Some(at) = DateTime::from_timestamp(s, 0) {
                d.prune(at);
            }
            next_prune += 86_400;
        }
        if s < c.start {
            continue;
        }
        for (k, b) in best.iter_mut().enumerate() {
            let neg = rules.watches[0].alerts[k].kind == crate::rules::AlertKind::NegativeSurge;
            let true_mu = |width: i64| {
                let mut mu = 0.0;
                let mut u = s - width;
                while u < s {
                    let r = sc.rates(u).0 / 60.0;
                    mu += if neg {
                        r * sc.profile.negative_share
                    } else {
                        r
                    };
                    u += 60;
                }
                mu
            };
            let probes = d.probe(0, k, s);
            if ratio[k].is_nan()
                && let Some(pr) = probes.iter().max_by_key(|p| p.width)
            {
                ratio[k] = pr.expected / true_mu(pr.width).max(1e-9);
            }
            for pr in probes {
                let cause = if !pr.warm {
                    6
                } else if pr.p <= pr.significance {
                    match (pr.min_ok, pr.factor_ok, pr.gate_ok) {
                        (true, true, true) => 0,
                        (true, true, false) => 1,
                        (true, false, _) => 2,
                        (false, _, _) => 3,
                    }
                } else {
                    let mu = true_mu(pr.width);
                    let phi = cv2 * (3600.0 / pr.width as f64).min(1.0);
                    let n = tuning.widths.len().max(1) as f64;
                    let p = stats::nb_tail_mid(pr.observed, mu, phi, tuning.mid_p) * n;
                    if p <= pr.significance { 4 } else { 5 }
                };
                *b = (*b).min(cause);
            }
        }
    }
    best.into_iter()
        .zip(ratio)
        .map(|(k, r)| (CAUSES[k], r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The false alarms of a family's quiet weeks, one line each (`cargo
    /// test --release --lib family_false_alarms -- --ignored --nocapture`;
    /// `FAMILY` names the family, `FA_CASES` the seeds): volume, weekday,
    /// hour, rule, width, observed / expected, and for an outage the hours
    /// since the source came back.
    #[test]
    #[ignore = "diagnostic: prints the false alarms of a family"]
    fn family_false_alarms() {
        use super::super::families::Family;
        let family: Family = std::env::var("FAMILY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(Family::Base);
        let cases: u64 = std::env::var("FA_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10);
        let rules = super::super::default_rules();
        let tuning = Tuning::default();
        for seed in SeedSet::Tuning.seeds(cases) {
            for (v, vc) in VOLUME_CLASSES.iter().enumerate() {
                let sc = Scenario::quiet_in(family, seed, v);
                replay_events(&rules, &tuning, &sc, &mut |ev| {
                    if !is_onset(ev) {
                        return;
                    }
                    let t = ev.at.timestamp();
                    let since = sc
                        .perturbation
                        .outages
                        .iter()
                        .filter(|o| o.1 <= t)
                        .map(|o| (t - o.1) as f64 / 3600.0)
                        .fold(f64::NAN, f64::min);
                    let day = (t - super::super::EPOCH).div_euclid(86_400);
                    println!(
                        "seed {seed:>3} {:<6} day {day:>2} wd {} h {:>4.1} {:<8} w {:>5} {:>6} / {:>8.1} level {:.2} outage+{since:.1}h",
                        vc.name,
                        day % 7,
                        (t.rem_euclid(86_400)) as f64 / 3600.0,
                        ev.rule,
                        ev.window_secs,
                        ev.observed,
                        ev.expected,
                        sc.perturbation.level(t),
                    );
                });
            }
        }
    }

    /// The attribution table of the small classes (`cargo test --release
    /// --lib attribution -- --ignored --nocapture`; `ATTRIBUTION_CASES`
    /// seeds, `ATTRIBUTION_SET` to measure an alternative parameter as
    /// `key=value`): per crisis of the ~1/h and ~3/h classes of the tuning
    /// seeds, what stops each rule before the peak. Checks that a crisis
    /// the replay detects before its peak has a rule whose every condition
    /// held then.
    #[test]
    #[ignore = "diagnostic: prints the attribution table"]
    #[allow(clippy::needless_range_loop)]
    fn attribution_of_the_small_classes() {
        let cases: u64 = std::env::var("ATTRIBUTION_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10);
        let mut tuning = Tuning::default();
        if let Ok(kv) = std::env::var("ATTRIBUTION_SET") {
            for one in kv.split(';').filter(|s| !s.is_empty()) {
                let (k, v) = one.split_once('=').unwrap();
                tuning.set(k, v).unwrap();
            }
        }
        let rules = super::super::default_rules();
        let mut table: std::collections::BTreeMap<(usize, &str, &str, bool), usize> =
            Default::default();
        for seed in SeedSet::Tuning.seeds(cases) {
            for v in 0..2 {
                for r in 0..RISE_CLASSES.len() {
                    let sc = Scenario::crisis(seed, v, r);
                    let o = replay_with(&rules, &tuning, &sc);
                    let a = attribute(&rules, &tuning, &sc);
                    if o.before_peak() {
                        assert!(
                            a.iter().any(|x| x.0 == "fires"),
                            "seed {seed} v {v} r {r}: {a:?}"
                        );
                    }
                    println!(
                        "seed {seed:>3} {:<5} {:<6} F {:>5.1} share {:.2} before-peak {:<5} spike {:<12} {:.2} negative {:<12} {:.2}",
                        VOLUME_CLASSES[v].name,
                        RISE_CLASSES[r].name,
                        sc.crisis.map_or(0.0, |c| c.peak_factor),
                        sc.profile.negative_share,
                        o.before_peak(),
                        a[0].0,
                        a[0].1,
                        a[1].0,
                        a[1].1
                    );
                    *table
                        .entry((v, a[0].0, a[1].0, o.before_peak()))
                        .or_default() += 1;
                }
            }
        }
        println!("volume spike        negative      before-peak  crises");
        for ((v, a, b, bp), n) in table {
            println!("{:<6} {a:<12} {b:<13} {bp:<12} {n}", VOLUME_CLASSES[v].name);
        }
    }
}
