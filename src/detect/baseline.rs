//! The expected volume of a watch: a robust, seasonal baseline learnt online
//! from hourly counts, that does not learn the anomaly it is looking at.
//!
//! Model: the count of hour `h` is `level × profile[hour of day]` times a
//! noise whose relative variance depends on the width it is summed over
//! (`phi` per width class: a negative binomial of variance `mu + phi·mu²`).
//! After each completed hour:
//! * an hour the detector found **suspicious** (a window ending in it was
//!   improbable, see `detect`) is not learnt at all, for up to
//!   `freeze_hours` hours in a row — so neither a spike nor a rise that
//!   takes many hours is absorbed while it is being judged; past that, a
//!   lasting change of level is learnt as usual;
//! * the count is **clipped** at `CLIP × expected + SLACK` before it updates
//!   anything, so what does get learnt moves the level by a bounded step;
//! * `level` is an exponentially weighted mean of the de-seasonalised counts
//!   with a long memory (`level_hours`, two days by default: a rise taking
//!   ten hours is not followed), a running mean over the first hours;
//! * `profile[h]` is an exponentially weighted mean, over days, of the
//!   hour's share of the level (a running mean over the first days), kept at
//!   mean 1: the daily seasonality;
//! * a **weekly** factor ([`Model::with_weekly`]; weekdays and weekends by
//!   default): each complete UTC day's learnt total against the mean of
//!   the seven days ending with it, averaged over weeks, applied once two
//!   weeks are known — so that a weekend is not taken for a fall of the
//!   level, nor Monday for a rise;
//! * the level *before* each recent hour was learnt is kept
//!   ([`Model::expected_hour`] of a past hour uses it), so the expected count
//!   of a window never includes the window itself.
//!
//! Over-dispersion is estimated per width class on the residuals after the
//! level and profile ([`Model::learn_dispersion`]), winsorised at three
//! standard deviations (robust to the odd burst), floored at 0 (Poisson) —
//! and, as the detector builds it ([`Model::with_phi_floor`]), at a small
//! floor per hour that shrinks on longer widths.
//!
//! Everything is O(1) per hour and a few hundred bytes per watch, so the
//! model is rebuilt from the persisted buckets at start-up rather than
//! persisted itself. Pure: no clock, no I/O.

use std::collections::VecDeque;

/// Weight of a new day in an hour-of-day share (time constant 5 days).
pub(crate) const BETA: f64 = 1.0 / 5.0;
/// Weight of a new sample in a dispersion estimate (time constant 2 days of
/// hourly samples).
pub(crate) const GAMMA: f64 = 1.0 / 48.0;
/// Counts above `CLIP × expected + SLACK` are clipped before learning.
pub(crate) const CLIP: f64 = 3.0;
pub(crate) const SLACK: f64 = 5.0;
/// Hours learnt before clipping and suspicion apply (the level is still a
/// guess).
pub(crate) const UNCLIPPED_HOURS: u32 = 6;
/// Hours learnt before an hour can be judged suspicious.
pub(crate) const SUSPECT_AFTER_HOURS: u32 = 24;
/// Largest dispersion believed (a relative standard deviation of 150 %).
const MAX_PHI: f64 = 2.25;
/// Least expected count for the profile and dispersion to learn from: below
/// it, counts are mostly Poisson noise.
const MIN_LEVEL: f64 = 2.0;
/// Residuals are winsorised at this many standard deviations.
const WINSOR: f64 = 3.0;
/// Levels before learning kept for past hours (the longest default width
/// is 8 hours).
const PAST_HOURS: usize = 26;
/// Weight of a new week in a day-of-week factor (time constant 3 weeks; a
/// running mean over the first weeks).
const WEEK_BETA: f64 = 1.0 / 3.0;
/// Complete days learnt before the day-of-week factors apply (two weeks:
/// one week gives the first ratio of each weekday, the second confirms it).
const WEEKLY_AFTER_DAYS: u32 = 14;
/// Day-of-week factors are kept within these bounds.
const WEEK_MIN: f64 = 0.2;
const WEEK_MAX: f64 = 3.0;

