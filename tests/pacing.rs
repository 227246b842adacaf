//! Per-host pacing at scale: 300 feeds on one loopback host, under a
//! per-host rate that makes queueing necessary, are all fetched within one
//! interval by the real poll loop, with no error; the time spent in the
//! host's queue is reported in `veilleur_source_queue_wait_seconds`.

mod common;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{FeedServer, Page, metric, rss};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;
use veilleur::config::{SourceConfig, SourceKind};
use veilleur::source::feed::FeedConfig;
use veilleur::source::http::{HostRate, HttpClient, Validators};
use veilleur::store::state::StateStore;
use veilleur::telemetry::Metrics;

const FEEDS: usize = 300;
/// 100 requests a second, one at a time: 301 requests (robots.txt
/// included) take three seconds of turns at least.
const PER_SECOND: u32 = 100;
const INTERVAL: Duration = Duration::from_secs(4);
/// Much shorter than the wait in the queue of a burst.
const TIMEOUT: Duration = Duration::from_millis(500);

fn client() -> HttpClient {
    HttpClient::new("veilleur-test/1.0")
        .unwrap()
        .with_host_rate(HostRate {
            per_second: NonZeroU32::new(PER_SECOND).unwrap(),
            burst: NonZeroU32::new(1).unwrap(),
        })
}

async fn server() -> (FeedServer, String) {
    let (server, base) = FeedServer::start().await;
    let now = chrono::Utc::now();
    for i in 0..FEEDS {
        let item = (
            format!("{i}"),
            format!("acme news {i}"),
            "text".to_string(),
            now,
        );
        server.set(
            &format!("f{i}.xml"),
            Page::ok("application/rss+xml", rss(&[item])),
        );
    }
    (server, base)
}

fn encode(metrics: &Metrics) -> String {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &metrics.registry).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_feeds_on_one_host_are_all_fetched_within_one_interval() {
    // Queueing is necessary: fired at once, most of these requests would
    // wait past their timeout, and outside a poll that is an error.
    let (burst_server, base) = server().await;
    let burst_client = client();
    let fetches = (0..FEEDS).map(|i| {
        let (client, url) = (
            burst_client.clone(),
            Url::parse(&format!("{base}/f{i}.xml")).unwrap(),
        );
        async move {
            client
                .fetch(&url, &Validators::default(), TIMEOUT, 1 << 20)
                .await
        }
    });
    let results = futures::future::join_all(fetches).await;
    let throttled = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(|e| e.reason() == "throttled"))
        .count();
    assert!(throttled > FEEDS / 2, "{throttled} throttled");
    drop(burst_server);

    // The poll loop: first polls spread at the host's pace within the
    // interval, each waiting its turn in the host's queue when they meet.
    let (server, base) = server().await;
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(StateStore::open(&dir.path().join("state.redb")).unwrap());
    let metrics = Arc::new(Metrics::new());
    let (tx, mut rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let http = client();
    let started = Instant::now();
    for i in 0..FEEDS {
        let cfg = SourceConfig {
            name: format!("f{i}"),
            kind: SourceKind::Feed(FeedConfig {
                url: Url::parse(&format!("{base}/f{i}.xml")).unwrap(),
            }),
            interval: INTERVAL,
            timeout: TIMEOUT,
            max_body_bytes: 1 << 20,
        };
        tokio::spawn(veilleur::source::poll::run(
            cfg,
            http.clone(),
            state.clone(),
            metrics.clone(),
            tx.clone(),
            stop.clone(),
        ));
    }
    drop(tx);
    let mut sources = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + INTERVAL + Duration::from_secs(2);
    while sources.len() < FEEDS {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(batch)) => {
                assert_eq!(batch.mentions.len(), 1, "{}", batch.source);
                sources.insert(batch.source);
            }
            _ => break,
        }
    }
    let took = started.elapsed();
    stop.cancel();
    assert_eq!(sources.len(), FEEDS, "fetched in {took:?}");
    // Within one interval, give or take the last turns of the queue.
    assert!(took < INTERVAL + Duration::from_secs(1), "{took:?}");
    for i in 0..FEEDS {
        assert!(server.hits(&format!("f{i}.xml")) >= 1, "f{i}");
    }
    let text = encode(&metrics);
    assert!(
        !text.contains("veilleur_fetch_errors_total{"),
        "an error:\n{}",
        text.lines()
            .filter(|l| l.contains("fetch_errors"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Some polls waited their turn, and it is counted as queue time.
    let waited = metric(
        &text,
        "veilleur_source_queue_wait_seconds_sum{kind=\"feed\"}",
    )
    .unwrap();
    let polls = metric(
        &text,
        "veilleur_source_queue_wait_seconds_count{kind=\"feed\"}",
    )
    .unwrap();
    assert!(polls >= FEEDS as f64, "{polls}");
    assert!(waited > 0.0, "{waited}");
    for i in [0, 150, 299] {
        let l = format!("{{source=\"f{i}\"}}");
        assert_eq!(
            metric(&text, &format!("veilleur_source_consecutive_failures{l}")),
            Some(0.0)
        );
        assert_eq!(
            metric(&text, &format!("veilleur_source_items_last_fetch{l}")),
            Some(1.0)
        );
        assert!(
            metric(
                &text,
                &format!("veilleur_source_last_success_timestamp_seconds{l}")
            )
            .unwrap()
                > 1.7e9
        );
    }
}
