//! How an alert event reads to a person: email subject, plain-text and HTML
//! bodies, and the chat texts (Slack `mrkdwn`, Mattermost, Discord and Teams
//! Markdown).
//!
//! Owns: layout. Words, numbers and times come from [`crate::i18n`];
//! escaping of stranger-written text from [`super::sanitize`], one sanitizer
//! per output format. It does not send anything and does not decide what an
//! alert contains (detection does; see [`crate::alert`]).
//!
//! Every rendering reads in the same order: what is happening in one
//! sentence (volume, how many times the usual, negative share and its usual
//! level when there is history), the stage of an early warning, escalation
//! or reminder, the new words, the top posts (author, reach when known,
//! sentiment, link), the breakdown by source, links to the web page when
//! `daemon.public_url` is set, and last a compact "details" part with the
//! statistics (window, expected, factor, tail probability).
//!
//! Links (with `public_url` = `P`, watch `W` percent-encoded):
//! * the watch: `P/watch/W`;
//! * the mentions of the window: `P/?q=watch:W&since=RFC3339&until=RFC3339`;
//! * the chart: `P/watch/W/chart.png?alert=KEY`, `KEY` the event's
//!   idempotency key.
//!
//! The JSON event itself (generic webhook) is not rendered here: its fields
//! are a contract and go out unchanged.

use std::fmt::Write as _;

use crate::alert::{AlertEvent, AlertState, Stage, TopMention};
use crate::i18n::{Facts, Labels, Locale};

use super::sanitize;

/// What a rendering needs beside the event.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub locale: Locale,
    /// `daemon.public_url`: links to the web page when set.
    pub public_url: Option<url::Url>,
    /// The `Content-ID` of the inline chart of an HTML email, when one is
    /// attached.
    pub chart_cid: Option<String>,
}

impl Context {
    pub fn new(locale: Locale, public_url: Option<url::Url>) -> Context {
        Context {
            locale,
            public_url,
            chart_cid: None,
        }
    }
}

/// The links of an alert to the web page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub watch: String,
    pub mentions: String,
    pub chart: String,
}

/// `base` (query and fragment dropped) with `segments` appended, each
/// percent-encoded: a page of the web server behind `daemon.public_url`.
pub(crate) fn page_url(base: &url::Url, segments: &[&str]) -> url::Url {
    let mut u = base.clone();
    u.set_query(None);
    u.set_fragment(None);
    if let Ok(mut p) = u.path_segments_mut() {
        p.pop_if_empty();
        p.extend(segments);
    }
    u
}

