//! Entry points for the fuzz targets in `fuzz/` (a separate crate): one
//! function per parser that reads a stranger's bytes, taking `&[u8]` and
//! checking what must hold for every input.
//!
//! Each function panics only when an invariant is broken (a round trip that
//! does not come back, a limit not enforced); a parser's own panic or stack
//! overflow is the bug the fuzzer looks for. Errors are normal outcomes.
//! Adding a target is one function here and one file in
//! `fuzz/src/bin/` that calls it.
//!
//! Deliberately not here: I/O beyond what the parser itself does, and any
//! use outside fuzzing and its regression tests (the module is hidden from
//! the docs and nothing in the daemon calls it).

use std::path::Path;

use chrono::{TimeZone, Utc};

use crate::limits;

/// The query parser: an accepted query prints to a string that parses back
/// to the same tree; a refused one has an offset inside the input.
pub fn query(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match crate::rules::query::parse(src) {
        Ok(q) => {
            let printed = q.to_string();
            let again = crate::rules::query::parse(&printed)
                .unwrap_or_else(|e| panic!("printed query {printed:?} does not parse: {e}"));
            assert_eq!(again, q, "printed query {printed:?} parses to another tree");
        }
        Err(e) => assert!(e.offset <= src.len(), "error offset past the input"),
    }
}

/// The rule-file loader (TOML, queries, durations, alert keys): every
/// diagnostic renders with a line and column inside the file.
pub fn rule_file(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.toml");
    let channels = ["ops".to_string(), "mail".to_string()]
        .into_iter()
        .collect();
    if let Err(diags) = crate::rules::parse_rule_file(path, src, Some(&channels)) {
        check_diagnostics(src, &diags);
    }
}

/// The config loader: every diagnostic renders with a line and column
/// inside the file.
pub fn config(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(diags) = crate::config::Config::parse(Path::new("fuzz.toml"), src) {
        check_diagnostics(src, &diags);
    }
}

/// The feed path from bytes to mentions (charset repair, XML preparation,
/// feed-rs, links, HTML to text) and the limits the poll loop applies:
/// every mention stays within them and is never published after the fetch
/// time.
pub fn feed(data: &[u8]) {
    // The first byte picks an HTTP charset, so the charset paths are reached.
    let (content_type, body) = match data.split_first() {
        Some((b, rest)) => (
            match b % 4 {
                0 => None,
                1 => Some("application/rss+xml; charset=utf-8"),
                2 => Some("text/xml; charset=iso-8859-1"),
                _ => Some("text/xml; charset=shift_jis"),
            },
            rest,
        ),
        None => (None, data),
    };
    let url = url::Url::parse("https://fuzz.example/feed.xml").expect("a valid literal url");
    let fetched = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid literal date");
    let Ok(mut mentions) = crate::source::feed::parse_feed_with_content_type(
        "fuzz",
        &url,
        body,
        content_type,
        fetched,
    ) else {
        return;
    };
    crate::normalize::bound_mentions(&mut mentions);
    assert!(mentions.len() <= limits::MAX_ITEMS_PER_FETCH);
    for m in &mentions {
        assert!(m.published <= fetched, "published after the fetch");
        assert!(m.text.len() <= limits::MAX_MENTION_TEXT_BYTES);
        assert!(m.title.len() <= limits::MAX_MENTION_TEXT_BYTES);
    }
}

/// HTML to text: the output is one line with no leading, trailing or
/// doubled space, no longer than its (capped) input.
pub fn html(data: &[u8]) {
    let src = String::from_utf8_lossy(data);
    let text = crate::normalize::html_to_text(&src);
    assert!(!text.starts_with(' ') && !text.ends_with(' '), "{text:?}");
    assert!(!text.contains("  "), "doubled space in {text:?}");
    assert!(!text.contains(['\n', '\r', '\t']), "not one line: {text:?}");
    // Decoding entities can lengthen (`&nGt;` is three bytes for four)
    // but never beyond a few bytes per input byte.
    assert!(text.len() <= 4 * src.len().min(limits::MAX_HTML_BYTES) + 4);
}

