//! Feed parsing: RSS 0.9x/1.0/2.0, Atom and JSON Feed bytes → [`Mention`]s.
//!
//! Owns the leniency real feeds need before and around `feed-rs`:
//!
//! * **encoding**: the body is decoded to UTF-8 here: BOM, then the XML
//!   declaration or the HTTP charset when they name something else than
//!   UTF-8 and the bytes are not plainly UTF-8, then UTF-8 when the bytes
//!   are mostly valid UTF-8, repaired per byte (an invalid sequence becomes
//!   U+FFFD, the rest stays UTF-8), else a guess with `chardetng`; the XML
//!   declaration is removed so the parser doesn't decode a second time, and
//!   junk before the root (whitespace, BOM, comments, a stray declaration)
//!   is tolerated;
//! * **entities**: a bare `&` (`AT&T`) becomes `&amp;`, and numeric
//!   references to characters XML forbids become U+FFFD, instead of failing the
//!   whole feed; HTML named entities undefined in XML (`&eacute;`) are kept by
//!   feed-rs as text and decoded by [`html_to_text`];
//! * **mapping**: the entry's link (resolved against `xml:base` and the feed
//!   URL, Google redirects unwrapped, tracking parameters dropped) gives the
//!   id, so the same article from two feeds deduplicates; title and text go
//!   through [`html_to_text`]; FeedBurner's `feedburner:origLink` is the
//!   mention URL when present (the article, not the FeedBurner redirect);
//!   `published` is the entry's publication date, else, when feed-rs lost it
//!   because another date field of the item is broken (a good `pubDate`
//!   and a bad `dc:date`: the last one read wins there), the first
//!   publication date of the item's own XML that reads, else `updated`,
//!   else the fetch time, and is never later than the fetch time.
//!
//! Also owns the kind's config (`url`, [`FeedConfig`]) and its poll: one
//! conditional GET with a feed-shaped `Accept`, resuming from the HTTP
//! validators in the source's [`Cursor`].
//!
//! Deliberately not here: the politeness of fetching (`http/`), language
//! and sentiment (`enrich/`), deciding what is new (the store).
//!
//! Invariants: pure (the fetch time is passed in), never panics on any input,
//! linear in the body size, and a malformed feed is a [`FeedError`], not a
//! partial result.

use std::borrow::Cow;
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use encoding_rs::{Encoding, UTF_8};
use url::Url;

use serde::Deserialize;
use toml::Spanned;

use super::http::{Fetched, HttpClient};
use super::{Cursor, Poll, SourceConfig, SourceError};
use crate::config::Parser;
use crate::mention::{Mention, id_for};
use crate::normalize::{canonical_url, html_to_text};

/// `kind = "feed"`: the keys of a feed source beyond those every source takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedConfig {
    /// The feed itself (http or https).
    pub url: Url,
}

/// A feed source's own keys, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeed {
    url: Option<Spanned<String>>,
}

impl FeedConfig {
    /// Validates a feed source's own keys; `name` is the source's, for
    /// messages.
    pub(crate) fn parse(
        p: &mut Parser<'_>,
        name: &Spanned<String>,
        raw: RawFeed,
    ) -> Option<FeedConfig> {
        let url = p.required(&raw.url, name, "source", "url")?;
        let url = p.url(url, &["http", "https"])?;
        Some(FeedConfig { url })
    }
}

/// One conditional GET of the feed, parsed on the blocking pool (big feeds
/// are CPU work). The cursor is the response's HTTP validators.
pub(crate) async fn poll(
    src: &SourceConfig,
    cfg: &FeedConfig,
    client: &HttpClient,
    cursor: &Cursor,
    now: DateTime<Utc>,
) -> Result<Poll, SourceError> {
    let fetched = client
        .fetch(
            &cfg.url,
            &cursor.validators(),
            src.timeout,
            src.max_body_bytes,
        )
        .await?;
    let Fetched::Body {
        bytes,
        content_type,
        validators,
        final_url,
        ..
    } = fetched
    else {
        return Ok(Poll::NotModified);
    };
    let name = src.name.clone();
    let url_for_error = final_url.clone();
    let mentions = tokio::task::spawn_blocking(move || {
        parse_feed_with_content_type(&name, &final_url, &bytes, content_type.as_deref(), now)
    })
    .await
    .map_err(|e| FeedError::Parse {
        url: url_for_error,
        detail: format!("feed parser crashed: {e}"),
    })??;
    Ok(Poll::Items {
        mentions,
        cursor: Cursor::Http(validators),
    })
}

