//! Search latency: builds a tantivy index of N generated mentions (the
//! corpus of `benches/matcher.rs`) in a temporary directory, prints the build
//! time, then the median and p99 latency of typical watch queries (newest
//! 50 hits, all time and last 7 days).
//!
//! ```text
//! cargo bench --bench search              # N = 1,000,000 (building takes a while)
//! cargo bench --bench search -- 100000    # N = 100,000
//! ```

#[path = "matcher.rs"]
#[allow(dead_code)]
mod matcher_bench;

use std::time::{Duration, Instant};

use matcher_bench::corpus;
use veilleur::rules::query;
use veilleur::store::{self, Backend, SearchRequest};

const RUNS: usize = 200;
const LIMIT: usize = 50;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let index = store::open_index(Backend::Tantivy, dir.path()).expect("open index");
    let mut rng = corpus::Rng::new(0xC0FFEE);
    let start = Instant::now();
    let mut newest = None;
    for i in 0..n {
        let m = corpus::mention(&mut rng, i);
        newest = Some(m.published);
        index.upsert(&m).expect("add");
        if (i + 1) % 200_000 == 0 {
            index.commit().expect("commit");
        }
    }
    index.commit().expect("commit");
    let built = start.elapsed();
    println!(
        "built index of {} mentions in {:.1}s ({:.0} mentions/s)",
        index.num_docs(),
        built.as_secs_f64(),
        n as f64 / built.as_secs_f64()
    );
    let since = newest.map(|t| t - chrono::Duration::days(7));

    let mut queries: Vec<String> = vec![
        "arnaque".into(),
        r#""service client" (panne OR retard)"#.into(),
        "remboursement NOT merci".into(),
        "scam* OR fraud* OR arnaq*".into(),
        "#boycott OR #fail".into(),
        "colis NEAR/3 (retard OR annulé)".into(),
        "lang:fr source:reddit déçu".into(),
    ];
    for i in [0, 1, 2, 3, 4, 503] {
        let (q, x) = corpus::watch_query(i);
        queries.push(match x {
            Some(x) => format!("({q}) NOT ({x})"),
            None => q,
        });
    }
    println!(
        "{:<60} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "query (newest 50)", "hits", "median", "p99", "7d median", "7d p99"
    );
    for src in &queries {
        let q = query::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let all = SearchRequest::new(&q, LIMIT);
        let mut week = all.clone();
        week.since = since;
        let hits = index.search(&all).expect("search").mentions.len();
        let (all_med, all_p99) = latency(|| {
            index.search(&all).expect("search");
        });
        let (week_med, week_p99) = latency(|| {
            index.search(&week).expect("search");
        });
        println!(
            "{:<60} {hits:>6} {:>10} {:>10} {:>10} {:>10}",
            truncate(src, 60),
            fmt(all_med),
            fmt(all_p99),
            fmt(week_med),
            fmt(week_p99)
        );
    }
}

fn latency(mut f: impl FnMut()) -> (Duration, Duration) {
    f();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[RUNS / 2], times[RUNS * 99 / 100])
}

fn fmt(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1e3)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}
