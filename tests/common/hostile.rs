//! The corpus of hostile mentions (tests/fixtures/hostile/) and the checks
//! that a text built from it is inert, for the tests that put stranger
//! text through an output format (alerts in `tests/hostile_text.rs`,
//! digests in `tests/digest.rs`).

/// The corpus: one object a line with `why`, `title`, `author`, `url`.
pub(crate) fn corpus() -> Vec<serde_json::Value> {
    include_str!("../fixtures/hostile/mentions.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// No character that changes how text lays out: controls other than the
/// line breaks of our own layout, bidi overrides and isolates, separators.
pub(crate) fn assert_no_disruptive(what: &str, s: &str) {
    for c in s.chars() {
        let bad = (c.is_control() && c != '\n' && c != '\r')
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200F}');
        assert!(!bad, "{what}: disruptive {c:?} in\n{s}");
    }
}

/// No `@` followed directly by a name: a joiner sits in between.
pub(crate) fn assert_no_at_mention(what: &str, s: &str) {
    let cs: Vec<char> = s.chars().collect();
    for w in cs.windows(2) {
        assert!(
            !(w[0] == '@' && (w[1].is_alphanumeric() || w[1] == '&')),
            "{what}: live mention in\n{s}"
        );
    }
}

/// Every Markdown link `](target)` points to http(s), and no raw
/// `[..](..)` from a stranger survives unescaped.
pub(crate) fn markdown_links_are_web(s: &str) {
    for (i, _) in s.match_indices("](") {
        if i > 0 && s[..i].ends_with('\\') {
            continue;
        }
        let t = &s[i + 2..];
        assert!(
            t.starts_with("http://") || t.starts_with("https://"),
            "markdown link to {} in\n{s}",
            &t[..t.len().min(40)]
        );
        let end = t.find(')').unwrap_or(t.len());
        assert!(!t[..end].contains(' '), "{}", &t[..end]);
    }
}