/// The duration parser: an accepted duration is within the limit and
/// formats to a string that parses back to it.
pub fn duration(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = crate::duration::parse_duration(src) {
        assert!(d <= limits::MAX_DURATION, "{src:?} parsed above the limit");
        let printed = crate::duration::format_duration(d);
        assert_eq!(
            crate::duration::parse_duration(&printed),
            Ok(d),
            "{printed:?} does not parse back"
        );
    }
}

/// The JSON reader every stranger's JSON goes through, and the import
/// line format: input deeper than the limit is an error, never a stack
/// overflow.
pub fn json(data: &[u8]) {
    let _ = limits::json_from_slice::<serde_json::Value>(data);
    // The same bytes as one line of `import` or `backtest` input.
    if let Ok(line) = std::str::from_utf8(data) {
        let now = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("a valid literal date");
        if let Ok(m) = crate::mention::Mention::from_json_line(line, now) {
            assert!(m.published <= now, "published after now");
            assert!(!m.id.is_empty(), "a mention without id");
        }
    }
}

/// The API payload parsers of the social kinds; the first byte picks the
/// kind. What they accept has a permalink and is never published after the
/// fetch time.
pub fn social(data: &[u8]) {
    use crate::source::social;
    type Parse = fn(&[u8], chrono::DateTime<Utc>) -> Result<social::Payload, social::ApiError>;
    const KINDS: [Parse; 6] = [
        social::mastodon::parse_payload,
        social::reddit::parse_payload,
        social::bluesky::parse_payload,
        social::hackernews::parse_payload,
        social::youtube::parse_payload,
        social::discourse::parse_payload,
    ];
    let Some((pick, body)) = data.split_first() else {
        return;
    };
    let now = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid literal date");
    let parse = KINDS[usize::from(*pick) % KINDS.len()];
    if let Ok(payload) = parse(body, now) {
        for item in &payload.items {
            assert!(item.mention.published <= now, "published after the fetch");
        }
    }
}

/// A forum page read with a preset (the first byte picks it): posts have
/// no link or an http(s) one, and are never published after the fetch
/// time.
pub fn forum_page(data: &[u8]) {
    use crate::source::html::{HtmlConfig, parse_document};
    let Some((pick, body)) = data.split_first() else {
        return;
    };
    let presets: Vec<&str> = HtmlConfig::presets().collect();
    let Some(name) = presets.get(usize::from(*pick) % presets.len().max(1)) else {
        return;
    };
    let base = url::Url::parse("https://forum.example/t/1").expect("a valid literal url");
    let Some(cfg) = HtmlConfig::from_preset(base.clone(), name, chrono_tz::Europe::Paris) else {
        return;
    };
    let now = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid literal date");
    if let Ok(page) = parse_document(body, None, &base, &cfg, now) {
        if let Some(next) = &page.next {
            assert!(
                matches!(next.scheme(), "http" | "https"),
                "next page {next}"
            );
        }
        for item in page.items {
            let m = item.into_mention("fuzz", now);
            assert!(m.published <= now, "published after the fetch");
            // No link (the poll gives such an item `page#id`) or a web one.
            assert!(
                m.url.is_empty() || m.url.starts_with("http://") || m.url.starts_with("https://"),
                "link {}",
                m.url
            );
        }
    }
}

/// Forum dates as forums print them (French, English, German, relative):
/// whatever the text, no panic and no overflow.
pub fn forum_date(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let now = Utc
        .with_ymd_and_hms(2026, 3, 29, 1, 30, 0)
        .single()
        .expect("a valid literal date");
    let _ = crate::source::dates::parse_forum_date(src, chrono_tz::Europe::Paris, now);
}

fn check_diagnostics(src: &str, diags: &[crate::diag::Diagnostic]) {
    assert!(!diags.is_empty(), "a refusal without a diagnostic");
    let lines = src.split('\n').count().max(1);
    for d in diags {
        let rendered = d.render();
        assert!(!rendered.is_empty());
        if d.line > 0 {
            assert!(d.line <= lines, "line {} past the end: {rendered}", d.line);
        }
    }
}
