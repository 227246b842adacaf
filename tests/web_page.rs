//! The web page in headless Chromium against a real daemon holding
//! imported mentions and a firing alert: it loads, draws a chart per watch,
//! shows the alert with its explanation, returns search results (from an
//! alert email's link), speaks French or English by `Accept-Language`, and
//! leaves screenshots under `target/` (desktop and phone widths).
//!
//! Skipped, with a message saying so, where no Chromium binary exists
//! (`.ci/run` installs Debian's `chromium`). `VEILLEUR_CHROMIUM` names
//! another binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::Utc;
use common::{FeedServer, Page, rss, start_daemon};

const RULE: &str = r#"
[watch]
name = "acme"
query = 'acme'
tags = ["marque"]

[[alert]]
name = "spike"
kind = "volume_spike"

[[alert]]
name = "boycott"
kind = "keyword"
query = 'boycott'
severity = "critical"
"#;

const SECTOR: &str = "[watch]\nname = \"assurance\"\nquery = 'assurance OR mutuelle'\n";

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VEILLEUR_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Runs headless Chromium on `url` with `args`; returns its stdout.
fn browse(chrome: &Path, profile: &Path, lang: &str, args: &[&str], url: &str) -> String {
    let out = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--accept-lang={lang}"))
        .arg(format!("--lang={lang}"))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn setup(dir: &Path, feed: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/acme.toml"), RULE).unwrap();
    std::fs::write(dir.join("rules/assurance.toml"), SECTOR).unwrap();
    let config = dir.join("veilleur.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\ncommit_interval = \"100ms\"\nlang = \"fr\"\n\n[[source]]\nname = \"live\"\nkind = \"feed\"\nurl = \"{feed}/f.xml\"\ninterval = \"1s\"\n"
        ),
    )
    .unwrap();
    // Two days of history: acme every 20 minutes (more in the evening,
    // every fourth negative), the sector every hour.
    let now = Utc::now();
    let mut lines = String::new();
    for i in 0..144 {
        let at = now - chrono::Duration::minutes(15 + 20 * i);
        let text = if i % 4 == 0 {
            "Acme en panne, service client nul"
        } else {
            "Acme livraison rapide, merci"
        };
        lines.push_str(&format!(
            "{}\n",
            serde_json::json!({"source": "forum", "url": format!("https://forum.example.org/t/{i}"),
                "title": format!("Avis client {i} sur Acme"), "text": text, "author": format!("membre{i}"),
                "published": at.to_rfc3339()})
        ));
        if i % 3 == 0 {
            lines.push_str(&format!(
                "{}\n",
                serde_json::json!({"source": "presse", "url": format!("https://presse.example.org/a/{i}"),
                    "title": format!("Mutuelle santé : les tarifs {i}"), "text": "Assurance et mutuelle en hausse",
                    "author": "rédaction", "published": (at - chrono::Duration::minutes(7)).to_rfc3339()})
            ));
        }
    }
    let file = dir.join("history.jsonl");
    std::fs::write(&file, lines).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veilleur"))
        .args(["import", "--config"])
        .arg(&config)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    config
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_shows_charts_alerts_and_search_results_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        println!(
            "SKIPPED: no chromium binary on PATH (apt-get install chromium, or set VEILLEUR_CHROMIUM): the web page was not checked"
        );
        return;
    };
    veilleur::install_crypto_provider();
    let (feeds, feed) = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), &feed);
    let live: Vec<_> = (0..4)
        .map(|i| {
            (
                format!("live{i}"),
                format!("Appel au boycott d'Acme ({i})"),
                "Boycott : Acme ne rembourse pas".to_string(),
                Utc::now(),
            )
        })
        .collect();
    feeds.set("f.xml", Page::ok("application/rss+xml", rss(&live)));
    let d = start_daemon(&config, None).await;
    d.metrics_until(
        "veilleur_alerts_total{watch=\"acme\",rule=\"boycott\",severity=\"critical\"}",
        1.0,
    )
    .await;
    let base = d.metrics_url.trim_end_matches("/metrics").to_string();
    let profile = tempfile::tempdir().unwrap();
    let chrome_ = chrome.clone();
    let profile_dir = profile.path().to_path_buf();

    let home = format!("{base}/?q=watch:acme%20panne&since=48h");
    let watch_page = format!("{base}/watch/acme");
    let (fr, en, watch, shots) = tokio::task::spawn_blocking(move || {
        let p = profile_dir.as_path();
        let fr = browse(&chrome_, p, "fr-FR", &["--dump-dom"], &home);
        let en = browse(&chrome_, p, "en-US", &["--dump-dom"], &home);
        let watch = browse(&chrome_, p, "fr-FR", &["--dump-dom"], &watch_page);
        let target = target_dir();
        std::fs::create_dir_all(&target).unwrap();
        let mut shots = Vec::new();
        for (name, size, url) in [
            ("web-page.png", "1280,1700", &home),
            ("web-page-phone.png", "390,2400", &home),
            ("web-page-watch.png", "1280,1400", &watch_page),
        ] {
            let path = target.join(name);
            let _ = std::fs::remove_file(&path);
            browse(
                &chrome_,
                p,
                "fr-FR",
                &[
                    &format!("--screenshot={}", path.display()),
                    &format!("--window-size={size}"),
                ],
                url,
            );
            shots.push(path);
        }
        (fr, en, watch, shots)
    })
    .await
    .unwrap();

    // Loaded, in French, with both watches and a chart each.
    assert!(
        fr.contains("data-ready=\"true\""),
        "the script ran to the end:\n{fr}"
    );
    assert!(fr.contains("<html lang=\"fr\""), "{fr}");
    assert!(fr.contains("Alertes actives"));
    for w in ["acme", "assurance"] {
        assert!(
            fr.contains(&format!("aria-label=\"{w}\"")),
            "a card for {w}"
        );
    }
    assert_eq!(
        fr.matches("class=\"chart\"").count(),
        2,
        "one chart per watch"
    );
    assert!(fr.contains("class=\"bar\""), "the chart has bars");
    assert!(fr.contains("class=\"bar-neg\""), "and negative ones");
    // The alert and its explanation.
    assert!(fr.contains("boycott (critical)"), "{fr}");
    assert!(fr.contains("4 mentions observées"), "{fr}");
    // Its summary in the daemon's language (`lang = "fr"`), not
    // detection's English.
    assert!(
        fr.contains("acme / boycott\u{202F}: 4 mentions avec les mots de crise"),
        "{fr}"
    );
    // Loopback is trusted as admin here: the silence and acknowledge
    // buttons are shown (one silence per watch card, one ack per firing
    // alert).
    assert_eq!(fr.matches(">Silence 6 h</button>").count(), 2, "{fr}");
    assert!(fr.contains(">Pris en charge</button>"), "{fr}");
    // The link of an alert email: `watch:acme` moved to the watch filter,
    // results shown, each a link to the mention.
    assert!(fr.contains("class=\"result\""), "search results:\n{fr}");
    assert!(fr.contains("https://forum.example.org/t/"), "{fr}");
    assert!(!fr.contains("Livraison rapide"), "only the query's results");
    assert!(fr.contains("<option value=\"acme\" selected") || fr.contains("value=\"acme\""));
    // English by Accept-Language.
    assert!(en.contains("<html lang=\"en\""), "{en}");
    assert!(
        en.contains("Active alerts") && en.contains("mentions observed"),
        "{en}"
    );
    // The watch page: its chart over 7 days and its mentions.
    assert!(watch.contains("Mentions de acme"), "{watch}");
    assert_eq!(watch.matches("class=\"chart\"").count(), 1);
    assert!(watch.contains("class=\"result\""));
    for s in &shots {
        let len = std::fs::metadata(s).map(|m| m.len()).unwrap_or(0);
        assert!(len > 10_000, "screenshot {} ({len} bytes)", s.display());
        println!("screenshot: {}", s.display());
    }
    d.stop().await;
}
