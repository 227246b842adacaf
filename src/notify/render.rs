//! How an alert event reads to a person: email subject, plain-text and HTML
//! bodies, and the Markdown / Slack `mrkdwn` text used by chat webhooks.
//!
//! Owns: wording, layout and escaping. It does not send anything and does not
//! decide what an alert contains (detection does; see [`crate::alert`]).
//!
//! Invariants:
//! * every rendering names the watch, the rule, the kind, the state, the time,
//!   observed vs expected (with the factor), the negative share, the top terms
//!   and the top mentions with title, author, reach, sentiment and link;
//! * the explanation fields detection adds (issue 4) are shown when present:
//!   the stage (early warning, escalation, reminder) in the headline and as a
//!   fact, the tail probability, the negative share now vs usual, emerging
//!   terms with their lift, the breakdown by source and the related alerts
//!   notified together. They are all [`facts`], so emails, chat messages and
//!   the webhook cards that list facts show the same things;
//! * nothing coming from the outside (titles, authors, URLs, terms) reaches
//!   HTML or chat markup unescaped, and only `http(s)` URLs become links;
//! * every user-visible word comes from a [`Labels`] table, so adding a
//!   language is one more `const` ([`Labels::FR`] exists already), not a
//!   rewrite. The plain functions ([`subject`], [`text_body`], …) use
//!   [`Labels::EN`].

use std::fmt::Write as _;

use crate::alert::{AlertEvent, AlertState, Stage, TopMention};

/// The words of one language. Numbers are formatted the same way in every
/// language for now (`5.2`, `58%`).
#[derive(Debug, Clone, Copy)]
pub struct Labels {
    /// Prefix of every email subject.
    pub tag: &'static str,
    pub firing: &'static str,
    pub resolved: &'static str,
    /// Appended to a resolved alert's headline.
    pub back_to_normal: &'static str,
    pub watch: &'static str,
    pub rule: &'static str,
    pub kind: &'static str,
    pub severity: &'static str,
    pub when: &'static str,
    pub mentions: &'static str,
    /// "expected" as in "64 mentions, expected 5.2".
    pub expected: &'static str,
    pub negative: &'static str,
    pub top_terms: &'static str,
    pub top_mentions: &'static str,
    /// "usually" as in "58% (usually 12%)".
    pub usually: &'static str,
    /// Row label of the stage of a firing event.
    pub stage: &'static str,
    /// Stage words, short (headline) and why (the stage row).
    pub early_warning: &'static str,
    pub early_warning_why: &'static str,
    pub escalation: &'static str,
    pub escalation_why: &'static str,
    pub repeat: &'static str,
    pub repeat_why: &'static str,
    /// Row label of the tail probability (`p ≈ 3e-9`).
    pub probability: &'static str,
    /// What the probability means, after the number.
    pub probability_why: &'static str,
    pub emerging_terms: &'static str,
    pub sources: &'static str,
    pub related: &'static str,
    pub reach: &'static str,
    pub sentiment: &'static str,
    pub by: &'static str,
    pub untitled: &'static str,
    pub none: &'static str,
    /// Footer line explaining where the message comes from.
    pub footer: &'static str,
}

impl Labels {
    /// English, the default.
    pub const EN: Labels = Labels {
        tag: "[veilleur]",
        firing: "FIRING",
        resolved: "RESOLVED",
        back_to_normal: "back to normal",
        watch: "Watch",
        rule: "Rule",
        kind: "Kind",
        severity: "Severity",
        when: "When",
        mentions: "mentions",
        expected: "expected",
        negative: "Negative",
        top_terms: "Top terms",
        top_mentions: "Top mentions",
        usually: "usually",
        stage: "Stage",
        early_warning: "early warning",
        early_warning_why: "the volume is accelerating, the threshold is not crossed yet",
        escalation: "escalation",
        escalation_why: "the volume doubled again since the last notification",
        repeat: "still firing",
        repeat_why: "reminder: the alert is still firing",
        probability: "Probability",
        probability_why: "of this volume or more under the usual level",
        emerging_terms: "Emerging terms",
        sources: "Sources",
        related: "Related alerts",
        reach: "reach",
        sentiment: "sentiment",
        by: "by",
        untitled: "(untitled)",
        none: "none",
        footer: "Sent by veilleur, e-reputation monitoring.",
    };

