//! Canonical URLs and HTML-to-text: the two normalisations every source needs
//! before it builds a [`Mention`](crate::mention::Mention).
//!
//! * [`canonical_url`] gives the one spelling of a link that the mention id is
//!   derived from, so the same article reached through two feeds (one with
//!   `utm_*` tags, one through a Google redirect) deduplicates.
//! * [`html_to_text`] turns HTML (or plain text) into the single-line plain
//!   text the matcher, sentiment and the index read.
//! * [`bound_mentions`] holds one fetch to the shared limits (items per
//!   fetch, text length per mention), whatever the source kind.
//!
//! Deliberately not here: language detection, accent folding, tokenisation
//! (`text.rs` and `enrich/`), and fetching anything.
//!
//! Invariants: both functions are pure, never panic and run in time linear in
//! their input. `html_to_text` uses html5ever's spec-compliant *tokenizer*
//! only (no tree builder), so hostile nesting costs nothing; its input is
//! capped at [`MAX_HTML_BYTES`].

use std::cell::{Cell, RefCell};

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
    states::RawKind,
};
use html5ever::{LocalName, local_name};
use url::Url;

use crate::limits::{MAX_HTML_BYTES, MAX_ITEMS_PER_FETCH, MAX_MENTION_TEXT_BYTES};
use crate::mention::Mention;

/// Query parameters that only track the reader; they never select content.
/// Compared case-insensitively; `utm_*` is matched as a prefix.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "mc_cid",
    "mc_eid",
    "igshid",
    "igsh",
    "_hsenc",
    "_hsmi",
    "__hssc",
    "__hstc",
    "__hsfp",
    "hsctatracking",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "vero_conv",
    "wickedid",
    "_openstat",
    "rb_clickid",
    "s_cid",
    "ncid",
    "sr_share",
    "ref_src",
    "ref_url",
    "__twitter_impression",
    "_ga",
    "_gl",
];

/// How many redirect wrappers (`google.com/url?url=…`) are peeled at most.
const MAX_REDIRECT_UNWRAP: usize = 3;

/// Canonical form: scheme and host lower-cased, default port dropped,
/// fragment removed, tracking parameters removed (`utm_*`, `fbclid`, `gclid`,
/// `mc_cid`, `mc_eid`, `igshid`, …), remaining query kept in order (and in its
/// original percent-encoding); relative URLs resolved against `base`.
/// Google Alerts / Google News redirect links (`https://www.google.com/url?…&url=<real>`)
/// are replaced by the real URL. `None` if the result is not an http(s) URL.
pub fn canonical_url(raw: &str, base: Option<&Url>) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let mut url = Url::options().base_url(base).parse(raw).ok()?;
    for _ in 0..MAX_REDIRECT_UNWRAP {
        match redirect_target(&url) {
            Some(inner) => url = inner,
            None => break,
        }
    }
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    // The url crate already lower-cases scheme and host and drops default
    // ports for special schemes; what is left is the fragment and the query.
    url.set_fragment(None);
    let kept = url.query().map(|q| {
        q.split('&')
            .filter(|pair| !pair.is_empty() && !is_tracking_pair(pair))
            .collect::<Vec<_>>()
            .join("&")
    });
    match kept {
        Some(q) if !q.is_empty() => url.set_query(Some(&q)),
        _ => url.set_query(None),
    }
    Some(url.into())
}

/// Whether one raw `key=value` query segment is a tracking parameter.
fn is_tracking_pair(pair: &str) -> bool {
    let key = pair.split('=').next().unwrap_or(pair);
    let key: String = url::form_urlencoded::parse(key.as_bytes())
        .next()
        .map(|(k, _)| k.to_ascii_lowercase())
        .unwrap_or_default();
    key.starts_with("utm_") || TRACKING_PARAMS.contains(&key.as_str())
}

/// The real URL behind a known redirect wrapper, if `url` is one:
/// `www.google.<tld>/url?url=…` (Google Alerts, also `q=`) and
/// `news.google.<tld>/news/url?url=…` (legacy Google News RSS).
fn redirect_target(url: &Url) -> Option<Url> {
    let host = url.host_str()?;
    let is_google = host
        .strip_prefix("www.")
        .or_else(|| host.strip_prefix("news."))
        .unwrap_or(host)
        .starts_with("google.");
    if !is_google || !matches!(url.path(), "/url" | "/news/url") {
        return None;
    }
    let target = url
        .query_pairs()
        .find(|(k, _)| k == "url")
        .or_else(|| url.query_pairs().find(|(k, _)| k == "q"))?
        .1;
    let inner = Url::parse(target.trim()).ok()?;
    matches!(inner.scheme(), "http" | "https").then_some(inner)
}

