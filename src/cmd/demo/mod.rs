//! `veilleur demo`: the real daemon on a bundled crisis scenario.
//!
//! A loopback HTTP server plays three feeds (RSS news, an Atom forum, a JSON
//! Feed of social posts) about a fictional brand, Acme Télécom: ten minutes
//! of quiet history, half a minute of quiet live traffic, then a growing
//! wave of negative posts (outage, data breach, unreachable support). The
//! daemon polls them, indexes, detects the spike and writes the alert email
//! into a folder. The demo prints each alert as it fires and exits by itself.
//! No network beyond loopback is used.

mod scenario;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::alert::{AlertEvent, AlertState};
use scenario::Scenario;

const RULE: &str = include_str!("acme.toml");

pub(crate) fn run(data_dir: Option<PathBuf>, speed: f64) -> anyhow::Result<ExitCode> {
    if !(speed > 0.0 && speed.is_finite()) {
        anyhow::bail!("--speed must be a positive number, e.g. 1.0 or 4");
    }
    let tmp;
    let root = match data_dir {
        Some(d) => d,
        None => {
            tmp = tempfile_dir()?;
            tmp.clone()
        }
    };
    std::fs::create_dir_all(root.join("rules"))
        .with_context(|| format!("cannot create {}", root.display()))?;
    std::fs::write(root.join("rules/acme.toml"), RULE)?;
    super::runtime()?.block_on(play(root, speed))
}

/// A fresh folder under the system temp dir (kept, so the emails can be read).
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "veilleur-demo-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

async fn play(root: PathBuf, speed: f64) -> anyhow::Result<ExitCode> {
    let scenario = Arc::new(Scenario::new(speed));
    let feeds = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind the scenario server on loopback")?;
    let feeds_addr = feeds.local_addr()?;
    let stop = CancellationToken::new();
    let server_stop = stop.clone();
    let app = scenario::router(scenario.clone());
    tokio::spawn(async move {
        let _ = axum::serve(feeds, app)
            .with_graceful_shutdown(async move { server_stop.cancelled().await })
            .await;
    });

    let poll = format!("{}ms", (2000.0 / speed).max(200.0) as u64);
    let config_text = format!(
        r#"[daemon]
data_dir = "data"
rules_dir = "rules"
listen = "127.0.0.1:0"
commit_interval = "1s"

[[source]]
name = "news"
kind = "feed"
url = "http://{feeds_addr}/news.xml"
interval = "{poll}"

[[source]]
name = "forum"
kind = "feed"
url = "http://{feeds_addr}/forum.atom"
interval = "{poll}"

[[source]]
name = "social"
kind = "feed"
url = "http://{feeds_addr}/social.json"
interval = "{poll}"

[[channel]]
name = "comms-email"
kind = "file"
dir = "outbox"
"#
    );
    let config_path = root.join("veilleur.toml");
    std::fs::write(&config_path, &config_text)?;
    let config = super::load_config(&config_path)?;
    let outbox_dir = root.join("outbox");

    println!("veilleur demo — a bad buzz about the fictional brand Acme Télécom");
    println!("  scenario feeds   http://{feeds_addr}/news.xml  /forum.atom  /social.json");
    println!("  config and data  {}", root.display());

    let (listen_tx, listen_rx) = oneshot::channel();
    let (alert_tx, mut alert_rx) = mpsc::channel::<AlertEvent>(64);
    let daemon_stop = CancellationToken::new();
    let daemon = tokio::spawn(crate::daemon::run_with(
        config,
        daemon_stop.clone(),
        crate::daemon::Hooks {
            listening: Some(listen_tx),
            alerts: Some(alert_tx),
        },
    ));
    match listen_rx.await {
        Ok(addr) => println!("  metrics          http://{addr}/metrics\n"),
        Err(_) => {
            // The daemon ended before listening: report its error.
            daemon.await??;
            anyhow::bail!("the daemon stopped before it started listening");
        }
    }

    let total = scenario.duration() + Duration::from_secs_f64(5.0 / speed);
    let started = tokio::time::Instant::now();
    let mut fired = 0usize;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(5.0 / speed));
    loop {
        tokio::select! {
            ev = alert_rx.recv() => {
                let Some(ev) = ev else { break };
                if ev.state == AlertState::Firing {
                    fired += 1;
                }
                print_alert(&ev, &outbox_dir);
            }
            _ = ticker.tick() => {
                let t = started.elapsed().as_secs_f64() * speed;
                println!("  t={t:>3.0}s  {}", scenario.phase(started.elapsed()));
            }
            _ = tokio::time::sleep_until(started + total) => break,
        }
    }
    daemon_stop.cancel();
    daemon.await.context("the daemon task failed")??;
    stop.cancel();

    let emails = std::fs::read_dir(&outbox_dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0);
    println!(
        "\ndemo finished: {fired} alert{} fired, {emails} email{} written to {}",
        if fired == 1 { "" } else { "s" },
        if emails == 1 { "" } else { "s" },
        outbox_dir.display()
    );
    println!(
        "search what was indexed:  cargo run --release -- search --config {} 'acme AND (panne OR fuite)'",
        config_path.display()
    );
    if fired == 0 {
        eprintln!("error: no alert fired during the scenario");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_alert(ev: &AlertEvent, outbox: &std::path::Path) {
    let state = match ev.state {
        AlertState::Firing => "FIRING",
        AlertState::Resolved => "RESOLVED",
    };
    println!("\n  ▶ {state} [{}] {} / {}", ev.severity, ev.watch, ev.rule);
    println!("    {}", ev.summary);
    if !ev.top_terms.is_empty() {
        println!("    top terms: {}", ev.top_terms.join(", "));
    }
    for m in ev.top_mentions.iter().take(3) {
        println!("    - {} ({}) {}", m.title, m.author, m.url);
    }
    if ev.state == AlertState::Firing {
        println!("    email → {}\n", outbox.display());
    }
}
