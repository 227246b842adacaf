//! The crisis protocol: the generator is deterministic and draws its classes
//! as documented (volumes, daily and weekly cycles, bumps, crisis factors,
//! rise times, negative shares), the tuning and reporting seeds are
//! disjoint, and `veilleur eval-crisis` (the real binary) prints a
//! well-formed table and JSON.

use std::process::Command;

use veilleur::detect::sim::generator::{
    BUMP_FACTOR, BUMP_HOURS, CRISIS_NEGATIVE_SHARE, HISTORY_DAYS, Kind, NIGHT, PEAK_FACTOR,
    QUIET_WEEKS, RISE_CLASSES, Scenario, VOLUME_CLASSES, WEEKEND,
};
use veilleur::detect::sim::{EPOCH, REPORTING_SEEDS, SeedSet, TUNING_SEEDS};

const DAY: i64 = 86_400;

fn counts(sc: &Scenario) -> Vec<(i64, u64, u64)> {
    sc.counts().collect()
}

fn is_weekend(t: i64) -> bool {
    (t - EPOCH).div_euclid(DAY).rem_euclid(7) >= 5
}

#[test]
fn same_seed_gives_the_same_series_and_another_seed_another() {
    for (v, r) in [(0, 0), (3, 2), (5, 3)] {
        let a = Scenario::crisis(7, v, r);
        let b = Scenario::crisis(7, v, r);
        assert_eq!(a, b);
        let ca = counts(&a);
        assert!(!ca.is_empty());
        assert_eq!(ca, counts(&b), "crisis ({v}, {r})");
        let c = Scenario::crisis(8, v, r);
        assert_ne!(ca, counts(&c), "seed 8 differs from seed 7");
        // The same seed in another class is another watch.
        assert_ne!(a.profile, Scenario::crisis(7, (v + 1) % 6, r).profile);
    }
    let q = Scenario::quiet(3, 2);
    assert_eq!(counts(&q), counts(&Scenario::quiet(3, 2)));
    assert_ne!(counts(&q), counts(&Scenario::quiet(4, 2)));
}

#[test]
fn seed_sets_are_disjoint() {
    assert!(SeedSet::Tuning.range().end <= SeedSet::Reporting.range().start);
    assert_eq!(SeedSet::Tuning.range(), TUNING_SEEDS);
    assert_eq!(SeedSet::Reporting.range(), REPORTING_SEEDS);
    let t = SeedSet::Tuning.seeds(u64::MAX);
    let r = SeedSet::Reporting.seeds(u64::MAX);
    assert!(t.end <= r.start, "{t:?} {r:?}");
    assert_eq!(SeedSet::Tuning.seeds(5), 0..5);
    assert_eq!(SeedSet::Reporting.seeds(5), 1_000_000..1_000_005);
    assert_eq!("reporting".parse::<SeedSet>(), Ok(SeedSet::Reporting));
    assert!("test".parse::<SeedSet>().is_err());
}

#[test]
fn measured_volumes_fall_in_their_class() {
    for (v, class) in VOLUME_CLASSES.iter().enumerate() {
        for seed in 0..3 {
            let sc = Scenario::quiet(seed, v);
            let p = &sc.profile;
            assert!(
                p.mean_per_hour >= class.lo && p.mean_per_hour < class.hi,
                "{}: {}",
                class.name,
                p.mean_per_hour
            );
            // Weekday mentions per hour, measured from the counts.
            let weekday: u64 = counts(&sc)
                .iter()
                .filter(|c| !is_weekend(c.0))
                .map(|c| c.1)
                .sum();
            let hours = (QUIET_WEEKS * 5 * 24) as f64;
            let measured = weekday as f64 / hours;
            // Poisson and the hourly noise: a few percent; bumps add a
            // little.
            let tol = 0.12 + 3.0 / (p.mean_per_hour * hours).sqrt();
            assert!(
                (measured / p.mean_per_hour - 1.0).abs() < tol,
                "{} seed {seed}: measured {measured:.2}/h, drawn {:.2}/h",
                class.name,
                p.mean_per_hour
            );
            assert!(
                measured > class.lo * (1.0 - tol) && measured < class.hi * (1.0 + tol),
                "{} seed {seed}: measured {measured:.2}/h",
                class.name
            );
        }
    }
}

