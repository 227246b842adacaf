//! SIGKILL at random points: the real binary (`veilleur run`) polls a
//! loopback feed whose mentions change between polls and delivers keyword
//! alerts to a loopback webhook receiver that honours the idempotency key;
//! the test kills it with SIGKILL at a random moment (during start-up,
//! ingestion, commits or delivery), restarts it on the same data dir, and
//! after the last restart checks: every mention served is in the index
//! exactly once, each watch counts its own mentions, no alert is lost, and
//! no alert reached the receiver under two keys.
//!
//! Every third round kills while a delivery is in flight (the receiver
//! answers after 100 ms), the others at a random moment.
//!
//! `VEILLEUR_KILL_ROUNDS` sets the number of kills (default 10, which CI
//! runs; 50 for the bench form:
//! `VEILLEUR_KILL_ROUNDS=50 cargo test --release --test crash_kill -- --nocapture`),
//! `VEILLEUR_KILL_SEED` replays a run (the seed is printed).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Utc};
use common::search_json as search;
use common::{FeedServer, Page};

const BIN: &str = env!("CARGO_BIN_EXE_veilleur");
/// Mentions per batch; the last of each batch is its watch's crisis.
const PER_BATCH: usize = 10;
/// Batches published per round: one before start, one while it runs.
const BATCHES_PER_ROUND: usize = 2;

/// A small, seedable generator (splitmix64): the kill points of a run are
/// replayable from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

