//! The alert email as its reader gets it: a config in French (Paris time)
//! and one in English (New York time) with `public_url`, the real outbox
//! over a state store holding three days of the watch's buckets, and a real
//! SMTP server on loopback. Each message is parsed with mail-parser and
//! checked for its subject, text and HTML parts, the language's typography,
//! the local time, the inline chart (a PNG decoded with the `png` crate)
//! and the links.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use veilleur::alert::{AlertEvent, TopMention};
use veilleur::config::Config;
use veilleur::notify::Notifier;
use veilleur::notify::outbox::{OutboxOptions, run_with_options};
use veilleur::store::state::outbox::Entry;
use veilleur::store::state::{IngestCommit, StateStore};
use veilleur::telemetry::Metrics;

const NNBSP: char = '\u{202F}';

/// Tuesday 3 March 2026, 13:05 UTC: 14:05 in Paris, 08:05 in New York.
fn at() -> chrono::DateTime<chrono::Utc> {
    "2026-03-03T13:05:00Z".parse().unwrap()
}

fn event() -> AlertEvent {
    let mut ev = AlertEvent::example();
    ev.at = at();
    ev.observed = 154;
    ev.expected = 25.0;
    ev.factor = 6.16;
    ev.negative_share = 0.63;
    ev.negative_share_usual = 0.12;
    ev.window_secs = 3600;
    ev.top_mentions = vec![
        TopMention {
            url: "https://forum.example.org/t/acme-panne?page=2".into(),
            title: "Acme en panne depuis ce matin, réclamation ignorée".into(),
            author: "@jdoe".into(),
            reach: 12_345,
            sentiment: -0.8,
        },
        TopMention {
            url: "https://blog.example.org/acme".into(),
            title: "Encore une panne <b>Acme</b>".into(),
            author: "Marie".into(),
            reach: 0,
            sentiment: -0.4,
        },
    ];
    ev
}

fn config(dir: &std::path::Path, smtp: std::net::SocketAddr) -> Config {
    let path = dir.join("veilleur.toml");
    std::fs::write(
        &path,
        format!(
            r#"[daemon]
data_dir = "data"
rules_dir = "rules"
lang = "fr"
timezone = "Europe/Paris"
public_url = "https://veille.example.org"

[[channel]]
name = "comms-fr"
kind = "email"
smtp = "smtp://{smtp}?tls=none"
from = "veilleur@example.org"
to = ["comms@example.org"]

[[channel]]
name = "comms-en"
kind = "email"
lang = "en"
timezone = "America/New_York"
smtp = "smtp://{smtp}?tls=none"
from = "veilleur@example.org"
to = ["us@example.org"]
"#
        ),
    )
    .unwrap();
    Config::load(&path).unwrap_or_else(|d| panic!("{d:?}"))
}

/// Three days of about 3 mentions an hour, then 154 in the last hour.
fn buckets(state: &StateStore) {
    let end = at().timestamp() / 60;
    let mut rows = Vec::new();
    for minute in (end - 3 * 1440)..=end {
        let n = if minute > end - 60 {
            u64::from(minute % 3 != 0) * 4
        } else {
            u64::from(minute % 20 == 0)
        };
        if n > 0 {
            rows.push(("acme".to_string(), minute, n, n / 2));
        }
    }
    state
        .commit_ingest(&IngestCommit {
            buckets: rows,
            ..IngestCommit::default()
        })
        .unwrap();
}

/// Sends the event to both channels through the outbox; returns the raw
/// messages by recipient.
async fn deliver() -> HashMap<String, String> {
    veilleur::install_crypto_provider();
    let (smtp, inbox) = common::smtp_server();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), smtp);
    let state = Arc::new(StateStore::open(&dir.path().join("state")).unwrap());
    buckets(&state);
    let ev = event();
    let entries: Vec<Entry> = cfg
        .channels
        .iter()
        .map(|c| Entry::new(ev.clone().into(), &c.name, 0))
        .collect();
    state.alerts().commit(&[], &entries).unwrap();
    let notifiers: HashMap<String, Notifier> = cfg
        .channels
        .iter()
        .map(|c| (c.name.clone(), Notifier::from_config(c, "test").unwrap()))
        .collect();
    let stop = CancellationToken::new();
    let run = tokio::spawn(run_with_options(
        state.clone(),
        Arc::new(notifiers),
        Arc::new(Metrics::new()),
        Arc::new(Notify::new()),
        stop.clone(),
        Duration::from_secs(5),
        OutboxOptions {
            idle_poll: Duration::from_millis(50),
            ..OutboxOptions::default()
        },
    ));
    assert!(
        common::wait_for(Duration::from_secs(20), || inbox.lock().unwrap().len() == 2).await,
        "two mails"
    );
    stop.cancel();
    run.await.unwrap();
    let mails = inbox.lock().unwrap().clone();
    mails
        .into_iter()
        .map(|m| (m.to[0].clone(), m.data))
        .collect()
}

struct Parsed {
    subject: String,
    text: String,
    html: String,
    png: Vec<u8>,
}

