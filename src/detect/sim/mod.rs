//! Simulated watches for measuring detection: a deterministic generator of
//! mention counts ([`generator`]) and its perturbed families of situations
//! ([`families`]: trends, day-level noise, two-peaked days, outages,
//! off-hours crises, two waves), the protocol that replays them through
//! the detector's count path and scores it ([`protocol`]), the ceiling of a
//! detector that knows the true rate ([`oracle`]), and the tables a person
//! reads ([`table`]).
//!
//! Everything here is a function of a seed: the pseudo-random stream is the
//! project's own SplitMix64 ([`Rng`]), so a seed gives the same series on
//! every platform and with every version of every crate.
//!
//! **Tuning and reporting seeds.** Scenarios are drawn from two disjoint
//! seed ranges: [`SeedSet::Tuning`] (seeds `0..1_000_000`) and
//! [`SeedSet::Reporting`] (seeds `1_000_000..2_000_000`). Detector defaults
//! are chosen on the tuning seeds (and the NAB dev series) only; the figures
//! the README reports are measured on the reporting seeds, which no default
//! was chosen on.

pub mod families;
pub mod generator;
pub mod oracle;
pub mod protocol;
pub mod table;

use std::ops::Range;
use std::path::Path;

use crate::diag::Diagnostic;
use crate::rules::RuleSet;

/// The simulations' epoch: Monday 2026-01-05 00:00 UTC.
pub const EPOCH: i64 = 1_767_571_200;

/// Tuning seeds: defaults may be chosen on them.
pub const TUNING_SEEDS: Range<u64> = 0..1_000_000;
/// Reporting seeds: the published figures; never tune on them.
pub const REPORTING_SEEDS: Range<u64> = 1_000_000..2_000_000;
const _: () = assert!(
    TUNING_SEEDS.end <= REPORTING_SEEDS.start,
    "seed sets overlap"
);

/// Which of the two disjoint seed ranges a run draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedSet {
    Tuning,
    Reporting,
}

impl SeedSet {
    pub fn name(self) -> &'static str {
        match self {
            SeedSet::Tuning => "tuning",
            SeedSet::Reporting => "reporting",
        }
    }

    /// The whole range of the set.
    pub fn range(self) -> Range<u64> {
        match self {
            SeedSet::Tuning => TUNING_SEEDS,
            SeedSet::Reporting => REPORTING_SEEDS,
        }
    }

    /// The first `cases` seeds of the set (at most the whole range).
    pub fn seeds(self, cases: u64) -> Range<u64> {
        let r = self.range();
        r.start..r.start + cases.min(r.end - r.start)
    }
}

impl std::str::FromStr for SeedSet {
    type Err = String;

    fn from_str(s: &str) -> Result<SeedSet, String> {
        match s {
            "tuning" => Ok(SeedSet::Tuning),
            "reporting" => Ok(SeedSet::Reporting),
            _ => Err(format!("unknown seed set `{s}`: use tuning or reporting")),
        }
    }
}

/// A small deterministic generator (SplitMix64): the simulation must not
/// depend on a crate's stream across versions.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// A generator keyed by several numbers (a seed and class indices):
    /// each part goes through the SplitMix64 finaliser, so nearby keys give
    /// unrelated streams.
    pub(crate) fn from_key(parts: &[u64]) -> Rng {
        let mut h = 0x6A09_E667_F3BC_C908u64;
        for &p in parts {
            h = mix(h ^ mix(p.wrapping_add(0x9E37_79B9_7F4A_7C15)));
        }
        Rng(h)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn normal(&mut self) -> f64 {
        let u = self.f64().max(1e-300);
        let v = self.f64();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Uniform in [lo, hi).
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Log-uniform in [lo, hi): uniform on a log scale, lo, hi > 0.
    pub(crate) fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.f64())
    }

    /// Poisson(lambda): inversion for small means, normal above 50.
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 50.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u64;
        }
        let l = (-lambda).exp();
        let mut k = 0;
        let mut p = self.f64();
        while p > l {
            k += 1;
            p *= self.f64();
        }
        k
    }

    /// Binomial(n, p) by normal approximation for large n.
    pub(crate) fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if n < 50 {
            return (0..n).filter(|_| self.f64() < p).count() as u64;
        }
        let m = n as f64 * p;
        let sd = (m * (1.0 - p)).sqrt();
        (m + sd * self.normal()).round().clamp(0.0, n as f64) as u64
    }

    /// Gamma with mean 1 and relative s.d. `cv` (Marsaglia–Tsang).
    pub(crate) fn gamma_unit(&mut self, cv: f64) -> f64 {
        let k = 1.0 / (cv * cv);
        let d = k - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.f64();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v / k;
            }
        }
    }
}

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The rule source of the simulated watch: a `volume_spike` and a
/// `negative_surge` rule, each with only `name` and `kind` (what a new user
/// writes), then each `overrides` line (TOML `key = value`) in both rules.
fn rule_source(overrides: &[String]) -> String {
    let mut src = "[watch]\nname = 'sim'\nquery = 'acme'\n".to_string();
    for (name, kind) in [("spike", "volume_spike"), ("negative", "negative_surge")] {
        src.push_str(&format!("\n[[alert]]\nname = '{name}'\nkind = '{kind}'\n"));
        for o in overrides {
            src.push_str(o);
            src.push('\n');
        }
    }
    src
}

/// The simulations' rule set: one watch with a `volume_spike` and a
/// `negative_surge` rule, each with only `name` and `kind` (all defaults).
pub fn default_rules() -> RuleSet {
    // The source is a constant that the tests parse.
    rules_with(&[]).unwrap_or_default()
}

/// [`default_rules`] with `overrides` (TOML `key = value` lines) added to
/// both rules, to measure an alternative to the defaults.
pub(crate) fn rules_with(overrides: &[String]) -> Result<RuleSet, Vec<Diagnostic>> {
    let src = rule_source(overrides);
    let w = crate::rules::parse_rule_file(Path::new("sim.toml"), &src, None)?;
    Ok(RuleSet { watches: vec![w] })
}
