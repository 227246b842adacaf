//! One sanitizer per output format, for text a stranger wrote (post titles,
//! authors, URLs, words) on its way into a notification.
//!
//! Owns: making such text inert where it lands: it cannot add or break an
//! email header, inject markup, become a link to anything but http(s), or
//! ping anyone (Slack `<!here>` `<!channel>` `<@U…>` `<#C…>`, Mattermost
//! `@channel` `@here` `@all` `@user`, Discord `@everyone` `@here` `<@&role>`
//! `<@user>`, Teams `<at>`). It does not decide what is shown
//! (`notify::render` does).
//!
//! Mentions are defused the way the services leave room for: Slack reads
//! `<…>` as control sequences, so `&`, `<`, `>` are escaped as its docs say
//! (<https://api.slack.com/reference/surfaces/formatting#escaping>);
//! Mattermost, Discord and Teams match `@word`, so a zero-width joiner
//! (U+2060 WORD JOINER would be eaten by some clients; U+200D is kept)
//! goes after every `@`, which keeps the text readable and matches no
//! name. Discord payloads also set `allowed_mentions: {parse: []}`.
//!
//! Every sanitizer drops control characters (line breaks become spaces) and
//! the bidirectional overrides that can make text read backwards, and cuts
//! at [`MAX_CHARS`] characters on a char boundary with `…`.

/// Longest stranger-written text kept in one place of a message.
pub const MAX_CHARS: usize = 300;

/// Zero-width joiner: put after `@` so no service reads a mention.
pub const ZWJ: char = '\u{200D}';

/// At most `max` characters, ending with `…` when cut; never splits a char.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Whether `c` may change how the surrounding text reads or lays out:
/// controls (line breaks included), Unicode line and paragraph separators,
/// bidirectional embeddings, overrides and isolates.
fn is_disruptive(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// One line of plain text: disruptive characters become spaces, runs of
/// spaces collapse, the ends are trimmed, and it is cut to `max`.
pub fn line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut space = false;
    for c in s.chars() {
        // No-break spaces stay: French typography is made of them.
        let breakable = c.is_whitespace() && !matches!(c, '\u{A0}' | '\u{202F}' | '\u{2007}');
        let c = if is_disruptive(c) || breakable {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if !space && !out.is_empty() {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    truncate(out.trim_end(), max)
}

/// Plain text (text email body, Teams fact values): one line, cut.
pub fn plain(s: &str) -> String {
    line(s, MAX_CHARS)
}

/// An email header value (the subject): one line, no character a header
/// could be split or folded on. lettre encodes non-ASCII (RFC 2047).
pub fn header(s: &str) -> String {
    line(s, 200)
}

/// HTML element content and attribute values.
pub fn html(s: &str) -> String {
    html_escape(&plain(s))
}

/// Escapes `& < > " '` for HTML, without cutting (for our own text).
pub fn html_escape(s: &str) -> String {
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

/// Slack `mrkdwn`: `&`, `<`, `>` escaped (no `<!here>`, `<@U…>`, `<#C…>`,
/// `<url|label>` can be formed), formatting characters neutralised, and a
/// joiner after `@` (`@here` without brackets is not linked, but a workspace
/// with `link_names` would).
pub fn slack(s: &str) -> String {
    let mut out = String::new();
    for c in plain(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Bold, italics, strike and code would spill over our layout.
            '*' | '_' | '~' | '`' => {
                out.push(c);
                out.push(ZWJ);
            }
            '@' => {
                out.push(c);
                out.push(ZWJ);
            }
            c => out.push(c),
        }
    }
    out
}

/// CommonMark-style escaping shared by Mattermost, Discord and Teams:
/// every markup character backslash-escaped, a joiner after `@`.
fn markdown(s: &str) -> String {
    let mut out = String::new();
    for c in plain(s).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '<' | '>' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '@' => {
                out.push('@');
                out.push(ZWJ);
            }
            c => out.push(c),
        }
    }
    out
}

/// Mattermost Markdown: no `@channel`, `@here`, `@all` or `@user` survives.
pub fn mattermost(s: &str) -> String {
    markdown(s)
}

/// Discord Markdown: no `@everyone`, `@here`, `<@id>`, `<@&role>` or
/// `<#channel>` survives (and the payload allows no mention anyway).
pub fn discord(s: &str) -> String {
    markdown(s)
}

/// Teams Adaptive Card text: Markdown subset, and `<at>` tags never form:
/// a joiner follows every `<` (the card declares no mention entities
/// either, and Teams' Markdown has no reliable backslash escape).
pub fn teams(s: &str) -> String {
    markdown(s).replace('<', "<\u{200D}")
}

/// A link target, only for `http(s)` URLs: parsed and re-serialised (which
/// percent-encodes spaces, quotes and angle brackets), then the characters
/// that close a Markdown or Slack link (`( ) | < >`) percent-encoded too.
/// `None` for any other scheme or an unparsable URL.
pub fn link(url: &str) -> Option<String> {
    let u = url::Url::parse(url.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return None;
    }
    let s: String = u
        .as_str()
        .chars()
        .flat_map(|c| match c {
            '(' => "%28".chars().collect::<Vec<_>>(),
            ')' => "%29".chars().collect(),
            '|' => "%7C".chars().collect(),
            '<' => "%3C".chars().collect(),
            '>' => "%3E".chars().collect(),
            '"' => "%22".chars().collect(),
            '\'' => "%27".chars().collect(),
            '`' => "%60".chars().collect(),
            '*' => "%2A".chars().collect(),
            '_' => "%5F".chars().collect(),
            '~' => "%7E".chars().collect(),
            c => vec![c],
        })
        .collect();
    (s.len() <= 2048).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_at_char_boundary() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("éééé", 3), "éé…");
        assert_eq!(
            truncate(&"😀".repeat(400), MAX_CHARS).chars().count(),
            MAX_CHARS
        );
    }

    #[test]
    fn line_drops_breaks_and_bidi() {
        assert_eq!(
            line("a\r\nBcc: x@y\u{202E}z\u{2028}w", 100),
            "a Bcc: x@y z w"
        );
        assert_eq!(header("  x\n\ny  "), "x y");
    }

    #[test]
    fn chat_mentions_are_defused() {
        let s = slack("<!here> <@U123> <#C1|x> @channel & *b*");
        assert!(!s.contains('<') && !s.contains('>'), "{s}");
        assert!(s.contains("&lt;!here&gt;"), "{s}");
        let m = mattermost("@channel @here @all @bob");
        assert!(!m.contains("@c") && !m.contains("@h") && !m.contains("@a") && !m.contains("@b"));
        let d = discord("@everyone <@&123> <@456>");
        assert_eq!(
            d,
            "@\u{200D}everyone \\<@\u{200D}&123\\> \\<@\u{200D}456\\>"
        );
    }

    #[test]
    fn links_keep_only_http() {
        assert_eq!(link("javascript:alert(1)"), None);
        assert_eq!(link("data:text/html,x"), None);
        assert_eq!(link("ftp://x.org/"), None);
        assert_eq!(
            link("https://ex.org/a b)|<x>").as_deref(),
            Some("https://ex.org/a%20b%29%7C%3Cx%3E")
        );
        assert_eq!(link(" HTTPS://Ex.org").as_deref(), Some("https://ex.org/"));
    }
}