/// A seasonal baseline of hourly counts.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// De-seasonalised mentions per hour.
    level: f64,
    /// Share of the level per hour of day (UTC), mean 1.
    profile: [f64; 24],
    /// Hours learnt.
    hours: u32,
    /// Days learnt per hour of day (the profile's running mean).
    days: [u32; 24],
    /// `(unix hour, level before it was learnt, whether it was learnt)` of
    /// the latest hours, oldest first.
    past: VecDeque<(i64, f64, bool)>,
    /// Next unix hour to learn (the current level applies from it on).
    next: Option<i64>,
    /// Width classes (seconds, ascending) and their dispersion and samples.
    widths: Vec<i64>,
    phi: Vec<f64>,
    phi_n: Vec<u32>,
    /// Suspicious hours in a row (skipped, or learnt past the freeze).
    frozen: u32,
    /// Weight of a new hour in the level.
    alpha: f64,
    /// Most suspicious hours skipped in a row.
    freeze_hours: u32,
    /// Least dispersion believed (see [`Model::with_phi_floor`]).
    phi_floor: f64,
    /// The weekly profile (see [`Model::with_weekly`]); `None`: off.
    week: Option<Box<Week>>,
    /// Gap hours in a row (see [`Model::is_gap`]).
    gap_run: u32,
    /// The latest gap hours (unix hours, at most [`GAPS_KEPT`]).
    gaps: VecDeque<i64>,
}

/// Most hours in a row taken for a gap in the source ([`Model::is_gap`]):
/// past a day of silence, the silence is learnt (the watch may have gone
/// quiet for good).
pub(crate) const MAX_GAP_HOURS: u32 = 24;
/// Hours learnt before an hour can be a gap: a zero after two hours that
/// made it improbable is already telling (a wrong guess of the level errs
/// towards not learning a quiet hour, which raises no alarm).
const GAP_AFTER_HOURS: u32 = 2;
/// Gap hours remembered for [`Model::gap_secs`] (a week of them: the
/// day-one fallback needs them only while a watch warms up).
const GAPS_KEPT: usize = 168;

/// Which weekly profile a model learns (see [`Model::with_weekly`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weekly {
    /// None: the hour-of-day profile and the level only.
    #[default]
    Off,
    /// A factor for weekdays and one for weekends.
    Split,
}

/// A weekday and a weekend factor learnt from daily totals: each complete
/// UTC day's learnt total (suspicious hours count as their expected count,
/// clipped hours as clipped) against the mean of the seven days ending
/// with it, averaged per class over weeks. Applies once
/// [`WEEKLY_AFTER_DAYS`] complete days are known and both classes have a
/// ratio. (A factor per day of the week was measured and not adopted: one
/// week's ratio per weekday is noisy, see the README.)
#[derive(Debug, Clone)]
struct Week {
    /// Factor of weekdays and of weekends ([`Week::class`]), mean 1 over
    /// the week.
    factor: [f64; 2],
    /// Ratios learnt per class.
    n: [u32; 2],
    /// The unix day being summed, its total so far and its hours.
    day: Option<i64>,
    total: f64,
    hours: u32,
    /// `(unix day, total)` of the latest complete days, oldest first.
    days: VecDeque<(i64, f64)>,
    /// Complete days learnt.
    complete: u32,
    /// Whether the factors apply (see [`Week::applies`]), kept up to date
    /// at each day's end: read on every expected count.
    on: bool,
}

impl Week {
    fn new() -> Week {
        Week {
            on: false,
            factor: [1.0; 2],
            n: [0; 2],
            day: None,
            total: 0.0,
            hours: 0,
            days: VecDeque::new(),
            complete: 0,
        }
    }

    fn applies(&self) -> bool {
        self.complete >= WEEKLY_AFTER_DAYS && self.n.iter().all(|&n| n > 0)
    }

    /// The class of unix day `d`: 1 for Saturday and Sunday, 0 for the
    /// other days.
    fn class(d: i64) -> usize {
        // 1970-01-01 (unix day 0) was a Thursday: days 2 and 3 mod 7 are
        // Saturday and Sunday.
        let k = d.rem_euclid(7);
        usize::from(k == 2 || k == 3)
    }