/// Why a feed body could not be turned into mentions.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The body is a broken feed (cut short, not well-formed, empty);
    /// `detail` is what the parser said.
    #[error("cannot parse feed {shown}: {detail}", shown = crate::notify::redact::for_log(.url))]
    Parse { url: Url, detail: String },
    /// The body is something else (an HTML page, plain text, XML of another
    /// kind): the source URL is probably wrong.
    #[error("cannot parse feed {shown}: not a feed: {detail}", shown = crate::notify::redact::for_log(.url))]
    NotAFeed { url: Url, detail: String },
}

impl FeedError {
    /// A short fixed label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            FeedError::Parse { .. } | FeedError::NotAFeed { .. } => "parse",
        }
    }

    /// Whether the next poll may succeed: a broken feed is often a
    /// half-written or truncated one; something that is not a feed at all
    /// will stay so until the configuration changes.
    pub fn is_retryable(&self) -> bool {
        matches!(self, FeedError::Parse { .. })
    }
}

/// Parses RSS 0.9x/1.0/2.0, Atom or JSON Feed bytes into mentions of
/// `source`, as [`parse_feed_with_content_type`] without an HTTP charset.
pub fn parse_feed(
    source: &str,
    feed_url: &Url,
    body: &[u8],
    fetched_at: DateTime<Utc>,
) -> Result<Vec<Mention>, FeedError> {
    parse_feed_with_content_type(source, feed_url, body, None, fetched_at)
}

/// Parses a feed body into mentions of `source`.
///
/// Links are resolved against `xml:base` and `feed_url` and canonicalised;
/// the id is [`id_for`] of the canonical URL, or of title and text for an
/// entry without link. `published` is the entry's published date, else its
/// updated date, else `fetched_at`, and never later than `fetched_at`. Title
/// and text (content, else summary, else media description) are plain text.
/// `author` is the first non-empty author name. `lang` and
/// `author_followers` are left `None`. Entries with neither link, title nor
/// text are skipped, and an id seen twice in one feed is kept once.
///
/// `content_type` is the HTTP `Content-Type`; its charset is used only when
/// the body has no BOM and no usable XML encoding declaration, and is not
/// valid UTF-8 with multi-byte characters.
pub fn parse_feed_with_content_type(
    source: &str,
    feed_url: &Url,
    body: &[u8],
    content_type: Option<&str>,
    fetched_at: DateTime<Utc>,
) -> Result<Vec<Mention>, FeedError> {
    let err = |detail: String| FeedError::Parse {
        url: feed_url.clone(),
        detail,
    };
    let text = decode(body, content_type.and_then(charset_of));
    let prepared = match first_significant_char(&text) {
        None => return Err(err("empty body".into())),
        Some('{') => text.into_owned(),
        Some('<') => prepare_xml(&text),
        Some(_) => {
            return Err(FeedError::NotAFeed {
                url: feed_url.clone(),
                detail: "the body is neither XML nor JSON".into(),
            });
        }
    };
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(feed_url.as_str()))
        .build();
    // feed-rs (through quick-xml) can panic on hostile XML (a second XML
    // declaration that switches the decoder, found by fuzzing): a panic
    // here is a parse error of this feed, never the end of its poll task.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parser.parse(prepared.as_bytes())
    }))
    .map_err(|_| err("the XML parser failed on this document (malformed XML)".into()))?;
    let feed = parsed.map_err(|e| describe_parse_error(feed_url, &e, &prepared))?;

    // What feed-rs does not keep, read from each item's XML; used only when
    // the items line up with the entries one to one.
    let mut extras = if prepared.starts_with('{') {
        Vec::new()
    } else {
        item_extras(&prepared)
    };
    if extras.len() != feed.entries.len() {
        extras.clear();
    }
    let mut extras = extras.into_iter();
    let mut seen = HashSet::new();
    let mut mentions = Vec::with_capacity(feed.entries.len());
    for entry in feed.entries {
        let extra = extras.next().unwrap_or_default();
        let Some(m) = entry_to_mention(source, feed_url, entry, extra, fetched_at) else {
            continue;
        };
        if seen.insert(m.id.clone()) {
            mentions.push(m);
        }
    }
    Ok(mentions)
}

