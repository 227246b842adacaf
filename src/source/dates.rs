//! Dates as forums print them, in French, English and German: absolute
//! (`le 3 mars 2025`, `Sun Mar 02, 2025 8:15 pm`, `21.01.2009, 05:42`,
//! `3. März 2025`, ISO 8601, RFC 2822, unix seconds) and relative to an
//! injected `now` (`hier à 14:05`, `Yesterday at 2:05 PM`, `Heute, 10:15`,
//! `il y a 3 heures`, `3 hours ago`, `vor 2 Tagen`, `Monday at 9:12 AM`),
//! read in the forum's time zone.
//!
//! Owns [`parse_forum_date`] and its word lists. Pure: no clock, no I/O.
//!
//! Deliberately not here: finding the date in a page (`html`), falling back
//! to the fetch time and capping at it (the caller, as the feed path does).
//!
//! Rules, for the ambiguous cases: a numeric date `a/b/c` is day first
//! (`21.01.2009`, `03-04-2025`) unless the day cannot be (`03-21-2025`) or
//! a 12-hour clock says the forum is American (`03-04-2025, 08:15 PM`); a
//! local time that does not exist (the spring-forward gap) is read with the
//! offset in force before the change, and one that exists twice (the
//! autumn fall-back) as the first of the two; a date without a year is the
//! last such date not after `now`; a day word or weekday without a time is
//! that day at midnight.
//!
//! Invariants: never panics; anything it cannot read is `None`.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use regex::Regex;
use std::sync::LazyLock;

/// Longer strings are not dates (and are not scanned).
const MAX_LEN: usize = 200;

/// Reads `text`, a date as a forum prints it, in time zone `tz`, relative to
/// `now` when it is relative. `None` when it cannot be read.
pub fn parse_forum_date(text: &str, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let raw = text.trim();
    if raw.is_empty() || raw.len() > MAX_LEN {
        return None;
    }
    if let Some(t) = machine(raw, tz) {
        return Some(t);
    }
    let s = normalise(raw);
    if let Some(t) = relative(&s, now) {
        return Some(t);
    }
    human(&s, tz, now)
}

/// Reads `text` with a chrono format string (`%d/%m/%Y %H:%M`), in `tz`
/// unless the format carries an offset; `None` when it does not fit.
pub fn parse_with_format(text: &str, format: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.len() > MAX_LEN {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_str(text, format) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
        return local(tz, t);
    }
    NaiveDate::parse_from_str(text, format)
        .ok()
        .and_then(|d| local(tz, d.and_time(NaiveTime::MIN)))
}

/// `naive` read in `tz`: the earlier of two readings at the autumn change,
/// the offset before the change in the spring gap.
fn local(tz: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => {
            // In the gap: the wall clock an hour earlier exists, with the
            // old offset; add the hour back in UTC.
            let before = naive.checked_sub_signed(Duration::hours(1))?;
            let t = tz.from_local_datetime(&before).earliest()?;
            Some(t.with_timezone(&Utc) + Duration::hours(1))
        }
    }
}

/// Only the machine forms: ISO 8601 / RFC 3339 (with or without offset,
/// `T` or space; without one, in `tz`), RFC 2822, unix seconds or
/// milliseconds. What feeds carry: no words, nothing relative.
pub fn parse_machine_date(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.len() > MAX_LEN {
        return None;
    }
    machine(s, tz)
}

fn machine(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        return match s.len() {
            9 | 10 => DateTime::from_timestamp(n, 0),
            12 | 13 => DateTime::from_timestamp_millis(n),
            _ => None,
        };
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    let with_offset = [
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%z",
    ];
    for f in with_offset {
        if let Ok(t) = DateTime::<FixedOffset>::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ];
    for f in naive {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return local(tz, t);
        }
    }
    None
}

/// Lowercase, one space between words, typographic apostrophes and
/// non-breaking spaces made plain.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = match c {
            '\u{2019}' | '\u{2018}' | '`' | '´' => '\'',
            c if c.is_whitespace() => ' ',
            c => c,
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.extend(c.to_lowercase());
    }
    out.trim_end().to_string()
}

