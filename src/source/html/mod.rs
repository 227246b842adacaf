//! `kind = "html"`: any forum or web page read with CSS selectors, and the
//! presets for phpBB, XenForo, vBulletin and Discourse (`presets.rs`).
//!
//! Owns the kind's config ([`HtmlConfig`]: `url`, `preset` or the selectors
//! `item`, `title`, `body` (alias `text`), `author`, `link`, `date`, `next`,
//! each a `selector`, `selector@attribute`, `@attribute` (the item itself)
//! or a list of those tried in order; `max_pages`, `timezone`,
//! `date_format`), the pure [`parse_document`] (a page's bytes → its
//! [`Item`]s and next page URL) and the poll: a GET of the first page
//! (conditional when it is the only page read), then up to `max_pages`
//! following `next`, each through the
//! shared client (robots.txt honoured: this is a crawl).
//!
//! Rules: the page's charset is the HTTP header's, else its `<meta
//! charset>` / `http-equiv`, decoded by the feed path's decoder (which also
//! believes the bytes when they are plainly UTF-8); links resolve against
//! `<base href>` and the page URL, keep only http(s), drop session
//! parameters (`sid`, `s`, `PHPSESSID`) and keep the fragment when it is
//! what tells posts apart (`#p453`); an item without a link is the page URL
//! with the item's `id` as fragment; dates are read by `dates.rs` in
//! `timezone` (or with `date_format`), else the fetch time, never later than
//! it; an item without a title of its own takes the page's `<title>` (a
//! forum post's topic). A page after the first that fails ends the crawl with the
//! pages before it kept.
//!
//! Deliberately not here: politeness (`http/`), reading dates
//! (`dates.rs`), deciding what is new (the store).
//!
//! Invariants: [`parse_document`] is pure and never panics; at most
//! [`MAX_ITEMS_PER_PAGE`] items a page and [`MAX_PAGES`] pages a poll.

mod presets;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use scraper::{ElementRef, Html, Selector};
use serde::Deserialize;
use toml::Spanned;
use tracing::warn;
use url::Url;

use super::http::{Fetched, HttpClient, Request};
use super::{Cursor, Poll, SourceConfig, SourceError};
use crate::config::Parser;
use crate::mention::{Mention, id_for};
use crate::normalize::{canonical_url, html_to_text};

/// Pages read in one poll at most, whatever `max_pages` says.
pub const MAX_PAGES: u32 = 50;
/// Pages read in one poll when `max_pages` is not given.
pub const DEFAULT_MAX_PAGES: u32 = 1;
/// Items taken from one page at most (a forum page shows 10 to 50 posts).
pub const MAX_ITEMS_PER_PAGE: usize = 500;
/// What an html source asks for.
const ACCEPT_HTML: &str = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5";
/// Query parameters that carry a visitor's session, not the page.
const SESSION_PARAMS: &[&str] = &["sid", "phpsessid", "sessionid", "jsessionid"];

/// One field: the first element matching `selector` in the item (or the
/// item itself when `selector` is `None`), its `attr` or its text.
#[derive(Debug, Clone)]
pub struct Field {
    selector: Option<Selector>,
    attr: Option<String>,
}

impl Field {
    /// Parses `selector`, `selector@attr` or `@attr`.
    pub fn parse(spec: &str) -> Result<Field, String> {
        let spec_trim = spec.trim();
        let (sel, attr) = match spec_trim.rfind('@') {
            // An `@` inside brackets belongs to an attribute selector value.
            Some(at) if !spec_trim[at..].contains(']') => {
                (&spec_trim[..at], Some(spec_trim[at + 1..].trim()))
            }
            _ => (spec_trim, None),
        };
        if attr.is_some_and(|a| a.is_empty() || a.contains(char::is_whitespace)) {
            return Err(format!(
                "invalid attribute in `{spec}`: write `selector@attribute`"
            ));
        }
        let sel = sel.trim();
        let selector = if sel.is_empty() {
            if attr.is_none() {
                return Err("empty selector".into());
            }
            None
        } else {
            Some(Selector::parse(sel).map_err(|e| format!("invalid CSS selector `{sel}`: {e}"))?)
        };
        Ok(Field {
            selector,
            attr: attr.map(str::to_string),
        })
    }

