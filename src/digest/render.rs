//! A [`Digest`] for people, in the channel's language and time zone: a
//! subject, a plain-text body, an HTML body (with one inline chart per
//! watch), and the chat messages (Slack `mrkdwn`, Mattermost, Discord and
//! Teams Markdown).
//!
//! Owns: the layout of a digest. Words, numbers and local times come from
//! [`crate::i18n`]; every value goes out through the sanitizer of its
//! output format ([`crate::notify::sanitize`], the same as alerts), so a
//! hostile author or rule name is as inert here as in an alert: no header
//! break, no markup, no `@channel`, `<!here>` or `@everyone`. Values are
//! built as plain text and escaped once, item by item, where they land.
//!
//! Charts: each watch with a series gets a PNG of the period
//! ([`charts`], CPU work: call it off the async threads), inline in the
//! HTML email as `cid:chart-N@veilleur`; chat messages link to the web
//! server's `/watch/W/chart.png?since=…&until=…` when `public_url` is set.

use std::fmt::Write as _;

use chrono::SecondsFormat;

use super::data::{Digest, DigestAlert, WatchDigest};
use crate::i18n::{DigestFacts, Facts, Locale};
use crate::notify::render::{Context, Markup, page_url};
use crate::notify::sanitize;

/// Longest author, source or tag shown (characters).
const MAX_NAME_CHARS: usize = 80;
/// Most inline charts in one digest email (one per watch, in order): an
/// email with hundreds of images helps no one and weighs megabytes.
pub const MAX_CHARTS: usize = 20;

fn facts(d: &Digest) -> DigestFacts {
    DigestFacts {
        start: d.start,
        end: d.end,
        mentions: d.mentions(),
        alerts: d.alerts(),
    }
}

/// A stranger-written name as one bounded line of plain text.
fn name(s: &str) -> String {
    sanitize::line(s, MAX_NAME_CHARS)
}

/// The subject line of an email digest, header-safe.
pub fn subject(d: &Digest, loc: &Locale) -> String {
    sanitize::header(&format!(
        "{} {}",
        loc.labels().tag,
        loc.digest_subject(&facts(d))
    ))
}

fn heading(d: &Digest, loc: &Locale) -> String {
    loc.digest_heading(&facts(d))
}

/// `acme [brand]`.
fn title(w: &WatchDigest) -> String {
    if w.tags.is_empty() {
        name(&w.watch)
    } else {
        let tags: Vec<String> = w.tags.iter().map(|t| name(t)).collect();
        format!("{} [{}]", name(&w.watch), tags.join(", "))
    }
}

/// One line of a watch: a label of ours and items, each plain text (names
/// already cut to one bounded line), escaped one by one by the layout and
/// joined with `, `.
struct Row {
    label: &'static str,
    items: Vec<String>,
}

fn rows(w: &WatchDigest, loc: &Locale) -> Vec<Row> {
    let l = loc.digest_labels();
    let mut rows = vec![Row {
        label: l.mentions,
        items: vec![loc.volume(w.volume, w.previous_volume)],
    }];
    if w.volume > 0 {
        rows.push(Row {
            label: l.sentiment,
            items: loc.split(&w.sentiment, w.negative_share_change()),
        });
    }
    if let Some(v) = w.share_of_voice {
        rows.push(Row {
            label: l.share_of_voice,
            items: vec![loc.share(v, w.previous_share_of_voice)],
        });
    }
    if !w.top_sources.is_empty() {
        rows.push(Row {
            label: l.top_sources,
            items: w
                .top_sources
                .iter()
                .map(|c| format!("{} {}", name(&c.name), loc.int(c.count)))
                .collect(),
        });
    }
    if !w.top_authors.is_empty() {
        rows.push(Row {
            label: l.top_authors,
            items: w
                .top_authors
                .iter()
                .map(|a| loc.author(&name(&a.author), a.reach, a.mentions))
                .collect(),
        });
    }
    rows
}