    /// The factor of unix hour `h` (1 until it applies).
    fn at(&self, h: i64) -> f64 {
        if self.on {
            self.factor[Week::class(h.div_euclid(24))]
        } else {
            1.0
        }
    }

    /// Adds the learnt count of unix hour `h`; closes the day on its last
    /// hour.
    fn add(&mut self, h: i64, x: f64) {
        let d = h.div_euclid(24);
        if self.day != Some(d) {
            self.day = Some(d);
            self.total = 0.0;
            self.hours = 0;
        }
        self.total += x;
        self.hours += 1;
        if h.rem_euclid(24) != 23 {
            return;
        }
        if self.hours == 24 {
            if self.days.back().is_some_and(|&(p, _)| p != d - 1) {
                self.days.clear();
            }
            self.days.push_back((d, self.total));
            while self.days.len() > 7 {
                self.days.pop_front();
            }
            self.complete += 1;
            let mean = self.days.iter().map(|&(_, t)| t).sum::<f64>() / 7.0;
            if self.days.len() == 7 && mean > 0.0 {
                let k = Week::class(d);
                self.n[k] += 1;
                // A class of several days learns as fast per week.
                let per_week = [5.0, 2.0][k];
                let b = (WEEK_BETA / per_week).max(1.0 / f64::from(self.n[k]));
                let r = (self.total / mean).clamp(WEEK_MIN, WEEK_MAX);
                self.factor[k] += b * (r - self.factor[k]);
                let m = (5.0 * self.factor[0] + 2.0 * self.factor[1]) / 7.0;
                for f in &mut self.factor {
                    *f = (*f / m).clamp(WEEK_MIN, WEEK_MAX);
                }
            }
        } else {
            // A day with gaps (hours skipped at the horizon): start over.
            self.days.clear();
        }
        self.day = None;
        self.on = self.applies();
    }
}

impl Default for Model {
    fn default() -> Self {
        Model::new(&[3600], 48.0, 24)
    }
}

impl Model {
    /// A model with dispersion classes `widths` (seconds), a level time
    /// constant of `level_hours` and at most `freeze_hours` suspicious hours
    /// skipped in a row.
    pub(crate) fn new(widths: &[i64], level_hours: f64, freeze_hours: u32) -> Model {
        let mut widths: Vec<i64> = widths.iter().copied().filter(|w| *w > 0).collect();
        widths.sort_unstable();
        widths.dedup();
        if widths.is_empty() {
            widths.push(3600);
        }
        Model {
            level: 0.0,
            profile: [1.0; 24],
            hours: 0,
            days: [0; 24],
            past: VecDeque::new(),
            next: None,
            phi: vec![0.0; widths.len()],
            phi_n: vec![0; widths.len()],
            widths,
            frozen: 0,
            alpha: 1.0 / level_hours.max(1.0),
            freeze_hours,
            phi_floor: 0.0,
            week: None,
            gap_run: 0,
            gaps: VecDeque::new(),
        }
    }

    /// The same model with a weekly profile (`Weekly::Split`): a weekday
    /// and a weekend factor on top of the hour-of-day profile, learnt from
    /// the ratio of each complete day to the seven days ending with it
    /// (suspicious hours count as expected), applied once two weeks are
    /// known.
    pub(crate) fn with_weekly(mut self, weekly: Weekly) -> Model {
        self.week = match weekly {
            Weekly::Off => None,
            Weekly::Split => Some(Box::new(Week::new())),
        };
        self
    }

    /// The day-of-week factor of unix hour `h` (1 without a weekly
    /// profile, or before it applies).
    fn week_at(&self, h: i64) -> f64 {
        self.week.as_ref().map_or(1.0, |w| w.at(h))
    }

