//! Chat payloads field by field: the example alert (English, UTC, with
//! `public_url`) is sent through each chat format to a real webhook
//! receiver on loopback, and every field of the received JSON is compared
//! with the fixture of that service (tests/fixtures/chat/<format>.json).
//! Each fixture names the documentation it follows; a field the fixture
//! does not list is an error too, so a payload cannot grow a key the
//! service does not document.
//!
//! After a deliberate change of wording, `VEILLEUR_BLESS=1 cargo test
//! --test chat_payloads` rewrites the fixtures' `payload`; review the diff
//! against the service's documentation before committing it.

mod common;

use std::time::Duration;

use serde_json::Value;
use veilleur::alert::AlertEvent;
use veilleur::config::{ChannelConfig, ChannelKind, WebhookConfig, WebhookFormat};
use veilleur::notify::Notifier;

/// Every difference between `want` and `got`, by JSON pointer.
fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}/{k}");
                match g.get(k) {
                    Some(gv) => diff(&p, wv, gv, out),
                    None => out.push(format!("{p}: missing")),
                }
            }
            for k in g.keys().filter(|k| !w.contains_key(*k)) {
                out.push(format!("{path}/{k}: not in the fixture"));
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                out.push(format!(
                    "{path}: {} items, fixture has {}",
                    g.len(),
                    w.len()
                ));
            }
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff(&format!("{path}/{i}"), wv, gv, out);
            }
        }
        (w, g) if w != g => out.push(format!("{path}: got {g}, fixture has {w}")),
        _ => {}
    }
}

#[tokio::test]
async fn chat_payloads_match_the_documented_shapes() {
    veilleur::install_crypto_provider();
    let (addr, got) = common::webhook_receiver().await;
    let formats = [
        ("slack", WebhookFormat::Slack),
        ("mattermost", WebhookFormat::Mattermost),
        ("discord", WebhookFormat::Discord),
        ("teams", WebhookFormat::Teams),
    ];
    let ev = AlertEvent::example();
    for (name, format) in formats {
        let ch = ChannelConfig {
            name: name.into(),
            kind: ChannelKind::Webhook(WebhookConfig {
                url: format!("http://{addr}/hooks/{name}").parse().unwrap(),
                format,
                secret_env: None,
                secret_file: None,
            }),
            locale: Default::default(),
            public_url: Some("https://veille.example.org".parse().unwrap()),
        };
        Notifier::from_config(&ch, "test")
            .unwrap()
            .send(&ev, &ev.idempotency_key())
            .await
            .unwrap();
    }
    assert!(common::wait_for(Duration::from_secs(5), || got.lock().unwrap().len() == 4).await);
    let hooks = got.lock().unwrap().clone();
    let bless = std::env::var_os("VEILLEUR_BLESS").is_some();
    let mut problems = Vec::new();
    for (name, _) in formats {
        let h = hooks.iter().find(|h| h.path == name).unwrap();
        assert_eq!(h.headers["content-type"], "application/json");
        let payload: Value = serde_json::from_slice(&h.body).unwrap();
        let path = format!(
            "{}/tests/fixtures/chat/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(
            fixture["doc"].as_str().unwrap().starts_with("https://"),
            "{name}: doc link"
        );
        if bless {
            fixture["payload"] = payload.clone();
            std::fs::write(
                &path,
                serde_json::to_string_pretty(&fixture).unwrap() + "\n",
            )
            .unwrap();
        }
        let mut out = Vec::new();
        diff("", &fixture["payload"], &payload, &mut out);
        problems.extend(out.into_iter().map(|p| format!("{name}: {p}")));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
