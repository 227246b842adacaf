//! The daemon as Prometheus sees it: a real scrape of `/metrics` passes
//! `promtool check metrics`, and the shipped alerting rules pass
//! `promtool check rules` and `promtool test rules` (their unit tests are
//! `deploy/veilleur-alerts.test.yml`). promtool comes from Debian's
//! `prometheus` package (`.ci/run` installs it); where it is missing the
//! tests say so and pass, except under CI, where they fail.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

fn promtool() -> Option<&'static str> {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some("promtool");
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "promtool is not installed: .ci/run installs Debian's prometheus package"
    );
    eprintln!("promtool not installed (apt-get install prometheus): skipped");
    None
}

fn run_promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn a_real_scrape_passes_promtool_check_metrics() {
    if promtool().is_none() {
        return;
    }
    veilleur::install_crypto_provider();
    let (feeds, base) = common::FeedServer::start().await;
    feeds.set(
        "/feed.xml",
        common::Page::ok(
            "application/rss+xml",
            common::rss(&[(
                "acme panne".into(),
                "https://example.org/1".into(),
                "acme est en panne".into(),
                chrono::Utc::now(),
            )]),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/acme.toml"),
        "[watch]\nname = \"acme\"\nquery = \"acme\"\n\n[[alert]]\nname = \"buzz\"\nkind = \"volume_spike\"\n",
    )
    .unwrap();
    let config = dir.path().join("veilleur.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\n\n\
             [[source]]\nname = \"feed\"\nkind = \"feed\"\nurl = \"{base}/feed.xml\"\ninterval = \"1s\"\n\n\
             [[source]]\nname = \"broken\"\nkind = \"feed\"\nurl = \"{base}/missing.xml\"\ninterval = \"1s\"\n"
        ),
    )
    .unwrap();
    let daemon = common::start_daemon(&config, None).await;
    // Wait for samples of every kind: counters, a histogram, an error.
    let text = daemon
        .metrics_until("veilleur_mentions_ingested_total{source=\"feed\"}", 1.0)
        .await;
    assert!(
        text.contains("veilleur_fetch_duration_seconds_bucket"),
        "{text}"
    );
    // A plain client (no Accept for OpenMetrics) gets the text format.
    let resp = reqwest::get(&daemon.metrics_url).await.unwrap();
    let ctype = resp.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    let text = resp.text().await.unwrap();
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    // The standard process families and the build info are there.
    for family in [
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_start_time_seconds ",
        "veilleur_build_info{version=",
    ] {
        assert!(text.contains(family), "no {family} in\n{text}");
    }
    assert!(
        common::metric(&text, "process_resident_memory_bytes").unwrap_or(0.0) > 1e6,
        "{text}"
    );
    let (ok, out) = run_promtool(&["check", "metrics"], Some(&text));
    assert!(
        ok && out.trim().is_empty(),
        "promtool check metrics:\n{out}\n--- scrape:\n{text}"
    );
    // Prometheus itself asks for OpenMetrics and gets it.
    let om = reqwest::Client::new()
        .get(&daemon.metrics_url)
        .header(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(om.trim_end().ends_with("# EOF"), "{om}");
    daemon.stop().await;
}

#[test]
fn shipped_alerting_rules_pass_promtool_check_rules() {
    if promtool().is_none() {
        return;
    }
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/veilleur-alerts.yml");
    let (ok, out) = run_promtool(&["check", "rules", rules], None);
    assert!(ok, "promtool check rules:\n{out}");
}

#[test]
fn shipped_alerting_rules_pass_their_unit_tests() {
    if promtool().is_none() {
        return;
    }
    let tests = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/veilleur-alerts.test.yml"
    );
    let (ok, out) = run_promtool(&["test", "rules", tests], None);
    assert!(ok && out.contains("SUCCESS"), "promtool test rules:\n{out}");
}
