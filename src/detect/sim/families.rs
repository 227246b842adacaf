//! Scenario families: situations outside the base generator's family
//! ([`super::generator`]: a raised-cosine day, weekends, hourly noise,
//! harmless bumps, one crisis wave), each a perturbation of the base watch
//! of the same `(seed, class)`. It owns the [`Family`] names and the
//! drawing and meaning of each perturbation; the generator applies them.
//!
//! A family's own parameters come from a stream keyed by `(seed, 5,
//! family, kind, volume class, rise class)`: the base watch (profile,
//! bumps, crisis) and its count stream are drawn exactly as in the base
//! family, so the base figures do not move and a family differs from the
//! base only by what its doc says.
//!
//! * [`Family::Base`]: the generator's scenarios, unchanged.
//! * [`Family::Trend`]: the level grows or shrinks steadily (a brand gaining
//!   or losing audience): a factor log-uniform in ×0.6–×1.8 over four weeks
//!   (28 days), exponential in time from the simulation's start (a quiet
//!   scenario's eight weeks go on at the same rate: ×0.36–×3.24 in all).
//! * [`Family::DayLevel`]: day-to-day level noise (news cycles): each UTC
//!   day's level × `exp(x_d − s²/2)`, `x` an AR(1) with stationary s.d. `s`
//!   uniform in 0.15–0.35 and a day-to-day correlation uniform in 0.3–0.7.
//! * [`Family::TwoPeaks`]: a French-style day: two Gaussian peaks, at lunch
//!   (11:00–13:00 UTC) and in the evening (18:00–21:00 UTC), of s.d.
//!   1–2 hours, the evening's height 0.7–1.3 × lunch's, nights at 0.1–0.3 ×
//!   the daily mean; the day still averages the mean.
//! * [`Family::Outage`]: once or twice a week (one, or two with probability
//!   one half, in each week) the source is down for 2–12 hours: no mentions
//!   at all, then normal again. In a crisis scenario an outage ends at
//!   least six hours before the crisis starts (a return is not a crisis).
//! * [`Family::OffHours`]: the crisis starts at night (22:00–06:00 UTC of a
//!   day of the fourth week) or, with probability one half, at any minute
//!   of the fourth week's weekend. Bumps after the new start are dropped.
//! * [`Family::TwoWaves`]: a first, smaller wave before the main one: it
//!   starts 6–24 hours before the main wave's start, rises with the main
//!   wave's shape over 0.5–2 hours to 20–40 % of the main wave's peak
//!   excess, then decays with a time constant of 1–3 hours. **The first
//!   wave's start counts as the crisis start**: an onset from then on is a
//!   detection (not a false alarm), "before the peak" means before the
//!   *main* wave's peak, and the lead is counted to that peak. The rise
//!   class is the main wave's.
//!
//! In every family a crisis's excess is scaled by the family's level at
//! the crisis start (so the peak is still about `F ×` the watch's usual
//! mean *then*), and the crisis mentions' negative share is solved again
//! for the new usual rate at the peak. Quiet scenarios of each family count
//! false alarms as the base ones do: a watch with a trend or an outage is
//! still quiet.

use super::EPOCH;
use super::Rng;

const DAY: i64 = 86_400;
const HOUR: f64 = 3600.0;

/// Trend: the level's factor over four weeks, log-uniform.
pub const TREND: (f64, f64) = (0.6, 1.8);
/// Day level: stationary s.d. of the log factor.
pub const DAY_LEVEL_SD: (f64, f64) = (0.15, 0.35);
/// Day level: correlation of the log factor from one day to the next.
pub const DAY_LEVEL_RHO: (f64, f64) = (0.3, 0.7);
/// Two peaks: hours (UTC) of the lunch and evening peaks.
pub const LUNCH_HOUR: (f64, f64) = (11.0, 13.0);
pub const EVENING_HOUR: (f64, f64) = (18.0, 21.0);
/// Two peaks: night level, as a share of the daily mean.
pub const TWO_PEAKS_NIGHT: (f64, f64) = (0.1, 0.3);
/// Two peaks: s.d. of each peak, hours; evening height over lunch's.
pub(crate) const PEAK_SD_HOURS: (f64, f64) = (1.0, 2.0);
pub(crate) const EVENING_HEIGHT: (f64, f64) = (0.7, 1.3);
/// Outages: hours down.
pub const OUTAGE_HOURS: (f64, f64) = (2.0, 12.0);
/// Outages: the last one ends at least this long before a crisis starts.
pub const OUTAGE_CLEARANCE_SECS: i64 = 6 * 3600;
/// Off hours: the night, hours UTC (22:00 to 06:00).
pub const NIGHT_START_HOUR: i64 = 22;
pub const NIGHT_HOURS: i64 = 8;
/// Two waves: hours from the first wave's start to the main one's.
pub const FIRST_WAVE_GAP_HOURS: (f64, f64) = (6.0, 24.0);
/// Two waves: the first wave's peak excess, as a share of the main one's.
pub const FIRST_WAVE_SHARE: (f64, f64) = (0.2, 0.4);
/// Two waves: the first wave's rise and decay time constant, hours.
pub(crate) const FIRST_WAVE_RISE_HOURS: (f64, f64) = (0.5, 2.0);
pub(crate) const FIRST_WAVE_DECAY_HOURS: (f64, f64) = (1.0, 3.0);

