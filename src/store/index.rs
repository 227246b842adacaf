//! The tantivy mention index: upsert, commit, and search with the rule
//! query language.
//!
//! Owns the index schema, the registration of [`crate::text`] as tantivy's
//! `veilleur` tokenizer, and the translation of a [`Query`] AST to a tantivy
//! query. It does not parse queries (`rules::query`) and does not decide
//! which watches a mention belongs to (`rules::matcher`); it stores what it is
//! given.
//!
//! Agreement with the matcher (tests/query_agreement.rs checks it): the text
//! fields are analyzed by the same function, keyword fields are normalized by
//! the same functions (`text::keyword`, `query::url_key`, `matcher::lang_key`),
//! and every AST node but `NEAR` translates to an exact tantivy query. Tantivy
//! has no span query for `NEAR` between phrases, prefixes and OR groups, so
//! `NEAR` becomes "both sides present" (a superset), `NOT` of an inexact
//! query becomes "all" (a superset too), and the candidates of an inexact
//! query are verified with [`matcher::query_matches`], the matcher's own
//! evaluator, in `published` order until `limit` hits are found.
//!
//! Schema: `id`, `watches` (raw, stored); `source` (lowercased keyword,
//! stored); `url` (stored) with hidden `url_key` (normalized, for prefixes)
//! and `url_host` (every dot-suffix of the host); `title`, `text`, `author`
//! (`veilleur` tokenizer with positions, stored); `lang` (stored, only when
//! set) with hidden `lang_key` (`und` when unset); `author_followers` (u64),
//! `sentiment` (f64) and `published` (date, nanosecond precision, indexed and
//! fast, for `since` and newest-first order).
//!
//! [`MentionIndex::between`] streams a time range in publication order (a
//! range query on `published`, then the stored documents batch by batch),
//! for `veilleur backtest --config`.
//!
//! Invariants: all methods take `&self` (the writer is behind a mutex, the
//! reader reloads itself); one `id` is at most one live document after a
//! commit; a read-only index never takes tantivy's writer lock.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tantivy::collector::{Collector, SegmentCollector, TopDocs};
use tantivy::columnar::Column;
use tantivy::query::{
    AllQuery, BooleanQuery, EnableScoring, Explanation, Occur, PhraseQuery, Query as TQuery,
    RangeQuery, RegexQuery, Scorer, TermQuery, Weight,
};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{
    DocAddress, DocId, DocSet, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score,
    Searcher, SeekDangerResult, SegmentOrdinal, SegmentReader, TERMINATED, TantivyDocument,
    TantivyError, Term,
};

use crate::mention::Mention;
use crate::rules::matcher;
use crate::rules::query::{self, Query, Scope};
use crate::text;

/// Name of the [`crate::text`] analyzer in tantivy's tokenizer manager.
pub const TOKENIZER: &str = "veilleur";
/// Name of the keyword normalizer (`text::keyword`) in tantivy.
const KEYWORD_TOKENIZER: &str = "veilleur_keyword";
/// Memory budget of the index writer.
const WRITER_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// Errors of the mention index. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(
        "index at {0} is locked by another process (is `veilleur run` already running?): stop it, or use `veilleur search` which reads without the lock"
    )]
    Locked(PathBuf),
    #[error(
        "no index at {0}: run `veilleur run` or `veilleur import` first, or check daemon.data_dir"
    )]
    Missing(PathBuf),
    #[error("cannot create index directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "index at {path} has no field `{field}` (written by another version?): move the directory away and re-import"
    )]
    Schema { path: PathBuf, field: &'static str },
    #[error("index opened read-only: cannot write (open it with MentionIndex::open)")]
    ReadOnly,
    #[error("stored mention is incomplete: {0} (the index may be corrupt: re-import)")]
    Corrupt(String),
    #[error("index error: {0}")]
    Tantivy(#[from] TantivyError),
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    source: Field,
    url: Field,
    url_key: Field,
    url_host: Field,
    title: Field,
    text: Field,
    author: Field,
    author_followers: Field,
    watches: Field,
    lang: Field,
    lang_key: Field,
    sentiment: Field,
    published: Field,
}

fn schema() -> Schema {
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
        "published",
        DateOptions::default()
            .set_stored()
            .set_indexed()
            .set_fast()
            .set_precision(DateTimePrecision::Nanoseconds),
    );
    b.build()
}