/// What an item's own XML says that feed-rs does not keep.
#[derive(Debug, Default, PartialEq)]
struct ItemExtras {
    /// `feedburner:origLink`, canonical, http(s) only.
    orig_link: Option<String>,
    /// The first publication date element (`pubDate`, `dc:date`,
    /// `published`, `issued`, `dcterms:created`) that reads.
    published: Option<DateTime<Utc>>,
}

/// The items (`<item>`) or entries (`<entry>`) of a prepared XML feed, in
/// document order, with what feed-rs does not keep. Linear in the body.
fn item_extras(xml: &str) -> Vec<ItemExtras> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some((block, after)) = next_item(rest) {
        let orig_link = element_texts(block, "origLink")
            .find_map(|href| canonical_url(&unescape(href), None))
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
        let published = ["pubDate", "date", "published", "issued", "created"]
            .iter()
            .flat_map(|name| element_texts(block, name))
            .find_map(|t| super::dates::parse_machine_date(&unescape(t), chrono_tz::UTC));
        out.push(ItemExtras {
            orig_link,
            published,
        });
        rest = after;
    }
    out
}

/// The next `<item …>…</item>` or `<entry …>…</entry>` of `xml` (its inside)
/// and what follows it.
fn next_item(xml: &str) -> Option<(&str, &str)> {
    let mut from = 0;
    loop {
        let at = from + xml[from..].find('<')?;
        let tag = &xml[at + 1..];
        let name = ["item", "entry"].into_iter().find(|n| {
            tag.starts_with(n)
                && tag[n.len()..].starts_with(|c: char| c.is_whitespace() || c == '>')
        });
        let Some(name) = name else {
            from = at + 1;
            continue;
        };
        let open_end = at + xml[at..].find('>')? + 1;
        let close = format!("</{name}>");
        let end = open_end + xml[open_end..].find(&close)?;
        return Some((&xml[open_end..end], &xml[end + close.len()..]));
    }
}

/// The text of every element of `block` whose local name is `local`
/// (whatever its prefix), CDATA unwrapped, trimmed.
fn element_texts<'a>(block: &'a str, local: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let mut rest = block;
    std::iter::from_fn(move || {
        loop {
            let at = rest.find('<')?;
            let tag = &rest[at + 1..];
            rest = tag;
            let name_len = tag
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(tag.len());
            let name = &tag[..name_len];
            let local_name = name.rsplit(':').next().unwrap_or(name);
            if local_name != local || name.starts_with(['/', '!', '?']) {
                continue;
            }
            let open_end = tag.find('>')?;
            if tag[..open_end].ends_with('/') {
                continue;
            }
            let inner = &tag[open_end + 1..];
            let close = format!("</{name}>");
            let end = inner.find(&close)?;
            rest = &inner[end..];
            let text = inner[..end].trim();
            let text = text
                .strip_prefix("<![CDATA[")
                .and_then(|t| t.strip_suffix("]]>"))
                .unwrap_or(text);
            return Some(text.trim());
        }
    })
}

/// The five XML entities and numeric references, decoded.
fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    Cow::Owned(html_to_text(&s.replace('<', "&lt;")))
}

fn entry_to_mention(
    source: &str,
    feed_url: &Url,
    entry: feed_rs::model::Entry,
    extra: ItemExtras,
    fetched_at: DateTime<Utc>,
) -> Option<Mention> {
    let base = entry
        .base
        .as_deref()
        .and_then(|b| feed_url.join(b).ok())
        .unwrap_or_else(|| feed_url.clone());
    let url = extra
        .orig_link
        .or_else(|| entry_link(&entry, &base))
        .unwrap_or_default();
    let title = entry
        .title
        .as_ref()
        .map(|t| html_to_text(&t.content))
        .unwrap_or_default();
    let body = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .filter(|b| !b.trim().is_empty())
        .or_else(|| {
            entry
                .summary
                .as_ref()
                .map(|s| s.content.as_str())
                .filter(|s| !s.trim().is_empty())
        })
        .or_else(|| {
            entry
                .media
                .iter()
                .filter_map(|m| m.description.as_ref())
                .map(|d| d.content.as_str())
                .find(|d| !d.trim().is_empty())
        });
    let text = body.map(html_to_text).unwrap_or_default();
    if url.is_empty() && title.is_empty() && text.is_empty() {
        return None;
    }
    let author = entry
        .authors
        .iter()
        .filter_map(|p| p.name.as_deref())
        .map(html_to_text)
        .find(|n| !n.is_empty())
        .unwrap_or_default();
    let published = entry
        .published
        .or(extra.published)
        .or(entry.updated)
        .unwrap_or(fetched_at)
        .min(fetched_at);
    Some(Mention {
        id: id_for(&url, &title, &text),
        source: source.to_string(),
        url,
        title,
        text,
        author,
        author_followers: None,
        published,
        lang: None,
        sentiment: None,
        watches: Vec::new(),
    })
}

