//! Count-aware tail probabilities: Poisson, negative binomial and binomial
//! upper tails, from the regularized incomplete beta and gamma functions.
//!
//! Pure numerics, no allocation. Accuracy is about 1e-10 relative in the
//! range detection uses (counts up to millions, probabilities down to
//! 1e-300); below that the tail is reported as 0. The continued fractions
//! follow Numerical Recipes (3rd ed., §6.2 and §6.4) with the modified Lentz
//! method.

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let s = (std::f64::consts::PI * x).sin().abs();
        return std::f64::consts::PI.ln() - s.ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

const EPS: f64 = 1e-14;
const TINY: f64 = 1e-300;
const MAX_ITER: usize = 20_000;

/// Keeps a continued-fraction term away from zero (modified Lentz).
fn away_from_zero(x: f64) -> f64 {
    if x.abs() < TINY { TINY } else { x }
}

/// One modified-Lentz step with coefficient `aa`: updates `c` and `d` and
/// returns the factor the fraction is multiplied by.
fn lentz_step(aa: f64, c: &mut f64, d: &mut f64) -> f64 {
    *d = 1.0 / away_from_zero(1.0 + aa * *d);
    *c = away_from_zero(1.0 + aa / *c);
    *d * *c
}

/// Continued fraction of the incomplete beta function (NR `betacf`).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 / away_from_zero(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..MAX_ITER {
        let m = m as f64;
        let m2 = 2.0 * m;
        h *= lentz_step(m * (b - m) * x / ((qam + m2) * (a + m2)), &mut c, &mut d);
        let del = lentz_step(
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
            &mut c,
            &mut d,
        );
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function I_x(a, b), a, b > 0.
pub(crate) fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_bt = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let bt = ln_bt.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        bt * beta_cf(a, b, x) / a
    } else {
        1.0 - bt * beta_cf(b, a, 1.0 - x) / b
    }
}

/// The regularized lower incomplete gamma function P(a, x), a > 0.
pub(crate) fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let gln = ln_gamma(a);
    if x < a + 1.0 {
        // Series.
        let mut ap = a;
        let mut del = 1.0 / a;
        let mut sum = del;
        for _ in 0..MAX_ITER {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * EPS {
                break;
            }
        }
        (sum.ln() - x + a * x.ln() - gln).exp()
    } else {
        // Continued fraction for Q, then P = 1 − Q.
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..MAX_ITER {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < EPS {
                break;
            }
        }
        1.0 - (-x + a * x.ln() - gln).exp() * h
    }
}

/// P(X ≥ x) for X ~ Poisson(mu).
pub(crate) fn poisson_tail(x: u64, mu: f64) -> f64 {
    if x == 0 {
        return 1.0;
    }
    if mu <= 0.0 {
        return 0.0;
    }
    gamma_p(x as f64, mu).clamp(0.0, 1.0)
}

/// P(X ≥ x) for a negative binomial of mean `mu` and variance
/// `mu + phi·mu²` (`phi` = 0 is Poisson).
pub(crate) fn nb_tail(x: u64, mu: f64, phi: f64) -> f64 {
    if x == 0 {
        return 1.0;
    }
    if mu <= 0.0 {
        return 0.0;
    }
    if phi < 1e-9 {
        return poisson_tail(x, mu);
    }
    let r = 1.0 / phi;
    // P(X ≥ x) = I_{1−p}(x, r) with p = r / (r + mu).
    beta_inc(x as f64, r, mu / (r + mu)).clamp(0.0, 1.0)
}

/// P(X = x) for a negative binomial of mean `mu` and variance
/// `mu + phi·mu²` (`phi` below 1e-9: Poisson).
pub(crate) fn nb_pmf(x: u64, mu: f64, phi: f64) -> f64 {
    if mu <= 0.0 {
        return if x == 0 { 1.0 } else { 0.0 };
    }
    let xf = x as f64;
    let ln = if phi < 1e-9 {
        xf * mu.ln() - mu - ln_gamma(xf + 1.0)
    } else {
        let r = 1.0 / phi;
        ln_gamma(xf + r) - ln_gamma(r) - ln_gamma(xf + 1.0)
            + r * (r / (r + mu)).ln()
            + xf * (mu / (r + mu)).ln()
    };
    ln.exp().clamp(0.0, 1.0)
}

/// The mid-p upper tail, P(X > x) + (1 − `weight`)·P(X = x): `weight` 0 is
/// the plain tail P(X ≥ x), ½ the mid-p value. A discrete tail jumps by
/// P(X = x) from one count to the next — at a handful of expected
/// mentions, by a factor of ten or more — so the plain tail is
/// conservative there (the false-alarm rate it gives is well below the
/// nominal level); the mid-p value is its usual correction.
pub(crate) fn nb_tail_mid(x: u64, mu: f64, phi: f64, weight: f64) -> f64 {
    let tail = nb_tail(x, mu, phi);
    if weight <= 0.0 || tail <= 0.0 {
        return tail;
    }
    (tail - weight * nb_pmf(x, mu, phi)).clamp(0.0, 1.0)
}

