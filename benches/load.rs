//! Load bench (not CI): the release binary (`veilleur run`) polls 2,000
//! feeds served on loopback from 20 addresses (127.0.0.1 to 127.0.0.20,
//! 100 feeds each, under the per-host rate limit) every minute, with 500
//! watches; every 10 s it records the daemon's CPU time and RSS (from
//! /proc) and the fetch latency histogram (from its /metrics), and prints
//! one row per minute and a summary (RSS after warm-up, CPU, latency
//! quantiles).
//!
//! ```text
//! cargo bench --bench load -- --minutes 30
//! cargo bench --bench load -- --minutes 3 --feeds 500 --watches 100
//! ```
//!
//! Each feed lists its last 10 items and publishes a new one every five
//! minutes (400 new mentions a minute in all, each matching one or two
//! watches), without validators, so every poll downloads and parses a
//! whole feed: the worst case for the parser. The CSV of the samples goes
//! to `target/load-bench.csv`.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

const ADDRESSES: usize = 20;
/// A new item per feed every this many seconds.
const ITEM_EVERY_SECS: i64 = 300;
/// Items a feed lists.
const LISTED: i64 = 10;

struct Args {
    minutes: u64,
    feeds: usize,
    watches: usize,
}

fn args() -> Args {
    let mut a = Args {
        minutes: 3,
        feeds: 2000,
        watches: 500,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = || argv.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match argv[i].as_str() {
            "--minutes" => a.minutes = value().expect("--minutes N"),
            "--feeds" => a.feeds = value().expect("--feeds N") as usize,
            "--watches" => a.watches = value().expect("--watches N") as usize,
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

/// The feed server's clock origin and the number of watches titles refer to.
struct Feeds {
    epoch: i64,
    watches: usize,
}

async fn feed(State(f): State<Arc<Feeds>>, Path(name): Path<String>) -> impl IntoResponse {
    let n: i64 = name.trim_end_matches(".xml").parse().unwrap_or(0);
    let now = chrono::Utc::now().timestamp();
    // Feed n publishes at its own phase, so new items spread over time.
    let phase = (n * 7919) % ITEM_EVERY_SECS;
    let last = (now - f.epoch + phase) / ITEM_EVERY_SECS;
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>bench</title><link>http://example.org/</link>",
    );
    for k in (last - LISTED + 1..=last).rev() {
        let w = ((n * 31 + k * 17).rem_euclid(f.watches as i64)) as usize;
        let w2 = (w + 1 + (k as usize % 3)) % f.watches;
        let published = f.epoch - phase + k * ITEM_EVERY_SECS;
        let date = chrono::DateTime::from_timestamp(published.min(now), 0)
            .unwrap()
            .to_rfc2822();
        body.push_str(&format!(
            "<item><title>Acme w{w} : article {k} du flux {n}</title><link>http://example.org/f{n}/{k}</link><description>&lt;p&gt;Le service client de w{w} et w{w2}, une panne du réseau, des clients mécontents et un article de presse qui parle de la marque.&lt;/p&gt;</description><pubDate>{date}</pubDate></item>"
        ));
    }
    body.push_str("</channel></rss>");
    ([(header::CONTENT_TYPE, "application/rss+xml")], body)
}

fn watch_file(i: usize) -> String {
    format!(
        "[watch]\nname = \"w{i}\"\nquery = '\"w{i}\" AND (panne OR \"service client\" OR acme)'\nexclude = 'spam{i}'\n\n[[alert]]\nname = \"spike\"\nkind = \"volume_spike\"\nwindow = \"1h\"\nnotify = [\"file\"]\n"
    )
}

/// (utime + stime) in seconds and VmRSS in bytes of `pid`.
fn proc_sample(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of stat, counting from 1; `after` starts at field 3.
    let ticks: u64 = f[11].parse::<u64>().ok()? + f[12].parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ticks as f64 / 100.0, rss_kb * 1024))
}

/// The machine's one-minute load average (other work competes for the
/// cores: read the daemon's figures with it).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The fetch-duration histogram summed over kinds: (le, cumulative count)
/// pairs, the sum and the count; and the mentions ingested.
struct Scrape {
    buckets: Vec<(f64, f64)>,
    count: f64,
    sum: f64,
    ingested: f64,
    errors: f64,
}

