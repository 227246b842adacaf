//! The demo's crisis scenario and the loopback server that plays it.
//!
//! Items are generated deterministically: each has an offset from the start
//! of the demo (negative for history) and a feed. A feed serves the latest
//! items whose offset has passed, so feeds change between polls. Publication
//! times are real wall-clock times, so the daemon sees a live stream.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};

/// Seconds of quiet history served from the first poll.
const HISTORY: f64 = 600.0;
/// When the bad buzz starts, and how long it lasts (at speed 1).
const BUZZ_START: f64 = 25.0;
const BUZZ_LEN: f64 = 35.0;
const QUIET_EVERY: f64 = 6.0;
const BUZZ_ITEMS: usize = 120;
/// Items a feed shows at most.
const FEED_LEN: usize = 60;

const QUIET: &[(&str, &str)] = &[
    (
        "Nouvelle offre fibre chez Acme Télécom",
        "Acme Télécom présente sa nouvelle offre fibre pour décembre, avec un débit doublé.",
    ),
    (
        "Acme Télécom ouvre une boutique à Lyon",
        "La boutique Acme de la Part-Dieu ouvre ses portes samedi.",
    ),
    (
        "J'adore ma nouvelle box Acme",
        "Installation en dix minutes, wifi parfait. Merci @acme !",
    ),
    (
        "Acme Telecom announces 5G coverage in Bordeaux",
        "Acme Telecom says its 5G network now covers the Bordeaux area.",
    ),
    (
        "Comparatif des box internet",
        "Acme bien placé dans notre comparatif des box internet de l'automne.",
    ),
    (
        "Great support from Acme today",
        "Quick and friendly help from @acme support, problem solved.",
    ),
];

const BUZZ: &[(&str, &str)] = &[
    (
        "Panne géante chez Acme Télécom",
        "Des milliers de clients Acme privés d'internet depuis ce matin, aucune explication.",
    ),
    (
        "Fuite de données chez Acme",
        "Les coordonnées bancaires de clients Acme exposées après une fuite de données. Scandale.",
    ),
    (
        "Service client Acme injoignable",
        "Impossible de joindre le service client Acme depuis trois heures, c'est honteux #boycottacme",
    ),
    (
        "Acme Telecom data breach",
        "Acme customers' bank details leaked in a data breach, support unreachable. Terrible.",
    ),
    (
        "Encore une panne Acme",
        "Encore une panne Acme, c'est une arnaque, je résilie et je demande un remboursement.",
    ),
    (
        "Acme outage enters second hour",
        "Angry Acme customers report a massive outage, awful communication, a total scam.",
    ),
    (
        "Scandale Acme : silence sur la fuite",
        "Acme ne dit rien sur la fuite de données, les clients portent plainte. Lamentable.",
    ),
    (
        "#boycottacme",
        "Les clients Acme furieux réclament un remboursement après la panne et la fuite de données.",
    ),
];

const AUTHORS: &[&str] = &[
    "camille_b",
    "jdupont",
    "marie.l",
    "techwatch",
    "alex_r",
    "sophie92",
    "le_geek",
    "nina_k",
    "paulo",
    "fibre_info",
    "lucas.m",
    "clara_dev",
];

/// One post of the scenario.
pub(super) struct Item {
    /// Seconds from the start of the demo (already divided by the speed).
    pub offset: f64,
    /// 0 news (RSS), 1 forum (Atom), 2 social (JSON Feed).
    pub feed: usize,
    pub n: usize,
    pub title: &'static str,
    pub text: &'static str,
    pub author: &'static str,
}

pub(super) struct Scenario {
    started: Instant,
    started_wall: DateTime<Utc>,
    speed: f64,
    items: Vec<Item>,
}