/// The entry's canonical link: the first `alternate` (or rel-less) link, else
/// any link that is not an enclosure, self, edit or replies link, else the
/// entry id when it is an http(s) URL (RSS `guid isPermaLink`).
fn entry_link(entry: &feed_rs::model::Entry, base: &Url) -> Option<String> {
    let canon = |href: &str| canonical_url(href, Some(base));
    let is_alternate = |rel: &Option<String>| {
        rel.as_deref()
            .is_none_or(|r| r.trim().is_empty() || r.eq_ignore_ascii_case("alternate"))
    };
    let is_other = |rel: &Option<String>| {
        !rel.as_deref().is_some_and(|r| {
            [
                "enclosure",
                "self",
                "edit",
                "replies",
                "hub",
                "license",
                "payment",
            ]
            .iter()
            .any(|x| r.eq_ignore_ascii_case(x))
        })
    };
    entry
        .links
        .iter()
        .filter(|l| is_alternate(&l.rel))
        .chain(entry.links.iter().filter(|l| is_other(&l.rel)))
        .find_map(|l| canon(&l.href))
        .or_else(|| {
            let id = entry.id.trim();
            (id.starts_with("http://") || id.starts_with("https://"))
                .then(|| canon(id))
                .flatten()
        })
}

/// The first character that is not whitespace or a BOM.
fn first_significant_char(s: &str) -> Option<char> {
    s.chars().find(|c| !c.is_whitespace() && *c != '\u{feff}')
}

/// The `charset` parameter of a Content-Type header value.
pub(super) fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']))
    })
}

/// How many leading bytes are searched for the XML declaration.
const DECL_WINDOW: usize = 1024;

/// The encoding label in the XML declaration, read as ASCII.
fn declared_encoding(body: &[u8]) -> Option<&'static Encoding> {
    let head = &body[..body.len().min(DECL_WINDOW)];
    let start = find(head, b"<?xml")?;
    let end = start + find(&head[start..], b"?>")?;
    let decl = &head[start..end];
    let at = find(decl, b"encoding")? + "encoding".len();
    let rest = &decl[at..];
    let rest = &rest[rest.iter().position(|b| *b == b'=')? + 1..];
    let rest = rest.trim_ascii_start();
    let quote = *rest.first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let len = rest[1..].iter().position(|b| *b == quote)?;
    Encoding::for_label(&rest[1..1 + len])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a feed body to UTF-8: BOM, else a non-UTF-8 encoding declared by
/// the XML declaration or the HTTP charset (unless the body is valid UTF-8
/// with multi-byte characters), else UTF-8 when the bytes are
/// mostly valid UTF-8 (each invalid sequence becomes U+FFFD, so one bad byte
/// does not re-decode the whole document), else a statistical guess. A
/// declared UTF-16 without a BOM is ignored (we could read the declaration as
/// ASCII, so it is not UTF-16).
pub(super) fn decode<'a>(body: &'a [u8], http_charset: Option<&str>) -> Cow<'a, str> {
    if let Some((enc, bom_len)) = Encoding::for_bom(body) {
        return enc.decode_without_bom_handling(&body[bom_len..]).0;
    }
    let not_utf16 =
        |e: &&'static Encoding| *e != encoding_rs::UTF_16LE && *e != encoding_rs::UTF_16BE;
    let declared = declared_encoding(body).filter(not_utf16).or_else(|| {
        http_charset
            .and_then(|c| Encoding::for_label(c.as_bytes()))
            .filter(not_utf16)
    });
    match declared {
        // A body that is valid UTF-8 and uses it (a multi-byte character)
        // is UTF-8 whatever a server default or a generator template says:
        // Latin-1 text is valid UTF-8 only when it has no accent at all.
        Some(enc) if enc != UTF_8 && !uses_utf8(body) => enc.decode_without_bom_handling(body).0,
        // "utf-8" is also what servers and generators write by default; when
        // the bytes disagree (no valid multi-byte character, invalid bytes),
        // believe the bytes, as when nothing is declared.
        _ if is_mostly_utf8(body) => String::from_utf8_lossy(body),
        _ => {
            let mut detector =
                chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
            detector.feed(body, true);
            // Not mostly UTF-8, so UTF-8 is not a candidate.
            let enc = detector.guess(None, chardetng::Utf8Detection::Deny);
            enc.decode_without_bom_handling(body).0
        }
    }
}