#[test]
fn nights_afternoons_and_weekends_have_their_documented_levels() {
    let mut poisson = 0;
    let mut dispersed = 0;
    for seed in 0..8 {
        let sc = Scenario::quiet(seed, 5);
        let p = &sc.profile;
        assert!(p.night >= NIGHT.0 && p.night < NIGHT.1, "{p:?}");
        assert!(p.afternoon > 1.3 && p.afternoon < 1.65, "{}", p.afternoon);
        assert!(p.weekend >= WEEKEND.0 && p.weekend < WEEKEND.1);
        if p.dispersion == 0.0 {
            poisson += 1;
        } else {
            dispersed += 1;
        }
        // Measured: weekday minutes by hour of day, against the mean.
        let mut by_hour = [0u64; 24];
        let (mut weekday, mut weekend) = (0u64, 0u64);
        for (t, n, _) in counts(&sc) {
            if is_weekend(t) {
                weekend += n;
            } else {
                weekday += n;
                by_hour[(t.rem_euclid(DAY) / 3600) as usize] += n;
            }
        }
        let mean_hour = weekday as f64 / 24.0;
        let lowest = *by_hour.iter().min().unwrap_or(&0) as f64 / mean_hour;
        let highest = *by_hour.iter().max().unwrap_or(&0) as f64 / mean_hour;
        // An hour's average smooths the extremes a little; the noise of
        // 40 weekdays adds a few percent.
        assert!(
            lowest > NIGHT.0 - 0.05 && lowest < NIGHT.1 + 0.08,
            "seed {seed}: night {lowest:.2}"
        );
        assert!(
            highest > 1.2 && highest < 1.75,
            "seed {seed}: afternoon {highest:.2}"
        );
        // Per day: 2 weekend days for 5 weekdays.
        let ratio = (weekend as f64 / 2.0) / (weekday as f64 / 5.0);
        assert!(
            ratio > WEEKEND.0 - 0.05 && ratio < WEEKEND.1 + 0.05,
            "seed {seed}: weekend {ratio:.2}"
        );
    }
    assert!(
        poisson > 0 || dispersed == 8,
        "some watches are pure Poisson"
    );
    assert!(dispersed > 0, "some watches are over-dispersed");
}

#[test]
fn harmless_bumps_are_a_few_a_week_at_one_and_a_half_to_twice_the_rate() {
    let mut bumps = 0;
    let mut weeks = 0.0;
    let mut measured_one = false;
    for seed in 0..40 {
        let sc = Scenario::quiet(seed, 5);
        weeks += QUIET_WEEKS as f64;
        bumps += sc.profile.bumps.len();
        for b in &sc.profile.bumps {
            assert!(
                b.factor >= BUMP_FACTOR.0 && b.factor < BUMP_FACTOR.1,
                "{b:?}"
            );
            let hours = (b.end - b.start) as f64 / 3600.0;
            assert!(
                hours >= BUMP_HOURS.0 - 0.01 && hours <= BUMP_HOURS.1,
                "{b:?}"
            );
            assert!(b.start >= sc.start && b.end <= sc.end);
        }
        // Measured on a pure-Poisson watch: the counts in a bump against
        // the seasonal rate.
        if sc.profile.dispersion == 0.0
            && let Some(b) = sc.profile.bumps.first()
        {
            let observed: u64 = counts(&sc)
                .iter()
                .filter(|c| c.0 >= b.start && c.0 < b.end)
                .map(|c| c.1)
                .sum();
            let usual: f64 = (b.start..b.end)
                .step_by(60)
                .map(|t| sc.profile.seasonal(t) / 60.0)
                .sum();
            let ratio = observed as f64 / usual;
            assert!(
                ratio > BUMP_FACTOR.0 * 0.85 && ratio < BUMP_FACTOR.1 * 1.15,
                "seed {seed}: bump ×{:.2} measured ×{ratio:.2}",
                b.factor
            );
            measured_one = true;
        }
    }
    let per_week = bumps as f64 / weeks;
    assert!((1.0..4.0).contains(&per_week), "{per_week} bumps a week");
    assert!(
        measured_one,
        "a pure-Poisson watch with a bump was measured"
    );
}