    /// The same model believing at least `floor` of over-dispersion on an
    /// hour (less on longer widths, see [`Model::phi`]): real mention counts are never tighter than that, and
    /// an estimate from a few days of residuals is noisy — below the floor,
    /// the tail of a large watch would be far more confident than its data
    /// allow. Negligible for small counts (`phi·mu²` ≪ `mu`).
    pub(crate) fn with_phi_floor(mut self, floor: f64) -> Model {
        self.phi_floor = floor.clamp(0.0, MAX_PHI);
        self
    }

    /// Completed hours learnt.
    pub(crate) fn hours(&self) -> u32 {
        self.hours
    }

    /// The dispersion width classes, ascending.
    pub(crate) fn widths(&self) -> &[i64] {
        &self.widths
    }

    /// The level that applies to unix hour `h`: for an hour already learnt,
    /// the level before it was learnt.
    fn level_at(&self, h: i64) -> f64 {
        if self.next.is_none_or(|n| h >= n) {
            return self.level;
        }
        // One entry per hour learnt, consecutive: index it directly.
        let i = match self.past.front() {
            Some(&(f, _, _)) => usize::try_from(h - f).unwrap_or(0),
            None => 0,
        };
        match self.past.get(i) {
            Some(&(_, l, _)) => l,
            None => self.level,
        }
    }

    /// Whether an hour from unix hour `h` on was skipped as suspicious.
    pub(crate) fn skipped_since(&self, h: i64) -> bool {
        self.past
            .iter()
            .rev()
            .take_while(|(p, _, _)| *p >= h)
            .any(|(_, _, learnt)| !learnt)
    }

    /// Expected count of unix hour `h`, from what was known before it.
    pub(crate) fn expected_hour(&self, h: i64) -> f64 {
        self.level_at(h) * self.profile[h.rem_euclid(24) as usize] * self.week_at(h)
    }

    /// Expected count of the seconds `(from, to]`.
    pub(crate) fn expected(&self, from: i64, to: i64) -> f64 {
        let mut mu = 0.0;
        let mut a = from;
        while a < to {
            let h = a.div_euclid(3600);
            let b = ((h + 1) * 3600).min(to);
            mu += self.expected_hour(h) * (b - a) as f64 / 3600.0;
            a = b;
        }
        mu
    }

    fn class(&self, width: i64) -> usize {
        // The detector asks for its own widths: no logarithm needed.
        if let Some(i) = self.widths.iter().position(|&w| w == width) {
            return i;
        }
        let lw = (width.max(1) as f64).ln();
        let mut best = 0;
        let mut dist = f64::MAX;
        for (i, w) in self.widths.iter().enumerate() {
            let d = ((*w as f64).ln() - lw).abs();
            if d < dist {
                dist = d;
                best = i;
            }
        }
        best
    }

    /// The over-dispersion `phi` of counts over `width` seconds (0 is
    /// Poisson), from the nearest width class.
    pub(crate) fn phi(&self, width: i64) -> f64 {
        let k = self.class(width);
        self.phi[k].max(self.floor(self.widths[k]))
    }

    /// The dispersion floor of width class `width`: the floor of one hour
    /// for widths up to an hour, shrinking as `1 / hours` beyond (the
    /// extra noise of independent hours averages out over a long window).
    fn floor(&self, width: i64) -> f64 {
        self.phi_floor * (3600.0 / width.max(1) as f64).min(1.0)
    }

    /// The de-seasonalised level, mentions per hour.
    pub(crate) fn level(&self) -> f64 {
        self.level
    }

    /// Learns one residual of width class `width`: `x` counted where `mu`
    /// was expected (before the hour it ends in was learnt).
    pub(crate) fn learn_dispersion(&mut self, width: i64, x: f64, mu: f64) {
        if mu < MIN_LEVEL || self.hours <= UNCLIPPED_HOURS {
            return;
        }
        let k = self.class(width);
        let sd = (mu + self.phi[k].max(self.floor(self.widths[k])) * mu * mu).sqrt();
        let x = x.clamp(mu - WINSOR * sd, mu + WINSOR * sd);
        let r = ((x - mu).powi(2) - mu) / (mu * mu);
        self.phi_n[k] += 1;
        let g = GAMMA.max(1.0 / f64::from(self.phi_n[k]));
        self.phi[k] = (self.phi[k] + g * (r - self.phi[k])).clamp(0.0, MAX_PHI);
    }