    /// The field's value in `scope`, trimmed; `None` when nothing matches
    /// or the value is empty.
    fn value(&self, scope: ElementRef<'_>) -> Option<String> {
        let el = match &self.selector {
            Some(sel) => scope.select(sel).next()?,
            None => scope,
        };
        let v = match &self.attr {
            Some(a) => crate::normalize::collapse_whitespace(el.value().attr(a)?),
            None => html_to_text(&el.inner_html()),
        };
        (!v.is_empty()).then_some(v)
    }
}

/// The first value of `fields` in `scope`.
fn first(fields: &[Field], scope: ElementRef<'_>) -> Option<String> {
    fields.iter().find_map(|f| f.value(scope))
}

/// `kind = "html"`: the keys of an html source beyond those every source
/// takes.
#[derive(Debug, Clone)]
pub struct HtmlConfig {
    /// The first page (http or https).
    pub url: Url,
    /// The preset the selectors come from, if any.
    pub preset: Option<&'static str>,
    /// One element per item (post, comment, result).
    pub item: Selector,
    pub title: Vec<Field>,
    pub body: Vec<Field>,
    pub author: Vec<Field>,
    pub link: Vec<Field>,
    pub date: Vec<Field>,
    /// The next page's URL, searched in the whole page.
    pub next: Vec<Field>,
    /// Pages read per poll, the first included (1 to [`MAX_PAGES`]).
    pub max_pages: u32,
    /// The forum's time zone, for dates printed without one.
    pub timezone: Tz,
    /// A chrono format (`%d/%m/%Y %H:%M`) for dates, instead of guessing.
    pub date_format: Option<String>,
}

impl HtmlConfig {
    /// A config from a preset, for `url`, in `timezone` (the conformance
    /// command and tests); `None` for an unknown preset.
    pub fn from_preset(url: Url, preset: &str, timezone: Tz) -> Option<HtmlConfig> {
        let p = presets::preset(preset)?;
        let fields = |specs: &[&str]| specs.iter().filter_map(|s| Field::parse(s).ok()).collect();
        Some(HtmlConfig {
            url,
            preset: Some(p.name),
            item: Selector::parse(p.item).ok()?,
            title: fields(p.title),
            body: fields(p.body),
            author: fields(p.author),
            link: fields(p.link),
            date: fields(p.date),
            next: fields(p.next),
            max_pages: DEFAULT_MAX_PAGES,
            timezone,
            date_format: None,
        })
    }

    /// The preset names.
    pub fn presets() -> impl Iterator<Item = &'static str> {
        presets::PRESETS.iter().map(|p| p.name)
    }
}

/// A selector key: one spec or a list of fallbacks.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Specs {
    One(String),
    Many(Vec<String>),
}