/// A family of scenarios: see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Family {
    #[default]
    Base,
    Trend,
    DayLevel,
    TwoPeaks,
    Outage,
    OffHours,
    TwoWaves,
}

/// Every family, base first.
pub const FAMILIES: [Family; 7] = [
    Family::Base,
    Family::Trend,
    Family::DayLevel,
    Family::TwoPeaks,
    Family::Outage,
    Family::OffHours,
    Family::TwoWaves,
];

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Base => "base",
            Family::Trend => "trend",
            Family::DayLevel => "daylevel",
            Family::TwoPeaks => "twopeaks",
            Family::Outage => "outage",
            Family::OffHours => "offhours",
            Family::TwoWaves => "twowaves",
        }
    }

    /// The family's part of its parameter stream's key.
    fn key(self) -> u64 {
        FAMILIES.iter().position(|&f| f == self).unwrap_or(0) as u64
    }
}

impl std::str::FromStr for Family {
    type Err = String;

    fn from_str(s: &str) -> Result<Family, String> {
        FAMILIES
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = FAMILIES.iter().map(|f| f.name()).collect();
                format!("unknown family `{s}`: use {} or all", names.join(", "))
            })
    }
}

/// How a scenario's usual rate departs from its base watch's (identity for
/// the base family).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Perturbation {
    /// Log growth of the level per second from [`EPOCH`] (trend).
    pub growth: f64,
    /// The level's factor of each UTC day from [`EPOCH`] (day level; none:
    /// 1).
    pub days: Vec<f64>,
    /// Outages `[start, end)`: no mentions.
    pub outages: Vec<(i64, i64)>,
}

impl Perturbation {
    /// Whether it changes nothing.
    pub fn is_identity(&self) -> bool {
        self.growth == 0.0 && self.days.is_empty() && self.outages.is_empty()
    }

    /// The level's factor at `t` (trend × day level; outages aside).
    pub fn level(&self, t: i64) -> f64 {
        let mut f = 1.0;
        if self.growth != 0.0 {
            f *= (self.growth * (t - EPOCH) as f64).exp();
        }
        if !self.days.is_empty() {
            let d = (t - EPOCH).div_euclid(DAY).max(0) as usize;
            f *= self.days[d.min(self.days.len() - 1)];
        }
        f
    }

    /// Whether the source is down at `t`.
    pub fn down(&self, t: i64) -> bool {
        self.outages.iter().any(|&(s, e)| s <= t && t < e)
    }
}

/// The stream of a family's parameters for one scenario.
pub(crate) fn stream(family: Family, seed: u64, crisis: bool, volume: usize, rise: usize) -> Rng {
    Rng::from_key(&[
        seed,
        5,
        family.key(),
        u64::from(crisis),
        volume as u64,
        rise as u64,
    ])
}

/// The trend's log growth per second.
pub(crate) fn trend(r: &mut Rng) -> f64 {
    r.log_uniform(TREND.0, TREND.1).ln() / (28.0 * DAY as f64)
}

/// The day factors of `days` days.
pub(crate) fn day_levels(r: &mut Rng, days: usize) -> Vec<f64> {
    let sd = r.uniform(DAY_LEVEL_SD.0, DAY_LEVEL_SD.1);
    let rho = r.uniform(DAY_LEVEL_RHO.0, DAY_LEVEL_RHO.1);
    let innovation = (1.0 - rho * rho).sqrt() * sd;
    let mut x = sd * r.normal();
    let mut out = Vec::with_capacity(days);
    for d in 0..days {
        if d > 0 {
            x = rho * x + innovation * r.normal();
        }
        out.push((x - sd * sd / 2.0).exp());
    }
    out
}

