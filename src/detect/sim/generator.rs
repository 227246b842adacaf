//! The crisis generator: simulated watches covering the situations users
//! face (issue 9), as mention counts per minute. It owns the classes, the
//! drawing of a scenario from `(seed, class)` and the sampling of its
//! counts; it does not run the detector (that is [`super::protocol`]).
//!
//! A watch ([`Profile`]):
//! * a mean volume: mentions an hour at the weekday daily mean, log-uniform
//!   within its [`VolumeClass`] (about 1, 3, 10, 30, 100 and 300 an hour);
//! * a daily cycle: `night + (afternoon − night) · c(h)^k` with `c` a
//!   raised cosine peaking at a per-watch hour between 13:00 and 17:00 UTC,
//!   nights at 0.3–0.4× the mean, a shape `k` in 0.6–0.85, and the
//!   afternoon level solved so that the day averages exactly the mean
//!   (afternoons reach 1.35–1.6×);
//! * weekends (Saturday, Sunday) at 0.6–0.7× the weekdays;
//! * counts Poisson around the rate times an hourly gamma noise of mean 1
//!   (gamma-Poisson): a quarter of the watches pure Poisson (no noise), the
//!   others with a relative s.d. log-uniform in 0.1–0.5, clearly
//!   over-dispersed at large volumes;
//! * harmless bumps (a newsletter, a TV mention): 1–4 a week on average
//!   (per watch), each multiplying the rate by 1.5–2 for 1–2 hours;
//! * a usual negative share of 5–25 %.
//!
//! A crisis ([`Crisis`]) starts at a random minute of the fourth week, after
//! 21 days of seasonal history (the simulation starts on Monday
//! [`EPOCH`](super::EPOCH)). Its excess rate rises from nothing to
//! `(F − 1) ×` the watch's mean over the rise time, so that the rate at the
//! peak is about `F ×` the usual rate; `F` (the peak factor) is log-uniform
//! in 4–25 and there is no minimum absolute peak (1.5 an hour rising to 30
//! is a crisis). The rise time is log-uniform within its [`RiseClass`]
//! (1–2 h, 2–4 h, 4–12 h, 12–24 h); the shape is sharp exponential (from 1 %
//! of the peak excess), linear, or logistic (1 % to 99 %), a third each.
//! After the peak the excess decays exponentially with a time constant of
//! 0.5–2× the rise time (at least 30 minutes). Crisis mentions are negative
//! in the proportion that brings the expected negative share at the peak to
//! a target of 50–85 % (all of them when even that falls short: a 4× crisis
//! cannot make 85 %). The crisis mentions follow the crisis curve exactly
//! (Poisson, no hourly noise); bumps are drawn only before the crisis.
//!
//! Quiet scenarios are eight weeks of the same watches, bumps and all,
//! without a crisis: what false alarms are counted on.
//!
//! Drawing: the scenario's parameters come from one stream keyed by
//! `(seed, kind, volume class, rise class)`, its counts from another, so a
//! parameter added later does not shift the counts of the others.

use super::families::{self, Family, Perturbation};
use super::{EPOCH, Rng};

/// A class of watch volume: mentions an hour at the weekday daily mean,
/// log-uniform in `[lo, hi)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolumeClass {
    pub name: &'static str,
    pub lo: f64,
    pub hi: f64,
}

/// The volume classes, centred on 1, 3, 10, 30, 100 and 300 an hour, with
/// boundaries near the geometric midpoints.
pub const VOLUME_CLASSES: [VolumeClass; 6] = [
    VolumeClass {
        name: "~1/h",
        lo: 0.75,
        hi: 1.75,
    },
    VolumeClass {
        name: "~3/h",
        lo: 1.75,
        hi: 5.5,
    },
    VolumeClass {
        name: "~10/h",
        lo: 5.5,
        hi: 17.5,
    },
    VolumeClass {
        name: "~30/h",
        lo: 17.5,
        hi: 55.0,
    },
    VolumeClass {
        name: "~100/h",
        lo: 55.0,
        hi: 175.0,
    },
    VolumeClass {
        name: "~300/h",
        lo: 175.0,
        hi: 350.0,
    },
];

/// A class of crisis rise time (start to peak), log-uniform in `[lo, hi)`
/// hours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiseClass {
    pub name: &'static str,
    pub lo_hours: f64,
    pub hi_hours: f64,
}

