//! Rules are reloaded while the daemon runs; a broken rule file is reported
//! and the previous rules keep working.

mod common;

use chrono::Utc;
use common::{FeedServer, Page, metric, rss, start_daemon};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_rule_file_keeps_previous_rules_and_a_fix_is_picked_up() {
    veilleur::install_crypto_provider();
    let (feeds, base) = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    let rule = dir.path().join("rules/acme.toml");
    std::fs::write(&rule, "[watch]\nname = \"acme\"\nquery = 'acme'\n").unwrap();
    let config = dir.path().join("veilleur.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\ncommit_interval = \"100ms\"\n\n[[source]]\nname = \"s\"\nkind = \"feed\"\nurl = \"{base}/f.xml\"\ninterval = \"1s\"\n"
        ),
    )
    .unwrap();
    let item =
        |id: &str, title: &str| (id.to_string(), title.to_string(), String::new(), Utc::now());
    let mut items = vec![item("1", "acme one")];
    feeds.set("f.xml", Page::ok("application/rss+xml", rss(&items)));

    let d = start_daemon(&config, None).await;
    let acme = "veilleur_watch_matches_total{watch=\"acme\"}";
    let text = d.metrics_until(acme, 1.0).await;
    assert_eq!(metric(&text, acme), Some(1.0), "{text}");

    // A broken edit: reported, counted, and the old rules still match.
    std::fs::write(&rule, "[watch]\nname = \"acme\"\nquery = '\"acme'\n").unwrap();
    let text = d
        .metrics_until("veilleur_rules_reload_errors_total", 1.0)
        .await;
    assert_eq!(
        metric(&text, "veilleur_rules_reload_errors_total"),
        Some(1.0),
        "{text}"
    );
    items.push(item("2", "acme two"));
    feeds.set("f.xml", Page::ok("application/rss+xml", rss(&items)));
    let text = d.metrics_until(acme, 2.0).await;
    assert_eq!(
        metric(&text, acme),
        Some(2.0),
        "old rules keep matching:\n{text}"
    );

    // The fix is picked up: a renamed watch matches from now on.
    std::fs::write(&rule, "[watch]\nname = \"acme-fixed\"\nquery = 'acme'\n").unwrap();
    let fixed = "veilleur_watch_matches_total{watch=\"acme-fixed\"}";
    let mut n = 3;
    let mut text = String::new();
    for _ in 0..20 {
        items.push(item(&n.to_string(), "acme again"));
        n += 1;
        feeds.set("f.xml", Page::ok("application/rss+xml", rss(&items)));
        text = d
            .metrics_until(
                "veilleur_mentions_ingested_total{source=\"s\"}",
                f64::from(n - 1),
            )
            .await;
        if metric(&text, fixed).is_some() {
            break;
        }
    }
    assert!(
        metric(&text, fixed).unwrap_or(0.0) >= 1.0,
        "reloaded rules match:\n{text}"
    );
    d.stop().await;
}