#[test]
fn crises_rise_as_their_class_says_after_three_weeks_of_history() {
    for (r, rc) in RISE_CLASSES.iter().enumerate() {
        for v in 0..VOLUME_CLASSES.len() {
            for seed in 0..5 {
                let sc = Scenario::crisis(seed, v, r);
                assert_eq!(sc.kind, Kind::Crisis);
                let c = sc.crisis.expect("a crisis scenario has a crisis");
                assert!(c.start >= EPOCH + HISTORY_DAYS * DAY);
                assert!(c.start < EPOCH + (HISTORY_DAYS + 7) * DAY);
                assert!(
                    c.rise_hours >= rc.lo_hours && c.rise_hours < rc.hi_hours,
                    "{}: {}",
                    rc.name,
                    c.rise_hours
                );
                assert!(c.peak_factor >= PEAK_FACTOR.0 && c.peak_factor < PEAK_FACTOR.1);
                assert!(c.level(c.start) <= 0.011 && c.level(c.start - 60) == 0.0);
                assert!((c.level(c.peak()) - 1.0).abs() < 1e-9);
                assert!(c.level(c.peak() + 3600) < 1.0);
                // No harmless bump overlaps the crisis.
                assert!(sc.profile.bumps.iter().all(|b| b.end <= c.start));
                // The expected negative share at the peak reaches its
                // target, unless even all-negative crisis mentions fall
                // short.
                let (usual, crisis) = sc.rates(c.peak());
                let share = (usual * sc.profile.negative_share + crisis * c.negative_share)
                    / (usual + crisis);
                assert!(
                    c.peak_negative_share >= CRISIS_NEGATIVE_SHARE.0
                        && c.peak_negative_share < CRISIS_NEGATIVE_SHARE.1
                );
                if c.negative_share < 1.0 {
                    assert!((share - c.peak_negative_share).abs() < 1e-9);
                } else {
                    assert!(share < c.peak_negative_share && share > 0.45, "{share}");
                }
            }
        }
    }
}

#[test]
fn measured_crisis_peaks_reach_their_factor() {
    // Large watches: the counts of the half hour before the peak against
    // the usual rate.
    for seed in 0..6 {
        let sc = Scenario::crisis(seed, 5, 2);
        let c = sc.crisis.expect("crisis");
        let from = c.peak() - 1800;
        let window: Vec<(i64, u64, u64)> = counts(&sc)
            .into_iter()
            .filter(|x| x.0 >= from && x.0 < c.peak())
            .collect();
        let observed: u64 = window.iter().map(|x| x.1).sum();
        let negative: u64 = window.iter().map(|x| x.2).sum();
        let (mut usual, mut expected) = (0.0, 0.0);
        for t in (from..c.peak()).step_by(60) {
            let (u, cr) = sc.rates(t);
            usual += u / 60.0;
            expected += (u + cr) / 60.0;
        }
        let ratio = observed as f64 / expected;
        // The usual part carries the hourly noise (relative s.d. ≤ 0.5).
        let noise = 1.0 + 1.5 * sc.profile.dispersion * usual / expected;
        assert!(
            ratio > 1.0 / noise - 0.1 && ratio < noise + 0.1,
            "seed {seed}: observed {observed}, expected {expected:.0}"
        );
        let share = negative as f64 / observed as f64;
        assert!(share > 0.4 && share < 0.92, "seed {seed}: share {share:.2}");
        // Against the watch's mean, the peak is about the drawn factor.
        let per_hour = observed as f64 * 2.0 / sc.profile.mean_per_hour;
        assert!(
            per_hour > 0.6 * c.peak_factor && per_hour < 1.5 * c.peak_factor + 1.0,
            "seed {seed}: ×{per_hour:.1} for a factor {:.1}",
            c.peak_factor
        );
    }
}

#[test]
fn small_watches_have_small_crises() {
    // No minimum absolute peak: a crisis of a watch of about one mention
    // an hour peaks at 4-25 times that.
    for seed in 0..20 {
        let sc = Scenario::crisis(seed, 0, 1);
        let c = sc.crisis.expect("crisis");
        let (usual, crisis) = sc.rates(c.peak());
        assert!(
            usual + crisis < 1.75 * 1.7 + 1.75 * 24.0,
            "{}",
            usual + crisis
        );
        assert!(crisis < 1.75 * 24.0);
    }
}