pub const RISE_CLASSES: [RiseClass; 4] = [
    RiseClass {
        name: "1-2h",
        lo_hours: 1.0,
        hi_hours: 2.0,
    },
    RiseClass {
        name: "2-4h",
        lo_hours: 2.0,
        hi_hours: 4.0,
    },
    RiseClass {
        name: "4-12h",
        lo_hours: 4.0,
        hi_hours: 12.0,
    },
    RiseClass {
        name: "12-24h",
        lo_hours: 12.0,
        hi_hours: 24.0,
    },
];

/// Peak factors are log-uniform in this range.
pub const PEAK_FACTOR: (f64, f64) = (4.0, 25.0);

/// Classes of peak factor, for reporting only (the factor is drawn over the
/// whole [`PEAK_FACTOR`] range, whatever the class).
pub(crate) const FACTOR_CLASSES: [(&str, f64, f64); 4] = [
    ("4-6x", 4.0, 6.0),
    ("6-10x", 6.0, 10.0),
    ("10-16x", 10.0, 16.0),
    ("16-25x", 16.0, 25.0),
];

/// The reporting class of a peak factor.
pub(crate) fn factor_class(f: f64) -> usize {
    FACTOR_CLASSES
        .iter()
        .position(|&(_, _, hi)| f < hi)
        .unwrap_or(FACTOR_CLASSES.len() - 1)
}

/// Days of seasonal history before the earliest crisis start.
pub const HISTORY_DAYS: i64 = 21;
/// Length of a quiet scenario.
pub const QUIET_WEEKS: i64 = 8;
/// Nights, as a share of the daily mean.
pub const NIGHT: (f64, f64) = (0.3, 0.4);
/// Shape exponent of the daily raised cosine (larger: a narrower peak).
pub(crate) const DAY_SHAPE: (f64, f64) = (0.6, 0.85);
/// Hour (UTC) of the afternoon peak.
pub(crate) const PEAK_HOUR: (f64, f64) = (13.0, 17.0);
/// Weekends, as a share of weekdays.
pub const WEEKEND: (f64, f64) = (0.6, 0.7);
/// Share of watches whose counts are pure Poisson.
pub(crate) const POISSON_SHARE: f64 = 0.25;
/// Relative s.d. of the hourly gamma noise of the other watches.
pub(crate) const DISPERSION: (f64, f64) = (0.1, 0.5);
/// Harmless bumps a week (a per-watch mean), their factor and hours.
pub(crate) const BUMPS_PER_WEEK: (f64, f64) = (1.0, 4.0);
pub const BUMP_FACTOR: (f64, f64) = (1.5, 2.0);
pub const BUMP_HOURS: (f64, f64) = (1.0, 2.0);
/// The usual negative share.
pub(crate) const NEGATIVE_SHARE: (f64, f64) = (0.05, 0.25);
/// The negative share targeted at a crisis peak.
pub const CRISIS_NEGATIVE_SHARE: (f64, f64) = (0.5, 0.85);
/// Decay time constant after the peak, as a multiple of the rise time.
pub(crate) const DECAY: (f64, f64) = (0.5, 2.0);

/// A harmless bump: the rate is multiplied by `factor` in `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bump {
    pub start: i64,
    pub end: i64,
    pub factor: f64,
}

/// One simulated watch's usual behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Mentions an hour at the weekday daily mean.
    pub mean_per_hour: f64,
    /// Night level, as a share of the mean.
    pub night: f64,
    /// Afternoon peak level, as a share of the mean.
    pub afternoon: f64,
    /// Hour (UTC) of the afternoon peak.
    pub peak_hour: f64,
    /// Shape exponent of the daily raised cosine.
    pub shape: f64,
    /// Weekend level, as a share of weekdays.
    pub weekend: f64,
    /// Relative s.d. of the hourly gamma noise; 0 is pure Poisson.
    pub dispersion: f64,
    /// Usual share of negative mentions.
    pub negative_share: f64,
    /// Harmless bumps, by start.
    pub bumps: Vec<Bump>,
    /// The daily profile for each minute of the day (mean 1).
    pub(crate) daily: Vec<f64>,
}

/// The shape of a crisis's rise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Exponential from 1 % of the peak excess.
    Exponential,
    Linear,
    /// Logistic from 1 % to 99 %, rescaled to run from 0 to 1.
    Logistic,
}

