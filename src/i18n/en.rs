//! English: labels, names of days and months, and the grammar of the
//! sentences (plurals, word order). Formatting rules live in the parent
//! module.

use super::{DigestFacts, DigestLabels, Facts, Labels, Locale, Split};

pub(super) const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

pub(super) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(super) const LABELS: Labels = Labels {
    tag: "[veilleur]",
    firing: "FIRING",
    resolved: "RESOLVED",
    watch: "Watch",
    rule: "Rule",
    kind: "Kind",
    severity: "Severity",
    when: "When",
    window: "Window",
    observed: "Mentions",
    expected: "Expected",
    factor: "Factor",
    negative: "Negative",
    negative_usual: "usually",
    no_history: "no history yet",
    probability: "Probability",
    probability_why: "of this volume or more at the usual level",
    stage: "Stage",
    emerging: "New words",
    top_terms: "Frequent words",
    top_posts: "Top posts",
    sources: "By source",
    related: "Related alerts",
    details: "Details",
    links: "Links",
    link_watch: "Watch page",
    link_mentions: "All mentions of the window",
    link_chart: "Chart",
    chart_alt: "Mentions per hour over the last days; the alert window is shaded, the usual level is the grey band",
    reach: "reach",
    by: "by",
    untitled: "(untitled)",
    unknown_author: "unknown author",
    negative_post: "negative",
    neutral_post: "neutral",
    positive_post: "positive",
    early_warning: "early warning",
    early_warning_why: "the volume is accelerating, the threshold is not crossed yet",
    escalation: "escalation",
    escalation_why: "the volume doubled again since the last notification",
    repeat: "still firing",
    repeat_why: "reminder: the alert is still firing",
    footer: "Sent by veilleur, e-reputation monitoring.",
};

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        one.to_string()
    } else {
        many.to_string()
    }
}

pub(super) fn duration(secs: u64) -> String {
    let unit = |n: u64, one: &str| format!("{n} {}", plural(n, one, &format!("{one}s")));
    if secs >= 86_400 && secs.is_multiple_of(86_400) {
        return unit(secs / 86_400, "day");
    }
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    match (h, m) {
        (0, m) => unit(m.max(1), "minute"),
        (h, 0) => unit(h, "hour"),
        (h, m) => format!("{} {}", unit(h, "hour"), unit(m, "minute")),
    }
}

fn noun(f: &Facts<'_>) -> String {
    let n = f.observed;
    match f.kind {
        "keyword" => format!("{} with the crisis words", plural(n, "mention", "mentions")),
        "influencer" => format!("{} by high-reach authors", plural(n, "mention", "mentions")),
        _ => plural(n, "mention", "mentions"),
    }
}

fn spike(kind: &str) -> bool {
    matches!(kind, "volume_spike" | "negative_surge")
}

fn comparison(l: &Locale, f: &Facts<'_>, at_this_time: bool) -> Option<String> {
    if !spike(f.kind) {
        return None;
    }
    let when = if at_this_time { " at this time" } else { "" };
    Some(match f.factor {
        None => "no history to compare with yet".to_string(),
        Some(k) if k < 1.1 => format!("about as many as usual{when}"),
        Some(k) => format!("{} times more than usual{when}", l.times(k)),
    })
}

pub(super) fn sentence(l: &Locale, f: &Facts<'_>) -> String {
    let mut s = format!("{} {}{}", l.int(f.observed), noun(f), span(l, f));
    if let Some(c) = comparison(l, f, true) {
        s.push_str(", ");
        s.push_str(&c);
    }
    s.push_str(&format!(", {} negative", l.percent(f.negative_share)));
    if let Some(u) = f.negative_usual {
        s.push_str(&format!(" (usually {})", l.percent(u)));
    }
    s
}

pub(super) fn headline(l: &Locale, f: &Facts<'_>) -> String {
    let mut s = format!("{} {}{}", l.int(f.observed), noun(f), span(l, f));
    if let Some(c) = comparison(l, f, false) {
        s.push_str(", ");
        s.push_str(&c);
    }
    s.push_str(&format!(", {} negative", l.percent(f.negative_share)));
    s
}

pub(super) fn back_to_normal(l: &Locale, f: &Facts<'_>) -> String {
    format!(
        "back to normal, {} {}{}",
        l.int(f.observed),
        noun(f),
        span(l, f)
    )
}

pub(super) fn kind(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "volume_spike" => "volume spike",
        "negative_surge" => "negative surge",
        "keyword" => "crisis words",
        "influencer" => "influential author",
        _ => return None,
    })
}

pub(super) fn severity(s: &str) -> Option<&'static str> {
    Some(match s {
        "critical" => "CRITICAL",
        "warning" => "WARNING",
        "info" => "INFO",
        _ => return None,
    })
}

/// ` in 1 h`, or nothing for events that do not carry their window.
fn span(l: &Locale, f: &Facts<'_>) -> String {
    if f.window_secs == 0 {
        String::new()
    } else {
        format!(" in {}", l.duration(f.window_secs))
    }
}

pub(super) const DIGEST: DigestLabels = DigestLabels {
    mentions: "Mentions",
    sentiment: "Sentiment",
    share_of_voice: "Share of voice",
    top_sources: "Top sources",
    top_authors: "Top authors by reach",
    alerts: "Alerts",
    no_alert: "none",
    silenced: "silenced",
    chart_alt: "Mentions over the period; the grey band is the level of the period before",
};

pub(super) fn digest_subject(l: &Locale, d: &DigestFacts) -> String {
    format!(
        "digest {} → {}: {} {}, {} {}",
        l.date(d.start),
        l.date(d.end),
        l.int(d.mentions),
        plural(d.mentions, "mention", "mentions"),
        l.int(d.alerts),
        plural(d.alerts, "alert", "alerts")
    )
}

pub(super) fn digest_heading(l: &Locale, d: &DigestFacts) -> String {
    format!(
        "Digest from {} to {} ({}), compared with the period before",
        l.datetime(d.start),
        l.datetime(d.end),
        l.tz_name()
    )
}

pub(super) fn volume(l: &Locale, now: u64, before: u64) -> String {
    if before == 0 {
        return format!("{} (none the period before)", l.int(now));
    }
    let trend = (now as f64 - before as f64) / before as f64;
    format!(
        "{} ({} vs {})",
        l.int(now),
        l.signed_percent(trend),
        l.int(before)
    )
}

pub(super) fn split(l: &Locale, s: &Split, change: Option<f64>) -> Vec<String> {
    let t = s.total().max(1) as f64;
    let change = change.map_or(String::new(), |c| format!(" ({} pts)", l.signed(c * 100.0)));
    vec![
        format!("{} negative{change}", l.percent(s.negative as f64 / t)),
        format!("{} neutral", l.percent(s.neutral as f64 / t)),
        format!("{} positive", l.percent(s.positive as f64 / t)),
    ]
}

pub(super) fn share(l: &Locale, now: f64, before: Option<f64>) -> String {
    match before {
        Some(b) => format!("{} (before: {})", l.percent(now), l.percent(b)),
        None => l.percent(now),
    }
}

pub(super) fn author(l: &Locale, name: &str, reach: u64, mentions: u64) -> String {
    format!(
        "{name} ({} {}, {} {})",
        l.int(reach),
        plural(reach, "follower", "followers"),
        l.int(mentions),
        plural(mentions, "mention", "mentions")
    )
}
