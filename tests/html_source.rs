//! `kind = "html"` end to end: the presets on pages shaped like phpBB,
//! XenForo, vBulletin and Discourse (no JavaScript) topics
//! (`tests/fixtures/forums/`), custom selectors with attribute extraction,
//! the declared charset, pagination that keeps the pages before a failing
//! one, robots.txt, the config's diagnostics, and the daemon indexing a
//! forum so that `veilleur search 'source:NAME'` lists its posts.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use url::Url;
use veilleur::config::{Config, SourceConfig, SourceKind};
use veilleur::source::html::{HtmlConfig, Item, parse_document};
use veilleur::source::http::HttpClient;
use veilleur::source::{Cursor, Poll, poll};

const PHPBB_1: &[u8] = include_bytes!("fixtures/forums/phpbb_p1.html");
const PHPBB_2: &[u8] = include_bytes!("fixtures/forums/phpbb_p2.html");
const XENFORO: &[u8] = include_bytes!("fixtures/forums/xenforo.html");
const VBULLETIN: &[u8] = include_bytes!("fixtures/forums/vbulletin_latin1.html");
const DISCOURSE: &[u8] = include_bytes!("fixtures/forums/discourse.html");

/// Wednesday 5 March 2025, 13:00 in Paris.
fn now() -> DateTime<Utc> {
    "2025-03-05T12:00:00Z".parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn preset(url: &str, name: &str, tz: Tz) -> HtmlConfig {
    HtmlConfig::from_preset(Url::parse(url).unwrap(), name, tz).unwrap()
}

fn items(bytes: &[u8], ct: Option<&str>, cfg: &HtmlConfig) -> Vec<Item> {
    parse_document(bytes, ct, &cfg.url, cfg, now())
        .unwrap()
        .items
}

#[test]
fn phpbb_preset_reads_posts_links_and_french_dates() {
    let cfg = preset(
        "https://forum.example.fr/viewtopic.php?t=812",
        "phpbb",
        chrono_tz::Europe::Paris,
    );
    let page = parse_document(PHPBB_1, None, &cfg.url, &cfg, now()).unwrap();
    assert_eq!(page.items.len(), 2, "{:#?}", page.items);
    let first = &page.items[0];
    assert_eq!(first.title, "Acme : la livraison ne vient pas");
    assert_eq!(first.author, "Claire_B");
    assert_eq!(
        first.text,
        "Bonjour, ma commande Acme n'est toujours pas arrivée après trois semaines. Quelqu'un a-t-il eu une réponse du service client ?"
    );
    // The session id is dropped, the post's fragment kept.
    assert_eq!(
        first.url,
        "https://forum.example.fr/viewtopic.php?p=1201#p1201"
    );
    assert_eq!(first.published, Some(at("2025-03-03T13:05:00Z")));
    let second = &page.items[1];
    assert_eq!(second.author, "Modo_Jean");
    assert_eq!(
        second.text,
        "Même souci ici, Acme ne répond plus au téléphone."
    );
    assert_eq!(second.published, Some(at("2025-03-04T08:12:00Z")));
    assert_eq!(
        page.next.unwrap().as_str(),
        "https://forum.example.fr/viewtopic.php?t=812&start=2&sid=0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    );
}

#[test]
fn xenforo_preset_reads_time_datetime_and_the_author_attribute() {
    let cfg = preset(
        "https://forums.example.com/threads/acme-router-keeps-rebooting.4411/",
        "xenforo",
        chrono_tz::America::New_York,
    );
    let page = parse_document(
        XENFORO,
        Some("text/html; charset=utf-8"),
        &cfg.url,
        &cfg,
        now(),
    )
    .unwrap();
    let got = &page.items;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].author, "netguy42");
    assert_eq!(got[1].author, "Ana R.");
    assert_eq!(
        got[0].url,
        "https://forums.example.com/threads/acme-router-keeps-rebooting.4411/post-90211"
    );
    assert_eq!(got[0].published, Some(at("2025-03-03T01:15:00Z")));
    assert_eq!(got[1].published, Some(at("2025-03-04T14:12:00Z")));
    assert_eq!(
        got[0].text,
        "My Acme AX3000 reboots every night since the last firmware. Anyone else? Support says it's \"expected\"."
    );
    // No title of its own: the topic's.
    assert_eq!(
        got[1].title,
        "Acme router keeps rebooting | Home Network Forums"
    );
    assert_eq!(
        page.next.unwrap().as_str(),
        "https://forums.example.com/threads/acme-router-keeps-rebooting.4411/page-2"
    );
}