/// An alert of the period: `mardi 3 mars, 14 h 05 — CRITIQUE bad-buzz
/// (aggravation) : 154 mentions en 1 h, …`, the sentence rendered from the
/// alert's fields (detection's English summary only for digests queued
/// before they were kept).
fn alert_line(a: &DigestAlert, loc: &Locale) -> String {
    let l = loc.labels();
    let stage = match a.stage.as_str() {
        "early_warning" => format!(" ({})", l.early_warning),
        "escalation" => format!(" ({})", l.escalation),
        _ => String::new(),
    };
    let silenced = if a.silenced {
        format!(" ({})", loc.digest_labels().silenced)
    } else {
        String::new()
    };
    let sentence = if a.kind.is_empty() {
        name(&a.summary)
    } else {
        loc.sentence(&Facts {
            kind: &a.kind,
            observed: a.observed,
            window_secs: a.window_secs,
            factor: a.factor,
            negative_share: a.negative_share,
            negative_usual: a.negative_usual,
        })
    };
    let who = format!(
        "{} {}{stage}{silenced}",
        loc.severity(&a.severity),
        name(&a.rule)
    );
    format!("{} — {} {sentence}", loc.datetime(a.at), loc.colon(&who))
}

/// The `Content-ID` of watch `i`'s chart (without angle brackets).
pub fn chart_cid(i: usize) -> String {
    format!("chart-{i}@veilleur")
}

/// Whether watch `i` of `d` gets a chart.
fn charted(d: &Digest, i: usize) -> bool {
    d.step_secs > 0 && i < MAX_CHARTS && d.watches.get(i).is_some_and(|w| !w.series.is_empty())
}

/// The chart of each charted watch as (`Content-ID`, PNG bytes): the
/// period's bars, the previous period's mean per bar as the usual level.
/// Blocking (draws): call it off the async threads.
pub fn charts(d: &Digest) -> Result<Vec<(String, Vec<u8>)>, String> {
    let step = i64::try_from(d.step_secs).map_err(|e| e.to_string())?;
    (0..d.watches.len())
        .filter(|&i| charted(d, i))
        .map(|i| {
            let w = &d.watches[i];
            let bars = w.series.len() as f64;
            let usual = (w.previous_volume > 0).then(|| w.previous_volume as f64 / bars);
            let png =
                crate::notify::chart::period_png(&w.series, d.start.timestamp(), step, usual)?;
            Ok((chart_cid(i), png))
        })
        .collect()
}

/// Links of watch `w` to the web page, as (label, URL), when `public_url`
/// is set: its page, and its chart over the digest's period.
fn links(d: &Digest, w: &WatchDigest, ctx: &Context) -> Vec<(&'static str, String)> {
    let Some(base) = &ctx.public_url else {
        return Vec::new();
    };
    let l = ctx.locale.labels();
    let page = page_url(base, &["watch", &w.watch]);
    let mut chart = page_url(base, &["watch", &w.watch, "chart.png"]);
    chart
        .query_pairs_mut()
        .append_pair("since", &d.start.to_rfc3339_opts(SecondsFormat::Secs, true))
        .append_pair("until", &d.end.to_rfc3339_opts(SecondsFormat::Secs, true));
    [(l.link_watch, page), (l.link_chart, chart)]
        .into_iter()
        .filter_map(|(label, u)| Some((label, sanitize::link(u.as_str())?)))
        .collect()
}