static RELATIVE: LazyLock<[Regex; 2]> = LazyLock::new(|| {
    let number = r"(\d+|an?|one|une?|einer|einem|einen|eine|ein)";
    [
        // il y a 3 heures · vor 3 Stunden · posted 3 hours ago
        Regex::new(&format!(r"(?:il y a|vor)\s+{number}\s*([a-zäéû]+)")),
        Regex::new(&format!(r"{number}\s*([a-zäéû]+)\.?\s+ago\b")),
    ]
    .map(|r| r.unwrap_or_else(|e| unreachable!("a fixed pattern compiles: {e}")))
});

/// `il y a 3 heures`, `3 hours ago`, `vor 2 Tagen`, `just now`…
fn relative(s: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    const NOW: &[&str] = &[
        "just now",
        "à l'instant",
        "a l'instant",
        "gerade eben",
        "soeben",
        "maintenant",
        "now",
        "jetzt",
    ];
    let ends_with_word = |w: &str| {
        s.strip_suffix(w)
            .is_some_and(|before| before.is_empty() || before.ends_with(' '))
    };
    if NOW.iter().any(|w| ends_with_word(w)) {
        return Some(now);
    }
    let caps = RELATIVE.iter().find_map(|r| r.captures(s))?;
    let n: i64 = match caps.get(1)?.as_str() {
        digits if digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse().ok()?,
        _ => 1,
    };
    let unit = caps.get(2)?.as_str();
    let seconds = unit_seconds(unit)?;
    let back = Duration::try_seconds(n.checked_mul(seconds)?)?;
    now.checked_sub_signed(back)
}

/// The length of a relative unit, in seconds.
fn unit_seconds(unit: &str) -> Option<i64> {
    const UNITS: &[(&[&str], i64)] = &[
        (
            &[
                "s", "sec", "secs", "second", "seconds", "seconde", "secondes", "sekunde",
                "sekunden",
            ],
            1,
        ),
        (
            &["m", "mn", "min", "mins", "minute", "minutes", "minuten"],
            60,
        ),
        (
            &[
                "h", "hr", "hrs", "hour", "hours", "heure", "heures", "std", "stunde", "stunden",
            ],
            3600,
        ),
        (
            &[
                "d", "day", "days", "j", "jour", "jours", "tag", "tage", "tagen",
            ],
            86_400,
        ),
        (
            &[
                "w", "wk", "wks", "week", "weeks", "sem", "semaine", "semaines", "woche", "wochen",
            ],
            7 * 86_400,
        ),
        (
            &[
                "mo", "month", "months", "mois", "monat", "monate", "monaten",
            ],
            30 * 86_400,
        ),
        (
            &[
                "y", "yr", "yrs", "year", "years", "an", "ans", "année", "années", "jahr", "jahre",
                "jahren",
            ],
            365 * 86_400,
        ),
    ];
    UNITS
        .iter()
        .find(|(names, _)| names.contains(&unit))
        .map(|(_, s)| *s)
}

static TIME: LazyLock<Regex> = LazyLock::new(|| {
    // 14:05 · 14:05:33 · 2:05 PM · 2:05pm · 14h05 · 14 h 05 · 2 pm · 14h
    Regex::new(
        r"(?x)
        \b(\d{1,2})
        (?: \s*(?::|h)\s*(\d{2})(?::(\d{2}))? )?
        \s*(a\.?m\.?|p\.?m\.?|h|uhr)?
        (?:\s|$|[,.)])",
    )
    .unwrap_or_else(|e| unreachable!("a fixed pattern compiles: {e}"))
});

static NUMERIC_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\d{1,4})([./-])(\d{1,2})([./-])(\d{2,4})\b")
        .unwrap_or_else(|e| unreachable!("a fixed pattern compiles: {e}"))
});