/// A crisis: an excess rate over the watch's usual one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crisis {
    /// Unix second the rise starts.
    pub start: i64,
    /// Hours from the start to the peak.
    pub rise_hours: f64,
    /// Rate at the peak over the watch's mean rate (about: the excess at
    /// the peak is `(peak_factor − 1) × mean`).
    pub peak_factor: f64,
    pub shape: Shape,
    /// Time constant of the exponential decay after the peak, in hours.
    pub decay_hours: f64,
    /// Negative share targeted at the peak.
    pub peak_negative_share: f64,
    /// Share of the crisis's own mentions that are negative.
    pub negative_share: f64,
    /// A first, smaller wave before this one ([`Family::TwoWaves`]).
    pub first: Option<Wave>,
}

/// A first wave before the main one: its excess rises with the main
/// wave's shape to `share` × the main peak excess, then decays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wave {
    /// Unix second it starts (the crisis's onset).
    pub start: i64,
    pub rise_hours: f64,
    /// Its peak excess, as a share of the main wave's.
    pub share: f64,
    pub decay_hours: f64,
}

/// The rise from 0 to 1 over `x` in [0, 1] of `shape`.
fn rise_curve(shape: Shape, x: f64) -> f64 {
    match shape {
        Shape::Exponential => (0.01f64.ln() * (1.0 - x)).exp(),
        Shape::Linear => x,
        Shape::Logistic => {
            let s = 2.0 * 99.0f64.ln();
            let sig = |x: f64| 1.0 / (1.0 + (-s * (x - 0.5)).exp());
            (sig(x) - sig(0.0)) / (sig(1.0) - sig(0.0))
        }
    }
}

/// The level of a wave starting at `start`, rising over `rise_hours` and
/// decaying with `decay_hours`, at `t` (0 before, 1 at the peak).
fn wave_level(shape: Shape, start: i64, rise_hours: f64, decay_hours: f64, t: i64) -> f64 {
    if t < start {
        return 0.0;
    }
    let peak = start + (rise_hours * 3600.0).round() as i64;
    if t >= peak {
        return (-((t - peak) as f64) / (decay_hours * 3600.0)).exp();
    }
    rise_curve(shape, (t - start) as f64 / (rise_hours * 3600.0))
}

impl Crisis {
    /// The peak time.
    pub fn peak(&self) -> i64 {
        self.start + (self.rise_hours * 3600.0).round() as i64
    }

    /// When the crisis begins: the first wave's start when there is one,
    /// else the main wave's. Detections count from here.
    pub fn onset(&self) -> i64 {
        self.first.map_or(self.start, |w| w.start)
    }

    /// The excess rate at `t`, as a fraction of the (main) peak excess.
    pub fn level(&self, t: i64) -> f64 {
        let main = wave_level(self.shape, self.start, self.rise_hours, self.decay_hours, t);
        match self.first {
            None => main,
            Some(w) => {
                main + w.share * wave_level(self.shape, w.start, w.rise_hours, w.decay_hours, t)
            }
        }
    }
}

/// Whether a scenario has a crisis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Crisis,
    Quiet,
}

/// One simulated watch over its whole span.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub seed: u64,
    pub kind: Kind,
    /// Index in [`VOLUME_CLASSES`].
    pub volume: usize,
    /// Index in [`RISE_CLASSES`] (crises only).
    pub rise: Option<usize>,
    pub profile: Profile,
    pub crisis: Option<Crisis>,
    /// First second simulated ([`EPOCH`]).
    pub start: i64,
    /// End of the simulation (exclusive): eight weeks for a quiet scenario,
    /// the peak plus three decay time constants (at least three hours) for
    /// a crisis.
    pub end: i64,
    /// The family it belongs to ([`super::families`]).
    pub family: Family,
    /// How its usual rate departs from the base watch's.
    pub perturbation: Perturbation,
    /// The crisis excess's factor: the family's level at the onset (1 in
    /// the base family).
    pub crisis_scale: f64,
}