    /// Whether hour `h` may be judged suspicious: once the model has
    /// [`SUSPECT_AFTER_HOURS`] and, above [`MIN_LEVEL`], two days of this
    /// hour of day (before that, what looks odd is mostly the model still
    /// learning the daily cycle).
    pub(crate) fn judges(&self, h: i64) -> bool {
        let hod = h.rem_euclid(24) as usize;
        self.hours >= SUSPECT_AFTER_HOURS && (self.level < MIN_LEVEL || self.days[hod] >= 2)
    }

    /// Whether the unix hour `h`, about to be learnt and without a single
    /// mention, is a gap in the source (an outage) rather than a quiet
    /// hour: no mention at all is improbable at `p` for the count expected,
    /// after [`GAP_AFTER_HOURS`] learnt, for at most [`MAX_GAP_HOURS`] in a
    /// row. The count is taken as negative binomial with the dispersion
    /// *floor*, not the estimate: in the first days the estimate is
    /// inflated by a daily cycle not yet learnt and would excuse a zero
    /// that only a source that is down gives; a quiet hour wrongly taken
    /// for a gap is merely not learnt (the expectation errs high, which
    /// raises no alarm).
    pub(crate) fn is_gap(&self, h: i64, p: f64) -> bool {
        if self.hours < GAP_AFTER_HOURS || self.gap_run >= MAX_GAP_HOURS {
            return false;
        }
        let mu = self.expected_hour(h);
        let phi = self.floor(3600);
        let p0 = if phi > 0.0 {
            (-(phi * mu).ln_1p() / phi).exp()
        } else {
            (-mu).exp()
        };
        p0 <= p
    }

    /// Records the unix hour `h` as a gap ([`Model::is_gap`]): nothing is
    /// learnt from it (level, profile, dispersion: windows reaching into
    /// it are not dispersion samples), and the weekly profile counts it as
    /// expected — so an outage neither teaches the level down nor makes
    /// the return look like a rise.
    pub(crate) fn skip(&mut self, h: i64) {
        let expected = self.expected_hour(h);
        self.past.push_back((h, self.level, false));
        while self.past.len() > PAST_HOURS {
            self.past.pop_front();
        }
        self.next = Some(h + 1);
        self.gap_run = self.gap_run.saturating_add(1);
        self.gaps.push_back(h);
        while self.gaps.len() > GAPS_KEPT {
            self.gaps.pop_front();
        }
        if let Some(w) = self.week.as_mut() {
            w.add(h, expected);
        }
    }

    /// Seconds of `[from, to)` in hours recorded as gaps (the latest
    /// [`GAPS_KEPT`]): time the source was down, which a rate seen so far
    /// must not count.
    pub(crate) fn gap_secs(&self, from: i64, to: i64) -> i64 {
        self.gaps
            .iter()
            .map(|&h| ((h + 1) * 3600).min(to) - (h * 3600).max(from))
            .filter(|&d| d > 0)
            .sum()
    }