/// What the idempotent receiver saw: every delivery's key, in order.
#[derive(Clone, Default)]
struct Receiver {
    deliveries: Arc<Mutex<Vec<String>>>,
    /// Requests received and not answered yet.
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

impl Receiver {
    fn distinct(&self) -> BTreeSet<String> {
        self.deliveries.lock().unwrap().iter().cloned().collect()
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn count(&self) -> usize {
        self.deliveries.lock().unwrap().len()
    }
}

/// Answers 200 after a short pause (so that kills land mid-delivery too);
/// a key seen before is acknowledged and not acted on again.
async fn receive(State(r): State<Receiver>, headers: HeaderMap) -> StatusCode {
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) else {
        return StatusCode::BAD_REQUEST;
    };
    use std::sync::atomic::Ordering::SeqCst;
    r.in_flight.fetch_add(1, SeqCst);
    // Counted down even when the daemon dies mid-request and the handler
    // is dropped.
    struct Done(Arc<std::sync::atomic::AtomicUsize>);
    impl Drop for Done {
        fn drop(&mut self) {
            self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let _done = Done(r.in_flight.clone());
    tokio::time::sleep(Duration::from_millis(100)).await;
    r.deliveries.lock().unwrap().push(key.to_string());
    StatusCode::OK
}

async fn start_receiver() -> (Receiver, String) {
    let r = Receiver::default();
    let app = Router::new()
        .route("/hooks/{*path}", post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, format!("http://{addr}/hooks/crash"))
}

/// One published mention.
struct Item {
    id: String,
    title: String,
    published: DateTime<Utc>,
}

fn feed(items: &[Item]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title><link>http://example.org/</link>\n",
    );
    for it in items {
        out.push_str(&format!(
            "<item><title>{}</title><link>http://example.org/m/{}</link><description>veille</description><pubDate>{}</pubDate></item>\n",
            it.title,
            it.id,
            it.published.to_rfc2822()
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// Publishes batch `b`: `PER_BATCH` mentions of acme, the last one also
/// the crisis of watch `w{b}`.
fn publish(items: &mut Vec<Item>, b: usize, feeds: &FeedServer) {
    // Whole seconds: RSS dates have no fraction.
    let now = DateTime::from_timestamp(Utc::now().timestamp() - 5, 0).unwrap();
    for i in 0..PER_BATCH {
        let crisis = if i == PER_BATCH - 1 {
            format!(" crisis{b}")
        } else {
            String::new()
        };
        items.push(Item {
            id: format!("{b}-{i}"),
            title: format!("acme batch {b} item {i}{crisis}"),
            published: now,
        });
    }
    feeds.set("feed.xml", Page::ok("application/rss+xml", feed(items)));
}

fn setup(dir: &Path, feed_url: &str, hook_url: &str, batches: usize) {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("acme.toml"),
        "[watch]\nname = \"acme\"\nquery = 'acme'\n",
    )
    .unwrap();
    for b in 0..batches {
        std::fs::write(
            rules.join(format!("w{b}.toml")),
            format!(
                "[watch]\nname = \"w{b}\"\nquery = 'crisis{b}'\n\n[[alert]]\nname = \"kw\"\nkind = \"keyword\"\nquery = 'crisis{b}'\nmin_mentions = 1\nwindow = \"1h\"\nnotify = [\"hook\"]\n"
            ),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("veilleur.toml"),
        format!(
            "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\ncommit_interval = \"200ms\"\n\n[[source]]\nname = \"feed\"\nkind = \"feed\"\nurl = \"{feed_url}\"\ninterval = \"1s\"\ntimeout = \"5s\"\n\n[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook_url}\"\n"
        ),
    )
    .unwrap();
}

fn spawn(dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("daemon.log"))
        .unwrap();
    Command::new(BIN)
        .args(["run", "--config"])
        .arg(dir.join("veilleur.toml"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_ingestion_and_delivery_loses_and_duplicates_nothing() {
    let rounds: usize = std::env::var("VEILLEUR_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("VEILLEUR_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("crash_kill: {rounds} rounds, VEILLEUR_KILL_SEED={seed}");
    let mut rng = Rng(seed);

    let (feeds, base) = FeedServer::start().await;
    let (receiver, hook_url) = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let batches = rounds * BATCHES_PER_ROUND;
    setup(dir.path(), &format!("{base}/feed.xml"), &hook_url, batches);

    let started = Instant::now();
    let mut items = Vec::new();
    let mut b = 0;
    let mut mid_deliveries = 0;
    for round in 0..rounds {
        publish(&mut items, b, &feeds);
        b += 1;
        let mut child = spawn(dir.path());
        let (before, first) = (receiver.count(), rng.millis(0, 1200));
        tokio::time::sleep(first).await;
        // The feed changes while the daemon runs.
        publish(&mut items, b, &feeds);
        b += 1;
        let second = if round % 3 == 2 {
            // Every third round waits for a delivery in flight, so kills
            // land mid-delivery in every run, not only by chance.
            let waited = Instant::now();
            while receiver.in_flight() == 0 && waited.elapsed() < Duration::from_secs(4) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            waited.elapsed()
        } else {
            let second = rng.millis(0, 1500);
            tokio::time::sleep(second).await;
            second
        };
        let mid_delivery = receiver.in_flight() > 0;
        mid_deliveries += usize::from(mid_delivery);
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(
            status.code().is_none(),
            "round {round}: the daemon exited by itself ({status}) instead of being killed:\n{}",
            log_tail(dir.path())
        );
        println!(
            "round {round}: killed after {:?} (+{:?}), {} deliveries during the round{}",
            first + second,
            second,
            receiver.count() - before,
            if mid_delivery {
                ", killed mid-delivery"
            } else {
                ""
            }
        );
    }

    // The last restart: let it catch up, then stop it gracefully.
    let mut child = spawn(dir.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut converged = false;
    while Instant::now() < deadline {
        if receiver.distinct().len() >= batches
            && search(&dir.path().join("veilleur.toml"), "acme").len() >= items.len()
        {
            converged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Whatever is still queued gets its chance before the stop.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(
        converged,
        "not caught up after 30 s: {} of {} alerts, {} of {} mentions\n{}",
        receiver.distinct().len(),
        batches,
        search(&dir.path().join("veilleur.toml"), "acme").len(),
        items.len(),
        log_tail(dir.path())
    );
    assert!(status.success(), "{status}\n{}", log_tail(dir.path()));

    assert!(
        rounds < 3 || mid_deliveries >= 1,
        "no kill landed mid-delivery in {rounds} rounds"
    );
    // Every mention served is indexed exactly once.
    let hits = search(&dir.path().join("veilleur.toml"), "acme");
    let mut urls: BTreeMap<String, usize> = BTreeMap::new();
    for m in &hits {
        *urls
            .entry(m["url"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let expected: BTreeSet<String> = items
        .iter()
        .map(|it| format!("http://example.org/m/{}", it.id))
        .collect();
    let twice: Vec<_> = urls.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "indexed twice: {twice:?}");
    assert_eq!(
        urls.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "index differs from what was served"
    );
    // Each watch counts its own mentions: one crisis each.
    for w in 0..batches {
        let got = search(&dir.path().join("veilleur.toml"), &format!("crisis{w}"));
        assert_eq!(got.len(), 1, "watch w{w}: {got:?}");
    }
    // No alert lost, none sent under two keys; re-deliveries of one key
    // (a kill between the send and its record) are the receiver's to drop.
    let keys = receiver.distinct();
    let mut per_watch: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for k in &keys {
        let watch = k.split('/').next().unwrap().to_string();
        per_watch.entry(watch).or_default().push(k);
    }
    for w in 0..batches {
        let got = per_watch.get(&format!("w{w}")).cloned().unwrap_or_default();
        assert_eq!(got.len(), 1, "alert of w{w} delivered under {got:?}");
        assert!(got[0].starts_with(&format!("w{w}/kw/firing/")), "{got:?}");
    }
    assert_eq!(keys.len(), batches, "unexpected keys: {keys:?}");
    println!(
        "crash_kill: {} mentions, {} alerts, {} deliveries ({} re-deliveries dropped by the receiver), {mid_deliveries} kills mid-delivery, in {:?}",
        items.len(),
        keys.len(),
        receiver.count(),
        receiver.count() - keys.len(),
        started.elapsed()
    );
}