/// The links of `ev` under `base` (see the module doc).
pub fn links(ev: &AlertEvent, base: &url::Url) -> Links {
    let with_path = |segments: &[&str]| page_url(base, segments);
    let watch = with_path(&["watch", &ev.watch]);
    let mut chart = with_path(&["watch", &ev.watch, "chart.png"]);
    chart
        .query_pairs_mut()
        .append_pair("alert", &ev.idempotency_key());
    let mut mentions = with_path(&[""]);
    let since = ev.at - chrono::Duration::seconds(ev.window_secs.max(3600) as i64);
    mentions
        .query_pairs_mut()
        .append_pair("q", &format!("watch:{}", ev.watch))
        .append_pair(
            "since",
            &since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
        .append_pair(
            "until",
            &ev.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    Links {
        watch: watch.to_string(),
        mentions: mentions.to_string(),
        chart: chart.to_string(),
    }
}

/// `observed / expected`, when the expectation is meaningful: the event's
/// own `factor` when it carries one, else computed.
pub fn factor(ev: &AlertEvent) -> Option<f64> {
    if !(ev.expected > 0.0 && ev.expected.is_finite()) {
        return None;
    }
    if ev.factor > 0.0 && ev.factor.is_finite() {
        return Some(ev.factor);
    }
    Some(ev.observed as f64 / ev.expected)
}

/// The usual negative share, only when it means something: the event
/// carries it (issue 4 events set their window) and the watch has enough
/// history that at least one mention was expected in the window. Without
/// history detection reports 0 %, and with a handful of past mentions a
/// "usually 100 %" says nothing.
pub fn usual_negative(ev: &AlertEvent) -> Option<f64> {
    (ev.window_secs > 0 && ev.expected >= 1.0 && ev.negative_share_usual.is_finite())
        .then_some(ev.negative_share_usual)
}

/// The alert in one line for a person, in `loc`'s language, from the
/// event's structured fields (detection's `summary` stays English, for
/// machines): `acme / bad-buzz : 154 mentions en 1 h, …`. Plain text:
/// callers escape it for where it goes.
pub fn summary(ev: &AlertEvent, loc: &Locale) -> String {
    let ctx = Context::new(*loc, None);
    let v = View::new(ev, &ctx);
    let who = match stage_words(ev, loc.labels()) {
        Some((w, _)) => format!("{} / {} ({w})", ev.watch, ev.rule),
        None => format!("{} / {}", ev.watch, ev.rule),
    };
    format!("{} {}", loc.colon(&who), v.sentence)
}

fn facts(ev: &AlertEvent) -> Facts<'_> {
    Facts {
        kind: &ev.kind,
        observed: ev.observed,
        window_secs: ev.window_secs,
        factor: factor(ev),
        negative_share: ev.negative_share,
        negative_usual: usual_negative(ev),
    }
}

/// `p ≈ 3e-9`: two decimals down to 1 %, then the order of magnitude.
pub(crate) fn probability(p: f64, loc: &Locale) -> String {
    if !p.is_finite() || p <= 0.0 {
        "p ≈ 0".to_string()
    } else if p >= 0.01 {
        format!("p ≈ {}", loc.decimal(p, 2))
    } else {
        format!("p ≈ {p:.0e}")
    }
}

/// The stage of a firing event other than a plain threshold crossing, as
/// (short word, why).
fn stage_words(ev: &AlertEvent, l: &Labels) -> Option<(&'static str, &'static str)> {
    if ev.state != AlertState::Firing {
        return None;
    }
    match ev.stage {
        Stage::Threshold => None,
        Stage::EarlyWarning => Some((l.early_warning, l.early_warning_why)),
        Stage::Escalation => Some((l.escalation, l.escalation_why)),
        Stage::Repeat => Some((l.repeat, l.repeat_why)),
    }
}

/// One top post, as plain text (the stranger-written parts not yet
/// escaped: each layout passes them through its sanitizer).
#[derive(Debug, Clone)]
pub(crate) struct Post {
    pub title: String,
    /// Only an `http(s)` URL, already made safe for links.
    pub link: Option<String>,
    /// The raw URL, shown as text when it may not be a link.
    pub url: String,
    pub author: String,
    /// `audience 12 000`, only when the reach is known.
    pub reach: Option<String>,
    pub sentiment: &'static str,
}

/// An alert reduced to what a person reads, in one language, every value
/// plain text. Layouts escape each value with their own sanitizer.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub firing: bool,
    /// `CRITIQUE acme / bad-buzz : 154 mentions en 1 h, …` (no tag).
    pub title: String,
    /// `ALERTE — acme / bad-buzz`.
    pub heading: String,
    pub sentence: String,
    /// `(aggravation) le volume a encore doublé…`.
    pub stage: Option<String>,
    /// `« panne » (31)` each.
    pub emerging: Vec<String>,
    pub posts: Vec<Post>,
    /// `forum 40` each.
    pub sources: Vec<String>,
    /// (label, link) pairs to the web page.
    pub links: Vec<(&'static str, String)>,
    pub chart_link: Option<String>,
    pub details: Vec<(String, String)>,
}

impl View {
    pub(crate) fn new(ev: &AlertEvent, ctx: &Context) -> View {
        let loc = &ctx.locale;
        let l = loc.labels();
        let f = facts(ev);
        let firing = ev.state == AlertState::Firing;
        let stage = stage_words(ev, l);
        let state = if firing { l.firing } else { l.resolved };
        let what = if firing {
            loc.headline(&f)
        } else {
            loc.back_to_normal(&f)
        };
        let who = match stage {
            Some((w, _)) => format!("{} / {} ({w})", ev.watch, ev.rule),
            None => format!("{} / {}", ev.watch, ev.rule),
        };
        let lead = if firing {
            loc.severity(&ev.severity)
        } else {
            state.to_string()
        };
        let title = format!("{lead} {}", loc.colon(&who)) + " " + &what;
        let sentence = if firing {
            loc.sentence(&f)
        } else {
            loc.back_to_normal(&f)
        };
        let emerging = ev
            .emerging_terms
            .iter()
            .map(|t| format!("{} ({})", loc.quote(&t.term), loc.int(t.count)))
            .collect();
        let posts = ev.top_mentions.iter().map(|m| post(m, loc)).collect();
        let sources = ev
            .sources
            .iter()
            .map(|s| format!("{} {}", s.source, loc.int(s.count)))
            .collect();
        let (links, chart_link) = match &ctx.public_url {
            Some(base) => {
                let k = links(ev, base);
                (
                    vec![(l.link_watch, k.watch), (l.link_mentions, k.mentions)],
                    Some(k.chart),
                )
            }
            None => (Vec::new(), None),
        };
        View {
            firing,
            title,
            heading: format!("{state} — {} / {}", ev.watch, ev.rule),
            sentence,
            stage: stage.map(|(w, why)| format!("{}{why}", loc.colon(&capitalise(w)) + " ")),
            emerging,
            posts,
            sources,
            links,
            chart_link,
            details: details(ev, loc),
        }
    }
}

fn post(m: &TopMention, loc: &Locale) -> Post {
    let l = loc.labels();
    let title = m.title.trim();
    let author = m.author.trim();
    Post {
        title: if title.is_empty() {
            l.untitled.to_string()
        } else {
            title.to_string()
        },
        link: sanitize::link(&m.url),
        url: m.url.clone(),
        author: if author.is_empty() {
            l.unknown_author.to_string()
        } else {
            author.to_string()
        },
        // Reach 0 is what a source that gives no follower count yields.
        reach: (m.reach > 0).then(|| format!("{} {}", l.reach, loc.int(m.reach))),
        sentiment: loc.sentiment(m.sentiment),
    }
}

/// The compact statistics: watch, rule and kind, severity, local time,
/// window, observed, expected and factor, tail probability, negative share
/// and its usual level, frequent words, related alerts.
fn details(ev: &AlertEvent, loc: &Locale) -> Vec<(String, String)> {
    let l = loc.labels();
    let mut rows = vec![
        (l.watch.to_string(), ev.watch.clone()),
        (
            l.rule.to_string(),
            format!("{} ({})", ev.rule, loc.kind(&ev.kind)),
        ),
        (l.severity.to_string(), ev.severity.clone()),
        (
            l.when.to_string(),
            format!("{} ({})", loc.datetime(ev.at), loc.tz_name()),
        ),
    ];
    if ev.window_secs > 0 {
        rows.push((l.window.to_string(), loc.duration(ev.window_secs)));
    }
    rows.push((l.observed.to_string(), loc.int(ev.observed)));
    match factor(ev) {
        Some(k) => {
            rows.push((l.expected.to_string(), loc.decimal(ev.expected, 1)));
            rows.push((l.factor.to_string(), format!("×{}", loc.decimal(k, 1))));
        }
        None if matches!(ev.kind.as_str(), "volume_spike" | "negative_surge") => {
            rows.push((l.expected.to_string(), l.no_history.to_string()));
        }
        None => {}
    }
    if let Some(p) = ev.tail_probability {
        rows.push((
            l.probability.to_string(),
            format!("{} {}", probability(p, loc), l.probability_why),
        ));
    }
    let mut neg = loc.percent(ev.negative_share);
    if let Some(u) = usual_negative(ev) {
        let _ = write!(neg, " ({} {})", l.negative_usual, loc.percent(u));
    }
    rows.push((l.negative.to_string(), neg));
    if !ev.top_terms.is_empty() {
        rows.push((l.top_terms.to_string(), ev.top_terms.join(", ")));
    }
    if !ev.related.is_empty() {
        let related = ev
            .related
            .iter()
            .map(|r| {
                let state = match r.state {
                    AlertState::Firing => l.firing,
                    AlertState::Resolved => l.resolved,
                };
                format!("{} ({}, {state})", r.rule, loc.kind(&r.kind))
            })
            .collect::<Vec<_>>()
            .join(", ");
        rows.push((l.related.to_string(), related));
    }
    rows
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Email subject: `[veilleur] CRITICAL acme / bad-buzz: 64 mentions in 1
/// hour, 12 times more than usual, 58% negative`, one header-safe line.
pub fn subject(ev: &AlertEvent, ctx: &Context) -> String {
    let l = ctx.locale.labels();
    sanitize::header(&format!("{} {}", l.tag, View::new(ev, ctx).title))
}

/// Plain-text email body.
pub fn text_body(ev: &AlertEvent, ctx: &Context) -> String {
    let loc = &ctx.locale;
    let l = loc.labels();
    let v = View::new(ev, ctx);
    let p = sanitize::plain;
    let mut s = String::new();
    let _ = writeln!(s, "{}\n", p(&v.heading));
    let _ = writeln!(s, "{}", p(&v.sentence));
    if let Some(stage) = &v.stage {
        let _ = writeln!(s, "{}", p(stage));
    }
    if !v.emerging.is_empty() {
        let words: Vec<String> = v.emerging.iter().map(|w| p(w)).collect();
        let _ = writeln!(s, "\n{} {}", loc.colon(l.emerging), words.join(", "));
    }
    if !v.posts.is_empty() {
        let _ = writeln!(s, "\n{}", loc.colon(l.top_posts));
        for (i, m) in v.posts.iter().enumerate() {
            let _ = writeln!(s, "{}. {}", i + 1, p(&m.title));
            let _ = writeln!(s, "   {}", p(&post_meta(m, l)));
            let _ = writeln!(s, "   {}", m.link.clone().unwrap_or_else(|| p(&m.url)));
        }
    }
    if !v.sources.is_empty() {
        let _ = writeln!(s, "\n{} {}", loc.colon(l.sources), p(&v.sources.join(", ")));
    }
    if !v.links.is_empty() {
        let _ = writeln!(s, "\n{}", loc.colon(l.links));
        for (label, url) in &v.links {
            let _ = writeln!(s, "{} {url}", loc.colon(label));
        }
    }
    let _ = writeln!(s, "\n{}", loc.colon(l.details));
    for (k, val) in &v.details {
        let _ = writeln!(s, "  {} {}", loc.colon(k), p(val));
    }
    let _ = writeln!(s, "\n-- \n{}", l.footer);
    s
}

/// `par @jdoe · audience 12 000 · négatif`.
fn post_meta(m: &Post, l: &Labels) -> String {
    let mut s = format!("{} {}", l.by, m.author);
    if let Some(r) = &m.reach {
        let _ = write!(s, " · {r}");
    }
    let _ = write!(s, " · {}", m.sentiment);
    s
}

/// HTML email body: the sentence, the chart (when `ctx.chart_cid` is set),
/// new words, top posts as links, sources, links, details. Inline styles
/// only (mail clients drop `<style>`).
pub fn html_body(ev: &AlertEvent, ctx: &Context) -> String {
    let loc = &ctx.locale;
    let l = loc.labels();
    let v = View::new(ev, ctx);
    let e = sanitize::html;
    let colour = if v.firing { "#b00020" } else { "#1b7f3b" };
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n",
        loc.lang.name(),
        e(&v.title)
    );
    s.push_str("<body style=\"font-family:sans-serif;color:#222;max-width:640px\">\n");
    let _ = writeln!(
        s,
        "<h2 style=\"color:{colour};margin-bottom:4px\">{}</h2>",
        e(&v.heading)
    );
    let _ = writeln!(
        s,
        "<p style=\"font-size:large\"><strong>{}</strong></p>",
        e(&v.sentence)
    );
    if let Some(stage) = &v.stage {
        let _ = writeln!(s, "<p>{}</p>", e(stage));
    }
    if let Some(cid) = &ctx.chart_cid {
        let _ = writeln!(
            s,
            "<p><img src=\"cid:{}\" width=\"{}\" height=\"{}\" alt=\"{}\"></p>",
            sanitize::html_escape(cid),
            super::chart::WIDTH,
            super::chart::HEIGHT,
            sanitize::html_escape(l.chart_alt)
        );
    }
    if !v.emerging.is_empty() {
        let words: Vec<String> = v.emerging.iter().map(|w| e(w)).collect();
        let _ = writeln!(
            s,
            "<p><strong>{}</strong> {}</p>",
            sanitize::html_escape(&loc.colon(l.emerging)),
            words.join(", ")
        );
    }
    if !v.posts.is_empty() {
        let _ = writeln!(s, "<h3>{}</h3>\n<ol>", sanitize::html_escape(l.top_posts));
        for m in &v.posts {
            match &m.link {
                Some(u) => {
                    let _ = write!(
                        s,
                        "<li><a href=\"{}\">{}</a>",
                        sanitize::html_escape(u),
                        e(&m.title)
                    );
                }
                None => {
                    let _ = write!(s, "<li>{} <code>{}</code>", e(&m.title), e(&m.url));
                }
            }
            let _ = writeln!(s, "<br><small>{}</small></li>", e(&post_meta(m, l)));
        }
        s.push_str("</ol>\n");
    }
    if !v.sources.is_empty() {
        let _ = writeln!(
            s,
            "<p><strong>{}</strong> {}</p>",
            sanitize::html_escape(&loc.colon(l.sources)),
            e(&v.sources.join(", "))
        );
    }
    if !v.links.is_empty() {
        let items: Vec<String> = v
            .links
            .iter()
            .map(|(label, u)| {
                format!(
                    "<a href=\"{}\">{}</a>",
                    sanitize::html_escape(u),
                    sanitize::html_escape(label)
                )
            })
            .collect();
        let _ = writeln!(s, "<p>{}</p>", items.join(" · "));
    }
    let _ = writeln!(
        s,
        "<h4 style=\"color:#555;margin-bottom:2px\">{}</h4>\n<table cellpadding=\"2\" style=\"border-collapse:collapse;font-size:small;color:#555\">",
        sanitize::html_escape(l.details)
    );
    for (k, val) in &v.details {
        let _ = writeln!(
            s,
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            sanitize::html_escape(k),
            e(val)
        );
    }
    s.push_str("</table>\n");
    let _ = writeln!(
        s,
        "<p style=\"color:#777;font-size:small\">{}</p>\n</body></html>",
        sanitize::html_escape(l.footer)
    );
    s
}

/// Which chat markup to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// Slack `mrkdwn`: `*bold*`, `<url|label>`.
    Slack,
    /// Mattermost Markdown.
    Mattermost,
    /// Discord Markdown.
    Discord,
    /// Teams Adaptive Card Markdown subset.
    Teams,
}