/// Whether `body` is valid UTF-8 with at least one multi-byte character.
fn uses_utf8(body: &[u8]) -> bool {
    body.iter().any(|b| *b >= 0x80) && std::str::from_utf8(body).is_ok()
}

/// Whether `body` is UTF-8 with at most a few invalid sequences: valid, or
/// holding more valid multi-byte characters than invalid sequences. A
/// Latin-1 or windows-1252 document almost never forms a valid multi-byte
/// UTF-8 character (`é` is one byte, never followed by a continuation byte),
/// so it fails this test as soon as it has one accented letter; a UTF-8
/// document damaged by a few stray bytes passes it.
fn is_mostly_utf8(body: &[u8]) -> bool {
    let (mut multibyte, mut invalid) = (0usize, 0usize);
    let mut rest = body;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                multibyte += valid.bytes().filter(|b| *b >= 0xc0).count();
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                multibyte += valid.iter().filter(|b| **b >= 0xc0).count();
                invalid += 1;
                match e.error_len() {
                    Some(len) => rest = &after[len..],
                    // Cut short at the end: one more invalid sequence.
                    None => break,
                }
            }
        }
    }
    invalid == 0 || multibyte > invalid
}

/// Makes decoded XML digestible for a strict parser: drops everything before
/// the first element except comments and processing instructions (the XML
/// declaration included, since the text is UTF-8 now), escapes bare `&`, and
/// replaces numeric references to characters XML forbids. CDATA sections,
/// comments and processing instructions are copied as they are.
fn prepare_xml(text: &str) -> String {
    let text = drop_xml_declarations(text);
    let text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    // Prolog: keep comments, PIs and the doctype (the XML declarations are
    // gone already).
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("<!--") {
            match after.find("-->") {
                Some(end) => rest = &after[end + 3..],
                None => break,
            }
        } else if rest.starts_with("<?") {
            match rest.find("?>") {
                Some(end) => {
                    out.push_str(&rest[..end + 2]);
                    rest = &rest[end + 2..];
                }
                None => break,
            }
        } else if rest.starts_with("<!DOCTYPE") || rest.starts_with("<!doctype") {
            // Copied whole, internal subset included (`[ … ]>`).
            let end = match (rest.find('['), rest.find('>')) {
                (Some(open), Some(close)) if open < close => rest.find("]>").map(|i| i + 2),
                (_, close) => close.map(|i| i + 1),
            };
            match end {
                Some(end) => {
                    out.push_str(&rest[..end]);
                    rest = &rest[end..];
                }
                None => break,
            }
        } else {
            break;
        }
    }
    // `<rss>` without `version` is common in the wild; feed-rs only
    // recognises RSS 2.0 by it.
    if let Some(after) = rest.strip_prefix("<rss")
        && after.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/')
        && !after[..after.find('>').unwrap_or(after.len())].contains("version")
    {
        out.push_str("<rss version=\"2.0\"");
        rest = after;
    }
    while let Some(pos) = rest.find(['&', '<']) {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        if rest.starts_with('<') {
            let verbatim = [("<![CDATA[", "]]>"), ("<!--", "-->"), ("<?", "?>")]
                .iter()
                .find(|(open, _)| rest.starts_with(open));
            match verbatim {
                Some((open, close)) => {
                    // An unterminated section is copied whole: the parser
                    // reports it.
                    let end = rest[open.len()..]
                        .find(close)
                        .map_or(rest.len(), |i| open.len() + i + close.len());
                    out.push_str(&rest[..end]);
                    rest = &rest[end..];
                }
                None => {
                    out.push('<');
                    rest = &rest[1..];
                }
            }
        } else {
            let consumed = push_reference(&mut out, rest);
            rest = &rest[consumed..];
        }
    }
    out.push_str(rest);
    out
}