/// HTML (or plain text) → plain text: tags stripped, `script`/`style` (and
/// other non-content elements) dropped, entities decoded exactly once (named,
/// numeric, legacy forms without `;`; `&amp;eacute;` gives `&eacute;`), block
/// elements and `<br>` become word breaks, whitespace (including no-break
/// spaces) collapsed to single spaces, trimmed. Linear time on any input;
/// input beyond [`MAX_HTML_BYTES`] is ignored.
pub(crate) fn html_to_text(html: &str) -> String {
    let html = truncate_at_char_boundary(html, MAX_HTML_BYTES);
    if !html.contains(['<', '&']) {
        return collapse_whitespace(html);
    }
    let sink = TextSink::default();
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    // Our sink never returns `Script`, so `feed` runs to the end of the input.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let out = tokenizer.sink.out.take();
    collapse_whitespace(&out)
}

/// What [`bound_mentions`] cut from one fetch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bounded {
    /// Items beyond [`MAX_ITEMS_PER_FETCH`], dropped.
    pub dropped: usize,
    /// Titles and texts longer than [`MAX_MENTION_TEXT_BYTES`], cut.
    pub cut: usize,
}

/// Holds one fetch's mentions to the limits every source shares: at most
/// [`MAX_ITEMS_PER_FETCH`] items (the first ones, a feed's newest), and
/// titles and texts of at most [`MAX_MENTION_TEXT_BYTES`] ([`cut_text`]).
/// The poll loop calls it for every kind and counts what it returns.
pub fn bound_mentions(mentions: &mut Vec<Mention>) -> Bounded {
    let dropped = mentions.len().saturating_sub(MAX_ITEMS_PER_FETCH);
    mentions.truncate(MAX_ITEMS_PER_FETCH);
    let mut cut = 0;
    for m in mentions.iter_mut() {
        cut += usize::from(cut_text(&mut m.title)) + usize::from(cut_text(&mut m.text));
    }
    Bounded { dropped, cut }
}

/// Cuts `text` to at most [`MAX_MENTION_TEXT_BYTES`]: at the last space
/// before the limit when there is one in the last kilobyte, else at a char
/// boundary; never in the middle of a character. Returns whether it cut.
pub fn cut_text(text: &mut String) -> bool {
    if text.len() <= MAX_MENTION_TEXT_BYTES {
        return false;
    }
    let head = truncate_at_char_boundary(text, MAX_MENTION_TEXT_BYTES);
    let end = match head.rfind(' ') {
        Some(space) if head.len() - space <= 1024 => space,
        _ => head.len(),
    };
    text.truncate(end);
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    true
}

fn truncate_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Collapses every run of whitespace (Unicode, so U+00A0 too) into one space
/// and trims both ends.
pub(crate) fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(char::is_whitespace).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Collects character tokens, skipping the content of non-text elements.
#[derive(Default)]
struct TextSink {
    out: RefCell<String>,
    /// The non-text element being skipped (`script`, `style`, …), if any.
    skipping: RefCell<Option<LocalName>>,
    /// Nesting of `<svg>`/`<math>` (their text is drawing, not prose).
    foreign_depth: Cell<u32>,
}

impl TextSink {
    fn push_break(&self) {
        self.out.borrow_mut().push(' ');
    }
}

/// Elements whose content is code, styling or a fallback, never prose.
fn raw_kind(name: &LocalName) -> Option<RawKind> {
    match *name {
        local_name!("script") => Some(RawKind::ScriptData),
        local_name!("style")
        | local_name!("xmp")
        | local_name!("iframe")
        | local_name!("noembed")
        | local_name!("noframes")
        | local_name!("noscript") => Some(RawKind::Rawtext),
        local_name!("textarea") | local_name!("title") => Some(RawKind::Rcdata),
        _ => None,
    }
}

