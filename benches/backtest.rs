//! Backtest throughput of detection alone: a million mentions matched to
//! one watch (default `volume_spike` and `negative_surge` rules), already
//! parsed and enriched, through `Detector::ingest` — the path `backtest`
//! and the daemon share. Matching and sentiment are measured by their own
//! benches. `cargo bench --bench backtest`.

use chrono::DateTime;
use veilleur::detect::{Detector, sim};
use veilleur::mention::Mention;

fn main() {
    let n = 1_000_000usize;
    let rules = sim::default_rules();
    let mut rng = sim::Rng::new(42);
    // A million mentions over 30 days (about 23 a minute), with bursts.
    let start = sim::EPOCH;
    let mentions: Vec<Mention> = (0..n)
        .map(|i| {
            let t = start + (i as i64 * 30 * 86_400) / n as i64 + (rng.next_u64() % 5) as i64;
            Mention {
                id: format!("m{i}"),
                source: ["feed", "forum", "mastodon"][i % 3].into(),
                url: format!("https://ex.org/{i}"),
                title: "Acme".into(),
                text: "acme service client fibre".into(),
                author: format!("a{}", i % 1000),
                author_followers: Some((i % 5000) as u64),
                published: DateTime::from_timestamp(t, 0).unwrap_or_default(),
                lang: Some("fr".into()),
                sentiment: Some(if i % 7 == 0 { -0.6 } else { 0.3 }),
                watches: vec![],
            }
        })
        .collect();
    let items: Vec<(usize, &Mention)> = mentions.iter().map(|m| (0, m)).collect();
    let mut best = f64::MAX;
    let mut events = 0;
    for _ in 0..3 {
        let mut d = Detector::new(&rules);
        let started = std::time::Instant::now();
        events = d.ingest(&items).len();
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!(
        "backtest detection: {n} mentions in {best:.3}s = {:.0} mentions/s (best of 3, {events} events)",
        n as f64 / best
    );
}