impl Fields {
    fn of(schema: &Schema, path: &Path) -> Result<Fields, IndexError> {
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
            published: f("published")?,
        })
    }

    fn scope(&self, scope: Scope) -> &'static [fn(&Fields) -> Field] {
        match scope {
            Scope::TitleOrText => &[|f| f.title, |f| f.text],
            Scope::Title => &[|f| f.title],
            Scope::Text => &[|f| f.text],
            Scope::Author => &[|f| f.author],
        }
    }
}

/// The mention index. Send + Sync; share it behind an `Arc`.
pub struct MentionIndex {
    index: Index,
    reader: IndexReader,
    /// `None` when opened read-only.
    writer: Option<Mutex<IndexWriter<TantivyDocument>>>,
    fields: Fields,
}

impl std::fmt::Debug for MentionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MentionIndex")
            .field("read_only", &self.writer.is_none())
            .finish_non_exhaustive()
    }
}

impl MentionIndex {
    /// Opens the index in `dir` for writing, creating the directory and the
    /// index when missing. Takes tantivy's writer lock.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let index = if dir.join("meta.json").exists() {
            Index::open_in_dir(dir)?
        } else {
            Index::create_in_dir(dir, schema())?
        };
        let writer = index
            .writer::<TantivyDocument>(WRITER_MEMORY_BYTES)
            .map_err(|e| match e {
                TantivyError::LockFailure(..) => IndexError::Locked(dir.to_path_buf()),
                e => IndexError::Tantivy(e),
            })?;
        Self::with(index, dir, Some(writer), ReloadPolicy::Manual)
    }

    /// Opens an existing index without the writer lock, for `veilleur search`
    /// while the daemon runs. It sees the daemon's commits shortly after they
    /// happen.
    pub fn open_read_only(dir: &Path) -> Result<Self, IndexError> {
        if !dir.join("meta.json").exists() {
            return Err(IndexError::Missing(dir.to_path_buf()));
        }
        let index = Index::open_in_dir(dir)?;
        Self::with(index, dir, None, ReloadPolicy::OnCommitWithDelay)
    }

    fn with(
        index: Index,
        dir: &Path,
        writer: Option<IndexWriter<TantivyDocument>>,
        policy: ReloadPolicy,
    ) -> Result<Self, IndexError> {
        let fields = Fields::of(&index.schema(), dir)?;
        index
            .tokenizers()
            .register(TOKENIZER, TextAnalyzer::from(Analyzer));
        index
            .tokenizers()
            .register(KEYWORD_TOKENIZER, TextAnalyzer::from(Keyword));
        let reader = index.reader_builder().reload_policy(policy).try_into()?;
        Ok(MentionIndex {
            index,
            reader,
            writer: writer.map(Mutex::new),
            fields,
        })
    }

    fn writer(&self) -> Result<MutexGuard<'_, IndexWriter<TantivyDocument>>, IndexError> {
        let w = self.writer.as_ref().ok_or(IndexError::ReadOnly)?;
        // A panic while holding the lock leaves tantivy's writer usable: its
        // own state is behind its own locks; uncommitted work is redone by
        // at-least-once delivery.
        Ok(w.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Upserts a mention by `m.id` (deletes any document with that id, then
    /// adds). Visible to searches after [`MentionIndex::commit`].
    pub fn add(&self, m: &Mention) -> Result<(), IndexError> {
        let f = &self.fields;
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
        let w = self.writer()?;
        w.delete_term(Term::from_field_text(f.id, &m.id));
        w.add_document(d)?;
        Ok(())
    }

    /// Commits pending adds and reloads the reader so searches see them.
    pub fn commit(&self) -> Result<(), IndexError> {
        self.writer()?.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Number of live documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Mentions matching `q`, published at or after `since` (all time when
    /// `None`), newest first by `published`, at most `limit`.
    pub fn search(
        &self,
        q: &Query,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<Mention>, IndexError> {
        let (tq, exact) = self.translate(q)?;
        let tq: Box<dyn TQuery> = match since {
            None => tq,
            Some(t) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, tq),
                (
                    Occur::Must,
                    Box::new(RangeQuery::new(
                        Bound::Included(Term::from_field_date(
                            self.fields.published,
                            to_tantivy_date(t),
                        )),
                        Bound::Unbounded,
                    )),
                ),
            ])),
        };
        let searcher = self.reader.searcher();
        let total = usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX);
        if limit == 0 || total == 0 {
            return Ok(Vec::new());
        }
        // Inexact queries over-fetch and verify; grow the window until enough
        // verified hits or no more candidates.
        let mut k = if exact {
            limit
        } else {
            limit.saturating_mul(4)
        }
        .min(total);
        loop {
            let top = searcher.search(
                &tq,
                &TopDocs::with_limit(k)
                    .order_by_fast_field::<tantivy::DateTime>("published", Order::Desc),
            )?;
            let mut out = Vec::with_capacity(top.len().min(limit));
            for (_, addr) in &top {
                let m = self.mention(&searcher.doc::<TantivyDocument>(*addr)?)?;
                if exact || matcher::query_matches(q, &m) {
                    out.push(m);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
            if top.len() < k || k >= total {
                return Ok(out);
            }
            k = k.saturating_mul(4).min(total);
        }
    }

    fn mention(&self, d: &TantivyDocument) -> Result<Mention, IndexError> {
        let f = &self.fields;
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

    /// Translates `q`; the flag says whether the result is exact (otherwise
    /// a superset to verify, see the module doc).
    fn translate(&self, q: &Query) -> Result<(Box<dyn TQuery>, bool), IndexError> {
        let f = &self.fields;
        let term = |field: Field, t: &str| -> Box<dyn TQuery> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, t),
                IndexRecordOption::Basic,
            ))
        };
        let per_field =
            |scope: Scope, mk: &dyn Fn(Field) -> Result<Box<dyn TQuery>, IndexError>| {
                let mut qs = f
                    .scope(scope)
                    .iter()
                    .map(|get| mk(get(f)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, IndexError>(if qs.len() == 1 {
                    qs.remove(0)
                } else {
                    Box::new(BooleanQuery::union(qs)) as Box<dyn TQuery>
                })
            };
        Ok(match q {
            Query::Word { scope, word } => (per_field(*scope, &|fl| Ok(term(fl, word)))?, true),
            Query::Prefix { scope, prefix } => (
                per_field(*scope, &|fl| Ok(Box::new(prefix_query(fl, prefix)?)))?,
                true,
            ),
            Query::Phrase { scope, words } => (
                per_field(*scope, &|fl| {
                    Ok(Box::new(SafePhrase(PhraseQuery::new(
                        words.iter().map(|w| Term::from_field_text(fl, w)).collect(),
                    ))))
                })?,
                true,
            ),
            Query::Source(v) => (term(f.source, v), true),
            Query::Lang(v) => (term(f.lang_key, v), true),
            Query::UrlHost(h) => (term(f.url_host, h), true),
            Query::UrlPrefix(p) => (Box::new(prefix_query(f.url_key, p)?), true),
            Query::And(qs) => {
                let mut clauses = Vec::with_capacity(qs.len() + 1);
                let mut exact = true;
                let mut positive = false;
                for q in qs {
                    if let Query::Not(inner) = q {
                        let (t, e) = self.translate(inner)?;
                        if e {
                            clauses.push((Occur::MustNot, t));
                            continue;
                        }
                    }
                    let (t, e) = self.translate(q)?;
                    exact &= e;
                    positive = true;
                    clauses.push((Occur::Must, t));
                }
                if !positive {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                (Box::new(BooleanQuery::new(clauses)), exact)
            }
            Query::Or(qs) => {
                let mut clauses = Vec::with_capacity(qs.len());
                let mut exact = true;
                for q in qs {
                    let (t, e) = self.translate(q)?;
                    exact &= e;
                    clauses.push((Occur::Should, t));
                }
                (Box::new(BooleanQuery::new(clauses)), exact)
            }
            Query::Not(inner) => match self.translate(inner)? {
                (t, true) => (
                    Box::new(BooleanQuery::new(vec![
                        (Occur::Must, Box::new(AllQuery) as Box<dyn TQuery>),
                        (Occur::MustNot, t),
                    ])),
                    true,
                ),
                (_, false) => (Box::new(AllQuery), false),
            },
            Query::Near { left, right, .. } => {
                let (l, _) = self.translate(left)?;
                let (r, _) = self.translate(right)?;
                (Box::new(BooleanQuery::intersection(vec![l, r])), false)
            }
        })
    }

    /// The mentions published in `[from, to]` (both included), in
    /// publication order, as batches of at most `batch` mentions: what
    /// `veilleur backtest --config` replays.
    ///
    /// Ordering: by `published` (nanoseconds), ties in index order (segment,
    /// then document), so two calls over the same index agree. Memory: the
    /// range query's hits are kept as (time, address) pairs, 16 bytes per
    /// mention; mention bodies are read from the store one batch at a time.
    /// The batches read the searcher of the call: commits made meanwhile are
    /// not seen.
    pub fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        batch: usize,
    ) -> Result<MentionBatches<'_>, IndexError> {
        let searcher = self.reader.searcher();
        let range = RangeQuery::new(
            Bound::Included(Term::from_field_date(
                self.fields.published,
                to_tantivy_date(from),
            )),
            Bound::Included(Term::from_field_date(
                self.fields.published,
                to_tantivy_date(to),
            )),
        );
        let mut hits = searcher.search(&range, &Published)?;
        hits.sort_unstable_by_key(|&(t, a)| (t, a.segment_ord, a.doc_id));
        Ok(MentionBatches {
            index: self,
            searcher,
            hits,
            next: 0,
            batch: batch.max(1),
        })
    }

    /// The underlying tantivy index (for space usage and diagnostics).
    pub fn tantivy(&self) -> &Index {
        &self.index
    }
}