impl Markup {
    /// Escapes stranger-written text for this markup.
    pub fn escape(self, s: &str) -> String {
        match self {
            Markup::Slack => sanitize::slack(s),
            Markup::Mattermost => sanitize::mattermost(s),
            Markup::Discord => sanitize::discord(s),
            Markup::Teams => sanitize::teams(s),
        }
    }

    /// Bold text (already escaped).
    pub(crate) fn bold(self, s: &str) -> String {
        match self {
            Markup::Slack => format!("*{s}*"),
            _ => format!("**{s}**"),
        }
    }

    /// A link; `url` comes from [`sanitize::link`] or from our own links.
    pub(crate) fn link(self, label: &str, url: &str) -> String {
        match self {
            Markup::Slack => format!("<{url}|{label}>"),
            _ => format!("[{label}]({url})"),
        }
    }
}

/// The parts of a chat message, already escaped for `markup`.
pub(crate) struct Chat {
    pub title: String,
    /// The sentence, the stage, the new words.
    pub lead: Vec<String>,
    /// One line per top post.
    pub posts: Vec<String>,
    pub sources: Option<String>,
    /// Links as one line.
    pub links: Option<String>,
    /// (label, value) details, escaped.
    pub details: Vec<(String, String)>,
}

pub(crate) fn chat(ev: &AlertEvent, ctx: &Context, markup: Markup) -> Chat {
    let loc = &ctx.locale;
    let l = loc.labels();
    let v = View::new(ev, ctx);
    let esc = |s: &str| markup.escape(s);
    let mut lead = vec![esc(&v.sentence)];
    if let Some(stage) = &v.stage {
        lead.push(esc(stage));
    }
    if !v.emerging.is_empty() {
        let words: Vec<String> = v.emerging.iter().map(|w| esc(w)).collect();
        lead.push(format!(
            "{} {}",
            markup.bold(&esc(&loc.colon(l.emerging))),
            words.join(", ")
        ));
    }
    let posts = v
        .posts
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let title = esc(&m.title);
            let shown = match &m.link {
                Some(u) => markup.link(&title, u),
                None => format!("{title} ({})", esc(&m.url)),
            };
            format!("{}. {shown} — {}", i + 1, esc(&post_meta(m, l)))
        })
        .collect();
    let mut links: Vec<String> = v
        .links
        .iter()
        .map(|(label, u)| markup.link(&esc(label), u))
        .collect();
    if let Some(c) = &v.chart_link {
        links.push(markup.link(&esc(l.link_chart), c));
    }
    Chat {
        title: esc(&v.title),
        lead,
        posts,
        sources: (!v.sources.is_empty()).then(|| {
            format!(
                "{} {}",
                markup.bold(&esc(&loc.colon(l.sources))),
                esc(&v.sources.join(", "))
            )
        }),
        links: (!links.is_empty()).then(|| links.join(" · ")),
        details: v
            .details
            .iter()
            .map(|(k, val)| (esc(k), esc(val)))
            .collect(),
    }
}