/// The plain-text body.
pub fn text(d: &Digest, ctx: &Context) -> String {
    let loc = &ctx.locale;
    let l = loc.digest_labels();
    let p = sanitize::plain;
    let mut out = String::new();
    let _ = writeln!(out, "{}", p(&heading(d, loc)));
    for w in &d.watches {
        let _ = writeln!(out, "\n{}", p(&title(w)));
        for r in rows(w, loc) {
            let items: Vec<String> = r.items.iter().map(|i| p(i)).collect();
            let _ = writeln!(out, "  {} {}", loc.colon(r.label), items.join(", "));
        }
        if w.alerts.is_empty() {
            let _ = writeln!(out, "  {} {}", loc.colon(l.alerts), l.no_alert);
        } else {
            let _ = writeln!(out, "  {}", loc.colon(l.alerts));
            for a in &w.alerts {
                let _ = writeln!(out, "    {}", p(&alert_line(a, loc)));
            }
        }
        for (label, u) in links(d, w, ctx) {
            let _ = writeln!(out, "  {} {u}", loc.colon(label));
        }
    }
    let _ = writeln!(out, "\n-- \n{}", loc.labels().footer);
    out
}

/// The HTML body: every value escaped; with `with_charts`, each charted
/// watch shows its chart as `cid:`[`chart_cid`] (the email attaches
/// [`charts`]). Inline styles only (mail clients drop `<style>`).
pub fn html(d: &Digest, ctx: &Context, with_charts: bool) -> String {
    let loc = &ctx.locale;
    let l = loc.digest_labels();
    let e = sanitize::html;
    let esc = sanitize::html_escape;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>",
        loc.lang.name(),
        e(&subject(d, loc))
    );
    out.push_str("<body style=\"font-family:sans-serif;color:#222;max-width:640px\">\n");
    let _ = writeln!(out, "<h2>{}</h2>", e(&heading(d, loc)));
    for (i, w) in d.watches.iter().enumerate() {
        let _ = writeln!(out, "<h3 style=\"margin-bottom:4px\">{}</h3>", e(&title(w)));
        if with_charts && charted(d, i) {
            let _ = writeln!(
                out,
                "<p><img src=\"cid:{}\" width=\"{}\" height=\"{}\" alt=\"{}\"></p>",
                esc(&chart_cid(i)),
                crate::notify::chart::WIDTH,
                crate::notify::chart::HEIGHT,
                esc(l.chart_alt)
            );
        }
        out.push_str("<table cellpadding=\"2\" style=\"border-collapse:collapse\">\n");
        for r in rows(w, loc) {
            let items: Vec<String> = r.items.iter().map(|i| e(i)).collect();
            let _ = writeln!(
                out,
                "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                esc(r.label),
                items.join(", ")
            );
        }
        if w.alerts.is_empty() {
            let _ = writeln!(
                out,
                "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                esc(l.alerts),
                esc(l.no_alert)
            );
        }
        out.push_str("</table>\n");
        if !w.alerts.is_empty() {
            let _ = writeln!(out, "<p><strong>{}</strong></p>\n<ul>", esc(l.alerts));
            for a in &w.alerts {
                let _ = writeln!(out, "<li>{}</li>", e(&alert_line(a, loc)));
            }
            out.push_str("</ul>\n");
        }
        let links: Vec<String> = links(d, w, ctx)
            .into_iter()
            .map(|(label, u)| format!("<a href=\"{}\">{}</a>", esc(&u), esc(label)))
            .collect();
        if !links.is_empty() {
            let _ = writeln!(out, "<p>{}</p>", links.join(" · "));
        }
    }
    let _ = writeln!(
        out,
        "<p style=\"color:#777;font-size:small\">{}</p>\n</body></html>",
        esc(loc.labels().footer)
    );
    out
}

/// One watch of a chat message, already escaped for its markup.
pub(crate) struct ChatWatch {
    pub title: String,
    /// (label, value) rows.
    pub rows: Vec<(String, String)>,
    /// One line per alert of the period.
    pub alerts: Vec<String>,
    /// The links, as one line of markup links.
    pub links: Option<String>,
}

/// The parts of a chat digest, already escaped for `markup`.
pub(crate) struct Chat {
    pub heading: String,
    pub watches: Vec<ChatWatch>,
}