/// Batches of mentions in publication order: see [`MentionIndex::between`].
pub struct MentionBatches<'a> {
    index: &'a MentionIndex,
    searcher: Searcher,
    /// (published nanoseconds, address), sorted.
    hits: Vec<(i64, DocAddress)>,
    next: usize,
    batch: usize,
}

impl MentionBatches<'_> {
    /// Number of mentions in the range (read or not).
    pub fn total(&self) -> usize {
        self.hits.len()
    }

    /// Number of mentions already returned.
    pub fn read(&self) -> usize {
        self.next
    }
}

impl Iterator for MentionBatches<'_> {
    type Item = Result<Vec<Mention>, IndexError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.hits.len() {
            return None;
        }
        let end = self.hits.len().min(self.next + self.batch);
        let addrs = &self.hits[self.next..end];
        self.next = end;
        Some(
            addrs
                .iter()
                .map(|&(_, a)| {
                    self.index
                        .mention(&self.searcher.doc::<TantivyDocument>(a)?)
                })
                .collect(),
        )
    }
}

/// Collects (published nanoseconds, address) of every live hit, from the
/// `published` fast column.
struct Published;

struct PublishedSegment {
    segment: SegmentOrdinal,
    column: Column<tantivy::DateTime>,
    hits: Vec<(i64, DocAddress)>,
}

