//! Every word and number a person reads in a notification, in one place per
//! language: [`en`] and [`fr`] hold the labels and the grammar of the
//! sentences; this module holds the [`Lang`] and [`Locale`] types and the
//! formatting of numbers, percentages, durations and local times.
//!
//! Owns: wording and typography. It does not lay out a message (that is
//! `notify::render`) and does not escape anything (that is
//! `notify::sanitize`): values come out as plain text.
//!
//! French typography follows the Imprimerie nationale rules as mail clients
//! render them: a narrow no-break space (U+202F) before `: ; ! ?` and `%`,
//! inside « » quotes and between groups of thousands (`1 234`), a decimal
//! comma (`5,2`), times as `14 h 05`. English uses `1,234`, `5.2`,
//! `2:05 PM`.

pub mod en;
pub mod fr;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

use crate::digest::Split;

/// Narrow no-break space: French thousands, before `%` and high punctuation.
pub const NNBSP: char = '\u{202F}';

/// A language notifications are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    /// The names a config may give.
    pub const NAMES: &'static [&'static str] = &["en", "fr"];

    pub fn from_name(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// This language's words.
    pub fn labels(self) -> &'static Labels {
        match self {
            Lang::En => &en::LABELS,
            Lang::Fr => &fr::LABELS,
        }
    }

    /// This language's words for digests.
    pub fn digest_labels(self) -> &'static DigestLabels {
        match self {
            Lang::En => &en::DIGEST,
            Lang::Fr => &fr::DIGEST,
        }
    }
}

/// A language and the time zone local times are shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locale {
    pub lang: Lang,
    pub tz: Tz,
}

impl Default for Locale {
    fn default() -> Self {
        Locale {
            lang: Lang::En,
            tz: Tz::UTC,
        }
    }
}

/// The fixed words of one language. Sentences whose grammar differs are
/// functions in [`en`] and [`fr`], reached through [`Locale`].
#[derive(Debug)]
pub struct Labels {
    /// Prefix of every email subject.
    pub tag: &'static str,
    pub firing: &'static str,
    pub resolved: &'static str,
    pub watch: &'static str,
    pub rule: &'static str,
    pub kind: &'static str,
    pub severity: &'static str,
    pub when: &'static str,
    pub window: &'static str,
    pub observed: &'static str,
    pub expected: &'static str,
    pub factor: &'static str,
    pub negative: &'static str,
    pub negative_usual: &'static str,
    pub no_history: &'static str,
    pub probability: &'static str,
    pub probability_why: &'static str,
    pub stage: &'static str,
    pub emerging: &'static str,
    pub top_terms: &'static str,
    pub top_posts: &'static str,
    pub sources: &'static str,
    pub related: &'static str,
    pub details: &'static str,
    pub links: &'static str,
    pub link_watch: &'static str,
    pub link_mentions: &'static str,
    pub link_chart: &'static str,
    pub chart_alt: &'static str,
    pub reach: &'static str,
    pub by: &'static str,
    pub untitled: &'static str,
    pub unknown_author: &'static str,
    pub negative_post: &'static str,
    pub neutral_post: &'static str,
    pub positive_post: &'static str,
    pub early_warning: &'static str,
    pub early_warning_why: &'static str,
    pub escalation: &'static str,
    pub escalation_why: &'static str,
    pub repeat: &'static str,
    pub repeat_why: &'static str,
    pub footer: &'static str,
}

/// The words of a digest (beside the [`Labels`] it shares with alerts).
#[derive(Debug)]
pub struct DigestLabels {
    pub mentions: &'static str,
    pub sentiment: &'static str,
    pub share_of_voice: &'static str,
    pub top_sources: &'static str,
    pub top_authors: &'static str,
    pub alerts: &'static str,
    /// Said when a watch had no alert in the period.
    pub no_alert: &'static str,
    /// Said of an alert a silence kept back.
    pub silenced: &'static str,
    pub chart_alt: &'static str,
}

/// What the sentences of a digest need about its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestFacts {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Mentions of every watch in the period.
    pub mentions: u64,
    /// Alerts of every watch in the period.
    pub alerts: u64,
}

/// What the sentences need from an alert, already reduced to numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Facts<'a> {
    pub kind: &'a str,
    pub observed: u64,
    pub window_secs: u64,
    /// `observed / expected` when an expectation exists.
    pub factor: Option<f64>,
    pub negative_share: f64,
    /// The usual negative share, only when there is history to speak of.
    pub negative_usual: Option<f64>,
}

