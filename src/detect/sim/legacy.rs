//! The first crisis simulation, kept while `tests/detection.rs` refers to
//! it; the honest protocol is
//! [`super::generator`] and [`super::protocol`]. Its waves always peak at
//! 60 mentions an hour or more and the first defaults were tuned on it, so
//! its figures say nothing about small watches or slow burns (issue 9).
//!
//! Simulated crises: a quiet seasonal baseline, then a growing wave of
//! negative mentions, replayed through the detector's own count path
//! ([`Detector::ingest_counts`]). Used by the crisis test
//! (`tests/detection.rs`) to measure the
//! detection rate before the peak, the lead time and the false alarms per
//! week of quiet baseline. Deterministic: everything comes from a seed.
//!
//! The baseline: a rate per hour drawn log-uniformly in 5–300 mentions, a
//! daily profile (day ×1.6, night ×0.3), weekends at 70 %, and a
//! gamma-distributed hourly noise (relative s.d. 25 %), so counts are
//! over-dispersed like real mention volumes. 15 % of mentions are negative.
//! The wave starts after [`QUIET_DAYS`] days at a random hour, grows
//! exponentially for 2–8 hours to a peak of 4–15× the baseline at that time
//! (and at least [`MIN_PEAK_PER_HOUR`] mentions an hour: a bad buzz, not a
//! handful of posts), 75 % negative, then decays as fast.

use crate::alert::AlertState;
use crate::detect::Detector;
use crate::rules::RuleSet;

use super::{EPOCH, Rng};

/// Days of quiet baseline before the wave.
pub(crate) const QUIET_DAYS: i64 = 14;
/// A wave peaks at least this many mentions an hour.
pub(crate) const MIN_PEAK_PER_HOUR: f64 = 60.0;

/// One simulated watch.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub seed: u64,
    /// Mean mentions per hour of the quiet baseline.
    pub base_per_hour: f64,
    /// Unix second the wave starts.
    pub wave_start: i64,
    /// Hours of growth to the peak.
    pub growth_hours: f64,
    /// Peak rate over the baseline rate at the peak's time.
    pub peak_factor: f64,
}

impl Scenario {
    pub fn new(seed: u64) -> Scenario {
        let mut r = Rng::new(seed);
        let base_per_hour = 5.0 * (60.0f64).powf(r.f64());
        let wave_start = EPOCH + QUIET_DAYS * 86_400 + (r.f64() * 7.0 * 86_400.0) as i64;
        Scenario {
            seed,
            base_per_hour,
            wave_start,
            growth_hours: 2.0 + 6.0 * r.f64(),
            peak_factor: 4.0 + 11.0 * r.f64(),
        }
    }

    /// The wave's peak time.
    pub fn peak(&self) -> i64 {
        self.wave_start + (self.growth_hours * 3600.0) as i64
    }

    /// Seasonal baseline rate per hour at `t`.
    pub fn baseline(&self, t: i64) -> f64 {
        let hod = (t.rem_euclid(86_400)) as f64 / 3600.0;
        let day = (t - EPOCH).div_euclid(86_400).rem_euclid(7);
        let daily =
            0.3 + 1.3 * (0.5 - 0.5 * (2.0 * std::f64::consts::PI * (hod - 3.0) / 24.0).cos());
        let weekly = if day >= 5 { 0.7 } else { 1.0 };
        self.base_per_hour * daily * weekly
    }

    /// Rate per hour of the wave at `t` (0 outside it).
    pub(crate) fn wave(&self, t: i64) -> f64 {
        let peak_rate = (self.peak_factor * self.baseline(self.peak())).max(MIN_PEAK_PER_HOUR);
        let dt = (t - self.peak()) as f64 / 3600.0;
        if t < self.wave_start || dt > self.growth_hours {
            return 0.0;
        }
        // Exponential growth from 1 % of the peak, symmetric decay.
        peak_rate * (0.01f64.ln() * dt.abs() / self.growth_hours).exp()
    }
}

/// What one scenario gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// An alert fired in the wave, before its peak.
    pub before_peak: bool,
    /// Seconds from the first firing in the wave to the peak (negative:
    /// after it).
    pub lead_secs: Option<i64>,
    /// Firing events before the wave started (after the first day).
    pub false_alarms: usize,
    /// Weeks of quiet baseline the false alarms were counted over.
    pub quiet_weeks: f64,
    /// Mentions replayed.
    pub mentions: u64,
}

/// Replays scenario `sc` through a detector of `rules` (one watch, index 0):
/// minute counts spread at a random second of each minute.
pub fn run(rules: &RuleSet, sc: &Scenario) -> Outcome {
    let mut d = Detector::new(rules);
    let mut r = Rng::new(sc.seed.wrapping_mul(31).wrapping_add(7));
    let end = sc.peak() + (sc.growth_hours * 3600.0) as i64 + 3 * 3600;
    let count_from = EPOCH + 86_400;
    let mut noise = 1.0;
    let mut out = Outcome {
        before_peak: false,
        lead_secs: None,
        false_alarms: 0,
        quiet_weeks: (sc.wave_start - count_from) as f64 / (7.0 * 86_400.0),
        mentions: 0,
    };
    let mut t = EPOCH;
    while t < end {
        if t.rem_euclid(3600) == 0 {
            noise = r.gamma_unit(0.25);
        }
        let quiet = r.poisson(sc.baseline(t) * noise / 60.0);
        let wave = r.poisson(sc.wave(t) / 60.0);
        let total = quiet + wave;
        if total > 0 {
            let negative = r.binomial(quiet, 0.15) + r.binomial(wave, 0.75);
            let s = t + (r.next_u64() % 60) as i64;
            out.mentions += total;
            for tr in d.ingest_counts(0, s, total, negative) {
                if tr.event.state != AlertState::Firing {
                    continue;
                }
                if s < sc.wave_start {
                    if s >= count_from {
                        out.false_alarms += 1;
                    }
                } else if out.lead_secs.is_none() {
                    out.lead_secs = Some(sc.peak() - s);
                    out.before_peak = s <= sc.peak();
                }
            }
        }
        t += 60;
    }
    out
}

/// Figures over many scenarios.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub cases: usize,
    /// Share of waves alerted before their peak.
    pub detection_rate: f64,
    /// Median lead time before the peak, in minutes, of the waves alerted.
    pub median_lead_minutes: f64,
    /// False alarms per watch per week of quiet baseline.
    pub false_alarms_per_week: f64,
    pub mentions: u64,
}

/// Summarises outcomes.
pub fn summarise(outcomes: &[Outcome]) -> Summary {
    let cases = outcomes.len();
    let detected = outcomes.iter().filter(|o| o.before_peak).count();
    let mut leads: Vec<i64> = outcomes.iter().filter_map(|o| o.lead_secs).collect();
    leads.sort_unstable();
    let median = if leads.is_empty() {
        0.0
    } else {
        leads[leads.len() / 2] as f64 / 60.0
    };
    let fa: usize = outcomes.iter().map(|o| o.false_alarms).sum();
    let weeks: f64 = outcomes.iter().map(|o| o.quiet_weeks).sum();
    Summary {
        cases,
        detection_rate: detected as f64 / cases.max(1) as f64,
        median_lead_minutes: median,
        false_alarms_per_week: fa as f64 / weeks.max(1e-9),
        mentions: outcomes.iter().map(|o| o.mentions).sum(),
    }
}