impl Collector for Published {
    type Fruit = Vec<(i64, DocAddress)>;
    type Child = PublishedSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<PublishedSegment> {
        Ok(PublishedSegment {
            segment,
            column: reader.fast_fields().date("published")?,
            hits: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut all = Vec::with_capacity(fruits.iter().map(Vec::len).sum());
        for f in fruits {
            all.extend(f);
        }
        Ok(all)
    }
}

impl SegmentCollector for PublishedSegment {
    type Fruit = Vec<(i64, DocAddress)>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        // Every document has a date (`add` always sets it); one without
        // would not match the range query in the first place.
        if let Some(t) = self.column.first(doc) {
            self.hits
                .push((t.into_timestamp_nanos(), DocAddress::new(self.segment, doc)));
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.hits
    }
}

/// Terms of `field` starting with `prefix`.
fn prefix_query(field: Field, prefix: &str) -> Result<RegexQuery, IndexError> {
    Ok(RegexQuery::from_pattern(
        &format!("{}(?s:.*)", regex::escape(prefix)),
        field,
    )?)
}

fn to_tantivy_date(t: DateTime<Utc>) -> tantivy::DateTime {
    // Dates after 2262 do not fit in i64 nanoseconds: saturate.
    let nanos = t.timestamp_nanos_opt().unwrap_or(if t.timestamp() > 0 {
        i64::MAX
    } else {
        i64::MIN
    });
    tantivy::DateTime::from_timestamp_nanos(nanos)
}

/// A [`PhraseQuery`] whose scorer never receives `seek_danger` below its
/// current document. Tantivy 0.27's `PhraseScorer::seek_danger` asserts
/// `target >= doc()` in debug builds, but exclusions (`MustNot`) and
/// intersections legitimately call it after a `SeekLowerBound` left it ahead
/// ("acme OR NOT \"acme corp\"" panicked in tests/query_agreement.rs). The
/// wrapper answers those calls from its own, always valid, position.
#[derive(Debug, Clone)]
struct SafePhrase(PhraseQuery);

impl TQuery for SafePhrase {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(SafePhraseWeight(self.0.weight(scoring)?)))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.0.query_terms(visitor)
    }
}