/// Drops every XML declaration of `text`, wherever it is: the text is
/// decoded already, so none has anything left to say, and one after the
/// first (two feeds pasted together, or hidden where this module and the
/// parser split markup differently: inside a tag, a comment, a PI) with an
/// `encoding` makes feed-rs switch quick-xml's decoder mid-document, which
/// panics (two finds of the `feed` fuzz target). A declaration is what
/// quick-xml takes for one: `<?xml` then XML whitespace, or `<?xml?>`, up
/// to the first `?>` (`<?xml-stylesheet …?>` is another processing
/// instruction and stays). An unterminated one never becomes an event and
/// stays; where a dropped one leaves a start of `<?xml` just before text
/// that would complete a new one, a space keeps them apart.
fn drop_xml_declarations(text: &str) -> Cow<'_, str> {
    const OPEN: &str = "<?xml";
    let starts_declaration =
        |after: &str| after.starts_with([' ', '\t', '\r', '\n']) || after.starts_with("?>");
    let mut out = String::new();
    let mut rest = text;
    let mut changed = false;
    while let Some(pos) = rest.find(OPEN) {
        let after = &rest[pos + OPEN.len()..];
        let end = if starts_declaration(after) {
            after.find("?>").map(|i| pos + OPEN.len() + i + 2)
        } else {
            None
        };
        let Some(end) = end else {
            if starts_declaration(after) {
                // No `?>` after it: no declaration can end from here on.
                break;
            }
            // Not a declaration: kept.
            out.push_str(&rest[..pos + 1]);
            rest = &rest[pos + 1..];
            continue;
        };
        changed = true;
        out.push_str(&rest[..pos]);
        rest = &rest[end..];
        if (1..OPEN.len()).any(|n| out.ends_with(&OPEN[..n])) {
            out.push(' ');
        }
    }
    if !changed {
        return Cow::Borrowed(text);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Copies the reference at the start of `s` (which starts with `&`) into
/// `out`, repaired if needed, and returns how many bytes of `s` it consumed.
fn push_reference(out: &mut String, s: &str) -> usize {
    const MAX_NAME: usize = 32;
    let body = &s[1..];
    let end = body
        .char_indices()
        .take(MAX_NAME + 1)
        .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '#' | '_' | '-' | '.' | ':')))
        .filter(|(_, c)| *c == ';')
        .map(|(i, _)| i);
    let Some(end) = end else {
        out.push_str("&amp;");
        return 1;
    };
    let name = &body[..end];
    let numeric = name
        .strip_prefix('#')
        .map(|n| match n.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => n.parse::<u32>().ok(),
        });
    match numeric {
        Some(None) => {
            out.push_str("&amp;");
            return 1;
        }
        Some(Some(code)) => {
            let ok =
                char::from_u32(code).is_some_and(|c| matches!(c, '\t' | '\n' | '\r') || c >= ' ');
            if ok {
                out.push_str(&s[..end + 2]);
            } else {
                out.push('\u{fffd}');
            }
        }
        None if name.is_empty() || !name.starts_with(|c: char| c.is_alphabetic() || c == '_') => {
            out.push_str("&amp;");
            return 1;
        }
        // Named: the five XML ones resolve, others are kept as text by
        // feed-rs and decoded later as HTML.
        None => out.push_str(&s[..end + 2]),
    }
    end + 2
}