/// Elements whose boundaries separate words.
fn is_break(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("address")
            | local_name!("article")
            | local_name!("aside")
            | local_name!("blockquote")
            | local_name!("br")
            | local_name!("caption")
            | local_name!("dd")
            | local_name!("details")
            | local_name!("dialog")
            | local_name!("div")
            | local_name!("dl")
            | local_name!("dt")
            | local_name!("fieldset")
            | local_name!("figcaption")
            | local_name!("figure")
            | local_name!("footer")
            | local_name!("form")
            | local_name!("h1")
            | local_name!("h2")
            | local_name!("h3")
            | local_name!("h4")
            | local_name!("h5")
            | local_name!("h6")
            | local_name!("header")
            | local_name!("hr")
            | local_name!("img")
            | local_name!("li")
            | local_name!("main")
            | local_name!("nav")
            | local_name!("ol")
            | local_name!("option")
            | local_name!("p")
            | local_name!("pre")
            | local_name!("section")
            | local_name!("summary")
            | local_name!("table")
            | local_name!("tbody")
            | local_name!("td")
            | local_name!("tfoot")
            | local_name!("th")
            | local_name!("thead")
            | local_name!("tr")
            | local_name!("ul")
            | local_name!("body")
            | local_name!("html")
            | local_name!("head")
    )
}