impl Specs {
    fn list(&self) -> Vec<&str> {
        match self {
            Specs::One(s) => vec![s.as_str()],
            Specs::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// An html source's own keys, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHtml {
    url: Option<Spanned<String>>,
    preset: Option<Spanned<String>>,
    item: Option<Spanned<String>>,
    title: Option<Spanned<Specs>>,
    #[serde(alias = "text")]
    body: Option<Spanned<Specs>>,
    author: Option<Spanned<Specs>>,
    link: Option<Spanned<Specs>>,
    date: Option<Spanned<Specs>>,
    next: Option<Spanned<Specs>>,
    max_pages: Option<Spanned<i64>>,
    timezone: Option<Spanned<String>>,
    date_format: Option<Spanned<String>>,
}

impl HtmlConfig {
    /// Validates an html source's own keys; `name` is the source's, for
    /// messages. A key given beside a preset replaces the preset's.
    pub(crate) fn parse(
        p: &mut Parser<'_>,
        name: &Spanned<String>,
        raw: RawHtml,
    ) -> Option<HtmlConfig> {
        let url = p.required(&raw.url, name, "source", "url");
        let url = url.and_then(|u| p.url(u, &["http", "https"]));
        let timezone = match &raw.timezone {
            None => Some(Tz::UTC),
            Some(tz) => match tz.get_ref().parse::<Tz>() {
                Ok(t) => Some(t),
                Err(_) => {
                    p.err(
                        tz,
                        format!(
                            "unknown time zone `{}`: give an IANA name such as `Europe/Paris`",
                            tz.get_ref()
                        ),
                    );
                    None
                }
            },
        };
        let mut cfg = match &raw.preset {
            Some(name_) => match presets::preset(name_.get_ref()) {
                Some(_) => HtmlConfig::from_preset(
                    url.clone()?,
                    name_.get_ref(),
                    timezone.unwrap_or(Tz::UTC),
                ),
                None => {
                    let names: Vec<_> = HtmlConfig::presets().collect();
                    p.err(
                        name_,
                        format!(
                            "unknown preset `{}`: expected {}",
                            name_.get_ref(),
                            names.join(", ")
                        ),
                    );
                    return None;
                }
            },
            None => {
                if raw.item.is_none() {
                    p.err(
                        name,
                        format!(
                            "source `{}` needs `preset` ({}) or an `item` selector",
                            name.get_ref(),
                            HtmlConfig::presets().collect::<Vec<_>>().join(", ")
                        ),
                    );
                    return None;
                }
                Some(HtmlConfig {
                    url: url.clone()?,
                    preset: None,
                    item: Selector::parse("*").ok()?,
                    title: Vec::new(),
                    body: Vec::new(),
                    author: Vec::new(),
                    link: vec![Field::parse("@id").ok()?],
                    date: Vec::new(),
                    next: Vec::new(),
                    max_pages: DEFAULT_MAX_PAGES,
                    timezone: timezone.unwrap_or(Tz::UTC),
                    date_format: None,
                })
            }
        }?;
        let mut ok = url.is_some() && timezone.is_some();
        if let Some(item) = &raw.item {
            match Selector::parse(item.get_ref()) {
                Ok(s) => cfg.item = s,
                Err(e) => {
                    p.err(
                        item,
                        format!("invalid CSS selector `{}`: {e}", item.get_ref()),
                    );
                    ok = false;
                }
            }
        }
        let slots: [(&Option<Spanned<Specs>>, &mut Vec<Field>); 6] = [
            (&raw.title, &mut cfg.title),
            (&raw.body, &mut cfg.body),
            (&raw.author, &mut cfg.author),
            (&raw.link, &mut cfg.link),
            (&raw.date, &mut cfg.date),
            (&raw.next, &mut cfg.next),
        ];
        for (spec, slot) in slots {
            let Some(spec) = spec else { continue };
            let mut fields = Vec::new();
            for s in spec.get_ref().list() {
                match Field::parse(s) {
                    Ok(f) => fields.push(f),
                    Err(e) => {
                        p.err(spec, e);
                        ok = false;
                    }
                }
            }
            *slot = fields;
        }
        match &raw.max_pages {
            Some(n) if (1..=i64::from(MAX_PAGES)).contains(n.get_ref()) => {
                cfg.max_pages = u32::try_from(*n.get_ref()).unwrap_or(MAX_PAGES);
            }
            Some(n) => {
                p.err(n, format!("`max_pages` must be between 1 and {MAX_PAGES}"));
                ok = false;
            }
            // A preset or a `next` selector follows a few pages.
            None if !cfg.next.is_empty() && raw.next.is_some() => cfg.max_pages = 5,
            None => {}
        }
        if let Some(f) = &raw.date_format {
            if f.get_ref().trim().is_empty() || !f.get_ref().contains('%') {
                p.err(
                    f,
                    "`date_format` is a chrono format such as `%d/%m/%Y %H:%M`",
                );
                ok = false;
            } else {
                cfg.date_format = Some(f.get_ref().clone());
            }
        }
        ok.then_some(cfg)
    }
}

/// One item of a page, before it is a [`Mention`].
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Canonical http(s) URL (its fragment kept), or empty.
    pub url: String,
    pub title: String,
    pub text: String,
    pub author: String,
    /// As read from the page; `None` when there was no date or it could not
    /// be read.
    pub published: Option<DateTime<Utc>>,
}

impl Item {
    /// The mention of `source`, published at the item's date or `now`,
    /// never later than `now`.
    pub fn into_mention(self, source: &str, now: DateTime<Utc>) -> Mention {
        Mention {
            id: id_for(&self.url, &self.title, &self.text),
            source: source.to_string(),
            url: self.url,
            title: self.title,
            text: self.text,
            author: self.author,
            author_followers: None,
            published: self.published.unwrap_or(now).min(now),
            lang: None,
            sentiment: None,
            watches: Vec::new(),
        }
    }
}

/// What one page holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// The next page, resolved, http(s) only.
    pub next: Option<Url>,
}

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// Nothing on the page matches the item selector: the selector or the
    /// preset does not fit this page.
    #[error("no element of {shown} matches the item selector{preset}; check `item` or `preset`", shown = crate::notify::redact::for_log(.url))]
    NoItems { url: Url, preset: String },
    /// The body is empty.
    #[error("the page {shown} is empty", shown = crate::notify::redact::for_log(.url))]
    Empty { url: Url },
    /// The parser's task died (a bug): the page is skipped.
    #[error("cannot parse the page {shown}: {detail}", shown = crate::notify::redact::for_log(.url))]
    Crashed { url: Url, detail: String },
}

