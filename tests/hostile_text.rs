//! Stranger-written text in every output format: the same corpus of
//! hostile mentions (tests/fixtures/hostile/) is put into an alert's top
//! posts, words and sources, and sent through each channel kind to real
//! loopback servers: an SMTP server for the email, a webhook receiver for
//! Slack, Mattermost, Discord, Teams and the generic JSON. Every output must
//! be inert: no header added or broken, no markup, no link but http(s), no
//! mention of anyone, long text cut.

mod common;

use std::time::Duration;

use mail_parser::MessageParser;
use veilleur::alert::{AlertEvent, EmergingTerm, SourceCount, TopMention};
use veilleur::config::{ChannelConfig, ChannelKind, EmailConfig, WebhookConfig, WebhookFormat};
use veilleur::i18n::{Lang, Locale};
use veilleur::notify::Notifier;

use common::hostile::{assert_no_at_mention, assert_no_disruptive, corpus, markdown_links_are_web};

fn terms() -> Vec<String> {
    include_str!("fixtures/hostile/terms.txt")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Alerts carrying the corpus, a few mentions each (as detection caps top
/// mentions at five).
fn events() -> Vec<AlertEvent> {
    let ms: Vec<TopMention> = corpus()
        .iter()
        .map(|m| TopMention {
            url: m["url"].as_str().unwrap().into(),
            title: m["title"].as_str().unwrap().into(),
            author: m["author"].as_str().unwrap().into(),
            reach: 10,
            sentiment: -0.5,
        })
        .collect();
    ms.chunks(5)
        .enumerate()
        .map(|(i, chunk)| {
            let mut ev = AlertEvent::example();
            ev.at += chrono::Duration::seconds(i as i64);
            ev.top_mentions = chunk.to_vec();
            ev.top_terms = terms();
            ev.emerging_terms = terms()
                .into_iter()
                .map(|t| EmergingTerm {
                    term: t,
                    count: 3,
                    lift: 4.0,
                })
                .collect();
            ev.sources = vec![SourceCount {
                source: "@here <!channel>".into(),
                count: 3,
            }];
            ev
        })
        .collect()
}

fn locales() -> [Locale; 2] {
    [
        Locale::default(),
        Locale {
            lang: Lang::Fr,
            tz: chrono_tz::Europe::Paris,
        },
    ]
}

fn channel(name: &str, kind: ChannelKind, locale: Locale) -> ChannelConfig {
    ChannelConfig {
        name: name.into(),
        kind,
        locale,
        public_url: Some("https://veille.example.org".parse().unwrap()),
    }
}

/// No stranger text is longer than the cap (plus our own words around it).
fn assert_cut(what: &str, s: &str) {
    assert!(!s.contains(&"é".repeat(400)), "{what}: long text not cut");
    assert!(!s.contains(&"x".repeat(2100)), "{what}: long URL not cut");
    assert!(s.contains('…'), "{what}: a cut ends with an ellipsis");
}

#[tokio::test]
async fn hostile_mentions_make_inert_emails() {
    veilleur::install_crypto_provider();
    let (smtp, inbox) = common::smtp_server();
    let evs = events();
    for loc in locales() {
        let ch = channel(
            "mail",
            ChannelKind::Email(EmailConfig {
                smtp: format!("smtp://{smtp}?tls=none").parse().unwrap(),
                from: "veilleur@example.org".into(),
                to: vec!["comms@example.org".into()],
                password_env: None,
                password_file: None,
            }),
            loc,
        );
        let n = Notifier::from_config(&ch, "test").unwrap();
        for ev in &evs {
            n.send_with_chart(ev, &ev.idempotency_key(), Some(b"\x89PNG"))
                .await
                .unwrap();
        }
    }
    let mails = inbox.lock().unwrap().clone();
    assert_eq!(mails.len(), 2 * evs.len());
    let mut html_all = String::new();
    let mut text_all = String::new();
    for m in &mails {
        assert_eq!(
            m.to,
            vec!["comms@example.org".to_string()],
            "no recipient added"
        );
        let msg = MessageParser::default().parse(m.data.as_bytes()).unwrap();
        let names: Vec<String> = msg
            .headers()
            .iter()
            .map(|h| h.name().to_ascii_lowercase())
            .collect();
        for n in &names {
            assert!(
                [
                    "message-id",
                    "from",
                    "to",
                    "subject",
                    "date",
                    "user-agent",
                    "mime-version",
                    "content-type",
                    "content-transfer-encoding",
                    "received",
                ]
                .contains(&n.as_str()),
                "unexpected header {n} in\n{}",
                m.data
            );
        }
        let subject = msg.subject().unwrap();
        assert!(!subject.contains(['\r', '\n']), "{subject}");
        let text = msg.body_text(0).unwrap().into_owned();
        let html = msg.body_html(0).unwrap().into_owned();
        assert_no_disruptive("text", &text);
        assert_no_disruptive("html", &html);
        html_is_inert(&html);
        assert!(
            !text.contains("\nBcc:") && !text.contains("\nTo:"),
            "{text}"
        );
        html_all.push_str(&html);
        text_all.push_str(&text);
    }
    assert_cut("text", &text_all);
    assert_cut("html", &html_all);
}

#[tokio::test]
async fn hostile_mentions_make_inert_chat_payloads() {
    veilleur::install_crypto_provider();
    let (addr, got) = common::webhook_receiver().await;
    let evs = events();
    let formats = [
        ("slack", WebhookFormat::Slack),
        ("mattermost", WebhookFormat::Mattermost),
        ("discord", WebhookFormat::Discord),
        ("teams", WebhookFormat::Teams),
        ("json", WebhookFormat::Json),
    ];
    for loc in locales() {
        for (name, format) in formats {
            let ch = channel(
                name,
                ChannelKind::Webhook(WebhookConfig {
                    url: format!("http://{addr}/hooks/{name}").parse().unwrap(),
                    format,
                    secret_env: None,
                    secret_file: None,
                }),
                loc,
            );
            let n = Notifier::from_config(&ch, "test").unwrap();
            for ev in &evs {
                n.send(ev, &ev.idempotency_key()).await.unwrap();
            }
        }
    }
    assert!(
        common::wait_for(Duration::from_secs(5), || got.lock().unwrap().len()
            == 2 * formats.len() * evs.len())
        .await
    );
    let hooks = got.lock().unwrap().clone();
    let by = |name: &str| -> Vec<serde_json::Value> {
        hooks
            .iter()
            .filter(|h| h.path == name)
            .map(|h| serde_json::from_slice(&h.body).unwrap())
            .collect()
    };

    // Generic JSON: the event, unchanged (JSON encoding is its escaping).
    let json = by("json");
    for (i, v) in json.iter().enumerate() {
        assert_eq!(v, &serde_json::to_value(&evs[i % evs.len()]).unwrap());
    }

    let mut slack_all = String::new();
    for v in by("slack") {
        let text = v["text"].as_str().unwrap();
        assert_no_disruptive("slack", text);
        for bad in [
            "<!",
            "<@",
            "<#",
            "@here",
            "@channel",
            "@everyone",
            "<mailto",
            "<javascript",
            "<data:",
            "<ftp:",
        ] {
            assert!(!text.contains(bad), "slack has {bad}:\n{text}");
        }
        assert_eq!(v["unfurl_links"], false);
        // Every `<` opens one of our http(s) links.
        for (i, _) in text.match_indices('<') {
            let t = &text[i + 1..];
            assert!(t.starts_with("http://") || t.starts_with("https://"), "{t}");
            let close = t.find('>').unwrap();
            let target = t[..close].split('|').next().unwrap();
            assert!(!target.contains(' '), "{target}");
        }
        slack_all.push_str(text);
    }
    assert_cut("slack", &slack_all);

    let mut mm_all = String::new();
    for v in by("mattermost") {
        let text = v["text"].as_str().unwrap();
        assert_no_disruptive("mattermost", text);
        assert_no_at_mention("mattermost", text);
        markdown_links_are_web(text);
        mm_all.push_str(text);
    }
    assert_cut("mattermost", &mm_all);

    for v in by("discord") {
        assert_eq!(v["allowed_mentions"], serde_json::json!({ "parse": [] }));
        let all = v.to_string();
        for s in [
            v["content"].as_str().unwrap(),
            v["embeds"][0]["title"].as_str().unwrap(),
            v["embeds"][0]["description"].as_str().unwrap(),
        ] {
            assert_no_disruptive("discord", s);
            assert_no_at_mention("discord", s);
            markdown_links_are_web(s);
        }
        assert!(v["content"].as_str().unwrap().chars().count() <= 2000);
        assert!(
            v["embeds"][0]["description"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                <= 4096
        );
        assert!(!all.contains("@everyone"), "{all}");
    }

    for v in by("teams") {
        let card = &v["attachments"][0]["content"];
        assert!(
            card["msteams"].get("entities").is_none(),
            "no mention entities"
        );
        let mut texts = Vec::new();
        for b in card["body"].as_array().unwrap() {
            if let Some(t) = b["text"].as_str() {
                texts.push(t.to_string());
            }
            for f in b["facts"].as_array().into_iter().flatten() {
                texts.push(f["title"].as_str().unwrap().to_string());
                texts.push(f["value"].as_str().unwrap().to_string());
            }
        }
        for t in &texts {
            assert_no_disruptive("teams", t);
            assert_no_at_mention("teams", t);
            assert!(!t.contains("<at"), "{t}");
            markdown_links_are_web(t);
        }
        for a in card["actions"].as_array().unwrap() {
            assert!(
                a["url"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://veille.example.org/")
            );
        }
    }
}

/// The HTML holds only the elements and attributes of our layout: no
/// script, no handler, no image but the chart, links only to http(s).
fn html_is_inert(html: &str) {
    let doc = scraper::Html::parse_document(html);
    let allowed = [
        "html", "head", "meta", "title", "body", "h2", "h3", "h4", "p", "strong", "img", "ol",
        "li", "a", "br", "small", "code", "table", "tbody", "tr", "th", "td",
    ];
    let mut imgs = 0;
    for node in doc.tree.nodes() {
        let Some(el) = node.value().as_element() else {
            continue;
        };
        assert!(
            allowed.contains(&el.name()),
            "element <{}> in\n{html}",
            el.name()
        );
        for (k, v) in el.attrs() {
            assert!(!k.starts_with("on"), "handler {k} in\n{html}");
            assert!(
                [
                    "style",
                    "href",
                    "src",
                    "alt",
                    "width",
                    "height",
                    "charset",
                    "lang",
                    "align",
                    "cellpadding"
                ]
                .contains(&k),
                "attribute {k}={v}"
            );
        }
        if el.name() == "a" {
            let href = el.attr("href").unwrap();
            assert!(
                href.starts_with("http://") || href.starts_with("https://"),
                "{href}"
            );
        }
        if el.name() == "img" {
            imgs += 1;
            assert_eq!(el.attr("src"), Some("cid:chart@veilleur"));
        }
    }
    assert_eq!(imgs, 1, "only the chart");
}
