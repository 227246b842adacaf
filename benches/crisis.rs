//! Crisis protocol bench: the `veilleur eval-crisis` tables on the reporting
//! seeds (bench-sized: `CASES` per class, default 6) with the default rules
//! (`volume_spike` and `negative_surge`, name and kind only), then the
//! detection throughput on one thread. `cargo bench --bench crisis [--
//! CASES]`.

use veilleur::detect::sim::table;
use veilleur::detect::sim::{self, SeedSet, protocol};

fn main() -> anyhow::Result<()> {
    let cases: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(6);
    let rules = sim::default_rules();
    let started = std::time::Instant::now();
    let outcomes = protocol::run_all(&rules, SeedSet::Reporting, cases, 1, &|_, _| {});
    let secs = started.elapsed().as_secs_f64();
    let rep = protocol::report(&outcomes);
    let mut out = std::io::stdout().lock();
    println!("crisis protocol, reporting seeds, {cases} cases per class, one thread");
    table::print(&mut out, &rep)?;
    println!("\n{}", table::total_line(&rep, secs));
    let weeks: f64 = outcomes
        .iter()
        .map(|o| o.watch_weeks + o.rise_secs as f64 / (7.0 * 86_400.0))
        .sum();
    println!(
        "throughput: {} scenarios, {:.0} watch-weeks, {:.0} watch-months/s",
        outcomes.len(),
        weeks,
        weeks * 7.0 / 30.0 / secs.max(1e-9)
    );
    Ok(())
}
