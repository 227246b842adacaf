//! The watch query language: lexer and parser to an AST ([`Query`]).
//!
//! Owns the syntax (DESIGN.md, "Query language") and its error messages.
//! It does not evaluate anything: `rules::matcher` evaluates the AST on a
//! mention and `store::index` translates it to a tantivy query; both must
//! agree on every document, so every literal in the AST is *already analyzed*
//! by [`crate::text`] here, once.
//!
//! Syntax, loosest binding first:
//!
//! ```text
//! query   := and ( "OR" and )*
//! and     := unary ( ["AND"] unary )*          side by side means AND
//! unary   := "NOT" unary | near
//! near    := primary [ ("NEAR/n" | "ONEAR/n") primary ]
//! primary := "(" query ")" | word | word* | "phrase" | field
//! field   := (title|text|author): (word | word* | "phrase" | "(" query ")")
//!          | (source|lang): (word | "value")
//!          | url: (host | prefix/with/slash | "…")
//! ```
//!
//! * Operators are upper case (`AND`, `OR`, `NOT`, `NEAR/5`, `ONEAR/5`);
//!   lower case `and`/`or`/`near` are words (`or` is French for gold).
//! * A word goes through the analyzer: a word that analyzes to several tokens
//!   (`acme-corp`, `l'arnaque-acme`) is a phrase; `l'arnaque` is `arnaque`;
//!   `#tag` and `@handle` stay tags (see `crate::text`).
//! * `word*` is a prefix of one token, at least 2 characters long.
//! * Unfielded text terms search the title or the text; a phrase or a NEAR
//!   must lie within one of them. `author:` searches the analyzed author.
//! * `source:` and `lang:` compare the whole value, case-insensitively.
//!   `lang:und` also matches mentions with no language.
//! * `url:` with no `/` after the host matches that host and its subdomains
//!   (`url:example.org` matches `https://news.example.org/x`); with a `/` it is
//!   a prefix of the URL. Both ignore the scheme, a leading `www.` and case.
//! * `a NEAR/n b`: an occurrence of each side with at most `n` words between
//!   them, in either order, not overlapping; `ONEAR/n` wants `a` first. Sides
//!   are words, prefixes, phrases, or parenthesized OR groups of them, all in
//!   the same field. NEAR binds tighter than NOT; it cannot be chained.
//!
//! Invariants of a parsed [`Query`]: `And`/`Or` have at least two children
//! and no child of the same kind (flattened); `Phrase` has at least two
//! words; every `Word`/`Prefix`/`Phrase` literal is non-empty analyzer output;
//! `Near` sides satisfy [`Query::span_scope`].

use crate::limits::{MAX_QUERY_BYTES, MAX_QUERY_DEPTH};
use std::fmt;

use crate::text;

/// Longest accepted NEAR distance.
pub(crate) const MAX_NEAR: u32 = 1000;

/// Which analyzed fields a text term searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Unfielded: the title or the text (a phrase within one of them).
    TitleOrText,
    Title,
    Text,
    Author,
}

/// A parsed query. See the module doc for the semantics of each node.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// One analyzed token.
    Word {
        scope: Scope,
        word: String,
    },
    /// Tokens starting with this analyzed prefix.
    Prefix {
        scope: Scope,
        prefix: String,
    },
    /// Consecutive analyzed tokens (at least two).
    Phrase {
        scope: Scope,
        words: Vec<String>,
    },
    /// `source:` — the source name, lowercased.
    Source(String),
    /// `lang:` — the language code, lowercased; `und` also matches no language.
    Lang(String),
    /// `url:host` — the URL's host is this or a subdomain of it.
    UrlHost(String),
    /// `url:prefix/…` — the normalized URL starts with this.
    UrlPrefix(String),
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
    /// Both sides within `max_gap` words of each other (`ordered`: left first).
    Near {
        left: Box<Query>,
        right: Box<Query>,
        max_gap: u32,
        ordered: bool,
    },
}

/// A syntax error, at a byte offset of the query string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// Byte offset of the offending token in the query string.
    pub offset: usize,
    /// What is wrong and how to fix it, lowercase.
    pub message: String,
}