pub(crate) fn chat_parts(d: &Digest, ctx: &Context, markup: Markup) -> Chat {
    let loc = &ctx.locale;
    let l = loc.digest_labels();
    let esc = |s: &str| markup.escape(s);
    let watches = d
        .watches
        .iter()
        .map(|w| {
            let mut rows: Vec<(String, String)> = rows(w, loc)
                .into_iter()
                .map(|r| {
                    let items: Vec<String> = r.items.iter().map(|i| esc(i)).collect();
                    (esc(r.label), items.join(", "))
                })
                .collect();
            if w.alerts.is_empty() {
                rows.push((esc(l.alerts), esc(l.no_alert)));
            }
            let links: Vec<String> = links(d, w, ctx)
                .into_iter()
                .map(|(label, u)| markup.link(&esc(label), &u))
                .collect();
            ChatWatch {
                title: esc(&title(w)),
                rows,
                alerts: w.alerts.iter().map(|a| esc(&alert_line(a, loc))).collect(),
                links: (!links.is_empty()).then(|| links.join(" · ")),
            }
        })
        .collect();
    Chat {
        heading: esc(&heading(d, loc)),
        watches,
    }
}

/// A whole chat message (Slack, Mattermost, Discord): the heading, then
/// per watch its title, its rows, its alerts and its links.
pub fn chat(d: &Digest, ctx: &Context, markup: Markup) -> String {
    let loc = &ctx.locale;
    let c = chat_parts(d, ctx, markup);
    let mut out = String::new();
    let _ = writeln!(out, "{}", markup.bold(&c.heading));
    for w in &c.watches {
        let _ = writeln!(out, "\n{}", markup.bold(&w.title));
        for (k, v) in &w.rows {
            let _ = writeln!(out, "• {} {v}", loc.colon(k));
        }
        if !w.alerts.is_empty() {
            let _ = writeln!(
                out,
                "• {}",
                loc.colon(&markup.escape(loc.digest_labels().alerts))
            );
            for a in &w.alerts {
                let _ = writeln!(out, "  – {a}");
            }
        }
        if let Some(links) = &w.links {
            let _ = writeln!(out, "• {links}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::data::{Author, Count, Split};
    use crate::i18n::Lang;

    fn digest() -> Digest {
        Digest {
            start: "2026-02-24T08:30:00Z".parse().unwrap(),
            end: "2026-03-03T08:30:00Z".parse().unwrap(),
            previous_start: "2026-02-17T08:30:00Z".parse().unwrap(),
            step_secs: 3600,
            watches: vec![WatchDigest {
                watch: "acme".into(),
                tags: vec!["brand".into()],
                volume: 1400,
                previous_volume: 1000,
                sentiment: Split {
                    negative: 420,
                    neutral: 700,
                    positive: 280,
                },
                previous_sentiment: Split {
                    negative: 200,
                    neutral: 600,
                    positive: 200,
                },
                share_of_voice: Some(0.7),
                previous_share_of_voice: Some(0.5),
                top_sources: vec![Count {
                    name: "forum".into(),
                    count: 800,
                }],
                top_authors: vec![Author {
                    author: "<!here> @channel <b>x</b>\r\nBcc: a@b".into(),
                    reach: 12_000,
                    mentions: 3,
                }],
                alerts: vec![DigestAlert {
                    id: 7,
                    rule: "bad-buzz".into(),
                    severity: "critical".into(),
                    stage: "escalation".into(),
                    at: "2026-03-01T13:05:00Z".parse().unwrap(),
                    summary: "acme: 154 mentions in 1h".into(),
                    silenced: true,
                    kind: "volume_spike".into(),
                    observed: 154,
                    window_secs: 3600,
                    factor: Some(6.1),
                    negative_share: 0.63,
                    negative_usual: Some(0.12),
                }],
                series: vec![1; 168],
            }],
        }
    }

    fn ctx(lang: Lang) -> Context {
        Context::new(
            Locale {
                lang,
                tz: chrono_tz::Europe::Paris,
            },
            Some("https://veille.example.org/".parse().unwrap()),
        )
    }

    fn check(haystack: &str, needles: &[&str]) {
        for n in needles {
            assert!(haystack.contains(n), "missing {n:?} in\n{haystack}");
        }
    }

    #[test]
    fn text_in_english() {
        let t = text(&digest(), &ctx(Lang::En));
        check(
            &t,
            &[
                "Digest from Tuesday 24 February, 9:30 AM to Tuesday 3 March, 9:30 AM (Europe/Paris)",
                "Mentions: 1,400 (+40% vs 1,000)",
                "Sentiment: 30% negative (+10 pts), 50% neutral, 20% positive",
                "Share of voice: 70% (before: 50%)",
                "Top sources: forum 800",
                "Sunday 1 March, 2:05 PM — CRITICAL bad-buzz (escalation) (silenced): 154 mentions in 1 hour, 6 times more than usual at this time, 63% negative (usually 12%)",
                "Chart: https://veille.example.org/watch/acme/chart.png?since=2026-02-24T08%3A30%3A00Z&until=2026-03-03T08%3A30%3A00Z",
            ],
        );
    }

    #[test]
    fn text_in_french_with_its_typography() {
        let t = text(&digest(), &ctx(Lang::Fr));
        let n = '\u{202F}';
        check(
            &t,
            &[
                &format!(
                    "Synthèse du mardi 24 février, 9{n}h{n}30 au mardi 3 mars, 9{n}h{n}30 (Europe/Paris)"
                ),
                &format!("Mentions{n}: 1{n}400 (+40{n}% par rapport à 1{n}000)"),
                &format!(
                    "Tonalité{n}: 30{n}% négatives (+10 points), 50{n}% neutres, 20{n}% positives"
                ),
                &format!("Part de voix{n}: 70{n}% (avant{n}: 50{n}%)"),
                &format!(
                    "dimanche 1er mars, 14{n}h{n}05 — CRITIQUE bad-buzz (aggravation) (en sourdine){n}: 154 mentions en 1{n}h"
                ),
            ],
        );
        assert!(!t.contains(" :") && !t.contains(" %"), "{t}");
        assert_eq!(
            subject(&digest(), &ctx(Lang::Fr).locale),
            format!(
                "[veilleur] synthèse du mardi 24 février au mardi 3 mars{n}: 1{n}400 mentions, 1 alerte"
            )
        );
    }

    #[test]
    fn stranger_text_is_inert_in_every_format() {
        let d = digest();
        let h = html(&d, &ctx(Lang::En), true);
        assert!(!h.contains("<b>x") && h.contains("&lt;b&gt;x"), "{h}");
        check(
            &h,
            &["<img src=\"cid:chart-0@veilleur\"", "<html lang=\"en\">"],
        );
        let t = text(&d, &ctx(Lang::En));
        assert!(!t.contains("\r\nBcc") && !t.contains("\nBcc"), "{t}");
        let s = chat(&d, &ctx(Lang::En), Markup::Slack);
        assert!(!s.contains("<!here>") && !s.contains("@channel"), "{s}");
        check(&s, &["<https://veille.example.org/watch/acme|Watch page>"]);
        for m in [Markup::Mattermost, Markup::Discord, Markup::Teams] {
            let c = chat(&d, &ctx(Lang::Fr), m);
            assert!(
                !c.contains("@channel") && !c.contains("<b>") && !c.contains("<!here>"),
                "{c}"
            );
        }
    }

    #[test]
    fn charts_are_pngs_of_charted_watches() {
        let c = charts(&digest()).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].0, "chart-0@veilleur");
        assert_eq!(&c[0].1[..4], b"\x89PNG");
        let mut old = digest();
        old.step_secs = 0;
        assert!(charts(&old).unwrap().is_empty());
        assert!(!html(&old, &ctx(Lang::En), true).contains("cid:"));
    }
}