fn eval_crisis(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_veilleur"))
        .arg("eval-crisis")
        .args(args)
        .output()
        .expect("the veilleur binary runs")
}

/// The JSON lines of a successful `eval-crisis --json` run.
fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn eval_crisis_prints_a_table_per_class_and_json_lines() {
    let out = eval_crisis(&["--cases", "1", "--seeds", "reporting"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("reporting seeds 1000000..1000001"), "{text}");
    assert!(text.contains("# detected before peak:"), "{text}");
    assert!(text.contains("# false alarm:"), "{text}");
    // One row per volume × rise class, one per volume, one per rise class.
    for v in VOLUME_CLASSES {
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(v.name))
            .collect();
        // 4 rise classes + all, then the quiet row.
        assert_eq!(rows.len(), RISE_CLASSES.len() + 2, "{}: {rows:?}", v.name);
        for row in &rows[..RISE_CLASSES.len()] {
            let cells: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cells.len(), 7, "{row}");
            assert_eq!(cells[2], "1", "one crisis per class: {row}");
            assert!(cells[3].ends_with('%') && cells[5].ends_with('%'), "{row}");
            assert!(cells[6].parse::<f64>().is_ok(), "{row}");
        }
    }
    let total = text
        .lines()
        .find(|l| l.starts_with("TOTAL: "))
        .unwrap_or_else(|| panic!("no total line: {text}"));
    assert!(total.starts_with("TOTAL: 24 crises,"), "{total}");

    let out = eval_crisis(&["--cases", "1", "--json", "--set", "window = \"1h\""]);
    let lines = json_lines(&out);
    let all = lines
        .iter()
        .find(|j| {
            j["table"] == "crisis"
                && j["volume"] == "all"
                && j["rise"] == "all"
                && j["factor"] == "all"
        })
        .expect("a total object");
    assert_eq!(all["crises"], 24);
    let quiet: Vec<_> = lines.iter().filter(|j| j["table"] == "quiet").collect();
    assert_eq!(quiet.len(), VOLUME_CLASSES.len() + 1);
    let weeks: f64 = quiet
        .iter()
        .filter(|j| j["volume"] != "all")
        .map(|j| j["watch_weeks"].as_f64().unwrap_or(0.0))
        .sum();
    assert!((weeks - (QUIET_WEEKS * 6) as f64).abs() < 1e-6, "{weeks}");
}