#[test]
fn vbulletin_preset_honours_the_declared_latin1_charset() {
    let cfg = preset(
        "https://www.forum.example.de/acme/4711-acme-kundenservice-erfahrungen-4.html",
        "vbulletin",
        chrono_tz::Europe::Berlin,
    );
    // From <meta http-equiv>, and from the HTTP header.
    for ct in [None, Some("text/html; charset=ISO-8859-1")] {
        let got = items(VBULLETIN, ct, &cfg);
        assert_eq!(got.len(), 2, "{got:#?}");
        assert_eq!(got[0].author, "Jürgen Größer");
        assert!(got[0].text.starts_with("Der Kundenservice von Acme ist eine Katastrophe. Drei Wochen keine Antwort, Rückerstattung"), "{}", got[0].text);
        assert_eq!(
            got[1].text,
            "Bei mir ging es schnell, nach zwei Tagen war alles erledigt. Grüße!"
        );
        assert_eq!(got[0].published, Some(at("2025-01-21T04:42:00Z")));
        assert_eq!(got[1].published, Some(at("2025-03-04T13:05:00Z")));
        // Resolved against <base href>, the vBulletin session dropped.
        assert_eq!(
            got[0].url,
            "https://www.forum.example.de/acme/4711-acme-kundenservice-erfahrungen-post949757.html#post949757"
        );
    }
}

#[test]
fn discourse_preset_reads_the_crawler_view() {
    let cfg = preset(
        "https://community.example.com/t/acme-api-outage-today/5120",
        "discourse",
        Tz::UTC,
    );
    let got = items(DISCOURSE, None, &cfg);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].author, "devops_kim");
    assert_eq!(got[1].author, "acme_staff");
    assert_eq!(
        got[0].text,
        "Getting 502 from the Acme API since 10:30 UTC. Anyone else?"
    );
    assert_eq!(got[0].published, Some(at("2025-03-05T10:41:22Z")));
    assert_eq!(
        got[1].url,
        "https://community.example.com/t/acme-api-outage-today/5120#post_2"
    );
    assert_eq!(
        got[1].title,
        "Acme API outage today? - Support - Acme Community"
    );
}

fn config_text(base: &str, own: &str) -> String {
    format!(
        "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\ncommit_interval = \"100ms\"\n\n[[source]]\nname = \"forum\"\nkind = \"html\"\nurl = \"{base}\"\ninterval = \"1s\"\n{own}"
    )
}

fn html_of(c: &Config) -> &HtmlConfig {
    match &c.sources[0].kind {
        SourceKind::Html(h) => h,
        other => panic!("{other:?}"),
    }
}

#[test]
fn custom_selectors_extract_attributes_dates_and_links() {
    let own = r#"item = "div.msg"
title = "h2"
body = ["div.text", "p"]
author = "@data-user"
link = "a.permalink@href"
date = ["time@datetime", "span.when"]
timezone = "Europe/Paris"
"#;
    let c = Config::parse(
        std::path::Path::new("/etc/veilleur/veilleur.toml"),
        &config_text("https://blog.example.org/comments", own),
    )
    .unwrap();
    let cfg = html_of(&c);
    let page = r#"<html><body>
      <div class="msg" data-user="alice"><h2>Avis Acme</h2><div class="text">Tr&egrave;s d&eacute;&ccedil;ue.</div>
        <a class="permalink" href="/comments/1?utm_source=rss">#</a><time datetime="2025-03-01T08:00:00+01:00">1 mars</time></div>
      <div class="msg" data-user="bob"><h2>Re</h2><p>Pareil.</p>
        <a class="permalink" href="javascript:void(0)">#</a><span class="when">hier à 14:05</span></div>
      <div class="msg"></div>
    </body></html>"#;
    let got = items(page.as_bytes(), None, cfg);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].author, "alice");
    assert_eq!(got[0].text, "Très déçue.");
    assert_eq!(got[0].url, "https://blog.example.org/comments/1");
    assert_eq!(got[0].published, Some(at("2025-03-01T07:00:00Z")));
    // Not an http(s) link: no URL; the date in the forum's zone.
    assert_eq!(got[1].url, "");
    assert_eq!(got[1].text, "Pareil.");
    assert_eq!(got[1].published, Some(at("2025-03-04T13:05:00Z")));
    // The mention: no later than the fetch, the fetch time without a date.
    let m = Item {
        published: None,
        ..got[1].clone()
    }
    .into_mention("forum", now());
    assert_eq!(m.published, now());
    assert_eq!(m.source, "forum");
    // With an explicit format.
    let c = Config::parse(
        std::path::Path::new("/etc/veilleur/veilleur.toml"),
        &config_text(
            "https://blog.example.org/comments",
            "item = \"li\"\nbody = \"p\"\ndate = \"span\"\ndate_format = \"%m/%d/%Y %H:%M\"\ntimezone = \"America/New_York\"\n",
        ),
    )
    .unwrap();
    let got = items(
        b"<ul><li><p>x</p><span>03/04/2025 08:00</span></li></ul>",
        None,
        html_of(&c),
    );
    assert_eq!(got[0].published, Some(at("2025-03-04T13:00:00Z")));
}