impl HtmlError {
    /// A short fixed label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        "parse"
    }

    /// A page that does not fit its selectors stays so until the config
    /// changes; an empty one may be a hiccup.
    pub fn is_retryable(&self) -> bool {
        matches!(self, HtmlError::Empty { .. } | HtmlError::Crashed { .. })
    }
}

/// Parses one page: its items and the next page's URL. `base` is the page's
/// URL (after redirects), `content_type` its HTTP `Content-Type`, `now` the
/// fetch time (relative dates count from it). Pure; never panics.
pub fn parse_document(
    bytes: &[u8],
    content_type: Option<&str>,
    base: &Url,
    config: &HtmlConfig,
    now: DateTime<Utc>,
) -> Result<Page, HtmlError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(HtmlError::Empty { url: base.clone() });
    }
    let charset = content_type
        .and_then(super::feed::charset_of)
        .map(str::to_string)
        .or_else(|| meta_charset(bytes));
    let text = super::feed::decode(bytes, charset.as_deref());
    let doc = Html::parse_document(&text);
    let root = doc.root_element();
    let base = document_base(&doc, base);
    let page_title = Selector::parse("title")
        .ok()
        .and_then(|s| doc.select(&s).next())
        .map(|t| html_to_text(&t.inner_html()))
        .unwrap_or_default();
    let mut seen = HashSet::new();
    let mut items = Vec::new();
    let mut matched = false;
    for el in doc.select(&config.item).take(MAX_ITEMS_PER_PAGE) {
        matched = true;
        let text = first(&config.body, el).unwrap_or_default();
        let title = first(&config.title, el).unwrap_or_else(|| page_title.clone());
        if text.is_empty() && title.is_empty() {
            continue;
        }
        let url = first(&config.link, el)
            .and_then(|l| item_url(&l, &base))
            .unwrap_or_default();
        let author = first(&config.author, el).unwrap_or_default();
        let published = first(&config.date, el).and_then(|d| match &config.date_format {
            Some(f) => super::dates::parse_with_format(&d, f, config.timezone),
            None => super::dates::parse_forum_date(&d, config.timezone, now),
        });
        let item = Item {
            url,
            title,
            text,
            author,
            published,
        };
        if seen.insert(id_for(&item.url, &item.title, &item.text)) {
            items.push(item);
        }
    }
    if !matched {
        return Err(HtmlError::NoItems {
            url: base.clone(),
            preset: config
                .preset
                .map(|p| format!(" of preset `{p}`"))
                .unwrap_or_default(),
        });
    }
    let next = first(&config.next, root)
        .and_then(|n| base.join(&n).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|mut u| {
            u.set_fragment(None);
            u
        });
    Ok(Page { items, next })
}

