//! Forum dates as forums really print them (phpBB, XenForo, vBulletin,
//! Discourse, Invision, French, English and German boards), read by
//! `source::dates::parse_forum_date` in the forum's time zone relative to
//! an injected `now`, daylight-saving edges included; what cannot be read
//! is `None`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use chrono_tz::{America::New_York, Europe::Berlin, Europe::Paris};
use veilleur::source::dates::{parse_forum_date, parse_with_format};

/// Wednesday 5 March 2025, 13:00 in Paris and Berlin, 07:00 in New York.
const NOW: &str = "2025-03-05T12:00:00Z";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn check(cases: &[(&str, Tz, &str, Option<&str>)]) {
    let mut failures = Vec::new();
    for (text, tz, now, expected) in cases {
        let got = parse_forum_date(text, *tz, at(now));
        let expected = expected.map(at);
        if got != expected {
            failures.push(format!(
                "{text:?} in {tz} at {now}: got {got:?}, expected {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn french_forum_dates() {
    check(&[
        ("hier à 14:05", Paris, NOW, Some("2025-03-04T13:05:00Z")),
        (
            "aujourd'hui à 09:12",
            Paris,
            NOW,
            Some("2025-03-05T08:12:00Z"),
        ),
        (
            "Aujourd’hui, 09:12",
            Paris,
            NOW,
            Some("2025-03-05T08:12:00Z"),
        ),
        ("Hier, 23:59", Paris, NOW, Some("2025-03-04T22:59:00Z")),
        ("il y a 3 heures", Paris, NOW, Some("2025-03-05T09:00:00Z")),
        ("il y a 2 jours", Paris, NOW, Some("2025-03-03T12:00:00Z")),
        ("Il y a une heure", Paris, NOW, Some("2025-03-05T11:00:00Z")),
        ("il y a 5 min", Paris, NOW, Some("2025-03-05T11:55:00Z")),
        ("le 3 mars 2025", Paris, NOW, Some("2025-03-02T23:00:00Z")),
        (
            "3 mars 2025 à 14:05",
            Paris,
            NOW,
            Some("2025-03-03T13:05:00Z"),
        ),
        (
            "lun. 3 mars 2025 14:05",
            Paris,
            NOW,
            Some("2025-03-03T13:05:00Z"),
        ),
        // phpBB 3 in French: « D j M Y H:i ».
        (
            "dim. 2 mars 2025 20:15",
            Paris,
            NOW,
            Some("2025-03-02T19:15:00Z"),
        ),
        (
            "mar. 4 mars 2025 18:47",
            Paris,
            NOW,
            Some("2025-03-04T17:47:00Z"),
        ),
        (
            "1er mars 2025, 08:30",
            Paris,
            NOW,
            Some("2025-03-01T07:30:00Z"),
        ),
        (
            "Publié le 27 janv. 2025 à 10h12",
            Paris,
            NOW,
            Some("2025-01-27T09:12:00Z"),
        ),
        (
            "avant-hier à 23:59",
            Paris,
            NOW,
            Some("2025-03-03T22:59:00Z"),
        ),
        ("14 février 2025", Paris, NOW, Some("2025-02-13T23:00:00Z")),
        (
            "le 12/02/2025 à 16:40",
            Paris,
            NOW,
            Some("2025-02-12T15:40:00Z"),
        ),
        (
            "Message le 3 mars à 14:05",
            Paris,
            NOW,
            Some("2025-03-03T13:05:00Z"),
        ),
        ("hier", Paris, NOW, Some("2025-03-03T23:00:00Z")),
        ("à l’instant", Paris, NOW, Some(NOW)),
    ]);
}

#[test]
fn german_forum_dates() {
    check(&[
        // vBulletin / WoltLab in German.
        (
            "21.01.2009, 05:42",
            Berlin,
            NOW,
            Some("2009-01-21T04:42:00Z"),
        ),
        ("Heute, 10:15", Berlin, NOW, Some("2025-03-05T09:15:00Z")),
        (
            "Gestern um 14:05",
            Berlin,
            NOW,
            Some("2025-03-04T13:05:00Z"),
        ),
        ("vor 3 Stunden", Berlin, NOW, Some("2025-03-05T09:00:00Z")),
        (
            "vor einer Stunde",
            Berlin,
            NOW,
            Some("2025-03-05T11:00:00Z"),
        ),
        ("vor 2 Tagen", Berlin, NOW, Some("2025-03-03T12:00:00Z")),
        ("3. März 2025", Berlin, NOW, Some("2025-03-02T23:00:00Z")),
        // phpBB 3 in German: « D j. M Y, H:i ».
        (
            "So 2. Mär 2025, 20:15",
            Berlin,
            NOW,
            Some("2025-03-02T19:15:00Z"),
        ),
        (
            "Di 4. März 2025, 14:05 Uhr",
            Berlin,
            NOW,
            Some("2025-03-04T13:05:00Z"),
        ),
        (
            "am 28.02.2025 um 17:30",
            Berlin,
            NOW,
            Some("2025-02-28T16:30:00Z"),
        ),
        (
            "vorgestern, 08:00",
            Berlin,
            NOW,
            Some("2025-03-03T07:00:00Z"),
        ),
    ]);
}

#[test]
fn english_forum_dates() {
    check(&[
        // XenForo.
        (
            "Yesterday at 2:05 PM",
            New_York,
            NOW,
            Some("2025-03-04T19:05:00Z"),
        ),
        (
            "Today at 6:12 AM",
            New_York,
            NOW,
            Some("2025-03-05T11:12:00Z"),
        ),
        (
            "Monday at 9:12 AM",
            New_York,
            NOW,
            Some("2025-03-03T14:12:00Z"),
        ),
        ("3 hours ago", New_York, NOW, Some("2025-03-05T09:00:00Z")),
        ("an hour ago", New_York, NOW, Some("2025-03-05T11:00:00Z")),
        ("2 days ago", New_York, NOW, Some("2025-03-03T12:00:00Z")),
        ("Mar 3, 2025", New_York, NOW, Some("2025-03-03T05:00:00Z")),
        (
            "March 3rd, 2025, 2:05 pm",
            New_York,
            NOW,
            Some("2025-03-03T19:05:00Z"),
        ),
        // phpBB 3 default: « D M d, Y g:i a ».
        (
            "Sun Mar 02, 2025 8:15 pm",
            New_York,
            NOW,
            Some("2025-03-03T01:15:00Z"),
        ),
        // vBulletin US: « m-d-Y, h:i A ».
        (
            "03-04-2025, 08:15 PM",
            New_York,
            NOW,
            Some("2025-03-05T01:15:00Z"),
        ),
        (
            "Yesterday, 11:47 PM",
            New_York,
            NOW,
            Some("2025-03-05T04:47:00Z"),
        ),
        // Discourse without JavaScript.
        (
            "Jan 27, 2025 10:12 am",
            New_York,
            NOW,
            Some("2025-01-27T15:12:00Z"),
        ),
        (
            "Posted on 27 January 2025",
            New_York,
            NOW,
            Some("2025-01-27T05:00:00Z"),
        ),
        ("just now", New_York, NOW, Some(NOW)),
    ]);
}

#[test]
fn machine_dates() {
    check(&[
        (
            "2025-03-03T14:05:00+01:00",
            Paris,
            NOW,
            Some("2025-03-03T13:05:00Z"),
        ),
        // XenForo's <time datetime>: an offset without colon.
        (
            "2025-03-02T20:15:00+0100",
            Paris,
            NOW,
            Some("2025-03-02T19:15:00Z"),
        ),
        (
            "2025-03-02T19:15:00.000Z",
            Paris,
            NOW,
            Some("2025-03-02T19:15:00Z"),
        ),
        (
            "Mon, 03 Mar 2025 14:05:00 +0100",
            Paris,
            NOW,
            Some("2025-03-03T13:05:00Z"),
        ),
        ("1740942900", Paris, NOW, Some("2025-03-02T19:15:00Z")),
        // Discourse's data-time: milliseconds.
        ("1740942900000", Paris, NOW, Some("2025-03-02T19:15:00Z")),
        ("03-03-2025 14:05", Paris, NOW, Some("2025-03-03T13:05:00Z")),
        ("2025-03-03 14:05", Paris, NOW, Some("2025-03-03T13:05:00Z")),
    ]);
}

#[test]
fn daylight_saving_edges() {
    check(&[
        // 02:30 does not exist in Paris on 30 March 2025: read with the
        // winter offset.
        (
            "30 mars 2025 02:30",
            Paris,
            "2025-04-01T00:00:00Z",
            Some("2025-03-30T01:30:00Z"),
        ),
        // 02:30 happens twice on 26 October 2025: the first one.
        (
            "26 octobre 2025 02:30",
            Paris,
            "2025-11-01T00:00:00Z",
            Some("2025-10-26T00:30:00Z"),
        ),
        (
            "26 octobre 2025 03:30",
            Paris,
            "2025-11-01T00:00:00Z",
            Some("2025-10-26T02:30:00Z"),
        ),
        // The day after the change, yesterday is summer time.
        (
            "hier à 14:05",
            Paris,
            "2025-03-31T10:00:00Z",
            Some("2025-03-30T12:05:00Z"),
        ),
        (
            "Yesterday at 2:05 PM",
            New_York,
            "2025-03-10T15:00:00Z",
            Some("2025-03-09T18:05:00Z"),
        ),
        // Relative dates are durations, whatever the clocks did.
        (
            "vor 3 Stunden",
            Berlin,
            "2025-03-30T03:00:00Z",
            Some("2025-03-30T00:00:00Z"),
        ),
        (
            "Heute, 00:30",
            Berlin,
            "2025-10-26T12:00:00Z",
            Some("2025-10-25T22:30:00Z"),
        ),
        // Today in Paris is still yesterday in UTC.
        (
            "aujourd'hui à 00:10",
            Paris,
            "2025-07-01T22:30:00Z",
            Some("2025-07-01T22:10:00Z"),
        ),
    ]);
}

#[test]
fn unreadable_dates_are_none() {
    check(&[
        ("", Paris, NOW, None),
        ("Posted by admin", Paris, NOW, None),
        ("il y a longtemps", Paris, NOW, None),
        ("32.13.2025", Paris, NOW, None),
        ("Feb 30, 2025", New_York, NOW, None),
        ("25:99", Paris, NOW, None),
        ("99999999999999999999", Paris, NOW, None),
        ("vor 99999999999999 Jahren", Berlin, NOW, None),
    ]);
    // Nothing a stranger prints makes it panic.
    for junk in [
        "\u{0}",
        "il y a",
        "vor",
        "ago",
        "1er",
        "31",
        "::",
        "h",
        "é",
        "3rd",
        "12/",
        "-1 hours ago",
    ] {
        let _ = parse_forum_date(junk, Paris, at(NOW));
    }
}

#[test]
fn an_explicit_format_wins() {
    assert_eq!(
        parse_with_format("2025|03|03 14h05", "%Y|%m|%d %Hh%M", Paris),
        Some(at("2025-03-03T13:05:00Z"))
    );
    assert_eq!(
        parse_with_format("03/04/2025", "%m/%d/%Y", New_York),
        Some(at("2025-03-04T05:00:00Z"))
    );
    assert_eq!(parse_with_format("nope", "%m/%d/%Y", New_York), None);
}