impl Profile {
    /// Draws a watch of volume class `volume`; `bumps_until` bounds its
    /// bumps' ends.
    fn draw(r: &mut Rng, volume: &VolumeClass, bumps_from: i64, bumps_until: i64) -> Profile {
        let mean_per_hour = r.log_uniform(volume.lo, volume.hi);
        let night = r.uniform(NIGHT.0, NIGHT.1);
        let shape = r.uniform(DAY_SHAPE.0, DAY_SHAPE.1);
        let peak_hour = r.uniform(PEAK_HOUR.0, PEAK_HOUR.1);
        let weekend = r.uniform(WEEKEND.0, WEEKEND.1);
        let dispersion = if r.f64() < POISSON_SHARE {
            0.0
        } else {
            r.log_uniform(DISPERSION.0, DISPERSION.1)
        };
        let negative_share = r.uniform(NEGATIVE_SHARE.0, NEGATIVE_SHARE.1);
        // The raised cosine over the day, then the afternoon level that
        // makes the day average 1.
        let c: Vec<f64> = (0..1440)
            .map(|m| {
                let h = m as f64 / 60.0;
                let c = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * (h - peak_hour) / 24.0).cos();
                c.powf(shape)
            })
            .collect();
        let mean_c = c.iter().sum::<f64>() / c.len() as f64;
        let afternoon = night + (1.0 - night) / mean_c;
        let daily = c.iter().map(|c| night + (afternoon - night) * c).collect();
        let per_week = r.uniform(BUMPS_PER_WEEK.0, BUMPS_PER_WEEK.1);
        let weeks = (bumps_until - bumps_from) as f64 / (7.0 * 86_400.0);
        let n = r.poisson(per_week * weeks);
        let mut bumps: Vec<Bump> = (0..n)
            .filter_map(|_| {
                let start = bumps_from + (r.f64() * (bumps_until - bumps_from) as f64) as i64;
                let start = start - start.rem_euclid(60);
                let hours = r.uniform(BUMP_HOURS.0, BUMP_HOURS.1);
                let factor = r.uniform(BUMP_FACTOR.0, BUMP_FACTOR.1);
                let end = start + (hours * 3600.0) as i64;
                (end <= bumps_until).then_some(Bump { start, end, factor })
            })
            .collect();
        bumps.sort_by_key(|b| b.start);
        Profile {
            mean_per_hour,
            night,
            afternoon,
            peak_hour,
            shape,
            weekend,
            dispersion,
            negative_share,
            bumps,
            daily,
        }
    }

    /// The seasonal rate per hour at `t` (daily cycle and weekends, no
    /// bumps, no noise).
    pub fn seasonal(&self, t: i64) -> f64 {
        let minute = (t.rem_euclid(86_400) / 60) as usize;
        let day = (t - EPOCH).div_euclid(86_400).rem_euclid(7);
        let weekly = if day >= 5 { self.weekend } else { 1.0 };
        self.mean_per_hour * self.daily[minute] * weekly
    }

    /// Replaces the daily cycle by a two-peaked day
    /// ([`Family::TwoPeaks`]); `afternoon` becomes the day's highest level
    /// and `peak_hour` the lunch peak's hour.
    fn two_peaks(&mut self, r: &mut Rng) {
        let (daily, night, lunch) = families::two_peaks(r);
        self.afternoon = daily.iter().copied().fold(0.0, f64::max);
        self.night = night;
        self.peak_hour = lunch;
        self.daily = daily;
    }

    /// The bump factor at `t` (1 outside bumps).
    pub fn bump(&self, t: i64) -> f64 {
        self.bumps
            .iter()
            .find(|b| b.start <= t && t < b.end)
            .map_or(1.0, |b| b.factor)
    }
}

