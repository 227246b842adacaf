//! `veilleur digest` over a week of mentions loaded with `veilleur import`
//! (through the real binary): volumes and trends, sentiment split, share
//! of voice among the `brand` and `competitor` watches, top sources and
//! authors; `--send` and the scheduled digest delivered to a real webhook
//! receiver on loopback, with injected time; `--send` by email to a real
//! SMTP server in French (Paris time) and English (New York time), parsed
//! with its inline charts decoded; a hostile author in every chat format.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::webhook_receiver;
use serde_json::{Value, json};
use veilleur::digest::schedule::{Schedule, queue_due};
use veilleur::store::state::StateStore;

/// End of the digest period: a Monday, 08:30 UTC.
const END: &str = "2026-03-02T08:30:00Z";

fn end() -> DateTime<Utc> {
    END.parse().unwrap()
}

const RULES: &[(&str, &str)] = &[
    (
        "acme",
        "[watch]\nname = \"acme\"\nquery = \"acme\"\ntags = [\"brand\"]\n",
    ),
    (
        "rival",
        "[watch]\nname = \"rival\"\nquery = \"rivalco\"\ntags = [\"competitor\"]\n",
    ),
    (
        "sector",
        "[watch]\nname = \"sector\"\nquery = \"assurance\"\n",
    ),
];

/// One mention `hours` before the end of the period.
fn mention(
    n: &mut u32,
    word: &str,
    hours: f64,
    source: &str,
    sentiment: f32,
    author: (&str, Option<u64>),
) -> Value {
    *n += 1;
    let published = end() - chrono::Duration::seconds((hours * 3600.0) as i64);
    let mut v = json!({
        "id": format!("m{n}"),
        "source": source,
        "url": format!("https://{source}.example.org/{n}"),
        "title": format!("{word} post {n}"),
        "text": format!("about {word} today"),
        "author": author.0,
        "published": published.to_rfc3339(),
        "lang": "en",
        "sentiment": sentiment,
    });
    if let Some(f) = author.1 {
        v["author_followers"] = f.into();
    }
    v
}

/// The week before the end and the week before that, for three watches.
fn mentions() -> Vec<Value> {
    let mut n = 0;
    let mut out = Vec::new();
    // acme, this week: 30 mentions (10 negative, 15 neutral, 5 positive),
    // 20 from the forum and 10 from news; "big" (50,000 followers) 3 times,
    // "mid" (1,000) twice.
    for i in 0..30 {
        let sentiment = match i % 6 {
            0 | 1 => -0.6,
            2 => 0.6,
            _ => 0.0,
        };
        let source = if i < 20 { "forum" } else { "news" };
        let author = match i {
            0..=2 => ("big", Some(50_000)),
            3 | 4 => ("mid", Some(1_000)),
            _ => ("anon", None),
        };
        out.push(mention(
            &mut n,
            "acme",
            1.0 + i as f64 * 5.0,
            source,
            sentiment,
            author,
        ));
    }
    // acme, the week before: 20 (2 negative, 18 neutral).
    for i in 0..20 {
        let s = if i < 2 { -0.6 } else { 0.0 };
        out.push(mention(
            &mut n,
            "acme",
            170.0 + i as f64 * 7.0,
            "forum",
            s,
            ("anon", None),
        ));
    }
    // rivalco: 10 this week, 20 the week before.
    for i in 0..10 {
        out.push(mention(
            &mut n,
            "rivalco",
            2.0 + i as f64 * 10.0,
            "news",
            0.0,
            ("x", None),
        ));
    }
    for i in 0..20 {
        out.push(mention(
            &mut n,
            "rivalco",
            170.0 + i as f64 * 7.0,
            "news",
            0.0,
            ("x", None),
        ));
    }
    // The sector: 5 this week, untagged.
    for i in 0..5 {
        out.push(mention(
            &mut n,
            "assurance",
            3.0 + i as f64 * 20.0,
            "news",
            0.0,
            ("y", None),
        ));
    }
    // At the end exactly (excluded) and after it: not in the period.
    out.push(mention(
        &mut n,
        "acme",
        0.0,
        "forum",
        -0.6,
        ("big", Some(90_000)),
    ));
    out.push(mention(
        &mut n,
        "acme",
        -2.0,
        "forum",
        -0.6,
        ("big", Some(90_000)),
    ));
    out
}