struct SafePhraseWeight(Box<dyn Weight>);

impl Weight for SafePhraseWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(SafePhraseScorer(self.0.scorer(reader, boost)?)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}

struct SafePhraseScorer(Box<dyn Scorer>);

impl DocSet for SafePhraseScorer {
    fn advance(&mut self) -> DocId {
        self.0.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if target <= self.0.doc() {
            return self.0.doc();
        }
        self.0.seek(target)
    }

    fn seek_danger(&mut self, target: DocId) -> SeekDangerResult {
        let doc = self.seek(target);
        if doc == target && doc != TERMINATED {
            SeekDangerResult::Found
        } else {
            // `doc` is the first match at or after `target`, so a valid bound;
            // when we were already past `target`, `doc > target` holds too.
            SeekDangerResult::SeekLowerBound(doc)
        }
    }

    fn doc(&self) -> DocId {
        self.0.doc()
    }

    fn size_hint(&self) -> u32 {
        self.0.size_hint()
    }

    fn cost(&self) -> u64 {
        self.0.cost()
    }
}

impl Scorer for SafePhraseScorer {
    fn score(&mut self) -> Score {
        self.0.score()
    }
}

/// [`crate::text`] as a tantivy tokenizer.
#[derive(Debug, Clone, Copy, Default)]
struct Analyzer;

/// Tokens of one text, produced up front.
struct Tokens {
    tokens: std::vec::IntoIter<Token>,
    current: Token,
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(t) => {
                self.current = t;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

impl Tokenizer for Analyzer {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, s: &'a str) -> Tokens {
        let mut tokens = Vec::new();
        text::for_each_token(s, |t, position, from, to| {
            tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position: position as usize,
                text: t.to_string(),
                position_length: 1,
            })
        });
        Tokens {
            tokens: tokens.into_iter(),
            current: Token::default(),
        }
    }
}

