//! The HTTP API against a real daemon on loopback: mentions imported with
//! `veilleur import` and fetched live from a loopback feed, searched page
//! by page; watches, alerts and chart series; reload with a broken and a
//! valid rule set; and the token rules.
//!
//! Refusals of clients without a token are tested with
//! `api.trust_loopback = false`: the test's client is on loopback, which is
//! otherwise trusted (the rule for a remote client is then the same).

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{Daemon, FeedServer, Page, metric, rss, start_daemon};
use serde_json::Value;

const RULE: &str = r#"
[watch]
name = "acme"
query = 'acme'
tags = ["brand"]

[[alert]]
name = "spike"
kind = "volume_spike"

[[alert]]
name = "boycott"
kind = "keyword"
query = 'boycott'
severity = "critical"
"#;

const NEGATIVE: &str = "Acme panne encore, service client nul, une arnaque honteuse";
const POSITIVE: &str = "Acme super service, merci, excellent et rapide";

/// `n` mentions of acme published hourly-ish over the last two days (every
/// third negative) and 5 unrelated ones, as an import file.
fn history(dir: &Path, now: DateTime<Utc>, n: usize) -> PathBuf {
    let mut lines = String::new();
    for i in 0..n {
        let at = now - chrono::Duration::minutes(20 + 23 * i as i64);
        let text = if i % 3 == 0 { NEGATIVE } else { POSITIVE };
        lines.push_str(&format!(
            "{}\n",
            serde_json::json!({
                "source": "history",
                "url": format!("https://forum.example.org/t/{i}"),
                "title": format!("Avis {i}"),
                "text": text,
                "author": format!("auteur{i}"),
                "published": at.to_rfc3339(),
            })
        ));
    }
    for i in 0..5 {
        lines.push_str(&format!(
            "{}\n",
            serde_json::json!({
                "source": "history",
                "url": format!("https://other.example.org/{i}"),
                "title": "Météo",
                "text": "Il pleut sur Lyon",
                "author": "x",
                "published": (now - chrono::Duration::hours(i)).to_rfc3339(),
            })
        ));
    }
    let path = dir.join("history.jsonl");
    std::fs::write(&path, lines).unwrap();
    path
}

fn import(config: &Path, file: &Path) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_veilleur"))
        .args(["import", "--config"])
        .arg(config)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A config with a feed source at `base` and `api` as its `[api]` section.
fn setup(dir: &Path, base: &str, api: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/acme.toml"), RULE).unwrap();
    let config = dir.join("veilleur.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\ncommit_interval = \"100ms\"\n\n[[source]]\nname = \"live\"\nkind = \"feed\"\nurl = \"{base}/f.xml\"\ninterval = \"1s\"\n{api}"
        ),
    )
    .unwrap();
    config
}

fn base(d: &Daemon) -> String {
    d.metrics_url.trim_end_matches("/metrics").to_string()
}

async fn get(url: &str) -> (u16, Value) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