/// A time of day found in the text, and where it was.
struct Clock {
    time: NaiveTime,
    twelve_hour: bool,
    span: std::ops::Range<usize>,
}

/// The first time of day in `s`: hours and minutes (or hours with a 12-hour
/// suffix or `h`), not part of a numeric date.
fn find_time(s: &str) -> Option<Clock> {
    for caps in TIME.captures_iter(s) {
        let whole = caps.get(0)?;
        let hour: u32 = caps.get(1)?.as_str().parse().ok()?;
        let minute = caps.get(2).and_then(|m| m.as_str().parse::<u32>().ok());
        let second = caps.get(3).and_then(|m| m.as_str().parse::<u32>().ok());
        let suffix = caps.get(4).map(|m| m.as_str().replace('.', ""));
        // A bare number is a day or a year, not a time.
        if minute.is_none() && !matches!(suffix.as_deref(), Some("am" | "pm" | "h" | "uhr")) {
            continue;
        }
        // Part of a numeric date (`21.01.2009`) or followed by a date sign.
        let before = s[..whole.start()].chars().next_back();
        if matches!(before, Some('.' | '/' | '-')) {
            continue;
        }
        let (hour, twelve) = match suffix.as_deref() {
            Some("am") if (1..=12).contains(&hour) => (hour % 12, true),
            Some("pm") if (1..=12).contains(&hour) => (hour % 12 + 12, true),
            Some("am" | "pm") => continue,
            _ => (hour, false),
        };
        let Some(time) = NaiveTime::from_hms_opt(hour, minute.unwrap_or(0), second.unwrap_or(0))
        else {
            continue;
        };
        return Some(Clock {
            time,
            twelve_hour: twelve,
            span: whole.start()..whole.end(),
        });
    }
    None
}

/// Everything that is not relative: a day word, a numeric date, a date with
/// a month name, a weekday, or a time alone; with the time of day if any.
fn human(s: &str, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let today = now.with_timezone(&tz).date_naive();
    // A numeric date first, so its digits are not read as a time.
    let numeric = NUMERIC_DATE.captures(s).map(|c| {
        let span = c.get(0).map_or(0..0, |m| m.range());
        (c, span)
    });
    let rest: String = match &numeric {
        Some((_, span)) => format!("{} {}", &s[..span.start], &s[span.end..]),
        None => s.to_string(),
    };
    let clock = find_time(&rest);
    let words: String = match &clock {
        Some(c) => format!("{} {}", &rest[..c.span.start], &rest[c.span.end..]),
        None => rest.clone(),
    };
    let time = clock.as_ref().map_or(NaiveTime::MIN, |c| c.time);
    let twelve_hour = clock.as_ref().is_some_and(|c| c.twelve_hour);
    let tokens: Vec<&str> = words
        .split(|c: char| {
            c.is_whitespace()
                || matches!(c, ',' | ';' | '(' | ')' | '|' | '·' | '•' | '»' | '–' | '—')
        })
        .map(|t| t.trim_matches(|c: char| matches!(c, ':' | '-' | '.' | '\'' | '"')))
        .filter(|t| !t.is_empty())
        .collect();

    let date = if let Some((c, _)) = &numeric {
        numeric_date(c, twelve_hour)?
    } else if let Some(d) = day_word(&words, today) {
        d
    } else if let Some(d) = named_month_date(&tokens, today) {
        d
    } else if let Some(w) = tokens.iter().find_map(|t| weekday(t)) {
        // XenForo and others print the weekday for the last week: the
        // latest such day before today.
        let mut d = today;
        for _ in 0..7 {
            d = d.pred_opt()?;
            if d.weekday() == w {
                break;
            }
        }
        d
    } else if clock.is_some() && tokens.iter().all(|t| is_filler(t)) {
        // A time alone: today's, or yesterday's if that is still to come.
        let t = local(tz, today.and_time(time))?;
        return if t > now {
            local(tz, today.pred_opt()?.and_time(time))
        } else {
            Some(t)
        };
    } else {
        return None;
    };
    local(tz, date.and_time(time))
}