/// A whole chat message as one text (Slack, Mattermost, Discord
/// description): title, lead, posts, sources, links, then the details on
/// one compact line.
pub(crate) fn chat_text(
    ev: &AlertEvent,
    ctx: &Context,
    markup: Markup,
    with_title: bool,
) -> String {
    let loc = &ctx.locale;
    let l = loc.labels();
    let c = chat(ev, ctx, markup);
    let mut s = String::new();
    if with_title {
        let _ = writeln!(s, "{}", markup.bold(&c.title));
    }
    for line in &c.lead {
        let _ = writeln!(s, "{line}");
    }
    if !c.posts.is_empty() {
        let _ = writeln!(
            s,
            "{}",
            markup.bold(&markup.escape(&loc.colon(l.top_posts)))
        );
        for p in &c.posts {
            let _ = writeln!(s, "{p}");
        }
    }
    if let Some(src) = &c.sources {
        let _ = writeln!(s, "{src}");
    }
    if let Some(links) = &c.links {
        let _ = writeln!(s, "{links}");
    }
    let details: Vec<String> = c
        .details
        .iter()
        .map(|(k, v)| format!("{} {v}", markup.escape(&loc.colon(k))))
        .collect();
    let _ = writeln!(
        s,
        "_{}_ {}",
        markup.escape(&loc.colon(l.details)),
        details.join(" · ")
    );
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::i18n::Lang;

    /// The example event with hostile mentions, for escaping tests.
    pub(crate) fn event() -> AlertEvent {
        let mut ev = AlertEvent::example();
        ev.top_mentions = vec![
            TopMention {
                url: "https://ex.org/post/1?a=b&c=d".into(),
                title: "Acme <script>alert(1)</script> panne générale".into(),
                author: "@jdoe".into(),
                reach: 12000,
                sentiment: -0.8,
            },
            TopMention {
                url: "javascript:alert(1)".into(),
                title: "".into(),
                author: "".into(),
                reach: 0,
                sentiment: 0.1,
            },
        ];
        ev
    }

    pub(crate) fn fr() -> Context {
        Context::new(
            Locale {
                lang: Lang::Fr,
                tz: chrono_tz::Europe::Paris,
            },
            Some("https://veille.example.org/app/".parse().unwrap()),
        )
    }

    fn check(haystack: &str, needles: &[&str]) {
        for n in needles {
            assert!(haystack.contains(n), "missing {n:?} in\n{haystack}");
        }
    }

    #[test]
    fn subject_in_both_languages() {
        let ev = event();
        assert_eq!(
            subject(&ev, &Context::default()),
            "[veilleur] CRITICAL acme / bad-buzz: 64 mentions in 1 hour, 12 times more than usual, 58% negative"
        );
        assert_eq!(
            subject(&ev, &fr()),
            "[veilleur] CRITIQUE acme / bad-buzz\u{202F}: 64 mentions en 1\u{202F}h, 12 fois plus que d'habitude, 58\u{202F}% négatives"
        );
        let mut r = ev.clone();
        r.state = AlertState::Resolved;
        assert_eq!(
            subject(&r, &Context::default()),
            "[veilleur] RESOLVED acme / bad-buzz: back to normal, 64 mentions in 1 hour"
        );
        let mut odd = ev;
        odd.watch = "a\r\nBcc: x@y".into();
        assert!(!subject(&odd, &Context::default()).contains('\n'));
    }

    #[test]
    fn text_body_reads_as_sentences_then_details() {
        let body = text_body(&event(), &fr());
        check(
            &body,
            &[
                "ALERTE — acme / bad-buzz",
                "64 mentions en 1\u{202F}h, 12 fois plus que d'habitude à cette heure, 58\u{202F}% négatives (d'habitude 12\u{202F}%)",
                "Mots nouveaux\u{202F}: «\u{202F}panne\u{202F}» (31)",
                "par @jdoe · audience 12\u{202F}000 · négatif",
                "par auteur inconnu · neutre",
                "Par source\u{202F}: forum 40, mastodon 24",
                "Page de la veille\u{202F}: https://veille.example.org/app/watch/acme\n",
                "https://veille.example.org/app/?q=watch%3Aacme&since=2026-01-01T09%3A00%3A00Z&until=2026-01-01T10%3A00%3A00Z",
                "Quand\u{202F}: jeudi 1er janvier, 11\u{202F}h\u{202F}00 (Europe/Paris)",
                "Probabilité\u{202F}: p ≈ 3e-21",
                "Facteur\u{202F}: ×12,3",
            ],
        );
        // Reach unknown: never "audience 0".
        assert!(!body.contains("audience 0"), "{body}");
    }

    #[test]
    fn no_history_means_no_usual_share() {
        let mut ev = event();
        ev.expected = 0.0;
        ev.factor = 0.0;
        ev.negative_share = 1.0;
        ev.negative_share_usual = 1.0;
        let body = text_body(&ev, &Context::default());
        check(&body, &["no history to compare with yet, 100% negative\n"]);
        assert!(!body.contains("usually"), "{body}");
    }

    #[test]
    fn html_escapes_hostile_titles_and_links_only_web_urls() {
        let mut ctx = fr();
        ctx.chart_cid = Some("chart@veilleur".into());
        let html = html_body(&event(), &ctx);
        assert!(!html.contains("<script>"), "{html}");
        check(
            &html,
            &[
                "&lt;script&gt;alert(1)&lt;/script&gt;",
                "<a href=\"https://ex.org/post/1?a=b&amp;c=d\">Acme &lt;script&gt;",
                "<code>javascript:alert(1)</code>",
                "<img src=\"cid:chart@veilleur\"",
                "<html lang=\"fr\">",
            ],
        );
        assert!(!html.contains("href=\"javascript"), "{html}");
    }

    #[test]
    fn chat_text_links_and_escapes() {
        let md = chat_text(&event(), &fr(), Markup::Mattermost, true);
        check(
            &md,
            &[
                "[Acme \\<script\\>alert(1)\\</script\\> panne générale](https://ex.org/post/1?a=b&c=d)",
                "javascript:alert(1)",
                "[Graphique](https://veille.example.org/app/watch/acme/chart.png?alert=acme%2Fbad-buzz%2Ffiring%2F1767261600000)",
            ],
        );
        let slack = chat_text(&event(), &Context::default(), Markup::Slack, true);
        check(
            &slack,
            &[
                "*CRITICAL acme / bad-buzz",
                "<https://ex.org/post/1?a=b&c=d|Acme &lt;script&gt;",
            ],
        );
    }

    #[test]
    fn summary_is_localised_from_the_fields() {
        let ev = event();
        assert_eq!(
            summary(&ev, &fr().locale),
            "acme / bad-buzz\u{202F}: 64 mentions en 1\u{202F}h, 12 fois plus que d'habitude à cette heure, 58\u{202F}% négatives (d'habitude 12\u{202F}%)"
        );
        let mut r = ev;
        r.state = AlertState::Resolved;
        assert_eq!(
            summary(&r, &Locale::default()),
            "acme / bad-buzz: back to normal, 64 mentions in 1 hour"
        );
    }

    #[test]
    fn stages_have_their_own_words_and_resolved_has_none() {
        let mut ev = event();
        ev.stage = Stage::EarlyWarning;
        ev.severity = "warning".into();
        let ctx = Context::default();
        check(
            &subject(&ev, &ctx),
            &["WARNING acme / bad-buzz (early warning):"],
        );
        check(
            &text_body(&ev, &ctx),
            &["Early warning: the volume is accelerating"],
        );
        ev.stage = Stage::Repeat;
        check(&subject(&ev, &fr()), &["(toujours en cours)\u{202F}:"]);
        ev.state = AlertState::Resolved;
        assert!(!subject(&ev, &ctx).contains("still firing"));
    }

    #[test]
    fn first_version_events_render() {
        let mut ev = event();
        ev.window_secs = 0;
        ev.factor = 0.0;
        ev.tail_probability = None;
        ev.emerging_terms.clear();
        ev.sources.clear();
        let text = text_body(&ev, &Context::default());
        check(
            &text,
            &[
                "64 mentions, 12 times more than usual at this time, 58% negative\n",
                "Factor: ×12.3",
            ],
        );
        assert!(!text.contains("usually"), "{text}");
    }
}