impl QueryError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        QueryError {
            offset,
            message: message.into(),
        }
    }
}

/// Parses a query string (a watch's `query` or `exclude`, or a search).
pub fn parse(src: &str) -> Result<Query, QueryError> {
    if src.len() > MAX_QUERY_BYTES {
        return Err(QueryError::new(
            0,
            format!(
                "query too long ({} bytes, at most {MAX_QUERY_BYTES}): split it into several watches",
                src.len()
            ),
        ));
    }
    let toks = lex(src)?;
    check_depth(&toks)?;
    if toks.is_empty() {
        return Err(QueryError::new(
            0,
            "empty query: write at least one word, e.g. acme",
        ));
    }
    let mut p = Parser { toks, pos: 0 };
    let q = p.or(Scope::TitleOrText)?;
    match p.peek() {
        None => Ok(q),
        Some((Tok::RParen, at)) => Err(QueryError::new(
            at,
            "unbalanced parenthesis: remove this ) or add a ( before it",
        )),
        // `or` stops only at EOF, `)` or a token that can't continue a query.
        Some((t, at)) => Err(QueryError::new(
            at,
            format!("{} needs something before it", t.name()),
        )),
    }
}

/// Refuses nesting deeper than [`MAX_QUERY_DEPTH`] before the recursive
/// descent starts: open parentheses and `NOT`s in a row each add a level.
fn check_depth(toks: &[(Tok, usize)]) -> Result<(), QueryError> {
    // The recursion depth at a token: every open parenthesis, plus the
    // `NOT`s in a row before each of them (their frames stay open until the
    // group closes), plus the `NOT`s in a row just before this token.
    let mut open: Vec<usize> = Vec::new();
    let mut held = 0usize;
    let mut nots = 0usize;
    for (t, at) in toks {
        match t {
            Tok::Not => nots += 1,
            Tok::LParen => {
                open.push(nots);
                held += nots + 1;
                nots = 0;
            }
            Tok::RParen => {
                if let Some(n) = open.pop() {
                    held -= n + 1;
                }
                nots = 0;
            }
            _ => nots = 0,
        }
        if held + nots > MAX_QUERY_DEPTH {
            return Err(QueryError::new(
                *at,
                format!(
                    "query nested too deeply (more than {MAX_QUERY_DEPTH} levels of parentheses or NOT): simplify it"
                ),
            ));
        }
    }
    Ok(())
}

impl Query {
    /// When this query is a valid NEAR side (a word, prefix, phrase, or OR of
    /// them), the one scope all its literals share.
    pub(crate) fn span_scope(&self) -> Option<Scope> {
        match self {
            Query::Word { scope, .. }
            | Query::Prefix { scope, .. }
            | Query::Phrase { scope, .. } => Some(*scope),
            Query::Or(qs) => {
                let first = qs.first()?.span_scope()?;
                qs.iter()
                    .all(|q| q.span_scope() == Some(first))
                    .then_some(first)
            }
            _ => None,
        }
    }

    fn and(mut qs: Vec<Query>) -> Query {
        if qs.len() == 1 {
            return qs.remove(0);
        }
        let mut flat = Vec::with_capacity(qs.len());
        for q in qs {
            match q {
                Query::And(inner) => flat.extend(inner),
                q => flat.push(q),
            }
        }
        Query::And(flat)
    }

    fn or(mut qs: Vec<Query>) -> Query {
        if qs.len() == 1 {
            return qs.remove(0);
        }
        let mut flat = Vec::with_capacity(qs.len());
        for q in qs {
            match q {
                Query::Or(inner) => flat.extend(inner),
                q => flat.push(q),
            }
        }
        Query::Or(flat)
    }
}