/// Words around a date that say nothing about it.
fn is_filler(t: &str) -> bool {
    const FILLER: &[&str] = &[
        "le",
        "à",
        "a",
        "at",
        "on",
        "um",
        "am",
        "posted",
        "posté",
        "publié",
        "par",
        "by",
        "de",
        "the",
        "utc",
        "gmt",
        "uhr",
        "h",
        "le:",
        "on:",
        "geschrieben",
        "écrit",
        "ecrit",
        "message",
        "post",
        "date",
    ];
    FILLER.contains(&t)
}

/// `aujourd'hui`, `hier`, `avant-hier`, `today`, `yesterday`, `heute`,
/// `gestern`, `vorgestern`.
fn day_word(s: &str, today: NaiveDate) -> Option<NaiveDate> {
    const WORDS: &[(&str, u64)] = &[
        ("avant-hier", 2),
        ("avant hier", 2),
        ("vorgestern", 2),
        ("aujourd'hui", 0),
        ("aujourd hui", 0),
        ("today", 0),
        ("heute", 0),
        ("yesterday", 1),
        ("gestern", 1),
        ("hier", 1),
    ];
    let (_, back) = WORDS.iter().find(|(w, _)| {
        s.match_indices(w).any(|(i, _)| {
            let before = s[..i].chars().next_back();
            let after = s[i + w.len()..].chars().next();
            !before.is_some_and(char::is_alphabetic) && !after.is_some_and(char::is_alphabetic)
        })
    })?;
    today.checked_sub_days(chrono::Days::new(*back))
}

/// `21.01.2009`, `03-04-2025`, `2025/03/04`, `21.01.09`: day first unless
/// it cannot be, or unless a 12-hour clock says the forum is American.
fn numeric_date(c: &regex::Captures<'_>, twelve_hour: bool) -> Option<NaiveDate> {
    let a = c.get(1)?.as_str();
    let b: u32 = c.get(3)?.as_str().parse().ok()?;
    let last = c.get(5)?.as_str();
    if c.get(2)?.as_str() != c.get(4)?.as_str() {
        return None;
    }
    if a.len() == 4 {
        let (y, d) = (a.parse().ok()?, last.parse().ok()?);
        return NaiveDate::from_ymd_opt(y, b, d);
    }
    let a: u32 = a.parse().ok()?;
    let y = year(last)?;
    let (day, month) = if a > 12 {
        (a, b)
    } else if b > 12 || twelve_hour {
        (b, a)
    } else {
        (a, b)
    };
    NaiveDate::from_ymd_opt(y, month, day)
}

/// A 4-digit year, or a 2-digit one in this century.
fn year(s: &str) -> Option<i32> {
    let y: i32 = s.parse().ok()?;
    match s.len() {
        2 => Some(2000 + y),
        4 => Some(y),
        _ => None,
    }
}

/// `3 mars 2025`, `Mar 3, 2025`, `March 3rd 2025`, `3. März 2025`,
/// `1er mars`: the last month name, the day number next to it (before it
/// first), a 4-digit year anywhere, or the last such date not after today.
fn named_month_date(tokens: &[&str], today: NaiveDate) -> Option<NaiveDate> {
    let (at, m) = tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| month(t).map(|m| (i, m)))
        .next_back()?;
    let day_at = |i: usize| tokens.get(i).and_then(|t| day_number(t));
    let day = at
        .checked_sub(1)
        .and_then(day_at)
        .or_else(|| day_at(at + 1))?;
    let y = tokens
        .iter()
        .filter(|t| t.len() == 4)
        .find_map(|t| t.parse::<i32>().ok().filter(|y| (1970..=2200).contains(y)));
    match y {
        Some(y) => NaiveDate::from_ymd_opt(y, m, day),
        None => {
            let this = NaiveDate::from_ymd_opt(today.year(), m, day);
            match this {
                Some(d) if d <= today => Some(d),
                _ => NaiveDate::from_ymd_opt(today.year() - 1, m, day),
            }
        }
    }
}