/// Turns a feed-rs error into a message that says what to look at.
fn describe_parse_error(url: &Url, e: &feed_rs::parser::ParseFeedError, body: &str) -> FeedError {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    if let ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) = e {
        let head: String = body
            .chars()
            .take(256)
            .collect::<String>()
            .to_ascii_lowercase();
        let detail = if head.contains("<html") || head.contains("<!doctype html") {
            "the server sent an HTML page (check the source URL)"
        } else if head.contains("<rss") {
            "an rss document without a channel"
        } else {
            "no rss, rdf, atom or json feed root element"
        };
        return FeedError::NotAFeed {
            url: url.clone(),
            detail: detail.into(),
        };
    }
    FeedError::Parse {
        url: url.clone(),
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(prepare_xml(input), expected, "prepare_xml({input:?})");
    }

    #[test]
    fn xml_is_repaired_before_parsing() {
        let table = [
            ("<rss/>", "<rss version=\"2.0\"/>"),
            ("<feed/>", "<feed/>"),
            (
                "\n\n  <?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<feed/>",
                "<feed/>",
            ),
            ("\u{feff}<?xml version='1.0'?><feed/>", "<feed/>"),
            ("<!-- hi --><?xml version='1.0'?><feed/>", "<feed/>"),
            (
                "<?xml version='1.0'?><?xml-stylesheet href='a.xsl'?><feed/>",
                "<?xml-stylesheet href='a.xsl'?><feed/>",
            ),
            ("<t>AT&T &amp; R&D</t>", "<t>AT&amp;T &amp; R&amp;D</t>"),
            ("<t>a & b &&</t>", "<t>a &amp; b &amp;&amp;</t>"),
            ("<t>caf&eacute;</t>", "<t>caf&eacute;</t>"),
            (
                "<t>&#233;&#xE9;&#0;&#x1;&#xD800;&#99999999;</t>",
                "<t>&#233;&#xE9;\u{fffd}\u{fffd}\u{fffd}\u{fffd}</t>",
            ),
            ("<a href=\"/x?a=1&b=2\"/>", "<a href=\"/x?a=1&amp;b=2\"/>"),
            (
                "<t><![CDATA[a & b &amp;]]></t>",
                "<t><![CDATA[a & b &amp;]]></t>",
            ),
            ("<t><!-- & --></t>", "<t><!-- & --></t>"),
            ("<t><![CD", "<t><![CD"),
            ("<t><![CDATA[never closed", "<t><![CDATA[never closed"),
            ("<t>&;&#;&1x;</t>", "<t>&amp;;&amp;#;&amp;1x;</t>"),
            ("<!-- c -->\n<rss>\n</rss>", "<rss version=\"2.0\">\n</rss>"),
            (
                "<rss xmlns:dc=\"x\"/>",
                "<rss version=\"2.0\" xmlns:dc=\"x\"/>",
            ),
            ("<rss version=\"0.91\">", "<rss version=\"0.91\">"),
            ("<rssfeed>", "<rssfeed>"),
            (
                "<!DOCTYPE rss [<!ENTITY a \"b\">]><rss>",
                "<!DOCTYPE rss [<!ENTITY a \"b\">]><rss version=\"2.0\">",
            ),
            // Every declaration goes, wherever it is: between feeds, inside
            // a tag, a PI or a comment as this module splits markup.
            (
                "<feed/><?xml version='1.0' encoding='utf-16'?><feed/>",
                "<feed/><feed/>",
            ),
            (
                "<t><ite\0<?x\u{ed}l </t><?xml version='1.0' encoding='iso-8859-1'?><u/>",
                "<t><ite\0<?x\u{ed}l </t><u/>",
            ),
            ("<t><!-- <?xml?> --></t>", "<t><!--  --></t>"),
            ("<t><?xml\tencoding='x'?></t>", "<t></t>"),
            // A drop that would join a new declaration leaves a space.
            (
                "<t><?x<?xml ?>ml encoding='x'?></t>",
                "<t><?x ml encoding='x'?></t>",
            ),
            ("<t><?xmlish?><?XML ?></t>", "<t><?xmlish?><?XML ?></t>"),
            ("<t><?xml never closed", "<t><?xml never closed"),
        ];
        for (input, expected) in table {
            check(input, expected);
        }
    }

    #[test]
    fn items_are_scanned_for_what_feed_rs_drops() {
        let xml = r#"<rss><channel><items/><item><title>a</title>
            <pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate><dc:date>not a date</dc:date>
            <feedburner:origLink>https://example.org/a?x=1&amp;y=2</feedburner:origLink></item>
            <item ><dc:date><![CDATA[2026-03-01T09:00:00+01:00]]></dc:date>
            <feedburner:origLink>javascript:alert(1)</feedburner:origLink></item>
            <entry><published>garbage</published><updated>2026-03-03T00:00:00Z</updated></entry>
            </channel></rss>"#;
        let got = item_extras(xml);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(
            got[0].orig_link.as_deref(),
            Some("https://example.org/a?x=1&y=2")
        );
        assert_eq!(
            got[0].published,
            Some("2026-03-02T10:00:00Z".parse().unwrap())
        );
        assert_eq!(got[1].orig_link, None);
        assert_eq!(
            got[1].published,
            Some("2026-03-01T08:00:00Z".parse().unwrap())
        );
        assert_eq!(got[2], ItemExtras::default());
        assert!(item_extras("<item><title>cut").is_empty());
    }

    /// Regression: a good `pubDate` beside a broken `dc:date` was stamped
    /// with the fetch time (old posts counted as fresh volume); FeedBurner's
    /// item link is its own redirect, `feedburner:origLink` the article.
    #[test]
    fn valid_pubdate_survives_a_broken_dc_date_and_origlink_is_the_url() {
        let now: DateTime<Utc> = "2026-03-10T00:00:00Z".parse().unwrap();
        let url = Url::parse("https://feeds.feedburner.com/acme-blog").unwrap();
        let rss = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0">
<channel><title>Acme blog</title><link>https://blog.example.org/</link><description>d</description>
<item><title>Old post</title><link>https://feeds.feedburner.com/~r/acme-blog/~3/abc/</link>
<pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate><dc:date>2026-13-45 99:99</dc:date>
<feedburner:origLink>https://blog.example.org/2026/03/old-post?utm_source=feedburner</feedburner:origLink></item>
<item><title>Both broken</title><link>https://blog.example.org/b</link>
<pubDate>yesterday-ish</pubDate><dc:date>soon</dc:date></item>
<item><title>Bad first</title><link>https://blog.example.org/c</link>
<dc:date>not a date</dc:date><pubDate>Tue, 03 Mar 2026 08:00:00 +0100</pubDate></item>
</channel></rss>"#;
        let got = parse_feed("blog", &url, rss.as_bytes(), now).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].url, "https://blog.example.org/2026/03/old-post");
        assert_eq!(got[0].id, id_for(&got[0].url, "", ""));
        assert_eq!(
            got[0].published,
            "2026-03-02T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        // Nothing readable: the fetch time, as before.
        assert_eq!(got[1].published, now);
        assert_eq!(
            got[2].published,
            "2026-03-03T07:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn encodings_are_detected() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>\xe9t\xe9</t>";
        assert!(decode(latin1, None).contains("été"));
        // Declared UTF-8 but Latin-1 bytes: the bytes win.
        let lying =
            b"<?xml version=\"1.0\" encoding=\"utf-8\"?><t>caf\xe9 cr\xe8me br\xfbl\xe9e</t>";
        assert!(decode(lying, None).contains("café"));
        // No declaration, HTTP charset.
        assert!(decode(b"<t>\xe9</t>", Some("iso-8859-1")).contains('é'));
        // Bogus label: ignored.
        let bogus = "<?xml version=\"1.0\" encoding=\"bogus\"?><t>été</t>";
        assert!(decode(bogus.as_bytes(), None).contains("été"));
        // UTF-16LE with BOM.
        let mut utf16 = vec![0xff, 0xfe];
        for u in "<t>été</t>".encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode(&utf16, None), "<t>été</t>");
        // UTF-8 with one stray byte stays UTF-8, declared or not: only the
        // bad byte is replaced.
        let stray = "<t>Café Télécom \u{1}</t>".replace('\u{1}', "\u{fffd}");
        let mut damaged = "<t>Café Télécom ".as_bytes().to_vec();
        damaged.extend_from_slice(b"\xff</t>");
        assert_eq!(decode(&damaged, None), stray);
        assert_eq!(decode(&damaged, Some("utf-8")), stray);
        let declared = [
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>".as_slice(),
            &damaged,
        ]
        .concat();
        assert!(decode(&declared, None).ends_with(&stray));
        // Valid UTF-8 declared Latin-1 (a server's default charset, a
        // template's declaration): the bytes win.
        let utf8 = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>Café</t>";
        assert!(decode(utf8.as_bytes(), None).ends_with("<t>Café</t>"));
        assert_eq!(
            decode("<t>Café</t>".as_bytes(), Some("iso-8859-1")),
            "<t>Café</t>"
        );
        // Pure ASCII declared Latin-1 reads the same either way.
        assert_eq!(decode(b"<t>Cafe</t>", Some("iso-8859-1")), "<t>Cafe</t>");
        // A sequence cut short at the very end is one bad sequence.
        let cut = [&damaged[..damaged.len() - 5], b"\xc3".as_slice()].concat();
        assert_eq!(decode(&cut, None), "<t>Café Télécom \u{fffd}");
        assert_eq!(
            charset_of("text/xml; charset=\"ISO-8859-1\""),
            Some("ISO-8859-1")
        );
        assert_eq!(charset_of("application/rss+xml"), None);
    }
}