impl Scenario {
    /// The crisis scenario of `seed` in volume class `volume` and rise class
    /// `rise` (indices in [`VOLUME_CLASSES`] and [`RISE_CLASSES`]).
    pub fn crisis(seed: u64, volume: usize, rise: usize) -> Scenario {
        let mut r = Rng::from_key(&[seed, 1, volume as u64, rise as u64]);
        let vc = &VOLUME_CLASSES[volume.min(VOLUME_CLASSES.len() - 1)];
        let rc = &RISE_CLASSES[rise.min(RISE_CLASSES.len() - 1)];
        let history_end = EPOCH + HISTORY_DAYS * 86_400;
        let start = history_end + (r.f64() * 7.0 * 86_400.0) as i64;
        let start = start - start.rem_euclid(60);
        let profile = Profile::draw(&mut r, vc, EPOCH, start);
        let rise_hours = r.log_uniform(rc.lo_hours, rc.hi_hours);
        let peak_factor = r.log_uniform(PEAK_FACTOR.0, PEAK_FACTOR.1);
        let shape = match r.next_u64() % 3 {
            0 => Shape::Exponential,
            1 => Shape::Linear,
            _ => Shape::Logistic,
        };
        let decay_hours = (rise_hours * r.uniform(DECAY.0, DECAY.1)).max(0.5);
        let peak_negative_share = r.uniform(CRISIS_NEGATIVE_SHARE.0, CRISIS_NEGATIVE_SHARE.1);
        let mut crisis = Crisis {
            start,
            rise_hours,
            peak_factor,
            shape,
            decay_hours,
            peak_negative_share,
            negative_share: 1.0,
            first: None,
        };
        // The share of crisis mentions that brings the expected share at
        // the peak to its target: (s0·b + s·e) / (b + e) = target.
        let b = profile.seasonal(crisis.peak());
        let e = (peak_factor - 1.0) * profile.mean_per_hour;
        crisis.negative_share =
            ((peak_negative_share * (b + e) - profile.negative_share * b) / e).clamp(0.0, 1.0);
        let end = crisis.peak() + ((3.0 * decay_hours).max(3.0) * 3600.0) as i64;
        Scenario {
            seed,
            kind: Kind::Crisis,
            volume,
            rise: Some(rise),
            profile,
            crisis: Some(crisis),
            start: EPOCH,
            end,
            family: Family::Base,
            perturbation: Perturbation::default(),
            crisis_scale: 1.0,
        }
    }

    /// The quiet scenario of `seed` in volume class `volume`: eight weeks
    /// with harmless bumps and no crisis.
    pub fn quiet(seed: u64, volume: usize) -> Scenario {
        let mut r = Rng::from_key(&[seed, 2, volume as u64]);
        let vc = &VOLUME_CLASSES[volume.min(VOLUME_CLASSES.len() - 1)];
        let end = EPOCH + QUIET_WEEKS * 7 * 86_400;
        let profile = Profile::draw(&mut r, vc, EPOCH, end);
        Scenario {
            seed,
            kind: Kind::Quiet,
            volume,
            rise: None,
            profile,
            crisis: None,
            start: EPOCH,
            end,
            family: Family::Base,
            perturbation: Perturbation::default(),
            crisis_scale: 1.0,
        }
    }

    /// The crisis scenario of `seed` in `family` (see
    /// [`super::families`]): the base one of the same `(seed, volume,
    /// rise)`, perturbed.
    pub fn crisis_in(family: Family, seed: u64, volume: usize, rise: usize) -> Scenario {
        let mut sc = Scenario::crisis(seed, volume, rise);
        if family == Family::Base {
            return sc;
        }
        sc.family = family;
        let mut r = families::stream(family, seed, true, volume, rise);
        let Some(mut c) = sc.crisis else {
            return sc;
        };
        sc.perturb_watch(family, &mut r, c.start - families::OUTAGE_CLEARANCE_SECS);
        match family {
            Family::Base | Family::Trend | Family::DayLevel | Family::TwoPeaks | Family::Outage => {
            }
            Family::OffHours => {
                c.start = families::off_hours_start(&mut r, EPOCH + HISTORY_DAYS * 86_400);
            }
            Family::TwoWaves => {
                let (gap, rise_hours, share, decay_hours) = families::first_wave(&mut r);
                c.first = Some(Wave {
                    start: c.start - (gap * 3600.0) as i64 / 60 * 60,
                    rise_hours,
                    share,
                    decay_hours,
                });
            }
        }
        // Bumps stop before the crisis, as in the base family.
        let onset = c.onset();
        sc.profile.bumps.retain(|b| b.end <= onset);
        sc.crisis_scale = sc.perturbation.level(onset);
        let b = sc.profile.seasonal(c.peak()) * sc.perturbation.level(c.peak());
        let e = (c.peak_factor - 1.0) * sc.profile.mean_per_hour * sc.crisis_scale;
        c.negative_share =
            ((c.peak_negative_share * (b + e) - sc.profile.negative_share * b) / e).clamp(0.0, 1.0);
        sc.end = c.peak() + ((3.0 * c.decay_hours).max(3.0) * 3600.0) as i64;
        sc.crisis = Some(c);
        sc
    }