/// The document's `<base href>` resolved against `url`, when it is http(s);
/// else `url`.
fn document_base(doc: &Html, url: &Url) -> Url {
    Selector::parse("base[href]")
        .ok()
        .and_then(|s| doc.select(&s).next())
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| url.join(h.trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .unwrap_or_else(|| url.clone())
}

/// An item's link resolved against `base`: http(s) only, session parameters
/// dropped, canonical, its fragment kept (forums tell posts apart by it).
/// A bare `id` (the `@id` fallback) becomes `base#id`.
fn item_url(link: &str, base: &Url) -> Option<String> {
    let link = link.trim();
    let looks_like_id = !link.contains(['/', '.', '?', '#', ':']);
    let mut url = if looks_like_id {
        let mut u = base.clone();
        u.set_fragment(Some(link));
        u
    } else {
        base.join(link).ok()?
    };
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let fragment = url.fragment().map(str::to_string);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, v)| {
            let k = k.to_ascii_lowercase();
            let vb_session = k == "s" && v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit());
            !SESSION_PARAMS.contains(&k.as_str()) && !vb_session
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if url.query().is_some() {
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    let mut canon = canonical_url(url.as_str(), None)?;
    if let Some(f) = fragment.filter(|f| !f.is_empty()) {
        canon.push('#');
        canon.push_str(&f);
    }
    Some(canon)
}

/// How many leading bytes are searched for `<meta charset>`.
const META_WINDOW: usize = 4096;

/// The charset a page declares in its head: `<meta charset="…">` or
/// `<meta http-equiv="Content-Type" content="…; charset=…">`.
fn meta_charset(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(META_WINDOW)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let mut rest = head.as_str();
    while let Some(at) = rest.find("<meta") {
        let tag = &rest[at..];
        let end = tag.find('>').unwrap_or(tag.len());
        let tag_text = &tag[..end];
        if let Some(c) = tag_text.find("charset") {
            let after = tag_text[c + "charset".len()..].trim_start();
            if let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start().trim_start_matches(['"', '\'']);
                let len = v
                    .find(|ch: char| {
                        matches!(ch, '"' | '\'' | ';' | '/' | '>') || ch.is_whitespace()
                    })
                    .unwrap_or(v.len());
                let label = &v[..len];
                if encoding_rs::Encoding::for_label(label.as_bytes()).is_some() {
                    return Some(label.to_string());
                }
            }
        }
        rest = &tag[end.min(tag.len())..];
        if rest.len() == tag.len() {
            break;
        }
    }
    None
}

/// Reads the first page (conditional on the cursor's validators when it is
/// the only one) and up to `max_pages - 1` next pages. A failing page after the first ends the
/// crawl; the pages before it are kept.
pub(crate) async fn poll(
    src: &SourceConfig,
    cfg: &HtmlConfig,
    client: &HttpClient,
    cursor: &Cursor,
    now: DateTime<Utc>,
) -> Result<Poll, SourceError> {
    let mut url = cfg.url.clone();
    let mut visited = HashSet::new();
    let mut mentions = Vec::new();
    let mut first_validators = None;
    let mut seen = HashSet::new();
    for page_no in 0..cfg.max_pages.clamp(1, MAX_PAGES) {
        visited.insert(url.clone());
        let req = Request::get(url.clone())
            .accept(ACCEPT_HTML)
            .timeout(src.timeout)
            .max_body_bytes(src.max_body_bytes)
            // Conditional only when one page is read: an unchanged first
            // page says nothing about the pages after it.
            .validators(if cfg.max_pages <= 1 {
                cursor.validators()
            } else {
                Default::default()
            });
        let page = match fetch_page(client, req, cfg, now).await {
            Ok(Some((page, validators))) => {
                if page_no == 0 {
                    first_validators = Some(validators);
                }
                page
            }
            Ok(None) if page_no == 0 => return Ok(Poll::NotModified),
            Ok(None) => break,
            Err(e) if page_no == 0 => return Err(e),
            Err(e) => {
                warn!(source = %src.name, page = page_no + 1, error = %e, "page failed, keeping the pages before it");
                break;
            }
        };
        for item in page.items {
            let m = item.into_mention(&src.name, now);
            if seen.insert(m.id.clone()) {
                mentions.push(m);
            }
        }
        match page.next {
            Some(next) if !visited.contains(&next) => url = next,
            _ => break,
        }
    }
    Ok(Poll::Items {
        mentions,
        cursor: Cursor::Http(first_validators.unwrap_or_default()),
    })
}

