//! End to end: feeds on a loopback HTTP server that change between polls, a
//! real SMTP server and a webhook receiver, the real daemon in between.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{
    FeedServer, Page, metric, rss, smtp_server, start_daemon, wait_for, webhook_receiver,
};
use veilleur::alert::{AlertEvent, AlertState};

const RULE: &str = r#"
[watch]
name = "acme"
query = 'acme OR "acme corp"'
exclude = '"acme road runner"'
tags = ["brand"]

[[alert]]
name = "bad-buzz"
kind = "volume_spike"
window = "60s"
min_mentions = 8
factor = 3.0
severity = "critical"
notify = ["mail", "hook"]
cooldown = "1h"
"#;

type Item = (String, String, String, chrono::DateTime<Utc>);

fn write_setup(
    dir: &std::path::Path,
    base: &str,
    smtp: std::net::SocketAddr,
    hook: std::net::SocketAddr,
) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/acme.toml"), RULE).unwrap();
    let config = format!(
        r#"
[daemon]
data_dir = "data"
rules_dir = "rules"
listen = "127.0.0.1:0"
commit_interval = "200ms"

[[source]]
name = "brand"
kind = "feed"
url = "{base}/brand.xml"
interval = "1s"

[[source]]
name = "malformed"
kind = "feed"
url = "{base}/malformed.xml"
interval = "1s"

[[source]]
name = "broken"
kind = "feed"
url = "{base}/broken.xml"
interval = "1s"

[[channel]]
name = "mail"
kind = "email"
smtp = "smtp://{smtp}?tls=none"
from = "veilleur@example.org"
to = ["comms@example.org"]

[[channel]]
name = "hook"
kind = "webhook"
url = "http://{hook}/hooks/acme"
"#
    );
    let path = dir.join("veilleur.toml");
    std::fs::write(&path, config).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_week_backlog_is_silent_spike_alerts_once_and_restart_resends_nothing() {
    veilleur::install_crypto_provider();
    let (feeds, base) = FeedServer::start().await;
    let (smtp, inbox) = smtp_server();
    let (hook_addr, hooks) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_setup(dir.path(), &base, smtp, hook_addr);

    // A new source with a week of backlog: one post every 20 minutes.
    let now = Utc::now();
    let mut items: Vec<Item> = (1..=504)
        .map(|k| {
            (
                format!("old{k}"),
                "Acme présente ses offres".to_string(),
                "Nouvelle offre Acme pour la rentrée.".to_string(),
                now - chrono::Duration::minutes(20 * k),
            )
        })
        .collect();
    feeds.set("brand.xml", Page::ok("application/rss+xml", rss(&items)));
    feeds.set(
        "malformed.xml",
        Page::ok("application/rss+xml", "<rss><channel><item><title>cut here"),
    );
    feeds.set(
        "broken.xml",
        Page {
            status: 500,
            content_type: "text/plain".into(),
            body: "internal error".into(),
        },
    );

    let d = start_daemon(&config, None).await;
    // Quiet phase: the backlog is ingested, errors are counted, nothing is sent.
    let mut text = String::new();
    for _ in 0..200 {
        text = d.metrics().await;
        if metric(&text, "veilleur_mentions_ingested_total{source=\"brand\"}") == Some(504.0)
            && metric(&text, "veilleur_fetch_errors_total{source=\"malformed\"}")
                .is_some_and(|v| v >= 1.0)
            && metric(&text, "veilleur_fetch_errors_total{source=\"broken\"}")
                .is_some_and(|v| v >= 1.0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        metric(&text, "veilleur_mentions_ingested_total{source=\"brand\"}"),
        Some(504.0),
        "{text}"
    );
    assert!(
        metric(&text, "veilleur_fetch_errors_total{source=\"malformed\"}").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(
        metric(&text, "veilleur_fetch_errors_total{source=\"broken\"}").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    let polled = feeds.hits("brand.xml");
    assert!(
        wait_for(Duration::from_secs(10), || feeds.hits("brand.xml")
            >= polled + 2)
        .await
    );
    assert!(
        inbox.lock().unwrap().is_empty(),
        "quiet phase sent an email"
    );
    assert!(
        hooks.lock().unwrap().is_empty(),
        "quiet phase called the webhook"
    );

    // The spike: 15 complaints in the last 15 seconds.
    let spike_at = Utc::now();
    items.extend((0..15).map(|k| {
        (
            format!("new{k}"),
            "Panne géante chez Acme".to_string(),
            "Service client Acme injoignable, c'est une arnaque".to_string(),
            spike_at - chrono::Duration::seconds(k),
        )
    }));
    feeds.set("brand.xml", Page::ok("application/rss+xml", rss(&items)));
    assert!(
        wait_for(Duration::from_secs(20), || !inbox
            .lock()
            .unwrap()
            .is_empty()
            && !hooks.lock().unwrap().is_empty())
        .await,
        "no alert delivered after the spike"
    );
    // Keep polling a while: still exactly one of each.
    let polled = feeds.hits("brand.xml");
    assert!(
        wait_for(Duration::from_secs(10), || feeds.hits("brand.xml")
            >= polled + 3)
        .await
    );
    d.stop().await;

    {
        let mails = inbox.lock().unwrap();
        assert_eq!(mails.len(), 1, "exactly one email");
        let msg = mail_parser::MessageParser::default()
            .parse(mails[0].data.as_bytes())
            .expect("a parsable email");
        let subject = msg.subject().unwrap_or_default();
        assert!(
            subject.contains("acme"),
            "watch name in the subject: {subject}"
        );
        let body = msg.body_text(0).unwrap_or_default();
        assert!(
            body.contains("http://example.org/posts/new"),
            "a mention link in the body:\n{body}"
        );
        assert!(msg.body_html(0).is_some(), "an HTML part");
    }
    {
        let got = hooks.lock().unwrap();
        assert_eq!(got.len(), 1, "exactly one webhook POST");
        let ev: AlertEvent = serde_json::from_slice(&got[0].body).expect("alert event JSON");
        assert_eq!(ev.watch, "acme");
        assert_eq!(ev.rule, "bad-buzz");
        assert_eq!(ev.state, AlertState::Firing);
        assert!(ev.observed >= 8, "{ev:?}");
        assert!(ev.expected < 1.0, "{ev:?}");
        assert!(
            ev.top_mentions.iter().any(|m| m.url.contains("/posts/new")),
            "{ev:?}"
        );
        // The event time is that of a spike mention, not of the delivery.
        assert!(
            ev.at <= spike_at && ev.at > spike_at - chrono::Duration::seconds(20),
            "{ev:?}"
        );
        assert!(got[0].headers.contains_key("idempotency-key"));
    }

    // Restart on the same data_dir: nothing more is sent.
    let d = start_daemon(&config, None).await;
    let polled = feeds.hits("brand.xml");
    assert!(
        wait_for(Duration::from_secs(10), || feeds.hits("brand.xml")
            >= polled + 3)
        .await
    );
    let text = d.metrics().await;
    d.stop().await;
    assert_eq!(inbox.lock().unwrap().len(), 1, "restart re-sent an email");
    assert_eq!(hooks.lock().unwrap().len(), 1, "restart re-sent a webhook");
    assert_eq!(
        metric(&text, "veilleur_mentions_ingested_total{source=\"brand\"}").unwrap_or(0.0),
        0.0,
        "restart re-ingested seen mentions:\n{text}"
    );
}
