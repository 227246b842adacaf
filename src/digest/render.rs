//! A [`Digest`] for people: a subject, a plain-text body, an HTML body and
//! a chat message. English and UTC for now; every word is here, apart from
//! the data, so that localisation replaces this file's strings only.
//!
//! Author names are written by strangers: HTML escapes them, chat text
//! defuses `@` and (Slack) `<`, `>` and `&`, so a name cannot ping a
//! channel or inject markup. Control characters are dropped everywhere.

use chrono::{DateTime, Utc};

use super::data::{Digest, Split, WatchDigest};
use crate::notify::sanitize::html_escape;

/// Longest author name shown (characters).
const MAX_NAME_CHARS: usize = 80;

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn signed_pct(x: f64) -> String {
    format!("{:+.0}%", x * 100.0)
}

/// Printable, single-line, bounded.
fn clean(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = s.trim();
    match s.char_indices().nth(MAX_NAME_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The subject line of an email digest.
pub fn subject(d: &Digest) -> String {
    format!(
        "[veilleur] digest {} → {}: {} mentions, {} alerts",
        d.start.format("%Y-%m-%d"),
        d.end.format("%Y-%m-%d"),
        d.watches.iter().map(|w| w.volume).sum::<u64>(),
        d.watches.iter().map(|w| w.alerts.len()).sum::<usize>()
    )
}

/// The lines describing one watch, as (label, value); values hold
/// stranger-written text only in the authors line.
fn rows(w: &WatchDigest) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    let trend = match w.trend() {
        Some(t) => format!("{} ({} vs {})", w.volume, signed_pct(t), w.previous_volume),
        None => format!("{} (none the period before)", w.volume),
    };
    rows.push(("Mentions", trend));
    if w.volume > 0 {
        let s: &Split = &w.sentiment;
        let t = s.total() as f64;
        let change = w
            .negative_share_change()
            .map_or(String::new(), |c| format!(" ({:+.0} pts)", c * 100.0));
        rows.push((
            "Sentiment",
            format!(
                "{} negative{change}, {} neutral, {} positive",
                pct(s.negative as f64 / t),
                pct(s.neutral as f64 / t),
                pct(s.positive as f64 / t)
            ),
        ));
    }
    if let Some(v) = w.share_of_voice {
        let before = w
            .previous_share_of_voice
            .map_or(String::new(), |p| format!(" (before: {})", pct(p)));
        rows.push(("Share of voice", format!("{}{before}", pct(v))));
    }
    if !w.top_sources.is_empty() {
        let s: Vec<String> = w
            .top_sources
            .iter()
            .map(|c| format!("{} {}", clean(&c.name), c.count))
            .collect();
        rows.push(("Top sources", s.join(", ")));
    }
    if !w.top_authors.is_empty() {
        let a: Vec<String> = w
            .top_authors
            .iter()
            .map(|a| {
                format!(
                    "{} ({} followers, {} mentions)",
                    clean(&a.author),
                    a.reach,
                    a.mentions
                )
            })
            .collect();
        rows.push(("Top authors by reach", a.join(", ")));
    }
    rows
}

fn alert_lines(w: &WatchDigest) -> Vec<String> {
    w.alerts
        .iter()
        .map(|a| {
            format!(
                "#{} {} UTC {} {}{}: {}",
                a.id,
                when(a.at),
                a.severity,
                clean(&a.rule),
                if a.silenced { " (silenced)" } else { "" },
                clean(&a.summary)
            )
        })
        .collect()
}

fn heading(d: &Digest) -> String {
    format!(
        "Digest from {} to {} UTC, compared with the period before",
        when(d.start),
        when(d.end)
    )
}

fn title(w: &WatchDigest) -> String {
    if w.tags.is_empty() {
        clean(&w.watch)
    } else {
        format!("{} [{}]", clean(&w.watch), clean(&w.tags.join(", ")))
    }
}

/// The plain-text body.
pub fn text(d: &Digest) -> String {
    let mut out = format!("{}\n", heading(d));
    for w in &d.watches {
        out.push_str(&format!("\n{}\n", title(w)));
        for (k, v) in rows(w) {
            out.push_str(&format!("  {k}: {v}\n"));
        }
        let alerts = alert_lines(w);
        if alerts.is_empty() {
            out.push_str("  Alerts: none\n");
        } else {
            out.push_str("  Alerts:\n");
            for a in alerts {
                out.push_str(&format!("    {a}\n"));
            }
        }
    }
    out
}

/// The HTML body (every value escaped).
pub fn html(d: &Digest) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head><body style=\"font-family:sans-serif\">\n<p>{}</p>\n",
        html_escape(&subject(d)),
        html_escape(&heading(d))
    );
    for w in &d.watches {
        out.push_str(&format!("<h2>{}</h2>\n<table>\n", html_escape(&title(w))));
        for (k, v) in rows(w) {
            out.push_str(&format!(
                "<tr><th style=\"text-align:left\">{}</th><td>{}</td></tr>\n",
                html_escape(k),
                html_escape(&v)
            ));
        }
        out.push_str("</table>\n");
        let alerts = alert_lines(w);
        if !alerts.is_empty() {
            out.push_str("<ul>\n");
            for a in alerts {
                out.push_str(&format!("<li>{}</li>\n", html_escape(&a)));
            }
            out.push_str("</ul>\n");
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// Defuses chat mentions and (Slack) markup in text: `@` followed by a
/// zero-width space pings no one; Slack's `<`, `>` and `&` are escaped as
/// its documentation asks.
fn defuse(s: &str, slack: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '@' => out.push_str("@\u{200B}"),
            '<' if slack => out.push_str("&lt;"),
            '>' if slack => out.push_str("&gt;"),
            '&' if slack => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// A chat message: Markdown, or Slack `mrkdwn` when `slack`.
pub fn chat(d: &Digest, slack: bool) -> String {
    let bold = |s: &str| {
        if slack {
            format!("*{s}*")
        } else {
            format!("**{s}**")
        }
    };
    let mut out = format!("{}\n", bold(&defuse(&heading(d), slack)));
    for w in &d.watches {
        out.push_str(&format!("\n{}\n", bold(&defuse(&title(w), slack))));
        for (k, v) in rows(w) {
            out.push_str(&format!("• {k}: {}\n", defuse(&v, slack)));
        }
        for a in alert_lines(w) {
            out.push_str(&format!("• {}\n", defuse(&a, slack)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::data::{Author, Count};

    fn digest() -> Digest {
        Digest {
            start: "2026-02-24T08:30:00Z".parse().unwrap(),
            end: "2026-03-03T08:30:00Z".parse().unwrap(),
            previous_start: "2026-02-17T08:30:00Z".parse().unwrap(),
            watches: vec![WatchDigest {
                watch: "acme".into(),
                tags: vec!["brand".into()],
                volume: 140,
                previous_volume: 100,
                sentiment: Split {
                    negative: 42,
                    neutral: 70,
                    positive: 28,
                },
                previous_sentiment: Split {
                    negative: 20,
                    neutral: 60,
                    positive: 20,
                },
                share_of_voice: Some(0.7),
                previous_share_of_voice: Some(0.5),
                top_sources: vec![Count {
                    name: "forum".into(),
                    count: 80,
                }],
                top_authors: vec![Author {
                    author: "<!here> @channel <b>x</b>".into(),
                    reach: 12_000,
                    mentions: 3,
                }],
                alerts: Vec::new(),
            }],
        }
    }

    #[test]
    fn text_states_volume_trend_sentiment_and_share_of_voice() {
        let t = text(&digest());
        for want in [
            "Mentions: 140 (+40% vs 100)",
            "Sentiment: 30% negative (+10 pts), 50% neutral, 20% positive",
            "Share of voice: 70% (before: 50%)",
            "Top sources: forum 80",
            "Alerts: none",
        ] {
            assert!(t.contains(want), "{want} in\n{t}");
        }
    }

    #[test]
    fn stranger_text_is_inert_in_html_and_chat() {
        let h = html(&digest());
        assert!(!h.contains("<b>x") && h.contains("&lt;b&gt;x"), "{h}");
        let s = chat(&digest(), true);
        assert!(!s.contains("<!here>") && !s.contains("@channel"), "{s}");
        let m = chat(&digest(), false);
        assert!(
            !m.contains("@channel") && m.contains("@\u{200B}channel"),
            "{m}"
        );
    }
}