    /// Learns the count of the completed unix hour `h`. A `suspicious` hour
    /// (see [`Model::judges`]), for at most `freeze_hours` in a row, does
    /// not move the level or count as
    /// learnt; it still teaches its hour of day's share (clipped), so that
    /// a routine daily burst becomes expected. Returns whether the level
    /// learnt it.
    pub(crate) fn learn(&mut self, h: i64, count: f64, suspicious: bool) -> bool {
        self.gap_run = 0;
        let skip = suspicious && self.frozen < self.freeze_hours;
        self.past.push_back((h, self.level, !skip));
        while self.past.len() > PAST_HOURS {
            self.past.pop_front();
        }
        self.next = Some(h + 1);
        let hod = h.rem_euclid(24) as usize;
        let wk = self.week_at(h);
        let prof = self.profile[hod].max(0.05) * wk;
        let expected = self.level * prof;
        // Suspicious hours in a row, learnt or not: once past the freeze,
        // a lasting change is learnt until the hours look normal again.
        if suspicious {
            self.frozen = self.frozen.saturating_add(1);
        } else {
            self.frozen = 0;
        }
        if !skip {
            self.hours += 1;
        }
        let x = if self.hours > UNCLIPPED_HOURS {
            count.min(CLIP * expected + SLACK)
        } else {
            count
        };
        if !skip {
            let a = self.alpha.max(1.0 / f64::from(self.hours));
            if self.hours == 1 {
                self.level = x / prof;
            } else {
                self.level += a * (x / prof - self.level);
            }
        }
        if self.level >= MIN_LEVEL {
            self.days[hod] += 1;
            // A suspicious hour teaches its share at a quarter of the weight.
            let b = if skip {
                BETA / 4.0
            } else {
                BETA.max(1.0 / f64::from(self.days[hod]))
            };
            let share = (x / (self.level * wk)).min(CLIP * prof / wk + 1.0);
            self.profile[hod] += b * (share - self.profile[hod]);
            let mean = self.profile.iter().sum::<f64>() / 24.0;
            if mean > 0.0 {
                for p in &mut self.profile {
                    *p = (*p / mean).max(0.05);
                }
            }
        }
        if let Some(w) = self.week.as_mut() {
            // What the level learnt: a skipped hour counts as expected.
            w.add(h, if skip { expected } else { x });
        }
        !skip
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
            m.learn_dispersion(3600, c, m.expected_hour(h));
            m.learn(h, c, false);
        }
        check(&m, 24 * 14 + 10, 30.0, 3.0);
        check(&m, 24 * 14 + 2, 10.0, 1.5);
        assert!(m.phi(3600) < 0.05, "{}", m.phi(3600));
    }

    #[test]
    fn a_spike_does_not_inflate_the_baseline_for_days() {
        let mut m = Model::default();
        for h in 0..24 * 7 {
            m.learn(h, 20.0, false);
        }
        for h in 24 * 7..24 * 7 + 3 {
            m.learn(h, 2_000.0, false);
        }
        check(&m, 24 * 7 + 3, 20.0, 10.0);
        for h in 24 * 7 + 3..24 * 8 + 3 {
            m.learn(h, 20.0, false);
        }
        check(&m, 24 * 8 + 3, 20.0, 3.0);
    }

    #[test]
    fn suspicious_hours_are_not_learnt_until_the_freeze_ends() {
        let mut m = Model::new(&[3600], 48.0, 12);
        for h in 0..24 * 3 {
            m.learn(h, 20.0, false);
        }
        // A ten-hour rise judged suspicious: the level does not move.
        for (k, h) in (24 * 3..24 * 3 + 10).enumerate() {
            assert!(!m.learn(h, 20.0 + 15.0 * k as f64, true));
        }
        // (Their hours of day learnt a little: the others are a little lower.)
        check(&m, 24 * 3 + 10, 20.0, 2.0);
        // The window's hours are expected from the level before them.
        check(&m, 24 * 3 + 5, 20.0, 4.0);
        assert!((m.level() - 20.0).abs() < 0.5, "{}", m.level());
        // A lasting change is learnt once the freeze is over.
        for h in 24 * 3 + 10..24 * 6 {
            m.learn(h, 160.0, true);
        }
        assert!(m.level() > 100.0, "{}", m.level());
    }

    #[test]
    fn the_dispersion_floor_holds_per_hour_and_shrinks_on_longer_widths() {
        let widths = [900, 3600, 28_800];
        let mut plain = Model::new(&widths, 48.0, 24);
        let mut floored = Model::new(&widths, 48.0, 24).with_phi_floor(0.05);
        // Exactly constant counts: the estimated dispersion is floored at 0.
        for h in 0..24 * 5 {
            for m in [&mut plain, &mut floored] {
                let mu = m.expected_hour(h);
                m.learn_dispersion(3600, 50.0, mu);
                m.learn_dispersion(900, 12.5, mu / 4.0);
                m.learn(h, 50.0, false);
            }
        }
        assert_eq!(plain.phi(3600), 0.0);
        assert!(
            (floored.phi(900) - 0.05).abs() < 1e-12,
            "{}",
            floored.phi(900)
        );
        assert!((floored.phi(3600) - 0.05).abs() < 1e-12);
        assert!((floored.phi(28_800) - 0.05 / 8.0).abs() < 1e-12);
        // An estimate above the floor is kept as it is.
        for h in 24 * 5..24 * 15 {
            let mu = floored.expected_hour(h);
            let x = if h % 2 == 0 { 25.0 } else { 75.0 };
            floored.learn_dispersion(3600, x, mu);
            floored.learn(h, 50.0, false);
        }
        assert!(floored.phi(3600) > 0.15, "{}", floored.phi(3600));
    }

    #[test]
    fn dispersion_is_estimated_per_width_on_residuals() {
        let mut m = Model::new(&[900, 3600, 14400], 48.0, 24);
        // A small LCG: uniform in [0, 1).
        let mut state = 7u64;
        let mut uniform = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for h in 0..24 * 20 {
            m.learn(h, 100.0, false);
            // Hourly counts with a relative s.d. of 30 % (phi 0.09) at 1 h,
            // Poisson at 15 minutes.
            let mu = m.expected_hour(h + 1);
            let x = mu * (1.0 + 0.3 * (2.0 * uniform() - 1.0) * 3f64.sqrt());
            m.learn_dispersion(3600, x, mu);
            // Binomial(50, 0.5): variance 12.5 for a mean of 25 (under-dispersed).
            let q = (0..50).filter(|_| uniform() < 0.5).count() as f64;
            m.learn_dispersion(900, q, 25.0);
        }
        assert!((m.phi(3600) - 0.09).abs() < 0.04, "{}", m.phi(3600));
        assert!(m.phi(900) < 0.02, "{}", m.phi(900));
        assert_eq!(m.phi(1200), m.phi(900), "nearest class");
    }

    #[test]
    fn a_weekend_factor_is_learnt_and_applies_after_two_weeks() {
        // 40 an hour on weekdays, 20 at weekends (unix days 2 and 3 mod 7).
        let count = |h: i64| {
            if matches!(h.div_euclid(24).rem_euclid(7), 2 | 3) {
                20.0
            } else {
                40.0
            }
        };
        let mut plain = Model::default();
        let mut weekly = Model::default().with_weekly(Weekly::Split);
        for h in 0..24 * 13 {
            plain.learn(h, count(h), false);
            weekly.learn(h, count(h), false);
        }
        // Before two weeks: no factor, the same expectation as without.
        let sat = 24 * 16 + 12;
        assert_eq!(weekly.expected_hour(sat), plain.expected_hour(sat));
        // Up to the end of a Sunday (unix day 38, 3 mod 7).
        for h in 24 * 13..24 * 39 {
            plain.learn(h, count(h), false);
            weekly.learn(h, count(h), false);
        }
        // The next Monday (day 39) and Saturday (day 44).
        let (monday, saturday) = (24 * 39 + 12, 24 * 44 + 12);
        check(&weekly, monday, 40.0, 3.0);
        check(&weekly, saturday, 20.0, 2.0);
        // Without it, Monday is expected from a level that sank with the
        // weekend.
        assert!(
            plain.expected_hour(monday) < 36.0,
            "{}",
            plain.expected_hour(monday)
        );
    }

    #[test]
    fn suspicious_hours_count_as_expected_in_the_weekly_totals() {
        let mut m = Model::default().with_weekly(Weekly::Split);
        for h in 0..24 * 28_i64 {
            // A ten-fold burst every Friday (day 1 mod 7) at noon, judged
            // suspicious: it must not make weekdays look busy.
            let friday_noon = h.div_euclid(24).rem_euclid(7) == 1 && h % 24 == 12;
            let c = if friday_noon { 300.0 } else { 30.0 };
            m.learn(h, c, friday_noon);
        }
        let friday = 24 * 29 + 10;
        check(&m, friday, 30.0, 2.0);
    }
}