impl TokenSink for TextSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(tag) => {
                {
                    let mut skipping = self.skipping.borrow_mut();
                    if let Some(name) = skipping.as_ref() {
                        // Raw-text states only end at the matching end tag,
                        // which is the only tag the tokenizer can emit here.
                        if tag.kind == TagKind::EndTag && tag.name == *name {
                            *skipping = None;
                            drop(skipping);
                            self.push_break();
                        }
                        return TokenSinkResult::Continue;
                    }
                }
                let foreign = matches!(tag.name, local_name!("svg") | local_name!("math"));
                match tag.kind {
                    TagKind::StartTag => {
                        if foreign && !tag.self_closing {
                            self.foreign_depth
                                .set(self.foreign_depth.get().saturating_add(1));
                        }
                        if is_break(&tag.name) || foreign {
                            self.push_break();
                        }
                        if !tag.self_closing
                            && let Some(kind) = raw_kind(&tag.name)
                        {
                            *self.skipping.borrow_mut() = Some(tag.name);
                            return TokenSinkResult::RawData(kind);
                        }
                        if tag.name == local_name!("plaintext") {
                            return TokenSinkResult::Plaintext;
                        }
                    }
                    TagKind::EndTag => {
                        if foreign {
                            self.foreign_depth
                                .set(self.foreign_depth.get().saturating_sub(1));
                        }
                        if is_break(&tag.name) || foreign {
                            self.push_break();
                        }
                    }
                }
            }
            Token::CharacterTokens(text) => {
                if self.skipping.borrow().is_none() && self.foreign_depth.get() == 0 {
                    self.out.borrow_mut().push_str(&text);
                }
            }
            Token::NullCharacterToken
            | Token::CommentToken(_)
            | Token::DoctypeToken(_)
            | Token::EOFToken
            | Token::ParseError(_) => {}
        }
        TokenSinkResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        let base = Url::parse("https://Example.org/blog/feed.xml").unwrap();
        assert_eq!(
            canonical_url(input, Some(&base)).as_deref(),
            expected,
            "canonical_url({input:?})"
        );
    }

    #[test]
    fn canonical_urls() {
        let table: &[(&str, Option<&str>)] = &[
            ("https://example.org/a", Some("https://example.org/a")),
            (
                "HTTPS://WWW.Example.ORG/Path/A",
                Some("https://www.example.org/Path/A"),
            ),
            ("http://example.org:80/a", Some("http://example.org/a")),
            ("https://example.org:443/a", Some("https://example.org/a")),
            (
                "https://example.org:8443/a",
                Some("https://example.org:8443/a"),
            ),
            (
                "https://example.org/a#comments",
                Some("https://example.org/a"),
            ),
            ("https://example.org", Some("https://example.org/")),
            (
                "https://example.org/a?utm_source=rss&utm_medium=feed&id=3&fbclid=x#top",
                Some("https://example.org/a?id=3"),
            ),
            (
                "https://example.org/a?b=2&gclid=1&a=1&mc_cid=x&mc_eid=y&igshid=z&UTM_Campaign=q",
                Some("https://example.org/a?b=2&a=1"),
            ),
            (
                "https://example.org/a?utm_source=x",
                Some("https://example.org/a"),
            ),
            ("https://example.org/a?", Some("https://example.org/a")),
            (
                "https://example.org/a?q=caf%C3%A9&&x",
                Some("https://example.org/a?q=caf%C3%A9&x"),
            ),
            ("  https://example.org/a  ", Some("https://example.org/a")),
            ("/2026/01/acme", Some("https://example.org/2026/01/acme")),
            (
                "article.html",
                Some("https://example.org/blog/article.html"),
            ),
            ("//cdn.example.net/x", Some("https://cdn.example.net/x")),
            (
                "https://www.google.com/url?rct=j&sa=t&url=https://www.lemonde.fr/eco/article.html%3Futm_source%3Dga%26p%3D2&ct=ga&cd=CAE&usg=AF",
                Some("https://www.lemonde.fr/eco/article.html?p=2"),
            ),
            (
                "http://news.google.com/news/url?sa=t&fd=R&usg=AF&url=http%3A%2F%2Fwww.bbc.co.uk%2Fnews%2Fworld-17287581",
                Some("http://www.bbc.co.uk/news/world-17287581"),
            ),
            (
                "https://www.google.fr/url?q=https://acme.example/x&sa=U",
                Some("https://acme.example/x"),
            ),
            // A Google page that is not a redirect stays as it is.
            (
                "https://www.google.com/search?q=acme",
                Some("https://www.google.com/search?q=acme"),
            ),
            // A redirect to a non-web URL is not followed.
            (
                "https://www.google.com/url?url=javascript:alert(1)",
                Some("https://www.google.com/url?url=javascript:alert(1)"),
            ),
            ("mailto:press@example.org", None),
            ("javascript:void(0)", None),
            ("ftp://example.org/a", None),
            ("", None),
            ("   ", None),
            ("http://", None),
        ];
        for (input, expected) in table {
            check(input, *expected);
        }
        assert_eq!(canonical_url("/relative", None), None);
    }

    fn check_text(input: &str, expected: &str) {
        assert_eq!(html_to_text(input), expected, "html_to_text({input:?})");
    }

    #[test]
    fn html_to_text_table() {
        let table: &[(&str, &str)] = &[
            ("plain text", "plain text"),
            ("  lots \n\t of   space  ", "lots of space"),
            ("<p>Hello <b>world</b></p>", "Hello world"),
            ("<b>Ac</b>me", "Acme"),
            ("<p>one</p><p>two</p>", "one two"),
            ("line<br>break<br/>here", "line break here"),
            ("<ul><li>a</li><li>b</li></ul>", "a b"),
            ("caf&eacute; &amp; cr&egrave;me", "café & crème"),
            ("&#233;t&#xE9; &#8211; &lt;tag&gt;", "été – <tag>"),
            ("a&nbsp;b", "a b"),
            // Decoded once: a double-escaped entity stays an entity.
            ("&amp;nbsp;", "&nbsp;"),
            ("l&amp;eacute;gal", "l&eacute;gal"),
            ("AT&T and R&D", "AT&T and R&D"),
            ("x < y and y > z", "x < y and y > z"),
            ("<script>var a = '<p>no</p>';</script>kept", "kept"),
            ("<style>p { color: red }</style><p>kept</p>", "kept"),
            ("<noscript><img src=x></noscript>yes", "yes"),
            ("before<!-- a comment -->after", "beforeafter"),
            ("<div><div><span>deep</span></div></div>", "deep"),
            ("<p>unclosed <b>bold <i>italic", "unclosed bold italic"),
            ("<svg><text>drawing</text></svg>words", "words"),
            ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
            ("<p title='a > b'>attr</p>", "attr"),
            ("<a href=\"https://x/?a=1&b=2\">link</a>", "link"),
            ("<![CDATA[ignored]]>text", "text"),
            ("", ""),
            ("<", "<"),
            ("&", "&"),
            ("<script>never closed", ""),
        ];
        for (input, expected) in table {
            check_text(input, expected);
        }
    }

    #[test]
    fn html_to_text_survives_hostile_input() {
        let deep = "<div>".repeat(200_000) + "x" + &"</div>".repeat(200_000);
        check_text(&deep, "x");
        let attr = format!("<p style=\"{}\">ok</p>", "a:b;".repeat(300_000));
        check_text(&attr, "ok");
        let unclosed = format!("<p title=\"{}", "x".repeat(1_000_000));
        check_text(&unclosed, "");
        let huge = "é ".repeat(MAX_HTML_BYTES);
        let out = html_to_text(&huge);
        assert!(out.len() <= MAX_HTML_BYTES && out.starts_with("é é"));
        let entities = "&amp;".repeat(100_000);
        assert_eq!(html_to_text(&entities).len(), 100_000);
    }
}
