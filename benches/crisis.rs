//! Crisis simulation bench: detection rate before the peak, median lead
//! time and false alarms per week of quiet baseline, over many simulated
//! watches with the default rules (`volume_spike` and `negative_surge`, name
//! and kind only). `cargo bench --bench crisis [-- CASES]`.

use veilleur::detect::sim;

fn main() {
    let cases: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300);
    let rules = sim::default_rules();
    let started = std::time::Instant::now();
    let outcomes: Vec<sim::Outcome> = (0..cases)
        .map(|seed| sim::run(&rules, &sim::Scenario::new(seed)))
        .collect();
    let secs = started.elapsed().as_secs_f64();
    let s = sim::summarise(&outcomes);
    println!(
        "crisis simulation: {} watches, detection rate before the peak {:.1}%, median lead time {:.0} min, false alarms {:.3} per watch per week ({} mentions in {secs:.2}s, {:.0} mentions/s)",
        s.cases,
        s.detection_rate * 100.0,
        s.median_lead_minutes,
        s.false_alarms_per_week,
        s.mentions,
        s.mentions as f64 / secs
    );
}
