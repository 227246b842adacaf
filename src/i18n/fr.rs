//! French: labels, names of days and months, and the grammar of the
//! sentences (plurals, word order, « d'habitude »). Typography (narrow
//! no-break spaces, decimal comma) is applied by the parent module's
//! formatters and written into the labels here.

use super::{DigestFacts, DigestLabels, Facts, Labels, Locale, NNBSP, Split};

pub(super) const WEEKDAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];

pub(super) const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

pub(super) const LABELS: Labels = Labels {
    tag: "[veilleur]",
    firing: "ALERTE",
    resolved: "TERMINÉE",
    watch: "Veille",
    rule: "Règle",
    kind: "Type",
    severity: "Gravité",
    when: "Quand",
    window: "Fenêtre",
    observed: "Mentions",
    expected: "Attendues",
    factor: "Facteur",
    negative: "Négatives",
    negative_usual: "d'habitude",
    no_history: "pas encore d'historique",
    probability: "Probabilité",
    probability_why: "d'un tel volume ou plus au niveau habituel",
    stage: "Étape",
    emerging: "Mots nouveaux",
    top_terms: "Mots fréquents",
    top_posts: "Publications principales",
    sources: "Par source",
    related: "Alertes liées",
    details: "Détails",
    links: "Liens",
    link_watch: "Page de la veille",
    link_mentions: "Toutes les mentions de la fenêtre",
    link_chart: "Graphique",
    chart_alt: "Mentions par heure ces derniers jours\u{202F}; la fenêtre de l'alerte est grisée, le niveau habituel est la bande grise",
    reach: "audience",
    by: "par",
    untitled: "(sans titre)",
    unknown_author: "auteur inconnu",
    negative_post: "négatif",
    neutral_post: "neutre",
    positive_post: "positif",
    early_warning: "alerte précoce",
    early_warning_why: "le volume accélère, le seuil n'est pas encore franchi",
    escalation: "aggravation",
    escalation_why: "le volume a encore doublé depuis la dernière notification",
    repeat: "toujours en cours",
    repeat_why: "rappel\u{202F}: l'alerte est toujours en cours",
    footer: "Envoyé par veilleur, veille e-réputation.",
};

fn plural(n: u64, one: &str, many: &str) -> String {
    // French: 0 and 1 take the singular.
    if n <= 1 {
        one.to_string()
    } else {
        many.to_string()
    }
}

pub(super) fn duration(secs: u64) -> String {
    if secs >= 86_400 && secs.is_multiple_of(86_400) {
        let d = secs / 86_400;
        return format!("{d}{NNBSP}{}", plural(d, "jour", "jours"));
    }
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    match (h, m) {
        (0, m) => format!("{}{NNBSP}min", m.max(1)),
        (h, 0) => format!("{h}{NNBSP}h"),
        (h, m) => format!("{h}{NNBSP}h{NNBSP}{m:02}"),
    }
}

fn noun(f: &Facts<'_>) -> String {
    let n = f.observed;
    match f.kind {
        "keyword" => format!(
            "{} avec les mots de crise",
            plural(n, "mention", "mentions")
        ),
        "influencer" => format!("{} d'auteurs influents", plural(n, "mention", "mentions")),
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
    let when = if at_this_time { " à cette heure" } else { "" };
    Some(match f.factor {
        None => "sans historique pour comparer".to_string(),
        Some(k) if k < 1.1 => format!("autant que d'habitude{when}"),
        Some(k) => format!("{} fois plus que d'habitude{when}", l.times(k)),
    })
}

pub(super) fn sentence(l: &Locale, f: &Facts<'_>) -> String {
    let mut s = format!("{} {}{}", l.int(f.observed), noun(f), span(l, f));
    if let Some(c) = comparison(l, f, true) {
        s.push_str(", ");
        s.push_str(&c);
    }
    s.push_str(&format!(
        ", {} {}",
        l.percent(f.negative_share),
        plural(f.observed, "négative", "négatives")
    ));
    if let Some(u) = f.negative_usual {
        s.push_str(&format!(" (d'habitude {})", l.percent(u)));
    }
    s
}

pub(super) fn headline(l: &Locale, f: &Facts<'_>) -> String {
    let mut s = format!("{} {}{}", l.int(f.observed), noun(f), span(l, f));
    if let Some(c) = comparison(l, f, false) {
        s.push_str(", ");
        s.push_str(&c);
    }
    s.push_str(&format!(
        ", {} {}",
        l.percent(f.negative_share),
        plural(f.observed, "négative", "négatives")
    ));
    s
}

pub(super) fn back_to_normal(l: &Locale, f: &Facts<'_>) -> String {
    format!(
        "retour à la normale, {} {}{}",
        l.int(f.observed),
        noun(f),
        span(l, f)
    )
}

pub(super) fn kind(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "volume_spike" => "pic de volume",
        "negative_surge" => "vague négative",
        "keyword" => "mots de crise",
        "influencer" => "auteur influent",
        _ => return None,
    })
}