/// One page fetched and parsed (on the blocking pool); `None` on a 304.
async fn fetch_page(
    client: &HttpClient,
    req: Request,
    cfg: &HtmlConfig,
    now: DateTime<Utc>,
) -> Result<Option<(Page, super::http::Validators)>, SourceError> {
    let Fetched::Body {
        bytes,
        content_type,
        validators,
        final_url,
        ..
    } = client.send(req).await?
    else {
        return Ok(None);
    };
    let cfg = cfg.clone();
    let url = final_url.clone();
    let page = tokio::task::spawn_blocking(move || {
        parse_document(&bytes, content_type.as_deref(), &final_url, &cfg, now)
    })
    .await
    .map_err(|e| HtmlError::Crashed {
        url,
        detail: e.to_string(),
    })??;
    Ok(Some((page, validators)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses() {
        for p in presets::PRESETS {
            assert!(Selector::parse(p.item).is_ok(), "{}: item", p.name);
            for spec in [p.title, p.body, p.author, p.link, p.date, p.next]
                .into_iter()
                .flatten()
            {
                assert!(Field::parse(spec).is_ok(), "{}: {spec}", p.name);
            }
        }
    }

    #[test]
    fn fields_and_links() {
        let f = Field::parse("a.permalink@href").unwrap();
        assert_eq!(f.attr.as_deref(), Some("href"));
        assert!(Field::parse("@data-author").unwrap().selector.is_none());
        assert!(Field::parse("a[href*='@']").unwrap().attr.is_none());
        assert!(Field::parse("a[").is_err());
        assert!(Field::parse("a@").is_err());
        assert!(Field::parse("").is_err());
        let base = Url::parse("https://forum.example.org/t/topic.html").unwrap();
        let check = |link: &str, expected: Option<&str>| {
            assert_eq!(item_url(link, &base).as_deref(), expected, "{link}");
        };
        check(
            "./viewtopic.php?p=453&sid=c613f07a94d24ae130f878df2f758925#p453",
            Some("https://forum.example.org/t/viewtopic.php?p=453#p453"),
        );
        check(
            "/t/x-post9.html?s=22c09551c71c1a6b64e4364ca45cbf28#post9",
            Some("https://forum.example.org/t/x-post9.html#post9"),
        );
        check(
            "post_12",
            Some("https://forum.example.org/t/topic.html#post_12"),
        );
        check("javascript:alert(1)", None);
        check("mailto:a@b.c", None);
        check(
            "https://Other.example.org/a?utm_source=x&q=1",
            Some("https://other.example.org/a?q=1"),
        );
    }

    #[test]
    fn meta_charsets() {
        assert_eq!(
            meta_charset(b"<html><head><meta charset=\"ISO-8859-1\" />").as_deref(),
            Some("iso-8859-1")
        );
        assert_eq!(
            meta_charset(
                b"<meta http-equiv=\"content-type\" content=\"text/html; charset=windows-1252\">"
            )
            .as_deref(),
            Some("windows-1252")
        );
        assert_eq!(
            meta_charset(b"<meta name=x><meta charset=utf-8>").as_deref(),
            Some("utf-8")
        );
        assert_eq!(meta_charset(b"<meta charset=bogus>"), None);
        assert_eq!(meta_charset(b"<p>no meta"), None);
        assert_eq!(meta_charset(b"<meta"), None);
    }
}
