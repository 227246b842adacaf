//! Secrets in webhook URLs never leak: the daemon binary runs with three
//! webhooks that keep failing (one answers 500 and echoes the request line,
//! one has a closed port, one carries `user:password@` and a signed query),
//! each with an alert waiting in the outbox. Its whole log (RUST_LOG=debug),
//! its /metrics and the bytes of its state store must hold no token of
//! those URLs, while they do hold the failures (so the scan looks at the
//! right place).

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use veilleur::alert::AlertEvent;
use veilleur::store::state::StateStore;
use veilleur::store::state::outbox::Entry;

const SECRETS: &[&str] = &[
    "T0SECRETWS",
    "B0SECRETCH",
    "slackTOKENsecret",
    "discordTOKENsecret",
    "PASSWORDsecret",
    "alice",
    "SIGsecret",
];

/// A receiver answering 500 with the request's path and query in the body,
/// as a badly written proxy would.
async fn echoing_500() -> (std::net::SocketAddr, Arc<Mutex<usize>>) {
    let hits = Arc::new(Mutex::new(0usize));
    let h = hits.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let h = h.clone();
        async move {
            *h.lock().unwrap() += 1;
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot route POST {uri} (full url http://x.org{uri})"),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, hits)
}

async fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..300 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn failing_webhooks_leak_no_token_to_logs_metrics_or_state() {
    let (addr, hits) = echoing_500().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    let config = dir.path().join("veilleur.toml");
    std::fs::write(
        &config,
        format!(
            r#"[daemon]
data_dir = "data"
rules_dir = "rules"
listen = "127.0.0.1:0"

[[channel]]
name = "slack"
kind = "webhook"
format = "slack"
url = "http://{addr}/services/T0SECRETWS/B0SECRETCH/slackTOKENsecret"

[[channel]]
name = "discord"
kind = "webhook"
format = "discord"
url = "http://{closed}/api/webhooks/123456/discordTOKENsecret"

[[channel]]
name = "teams"
kind = "webhook"
format = "teams"
url = "http://alice:PASSWORDsecret@{addr}/workflows/run?api-version=1&sig=SIGsecret"
"#
        ),
    )
    .unwrap();
    // An alert waits in the outbox for each channel.
    let state_path = dir.path().join("data/state");
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    {
        let state = StateStore::open(&state_path).unwrap();
        let ev = AlertEvent::example();
        let entries: Vec<Entry> = ["slack", "discord", "teams"]
            .iter()
            .map(|c| Entry::new(ev.clone().into(), c, 0))
            .collect();
        state.alerts().commit(&[], &entries).unwrap();
    }

    let mut child = Command::new(env!("CARGO_BIN_EXE_veilleur"))
        .args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });

    // Each channel fails at least twice (first try, then the 1 s backoff).
    let failures = |ch: &str| {
        log.lock()
            .unwrap()
            .lines()
            .filter(|l| l.contains(&format!("channel={ch}")) && l.contains("will retry"))
            .count()
    };
    let ok = wait_for(|| {
        *hits.lock().unwrap() >= 4 && failures("discord") >= 2 && failures("teams") >= 2
    })
    .await;
    // The metrics, from the address the daemon logged.
    let metrics = {
        let text = log.lock().unwrap().clone();
        let addr = text
            .lines()
            .find(|l| l.contains("serving") && l.contains("/metrics"))
            .and_then(|l| l.split("addr=").nth(1))
            .map(|a| a.split_whitespace().next().unwrap().to_string())
            .expect("the daemon logs where it listens");
        veilleur::install_crypto_provider();
        reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    let log = log.lock().unwrap().clone();
    assert!(ok, "every channel failed twice:\n{log}");

    // The scan looks at the right place: the failures are there…
    assert!(log.contains("webhook answered HTTP 500"), "{log}");
    assert!(log.contains(&format!("http://{addr}/…")) || log.contains("answered HTTP 500"));
    assert!(
        metrics.contains("veilleur_notifications_total{channel=\"discord\",outcome=\"retry\"}"),
        "{metrics}"
    );
    let db = std::fs::read(&state_path).unwrap();
    let db_text = String::from_utf8_lossy(&db);
    assert!(
        db_text.contains("answered HTTP 500"),
        "the last error is stored"
    );
    // …and no token is.
    for secret in SECRETS {
        assert!(!log.contains(secret), "log leaks {secret}:\n{log}");
        assert!(!metrics.contains(secret), "metrics leak {secret}");
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "state store leaks {secret}"
        );
    }
}