/// Prints the query in the query syntax; parsing the output gives the same
/// AST back (for values without `"`).
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn scope(f: &mut fmt::Formatter<'_>, s: Scope) -> fmt::Result {
            match s {
                Scope::TitleOrText => Ok(()),
                Scope::Title => f.write_str("title:"),
                Scope::Text => f.write_str("text:"),
                Scope::Author => f.write_str("author:"),
            }
        }
        fn child(f: &mut fmt::Formatter<'_>, q: &Query) -> fmt::Result {
            match q {
                Query::And(_) | Query::Or(_) | Query::Near { .. } | Query::Not(_) => {
                    write!(f, "({q})")
                }
                q => write!(f, "{q}"),
            }
        }
        match self {
            Query::Word { scope: s, word } => {
                scope(f, *s)?;
                f.write_str(word)
            }
            Query::Prefix { scope: s, prefix } => {
                scope(f, *s)?;
                write!(f, "{prefix}*")
            }
            Query::Phrase { scope: s, words } => {
                scope(f, *s)?;
                write!(f, "\"{}\"", words.join(" "))
            }
            Query::Source(v) => write!(f, "source:\"{v}\""),
            Query::Lang(v) => write!(f, "lang:\"{v}\""),
            Query::UrlHost(v) | Query::UrlPrefix(v) => write!(f, "url:\"{}\"", url_value(v)),
            Query::And(qs) | Query::Or(qs) => {
                let op = if matches!(self, Query::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                for (i, q) in qs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    child(f, q)?;
                }
                Ok(())
            }
            Query::Not(q) => {
                f.write_str("NOT ")?;
                child(f, q)
            }
            Query::Near {
                left,
                right,
                max_gap,
                ordered,
            } => {
                child(f, left)?;
                write!(f, " {}NEAR/{max_gap} ", if *ordered { "O" } else { "" })?;
                child(f, right)
            }
        }
    }
}

/// The `url:` value that normalizes back to `key` (a [`url_key`]): `key`
/// itself, unless normalizing would strip part of it again (a key that
/// still starts with `www.` or a scheme, as `url:www.www.example.org`
/// leaves): then with the `http://www.` that normalizing strips.
fn url_value(key: &str) -> std::borrow::Cow<'_, str> {
    if url_key(key) == key {
        key.into()
    } else {
        format!("http://www.{key}").into()
    }
}

/// Normalizes a URL or `url:` value for comparison: lowercased, without
/// scheme and without a leading `www.`.
pub(crate) fn url_key(url: &str) -> String {
    let s = url.trim().to_lowercase();
    let s = match s.find("://") {
        Some(i)
            if i > 0
                && s[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            &s[i + 3..]
        }
        _ => s.as_str(),
    };
    s.strip_prefix("www.").unwrap_or(s).to_string()
}

/// The host part of a [`url_key`]: up to the first `/`, `?`, `#` or `:`.
pub(crate) fn url_key_host(key: &str) -> &str {
    let end = key.find(['/', '?', '#', ':']).unwrap_or(key.len());
    &key[..end]
}