pub(super) fn severity(s: &str) -> Option<&'static str> {
    Some(match s {
        "critical" => "CRITIQUE",
        "warning" => "AVERTISSEMENT",
        "info" => "INFO",
        _ => return None,
    })
}

/// ` en 1 h`, or nothing for events that do not carry their window.
fn span(l: &Locale, f: &Facts<'_>) -> String {
    if f.window_secs == 0 {
        String::new()
    } else {
        format!(" en {}", l.duration(f.window_secs))
    }
}

pub(super) const DIGEST: DigestLabels = DigestLabels {
    mentions: "Mentions",
    sentiment: "Tonalité",
    share_of_voice: "Part de voix",
    top_sources: "Sources principales",
    top_authors: "Auteurs les plus suivis",
    alerts: "Alertes",
    no_alert: "aucune",
    silenced: "en sourdine",
    chart_alt: "Mentions sur la période\u{202F}; la bande grise est le niveau de la période précédente",
};

pub(super) fn digest_subject(l: &Locale, d: &DigestFacts) -> String {
    format!(
        "synthèse du {} au {}{NNBSP}: {} {}, {} {}",
        l.date(d.start),
        l.date(d.end),
        l.int(d.mentions),
        plural(d.mentions, "mention", "mentions"),
        l.int(d.alerts),
        plural(d.alerts, "alerte", "alertes")
    )
}

pub(super) fn digest_heading(l: &Locale, d: &DigestFacts) -> String {
    format!(
        "Synthèse du {} au {} ({}), comparée à la période précédente",
        l.datetime(d.start),
        l.datetime(d.end),
        l.tz_name()
    )
}

pub(super) fn volume(l: &Locale, now: u64, before: u64) -> String {
    if before == 0 {
        return format!("{} (aucune la période précédente)", l.int(now));
    }
    let trend = (now as f64 - before as f64) / before as f64;
    format!(
        "{} ({} par rapport à {})",
        l.int(now),
        l.signed_percent(trend),
        l.int(before)
    )
}

pub(super) fn split(l: &Locale, s: &Split, change: Option<f64>) -> Vec<String> {
    let t = s.total().max(1) as f64;
    let change = change.map_or(String::new(), |c| {
        let pts = c * 100.0;
        let n = pts.abs().round() as u64;
        format!(" ({} {})", l.signed(pts), plural(n, "point", "points"))
    });
    let word = |n: u64, one: &str, many: &str| plural(n, one, many);
    vec![
        format!(
            "{} {}{change}",
            l.percent(s.negative as f64 / t),
            word(s.negative, "négative", "négatives")
        ),
        format!(
            "{} {}",
            l.percent(s.neutral as f64 / t),
            word(s.neutral, "neutre", "neutres")
        ),
        format!(
            "{} {}",
            l.percent(s.positive as f64 / t),
            word(s.positive, "positive", "positives")
        ),
    ]
}

pub(super) fn share(l: &Locale, now: f64, before: Option<f64>) -> String {
    match before {
        Some(b) => format!("{} (avant{NNBSP}: {})", l.percent(now), l.percent(b)),
        None => l.percent(now),
    }
}

pub(super) fn author(l: &Locale, name: &str, reach: u64, mentions: u64) -> String {
    format!(
        "{name} ({} {}, {} {})",
        l.int(reach),
        plural(reach, "abonné", "abonnés"),
        l.int(mentions),
        plural(mentions, "mention", "mentions")
    )
}