    /// The quiet scenario of `seed` in `family`: the base one of the same
    /// `(seed, volume)`, perturbed (the crisis-only families `offhours`
    /// and `twowaves` have the base quiet weeks).
    pub fn quiet_in(family: Family, seed: u64, volume: usize) -> Scenario {
        let mut sc = Scenario::quiet(seed, volume);
        if family == Family::Base {
            return sc;
        }
        sc.family = family;
        let mut r = families::stream(family, seed, false, volume, 0);
        let end = sc.end;
        sc.perturb_watch(family, &mut r, end);
        sc
    }

    /// Perturbs the scenario's watch as `family` does, drawing from `r`
    /// (the crisis-only families `offhours` and `twowaves` leave it as it
    /// is); outages fall between the start and `outage_end`.
    fn perturb_watch(&mut self, family: Family, r: &mut Rng, outage_end: i64) {
        match family {
            Family::Trend => self.perturbation.growth = families::trend(r),
            Family::DayLevel => {
                let days = (self.end - self.start) / 86_400 + 2;
                self.perturbation.days = families::day_levels(r, days as usize);
            }
            Family::TwoPeaks => self.profile.two_peaks(r),
            Family::Outage => {
                self.perturbation.outages = families::outages(r, self.start, outage_end);
            }
            Family::Base | Family::OffHours | Family::TwoWaves => {}
        }
    }

    /// The scenario of `kind` in `family` (`rise` is ignored for quiet
    /// scenarios).
    pub fn of(family: Family, kind: Kind, seed: u64, volume: usize, rise: usize) -> Scenario {
        match kind {
            Kind::Crisis => Scenario::crisis_in(family, seed, volume, rise),
            Kind::Quiet => Scenario::quiet_in(family, seed, volume),
        }
    }

    /// Expected (noise-free) usual and crisis rates per hour at `t`.
    pub fn rates(&self, t: i64) -> (f64, f64) {
        let mut usual = self.profile.seasonal(t) * self.profile.bump(t);
        if !self.perturbation.is_identity() {
            if self.perturbation.down(t) {
                return (0.0, 0.0);
            }
            usual *= self.perturbation.level(t);
        }
        let crisis = self.crisis.map_or(0.0, |c| {
            (c.peak_factor - 1.0) * self.profile.mean_per_hour * c.level(t)
        });
        (usual, crisis * self.crisis_scale)
    }

    /// The counts, minute by minute: see [`Counts`].
    pub fn counts(&self) -> Counts<'_> {
        let mut rng = match self.crisis {
            Some(_) => Rng::from_key(&[
                self.seed,
                3,
                self.volume as u64,
                self.rise.unwrap_or(0) as u64,
            ]),
            None => Rng::from_key(&[self.seed, 4, self.volume as u64]),
        };
        let noise = rng.gamma_or_one(self.profile.dispersion);
        Counts {
            sc: self,
            rng,
            t: self.start,
            noise,
        }
    }
}

/// The minutes of a scenario that have mentions: `(second, total,
/// negative)`, in time order, each minute's mentions at one random second
/// of it.
pub struct Counts<'a> {
    sc: &'a Scenario,
    rng: Rng,
    /// Start of the next minute.
    t: i64,
    /// This hour's gamma noise.
    noise: f64,
}

impl Iterator for Counts<'_> {
    type Item = (i64, u64, u64);

    fn next(&mut self) -> Option<(i64, u64, u64)> {
        while self.t < self.sc.end {
            let t = self.t;
            self.t += 60;
            if t.rem_euclid(3600) == 0 && t != self.sc.start {
                self.noise = self.rng.gamma_or_one(self.sc.profile.dispersion);
            }
            let (usual, crisis) = self.sc.rates(t);
            let quiet = self.rng.poisson(usual * self.noise / 60.0);
            let wave = if crisis > 0.0 {
                self.rng.poisson(crisis / 60.0)
            } else {
                0
            };
            if quiet + wave == 0 {
                continue;
            }
            let share = self.sc.crisis.map_or(0.0, |c| c.negative_share);
            let negative = self.rng.binomial(quiet, self.sc.profile.negative_share)
                + self.rng.binomial(wave, share);
            let s = t + (self.rng.next_u64() % 60) as i64;
            return Some((s, quiet + wave, negative));
        }
        None
    }
}

impl Rng {
    /// Gamma of mean 1 and relative s.d. `cv`; exactly 1 when `cv` is 0.
    fn gamma_or_one(&mut self, cv: f64) -> f64 {
        if cv <= 0.0 { 1.0 } else { self.gamma_unit(cv) }
    }
}