#[test]
fn eval_crisis_rejects_a_bad_override_and_an_unknown_seed_set() {
    let out = eval_crisis(&["--cases", "1", "--set", "no_such_key = 3"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid rules"), "{err}");
    let out = eval_crisis(&["--seeds", "all"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tuning or reporting"));
}

#[test]
fn eval_crisis_takes_the_rules_of_one_watch_from_a_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = "[watch]\nname = 'mine'\nquery = 'acme'\n\n[[alert]]\nname = 'spike'\nkind = 'volume_spike'\nwindow = '1h'\n";
    std::fs::write(dir.path().join("a.toml"), rule).expect("write");
    let path = dir.path().to_string_lossy().to_string();
    let out = eval_crisis(&["--cases", "1", "--json", "--rules", &path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        // volume × (rise + all), rise, factor, total; quiet per volume,
        // total; for each of the oracle's three streams (total, negative,
        // either), its lines per volume, rise, factor and in all, and at
        // each of the five false-alarm budgets
        VOLUME_CLASSES.len() * (RISE_CLASSES.len() + 1)
            + RISE_CLASSES.len()
            + 4
            + 1
            + 7
            + 3 * (VOLUME_CLASSES.len() + RISE_CLASSES.len() + 4 + 1)
            + 3 * 5
    );
    let budgets: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["table"] == "oracle_budget")
        .collect();
    assert_eq!(budgets.len(), 15);
    // A looser budget never raises the threshold, on each stream.
    for stream in ["total", "negative", "either"] {
        let thetas: Vec<f64> = budgets
            .iter()
            .filter(|v| v["stream"] == stream)
            .map(|v| v["theta"].as_f64().unwrap_or(f64::NAN))
            .collect();
        assert_eq!(thetas.len(), 5, "{stream}");
        assert!(
            thetas.windows(2).all(|w| w[1] <= w[0]),
            "{stream}: {thetas:?}"
        );
    }
    let oracle: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["table"] == "oracle")
        .collect();
    assert_eq!(
        oracle.len(),
        3 * (VOLUME_CLASSES.len() + RISE_CLASSES.len() + 5)
    );
    assert!(
        oracle
            .iter()
            .all(|v| v["theta"].as_f64().is_some_and(|t| t >= 2.0))
    );
    // A second watch: eval-crisis replays one.
    std::fs::write(dir.path().join("b.toml"), rule.replace("'mine'", "'other'")).expect("write");
    let out = eval_crisis(&["--cases", "1", "--rules", &path]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds 2 watches"), "{err}");
    // --set's rule keys apply to the default rules only; method
    // parameters apply to a rules directory too.
    std::fs::remove_file(dir.path().join("b.toml")).expect("remove");
    let out = eval_crisis(&["--rules", &path, "--set", "window = '1h'"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("put rule keys in the rule file"), "{err}");
    let out = eval_crisis(&[
        "--cases",
        "1",
        "--rules",
        &path,
        "--set",
        "detect.phi_floor = 0.1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn before_peak_total(args: &[&str]) -> u64 {
    let mut all = vec!["--cases", "1", "--json"];
    all.extend_from_slice(args);
    json_lines(&eval_crisis(&all))
        .into_iter()
        .find(|j| {
            j["table"] == "crisis"
                && j["volume"] == "all"
                && j["rise"] == "all"
                && j["factor"] == "all"
        })
        .and_then(|j| j["before_peak"].as_u64())
        .expect("a total object")
}

#[test]
fn eval_crisis_sets_the_detectors_method_parameters() {
    // A dispersion floor of 150 % relative s.d. hides some crises.
    let default = before_peak_total(&[]);
    let blunt = before_peak_total(&["--set", "detect.phi_floor = 2.25"]);
    assert!(blunt < default, "{blunt} vs {default}");
    let out = eval_crisis(&["--cases", "1", "--set", "detect.no_such = 1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown detector parameter"), "{err}");
}

// ---- Scenario families (src/detect/sim/families.rs).

use veilleur::detect::sim::families::{
    self, DAY_LEVEL_SD, EVENING_HOUR, FAMILIES, FIRST_WAVE_GAP_HOURS, FIRST_WAVE_SHARE, Family,
    LUNCH_HOUR, OUTAGE_CLEARANCE_SECS, OUTAGE_HOURS, TREND, TWO_PEAKS_NIGHT,
};

#[test]
fn the_base_family_is_the_generators_scenarios_unchanged() {
    for seed in [0, 5, 1_000_003] {
        for v in 0..VOLUME_CLASSES.len() {
            let q = Scenario::quiet_in(Family::Base, seed, v);
            assert_eq!(q, Scenario::quiet(seed, v));
            assert_eq!(counts(&q), counts(&Scenario::quiet(seed, v)));
            for r in 0..RISE_CLASSES.len() {
                let c = Scenario::crisis_in(Family::Base, seed, v, r);
                assert_eq!(c, Scenario::crisis(seed, v, r));
            }
        }
    }
    // Same counts for the same seed: the fingerprint of one base scenario,
    // taken before the families were added (the base figures must not
    // move).
    let c = counts(&Scenario::crisis_in(Family::Base, 7, 2, 1));
    let total: u64 = c.iter().map(|x| x.1).sum();
    let negative: u64 = c.iter().map(|x| x.2).sum();
    assert_eq!((total, negative, c.len()), (3955, 581, 3681));
}

#[test]
fn each_family_is_deterministic_and_perturbs_the_same_watch() {
    for &f in &FAMILIES {
        assert_eq!(f.name().parse::<Family>(), Ok(f));
        for (v, r) in [(0, 0), (3, 2), (5, 3)] {
            let a = Scenario::crisis_in(f, 11, v, r);
            assert_eq!(a, Scenario::crisis_in(f, 11, v, r), "{}", f.name());
            assert_eq!(counts(&a), counts(&Scenario::crisis_in(f, 11, v, r)));
            // The same watch as the base scenario: its volume and noise.
            let base = Scenario::crisis(11, v, r);
            assert_eq!(a.profile.mean_per_hour, base.profile.mean_per_hour);
            assert_eq!(a.profile.dispersion, base.profile.dispersion);
            assert_eq!(a.family, f);
        }
        let q = Scenario::quiet_in(f, 4, 2);
        assert_eq!(counts(&q), counts(&Scenario::quiet_in(f, 4, 2)));
    }
    assert!("nope".parse::<Family>().is_err());
}

#[test]
fn trend_changes_the_level_steadily_within_its_range_over_four_weeks() {
    for seed in 0..30 {
        let sc = Scenario::quiet_in(Family::Trend, seed, 3);
        let p = &sc.perturbation;
        let four_weeks = p.level(EPOCH + 28 * DAY);
        assert!(
            (TREND.0 - 1e-9..=TREND.1 + 1e-9).contains(&four_weeks),
            "{four_weeks}"
        );
        // Steady: half-way is the geometric mean.
        let half = p.level(EPOCH + 14 * DAY);
        assert!((half * half - four_weeks).abs() < 1e-9);
        // The rate follows it, day cycle aside.
        let t = EPOCH + 30 * DAY + 15 * 3600;
        let ratio = sc.rates(t).0 / (sc.profile.seasonal(t) * sc.profile.bump(t));
        assert!((ratio - p.level(t)).abs() < 1e-9);
    }
}

#[test]
fn day_level_factors_vary_from_day_to_day_with_the_documented_spread() {
    let mut logs = Vec::new();
    let mut lag = Vec::new();
    for seed in 0..40 {
        let sc = Scenario::quiet_in(Family::DayLevel, seed, 2);
        let days = &sc.perturbation.days;
        assert!(days.len() >= 56);
        // One factor a UTC day.
        assert_eq!(
            sc.perturbation.level(EPOCH + 3 * DAY),
            sc.perturbation.level(EPOCH + 4 * DAY - 1)
        );
        let l: Vec<f64> = days.iter().map(|d| d.ln()).collect();
        for w in l.windows(2) {
            lag.push((w[0], w[1]));
        }
        logs.extend(l);
    }
    let n = logs.len() as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let sd = (logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(
        sd > DAY_LEVEL_SD.0 * 0.8 && sd < DAY_LEVEL_SD.1 * 1.1,
        "s.d. {sd}"
    );
    let cov = lag
        .iter()
        .map(|(a, b)| (a - mean) * (b - mean))
        .sum::<f64>()
        / lag.len() as f64;
    let rho = cov / (sd * sd);
    assert!(rho > 0.2 && rho < 0.8, "day-to-day correlation {rho}");
}

#[test]
fn two_peaked_days_peak_at_lunch_and_in_the_evening_with_quiet_nights() {
    for seed in 0..20 {
        let sc = Scenario::quiet_in(Family::TwoPeaks, seed, 4);
        let p = &sc.profile;
        let at = |h: f64| p.seasonal(EPOCH + (h * 3600.0) as i64) / p.mean_per_hour;
        // The day averages the mean (a Monday).
        let mean = (0..1440).map(|m| at(m as f64 / 60.0)).sum::<f64>() / 1440.0;
        assert!((mean - 1.0).abs() < 1e-3, "{mean}");
        let argmax = |lo: f64, hi: f64| {
            (0..=((hi - lo) * 60.0) as usize)
                .map(|m| lo + m as f64 / 60.0)
                .fold((lo, 0.0), |b, h| if at(h) > b.1 { (h, at(h)) } else { b })
        };
        let (lunch, lunch_level) = argmax(9.0, 15.5);
        let (evening, evening_level) = argmax(16.0, 23.0);
        assert!(
            (LUNCH_HOUR.0 - 0.5..=LUNCH_HOUR.1 + 0.5).contains(&lunch),
            "{lunch}"
        );
        assert!(
            (EVENING_HOUR.0 - 0.5..=EVENING_HOUR.1 + 0.5).contains(&evening),
            "{evening}"
        );
        assert!(lunch_level > 1.5 && evening_level > 1.5);
        let night = at(4.0);
        assert!(
            night >= TWO_PEAKS_NIGHT.0 - 1e-9 && night < TWO_PEAKS_NIGHT.1 + 0.02,
            "{night}"
        );
        // Between the peaks the rate dips.
        assert!(at((lunch + evening) / 2.0) < lunch_level.min(evening_level));
    }
}

#[test]
fn outages_are_silent_once_or_twice_a_week_and_end_before_a_crisis() {
    let mut per_week = Vec::new();
    for seed in 0..20 {
        let sc = Scenario::quiet_in(Family::Outage, seed, 5);
        let o = &sc.perturbation.outages;
        per_week.push(o.len() as f64 / QUIET_WEEKS as f64);
        for &(a, b) in o {
            let hours = (b - a) as f64 / 3600.0;
            assert!(
                (OUTAGE_HOURS.0 - 0.02..=OUTAGE_HOURS.1).contains(&hours),
                "{hours}"
            );
        }
        // Not a single mention while the source is down, mentions again
        // after (a ~300/h watch).
        let c = counts(&sc);
        for &(a, b) in o {
            assert!(c.iter().all(|x| x.0 < a || x.0 >= b), "seed {seed}");
            let down_again = o.iter().any(|&(a2, b2)| a2 <= b && b < b2);
            assert!(
                down_again || b >= sc.end - 3600 || c.iter().any(|x| x.0 >= b && x.0 < b + 3600),
                "seed {seed}: nothing in the hour after {b}"
            );
        }
        for r in 0..RISE_CLASSES.len() {
            let cr = Scenario::crisis_in(Family::Outage, seed, 3, r);
            let start = cr.crisis.unwrap().onset();
            assert!(
                cr.perturbation
                    .outages
                    .iter()
                    .all(|o| o.1 <= start - OUTAGE_CLEARANCE_SECS)
            );
        }
    }
    let mean = per_week.iter().sum::<f64>() / per_week.len() as f64;
    assert!(mean > 1.1 && mean < 1.7, "{mean} outages a week");
}

#[test]
fn off_hours_crises_start_at_night_or_on_a_weekend_of_the_fourth_week() {
    let mut nights = 0;
    for seed in 0..40 {
        for r in 0..RISE_CLASSES.len() {
            let sc = Scenario::crisis_in(Family::OffHours, seed, 1, r);
            let c = sc.crisis.unwrap();
            assert!(families::is_off_hours(c.start), "seed {seed}: {}", c.start);
            assert!(c.start >= EPOCH + HISTORY_DAYS * DAY);
            assert!(c.start < EPOCH + (HISTORY_DAYS + 8) * DAY);
            assert!(sc.profile.bumps.iter().all(|b| b.end <= c.start));
            assert!(sc.end > c.peak());
            nights += usize::from(!is_weekend(c.start));
        }
    }
    // About half at night on a weekday or a weekend night.
    assert!(nights > 40 && nights < 140, "{nights}");
}

#[test]
fn two_waves_start_with_a_smaller_first_wave_that_counts_as_the_crisis_start() {
    for seed in 0..20 {
        let sc = Scenario::crisis_in(Family::TwoWaves, seed, 4, 2);
        let c = sc.crisis.unwrap();
        let w = c.first.expect("a first wave");
        assert_eq!(c.onset(), w.start);
        let gap = (c.start - w.start) as f64 / 3600.0;
        assert!(
            (FIRST_WAVE_GAP_HOURS.0 - 0.02..=FIRST_WAVE_GAP_HOURS.1).contains(&gap),
            "{gap}"
        );
        assert!((FIRST_WAVE_SHARE.0..FIRST_WAVE_SHARE.1).contains(&w.share));
        // The first wave peaks lower than the main one, before it starts.
        let first_peak = (w.start..c.start)
            .step_by(60)
            .map(|t| c.level(t))
            .fold(0.0, f64::max);
        assert!(
            first_peak > 0.8 * w.share && first_peak < 1.0,
            "{first_peak}"
        );
        assert!(c.level(c.peak()) >= 1.0);
        assert_eq!(c.level(w.start - 60), 0.0);
    }
}

#[test]
fn eval_crisis_runs_a_family_and_its_json_lines_carry_it() {
    let out = eval_crisis(&["--cases", "1", "--json", "--family", "outage"]);
    let lines = json_lines(&out);
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|v| v["family"] == "outage"));
    let out = eval_crisis(&["--cases", "1", "--family", "trend,twowaves"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("## family trend") && text.contains("## family twowaves"));
    assert!(text.contains("by family"), "{text}");
    let out = eval_crisis(&["--cases", "1", "--family", "weekly"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown family `weekly`"));
}