#[test]
fn config_errors_name_the_key() {
    let check = |own: &str, needle: &str| {
        let err = Config::parse(
            std::path::Path::new("/etc/veilleur/veilleur.toml"),
            &config_text("https://forum.example.org/", own),
        )
        .unwrap_err();
        let text: Vec<String> = err.iter().map(|d| d.to_string()).collect();
        assert!(
            text.iter().any(|t| t.contains(needle)),
            "{own:?}: expected {needle:?} in {text:#?}"
        );
    };
    check(
        "preset = \"smf\"\n",
        "unknown preset `smf`: expected phpbb, xenforo, vbulletin, discourse",
    );
    check(
        "",
        "needs `preset` (phpbb, xenforo, vbulletin, discourse) or an `item` selector",
    );
    check("item = \"div[\"\n", "invalid CSS selector `div[`");
    check(
        "preset = \"phpbb\"\ndate = \"time@\"\n",
        "invalid attribute in `time@`",
    );
    check(
        "preset = \"phpbb\"\ntimezone = \"Paris\"\n",
        "unknown time zone `Paris`",
    );
    check(
        "preset = \"phpbb\"\nmax_pages = 0\n",
        "`max_pages` must be between 1 and 50",
    );
    check("preset = \"phpbb\"\nhashtags = [\"acme\"]\n", "hashtags");
    // A preset with one key of its own replaced.
    let c = Config::parse(
        std::path::Path::new("/etc/veilleur/veilleur.toml"),
        &config_text(
            "https://forum.example.org/",
            "preset = \"phpbb\"\nmax_pages = 3\ntext = \"div.content p\"\n",
        ),
    )
    .unwrap();
    assert_eq!(html_of(&c).max_pages, 3);
    assert_eq!(html_of(&c).preset, Some("phpbb"));
}

// ---- through the shared client, against a loopback forum -------------------

/// A phpBB topic: page 1 (`start` absent), page 2 (`start=2`), and a page 3
/// (`start=4`) that fails; `robots` is its robots.txt.
#[derive(Clone, Default)]
struct Forum {
    robots: Option<&'static str>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Forum {
    async fn start(robots: Option<&'static str>) -> (Forum, String) {
        let f = Forum {
            robots,
            ..Forum::default()
        };
        let app = Router::new().fallback(forum_page).with_state(f.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (f, format!("http://{addr}"))
    }

    fn hits(&self, key: &str) -> usize {
        self.hits.lock().unwrap().get(key).copied().unwrap_or(0)
    }
}

async fn forum_page(axum::extract::State(f): axum::extract::State<Forum>, uri: Uri) -> Response {
    let start = uri
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("start=")))
        .unwrap_or("0")
        .to_string();
    let key = match uri.path() {
        "/robots.txt" => "robots".to_string(),
        "/viewtopic.php" => format!("page{start}"),
        other => other.to_string(),
    };
    *f.hits.lock().unwrap().entry(key.clone()).or_default() += 1;
    let html = |b: &'static [u8]| {
        ([(header::CONTENT_TYPE, "text/html; charset=UTF-8")], b).into_response()
    };
    match key.as_str() {
        "robots" => match f.robots {
            Some(r) => r.into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
        "page0" => html(PHPBB_1),
        "page2" => html(PHPBB_2),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
    }
}