/// Every page of `/api/mentions?{params}`, following `next`; checks each
/// page is newest first and at most `limit` long.
async fn all_pages(base: &str, params: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut url = format!("{base}/api/mentions?{params}&limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", urlencode(c)));
        }
        let (status, body) = get(&url).await;
        assert_eq!(status, 200, "{url}: {body}");
        let page = body["mentions"].as_array().unwrap().clone();
        assert!(page.len() <= limit);
        let times: Vec<DateTime<Utc>> = page
            .iter()
            .map(|m| m["published"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
        out.extend(page);
        match body["next"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("pagination does not end");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_pages_through_mentions_and_reports_watches_alerts_and_stats() {
    veilleur::install_crypto_provider();
    let (feeds, feed_base) = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), &feed_base, "");
    let now = Utc::now();
    import(&config, &history(dir.path(), now, 120));
    let live: Vec<_> = (0..3)
        .map(|i| {
            (
                format!("live{i}"),
                format!("Acme boycott {i}"),
                "Appel au boycott de acme".to_string(),
                Utc::now(),
            )
        })
        .collect();
    feeds.set("f.xml", Page::ok("application/rss+xml", rss(&live)));
    let d = start_daemon(&config, None).await;
    d.metrics_until("veilleur_mentions_ingested_total{source=\"live\"}", 3.0)
        .await;
    let base = base(&d);

    // The boycott rule fires on the live mentions: an active alert with
    // its event, and the event among the recent ones.
    let mut alerts = Value::Null;
    for _ in 0..100 {
        alerts = get(&format!("{base}/api/alerts")).await.1;
        if alerts["active"].as_array().is_some_and(|a| {
            a.iter()
                .any(|x| x["rule"] == "boycott" && x["event"].is_object())
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let active = alerts["active"].as_array().unwrap();
    let boycott = active.iter().find(|x| x["rule"] == "boycott").unwrap();
    assert_eq!(boycott["watch"], "acme", "{alerts}");
    assert_eq!(boycott["state"], "firing");
    assert_eq!(boycott["severity"], "critical");
    assert!(
        boycott["event"]["summary"]
            .as_str()
            .unwrap()
            .contains("acme")
    );
    // For people: the same in the daemon's language (English by default),
    // rendered from the event's fields.
    let local = boycott["event"]["summary_local"].as_str().unwrap();
    assert!(
        local.starts_with("acme / boycott: ") && local.contains("mentions with the crisis words"),
        "{local}"
    );
    let recent = alerts["recent"].as_array().unwrap();
    assert!(
        recent
            .iter()
            .any(|e| e["rule"] == "boycott" && e["state"] == "firing" && e["id"].is_string()),
        "{alerts}"
    );
    let (_, none) = get(&format!("{base}/api/alerts?watch=other")).await;
    assert!(none["active"].as_array().unwrap().is_empty());

    // Search: every acme mention, page by page, none twice; the same set
    // and order as `veilleur search --json`.
    let pages = all_pages(&base, "q=acme", 7).await;
    let ids: Vec<&str> = pages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 123);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        123,
        "no mention twice"
    );
    let cli: Vec<Value> = common::search_json(&config, "acme");
    assert_eq!(pages.len(), cli.len());
    for (api, cli) in pages.iter().zip(&cli) {
        assert_eq!(api, cli, "the same JSON shape and order as the CLI");
    }

    // Empty q is everything; filters.
    let everything = all_pages(&base, "q=", 50).await;
    assert_eq!(everything.len(), 128);
    let is_negative = |m: &Value| m["sentiment"].as_f64().is_some_and(|s| s <= -0.05);
    let of_acme = |m: &Value| {
        m["watches"]
            .as_array()
            .is_some_and(|w| w.contains(&Value::from("acme")))
    };
    let negative = all_pages(&base, "watch=acme&sentiment=neg", 10).await;
    let want: Vec<&Value> = everything
        .iter()
        .filter(|m| is_negative(m) && of_acme(m))
        .collect();
    assert!(
        negative.len() >= 40,
        "every third imported mention at least"
    );
    assert_eq!(negative.iter().collect::<Vec<_>>(), want);
    assert_eq!(all_pages(&base, "q=boycott&source=live", 2).await.len(), 3);
    let since = (now - chrono::Duration::hours(2)).to_rfc3339();
    let recent_ones = all_pages(&base, &format!("q=acme&since={}", urlencode(&since)), 50).await;
    let expected_recent = (0..120).filter(|i| 20 + 23 * i <= 120).count() + 3;
    assert_eq!(recent_ones.len(), expected_recent);

    // Errors say what to fix, as JSON.
    for (params, status, needle) in [
        ("q=%22acme", 400, "column"),
        ("watch=nope", 404, "/api/watches"),
        ("sentiment=angry", 400, "neg, neu, pos"),
        ("limit=100000", 400, "limit"),
        ("cursor=zzz", 400, "previous page"),
        ("since=yesterday", 400, "RFC 3339"),
    ] {
        let (s, body) = get(&format!("{base}/api/mentions?{params}")).await;
        assert_eq!(s, status, "{params}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{params}: {body}"
        );
    }

    // Watches: counts, rules and their state.
    let (s, w) = get(&format!("{base}/api/watches")).await;
    assert_eq!(s, 200);
    let acme = &w["watches"][0];
    assert_eq!(acme["name"], "acme", "{w}");
    assert_eq!(acme["tags"][0], "brand");
    assert_eq!(acme["state"], "firing");
    let last_day = (0..120).filter(|i| 20 + 23 * i < 1440).count() + 3;
    assert_eq!(acme["mentions_last_day"], last_day, "{acme}");
    assert!(acme["negative_share"].as_f64().unwrap() > 0.2, "{acme}");
    let rules = acme["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0]["kind"], "volume_spike");
    assert!(rules[0]["expected"].is_number(), "imported history: {acme}");
    assert_eq!(rules[1]["state"], "firing");

    // Stats: hourly series whose sum is the mentions in the range.
    let (s, st) = get(&format!("{base}/api/stats?watch=acme&since=48h&step=1h")).await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(st["step_secs"], 3600);
    let points = st["points"].as_array().unwrap();
    assert!((48..=50).contains(&points.len()), "{}", points.len());
    let total: u64 = points.iter().map(|p| p["total"].as_u64().unwrap()).sum();
    let negative: u64 = points.iter().map(|p| p["negative"].as_u64().unwrap()).sum();
    let in_range = (0..120).filter(|i| 20 + 23 * i < 48 * 60).count() as u64 + 3;
    assert_eq!(total, in_range);
    assert_eq!(
        negative,
        want.len() as u64,
        "every negative acme mention is in range"
    );
    let (s, _) = get(&format!("{base}/api/stats?watch=acme&since=30d&step=1m")).await;
    assert_eq!(s, 400, "too many points");
    let (s, _) = get(&format!("{base}/api/stats?watch=nope")).await;
    assert_eq!(s, 404);

    // The per-watch gauges.
    let text = d
        .metrics_until("veilleur_watch_mentions_last_hour{watch=\"acme\"}", 1.0)
        .await;
    assert!(
        metric(&text, "veilleur_watch_mentions_last_hour{watch=\"acme\"}").unwrap() >= 3.0,
        "{text}"
    );
    assert!(metric(&text, "veilleur_watch_negative_share{watch=\"acme\"}").unwrap() > 0.2);
    assert!(
        metric(&text, "veilleur_index_disk_bytes").unwrap() > 0.0,
        "{text}"
    );
    assert!(metric(&text, "veilleur_state_disk_bytes").unwrap() > 0.0);
    assert_eq!(
        metric(&text, "veilleur_config_last_reload_successful"),
        Some(1.0)
    );

    // The page and the watch page alert emails link to.
    let r = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(r.text().await.unwrap().contains("/app.js"));
    assert_eq!(
        reqwest::get(format!("{base}/watch/acme"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{base}/app.js"))
            .await
            .unwrap()
            .status(),
        200
    );
    d.stop().await;
}

const BROKEN: &str = "[watch]\nname = \"acme\"\nquery = '\"acme'\n";
const RENAMED: &str = "[watch]\nname = \"acme-v2\"\nquery = 'acme OR acmé'\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_guard_the_api_and_reload_refuses_a_broken_rule_set() {
    veilleur::install_crypto_provider();
    let (feeds, feed_base) = FeedServer::start().await;
    feeds.set("f.xml", Page::ok("application/rss+xml", rss(&[])));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("read.token"), "read-secret-1\n").unwrap();
    std::fs::write(dir.path().join("admin.token"), "admin-secret-2\n").unwrap();
    let config = setup(
        dir.path(),
        &feed_base,
        "\n[api]\ntoken_file = \"read.token\"\nadmin_token_file = \"admin.token\"\ntrust_loopback = false\n",
    );
    let d = start_daemon(&config, None).await;
    let base = base(&d);
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: Option<&str>| {
        let mut r = client.request(method, format!("{base}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let www = r.headers().get("www-authenticate").is_some();
            (
                status,
                www,
                serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap_or(Value::Null),
            )
        }
    };
    use reqwest::Method;

    // No token, a wrong one: 401 with a challenge, on every API route.
    for path in [
        "/api/watches",
        "/api/mentions",
        "/api/alerts",
        "/api/stats?watch=acme",
    ] {
        let (s, www, body) = call(Method::GET, path, None).await;
        assert_eq!((s, www), (401, true), "{path}: {body}");
        assert!(body["error"].as_str().unwrap().contains("Bearer"));
        let (s, _, _) = call(Method::GET, path, Some("read-secret")).await;
        assert_eq!(s, 401, "a prefix of the token is not the token");
    }
    let (s, _, _) = call(Method::POST, "/-/reload", None).await;
    assert_eq!(s, 401);
    // The read token reads, and may not reload. The rules in force are
    // published shortly after start: wait for them (a loaded machine).
    let mut w = Value::Null;
    for _ in 0..100 {
        let (s, _, got) = call(Method::GET, "/api/watches", Some("read-secret-1")).await;
        assert_eq!(s, 200);
        w = got;
        if w["watches"][0]["name"] == "acme" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(w["watches"][0]["name"], "acme");
    let (s, _, body) = call(Method::POST, "/-/reload", Some("read-secret-1")).await;
    assert_eq!(s, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("admin"));
    // The admin token reads too; metrics and health need no token.
    let (s, _, _) = call(Method::GET, "/api/alerts", Some("admin-secret-2")).await;
    assert_eq!(s, 200);
    assert_eq!(reqwest::get(&d.metrics_url).await.unwrap().status(), 200);
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    let (_, _, who) = call(Method::GET, "/api/whoami", Some("read-secret-1")).await;
    assert_eq!(who["access"], "read");
    let (_, _, who) = call(Method::GET, "/api/whoami", None).await;
    assert_eq!(who["access"], Value::Null);

    // A broken rule set is refused with its diagnostics; the old rules run on.
    let rule = dir.path().join("rules/acme.toml");
    std::fs::write(&rule, BROKEN).unwrap();
    let (s, _, body) = call(Method::POST, "/-/reload", Some("admin-secret-2")).await;
    assert_eq!(s, 422, "{body}");
    let err = body["error"].as_str().unwrap();
    assert!(err.contains("acme.toml:3:"), "file:line in {err}");
    assert!(err.contains("previous ones keep running"), "{err}");
    let (_, _, w) = call(Method::GET, "/api/watches", Some("read-secret-1")).await;
    assert_eq!(w["watches"][0]["name"], "acme", "old rules kept: {w}");
    let text = d.metrics().await;
    assert_eq!(
        metric(&text, "veilleur_config_last_reload_successful"),
        Some(0.0),
        "{text}"
    );

    // A valid one is taken at once.
    std::fs::write(&rule, RENAMED).unwrap();
    let (s, _, body) = call(Method::POST, "/-/reload", Some("admin-secret-2")).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["watches"], 1);
    let (_, _, w) = call(Method::GET, "/api/watches", Some("read-secret-1")).await;
    let names: Vec<&str> = w["watches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["acme-v2"]);
    let text = d.metrics().await;
    assert_eq!(
        metric(&text, "veilleur_config_last_reload_successful"),
        Some(1.0)
    );
    assert!(
        metric(
            &text,
            "veilleur_config_last_reload_success_timestamp_seconds"
        )
        .unwrap()
            > 1.7e9
    );
    assert_eq!(
        metric(&text, "veilleur_watch_anomaly_score{watch=\"acme\"}"),
        None,
        "a removed watch's gauges go: {text}"
    );
    d.stop().await;
}

/// The `[api]` example of the README passes `veilleur check` with the file
/// and variable it names; without them, check names what is missing.
#[test]
fn readme_api_example_passes_check() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block: String = readme
        .split("```toml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.starts_with("[api]"))
        .expect("the README shows an [api] example")
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/acme.toml"), RULE).unwrap();
    let token = dir.path().join("api-token");
    std::fs::write(&token, "0123456789abcdef\n").unwrap();
    let api = block.replace("/etc/veilleur/api-token", &token.display().to_string());
    let config = dir.path().join("veilleur.toml");
    std::fs::write(
        &config,
        format!("[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"0.0.0.0:9464\"\n\n{api}"),
    )
    .unwrap();
    let check = |admin: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_veilleur"));
        cmd.args(["check", "--config"]).arg(&config);
        match admin {
            Some(v) => cmd.env("VEILLEUR_API_ADMIN_TOKEN", v),
            None => cmd.env_remove("VEILLEUR_API_ADMIN_TOKEN"),
        };
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = check(Some("fedcba9876543210"));
    assert!(ok, "{err}");
    let (ok, err) = check(None);
    assert!(!ok);
    assert!(
        err.contains("VEILLEUR_API_ADMIN_TOKEN") && err.contains("not set"),
        "{err}"
    );
}

/// Silences through the API (the daemon holds the state store, so this is
/// how they are written while it runs): created for a watch and rule in
/// force, listed with their status, expired; names not in force and bad
/// bodies refused; admin only; an alert that does not fire cannot be
/// acknowledged. What a silence does to notifications is tests/silences.rs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_and_acks_through_the_api() {
    veilleur::install_crypto_provider();
    let (feeds, feed_base) = FeedServer::start().await;
    feeds.set("f.xml", Page::ok("application/rss+xml", rss(&[])));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("read.token"), "read-secret-1\n").unwrap();
    std::fs::write(dir.path().join("admin.token"), "admin-secret-2\n").unwrap();
    let config = setup(
        dir.path(),
        &feed_base,
        "\n[api]\ntoken_file = \"read.token\"\nadmin_token_file = \"admin.token\"\ntrust_loopback = false\n",
    );
    let d = start_daemon(&config, None).await;
    let base = base(&d);
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: &str, body: Option<Value>| {
        let mut r = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&b).unwrap());
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            (
                status,
                serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap_or(Value::Null),
            )
        }
    };
    use reqwest::Method;
    let admin = "admin-secret-2";
    let read = "read-secret-1";

    // The rules in force are published shortly after start (503 before).
    for _ in 0..100 {
        let (s, w) = call(Method::GET, "/api/watches", read, None).await;
        if s == 200 && w["watches"][0]["name"] == "acme" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = serde_json::json!({"watch": "acme", "rule": "spike", "for": "6h", "comment": "salon annuel", "created_by": "ops"});
    let (s, _) = call(Method::POST, "/api/silences", read, Some(body.clone())).await;
    assert_eq!(s, 403, "a read token cannot silence");
    let (s, created) = call(Method::POST, "/api/silences", admin, Some(body)).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["watch"], "acme");
    assert_eq!(created["rule"], "spike");
    assert_eq!(created["status"], "active");
    let id = created["id"].as_u64().unwrap();
    let ends: DateTime<Utc> = created["ends_at"].as_str().unwrap().parse().unwrap();
    let left = ends - Utc::now();
    assert!(
        left > chrono::Duration::minutes(350) && left <= chrono::Duration::hours(6),
        "{created}"
    );

    for (bad, why) in [
        (
            serde_json::json!({"watch": "acmee", "for": "1h"}),
            "no watch `acmee`",
        ),
        (
            serde_json::json!({"watch": "acme", "rule": "spyke", "for": "1h"}),
            "no alert rule `spyke`",
        ),
        (serde_json::json!({"watch": "acme"}), "either `ends_at`"),
        (serde_json::json!({"watch": "acme", "for": "soon"}), "`for`"),
        (
            serde_json::json!({"watch": "acme", "for": "1h", "mute": true}),
            "not a silence",
        ),
    ] {
        let (s, e) = call(Method::POST, "/api/silences", admin, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {e}");
        assert!(e["error"].as_str().unwrap().contains(why), "{bad}: {e}");
    }

    let (s, list) = call(Method::GET, "/api/silences", read, None).await;
    assert_eq!(s, 200);
    let all = list["silences"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{list}");
    assert_eq!(all[0]["comment"], "salon annuel");

    let (s, _) = call(Method::DELETE, &format!("/api/silences/{id}"), read, None).await;
    assert_eq!(s, 403);
    let (s, gone) = call(Method::DELETE, &format!("/api/silences/{id}"), admin, None).await;
    assert_eq!(s, 200, "{gone}");
    assert_eq!(gone["status"], "expired");
    let (_, list) = call(Method::GET, "/api/silences", read, None).await;
    assert_eq!(list["silences"][0]["status"], "expired");
    let (s, _) = call(Method::DELETE, "/api/silences/999", admin, None).await;
    assert_eq!(s, 404);

    // Nothing fires: there is nothing to acknowledge.
    let (s, e) = call(Method::POST, "/api/alerts/acme%2Fspike/ack", admin, None).await;
    assert!(s == 404 || s == 400, "{s}: {e}");
    let (s, _) = call(Method::POST, "/api/alerts/1/ack", read, None).await;
    assert_eq!(s, 403);

    // The chart alert messages link to: a PNG, behind the read token.
    let png = |token: Option<&'static str>, path: &'static str| {
        let mut r = client.get(format!("{base}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (status, ct, r.bytes().await.unwrap().to_vec())
        }
    };
    let (s, ct, bytes) = png(
        Some(read),
        "/watch/acme/chart.png?alert=acme%2Fspike%2Ffiring%2F0",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(ct.as_deref(), Some("image/png"));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    // The period chart digests link to.
    let (s, ct, bytes) = png(
        Some(read),
        "/watch/acme/chart.png?since=2026-02-23T08%3A30%3A00Z&until=2026-03-02T08%3A30%3A00Z",
    )
    .await;
    assert_eq!((s, ct.as_deref()), (200, Some("image/png")));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let (s, _, _) = png(
        Some(read),
        "/watch/acme/chart.png?since=2026-02-23T08%3A30%3A00Z",
    )
    .await;
    assert_eq!(s, 400, "since without until");
    let (s, _, _) = png(None, "/watch/acme/chart.png").await;
    assert_eq!(s, 401);
    let (s, _, _) = png(Some(read), "/watch/nope/chart.png").await;
    assert_eq!(s, 404);
    d.stop().await;
}