/// `3`, `03`, `3rd`, `1st`, `1er`, `3.`: a day of the month.
fn day_number(t: &str) -> Option<u32> {
    let digits = t.trim_end_matches(|c: char| c.is_alphabetic() || c == '.');
    let suffix = &t[digits.len()..];
    if !matches!(suffix, "" | "." | "st" | "nd" | "rd" | "th" | "er" | "e") {
        return None;
    }
    let d: u32 = digits.parse().ok()?;
    (1..=31).contains(&d).then_some(d)
}

/// A month name or abbreviation in French, English or German.
fn month(t: &str) -> Option<u32> {
    const MONTHS: [&[&str]; 12] = [
        &[
            "janvier", "janv", "jan", "january", "januar", "jänner", "jän",
        ],
        &[
            "février", "fevrier", "févr", "fevr", "fév", "fev", "feb", "february", "februar",
        ],
        &["mars", "mar", "march", "märz", "maerz", "mär", "mrz"],
        &["avril", "avr", "apr", "april"],
        &["mai", "may"],
        &["juin", "jun", "june", "juni"],
        &["juillet", "juil", "jul", "july", "juli"],
        &["août", "aout", "aoû", "aug", "august"],
        &["septembre", "sept", "sep", "september"],
        &["octobre", "oct", "october", "oktober", "okt"],
        &["novembre", "nov", "november"],
        &[
            "décembre",
            "decembre",
            "déc",
            "dec",
            "december",
            "dezember",
            "dez",
        ],
    ];
    MONTHS
        .iter()
        .position(|names| names.contains(&t))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// A weekday name or abbreviation in French, English or German.
fn weekday(t: &str) -> Option<Weekday> {
    const DAYS: [(&[&str], Weekday); 7] = [
        (
            &["monday", "mon", "lundi", "lun", "montag", "mo"],
            Weekday::Mon,
        ),
        (
            &["tuesday", "tue", "tues", "mardi", "mar", "dienstag", "di"],
            Weekday::Tue,
        ),
        (
            &["wednesday", "wed", "mercredi", "mer", "mittwoch", "mi"],
            Weekday::Wed,
        ),
        (
            &[
                "thursday",
                "thu",
                "thur",
                "thurs",
                "jeudi",
                "jeu",
                "donnerstag",
                "do",
            ],
            Weekday::Thu,
        ),
        (
            &["friday", "fri", "vendredi", "ven", "freitag", "fr"],
            Weekday::Fri,
        ),
        (
            &["saturday", "sat", "samedi", "sam", "samstag", "sa"],
            Weekday::Sat,
        ),
        (
            &["sunday", "sun", "dimanche", "dim", "sonntag", "so"],
            Weekday::Sun,
        ),
    ];
    DAYS.iter()
        .find(|(names, _)| names.contains(&t))
        .map(|(_, w)| *w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<&str>) {
        let now: DateTime<Utc> = "2025-03-05T12:00:00Z".parse().unwrap();
        let got = parse_forum_date(text, chrono_tz::Europe::Paris, now);
        let expected = expected.map(|e| e.parse::<DateTime<Utc>>().unwrap());
        assert_eq!(got, expected, "{text:?}");
    }

    #[test]
    fn pieces() {
        check("12:05", Some("2025-03-05T11:05:00Z"));
        check("23:05", Some("2025-03-04T22:05:00Z"));
        check("", None);
        check("bonjour", None);
        check("il y a trois heures", None);
        check("99.99.2025", None);
        check("31 février 2025", None);
        check("1740942900", Some("2025-03-02T19:15:00Z"));
        check("1740942900000", Some("2025-03-02T19:15:00Z"));
        check(&"9".repeat(500), None);
        assert_eq!(day_number("3rd"), Some(3));
        assert_eq!(day_number("1er"), Some(1));
        assert_eq!(day_number("32"), None);
        assert_eq!(day_number("3x"), None);
    }
}