impl Locale {
    pub fn labels(&self) -> &'static Labels {
        self.lang.labels()
    }

    /// An integer with groups of thousands: `1 234` or `1,234`.
    pub fn int(&self, n: u64) -> String {
        let digits = n.to_string();
        let sep = match self.lang {
            Lang::En => ",".to_string(),
            Lang::Fr => NNBSP.to_string(),
        };
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(&sep);
            }
            out.push(c);
        }
        out
    }

    /// A number with `digits` decimals (`5,2` / `5.2`), integers grouped.
    pub fn decimal(&self, x: f64, digits: usize) -> String {
        if !x.is_finite() {
            return "0".into();
        }
        let s = format!("{:.*}", digits, x.abs());
        let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
        let mut out = String::new();
        if x < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
            out.push('-');
        }
        out.push_str(&self.int(int.parse().unwrap_or(0)));
        if !frac.is_empty() {
            out.push(match self.lang {
                Lang::En => '.',
                Lang::Fr => ',',
            });
            out.push_str(frac);
        }
        out
    }

    /// A share in [0, 1] as a whole percentage: `63 %` / `63%`.
    pub fn percent(&self, share: f64) -> String {
        let p = if share.is_finite() {
            (share * 100.0).clamp(0.0, 100.0).round() as u64
        } else {
            0
        };
        match self.lang {
            Lang::En => format!("{p}%"),
            Lang::Fr => format!("{p}{NNBSP}%"),
        }
    }

    /// A whole number with its sign: `+23`, `-5`, `0`.
    pub fn signed(&self, x: f64) -> String {
        let r = if x.is_finite() { x.round() } else { 0.0 };
        if r > 0.0 {
            format!("+{}", self.decimal(r, 0))
        } else {
            self.decimal(r, 0)
        }
    }

    /// A change as a signed percentage: `+50 %` / `+50%`, `-50%`.
    pub fn signed_percent(&self, change: f64) -> String {
        let p = self.signed(change * 100.0);
        match self.lang {
            Lang::En => format!("{p}%"),
            Lang::Fr => format!("{p}{NNBSP}%"),
        }
    }

    /// How many times more: `6` from 6.2, `1.5` below 3, grouped above.
    pub fn times(&self, f: f64) -> String {
        if f >= 3.0 {
            self.decimal(f.round(), 0)
        } else {
            self.decimal(f, 1)
        }
    }

    /// `label:` with the colon this language writes (`Veille :`).
    pub fn colon(&self, label: &str) -> String {
        match self.lang {
            Lang::En => format!("{label}:"),
            Lang::Fr => format!("{label}{NNBSP}:"),
        }
    }

    /// Text in this language's quotes: `« texte »` / `“text”`.
    pub fn quote(&self, s: &str) -> String {
        match self.lang {
            Lang::En => format!("\u{201C}{s}\u{201D}"),
            Lang::Fr => format!("«{NNBSP}{s}{NNBSP}»"),
        }
    }

    /// A window length: `1 h`, `15 min`, `2 jours` / `1 hour`, `15 minutes`.
    pub fn duration(&self, secs: u64) -> String {
        match self.lang {
            Lang::En => en::duration(secs),
            Lang::Fr => fr::duration(secs),
        }
    }

    /// A local time: `mardi 3 mars, 14 h 05` / `Tuesday 3 March, 2:05 PM`.
    pub fn datetime(&self, at: DateTime<Utc>) -> String {
        let t = at.with_timezone(&self.tz);
        let wd = t.weekday().num_days_from_monday() as usize;
        let month = t.month0() as usize;
        match self.lang {
            Lang::En => {
                let (pm, h12) = t.hour12();
                format!(
                    "{} {} {}, {}:{:02} {}",
                    en::WEEKDAYS[wd],
                    t.day(),
                    en::MONTHS[month],
                    h12,
                    t.minute(),
                    if pm { "PM" } else { "AM" }
                )
            }
            Lang::Fr => format!(
                "{} {} {}, {}{NNBSP}h{NNBSP}{:02}",
                fr::WEEKDAYS[wd],
                // « le 1er mars », then « le 2 mars ».
                if t.day() == 1 {
                    "1er".to_string()
                } else {
                    t.day().to_string()
                },
                fr::MONTHS[month],
                t.hour(),
                t.minute()
            ),
        }
    }

    /// A local date: `lundi 2 mars` / `Monday 2 March`.
    pub fn date(&self, at: DateTime<Utc>) -> String {
        let t = at.with_timezone(&self.tz);
        let wd = t.weekday().num_days_from_monday() as usize;
        let month = t.month0() as usize;
        match self.lang {
            Lang::En => format!("{} {} {}", en::WEEKDAYS[wd], t.day(), en::MONTHS[month]),
            Lang::Fr => format!(
                "{} {} {}",
                fr::WEEKDAYS[wd],
                if t.day() == 1 {
                    "1er".to_string()
                } else {
                    t.day().to_string()
                },
                fr::MONTHS[month]
            ),
        }
    }

    /// The time zone, as a reader needs it after a time: `Europe/Paris`.
    pub fn tz_name(&self) -> &'static str {
        self.tz.name()
    }

    /// What is happening, in one sentence.
    pub fn sentence(&self, f: &Facts<'_>) -> String {
        match self.lang {
            Lang::En => en::sentence(self, f),
            Lang::Fr => fr::sentence(self, f),
        }
    }

    /// The short form for a subject line.
    pub fn headline(&self, f: &Facts<'_>) -> String {
        match self.lang {
            Lang::En => en::headline(self, f),
            Lang::Fr => fr::headline(self, f),
        }
    }

    /// A resolved alert, in one sentence.
    pub fn back_to_normal(&self, f: &Facts<'_>) -> String {
        match self.lang {
            Lang::En => en::back_to_normal(self, f),
            Lang::Fr => fr::back_to_normal(self, f),
        }
    }

    pub fn digest_labels(&self) -> &'static DigestLabels {
        self.lang.digest_labels()
    }

    /// A digest's subject line (without the tag).
    pub fn digest_subject(&self, d: &DigestFacts) -> String {
        match self.lang {
            Lang::En => en::digest_subject(self, d),
            Lang::Fr => fr::digest_subject(self, d),
        }
    }

    /// The first line of a digest: its period in local time.
    pub fn digest_heading(&self, d: &DigestFacts) -> String {
        match self.lang {
            Lang::En => en::digest_heading(self, d),
            Lang::Fr => fr::digest_heading(self, d),
        }
    }

    /// A volume and its trend against the period before.
    pub fn volume(&self, now: u64, before: u64) -> String {
        match self.lang {
            Lang::En => en::volume(self, now, before),
            Lang::Fr => fr::volume(self, now, before),
        }
    }

    /// A sentiment split as (negative with its change in points, neutral,
    /// positive).
    pub fn split(&self, s: &Split, negative_change: Option<f64>) -> Vec<String> {
        match self.lang {
            Lang::En => en::split(self, s, negative_change),
            Lang::Fr => fr::split(self, s, negative_change),
        }
    }

    /// A share of voice and the one before.
    pub fn share(&self, now: f64, before: Option<f64>) -> String {
        match self.lang {
            Lang::En => en::share(self, now, before),
            Lang::Fr => fr::share(self, now, before),
        }
    }

    /// An author with their reach and mentions (`name` as given: the
    /// caller escapes the result).
    pub fn author(&self, name: &str, reach: u64, mentions: u64) -> String {
        match self.lang {
            Lang::En => en::author(self, name, reach, mentions),
            Lang::Fr => fr::author(self, name, reach, mentions),
        }
    }

    /// The name of an alert kind (`volume_spike` → `volume spike`).
    pub fn kind(&self, kind: &str) -> String {
        match self.lang {
            Lang::En => en::kind(kind),
            Lang::Fr => fr::kind(kind),
        }
        .map_or_else(|| kind.replace('_', " "), str::to_string)
    }

    /// A severity as a headline word (`critical` → `CRITIQUE`).
    pub fn severity(&self, severity: &str) -> String {
        match self.lang {
            Lang::En => en::severity(severity),
            Lang::Fr => fr::severity(severity),
        }
        .map_or_else(|| severity.to_uppercase(), str::to_string)
    }

    /// A mention's sentiment as a word.
    pub fn sentiment(&self, s: f32) -> &'static str {
        let l = self.labels();
        if s <= -0.25 {
            l.negative_post
        } else if s >= 0.25 {
            l.positive_post
        } else {
            l.neutral_post
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fr() -> Locale {
        Locale {
            lang: Lang::Fr,
            tz: chrono_tz::Europe::Paris,
        }
    }

    fn en() -> Locale {
        Locale {
            lang: Lang::En,
            tz: chrono_tz::Europe::London,
        }
    }

    #[test]
    fn numbers() {
        for (n, f, e) in [
            (0, "0", "0"),
            (999, "999", "999"),
            (1234, "1\u{202F}234", "1,234"),
            (1_234_567, "1\u{202F}234\u{202F}567", "1,234,567"),
        ] {
            assert_eq!(fr().int(n), f);
            assert_eq!(en().int(n), e);
        }
        assert_eq!(fr().decimal(5.25, 1), "5,2");
        assert_eq!(en().decimal(1234.56, 1), "1,234.6");
        assert_eq!(fr().percent(0.634), "63\u{202F}%");
        assert_eq!(en().percent(0.634), "63%");
        assert_eq!(fr().times(6.2), "6");
        assert_eq!(fr().times(1.54), "1,5");
        assert_eq!(fr().colon("Veille"), "Veille\u{202F}:");
        assert_eq!(fr().quote("panne"), "«\u{202F}panne\u{202F}»");
    }

    #[test]
    fn local_times() {
        // 2026-03-03 13:05 UTC is 14:05 in Paris (CET), a Tuesday.
        let at: DateTime<Utc> = "2026-03-03T13:05:00Z".parse().unwrap();
        assert_eq!(fr().datetime(at), "mardi 3 mars, 14\u{202F}h\u{202F}05");
        let utc = Locale {
            lang: Lang::En,
            tz: Tz::UTC,
        };
        assert_eq!(utc.datetime(at), "Tuesday 3 March, 1:05 PM");
        // Summer time: 12:00 UTC is 14:00 in Paris.
        let summer: DateTime<Utc> = "2026-07-14T12:00:00Z".parse().unwrap();
        assert_eq!(
            fr().datetime(summer),
            "mardi 14 juillet, 14\u{202F}h\u{202F}00"
        );
        assert_eq!(en().datetime(summer), "Tuesday 14 July, 1:00 PM");
        let first: DateTime<Utc> = "2026-01-01T10:00:00Z".parse().unwrap();
        assert_eq!(
            fr().datetime(first),
            "jeudi 1er janvier, 11\u{202F}h\u{202F}00"
        );
    }

    #[test]
    fn digest_words() {
        let f = DigestFacts {
            start: "2026-02-23T08:30:00Z".parse().unwrap(),
            end: "2026-03-02T08:30:00Z".parse().unwrap(),
            mentions: 1234,
            alerts: 1,
        };
        let n = NNBSP;
        assert_eq!(
            fr().digest_subject(&f),
            format!("synthèse du lundi 23 février au lundi 2 mars{n}: 1{n}234 mentions, 1 alerte")
        );
        assert_eq!(
            en().digest_subject(&f),
            "digest Monday 23 February → Monday 2 March: 1,234 mentions, 1 alert"
        );
        assert_eq!(
            fr().digest_heading(&f),
            format!(
                "Synthèse du lundi 23 février, 9{n}h{n}30 au lundi 2 mars, 9{n}h{n}30 (Europe/Paris), comparée à la période précédente"
            )
        );
        assert_eq!(
            fr().volume(30, 20),
            format!("30 (+50{n}% par rapport à 20)")
        );
        assert_eq!(en().volume(10, 20), "10 (-50% vs 20)");
        assert_eq!(en().volume(3, 0), "3 (none the period before)");
        let s = Split {
            negative: 10,
            neutral: 15,
            positive: 5,
        };
        assert_eq!(
            fr().split(&s, Some(0.233)),
            [
                format!("33{n}% négatives (+23 points)"),
                format!("50{n}% neutres"),
                format!("17{n}% positives")
            ]
        );
        assert_eq!(en().split(&s, None)[0], "33% negative");
        assert_eq!(
            fr().share(0.75, Some(0.5)),
            format!("75{n}% (avant{n}: 50{n}%)")
        );
        assert_eq!(
            fr().author("big", 50_000, 1),
            format!("big (50{n}000 abonnés, 1 mention)")
        );
        assert_eq!(
            en().author("big", 50_000, 3),
            "big (50,000 followers, 3 mentions)"
        );
        assert_eq!(en().signed(-0.2), "0");
    }

    #[test]
    fn durations() {
        for (s, f, e) in [
            (3600, "1\u{202F}h", "1 hour"),
            (900, "15\u{202F}min", "15 minutes"),
            (5400, "1\u{202F}h\u{202F}30", "1 hour 30 minutes"),
            (2 * 86_400, "2\u{202F}jours", "2 days"),
            (86_400, "1\u{202F}jour", "1 day"),
            (60, "1\u{202F}min", "1 minute"),
        ] {
            assert_eq!(fr().duration(s), f, "{s}");
            assert_eq!(en().duration(s), e, "{s}");
        }
    }

    #[test]
    fn sentences() {
        let f = Facts {
            kind: "volume_spike",
            observed: 154,
            window_secs: 3600,
            factor: Some(6.1),
            negative_share: 0.63,
            negative_usual: Some(0.12),
        };
        assert_eq!(
            fr().sentence(&f),
            "154 mentions en 1\u{202F}h, 6 fois plus que d'habitude à cette heure, 63\u{202F}% négatives (d'habitude 12\u{202F}%)"
        );
        assert_eq!(
            en().sentence(&f),
            "154 mentions in 1 hour, 6 times more than usual at this time, 63% negative (usually 12%)"
        );
        let none = Facts {
            factor: None,
            negative_usual: None,
            observed: 1,
            ..f
        };
        assert_eq!(
            fr().sentence(&none),
            "1 mention en 1\u{202F}h, sans historique pour comparer, 63\u{202F}% négative"
        );
        assert_eq!(
            en().sentence(&none),
            "1 mention in 1 hour, no history to compare with yet, 63% negative"
        );
    }
}