/// Every dot-suffix of a host, itself first: `a.b.c` gives `a.b.c`, `b.c`, `c`.
pub(crate) fn host_suffixes(host: &str) -> impl Iterator<Item = &str> {
    std::iter::once(host)
        .chain(host.match_indices('.').map(move |(i, _)| &host[i + 1..]))
        .filter(|h| !h.is_empty())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldName {
    Title,
    Text,
    Author,
    Source,
    Lang,
    Url,
}

impl FieldName {
    fn parse(s: &str) -> Option<FieldName> {
        Some(match s.to_ascii_lowercase().as_str() {
            "title" => FieldName::Title,
            "text" => FieldName::Text,
            "author" => FieldName::Author,
            "source" => FieldName::Source,
            "lang" => FieldName::Lang,
            "url" => FieldName::Url,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            FieldName::Title => "title",
            FieldName::Text => "text",
            FieldName::Author => "author",
            FieldName::Source => "source",
            FieldName::Lang => "lang",
            FieldName::Url => "url",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near {
        max_gap: u32,
        ordered: bool,
    },
    Field(FieldName),
    /// A bare word, as written.
    Word(String),
    /// The inside of a quoted phrase, as written.
    Phrase(String),
}

impl Tok {
    fn name(&self) -> String {
        match self {
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::And => "`AND`".into(),
            Tok::Or => "`OR`".into(),
            Tok::Not => "NOT".into(),
            Tok::Near { max_gap, ordered } => {
                format!("{}NEAR/{max_gap}", if *ordered { "O" } else { "" })
            }
            Tok::Field(f) => format!("`{}:`", f.as_str()),
            Tok::Word(w) => format!("`{w}`"),
            Tok::Phrase(p) => format!("\"{p}\""),
        }
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, QueryError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push((Tok::LParen, i));
            }
            ')' => {
                chars.next();
                out.push((Tok::RParen, i));
            }
            '"' => {
                chars.next();
                let start = i + 1;
                let end = loop {
                    match chars.next() {
                        Some((j, '"')) => break j,
                        Some(_) => {}
                        None => {
                            return Err(QueryError::new(i, "unclosed quote: add the closing \""));
                        }
                    }
                };
                out.push((Tok::Phrase(src[start..end].to_string()), i));
            }
            _ => {
                let mut end = src.len();
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                lex_bare(&src[i..end], i, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// Classifies a bare run of non-space characters: operator, field or word.
fn lex_bare(w: &str, at: usize, out: &mut Vec<(Tok, usize)>) -> Result<(), QueryError> {
    match w {
        "AND" => out.push((Tok::And, at)),
        "OR" => out.push((Tok::Or, at)),
        "NOT" => out.push((Tok::Not, at)),
        _ if w.starts_with("NEAR") || w.starts_with("ONEAR") => {
            let ordered = w.starts_with('O');
            let rest = &w[if ordered { 5 } else { 4 }..];
            let op = if ordered { "ONEAR" } else { "NEAR" };
            let digits = rest.strip_prefix('/').unwrap_or("");
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                // `NEARBY` is a word; `NEAR`, `NEAR/`, `NEAR/x` are mistakes.
                if rest.is_empty() || rest.starts_with('/') {
                    return Err(QueryError::new(
                        at,
                        format!("{op} needs a distance: {op}/5"),
                    ));
                }
                out.push((Tok::Word(w.to_string()), at));
                return Ok(());
            }
            match digits.parse::<u32>() {
                Ok(n) if n <= MAX_NEAR => out.push((
                    Tok::Near {
                        max_gap: n,
                        ordered,
                    },
                    at,
                )),
                _ => {
                    return Err(QueryError::new(
                        at,
                        format!("{op} distance must be at most {MAX_NEAR}, e.g. {op}/5"),
                    ));
                }
            }
        }
        _ => {
            if let Some((name, rest)) = w.split_once(':')
                && let Some(field) = FieldName::parse(name)
            {
                out.push((Tok::Field(field), at));
                if !rest.is_empty() {
                    out.push((Tok::Word(rest.to_string()), at + name.len() + 1));
                }
            } else {
                out.push((Tok::Word(w.to_string()), at));
            }
        }
    }
    Ok(())
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<(&Tok, usize)> {
        self.toks.get(self.pos).map(|(t, at)| (t, *at))
    }

    fn bump(&mut self) -> Option<(Tok, usize)> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn starts_primary(&self) -> bool {
        matches!(
            self.peek(),
            Some((
                Tok::Word(_) | Tok::Phrase(_) | Tok::LParen | Tok::Field(_),
                _
            ))
        )
    }

    fn starts_unary(&self) -> bool {
        self.starts_primary() || matches!(self.peek(), Some((Tok::Not, _)))
    }

    /// Error for a binary operator at the start of an operand.
    fn no_left_operand(&self) -> Option<QueryError> {
        match self.peek() {
            Some((t @ (Tok::And | Tok::Or | Tok::Near { .. }), at)) => Some(QueryError::new(
                at,
                format!("{} needs something before it", t.name()),
            )),
            _ => None,
        }
    }

    fn or(&mut self, scope: Scope) -> Result<Query, QueryError> {
        if let Some(e) = self.no_left_operand() {
            return Err(e);
        }
        let mut qs = vec![self.and(scope)?];
        while let Some((Tok::Or, at)) = self.peek() {
            self.bump();
            if !self.starts_unary() {
                return Err(QueryError::new(at, "`OR` needs something after it"));
            }
            qs.push(self.and(scope)?);
        }
        Ok(Query::or(qs))
    }

    fn and(&mut self, scope: Scope) -> Result<Query, QueryError> {
        if let Some(e) = self.no_left_operand() {
            return Err(e);
        }
        let mut qs = vec![self.unary(scope)?];
        loop {
            match self.peek() {
                Some((Tok::And, at)) => {
                    self.bump();
                    if !self.starts_unary() {
                        return Err(QueryError::new(at, "`AND` needs something after it"));
                    }
                }
                _ if self.starts_unary() => {}
                _ => break,
            }
            qs.push(self.unary(scope)?);
        }
        Ok(Query::and(qs))
    }

    fn unary(&mut self, scope: Scope) -> Result<Query, QueryError> {
        if let Some((Tok::Not, at)) = self.peek() {
            self.bump();
            if !self.starts_unary() {
                return Err(QueryError::new(at, "NOT needs something after it"));
            }
            return Ok(Query::Not(Box::new(self.unary(scope)?)));
        }
        self.near(scope)
    }

    fn near(&mut self, scope: Scope) -> Result<Query, QueryError> {
        let left = self.primary(scope)?;
        let Some((&Tok::Near { max_gap, ordered }, at)) = self.peek() else {
            return Ok(left);
        };
        let op = self.toks[self.pos].0.name();
        self.bump();
        if !self.starts_primary() {
            return Err(QueryError::new(
                at,
                format!("{op} needs a word, phrase, prefix or (… OR …) group after it"),
            ));
        }
        let right = self.primary(scope)?;
        match (left.span_scope(), right.span_scope()) {
            (Some(l), Some(r)) if l == r => {}
            (Some(_), Some(_)) => {
                return Err(QueryError::new(
                    at,
                    format!("both sides of {op} must search the same field"),
                ));
            }
            _ => {
                return Err(QueryError::new(
                    at,
                    format!(
                        "{op} joins words, phrases, prefixes or (… OR …) groups of them, \
                         not AND, NOT, NEAR or source:/lang:/url:"
                    ),
                ));
            }
        }
        if let Some((Tok::Near { .. }, at2)) = self.peek() {
            return Err(QueryError::new(
                at2,
                "NEAR can't be chained: join two terms at a time, e.g. (a NEAR/3 b) AND (b NEAR/3 c)",
            ));
        }
        Ok(Query::Near {
            left: Box::new(left),
            right: Box::new(right),
            max_gap,
            ordered,
        })
    }

    fn primary(&mut self, scope: Scope) -> Result<Query, QueryError> {
        let Some((tok, at)) = self.bump() else {
            // Callers check `starts_primary` first; this is the empty-input case.
            return Err(QueryError::new(0, "empty query: write at least one word"));
        };
        match tok {
            Tok::LParen => {
                if let Some((Tok::RParen, _)) = self.peek() {
                    return Err(QueryError::new(
                        at,
                        "empty parentheses: put a term between them",
                    ));
                }
                let q = self.or(scope)?;
                match self.bump() {
                    Some((Tok::RParen, _)) => Ok(q),
                    _ => Err(QueryError::new(
                        at,
                        "unbalanced parenthesis: add the closing )",
                    )),
                }
            }
            Tok::Word(w) => word(&w, at, scope),
            Tok::Phrase(p) => phrase(&p, at, scope),
            Tok::Field(f) => self.field(f, at, scope),
            t => Err(QueryError::new(
                at,
                format!("{} needs something before it", t.name()),
            )),
        }
    }

    fn field(&mut self, f: FieldName, at: usize, scope: Scope) -> Result<Query, QueryError> {
        let name = f.as_str();
        if scope != Scope::TitleOrText {
            return Err(QueryError::new(
                at,
                format!("fields can't be nested: `{name}:` is inside another field"),
            ));
        }
        let inner = match f {
            FieldName::Title => Some(Scope::Title),
            FieldName::Text => Some(Scope::Text),
            FieldName::Author => Some(Scope::Author),
            _ => None,
        };
        if let Some(inner) = inner {
            return match self.peek() {
                Some((Tok::Word(_) | Tok::Phrase(_) | Tok::LParen, _)) => self.primary(inner),
                _ => Err(QueryError::new(
                    at,
                    format!("`{name}:` needs a value after it, e.g. {name}:acme"),
                )),
            };
        }
        let value = match self.peek() {
            Some((Tok::Word(v) | Tok::Phrase(v), _)) => v.clone(),
            _ => {
                return Err(QueryError::new(
                    at,
                    format!(
                        "`{name}:` takes one value, e.g. {name}:{}",
                        match f {
                            FieldName::Source => "reddit",
                            FieldName::Lang => "fr",
                            _ => "example.org",
                        }
                    ),
                ));
            }
        };
        self.bump();
        let q = match f {
            FieldName::Source => Query::Source(text::keyword(&value)),
            FieldName::Lang => Query::Lang(text::keyword(&value)),
            _ => {
                let key = url_key(&value);
                // A trailing `*` (a prefix) goes, and with it any space it
                // left at the end: the key must be what `url_key` gives for
                // its own printed form.
                let key = key.trim_end_matches(|c: char| c == '*' || c.is_whitespace());
                if key.contains('/') {
                    Query::UrlPrefix(key.to_string())
                } else {
                    Query::UrlHost(key.to_string())
                }
            }
        };
        match &q {
            Query::Source(v) | Query::Lang(v) | Query::UrlHost(v) | Query::UrlPrefix(v)
                if v.is_empty() =>
            {
                Err(QueryError::new(
                    at,
                    format!("`{name}:` needs a non-empty value"),
                ))
            }
            _ => Ok(q),
        }
    }
}

/// A bare word: analyzed; a prefix when it ends with `*`; a phrase when it
/// analyzes to several tokens.
fn word(w: &str, at: usize, scope: Scope) -> Result<Query, QueryError> {
    let (stem, prefix) = match w.strip_suffix('*') {
        Some(stem) => (stem, true),
        None => (w, false),
    };
    if stem.contains('*') {
        return Err(QueryError::new(
            at,
            "`*` only goes at the end of a word, as in arnaq*",
        ));
    }
    let words = text::words(stem);
    if prefix {
        return match words.as_slice() {
            [p] if p.trim_start_matches(['#', '@']).chars().count() >= 2 => Ok(Query::Prefix {
                scope,
                prefix: p.clone(),
            }),
            [_] | [] => Err(QueryError::new(
                at,
                "a prefix needs at least 2 letters before `*`, as in arnaq*",
            )),
            _ => Err(QueryError::new(
                at,
                format!("a prefix must be a single word: `{w}` holds several"),
            )),
        };
    }
    leaf(words, scope).ok_or_else(|| {
        QueryError::new(
            at,
            format!("`{w}` has nothing searchable: use letters, digits, #tags, @handles or emojis"),
        )
    })
}

fn phrase(p: &str, at: usize, scope: Scope) -> Result<Query, QueryError> {
    leaf(text::words(p), scope)
        .ok_or_else(|| QueryError::new(at, "empty phrase: put words between the quotes"))
}

fn leaf(mut words: Vec<String>, scope: Scope) -> Option<Query> {
    match words.len() {
        0 => None,
        1 => words.pop().map(|word| Query::Word { scope, word }),
        _ => Some(Query::Phrase { scope, words }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(word: &str) -> Query {
        Query::Word {
            scope: Scope::TitleOrText,
            word: word.into(),
        }
    }

    fn check(src: &str, expected: Query) {
        let got = parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
        assert_eq!(got, expected, "parsing {src:?}");
        // The printed form parses back to the same tree.
        assert_eq!(
            parse(&got.to_string()).as_ref(),
            Ok(&got),
            "reprint of {src:?}: {got}"
        );
    }

    fn check_err(src: &str, offset: usize, needle: &str) {
        let e = parse(src).expect_err(src);
        assert!(
            e.offset == offset && e.message.contains(needle),
            "{src:?}: expected `{needle}` at {offset}, got {e:?}"
        );
        assert!(!e.message.ends_with('.'), "{e:?}");
        assert_eq!(e.to_string(), e.message);
    }

    #[test]
    fn words_fold_case_accents_and_elision() {
        check("Réclamation", w("reclamation"));
        check("l'Arnaque", w("arnaque"));
        check("d’Acmé", w("acme"));
        check(
            "acme-corp",
            Query::Phrase {
                scope: Scope::TitleOrText,
                words: vec!["acme".into(), "corp".into()],
            },
        );
        check(
            r#""Acme  Corp""#,
            Query::Phrase {
                scope: Scope::TitleOrText,
                words: vec!["acme".into(), "corp".into()],
            },
        );
        check(r#""acme""#, w("acme"));
        check(
            "#BoycottAcme @Acme 😡",
            Query::And(vec![w("#boycottacme"), w("@acme"), w("😡")]),
        );
    }

    #[test]
    fn precedence_is_not_and_or() {
        check(
            "a b OR c",
            Query::Or(vec![Query::And(vec![w("a"), w("b")]), w("c")]),
        );
        check(
            "a OR b AND NOT c",
            Query::Or(vec![
                w("a"),
                Query::And(vec![w("b"), Query::Not(Box::new(w("c")))]),
            ]),
        );
        check(
            "(a OR b) c",
            Query::And(vec![Query::Or(vec![w("a"), w("b")]), w("c")]),
        );
        check(
            "NOT NOT a",
            Query::Not(Box::new(Query::Not(Box::new(w("a"))))),
        );
        check("a AND (b AND c)", Query::And(vec![w("a"), w("b"), w("c")]));
        // Lowercase operators are words.
        check("or and", Query::And(vec![w("or"), w("and")]));
    }

    #[test]
    fn prefixes_near_and_fields() {
        check(
            "arnaq*",
            Query::Prefix {
                scope: Scope::TitleOrText,
                prefix: "arnaq".into(),
            },
        );
        check(
            "l'Arnaq*",
            Query::Prefix {
                scope: Scope::TitleOrText,
                prefix: "arnaq".into(),
            },
        );
        check(
            "acme NEAR/3 (arnaque OR scam*)",
            Query::Near {
                left: Box::new(w("acme")),
                right: Box::new(Query::Or(vec![
                    w("arnaque"),
                    Query::Prefix {
                        scope: Scope::TitleOrText,
                        prefix: "scam".into(),
                    },
                ])),
                max_gap: 3,
                ordered: false,
            },
        );
        check(
            "NOT a ONEAR/0 b",
            Query::Not(Box::new(Query::Near {
                left: Box::new(w("a")),
                right: Box::new(w("b")),
                max_gap: 0,
                ordered: true,
            })),
        );
        check(
            "title:(Acme OR \"acme corp\")",
            Query::Or(vec![
                Query::Word {
                    scope: Scope::Title,
                    word: "acme".into(),
                },
                Query::Phrase {
                    scope: Scope::Title,
                    words: vec!["acme".into(), "corp".into()],
                },
            ]),
        );
        check(
            "author:jean",
            Query::Word {
                scope: Scope::Author,
                word: "jean".into(),
            },
        );
        check(
            "source:Reddit lang:FR",
            Query::And(vec![
                Query::Source("reddit".into()),
                Query::Lang("fr".into()),
            ]),
        );
        check(
            "source:\"Google Alerts\"",
            Query::Source("google alerts".into()),
        );
        check(
            "url:https://www.Example.org",
            Query::UrlHost("example.org".into()),
        );
        check(
            "url:example.org/blog",
            Query::UrlPrefix("example.org/blog".into()),
        );
        check("nearby NEARLY", Query::And(vec![w("nearby"), w("nearly")]));
        check(
            "text: acme",
            Query::Word {
                scope: Scope::Text,
                word: "acme".into(),
            },
        );
    }

    #[test]
    fn errors_point_at_the_offending_token_with_a_hint() {
        check_err(r#""acme"#, 0, "unclosed quote: add the closing \"");
        check_err(r#"acme "corp"#, 5, "quote");
        check_err("acme OR", 5, "`OR` needs something after it");
        check_err("OR acme", 0, "`OR` needs something before it");
        check_err("acme OR OR b", 5, "`OR` needs something after it");
        check_err("acme AND", 5, "`AND` needs something after it");
        check_err("AND acme", 0, "`AND` needs something before it");
        check_err("(acme", 0, "unbalanced parenthesis");
        check_err("acme)", 4, "unbalanced parenthesis");
        check_err("a (b OR c", 2, "unbalanced parenthesis");
        check_err("()", 0, "empty parentheses");
        check_err("a NEAR b", 2, "NEAR needs a distance: NEAR/5");
        check_err("a ONEAR/x b", 2, "ONEAR needs a distance");
        check_err("a NEAR/5000 b", 2, "at most");
        check_err("a NEAR/3", 2, "needs a word");
        check_err("NEAR/3 a", 0, "needs something before it");
        check_err("a NEAR/3 NOT b", 2, "needs a word");
        check_err("(a AND b) NEAR/3 c", 10, "joins words");
        check_err("a NEAR/3 b NEAR/3 c", 11, "can't be chained");
        check_err("title:a NEAR/3 text:b", 8, "same field");
        check_err("NOT", 0, "NOT needs something after it");
        check_err("acme NOT", 5, "NOT needs something after it");
        check_err("", 0, "empty query");
        check_err("   ", 0, "empty query");
        check_err(r#"a """#, 2, "empty phrase");
        check_err("--", 0, "nothing searchable");
        check_err("a*b", 0, "`*` only goes at the end");
        check_err("x*", 0, "at least 2 letters");
        check_err("acme-co*", 0, "single word");
        check_err("title:", 0, "needs a value");
        check_err("source:(a OR b)", 0, "takes one value");
        check_err("title:(text:a)", 7, "can't be nested");
    }

    #[test]
    fn printed_queries_parse_back_to_the_same_tree() {
        // The first three: fuzz finds (fuzz/regressions/query/).
        for src in [
            "ti&txt2#\u{3}©\u{1b}r2$ittxt2##\u{329}©\u{1b}r2$\u{1b}#©",
            "@ǿ",
            "url:www.www.plr",
            "ǽ ǽǿ*",
            "url:WWW.www.acme.fr/x",
            "url:x://a://b/c",
            "url:\" acme.org\u{b}*\"",
            "title:(\"l'ǿ\" OR ab*) NOT source:Reddit",
            "acme ONEAR/3 (#ǿ OR @é) lang:FR",
        ] {
            let q = parse(src).unwrap();
            let printed = q.to_string();
            assert_eq!(
                parse(&printed).unwrap(),
                q,
                "{src:?} printed as {printed:?}"
            );
        }
        // A prefix's `*` takes the space before it along.
        check("url:\"acme.org *\"", Query::UrlHost("acme.org".into()));
        // The analyzer folds a letter and its base alike (`ǿ` as `ø`); a
        // tag whose body folds away is no word.
        check("@ǿ", w("@o"));
        check("ǽ", w("ae"));
        check(
            "\"a #\u{301} b\"",
            Query::Phrase {
                scope: Scope::TitleOrText,
                words: vec!["a".into(), "b".into()],
            },
        );
        // Printing stays plain where it can.
        for (src, printed) in [
            ("url:www.acme.fr", "url:\"acme.fr\""),
            ("url:www.www.plr", "url:\"http://www.www.plr\""),
        ] {
            assert_eq!(parse(src).unwrap().to_string(), printed);
        }
    }

    #[test]
    fn deep_or_long_queries_are_refused_not_overflowing() {
        let deep = format!("{}acme{}", "(".repeat(10_000), ")".repeat(10_000));
        check_err(&deep, MAX_QUERY_DEPTH, "nested too deeply");
        let nots = format!("{}acme", "NOT ".repeat(10_000));
        check_err(&nots, 4 * MAX_QUERY_DEPTH, "nested too deeply");
        let mixed = format!("{}a{}", "(NOT ".repeat(40), ")".repeat(40));
        assert!(parse(&mixed).is_err());
        let long = "acme OR ".repeat(MAX_QUERY_BYTES / 8) + "acme";
        check_err(&long, 0, "query too long");
        // At the limit it parses, and the tree can be printed and reparsed.
        let ok = format!(
            "{}acme{}",
            "(".repeat(MAX_QUERY_DEPTH),
            ")".repeat(MAX_QUERY_DEPTH)
        );
        let q = parse(&ok).unwrap();
        assert_eq!(parse(&q.to_string()).unwrap(), q);
    }
}