impl Scenario {
    pub(super) fn new(speed: f64) -> Scenario {
        let mut items = Vec::new();
        let mut n = 0;
        let mut push = |offset: f64, pool: &'static [(&'static str, &'static str)], k: usize| {
            let (title, text) = pool[k % pool.len()];
            items.push(Item {
                offset: offset / speed,
                feed: n % 3,
                n,
                title,
                text,
                author: AUTHORS[(n * 7) % AUTHORS.len()],
            });
            n += 1;
        };
        // Quiet traffic from the history start to the end of the buzz.
        let mut t = -HISTORY;
        let mut k = 0;
        while t < BUZZ_START + BUZZ_LEN {
            push(t, QUIET, k);
            t += QUIET_EVERY;
            k += 1;
        }
        // The wave: density grows linearly, so volume accelerates.
        for k in 0..BUZZ_ITEMS {
            let t = BUZZ_START + BUZZ_LEN * (k as f64 / BUZZ_ITEMS as f64).sqrt();
            push(t, BUZZ, k);
        }
        items.sort_by(|a, b| a.offset.total_cmp(&b.offset));
        Scenario {
            started: Instant::now(),
            started_wall: Utc::now(),
            speed,
            items,
        }
    }

    /// How long the scenario plays.
    pub(super) fn duration(&self) -> Duration {
        Duration::from_secs_f64((BUZZ_START + BUZZ_LEN) / self.speed)
    }

    /// A line describing the current phase, for progress output.
    pub(super) fn phase(&self, elapsed: Duration) -> String {
        let t = elapsed.as_secs_f64() * self.speed;
        let live = self
            .items
            .iter()
            .filter(|i| i.offset >= 0.0 && i.offset <= elapsed.as_secs_f64())
            .count();
        let phase = if t < BUZZ_START {
            "quiet"
        } else {
            "bad buzz growing"
        };
        format!("{phase:<17} posts published since start: {live}")
    }

    fn published(&self, i: &Item) -> DateTime<Utc> {
        self.started_wall + chrono::Duration::milliseconds((i.offset * 1000.0) as i64)
    }

    /// The latest items of `feed` already published, newest first.
    fn visible(&self, feed: usize) -> Vec<&Item> {
        let now = self.started.elapsed().as_secs_f64();
        let mut v: Vec<&Item> = self
            .items
            .iter()
            .filter(|i| i.feed == feed && i.offset <= now)
            .collect();
        v.reverse();
        v.truncate(FEED_LEN);
        v
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn news(State(s): State<Arc<Scenario>>) -> impl IntoResponse {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>Actu Télécoms</title><link>http://news.example/</link><description>demo</description>\n",
    );
    for i in s.visible(0) {
        let _ = writeln!(
            out,
            "<item><title>{}</title><link>http://news.example/articles/{}</link><description>{}</description><dc:creator>{}</dc:creator><pubDate>{}</pubDate></item>",
            xml_escape(i.title),
            i.n,
            xml_escape(i.text),
            i.author,
            s.published(i).to_rfc2822()
        );
    }
    out.push_str("</channel></rss>\n");
    (
        [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
        out,
    )
}

async fn forum(State(s): State<Arc<Scenario>>) -> impl IntoResponse {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Forum Box &amp; Fibre</title><id>urn:demo:forum</id><updated>2026-01-01T00:00:00Z</updated>\n",
    );
    for i in s.visible(1) {
        let t = s.published(i).to_rfc3339();
        let _ = writeln!(
            out,
            "<entry><title>{}</title><id>urn:demo:forum:{}</id><link href=\"http://forum.example/t/{}\"/><published>{t}</published><updated>{t}</updated><author><name>{}</name></author><content type=\"html\">&lt;p&gt;{}&lt;/p&gt;</content></entry>",
            xml_escape(i.title),
            i.n,
            i.n,
            i.author,
            xml_escape(&xml_escape(i.text))
        );
    }
    out.push_str("</feed>\n");
    (
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        out,
    )
}

async fn social(State(s): State<Arc<Scenario>>) -> impl IntoResponse {
    let items: Vec<serde_json::Value> = s
        .visible(2)
        .into_iter()
        .map(|i| {
            serde_json::json!({
                "id": format!("social-{}", i.n),
                "url": format!("http://social.example/@{}/{}", i.author, i.n),
                "title": i.title,
                "content_text": i.text,
                "date_published": s.published(i).to_rfc3339(),
                "authors": [{"name": format!("@{}", i.author)}],
            })
        })
        .collect();
    let feed = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Réseau social (démo)",
        "items": items,
    });
    (
        [(header::CONTENT_TYPE, "application/feed+json")],
        feed.to_string(),
    )
}

pub(super) fn router(s: Arc<Scenario>) -> Router {
    Router::new()
        .route("/news.xml", get(news))
        .route("/forum.atom", get(forum))
        .route("/social.json", get(social))
        .with_state(s)
}