    /// French.
    pub const FR: Labels = Labels {
        tag: "[veilleur]",
        firing: "ALERTE",
        resolved: "TERMINÉE",
        back_to_normal: "retour à la normale",
        watch: "Veille",
        rule: "Règle",
        kind: "Type",
        severity: "Gravité",
        when: "Quand",
        mentions: "mentions",
        expected: "attendu",
        negative: "Négatif",
        top_terms: "Termes principaux",
        top_mentions: "Mentions principales",
        usually: "d'habitude",
        stage: "Étape",
        early_warning: "alerte précoce",
        early_warning_why: "le volume accélère, le seuil n'est pas encore franchi",
        escalation: "aggravation",
        escalation_why: "le volume a encore doublé depuis la dernière notification",
        repeat: "toujours en cours",
        repeat_why: "rappel : l'alerte est toujours en cours",
        probability: "Probabilité",
        probability_why: "d'un tel volume ou plus au niveau habituel",
        emerging_terms: "Termes émergents",
        sources: "Sources",
        related: "Alertes liées",
        reach: "audience",
        sentiment: "sentiment",
        by: "par",
        untitled: "(sans titre)",
        none: "aucun",
        footer: "Envoyé par veilleur, veille e-réputation.",
    };
}

/// `FIRING` or `RESOLVED` in `l`'s words.
fn state_word(ev: &AlertEvent, l: &Labels) -> &'static str {
    match ev.state {
        AlertState::Firing => l.firing,
        AlertState::Resolved => l.resolved,
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

/// `p ≈ 3e-9`: two decimals down to 1 %, then the order of magnitude.
pub(crate) fn probability(p: f64) -> String {
    if !p.is_finite() || p <= 0.0 {
        "p ≈ 0".to_string()
    } else if p >= 0.01 {
        format!("p ≈ {p:.2}")
    } else {
        format!("p ≈ {p:.0e}")
    }
}

/// "58%", or "58% (usually 12%)" for events that carry the usual share
/// (issue 4 events: their `window_secs` is set).
fn negative_value(ev: &AlertEvent, l: &Labels) -> String {
    let mut s = percent(ev.negative_share);
    if ev.window_secs > 0 {
        let _ = write!(s, " ({} {})", l.usually, percent(ev.negative_share_usual));
    }
    s
}

/// "panne ×14.5 (31), rappel ×6.0 (9)": term, lift, mentions holding it.
fn emerging_value(ev: &AlertEvent) -> String {
    ev.emerging_terms
        .iter()
        .map(|t| format!("{} ×{:.1} ({})", t.term, t.lift, t.count))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "forum 40, mastodon 24".
fn sources_value(ev: &AlertEvent) -> String {
    ev.sources
        .iter()
        .map(|s| format!("{} {}", s.source, s.count))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "crisis-words (keyword, FIRING warning): acme: 12 mentions …; …".
fn related_value(ev: &AlertEvent, l: &Labels) -> String {
    ev.related
        .iter()
        .map(|r| {
            let state = match r.state {
                AlertState::Firing => l.firing,
                AlertState::Resolved => l.resolved,
            };
            let mut s = format!("{} ({}, {state} {})", r.rule, r.kind, r.severity);
            if !r.summary.trim().is_empty() {
                let _ = write!(s, ": {}", r.summary.trim());
            }
            s
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// "64 mentions, expected 5.2 (×12.3)".
fn volume_line(ev: &AlertEvent, l: &Labels) -> String {
    let mut s = format!(
        "{} {}, {} {:.1}",
        ev.observed, l.mentions, l.expected, ev.expected
    );
    if let Some(f) = factor(ev) {
        let _ = write!(s, " (×{f:.1})");
    }
    s
}

/// "64, expected 5.2 (×12.3)": the volume under a "Mentions" label.
fn volume_value(ev: &AlertEvent, l: &Labels) -> String {
    let mut s = format!("{}, {} {:.1}", ev.observed, l.expected, ev.expected);
    if let Some(f) = factor(ev) {
        let _ = write!(s, " (×{f:.1})");
    }
    s
}

fn percent(share: f64) -> String {
    format!("{:.0}%", (share * 100.0).clamp(0.0, 100.0))
}

fn when(ev: &AlertEvent) -> String {
    ev.at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn terms(ev: &AlertEvent, l: &Labels) -> String {
    if ev.top_terms.is_empty() {
        l.none.to_string()
    } else {
        ev.top_terms.join(", ")
    }
}

fn title_of<'a>(m: &'a TopMention, l: &Labels) -> &'a str {
    let t = m.title.trim();
    if t.is_empty() { l.untitled } else { t }
}

/// Whether `url` may become a clickable link (no `javascript:` and friends).
fn is_web_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// "by @jdoe · reach 12000 · sentiment -0.80".
fn mention_meta(m: &TopMention, l: &Labels) -> String {
    format!(
        "{} {} · {} {} · {} {:+.2}",
        l.by,
        if m.author.trim().is_empty() {
            "?"
        } else {
            m.author.trim()
        },
        l.reach,
        m.reach,
        l.sentiment,
        m.sentiment
    )
}

/// One line headline, shared by subjects and chat titles:
/// `CRITICAL acme: bad-buzz — 64 mentions, expected 5.2 (×12.3), 58% negative`.
/// A stage other than the threshold follows the rule:
/// `CRITICAL acme: bad-buzz (escalation) — …`.
fn headline(ev: &AlertEvent, l: &Labels) -> String {
    let stage = stage_words(ev, l).map_or(String::new(), |(w, _)| format!(" ({w})"));
    match ev.state {
        AlertState::Firing => format!(
            "{} {}: {}{stage} — {}, {} {}",
            ev.severity.to_uppercase(),
            ev.watch,
            ev.rule,
            volume_line(ev, l),
            percent(ev.negative_share),
            l.negative.to_lowercase()
        ),
        AlertState::Resolved => format!(
            "{} {}: {} — {} ({})",
            l.resolved,
            ev.watch,
            ev.rule,
            l.back_to_normal,
            volume_line(ev, l)
        ),
    }
}

/// Email subject in English, e.g.
/// `[veilleur] CRITICAL acme: bad-buzz — 64 mentions, expected 5.2 (×12.3), 58% negative`.
pub fn subject(ev: &AlertEvent) -> String {
    subject_in(ev, &Labels::EN)
}

/// Email subject in `l`'s words. Single line: control characters from the
/// event are replaced by spaces.
pub(crate) fn subject_in(ev: &AlertEvent, l: &Labels) -> String {
    one_line(&format!("{} {}", l.tag, headline(ev, l)))
}

/// Title for chat messages: the subject without the `[veilleur]` tag.
pub(crate) fn title_in(ev: &AlertEvent, l: &Labels) -> String {
    one_line(&headline(ev, l))
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Plain-text email body in English.
pub(crate) fn text_body(ev: &AlertEvent) -> String {
    text_body_in(ev, &Labels::EN)
}

/// Plain-text email body in `l`'s words.
pub(crate) fn text_body_in(ev: &AlertEvent, l: &Labels) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} — {} / {}", state_word(ev, l), ev.watch, ev.rule);
    if !ev.summary.trim().is_empty() {
        let _ = writeln!(s, "\n{}", ev.summary.trim());
    }
    s.push('\n');
    let rows = facts(ev, l);
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    for (k, v) in &rows {
        let _ = writeln!(
            s,
            "{:<width$} {}",
            format!("{k}:"),
            one_line(v),
            width = width
        );
    }
    if !ev.top_mentions.is_empty() {
        let _ = writeln!(s, "\n{}:", l.top_mentions);
        for (i, m) in ev.top_mentions.iter().enumerate() {
            let _ = writeln!(s, "{}. {}", i + 1, one_line(title_of(m, l)));
            let _ = writeln!(s, "   {}", one_line(&mention_meta(m, l)));
            let _ = writeln!(s, "   {}", one_line(&m.url));
        }
    }
    let _ = writeln!(s, "\n-- \n{}", l.footer);
    s
}

/// The (label, value) facts every rendering shows: watch, rule and kind,
/// severity, time, volume, negative share (and its usual level), top terms,
/// then the [`explanation`]. Values are plain text: each rendering escapes
/// them.
pub(crate) fn facts(ev: &AlertEvent, l: &Labels) -> Vec<(String, String)> {
    let mut rows = vec![
        (l.watch.to_string(), ev.watch.clone()),
        (l.rule.to_string(), format!("{} ({})", ev.rule, ev.kind)),
        (l.severity.to_string(), ev.severity.clone()),
        (l.when.to_string(), when(ev)),
        (capitalise(l.mentions), volume_value(ev, l)),
        (l.negative.to_string(), negative_value(ev, l)),
        (l.top_terms.to_string(), terms(ev, l)),
    ];
    rows.extend(explanation(ev, l));
    rows
}

/// The facts of the explanation, each only when the event carries it: the
/// stage of a firing event other than the threshold, the tail probability,
/// the emerging terms, the sources and the related alerts.
pub fn explanation(ev: &AlertEvent, l: &Labels) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    if let Some((word, why)) = stage_words(ev, l) {
        rows.push((l.stage.to_string(), format!("{word}: {why}")));
    }
    if let Some(p) = ev.tail_probability {
        rows.push((
            l.probability.to_string(),
            format!("{} {}", probability(p), l.probability_why),
        ));
    }
    if !ev.emerging_terms.is_empty() {
        rows.push((l.emerging_terms.to_string(), emerging_value(ev)));
    }
    if !ev.sources.is_empty() {
        rows.push((l.sources.to_string(), sources_value(ev)));
    }
    if !ev.related.is_empty() {
        rows.push((l.related.to_string(), related_value(ev, l)));
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

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// HTML email body in English.
pub(crate) fn html_body(ev: &AlertEvent) -> String {
    html_body_in(ev, &Labels::EN)
}

/// HTML email body in `l`'s words: a headline, a table of facts, and the top
/// mentions as links. Inline styles only (mail clients drop `<style>`).
pub(crate) fn html_body_in(ev: &AlertEvent, l: &Labels) -> String {
    let e = html_escape;
    let colour = match ev.state {
        AlertState::Firing => "#b00020",
        AlertState::Resolved => "#1b7f3b",
    };
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    s.push_str(&e(&subject_in(ev, l)));
    s.push_str("</title></head>\n<body style=\"font-family:sans-serif;color:#222\">\n");
    let _ = writeln!(
        s,
        "<h2 style=\"color:{colour}\">{} — {} / {}</h2>",
        e(state_word(ev, l)),
        e(&ev.watch),
        e(&ev.rule)
    );
    if !ev.summary.trim().is_empty() {
        let _ = writeln!(s, "<p><strong>{}</strong></p>", e(ev.summary.trim()));
    }
    s.push_str("<table cellpadding=\"4\" style=\"border-collapse:collapse\">\n");
    let rows = facts(ev, l);
    for (k, v) in &rows {
        let _ = writeln!(
            s,
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            e(k),
            e(v)
        );
    }
    s.push_str("</table>\n");
    if !ev.top_mentions.is_empty() {
        let _ = writeln!(s, "<h3>{}</h3>\n<ol>", e(l.top_mentions));
        for m in &ev.top_mentions {
            let title = e(title_of(m, l));
            if is_web_url(&m.url) {
                let _ = write!(s, "<li><a href=\"{}\">{title}</a>", e(m.url.trim()));
            } else {
                let _ = write!(s, "<li>{title} <code>{}</code>", e(&m.url));
            }
            let _ = writeln!(s, "<br><small>{}</small></li>", e(&mention_meta(m, l)));
        }
        s.push_str("</ol>\n");
    }
    let _ = writeln!(
        s,
        "<p style=\"color:#777;font-size:small\">{}</p>\n</body></html>",
        e(l.footer)
    );
    s
}

/// Escapes `[`, `]`, `*`, `_`, `` ` `` and `<`/`>` for Markdown (Mattermost,
/// Discord, Teams).
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in one_line(s).chars() {
        match c {
            '[' | ']' | '*' | '_' | '`' | '<' | '>' | '\\' | '~' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes the three characters Slack's `mrkdwn` reserves.
/// <https://api.slack.com/reference/surfaces/formatting#escaping>
fn slack_escape(s: &str) -> String {
    one_line(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Which chat markup to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Markup {
    /// CommonMark-ish: Mattermost, Discord, Teams.
    Markdown,
    /// Slack `mrkdwn`: `*bold*`, `<url|label>`.
    Slack,
}

/// Chat message text in English.
#[cfg(test)]
pub(crate) fn chat_text(ev: &AlertEvent, markup: Markup) -> String {
    chat_text_in(ev, markup, &Labels::EN)
}

/// Chat message text: a bold headline, the summary, the basic facts on two
/// lines, the explanation one fact a line, then the top mentions as links.
pub(crate) fn chat_text_in(ev: &AlertEvent, markup: Markup, l: &Labels) -> String {
    let esc = |s: &str| match markup {
        Markup::Markdown => md_escape(s),
        Markup::Slack => slack_escape(s),
    };
    let bold = |s: &str| match markup {
        Markup::Markdown => format!("**{s}**"),
        Markup::Slack => format!("*{s}*"),
    };
    let mut s = String::new();
    let _ = writeln!(s, "{}", bold(&esc(&title_in(ev, l))));
    if !ev.summary.trim().is_empty() {
        let _ = writeln!(s, "{}", esc(ev.summary.trim()));
    }
    let _ = writeln!(
        s,
        "{}: {} · {}: {} ({}) · {}: {}",
        l.watch,
        esc(&ev.watch),
        l.rule,
        esc(&ev.rule),
        esc(&ev.kind),
        l.when,
        when(ev)
    );
    let _ = writeln!(
        s,
        "{} · {}: {} · {}: {}",
        esc(&volume_line(ev, l)),
        l.negative,
        esc(&negative_value(ev, l)),
        l.top_terms,
        esc(&terms(ev, l))
    );
    for (k, v) in explanation(ev, l) {
        let _ = writeln!(s, "{}: {}", esc(&k), esc(&v));
    }
    if !ev.top_mentions.is_empty() {
        let _ = writeln!(s, "{}:", bold(l.top_mentions));
        for line in mention_lines(ev, markup, l) {
            let _ = writeln!(s, "{line}");
        }
    }
    s
}

/// One line per top mention: `1. [title](url) — by … · reach … · sentiment …`,
/// escaped for `markup`; non-web URLs are shown, not linked.
pub(crate) fn mention_lines(ev: &AlertEvent, markup: Markup, l: &Labels) -> Vec<String> {
    let esc = |s: &str| match markup {
        Markup::Markdown => md_escape(s),
        Markup::Slack => slack_escape(s),
    };
    let link = |label: &str, url: &str| {
        if !is_web_url(url) {
            return format!("{label} ({})", esc(url));
        }
        match markup {
            Markup::Markdown => format!("[{label}](<{}>)", url.trim().replace('>', "%3E")),
            Markup::Slack => format!(
                "<{}|{label}>",
                url.trim()
                    .replace('|', "%7C")
                    .replace('>', "%3E")
                    .replace('<', "%3C")
            ),
        }
    };
    ev.top_mentions
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                "{}. {} — {}",
                i + 1,
                link(&esc(title_of(m, l)), &m.url),
                esc(&mention_meta(m, l))
            )
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The example event with hostile mentions, for escaping tests.
    pub(crate) fn event() -> AlertEvent {
        let mut ev = AlertEvent::example();
        ev.summary = "64 mentions of acme in 1h, 12x the usual volume".into();
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
                reach: 3,
                sentiment: 0.1,
            },
        ];
        ev
    }

    fn check(haystack: &str, needles: &[&str]) {
        for n in needles {
            assert!(haystack.contains(n), "missing {n:?} in\n{haystack}");
        }
    }

    #[test]
    fn subject_says_what_and_where() {
        let ev = event();
        assert_eq!(
            subject(&ev),
            "[veilleur] CRITICAL acme: bad-buzz — 64 mentions, expected 5.2 (×12.3), 58% negative"
        );
        let mut r = ev.clone();
        r.state = AlertState::Resolved;
        assert_eq!(
            subject(&r),
            "[veilleur] RESOLVED acme: bad-buzz — back to normal (64 mentions, expected 5.2 (×12.3))"
        );
        let mut zero = ev;
        zero.expected = 0.0;
        zero.watch = "a\nb".into();
        assert!(!subject(&zero).contains('×'));
        assert!(!subject(&zero).contains('\n'));
    }

    #[test]
    fn text_body_has_every_fact() {
        let body = text_body(&event());
        check(
            &body,
            &[
                "FIRING — acme / bad-buzz",
                "64 mentions of acme in 1h",
                "Watch:",
                "bad-buzz (volume_spike)",
                "2026-01-01 10:00 UTC",
                "Mentions:",
                " 64, expected 5.2 (×12.3)\n",
                "Negative:",
                "58%",
                "panne, remboursement",
                "1. Acme <script>",
                "by @jdoe · reach 12000 · sentiment -0.80",
                "https://ex.org/post/1?a=b&c=d",
                "2. (untitled)",
            ],
        );
        let mut r = event();
        r.state = AlertState::Resolved;
        assert!(text_body(&r).starts_with("RESOLVED — acme / bad-buzz"));
        let fr = text_body_in(&event(), &Labels::FR);
        check(
            &fr,
            &[
                "ALERTE — acme",
                "Veille:",
                "attendu",
                "Mentions principales:",
            ],
        );
    }

    #[test]
    fn html_escapes_hostile_titles_and_links_only_web_urls() {
        let html = html_body(&event());
        assert!(!html.contains("<script>"), "{html}");
        check(
            &html,
            &[
                "&lt;script&gt;alert(1)&lt;/script&gt;",
                "<a href=\"https://ex.org/post/1?a=b&amp;c=d\">Acme &lt;script&gt;",
                "<code>javascript:alert(1)</code>",
                "58%",
                "×12.3",
            ],
        );
        assert!(!html.contains("href=\"javascript"), "{html}");
    }

    #[test]
    fn chat_text_links_and_escapes() {
        let md = chat_text(&event(), Markup::Markdown);
        check(
            &md,
            &[
                "**CRITICAL acme: bad-buzz — 64 mentions",
                "[Acme \\<script\\>alert(1)\\</script\\> panne générale](<https://ex.org/post/1?a=b&c=d>)",
                "javascript:alert(1)",
            ],
        );
        let slack = chat_text(&event(), Markup::Slack);
        check(
            &slack,
            &[
                "*CRITICAL acme: bad-buzz",
                "<https://ex.org/post/1?a=b&c=d|Acme &lt;script&gt;",
            ],
        );
    }

    /// The event with every explanation field, and hostile related alerts.
    fn explained() -> AlertEvent {
        let mut ev = event();
        ev.stage = Stage::Escalation;
        ev.related = vec![crate::alert::RelatedAlert {
            rule: "crisis-words".into(),
            kind: "keyword".into(),
            state: AlertState::Firing,
            severity: "warning".into(),
            summary: "acme: 12 mentions of <img src=x onerror=alert(1)> *boycott*".into(),
        }];
        ev
    }

    #[test]
    fn probability_reads_as_an_order_of_magnitude() {
        for (p, want) in [
            (3.2e-21, "p ≈ 3e-21"),
            (2.6e-9, "p ≈ 3e-9"),
            (0.004, "p ≈ 4e-3"),
            (0.5, "p ≈ 0.50"),
            (0.0, "p ≈ 0"),
            (f64::NAN, "p ≈ 0"),
        ] {
            assert_eq!(probability(p), want, "{p}");
        }
    }

    #[test]
    fn explanation_shows_in_every_rendering() {
        let ev = explained();
        assert_eq!(
            subject(&ev),
            "[veilleur] CRITICAL acme: bad-buzz (escalation) — 64 mentions, expected 5.2 (×12.3), 58% negative"
        );
        let want = [
            "Stage:",
            "escalation: the volume doubled again since the last notification",
            "p ≈ 3e-21 of this volume or more",
            "58% (usually 12%)",
            "Emerging terms:",
            "panne ×14.5 (31)",
            "Sources:",
            "forum 40, mastodon 24",
            "Related alerts:",
            "crisis-words (keyword, FIRING warning): acme: 12 mentions",
        ];
        let text = text_body(&ev);
        check(&text, &want);
        check(&text, &["<img src=x"]);
        let html = html_body(&ev);
        check(
            &html,
            &[
                "<th align=\"left\">Emerging terms</th><td>panne ×14.5 (31)</td>",
                "p ≈ 3e-21",
                "58% (usually 12%)",
                "forum 40, mastodon 24",
                "&lt;img src=x onerror=alert(1)&gt;",
                "bad-buzz (escalation)",
            ],
        );
        assert!(!html.contains("<img"), "{html}");
        let md = chat_text(&ev, Markup::Markdown);
        check(
            &md,
            &[
                "bad-buzz (escalation)",
                "Negative: 58% (usually 12%)",
                "Probability: p ≈ 3e-21",
                "Emerging terms: panne ×14.5 (31)",
                "Sources: forum 40, mastodon 24",
                "Related alerts: crisis-words (keyword, FIRING warning): acme: 12 mentions of \\<img src=x onerror=alert(1)\\> \\*boycott\\*",
            ],
        );
        let slack = chat_text(&ev, Markup::Slack);
        check(&slack, &["&lt;img src=x", "Stage: escalation"]);
        assert!(!slack.contains("<img"), "{slack}");
        check(&subject_in(&ev, &Labels::FR), &["bad-buzz (aggravation) —"]);
        let fr = text_body_in(&ev, &Labels::FR);
        check(
            &fr,
            &[
                "Étape:",
                "58% (d'habitude 12%)",
                "Termes émergents:",
                "Alertes liées:",
                "crisis-words (keyword, ALERTE warning)",
            ],
        );
    }

    #[test]
    fn stages_have_their_own_words_and_resolved_has_none() {
        let mut ev = explained();
        ev.stage = Stage::EarlyWarning;
        ev.severity = "warning".into();
        check(
            &subject(&ev),
            &["WARNING acme: bad-buzz (early warning) — 64 mentions"],
        );
        check(&text_body(&ev), &["the volume is accelerating"]);
        ev.stage = Stage::Repeat;
        check(&subject(&ev), &["bad-buzz (still firing) —"]);
        check(&text_body(&ev), &["reminder: the alert is still firing"]);
        ev.state = AlertState::Resolved;
        assert!(!subject(&ev).contains("still firing"), "{}", subject(&ev));
        assert!(!text_body(&ev).contains("Stage:"));
    }

    #[test]
    fn first_version_events_render_without_explanation() {
        let mut ev = event();
        ev.stage = Stage::Threshold;
        ev.window_secs = 0;
        ev.factor = 0.0;
        ev.tail_probability = None;
        ev.negative_share_usual = 0.0;
        ev.emerging_terms.clear();
        ev.sources.clear();
        ev.related.clear();
        assert_eq!(facts(&ev, &Labels::EN).len(), 7);
        assert!(explanation(&ev, &Labels::EN).is_empty());
        let text = text_body(&ev);
        for absent in ["usually", "Probability", "Emerging", "Sources", "Stage"] {
            assert!(!text.contains(absent), "{absent} in\n{text}");
        }
        // The factor is computed when the event does not carry it.
        check(&text, &["(×12.3)"]);
    }
}