fn source(base: &str, max_pages: u32) -> SourceConfig {
    let mut cfg = preset(
        &format!("{base}/viewtopic.php?t=812"),
        "phpbb",
        chrono_tz::Europe::Paris,
    );
    cfg.max_pages = max_pages;
    SourceConfig {
        name: "forum".into(),
        kind: SourceKind::Html(cfg),
        interval: Duration::from_secs(300),
        timeout: Duration::from_secs(5),
        max_body_bytes: 1 << 20,
    }
}

fn client() -> HttpClient {
    HttpClient::new("veilleur-test/1.0 (+https://example.org)").unwrap()
}

#[tokio::test]
async fn a_failing_page_in_the_middle_of_pagination_keeps_the_pages_before_it() {
    let (forum, base) = Forum::start(None).await;
    let got = poll(&source(&base, 5), &client(), &Cursor::Start, now())
        .await
        .unwrap();
    let Poll::Items { mentions, .. } = got else {
        panic!("{got:?}")
    };
    let authors: Vec<&str> = mentions.iter().map(|m| m.author.as_str()).collect();
    assert_eq!(authors, ["Claire_B", "Modo_Jean", "lucas.m"]);
    // "il y a 3 heures" on page 2.
    assert_eq!(mentions[2].published, at("2025-03-05T09:00:00Z"));
    assert!(mentions.iter().all(|m| m.source == "forum"));
    assert_eq!(forum.hits("page0"), 1);
    assert_eq!(forum.hits("page2"), 1);
    assert_eq!(forum.hits("page4"), 1);
    // max_pages bounds the crawl.
    let (forum, base) = Forum::start(None).await;
    let got = poll(&source(&base, 1), &client(), &Cursor::Start, now())
        .await
        .unwrap();
    assert!(matches!(got, Poll::Items { ref mentions, .. } if mentions.len() == 2));
    assert_eq!(forum.hits("page2"), 0);
    // A failing first page is the poll's error.
    let (_forum, base) = Forum::start(None).await;
    let mut broken = source(&base, 3);
    if let SourceKind::Html(h) = &mut broken.kind {
        h.url = Url::parse(&format!("{base}/viewtopic.php?t=812&start=9")).unwrap();
    }
    let err = poll(&broken, &client(), &Cursor::Start, now())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "status");
}

#[tokio::test]
async fn robots_txt_disallow_stops_an_html_source_before_any_page() {
    let (forum, base) = Forum::start(Some("User-agent: *\nDisallow: /viewtopic.php\n")).await;
    let err = poll(&source(&base, 5), &client(), &Cursor::Start, now())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "robots", "{err}");
    assert!(!err.is_retryable());
    assert_eq!(forum.hits("page0"), 0);
    assert_eq!(forum.hits("robots"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_indexes_forum_posts_searchable_by_source() {
    let (_forum, base) = Forum::start(None).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    let config = dir.path().join("veilleur.toml");
    std::fs::write(
        &config,
        config_text(
            &format!("{base}/viewtopic.php?t=812"),
            "preset = \"phpbb\"\nmax_pages = 5\ntimezone = \"Europe/Paris\"\n",
        ),
    )
    .unwrap();
    let daemon = common::start_daemon(&config, None).await;
    let text = daemon
        .metrics_until("veilleur_mentions_ingested_total{source=\"forum\"}", 3.0)
        .await;
    assert_eq!(
        common::metric(&text, "veilleur_mentions_ingested_total{source=\"forum\"}"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        common::metric(&text, "veilleur_source_items_last_fetch{source=\"forum\"}"),
        Some(3.0)
    );
    daemon.stop().await;
    let hits = common::search_json(&config, "source:forum");
    assert_eq!(hits.len(), 3, "{hits:#?}");
    let by_author: HashMap<&str, &serde_json::Value> = hits
        .iter()
        .map(|h| (h["author"].as_str().unwrap(), h))
        .collect();
    let claire = by_author["Claire_B"];
    assert_eq!(claire["source"], "forum");
    assert_eq!(claire["published"], "2025-03-03T13:05:00Z");
    assert_eq!(claire["title"], "Acme : la livraison ne vient pas");
    assert!(
        claire["url"]
            .as_str()
            .unwrap()
            .ends_with("/viewtopic.php?p=1201#p1201"),
        "{claire}"
    );
    assert!(
        claire["text"]
            .as_str()
            .unwrap()
            .contains("toujours pas arrivée")
    );
    assert!(by_author.contains_key("lucas.m"));
}