/// P(X ≥ k) for X ~ Binomial(n, p).
pub(crate) fn binomial_tail(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    beta_inc(k as f64, (n - k + 1) as f64, p).clamp(0.0, 1.0)
}

/// P(Z ≥ z) for a standard normal Z, z ≥ 0 (through P(½, z²/2) = erf(z/√2)).
fn normal_upper(z: f64) -> f64 {
    if z <= 0.0 {
        return 0.5;
    }
    0.5 * (1.0 - gamma_p(0.5, z * z / 2.0))
}

/// The z with P(Z ≥ z) = `q` (0 < q ≤ ½), by bisection.
fn normal_quantile_upper(q: f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 40.0_f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if normal_upper(mid) > q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The smallest count `x` whose Poisson mid-p tail (weight `weight`, see
/// [`nb_tail_mid`]) is at most `alpha`: where a window of mean `mu`
/// becomes improbable. The tail decreases with `x`: galloping from the
/// mean, then bisection.
pub(crate) fn poisson_mid_threshold(mu: f64, alpha: f64, weight: f64) -> u64 {
    first_improbable(mu, |x| nb_tail_mid(x, mu, 0.0, weight) <= alpha)
}

/// The smallest count from the mean of `mu` on at which `improbable`
/// (true from some count on, never false again) holds: galloping from the
/// mean, then bisection. Shared by the count thresholds.
fn first_improbable(mu: f64, improbable: impl Fn(u64) -> bool) -> u64 {
    let mut lo = mu.max(0.0).floor() as u64;
    let mut hi = lo.max(1);
    while !improbable(hi) {
        lo = hi;
        hi = hi.saturating_mul(2);
        if hi >= u64::MAX / 4 {
            return hi;
        }
    }
    // Invariant: improbable(hi); lo is not, or is at most the mean.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if improbable(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    if improbable(lo) { lo } else { hi }
}

/// Expected up-crossings, per step, of the count threshold `x` by a
/// moving-window count: the window holds Poisson(`mu`) and each step
/// (one minute) adds Poisson(`step`) arrivals and drops as many in
/// expectation, a Skellam step `D` (taken independent of the window's
/// count). A crossing needs the window at `x − j` and `D ≥ j`:
/// Σ_j P(X = x − j)·P(D ≥ j). `d_tail[j − 1]` is P(D ≥ j) (see
/// [`skellam_tail`]); steps beyond it are taken as impossible.
pub(crate) fn crossing_rate(x: u64, mu: f64, d_tail: &[f64]) -> f64 {
    let mut r = 0.0;
    for (j, pd) in (1u64..).zip(d_tail) {
        if j > x {
            break;
        }
        r += nb_pmf(x - j, mu, 0.0) * pd;
    }
    r
}

/// P(D ≥ j) for j = 1, 2, … while it exceeds 1e-15, D = A − B with A, B
/// independent Poisson(`step`) (a Skellam step).
pub(crate) fn skellam_tail(step: f64) -> Vec<f64> {
    let mut out = Vec::new();
    if step <= 0.0 {
        return out;
    }
    // Terms of B up to far beyond its mean.
    let top = (step + 12.0 * step.sqrt() + 12.0).ceil() as u64;
    let pb: Vec<f64> = (0..=top).map(|b| nb_pmf(b, step, 0.0)).collect();
    for j in 1u64.. {
        let p: f64 = (0u64..)
            .zip(&pb)
            .map(|(b, pb)| pb * poisson_tail(j + b, step))
            .sum();
        if p < 1e-15 || j > 4 * top {
            break;
        }
        out.push(p);
    }
    out
}

/// Expected up-crossings per week of the thresholds of a rule testing
/// `widths` (seconds) at tail probability `alpha` each (already corrected
/// for the widths), for a stream of `rate` mentions an hour counted as
/// Poisson, on a one-minute step: the false alarms a significance buys a
/// watch of that volume under its own null.
pub(crate) fn weekly_crossings(rate: f64, widths: &[i64], alpha: f64, weight: f64) -> f64 {
    let step = rate / 60.0;
    let d_tail = skellam_tail(step);
    widths
        .iter()
        .map(|&w| {
            let mu = rate * w.max(1) as f64 / 3600.0;
            let x = poisson_mid_threshold(mu, alpha, weight);
            crossing_rate(x, mu, &d_tail) * 10_080.0
        })
        .sum()
}

/// The same for counts so large that they are Gaussian: the threshold is
/// `z` standard deviations up with P(Z ≥ z) = `alpha`, and a window of `m`
/// steps crosses it φ(z)/√(π·m) times a step whatever the rate.
pub(crate) fn weekly_crossings_gaussian(widths: &[i64], alpha: f64) -> f64 {
    let z = normal_quantile_upper(alpha.clamp(1e-300, 0.5));
    let density = (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    widths
        .iter()
        .map(|&w| {
            let m = w.max(60) as f64 / 60.0;
            density / (std::f64::consts::PI * m).sqrt() * 10_080.0
        })
        .sum()
}

/// How much looser than `alpha` a stream of `rate` mentions an hour may
/// be judged so that its count thresholds cross no more often than a
/// Gaussian stream's at `alpha` (see [`weekly_crossings`]): the largest
/// 10^(k/10), k = 0, 1, …, at most `max`, whose crossings stay at or under
/// the reference. 1 for large streams, whose crossings already reach it.
/// `alpha` is a rule's tail probability after the correction for its
/// widths (`significance / widths`).
pub(crate) fn even_budget_relax(
    rate: f64,
    widths: &[i64],
    alpha: f64,
    weight: f64,
    max: f64,
) -> f64 {
    if rate <= 0.0 || widths.is_empty() || alpha <= 0.0 || max <= 1.0 {
        return 1.0;
    }
    let reference = weekly_crossings_gaussian(widths, alpha);
    let fits = |k: u32| {
        let a = (alpha * 10f64.powf(f64::from(k) / 10.0)).min(0.5);
        weekly_crossings(rate, widths, a, weight) <= reference
    };
    let top = (10.0 * max.log10()).floor().max(0.0) as u32;
    if !fits(0) {
        return 1.0;
    }
    // Crossings grow with the level: the largest k that fits, by bisection
    // (invariant: fits(lo); hi does not, or is past the top).
    let (mut lo, mut hi) = (0u32, top + 1);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    10f64.powf(f64::from(lo) / 10.0)
}

/// The smallest count `x` with `nb_tail(x, mu, phi) <= alpha`: the count at
/// which a window becomes improbable. Binary search, about 40 tail
/// evaluations; detection caches it per hour.
#[cfg(test)]
pub(crate) fn nb_threshold(mu: f64, phi: f64, alpha: f64) -> u64 {
    first_improbable(mu, |x| nb_tail(x, mu, phi) <= alpha)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(got: f64, expected: f64, rel: f64) {
        assert!(
            (got - expected).abs() <= rel * expected.abs().max(1e-300),
            "got {got:e}, expected {expected:e}"
        );
    }

    #[test]
    fn gamma_and_tails_match_known_values() {
        check(ln_gamma(5.0), 24f64.ln(), 1e-12);
        check(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-12);
        // P(Poisson(2) ≥ 5) = 1 − Σ_{k<5} e^-2 2^k/k! = 0.052653017343711.
        check(poisson_tail(5, 2.0), 0.052_653_017_343_711, 1e-9);
        // P(Poisson(100) ≥ 150) = 1.88421046604e-6 (direct summation).
        check(poisson_tail(150, 100.0), 1.884_210_466_04e-6, 1e-8);
        // NB with r = 2 (phi 0.5), mu = 2: p = 0.5; P(X ≥ 1) = 1 − p^r = 0.75.
        check(nb_tail(1, 2.0, 0.5), 0.75, 1e-10);
        // P(X ≥ 3) = 1 − Σ_{k<3} C(k+1,k) 0.5^2 0.5^k = 1 − (1/4)(1 + 1 + 3/4) = 0.3125.
        check(nb_tail(3, 2.0, 0.5), 0.3125, 1e-10);
        // Binomial(10, 0.5): P(X ≥ 8) = (45 + 10 + 1)/1024.
        check(binomial_tail(8, 10, 0.5), 56.0 / 1024.0, 1e-10);
        assert_eq!(nb_tail(0, 3.0, 0.1), 1.0);
        assert!(nb_tail(50_000, 600.0, 0.2) < 1e-100);
    }

    #[test]
    fn pmf_and_mid_p_match_known_values() {
        // P(Poisson(2) = 3) = e^-2 · 8 / 6.
        check(nb_pmf(3, 2.0, 0.0), (-2f64).exp() * 8.0 / 6.0, 1e-10);
        // NB r = 2, p = 0.5: P(X = 2) = C(3, 2) 0.5^2 0.5^2 = 3/16.
        check(nb_pmf(2, 2.0, 0.5), 3.0 / 16.0, 1e-10);
        // Mid-p: P(X ≥ 3) − ½ P(X = 3) = 0.3125 − ½ · 4 · 0.5^5.
        check(nb_tail_mid(3, 2.0, 0.5, 0.5), 0.3125 - 0.0625, 1e-10);
        // Weight 1 is P(X > x) = P(X ≥ x + 1).
        check(nb_tail_mid(7, 1.5, 0.0, 1.0), poisson_tail(8, 1.5), 1e-9);
        // Weight 0 is the plain tail.
        assert_eq!(nb_tail_mid(7, 1.5, 0.0, 0.0), poisson_tail(7, 1.5));
        // In the far tail of a small count the correction is about half.
        let plain = poisson_tail(12, 0.5);
        let mid = nb_tail_mid(12, 0.5, 0.0, 0.5);
        assert!(mid < 0.6 * plain && mid > 0.45 * plain, "{plain:e} {mid:e}");
        // At large counts it stays a tail probability, close to the plain one.
        let plain = nb_tail(5_400, 5_000.0, 0.001);
        let mid = nb_tail_mid(5_400, 5_000.0, 0.001, 0.5);
        assert!(mid < plain && mid > 0.9 * plain, "{plain:e} {mid:e}");
    }

    #[test]
    fn crossings_of_a_sparse_stream_are_arrivals_one_below_the_threshold() {
        // At a mention an hour, a step is almost always 0 or 1 arrival:
        // crossings per step ≈ P(arrival) · P(X = x − 1).
        let step = 1.0 / 60.0;
        let d = skellam_tail(step);
        let p1 = d.first().copied().unwrap_or(0.0);
        // P(D ≥ 1) = step · e^(−2·step) · (1 + O(step)): a few per cent
        // under the arrival probability.
        assert!((p1 - step).abs() < 0.05 * step, "{p1}");
        let mu = 0.25;
        let x = poisson_mid_threshold(mu, 1e-8, 0.5);
        assert!(nb_tail_mid(x, mu, 0.0, 0.5) <= 1e-8);
        assert!(nb_tail_mid(x - 1, mu, 0.0, 0.5) > 1e-8);
        let r = crossing_rate(x, mu, &d);
        // The first term dominates; two arrivals in a minute from x − 2
        // (24 × likelier a window, about 1e-4 as likely a step) add ~20 %.
        let first = p1 * nb_pmf(x - 1, mu, 0.0);
        let two = first + d[1] * nb_pmf(x - 2, mu, 0.0);
        assert!(r >= first && r < 1.3 * first, "{r:e} {first:e}");
        check(r, two, 0.05);
    }

    #[test]
    fn a_large_stream_crosses_about_as_often_as_a_gaussian_one() {
        let widths = [900, 3600, 28_800];
        let reference = weekly_crossings_gaussian(&widths, 1e-8);
        let large = weekly_crossings(20_000.0, &widths, 1e-8, 0.5);
        // A large discrete stream crosses at least as often as the
        // Gaussian reference (measured: about 4.8 × at 20,000 an hour), so
        // it is never loosened.
        assert!(large >= reference, "{large:e} {reference:e}");
        // A small stream crosses far less often at the same level.
        let small = weekly_crossings(1.0, &widths, 1e-8, 0.5);
        assert!(small < 0.6 * reference, "{small:e} {reference:e}");
        // The normal quantile inverts the normal tail.
        check(normal_upper(normal_quantile_upper(1e-8)), 1e-8, 1e-6);
    }

    #[test]
    fn the_even_budget_loosens_small_streams_only() {
        let widths = [900, 1800, 3600, 7200, 14_400, 28_800];
        let alpha = 1e-7 / 6.0;
        let small = even_budget_relax(0.3, &widths, alpha, 0.5, 1000.0);
        let large = even_budget_relax(300.0, &widths, alpha, 0.5, 1000.0);
        assert!(small > 1.0, "{small}");
        assert_eq!(large, 1.0);
        // Capped, and 1 when off or without a rate.
        assert!(even_budget_relax(0.3, &widths, alpha, 0.5, 2.0) <= 2.0);
        assert_eq!(even_budget_relax(0.3, &widths, alpha, 0.5, 1.0), 1.0);
        assert_eq!(even_budget_relax(0.0, &widths, alpha, 0.5, 1000.0), 1.0);
        // Whatever it loosens to, the small stream's crossings stay at or
        // under the reference.
        let reference = weekly_crossings_gaussian(&widths, alpha);
        assert!(weekly_crossings(0.3, &widths, alpha * small, 0.5) <= reference);
    }

    #[test]
    fn threshold_is_the_first_improbable_count() {
        for (mu, phi) in [(0.05, 0.0), (3.0, 0.0), (40.0, 0.3), (5_000.0, 0.05)] {
            let x = nb_threshold(mu, phi, 1e-6);
            assert!(nb_tail(x, mu, phi) <= 1e-6, "{mu} {phi} {x}");
            assert!(nb_tail(x - 1, mu, phi) > 1e-6, "{mu} {phi} {x}");
        }
    }
}