fn setup(dir: &Path, channel: &str) -> PathBuf {
    setup_with(dir, channel, Vec::new())
}

/// [`setup`] with `extra` mentions imported beside the week's.
fn setup_with(dir: &Path, channel: &str, extra: Vec<Value>) -> PathBuf {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    for (name, text) in RULES {
        std::fs::write(dir.join(format!("rules/{name}.toml")), text).unwrap();
    }
    let config = dir.join("veilleur.toml");
    std::fs::write(
        &config,
        if channel.starts_with("[daemon]") {
            channel.to_string()
        } else {
            format!("[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\n\n{channel}")
        },
    )
    .unwrap();
    let lines: Vec<String> = mentions()
        .iter()
        .chain(&extra)
        .map(|m| m.to_string())
        .collect();
    std::fs::write(dir.join("week.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = veilleur(
        &["import", "--config"],
        &config,
        &[dir.join("week.jsonl").to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    config
}

fn veilleur(args: &[&str], config: &Path, rest: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_veilleur"))
        .args(args)
        .arg(config)
        .args(rest)
        .output()
        .unwrap()
}

/// The watch `name` of a digest's JSON.
fn watch<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["watches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["watch"] == name)
        .unwrap()
}

/// The figures the week above must give.
fn check_numbers(d: &Value) {
    assert_eq!(d["end"], "2026-03-02T08:30:00Z");
    assert_eq!(d["start"], "2026-02-23T08:30:00Z");
    let acme = watch(d, "acme");
    assert_eq!(
        (acme["volume"].as_u64(), acme["previous_volume"].as_u64()),
        (Some(30), Some(20))
    );
    assert_eq!(
        acme["sentiment"],
        json!({"negative": 10, "neutral": 15, "positive": 5})
    );
    assert_eq!(
        acme["previous_sentiment"],
        json!({"negative": 2, "neutral": 18, "positive": 0})
    );
    assert_eq!(acme["share_of_voice"].as_f64(), Some(0.75));
    assert_eq!(acme["previous_share_of_voice"].as_f64(), Some(0.5));
    assert_eq!(
        acme["top_sources"],
        json!([{"name": "forum", "count": 20}, {"name": "news", "count": 10}])
    );
    assert_eq!(
        acme["top_authors"],
        json!([
            {"author": "big", "reach": 50_000, "mentions": 3},
            {"author": "mid", "reach": 1_000, "mentions": 2},
        ])
    );
    let rival = watch(d, "rival");
    assert_eq!(
        (rival["volume"].as_u64(), rival["previous_volume"].as_u64()),
        (Some(10), Some(20))
    );
    assert_eq!(rival["share_of_voice"].as_f64(), Some(0.25));
    assert_eq!(rival["previous_share_of_voice"].as_f64(), Some(0.5));
    let sector = watch(d, "sector");
    assert_eq!(sector["volume"].as_u64(), Some(5));
    assert!(
        sector["share_of_voice"].is_null(),
        "untagged: no share of voice"
    );
}

#[test]
fn digest_of_an_imported_week_gives_volumes_sentiment_and_share_of_voice() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), "");
    let out = veilleur(
        &["digest", "--config"],
        &config,
        &["--period", "7d", "--at", END, "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_numbers(&d);
    // The volume of each hour of the period, for the chart: acme's 30
    // mentions, one every 5 hours from an hour before the end.
    assert_eq!(d["step_secs"], 3600);
    let series: Vec<u64> = watch(&d, "acme")["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(series.len(), 168);
    assert_eq!(series.iter().sum::<u64>(), 30);
    // The last bar is the hour before the end: it holds the mention of
    // 1 h before; the next one (6 h before) is 5 bars earlier.
    assert_eq!(&series[161..], [0, 1, 0, 0, 0, 0, 1], "{series:?}");

    let out = veilleur(
        &["digest", "--config"],
        &config,
        &["--period", "7d", "--at", END],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "Digest from Monday 23 February, 8:30 AM to Monday 2 March, 8:30 AM (UTC)",
        "acme [brand]",
        "Mentions: 30 (+50% vs 20)",
        "Sentiment: 33% negative (+23 pts), 50% neutral, 17% positive",
        "Share of voice: 75% (before: 50%)",
        "Top sources: forum 20, news 10",
        "Top authors by reach: big (50,000 followers, 3 mentions), mid (1,000 followers, 2 mentions)",
        "Mentions: 10 (-50% vs 20)",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
}

fn posted_digests(hooks: &Arc<std::sync::Mutex<Vec<common::Hook>>>) -> Vec<Value> {
    hooks
        .lock()
        .unwrap()
        .iter()
        .map(|h| serde_json::from_slice::<Value>(&h.body).unwrap()["digest"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_send_delivers_through_the_outbox_to_a_webhook() {
    let (addr, hooks) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let channel = format!(
        "[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://{addr}/hooks/digest\"\ndigest = \"weekly mon 08:30\"\n"
    );
    let config = setup(dir.path(), &channel);
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        veilleur(
            &["digest", "--config"],
            &cfg,
            &["--period", "7d", "--at", END, "--send"],
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = posted_digests(&hooks);
    assert_eq!(got.len(), 1);
    check_numbers(&got[0]);
    let h = hooks.lock().unwrap()[0].clone();
    assert_eq!(
        h.headers["idempotency-key"],
        format!(
            "digest/{}/{}",
            (end() - chrono::Duration::days(7)).timestamp_millis(),
            end().timestamp_millis()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_digest_is_queued_once_when_due_and_delivered() {
    veilleur::install_crypto_provider();
    let (addr, hooks) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let channel = format!(
        "[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://{addr}/hooks/digest\"\ndigest = \"weekly mon 08:30\"\n"
    );
    let config = setup(dir.path(), &channel);
    let cfg = veilleur::config::Config::load(&config).unwrap();
    let (ch, schedule) = cfg.digests[0].clone();
    assert_eq!(schedule, Schedule::parse("weekly mon 08:30").unwrap());
    let rules = veilleur::rules::load_dir(&cfg.daemon.rules_dir, None).unwrap();
    let data = dir.path().join("data");
    let index = veilleur::store::open_index(cfg.daemon.index, &data.join("index")).unwrap();
    let state = Arc::new(StateStore::open(&data.join("state")).unwrap());
    let mins = |m: i64| end() + chrono::Duration::minutes(m);

    // An alert of the period in the history (and one of the period before).
    let mut ev = veilleur::alert::AlertEvent::example();
    ev.at = end() - chrono::Duration::days(2);
    let mut old = ev.clone();
    old.at = end() - chrono::Duration::days(9);
    let entry = |event| veilleur::store::state::silences::AlertEntry {
        id: 0,
        event,
        fired_at: None,
        notified: vec!["hook".into()],
        silenced_by: None,
        acked: false,
        released: false,
    };
    state
        .silences()
        .commit_alerts(veilleur::store::state::silences::AlertCommit {
            events: vec![entry(old), entry(ev.clone())],
            ..Default::default()
        })
        .unwrap();

    // First start, an hour before the due time: nothing owed.
    assert_eq!(
        queue_due(&ch, &schedule, &rules, &state, index.as_ref(), mins(-60)).unwrap(),
        None
    );
    // Due: queued once, whatever the number of checks.
    assert_eq!(
        queue_due(&ch, &schedule, &rules, &state, index.as_ref(), mins(1)).unwrap(),
        Some(end())
    );
    assert_eq!(
        queue_due(&ch, &schedule, &rules, &state, index.as_ref(), mins(2)).unwrap(),
        None
    );
    assert_eq!(state.outbox().len().unwrap(), 1);
    // Across a restart too: the mark is in the store.
    drop(state);
    let state = Arc::new(StateStore::open(&data.join("state")).unwrap());
    assert_eq!(
        queue_due(&ch, &schedule, &rules, &state, index.as_ref(), mins(3)).unwrap(),
        None
    );

    common::deliver_outbox(&cfg, state.clone()).await;
    let got = posted_digests(&hooks);
    assert_eq!(got.len(), 1);
    check_numbers(&got[0]);
    let alerts = watch(&got[0], "acme")["alerts"].as_array().unwrap().clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        (&alerts[0]["id"], &alerts[0]["rule"], &alerts[0]["at"]),
        (&json!(2), &json!("bad-buzz"), &json!(ev.at))
    );
}

#[test]
fn digest_prints_beside_a_running_daemon_and_refuses_to_send() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(
        dir.path(),
        "[[channel]]\nname = \"out\"\nkind = \"file\"\ndir = \"out\"\n",
    );
    // The daemon's lock on the state store, held by this process.
    let _held = StateStore::open(&dir.path().join("data/state")).unwrap();
    let out = veilleur(&["digest", "--config"], &config, &["--at", END, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_numbers(&serde_json::from_slice(&out.stdout).unwrap());
    assert!(String::from_utf8_lossy(&out.stderr).contains("alerts of the period are left out"));
    let out = veilleur(
        &["digest", "--config"],
        &config,
        &["--at", END, "--send", "--channel", "out"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot send while the daemon runs")
            && err.contains("held by a running daemon"),
        "{err}"
    );
}

#[test]
fn check_refuses_a_bad_digest_schedule_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    let config = dir.path().join("veilleur.toml");
    std::fs::write(
        &config,
        "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\n\n[[channel]]\nname = \"out\"\nkind = \"file\"\ndir = \"out\"\ndigest = \"weekly someday 25:00\"\n",
    )
    .unwrap();
    let out = veilleur(&["check", "--config"], &config, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("veilleur.toml:9:10: invalid digest schedule `weekly someday 25:00`: expected \"daily HH:MM\" or \"weekly DAY HH:MM\""),
        "{err}"
    );
}

const NNBSP: char = '\u{202F}';

/// The parts of a digest email: subject, text, HTML and the inline PNGs
/// by `Content-ID`.
struct Mail {
    subject: String,
    text: String,
    html: String,
    charts: HashMap<String, Vec<u8>>,
}

fn parse_mail(raw: &str) -> Mail {
    use mail_parser::{MessageParser, MimeHeaders};
    let msg = MessageParser::default().parse(raw.as_bytes()).unwrap();
    let charts = msg
        .parts
        .iter()
        .filter(|p| {
            p.content_type()
                .is_some_and(|c| c.ctype() == "image" && c.subtype() == Some("png"))
        })
        .map(|p| {
            (
                p.content_id()
                    .expect("an inline chart has a cid")
                    .to_string(),
                p.contents().to_vec(),
            )
        })
        .collect();
    Mail {
        subject: msg.subject().unwrap().to_string(),
        text: msg.body_text(0).unwrap().into_owned(),
        html: msg.body_html(0).unwrap().into_owned(),
        charts,
    }
}

fn check(what: &str, haystack: &str, needles: &[String]) {
    for n in needles {
        assert!(
            haystack.contains(n.as_str()),
            "{what}: missing {n:?} in\n{haystack}"
        );
    }
}

/// A PNG of the chart's size; returns how many pixels have the bars'
/// colour and the usual band's.
fn decode_png(bytes: &[u8]) -> (usize, usize) {
    let mut r = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    assert_eq!((r.info().width, r.info().height), (600, 200));
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    r.next_frame(&mut buf).unwrap();
    let bars = buf.chunks(3).filter(|p| *p == [0x3a, 0x6e, 0xa5]).count();
    let band = buf
        .chunks(3)
        .filter(|p| p[0] == p[1] && p[1] == p[2] && (0xe0..0xf8).contains(&p[0]))
        .count();
    (bars, band)
}

#[test]
fn digest_emails_read_in_the_channel_language_and_time_zone_with_charts() {
    veilleur::install_crypto_provider();
    let (smtp, inbox) = common::smtp_server();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
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
digest = "weekly mon 09:30"

[[channel]]
name = "comms-en"
kind = "email"
lang = "en"
timezone = "America/New_York"
smtp = "smtp://{smtp}?tls=none"
from = "veilleur@example.org"
to = ["us@example.org"]
digest = "weekly mon 03:30"
"#
    );
    let config = setup(dir.path(), &config);
    // Each schedule is read in its channel's zone: both are due at the
    // same instant, 08:30 UTC on Mondays in February.
    let cfg = veilleur::config::Config::load(&config).unwrap();
    for (ch, s) in &cfg.digests {
        assert_eq!(s.last_due(end()), end(), "{ch}");
    }
    assert_eq!(cfg.digests[0].1.tz, chrono_tz::Europe::Paris);
    assert_eq!(cfg.digests[1].1.tz, chrono_tz::America::New_York);
    let out = veilleur(
        &["digest", "--config"],
        &config,
        &["--period", "7d", "--at", END, "--send"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mails: HashMap<String, Mail> = inbox
        .lock()
        .unwrap()
        .iter()
        .map(|m| (m.to[0].clone(), parse_mail(&m.data)))
        .collect();
    assert_eq!(mails.len(), 2);
    let n = NNBSP;

    let fr = &mails["comms@example.org"];
    assert_eq!(
        fr.subject,
        format!(
            "[veilleur] synthèse du lundi 23 février au lundi 2 mars{n}: 45 mentions, 0 alerte"
        )
    );
    let chart_link = "https://veille.example.org/watch/acme/chart.png?since=2026-02-23T08%3A30%3A00Z&amp;until=2026-03-02T08%3A30%3A00Z";
    let fr_wants = [
        // 08:30 UTC is 09:30 in Paris in February.
        format!(
            "Synthèse du lundi 23 février, 9{n}h{n}30 au lundi 2 mars, 9{n}h{n}30 (Europe/Paris), comparée à la période précédente"
        ),
        "acme [brand]".to_string(),
        format!("Mentions{n}: 30 (+50{n}% par rapport à 20)"),
        format!("Tonalité{n}: 33{n}% négatives (+23 points), 50{n}% neutres, 17{n}% positives"),
        format!("Part de voix{n}: 75{n}% (avant{n}: 50{n}%)"),
        format!("Sources principales{n}: forum 20, news 10"),
        format!(
            "Auteurs les plus suivis{n}: big (50{n}000 abonnés, 3 mentions), mid (1{n}000 abonnés, 2 mentions)"
        ),
        format!("Mentions{n}: 10 (-50{n}% par rapport à 20)"),
        format!("Part de voix{n}: 25{n}% (avant{n}: 50{n}%)"),
        format!("Alertes{n}: aucune"),
        format!("Graphique{n}: {}", chart_link.replace("&amp;", "&")),
    ];
    check("fr text", &fr.text, &fr_wants);
    for bad in [" :", " %", "UTC", "followers", "Share of voice"] {
        assert!(!fr.text.contains(bad), "fr text has {bad:?}:\n{}", fr.text);
    }
    check(
        "fr html",
        &fr.html,
        &[
            "<html lang=\"fr\">".to_string(),
            format!("<th align=\"left\">Part de voix</th><td>75{n}% (avant{n}: 50{n}%)</td>"),
            format!("lundi 2 mars, 9{n}h{n}30"),
            format!("<a href=\"{chart_link}\">Graphique</a>"),
            "<img src=\"cid:chart-0@veilleur\"".to_string(),
            "<img src=\"cid:chart-2@veilleur\"".to_string(),
        ],
    );
    // One chart per watch, each a PNG: acme's bars and its usual level
    // (the week before had 20), the sector's without a band (it had none).
    let mut cids: Vec<&String> = fr.charts.keys().collect();
    cids.sort();
    assert_eq!(
        cids,
        ["chart-0@veilleur", "chart-1@veilleur", "chart-2@veilleur"]
    );
    let (bars, band) = decode_png(&fr.charts["chart-0@veilleur"]);
    assert!(
        bars > 100 && band > 1000,
        "acme: {bars} bar, {band} band pixels"
    );
    let (bars, band) = decode_png(&fr.charts["chart-2@veilleur"]);
    assert!(
        bars > 20 && band < 100,
        "sector: {bars} bar, {band} band pixels"
    );

    let en = &mails["us@example.org"];
    assert_eq!(
        en.subject,
        "[veilleur] digest Monday 23 February → Monday 2 March: 45 mentions, 0 alerts"
    );
    check(
        "en text",
        &en.text,
        &[
            // 08:30 UTC is 3:30 AM in New York in February.
            "Digest from Monday 23 February, 3:30 AM to Monday 2 March, 3:30 AM (America/New_York)".to_string(),
            "Mentions: 30 (+50% vs 20)".to_string(),
            "Share of voice: 75% (before: 50%)".to_string(),
            "Top authors by reach: big (50,000 followers, 3 mentions), mid (1,000 followers, 2 mentions)".to_string(),
            "Alerts: none".to_string(),
        ],
    );
    assert!(!en.text.contains(NNBSP), "no French spaces in English");
    assert_eq!(en.charts.len(), 3);
    check("en html", &en.html, &["<html lang=\"en\">".to_string()]);
}

/// Every string of a JSON value, recursively.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_author_is_inert_in_every_chat_digest() {
    let (addr, hooks) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let mut channels = String::from(
        "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\npublic_url = \"https://veille.example.org\"\n",
    );
    for f in ["slack", "mattermost", "discord", "teams"] {
        channels.push_str(&format!(
            "\n[[channel]]\nname = \"{f}\"\nkind = \"webhook\"\nformat = \"{f}\"\nurl = \"http://{addr}/hooks/{f}\"\ndigest = \"daily 08:30\"\n"
        ));
    }
    let hostile = "@channel <!here> <!channel> @everyone @here @all <@U123> <@&42> <at>boss</at> [x](javascript:alert(1)) *bold*";
    let mut n = 1000;
    let mut extra = vec![mention(
        &mut n,
        "acme",
        3.0,
        "forum",
        -0.6,
        (&format!("{hostile}\r\nX-Injected: 1"), Some(1_000_000)),
    )];
    extra[0]["source"] = json!(format!("@here <!here> {n}"));
    let config = setup_with(dir.path(), &channels, extra);
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        veilleur(
            &["digest", "--config"],
            &cfg,
            &["--period", "7d", "--at", END, "--send"],
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: HashMap<String, Value> = hooks
        .lock()
        .unwrap()
        .iter()
        .map(|h| (h.path.clone(), serde_json::from_slice(&h.body).unwrap()))
        .collect();
    assert_eq!(got.len(), 4, "{:?}", got.keys());
    for (path, body) in &got {
        let mut texts = Vec::new();
        strings(body, &mut texts);
        let all = texts.join("\n");
        // The author is there, defused.
        assert!(
            all.contains("everyone"),
            "{path}: the author is shown:\n{all}"
        );
        for ping in [
            "@channel",
            "@here",
            "@everyone",
            "@all",
            "<!here>",
            "<!channel>",
            "<@U123>",
            "<@&42>",
            "<at>",
            "](javascript:",
            "\nX-Injected",
            "\rX-Injected",
        ] {
            assert!(!all.contains(ping), "{path}: {ping:?} survived in\n{all}");
        }
        // Our own links stay links.
        assert!(
            all.contains("https://veille.example.org/watch/acme/chart.png?since="),
            "{path}: the chart link:\n{all}"
        );
    }
    assert_eq!(got["slack"]["unfurl_links"], false);
    assert!(
        got["slack"]["text"]
            .as_str()
            .unwrap()
            .contains("&lt;!here&gt;")
    );
    assert_eq!(got["discord"]["allowed_mentions"], json!({ "parse": [] }));
    assert_eq!(
        got["teams"]["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let facts = &got["teams"]["attachments"][0]["content"]["body"][2]["facts"];
    assert_eq!(facts[0]["title"], "Mentions", "{facts}");
}

/// A digest whose every stranger-written place holds the hostile corpus:
/// one watch per line, its author as the top author, its title as a
/// source and as the summary of an alert of the period (as digests queued
/// before alerts kept their fields show it).
fn hostile_digest() -> veilleur::digest::Digest {
    use veilleur::digest::{Author, Count, DigestAlert, Split, WatchDigest};
    let watches = common::hostile::corpus()
        .iter()
        .enumerate()
        .map(|(i, m)| WatchDigest {
            watch: format!("acme{i}"),
            tags: vec!["brand".into()],
            volume: 10,
            previous_volume: 5,
            sentiment: Split {
                negative: 5,
                neutral: 3,
                positive: 2,
            },
            previous_sentiment: Split::default(),
            share_of_voice: Some(0.1),
            previous_share_of_voice: None,
            top_sources: vec![Count {
                name: m["title"].as_str().unwrap().into(),
                count: 10,
            }],
            top_authors: vec![Author {
                author: m["author"].as_str().unwrap().into(),
                reach: 1000,
                mentions: 2,
            }],
            alerts: vec![DigestAlert {
                id: i as u64,
                rule: "bad-buzz".into(),
                severity: "critical".into(),
                stage: "threshold".into(),
                at: end() - chrono::Duration::hours(5),
                summary: m["title"].as_str().unwrap().into(),
                silenced: false,
                kind: String::new(),
                observed: 0,
                window_secs: 0,
                factor: None,
                negative_share: 0.0,
                negative_usual: None,
            }],
            series: vec![1; 24],
        })
        .collect();
    veilleur::digest::Digest {
        start: end() - chrono::Duration::days(1),
        end: end(),
        previous_start: end() - chrono::Duration::days(2),
        watches,
        step_secs: 3600,
    }
}

/// The HTML holds only the elements of our layout, no handler, links to
/// http(s) only and images only from the inline charts.
fn html_is_inert(html: &str) {
    let doc = scraper::Html::parse_document(html);
    let allowed = [
        "html", "head", "meta", "title", "body", "h2", "h3", "p", "strong", "img", "ul", "li", "a",
        "table", "tbody", "tr", "th", "td",
    ];
    for node in doc.tree.nodes() {
        let Some(el) = node.value().as_element() else {
            continue;
        };
        assert!(allowed.contains(&el.name()), "<{}> in\n{html}", el.name());
        for (k, v) in el.attrs() {
            assert!(!k.starts_with("on"), "handler {k} in\n{html}");
            match (el.name(), k) {
                ("a", "href") => assert!(v.starts_with("https://veille.example.org/"), "{v}"),
                ("img", "src") => assert!(v.starts_with("cid:chart-"), "{v}"),
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hostile_corpus_is_inert_in_digests_of_every_format_and_language() {
    use common::hostile::{assert_no_at_mention, assert_no_disruptive, markdown_links_are_web};
    use veilleur::config::{ChannelConfig, ChannelKind, EmailConfig, WebhookConfig, WebhookFormat};
    use veilleur::i18n::{Lang, Locale};
    use veilleur::notify::Notifier;
    veilleur::install_crypto_provider();
    let (addr, hooks) = webhook_receiver().await;
    let (smtp, inbox) = common::smtp_server();
    let d = hostile_digest();
    let formats = [
        ("slack", WebhookFormat::Slack),
        ("mattermost", WebhookFormat::Mattermost),
        ("discord", WebhookFormat::Discord),
        ("teams", WebhookFormat::Teams),
    ];
    let locales = [
        Locale::default(),
        Locale {
            lang: Lang::Fr,
            tz: chrono_tz::Europe::Paris,
        },
    ];
    let channel = |name: &str, kind, locale| ChannelConfig {
        name: name.into(),
        kind,
        locale,
        public_url: Some("https://veille.example.org".parse().unwrap()),
    };
    for loc in locales {
        for (name, format) in formats {
            let kind = ChannelKind::Webhook(WebhookConfig {
                url: format!("http://{addr}/hooks/{name}").parse().unwrap(),
                format,
                secret_env: None,
                secret_file: None,
            });
            Notifier::from_config(&channel(name, kind, loc), "test")
                .unwrap()
                .send_digest(&d, "digest/hostile")
                .await
                .unwrap();
        }
        let kind = ChannelKind::Email(EmailConfig {
            smtp: format!("smtp://{smtp}?tls=none").parse().unwrap(),
            from: "veilleur@example.org".into(),
            to: vec!["comms@example.org".into()],
            password_env: None,
            password_file: None,
        });
        Notifier::from_config(&channel("mail", kind, loc), "test")
            .unwrap()
            .send_digest(&d, "digest/hostile")
            .await
            .unwrap();
    }
    let hooks = hooks.lock().unwrap().clone();
    assert_eq!(hooks.len(), 8);
    for h in &hooks {
        let v: Value = serde_json::from_slice(&h.body).unwrap();
        let mut texts = Vec::new();
        strings(&v, &mut texts);
        let what = h.path.as_str();
        for t in &texts {
            assert_no_disruptive(what, t);
            if what == "slack" {
                for bad in [
                    "<!",
                    "<@",
                    "<#",
                    "@here",
                    "@channel",
                    "@everyone",
                    "<mailto",
                ] {
                    assert!(!t.contains(bad), "slack has {bad}:\n{t}");
                }
                // Every `<` opens one of our links.
                for (i, _) in t.match_indices('<') {
                    assert!(t[i + 1..].starts_with("https://veille.example.org/"), "{t}");
                }
            } else {
                assert_no_at_mention(what, t);
                markdown_links_are_web(t);
                if what == "teams" {
                    assert!(!t.contains("<at"), "{what}: {t}");
                }
            }
        }
        let all = texts.join("\n");
        if what == "discord" {
            // Discord's limits cut a long digest cleanly.
            assert_eq!(v["allowed_mentions"], json!({ "parse": [] }));
            let desc = v["embeds"][0]["description"].as_str().unwrap();
            assert!(desc.chars().count() <= 4096);
            assert!(desc.contains("acme0") && desc.ends_with('…'), "{desc}");
        } else {
            assert!(all.contains("acme13"), "{what}: every watch is there");
        }
        if what == "teams" {
            let card = &v["attachments"][0]["content"];
            assert!(card["msteams"].get("entities").is_none());
        }
    }
    let mails = inbox.lock().unwrap().clone();
    assert_eq!(mails.len(), 2);
    for m in &mails {
        // One header block: no header a stranger added.
        let head = m.data.split("\r\n\r\n").next().unwrap();
        for bad in ["Bcc:", "X-Evil", "To: other"] {
            assert!(!head.contains(bad), "{bad} in the headers:\n{head}");
        }
        let mail = parse_mail(&m.data);
        assert_no_disruptive("email text", &mail.text);
        for line in mail.text.lines() {
            assert!(
                !line.starts_with("Bcc:") && !line.starts_with("To: "),
                "{line}"
            );
        }
        html_is_inert(&mail.html);
        assert_eq!(mail.charts.len(), 14, "one chart per watch");
    }
}
