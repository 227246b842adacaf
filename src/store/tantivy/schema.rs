//! The tantivy schema of a mention, and the conversion of a [`Mention`] to
//! and from a tantivy document.
//!
//! Fields: `id`, `watches` (raw, stored); `source` (lowercased keyword,
//! stored); `url` (stored) with hidden `url_key` (normalized, for prefixes)
//! and `url_host` (every dot-suffix of the host); `title`, `text`, `author`
//! (`veilleur` tokenizer with positions, stored); `lang` (stored, only when
//! set) with hidden `lang_key` (`und` when unset); `author_followers` (u64),
//! `sentiment` (f64) and `published` (date, nanosecond precision, indexed and
//! fast, for time ranges and newest-first order).
//!
//! Keyword fields are normalized by the functions the matcher uses
//! (`text::keyword`, `query::url_key`, `matcher::lang_key`), so both agree.
//! Changing a field here makes existing indexes unreadable
//! ([`IndexError::Schema`]): users must re-import.

use std::path::Path;

use chrono::{DateTime, Utc};
use tantivy::TantivyDocument;
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions, Value,
};

use super::analyzer::{KEYWORD_TOKENIZER, TOKENIZER};
use crate::mention::Mention;
use crate::rules::matcher;
use crate::rules::query::{self, Scope};
use crate::store::IndexError;

/// Name of the date field: fast, for ordering and time ranges.
pub(super) const PUBLISHED: &str = "published";

/// The fields of an opened index.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields {
    pub id: Field,
    pub source: Field,
    pub url: Field,
    pub url_key: Field,
    pub url_host: Field,
    pub title: Field,
    pub text: Field,
    pub author: Field,
    pub author_followers: Field,
    pub watches: Field,
    pub lang: Field,
    pub lang_key: Field,
    pub sentiment: Field,
    pub published: Field,
}

/// The schema of a new index.
pub(super) fn schema() -> Schema {
    let mut b = Schema::builder();
    let analyzed = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let keyword = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(KEYWORD_TOKENIZER)
                .set_index_option(IndexRecordOption::Basic),
        )
        .set_stored();
    b.add_text_field("id", STRING | STORED);
    b.add_text_field("source", keyword);
    b.add_text_field("url", STORED);
    b.add_text_field("url_key", STRING);
    b.add_text_field("url_host", STRING);
    b.add_text_field("title", analyzed.clone());
    b.add_text_field("text", analyzed.clone());
    b.add_text_field("author", analyzed);
    b.add_u64_field("author_followers", STORED);
    b.add_text_field("watches", STRING | STORED);
    b.add_text_field("lang", STORED);
    b.add_text_field("lang_key", STRING);
    b.add_f64_field("sentiment", STORED);
    b.add_date_field(
        PUBLISHED,
        DateOptions::default()
            .set_stored()
            .set_indexed()
            .set_fast()
            .set_precision(DateTimePrecision::Nanoseconds),
    );
    b.build()
}

impl Fields {
    /// The fields of `schema`, read from the index in `path`.
    pub(super) fn of(schema: &Schema, path: &Path) -> Result<Fields, IndexError> {
        let f = |name: &'static str| {
            schema.get_field(name).map_err(|_| IndexError::Schema {
                path: path.to_path_buf(),
                field: name,
            })
        };
        Ok(Fields {
            id: f("id")?,
            source: f("source")?,
            url: f("url")?,
            url_key: f("url_key")?,
            url_host: f("url_host")?,
            title: f("title")?,
            text: f("text")?,
            author: f("author")?,
            author_followers: f("author_followers")?,
            watches: f("watches")?,
            lang: f("lang")?,
            lang_key: f("lang_key")?,
            sentiment: f("sentiment")?,
            published: f(PUBLISHED)?,
        })
    }

    /// The analyzed fields a query word of `scope` looks in.
    pub(super) fn scope(&self, scope: Scope) -> &'static [fn(&Fields) -> Field] {
        match scope {
            Scope::TitleOrText => &[|f| f.title, |f| f.text],
            Scope::Title => &[|f| f.title],
            Scope::Text => &[|f| f.text],
            Scope::Author => &[|f| f.author],
        }
    }

    /// The document of `m`.
    pub(super) fn document(&self, m: &Mention) -> TantivyDocument {
        let f = self;
        let mut d = TantivyDocument::default();
        d.add_text(f.id, &m.id);
        d.add_text(f.source, &m.source);
        d.add_text(f.url, &m.url);
        let key = query::url_key(&m.url);
        for h in query::host_suffixes(query::url_key_host(&key)) {
            d.add_text(f.url_host, h);
        }
        d.add_text(f.url_key, &key);
        d.add_text(f.title, &m.title);
        d.add_text(f.text, &m.text);
        d.add_text(f.author, &m.author);
        if let Some(n) = m.author_followers {
            d.add_u64(f.author_followers, n);
        }
        for w in &m.watches {
            d.add_text(f.watches, w);
        }
        if let Some(l) = &m.lang {
            d.add_text(f.lang, l);
        }
        d.add_text(f.lang_key, matcher::lang_key(m.lang.as_deref()));
        if let Some(s) = m.sentiment {
            d.add_f64(f.sentiment, f64::from(s));
        }
        d.add_date(f.published, to_tantivy_date(m.published));
        d
    }

    /// The mention stored in `d`.
    pub(super) fn mention(&self, d: &TantivyDocument) -> Result<Mention, IndexError> {
        let f = self;
        let s = |field: Field| {
            d.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let published = d
            .get_first(f.published)
            .and_then(|v| v.as_datetime())
            .ok_or_else(|| IndexError::Corrupt(format!("mention {} has no date", s(f.id))))?;
        Ok(Mention {
            id: s(f.id),
            source: s(f.source),
            url: s(f.url),
            title: s(f.title),
            text: s(f.text),
            author: s(f.author),
            author_followers: d.get_first(f.author_followers).and_then(|v| v.as_u64()),
            published: DateTime::from_timestamp_nanos(published.into_timestamp_nanos()),
            lang: d
                .get_first(f.lang)
                .and_then(|v| v.as_str())
                .map(str::to_string),
            sentiment: d
                .get_first(f.sentiment)
                .and_then(|v| v.as_f64())
                .map(|x| x as f32),
            watches: d
                .get_all(f.watches)
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        })
    }
}

/// `t` as a tantivy date; dates after 2262 do not fit in i64 nanoseconds and
/// saturate.
pub(super) fn to_tantivy_date(t: DateTime<Utc>) -> tantivy::DateTime {
    tantivy::DateTime::from_timestamp_nanos(nanos(t))
}

/// `t` in Unix nanoseconds, saturated.
pub(super) fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() > 0 {
        i64::MAX
    } else {
        i64::MIN
    })
}