/// A two-peaked day: `(daily shape per minute, mean 1; night level; lunch
/// hour)`.
pub(crate) fn two_peaks(r: &mut Rng) -> (Vec<f64>, f64, f64) {
    let night = r.uniform(TWO_PEAKS_NIGHT.0, TWO_PEAKS_NIGHT.1);
    let lunch = r.uniform(LUNCH_HOUR.0, LUNCH_HOUR.1);
    let evening = r.uniform(EVENING_HOUR.0, EVENING_HOUR.1);
    let sd_lunch = r.uniform(PEAK_SD_HOURS.0, PEAK_SD_HOURS.1);
    let sd_evening = r.uniform(PEAK_SD_HOURS.0, PEAK_SD_HOURS.1);
    let height = r.uniform(EVENING_HEIGHT.0, EVENING_HEIGHT.1);
    // Circular distance in hours.
    let bump = |h: f64, at: f64, sd: f64| {
        let d = (h - at).rem_euclid(24.0);
        let d = d.min(24.0 - d);
        (-0.5 * (d / sd).powi(2)).exp()
    };
    let g: Vec<f64> = (0..1440)
        .map(|m| {
            let h = m as f64 / 60.0;
            bump(h, lunch, sd_lunch) + height * bump(h, evening, sd_evening)
        })
        .collect();
    let mean_g = g.iter().sum::<f64>() / g.len() as f64;
    let a = (1.0 - night) / mean_g;
    (g.iter().map(|g| night + a * g).collect(), night, lunch)
}

/// Outages over `[from, until)`: one or two in each week (a partial last
/// week by its share), 2–12 hours each, on whole minutes.
pub(crate) fn outages(r: &mut Rng, from: i64, until: i64) -> Vec<(i64, i64)> {
    let week = 7 * DAY;
    let mut out = Vec::new();
    let mut w = from;
    while w < until {
        let n = 1 + usize::from(r.f64() < 0.5);
        for _ in 0..n {
            let start = w + (r.f64() * week as f64) as i64;
            let start = start - start.rem_euclid(60);
            let hours = r.uniform(OUTAGE_HOURS.0, OUTAGE_HOURS.1);
            let end = start + (hours * HOUR) as i64;
            let end = end - end.rem_euclid(60);
            if end <= until {
                out.push((start, end));
            }
        }
        w += week;
    }
    out.sort_unstable();
    out
}

/// An off-hours crisis start in the week from `week_start` (a Monday
/// 00:00 UTC): a night (22:00–06:00 UTC) or, with probability one half,
/// the weekend; on a whole minute.
pub(crate) fn off_hours_start(r: &mut Rng, week_start: i64) -> i64 {
    let t = if r.f64() < 0.5 {
        let day = (r.f64() * 7.0) as i64;
        let into = (r.f64() * (NIGHT_HOURS * 3600) as f64) as i64;
        week_start + day * DAY + NIGHT_START_HOUR * 3600 + into
    } else {
        week_start + 5 * DAY + (r.f64() * (2 * DAY) as f64) as i64
    };
    t - t.rem_euclid(60)
}

/// Whether `t` is in the night (22:00–06:00 UTC) or a weekend.
pub fn is_off_hours(t: i64) -> bool {
    let h = t.rem_euclid(DAY) / 3600;
    let weekday = (t - EPOCH).div_euclid(DAY).rem_euclid(7);
    !((NIGHT_START_HOUR + NIGHT_HOURS) % 24..NIGHT_START_HOUR).contains(&h) || weekday >= 5
}

/// A first wave: `(hours before the main start, rise hours, share of the
/// main peak excess, decay hours)`.
pub(crate) fn first_wave(r: &mut Rng) -> (f64, f64, f64, f64) {
    (
        r.uniform(FIRST_WAVE_GAP_HOURS.0, FIRST_WAVE_GAP_HOURS.1),
        r.uniform(FIRST_WAVE_RISE_HOURS.0, FIRST_WAVE_RISE_HOURS.1),
        r.uniform(FIRST_WAVE_SHARE.0, FIRST_WAVE_SHARE.1),
        r.uniform(FIRST_WAVE_DECAY_HOURS.0, FIRST_WAVE_DECAY_HOURS.1),
    )
}