/// [`text::keyword`] as a tantivy tokenizer: one token, none when empty.
#[derive(Debug, Clone, Copy, Default)]
struct Keyword;

impl Tokenizer for Keyword {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, s: &'a str) -> Tokens {
        let k = text::keyword(s);
        let tokens = if k.is_empty() {
            Vec::new()
        } else {
            vec![Token {
                offset_from: 0,
                offset_to: s.len(),
                position: 0,
                text: k,
                position_length: 1,
            }]
        };
        Tokens {
            tokens: tokens.into_iter(),
            current: Token::default(),
        }
    }
}

// The daemon shares one `MentionIndex` between tasks behind an `Arc`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<MentionIndex>();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(id: &str, published: &str, title: &str, text: &str) -> Mention {
        Mention {
            id: id.into(),
            source: "Google-Alerts".into(),
            url: format!("https://www.example.org/blog/{id}"),
            title: title.into(),
            text: text.into(),
            author: "Jean Dupont".into(),
            author_followers: Some(1200),
            published: published.parse().unwrap(),
            lang: Some("fr".into()),
            sentiment: Some(-0.25),
            watches: vec!["acme".into(), "sector".into()],
        }
    }

    fn ids(index: &MentionIndex, q: &str) -> Vec<String> {
        let q = query::parse(q).unwrap();
        index
            .search(&q, None, 100)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    }

    fn fixture() -> (tempfile::TempDir, MentionIndex) {
        let dir = tempfile::tempdir().unwrap();
        let index = MentionIndex::open(dir.path()).unwrap();
        let docs = [
            mention(
                "a",
                "2026-01-01T10:00:00.123456789Z",
                "Panne chez Acmé",
                r#"C'est l'arnaque d'Acme, #BoycottAcme 😡"#,
            ),
            mention(
                "b",
                "2026-01-02T10:00:00Z",
                "Acme recrute",
                r#"Acme est une vraie réussite"#,
            ),
            mention(
                "c",
                "2026-01-03T10:00:00Z",
                "Rien à voir",
                r#"the customer service of Acme Corp is a scam"#,
            ),
        ];
        for d in &docs {
            index.add(d).unwrap();
        }
        index.commit().unwrap();
        (dir, index)
    }

    #[test]
    fn round_trips_every_field() {
        let (_dir, index) = fixture();
        let got = index
            .search(&query::parse("panne").unwrap(), None, 10)
            .unwrap();
        let want = mention(
            "a",
            "2026-01-01T10:00:00.123456789Z",
            "Panne chez Acmé",
            r#"C'est l'arnaque d'Acme, #BoycottAcme 😡"#,
        );
        assert_eq!(got, vec![want]);
        let mut bare = mention("z", "2026-01-04T00:00:00Z", "", "zzz");
        bare.author_followers = None;
        bare.lang = None;
        bare.sentiment = None;
        bare.watches.clear();
        index.add(&bare).unwrap();
        index.commit().unwrap();
        let got = index
            .search(&query::parse("zzz").unwrap(), None, 10)
            .unwrap();
        assert_eq!(got, vec![bare]);
        assert_eq!(ids(&index, "lang:und"), vec!["z"]);
    }

    #[test]
    fn searches_newest_first_with_since_and_limit() {
        let (_dir, index) = fixture();
        assert_eq!(ids(&index, "acme"), vec!["c", "b", "a"]);
        let q = query::parse("acme").unwrap();
        let since = "2026-01-02T10:00:00Z".parse().unwrap();
        let got: Vec<_> = index
            .search(&q, Some(since), 10)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(got, vec!["c", "b"]);
        assert_eq!(index.search(&q, None, 1).unwrap().len(), 1);
        assert!(index.search(&q, None, 0).unwrap().is_empty());
    }

    #[test]
    fn add_upserts_by_id() {
        let (_dir, index) = fixture();
        index
            .add(&mention("a", "2026-01-05T00:00:00Z", "corrigé", "rien"))
            .unwrap();
        index.commit().unwrap();
        assert_eq!(index.num_docs(), 3);
        assert!(ids(&index, "panne").is_empty());
        assert_eq!(ids(&index, "corrige"), vec!["a"]);
    }

    #[test]
    fn every_construct_translates() {
        let (_dir, index) = fixture();
        let cases: [(&str, &[&str]); 18] = [
            ("reclamation OR arnaque", &["a"]),
            (r#""l'arnaque d'Acme""#, &["a"]),
            (r#""acme corp""#, &["c"]),
            ("acme NOT panne", &["c", "b"]),
            ("NOT acme", &[]),
            ("NOT recrute", &["c", "a"]),
            ("#boycottacme", &["a"]),
            ("#boycott*", &["a"]),
            ("boycottacme", &[]),
            ("😡", &["a"]),
            ("arnaq*", &["a"]),
            ("title:acme", &["b", "a"]),
            ("acme NEAR/3 reussite", &["b"]),
            ("reussite ONEAR/3 acme", &[]),
            ("NOT (acme NEAR/0 corp)", &["b", "a"]),
            (
                "author:dupont source:google-alerts lang:fr",
                &["c", "b", "a"],
            ),
            ("url:example.org url:www.example.org/blog/b", &["b"]),
            (r#"url:"https://example.org/BLOG/""#, &["c", "b", "a"]),
        ];
        for (q, want) in cases {
            assert_eq!(ids(&index, q), want, "{q}");
        }
    }

    #[test]
    fn between_yields_the_range_in_publication_order_by_batches() {
        let (_dir, index) = fixture();
        // A second segment, older than the first, and an upsert that moves
        // `b` later: order is by time across segments, deleted copies gone.
        index
            .add(&mention("d", "2025-12-31T00:00:00Z", "", "avant"))
            .unwrap();
        index
            .add(&mention("b", "2026-01-03T10:00:00Z", "", "déplacé"))
            .unwrap();
        index.commit().unwrap();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let run = |from: &str, to: &str, batch: usize| {
            let it = index.between(t(from), t(to), batch).unwrap();
            let total = it.total();
            let batches: Vec<Vec<String>> = it
                .map(|b| b.unwrap().into_iter().map(|m| m.id).collect())
                .collect();
            (total, batches)
        };
        assert_eq!(
            run("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", 2),
            (
                4,
                vec![vec!["d".into(), "a".into()], vec!["c".into(), "b".into()]]
            )
        );
        // Both bounds are included, to the nanosecond.
        assert_eq!(
            run("2026-01-01T10:00:00.123456789Z", "2026-01-03T10:00:00Z", 10),
            (3, vec![vec!["a".into(), "c".into(), "b".into()]])
        );
        assert_eq!(
            run("2026-01-01T10:00:00.123456790Z", "2026-01-03T09:59:59Z", 10),
            (0, vec![])
        );
        let mut it = index
            .between(t("2000-01-01T00:00:00Z"), t("2100-01-01T00:00:00Z"), 0)
            .unwrap();
        assert_eq!(it.next().unwrap().unwrap().len(), 1, "batch 0 means 1");
        assert_eq!(it.read(), 1);
    }

    #[test]
    fn read_only_opens_beside_the_writer_and_writer_is_exclusive() {
        let (dir, index) = fixture();
        let ro = MentionIndex::open_read_only(dir.path()).unwrap();
        assert_eq!(ro.num_docs(), 3);
        assert!(matches!(
            ro.add(&mention("x", "2026-01-01T00:00:00Z", "", "")),
            Err(IndexError::ReadOnly)
        ));
        let err = MentionIndex::open(dir.path()).unwrap_err();
        assert!(matches!(err, IndexError::Locked(_)), "{err}");
        assert!(err.to_string().contains("already running"));
        drop(index);
        let missing = tempfile::tempdir().unwrap();
        assert!(matches!(
            MentionIndex::open_read_only(&missing.path().join("nope")),
            Err(IndexError::Missing(_))
        ));
    }
}