fn scrape(text: &str) -> Scrape {
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    let (mut count, mut sum, mut ingested, mut errors) = (0.0, 0.0, 0.0, 0.0);
    for line in text.lines() {
        let Some(v) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        // Buckets per kind (the per-source histogram keeps only its count
        // and sum: a label per source times a dozen buckets is too many).
        if line.starts_with("veilleur_fetch_duration_by_kind_seconds_bucket") {
            let le = line
                .split("le=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .map(|s| {
                    if s == "+Inf" {
                        f64::INFINITY
                    } else {
                        s.parse().unwrap_or(f64::INFINITY)
                    }
                })
                .unwrap_or(f64::INFINITY);
            match buckets.iter_mut().find(|(l, _)| *l == le) {
                Some(b) => b.1 += v,
                None => buckets.push((le, v)),
            }
        } else if line.starts_with("veilleur_fetch_duration_seconds_count") {
            count += v;
        } else if line.starts_with("veilleur_fetch_duration_seconds_sum") {
            sum += v;
        } else if line.starts_with("veilleur_mentions_ingested_total") {
            ingested += v;
        } else if line.starts_with("veilleur_fetch_errors_total") {
            errors += v;
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Scrape {
        buckets,
        count,
        sum,
        ingested,
        errors,
    }
}

/// The upper bound of the bucket holding quantile `q` of the difference
/// between two scrapes.
fn quantile(a: &Scrape, b: &Scrape, q: f64) -> f64 {
    let total = b.count - a.count;
    if total <= 0.0 {
        return 0.0;
    }
    for (le, n) in &b.buckets {
        let before = a.buckets.iter().find(|(l, _)| l == le).map_or(0.0, |x| x.1);
        if n - before >= q * total {
            return *le;
        }
    }
    f64::INFINITY
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    veilleur::install_crypto_provider();
    let epoch = chrono::Utc::now().timestamp() - 86_400;
    let state = Arc::new(Feeds {
        epoch,
        watches: a.watches,
    });
    let mut hosts = Vec::new();
    for h in 0..ADDRESSES {
        let ip = Ipv4Addr::new(127, 0, 0, 1 + h as u8);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((ip, 0)))
            .await
            .expect("bind a loopback address (127.0.0.0/8 is all loopback on Linux)");
        hosts.push(listener.local_addr().unwrap());
        let app = Router::new()
            .route("/f/{name}", get(feed))
            .route("/robots.txt", get(|| async { StatusCode::NOT_FOUND }))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
    }

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    for i in 0..a.watches {
        std::fs::write(rules.join(format!("w{i:04}.toml")), watch_file(i)).unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = format!(
        "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:{port}\"\n\n[[channel]]\nname = \"file\"\nkind = \"file\"\ndir = \"alerts\"\n"
    );
    for n in 0..a.feeds {
        let host = hosts[n % ADDRESSES];
        config.push_str(&format!(
            "\n[[source]]\nname = \"f{n}\"\nkind = \"feed\"\nurl = \"http://{host}/f/{n}.xml\"\ninterval = \"1m\"\n"
        ));
    }
    let config_path = dir.path().join("veilleur.toml");
    std::fs::write(&config_path, config).unwrap();

    let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_veilleur"))
        .args(["run", "--config"])
        .arg(&config_path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start veilleur run");
    let pid = child.id();
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let http = reqwest::Client::new();
    println!(
        "load: {} feeds on {ADDRESSES} addresses, {} watches, every 1m, for {} min (pid {pid})",
        a.feeds, a.watches, a.minutes
    );
    println!(
        "minute  cpu%  rss_MB  fetches  errors  mean_ms  p50_ms  p99_ms  mentions_total  load1"
    );

    let started = Instant::now();
    let mut csv = String::from(
        "secs,cpu_secs,rss_bytes,fetches,fetch_errors,fetch_secs_sum,mentions,load1\n",
    );
    let mut rss_series = Vec::new();
    let mut loads: Vec<f64> = Vec::new();
    // (seconds, cpu seconds, scrape) at the last row printed, and the first.
    let mut last_minute: Option<(f64, f64, Scrape)> = None;
    let mut first: Option<(f64, f64, Scrape)> = None;
    let mut printed = 0;
    let end = Duration::from_secs(a.minutes * 60);
    while started.elapsed() < end {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let Some((cpu, rss)) = proc_sample(pid) else {
            panic!(
                "veilleur exited; see {}",
                dir.path().join("daemon.log").display()
            );
        };
        let Ok(resp) = http.get(&metrics_url).send().await else {
            continue;
        };
        let s = scrape(&resp.text().await.unwrap_or_default());
        let secs = started.elapsed().as_secs_f64();
        let load1 = load_average();
        loads.push(load1);
        csv.push_str(&format!(
            "{secs:.0},{cpu:.2},{rss},{},{},{:.3},{},{load1:.2}\n",
            s.count, s.errors, s.sum, s.ingested
        ));
        rss_series.push((secs, rss));
        let minute = (secs / 60.0).floor() as u64;
        if minute > printed || started.elapsed() >= end {
            printed = minute;
            let (t0, cpu0, s0) = last_minute.take().unwrap_or((
                0.0,
                0.0,
                Scrape {
                    buckets: Vec::new(),
                    count: 0.0,
                    sum: 0.0,
                    ingested: 0.0,
                    errors: 0.0,
                },
            ));
            let n = s.count - s0.count;
            let span = secs - t0;
            println!(
                "{:>6}  {:>4.0}  {:>6.1}  {:>7}  {:>6}  {:>7.1}  {:>6.0}  {:>6.0}  {:>8}  {:>5.1}",
                minute,
                100.0 * (cpu - cpu0) / span,
                rss as f64 / 1e6,
                n,
                s.errors - s0.errors,
                if n > 0.0 {
                    1000.0 * (s.sum - s0.sum) / n
                } else {
                    0.0
                },
                1000.0 * quantile(&s0, &s, 0.5),
                1000.0 * quantile(&s0, &s, 0.99),
                s.ingested,
                load1
            );
            if first.is_none() {
                first = Some((secs, cpu, scrape_clone(&s)));
            }
            last_minute = Some((secs, cpu, s));
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    std::fs::create_dir_all("target").ok();
    std::fs::write("target/load-bench.csv", &csv).ok();

    // Warm-up: the first two minutes (or the first third of a short run).
    let warm = (a.minutes as f64 * 60.0 / 3.0).min(120.0);
    let after: Vec<u64> = rss_series
        .iter()
        .filter(|(t, _)| *t >= warm)
        .map(|x| x.1)
        .collect();
    if let (Some(min), Some(max), Some(firsts), Some(lasts)) = (
        after.iter().min(),
        after.iter().max(),
        after.first(),
        after.last(),
    ) {
        println!(
            "rss after {warm:.0}s warm-up: first {:.1} MB, last {:.1} MB, min {:.1} MB, max {:.1} MB",
            *firsts as f64 / 1e6,
            *lasts as f64 / 1e6,
            *min as f64 / 1e6,
            *max as f64 / 1e6
        );
    }
    if let (Some((t0, cpu0, s0)), Some((t1, cpu1, s1))) = (first, last_minute) {
        let mins = (s1.count - s0.count).max(1.0);
        println!(
            "after the first minute: cpu {:.1}% of one core, {} fetches, {} errors, latency mean {:.1} ms p50 <= {:.0} ms p99 <= {:.0} ms, {} mentions",
            100.0 * (cpu1 - cpu0) / (t1 - t0).max(1.0),
            s1.count - s0.count,
            s1.errors - s0.errors,
            1000.0 * (s1.sum - s0.sum) / mins,
            1000.0 * quantile(&s0, &s1, 0.5),
            1000.0 * quantile(&s0, &s1, 0.99),
            s1.ingested
        );
    }
    let peak = rss_series.iter().map(|x| x.1).max().unwrap_or(0);
    let (lo, hi) = loads.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), l| {
        (lo.min(*l), hi.max(*l))
    });
    println!(
        "rss peak {:.1} MB; machine load average (1 min) {lo:.1} to {hi:.1}, mean {:.1}",
        peak as f64 / 1e6,
        loads.iter().sum::<f64>() / loads.len().max(1) as f64
    );
    println!("samples: target/load-bench.csv");
}

fn scrape_clone(s: &Scrape) -> Scrape {
    Scrape {
        buckets: s.buckets.clone(),
        count: s.count,
        sum: s.sum,
        ingested: s.ingested,
        errors: s.errors,
    }
}