fn parse(raw: &str) -> Parsed {
    let msg = MessageParser::default().parse(raw.as_bytes()).unwrap();
    let png = msg
        .parts
        .iter()
        .find(|p| {
            p.content_type()
                .is_some_and(|c| c.ctype() == "image" && c.subtype() == Some("png"))
        })
        .map(|p| {
            assert_eq!(p.content_id(), Some("chart@veilleur"), "the chart's cid");
            p.contents().to_vec()
        })
        .expect("an inline PNG part");
    Parsed {
        subject: msg.subject().unwrap().to_string(),
        text: msg.body_text(0).unwrap().into_owned(),
        html: msg.body_html(0).unwrap().into_owned(),
        png,
    }
}

fn check(what: &str, haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(haystack.contains(n), "{what}: missing {n:?} in\n{haystack}");
    }
}

/// The bytes are a PNG of the chart's size, with the alert's colour in it.
fn check_png(bytes: &[u8]) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let mut r = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    assert_eq!((r.info().width, r.info().height), (600, 200));
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    r.next_frame(&mut buf).unwrap();
    let hot = buf.chunks(3).filter(|p| *p == [0xb0, 0x00, 0x20]).count();
    let calm = buf.chunks(3).filter(|p| *p == [0x3a, 0x6e, 0xa5]).count();
    assert!(hot > 100, "the firing hour is drawn: {hot} pixels");
    assert!(calm > 100, "the history is drawn: {calm} pixels");
}

#[tokio::test]
async fn french_and_english_alert_emails_read_in_their_language() {
    let mails = deliver().await;

    let fr = parse(&mails["comms@example.org"]);
    let n = NNBSP;
    assert_eq!(
        fr.subject,
        format!(
            "[veilleur] CRITIQUE acme / bad-buzz{n}: 154 mentions en 1{n}h, 6 fois plus que d'habitude, 63{n}% négatives"
        )
    );
    let sentence = format!(
        "154 mentions en 1{n}h, 6 fois plus que d'habitude à cette heure, 63{n}% négatives (d'habitude 12{n}%)"
    );
    let fr_text_wants = [
        sentence.clone(),
        format!("Quand{n}: mardi 3 mars, 14{n}h{n}05 (Europe/Paris)"),
        format!("par @jdoe · audience 12{n}345 · négatif"),
        "par Marie · négatif".to_string(),
        format!("Mots nouveaux{n}: «{n}panne{n}» (31)"),
        format!("Par source{n}: forum 40, mastodon 24"),
        format!("Page de la veille{n}: https://veille.example.org/watch/acme"),
        "https://veille.example.org/?q=watch%3Aacme&since=2026-03-03T12%3A05%3A00Z&until=2026-03-03T13%3A05%3A00Z".to_string(),
        format!("Facteur{n}: ×6,2"),
    ];
    check(
        "fr text",
        &fr.text,
        &fr_text_wants.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    for bad in [" :", " %", " ;", "audience 0", "UTC", "reach", "usually"] {
        assert!(!fr.text.contains(bad), "fr text has {bad:?}:\n{}", fr.text);
    }
    for bad in [" :", " %", " ;"] {
        assert!(!fr.html.contains(bad), "fr html has {bad:?}:\n{}", fr.html);
    }
    check(
        "fr html",
        &fr.html,
        &[
            &sentence.replace('\'', "&#39;"),
            "<html lang=\"fr\">",
            "<img src=\"cid:chart@veilleur\"",
            "<a href=\"https://veille.example.org/watch/acme\">Page de la veille</a>",
            "<a href=\"https://forum.example.org/t/acme-panne?page=2\">Acme en panne",
            "Encore une panne &lt;b&gt;Acme&lt;/b&gt;",
            &format!("mardi 3 mars, 14{n}h{n}05"),
        ],
    );
    assert!(!fr.html.contains("<b>Acme"), "{}", fr.html);
    check_png(&fr.png);

    let en = parse(&mails["us@example.org"]);
    assert_eq!(
        en.subject,
        "[veilleur] CRITICAL acme / bad-buzz: 154 mentions in 1 hour, 6 times more than usual, 63% negative"
    );
    check(
        "en text",
        &en.text,
        &[
            "154 mentions in 1 hour, 6 times more than usual at this time, 63% negative (usually 12%)",
            "When: Tuesday 3 March, 8:05 AM (America/New_York)",
            "by @jdoe · reach 12,345 · negative",
            "by Marie · negative",
            "New words: \u{201C}panne\u{201D} (31)",
            "Watch page: https://veille.example.org/watch/acme",
            "Factor: ×6.2",
        ],
    );
    assert!(!en.text.contains("reach 0"), "{}", en.text);
    assert!(!en.text.contains(NNBSP), "no French spaces in English");
    check(
        "en html",
        &en.html,
        &["<html lang=\"en\">", "<img src=\"cid:chart@veilleur\""],
    );
    check_png(&en.png);
}

#[test]
fn invalid_language_and_time_zone_are_config_errors_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("veilleur.toml");
    std::fs::write(
        &path,
        r#"[daemon]
data_dir = "d"
rules_dir = "r"
timezone = "Europe/Pariss"

[[channel]]
name = "f"
kind = "file"
dir = "out"
lang = "de"
"#,
    )
    .unwrap();
    let diags: Vec<String> = Config::load(&path)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        diags
            .iter()
            .any(|d| d.contains("veilleur.toml:4:12")
                && d.contains("unknown time zone `Europe/Pariss`")),
        "{diags:#?}"
    );
    assert!(
        diags.iter().any(|d| d.contains("veilleur.toml:10:8")
            && d.contains("unknown language `de`: expected en or fr")),
        "{diags:#?}"
    );
}
