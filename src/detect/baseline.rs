//! The expected volume of a watch: a robust, seasonal baseline learnt online
//! from hourly counts.
//!
//! Model: the hourly count of hour `h` is `level × profile[hour of day]`
//! times a noise of relative variance `phi` (a negative binomial: variance
//! `mu + phi·mu²`). After each completed hour:
//! * the count is **clipped** at `CLIP × expected + SLACK` before it updates
//!   anything, so a spike moves the level by at most `ALPHA × (CLIP − 1)`
//!   (about 17 %) an hour and is forgotten with the level's 12-hour time
//!   constant, instead of inflating the baseline for days;
//! * `level` is an exponentially weighted mean of the de-seasonalised counts
//!   (a running mean while fewer than `1/ALPHA` hours are known);
//! * `profile[h]` is an exponentially weighted mean, over days, of the
//!   hour's share of the level (a running mean over the first days), kept at
//!   mean 1: the daily seasonality;
//! * `phi` is an exponentially weighted method-of-moments estimate of the
//!   over-dispersion, `((x − mu)² − mu) / mu²`, from clipped counts.
//!
//! Everything is O(1) per hour and a few hundred bytes per watch, so the
//! model is rebuilt from the persisted buckets at start-up rather than
//! persisted itself. Pure: no clock, no I/O.

/// Weight of a new hour in the level (time constant 12 h).
pub const ALPHA: f64 = 1.0 / 12.0;
/// Weight of a new day in an hour-of-day share (time constant 5 days).
pub const BETA: f64 = 1.0 / 5.0;
/// Weight of a new hour in the dispersion (time constant 2 days).
pub const GAMMA: f64 = 1.0 / 48.0;
/// Counts above `CLIP × expected + SLACK` are clipped before learning.
pub const CLIP: f64 = 3.0;
pub const SLACK: f64 = 5.0;
/// Hours learnt before clipping applies (the level is still a guess).
const UNCLIPPED_HOURS: u32 = 6;
/// Largest dispersion believed (a relative standard deviation of 150 %).
const MAX_PHI: f64 = 2.25;
/// Least hourly level for the profile and dispersion to learn from: below
/// it, counts are mostly Poisson noise.
const MIN_LEVEL: f64 = 2.0;

/// A seasonal baseline of hourly counts.
#[derive(Debug, Clone)]
pub struct Model {
    level: f64,
    profile: [f64; 24],
    phi: f64,
    hours: u32,
    days: [u32; 24],
    phi_n: u32,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            level: 0.0,
            profile: [1.0; 24],
            phi: 0.0,
            hours: 0,
            days: [0; 24],
            phi_n: 0,
        }
    }
}

impl Model {
    /// Completed hours learnt.
    pub fn hours(&self) -> u32 {
        self.hours
    }

    /// Expected count of unix hour `h`.
    pub fn expected_hour(&self, h: i64) -> f64 {
        self.level * self.profile[h.rem_euclid(24) as usize]
    }

    /// The over-dispersion `phi` (0 is Poisson).
    pub fn phi(&self) -> f64 {
        self.phi
    }

    /// The de-seasonalised level, mentions per hour.
    pub fn level(&self) -> f64 {
        self.level
    }

    /// Learns the count of the completed unix hour `h`.
    pub fn learn(&mut self, h: i64, count: f64) {
        let hod = h.rem_euclid(24) as usize;
        let prof = self.profile[hod].max(0.05);
        let expected = self.level * prof;
        self.hours += 1;
        let x = if self.hours > UNCLIPPED_HOURS {
            count.min(CLIP * expected + SLACK)
        } else {
            count
        };
        let a = ALPHA.max(1.0 / f64::from(self.hours));
        if self.hours == 1 {
            self.level = x / prof;
        } else {
            self.level += a * (x / prof - self.level);
        }
        if self.hours > UNCLIPPED_HOURS && expected >= MIN_LEVEL {
            self.phi_n += 1;
            let r = ((x - expected).powi(2) - expected) / (expected * expected);
            let g = GAMMA.max(1.0 / f64::from(self.phi_n));
            self.phi = (self.phi + g * (r - self.phi)).clamp(0.0, MAX_PHI);
        }
        if self.level >= MIN_LEVEL {
            self.days[hod] += 1;
            let b = BETA.max(1.0 / f64::from(self.days[hod]));
            let share = (x / self.level).min(CLIP * prof + 1.0);
            self.profile[hod] += b * (share - self.profile[hod]);
            let mean = self.profile.iter().sum::<f64>() / 24.0;
            if mean > 0.0 {
                for p in &mut self.profile {
                    *p = (*p / mean).max(0.05);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(m: &Model, h: i64, expected: f64, tolerance: f64) {
        let got = m.expected_hour(h);
        assert!(
            (got - expected).abs() <= tolerance,
            "hour {h}: expected {expected}, got {got}"
        );
    }

    #[test]
    fn learns_level_and_daily_profile() {
        let mut m = Model::default();
        // Days at 10/hour, with 30/hour from 9 to 17.
        for h in 0..24 * 14 {
            let c = if (9..17).contains(&(h % 24)) {
                30.0
            } else {
                10.0
            };
            m.learn(h, c);
        }
        check(&m, 24 * 14 + 10, 30.0, 3.0);
        check(&m, 24 * 14 + 2, 10.0, 1.5);
        assert!(m.phi() < 0.05, "{}", m.phi());
    }

    #[test]
    fn a_spike_does_not_inflate_the_baseline_for_days() {
        let mut m = Model::default();
        for h in 0..24 * 7 {
            m.learn(h, 20.0);
        }
        for h in 24 * 7..24 * 7 + 3 {
            m.learn(h, 2_000.0);
        }
        check(&m, 24 * 7 + 3, 20.0, 25.0);
        for h in 24 * 7 + 3..24 * 8 + 3 {
            m.learn(h, 20.0);
        }
        // A day later the spike is forgotten.
        check(&m, 24 * 8 + 3, 20.0, 3.0);
    }
}
