//! The tantivy back end of the mention index: upsert, commit, delete by age,
//! and search with the rule query language.
//!
//! Split by concern: [`schema`] (fields, mention ↔ document), [`analyzer`]
//! (the `veilleur` tokenizer and the keyword normalizer) and [`query`] (AST
//! → tantivy query); this file opens the index, runs searches and streams
//! time ranges. It does not parse queries (`rules::query`) and does not
//! decide which watches a mention belongs to (`rules::matcher`); it stores
//! what it is given.
//!
//! Agreement with the matcher (tests/query_agreement.rs checks it): the text
//! fields are analyzed by the same function, keyword fields are normalized by
//! the same functions, and every AST node but `NEAR` translates to an exact
//! tantivy query. The candidates of an inexact query are verified with
//! [`matcher::query_matches`], the matcher's own evaluator, newest first
//! until the page is full.
//!
//! Order of search results: `published` descending, ties by id descending, so
//! that a [`Cursor`] (the last mention of a page) says exactly where the next
//! page starts. [`TantivyIndex::between`] streams a time range in publication
//! order (a range query on `published`, then the stored documents batch by
//! batch), for `veilleur backtest --config`.
//!
//! Invariants: all methods take `&self` (the writer is behind a mutex, the
//! reader reloads itself); one `id` is at most one live document after a
//! commit; a read-only index never takes tantivy's writer lock. Every method
//! blocks.

mod analyzer;
mod query;
mod schema;

use std::ops::Bound;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tantivy::collector::{Collector, Count, DocSetCollector, SegmentCollector, TopDocs};
use tantivy::columnar::Column;
use tantivy::indexer::IndexWriterOptions;
use tantivy::merge_policy::LogMergePolicy;
use tantivy::query::{BooleanQuery, Occur, Query as TQuery, RangeQuery};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score, Searcher,
    SegmentOrdinal, SegmentReader, TantivyDocument, TantivyError, Term,
};

pub use analyzer::TOKENIZER;
use schema::{Fields, PUBLISHED, nanos, to_tantivy_date};

use super::{
    Cursor, IndexError, MentionIndex, MentionSearch, MentionStream, SearchPage, SearchRequest,
};
use crate::mention::Mention;
use crate::rules::matcher;
use crate::rules::query::Query;

/// Memory budget of the index writer's indexing thread: what it buffers
/// before writing a segment. Commits come every `commit_docs` (10,000 by
/// default) mentions of a few KiB, below it; the budget is a ceiling for
/// imports, sized for a small VM (tantivy's minimum is 15 MB).
const WRITER_MEMORY_BYTES: usize = 32 * 1024 * 1024;

/// One indexing thread: the ingest step feeds the writer from one thread,
/// and on a 2-core VM a second indexing thread doubles the buffers without
/// making indexing faster (the writer waits for the pipeline, not the
/// reverse).
const WRITER_THREADS: usize = 1;

/// One merge thread (tantivy's default is 4): merges run in the background
/// of a daemon with time to spare, and each holds its own buffers.
const MERGE_THREADS: usize = 1;

/// A segment with more than this share of deleted documents (upserts of
/// the same id) is merged even when its size alone would not make it.
const DELETED_SHARE_BEFORE_MERGE: f32 = 0.3;

/// The writer of a small VM: [`WRITER_THREADS`], [`WRITER_MEMORY_BYTES`],
/// [`MERGE_THREADS`], and the log merge policy of tantivy (segments of a
/// similar size merged 8 at a time) that also reclaims deleted documents.
fn small_writer(index: &Index) -> tantivy::Result<IndexWriter<TantivyDocument>> {
    let options = IndexWriterOptions::builder()
        .num_worker_threads(WRITER_THREADS)
        .memory_budget_per_thread(WRITER_MEMORY_BYTES)
        .num_merge_threads(MERGE_THREADS)
        .build();
    let writer = index.writer_with_options::<TantivyDocument>(options)?;
    let mut policy = LogMergePolicy::default();
    policy.set_del_docs_ratio_before_merge(DELETED_SHARE_BEFORE_MERGE);
    writer.set_merge_policy(Box::new(policy));
    Ok(writer)
}

impl From<TantivyError> for IndexError {
    fn from(e: TantivyError) -> Self {
        IndexError::Backend(Box::new(e))
    }
}

/// The tantivy mention index. Send + Sync; share it behind an `Arc`.
pub struct TantivyIndex {
    index: Index,
    reader: IndexReader,
    /// `None` when opened read-only.
    writer: Option<Mutex<IndexWriter<TantivyDocument>>>,
    fields: Fields,
}

impl std::fmt::Debug for TantivyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TantivyIndex")
            .field("read_only", &self.writer.is_none())
            .finish_non_exhaustive()
    }
}

impl TantivyIndex {
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
            Index::create_in_dir(dir, schema::schema())?
        };
        let writer = small_writer(&index).map_err(|e| match e {
            TantivyError::LockFailure(..) => IndexError::Locked(dir.to_path_buf()),
            e => e.into(),
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
        analyzer::register(&index);
        let reader = index.reader_builder().reload_policy(policy).try_into()?;
        Ok(TantivyIndex {
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
    /// adds). Visible to searches after [`TantivyIndex::commit`].
    pub fn add(&self, m: &Mention) -> Result<(), IndexError> {
        let d = self.fields.document(m);
        let w = self.writer()?;
        w.delete_term(Term::from_field_text(self.fields.id, &m.id));
        w.add_document(d)?;
        Ok(())
    }

    /// Commits pending adds and deletions and reloads the reader so searches
    /// see them.
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
    /// `None`), newest first by `published`, at most `limit`: the first page
    /// of [`TantivyIndex::search_page`].
    pub fn search(
        &self,
        q: &Query,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<Mention>, IndexError> {
        let mut req = SearchRequest::new(q, limit);
        req.since = since;
        Ok(self.search_page(&req)?.mentions)
    }

    /// One page of results: see [`MentionSearch::search`].
    pub(crate) fn search_page(&self, req: &SearchRequest<'_>) -> Result<SearchPage, IndexError> {
        let empty = SearchPage {
            mentions: Vec::new(),
            next: None,
        };
        if req.limit == 0 {
            return Ok(empty);
        }
        let (tq, exact) = query::translate(&self.fields, req.query)?;
        // The cursor bounds the range too; ties at its time are filtered below.
        let until = match (&req.after, req.until) {
            (Some(c), Some(u)) => Some(c.published_nanos.min(nanos(u))),
            (Some(c), None) => Some(c.published_nanos),
            (None, u) => u.map(nanos),
        };
        let tq = self.in_range(tq, req.since.map(nanos), until);
        let searcher = self.reader.searcher();
        let total = usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX);
        if total == 0 {
            return Ok(empty);
        }
        // One more than the page, to know whether a next page exists.
        let want = req.limit.saturating_add(1);
        // Inexact queries over-fetch and verify; the window grows until
        // enough verified hits or no more candidates.
        // One more again for exact queries: a full window drops its oldest
        // time (below), usually one document, and must still fill the page.
        let mut k = if exact {
            want.saturating_add(1)
        } else {
            want.saturating_mul(4)
        }
        .min(total);
        loop {
            let top = searcher.search(
                &tq,
                &TopDocs::with_limit(k)
                    .order_by_fast_field::<tantivy::DateTime>(PUBLISHED, Order::Desc),
            )?;
            // A full window may have cut the documents of its oldest time:
            // they are not taken until a larger window holds them all.
            let cut = top.len() == k && k < total;
            // Every document has a date (`add` always sets it).
            let time =
                |t: &Option<tantivy::DateTime>| t.map_or(i64::MIN, |t| t.into_timestamp_nanos());
            let boundary = top.last().map(|(t, _)| time(t));
            let mut hits: Vec<(i64, Mention)> = Vec::new();
            for (t, addr) in &top {
                let t = time(t);
                if cut && Some(t) == boundary {
                    break;
                }
                // Enough hits, and every hit of the last one's time is in.
                if hits.len() >= want && hits.last().is_some_and(|(last, _)| t < *last) {
                    break;
                }
                let m = self
                    .fields
                    .mention(&searcher.doc::<TantivyDocument>(*addr)?)?;
                if req.after.as_ref().is_some_and(|c| !c.precedes(t, &m.id)) {
                    continue;
                }
                if exact || matcher::query_matches(req.query, &m) {
                    hits.push((t, m));
                }
            }
            if hits.len() >= want || !cut {
                hits.sort_by(|(ta, a), (tb, b)| (tb, &b.id).cmp(&(ta, &a.id)));
                let more = hits.len() > req.limit;
                hits.truncate(req.limit);
                let next = if more {
                    hits.last().map(|(t, m)| Cursor {
                        published_nanos: *t,
                        id: m.id.clone(),
                    })
                } else {
                    None
                };
                return Ok(SearchPage {
                    mentions: hits.into_iter().map(|(_, m)| m).collect(),
                    next,
                });
            }
            k = k.saturating_mul(4).min(total);
        }
    }

    /// Number of mentions matching `q` in `[since, until]`: see
    /// [`MentionSearch::count`]. An inexact query verifies every candidate.
    pub fn count(
        &self,
        q: &Query,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<u64, IndexError> {
        let (tq, exact) = query::translate(&self.fields, q)?;
        let tq = self.in_range(tq, since.map(nanos), until.map(nanos));
        let searcher = self.reader.searcher();
        if exact {
            return Ok(searcher.search(&tq, &Count)? as u64);
        }
        let mut n = 0;
        for addr in searcher.search(&tq, &DocSetCollector)? {
            let m = self
                .fields
                .mention(&searcher.doc::<TantivyDocument>(addr)?)?;
            if matcher::query_matches(q, &m) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Deletes the mentions published before `before`; returns how many
    /// committed documents that is. Takes effect at the next commit.
    pub(crate) fn delete_older_than(&self, before: DateTime<Utc>) -> Result<u64, IndexError> {
        let range = || {
            RangeQuery::new(
                Bound::Unbounded,
                Bound::Excluded(Term::from_field_date(
                    self.fields.published,
                    to_tantivy_date(before),
                )),
            )
        };
        let w = self.writer()?;
        let n = self.reader.searcher().search(&range(), &Count)? as u64;
        w.delete_query(Box::new(range()))?;
        Ok(n)
    }

    /// `tq` restricted to `published` in `[since, until]` (nanoseconds,
    /// open when `None`).
    fn in_range(
        &self,
        tq: Box<dyn TQuery>,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Box<dyn TQuery> {
        if since.is_none() && until.is_none() {
            return tq;
        }
        let bound = |t: Option<i64>| match t {
            Some(t) => Bound::Included(Term::from_field_date(
                self.fields.published,
                tantivy::DateTime::from_timestamp_nanos(t),
            )),
            None => Bound::Unbounded,
        };
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, tq),
            (
                Occur::Must,
                Box::new(RangeQuery::new(bound(since), bound(until))),
            ),
        ]))
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

impl MentionSearch for TantivyIndex {
    fn search(&self, req: &SearchRequest<'_>) -> Result<SearchPage, IndexError> {
        self.search_page(req)
    }

    fn count(
        &self,
        query: &Query,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<u64, IndexError> {
        TantivyIndex::count(self, query, since, until)
    }

    fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        batch: usize,
    ) -> Result<Box<dyn MentionStream + '_>, IndexError> {
        Ok(Box::new(TantivyIndex::between(self, from, to, batch)?))
    }
}

impl MentionIndex for TantivyIndex {
    fn upsert(&self, m: &Mention) -> Result<(), IndexError> {
        self.add(m)
    }

    fn commit(&self) -> Result<(), IndexError> {
        TantivyIndex::commit(self)
    }

    fn rollback(&self) -> Result<(), IndexError> {
        // A failed commit leaves tantivy's writer short of the indexing
        // threads that failed; rolling back rebuilds it.
        self.writer()?.rollback()?;
        Ok(())
    }

    fn num_docs(&self) -> u64 {
        TantivyIndex::num_docs(self)
    }

    fn delete_older_than(&self, before: DateTime<Utc>) -> Result<u64, IndexError> {
        TantivyIndex::delete_older_than(self, before)
    }
}

/// Batches of mentions in publication order: see [`TantivyIndex::between`].
pub struct MentionBatches<'a> {
    index: &'a TantivyIndex,
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

impl MentionStream for MentionBatches<'_> {
    fn total(&self) -> usize {
        MentionBatches::total(self)
    }

    fn read(&self) -> usize {
        MentionBatches::read(self)
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
                        .fields
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
            column: reader.fast_fields().date(PUBLISHED)?,
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

// The daemon shares one index between tasks behind an `Arc`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<TantivyIndex>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::query;

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

    fn ids(index: &TantivyIndex, q: &str) -> Vec<String> {
        let q = query::parse(q).unwrap();
        index
            .search(&q, None, 100)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    }

    fn fixture() -> (tempfile::TempDir, TantivyIndex) {
        let dir = tempfile::tempdir().unwrap();
        let index = TantivyIndex::open(dir.path()).unwrap();
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
        // `b` later (a nanosecond after `c`: equal times have no defined
        // order across segments): order is by time across segments,
        // deleted copies gone.
        index
            .add(&mention("d", "2025-12-31T00:00:00Z", "", "avant"))
            .unwrap();
        index
            .add(&mention(
                "b",
                "2026-01-03T10:00:00.000000001Z",
                "",
                "déplacé",
            ))
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
            run(
                "2026-01-01T10:00:00.123456789Z",
                "2026-01-03T10:00:00.000000001Z",
                10
            ),
            (3, vec![vec!["a".into(), "c".into(), "b".into()]])
        );
        assert_eq!(
            run("2026-01-01T10:00:00.123456789Z", "2026-01-03T10:00:00Z", 10),
            (2, vec![vec!["a".into(), "c".into()]])
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
        let ro = TantivyIndex::open_read_only(dir.path()).unwrap();
        assert_eq!(ro.num_docs(), 3);
        assert!(matches!(
            ro.add(&mention("x", "2026-01-01T00:00:00Z", "", "")),
            Err(IndexError::ReadOnly)
        ));
        let err = TantivyIndex::open(dir.path()).unwrap_err();
        assert!(matches!(err, IndexError::Locked(_)), "{err}");
        assert!(err.to_string().contains("already running"));
        drop(index);
        let missing = tempfile::tempdir().unwrap();
        assert!(matches!(
            TantivyIndex::open_read_only(&missing.path().join("nope")),
            Err(IndexError::Missing(_))
        ));
    }

    /// Every page of `q` through the trait object, following cursors.
    fn pages(
        s: &dyn MentionSearch,
        q: &str,
        limit: usize,
        until: Option<&str>,
    ) -> Vec<Vec<String>> {
        let q = query::parse(q).unwrap();
        let mut req = SearchRequest::new(&q, limit);
        req.until = until.map(|u| u.parse().unwrap());
        let mut out = Vec::new();
        loop {
            let page = s.search(&req).unwrap();
            out.push(page.mentions.iter().map(|m| m.id.clone()).collect());
            match page.next {
                // The cursor survives its string form.
                Some(c) => req.after = Some(Cursor::parse(&c.encode()).unwrap()),
                None => return out,
            }
        }
    }

    #[test]
    fn cursor_pages_through_ties_without_gaps_or_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let index = crate::store::open_index(crate::store::Backend::Tantivy, dir.path()).unwrap();
        // Seven mentions, five of them at one instant (ties ordered by id).
        for (id, t) in [
            ("m1", "2026-01-01T00:00:00Z"),
            ("m2", "2026-01-02T00:00:00Z"),
            ("t3", "2026-01-02T00:00:00Z"),
            ("t1", "2026-01-02T00:00:00Z"),
            ("t2", "2026-01-02T00:00:00Z"),
            ("t4", "2026-01-02T00:00:00Z"),
            ("m0", "2026-01-03T00:00:00Z"),
        ] {
            index
                .upsert(&mention(id, t, "", "acme colis retard"))
                .unwrap();
        }
        index.commit().unwrap();
        assert_eq!(index.num_docs(), 7);
        let all = ["m0", "t4", "t3", "t2", "t1", "m2", "m1"];
        let flat = |p: Vec<Vec<String>>| p.into_iter().flatten().collect::<Vec<_>>();
        for limit in 1..=8 {
            let p = pages(index.as_ref(), "acme", limit, None);
            assert!(p.iter().all(|page| page.len() <= limit), "{limit}: {p:?}");
            assert_eq!(flat(p), all, "exact query, limit {limit}");
            // NEAR is verified after the fact: same pages.
            let p = pages(index.as_ref(), "colis NEAR/1 retard", limit, None);
            assert_eq!(flat(p), all, "inexact query, limit {limit}");
        }
        // The last page is full and says there is no more.
        assert_eq!(pages(index.as_ref(), "acme", 7, None).len(), 1);
        // `until` is included.
        let p = pages(index.as_ref(), "acme", 2, Some("2026-01-02T00:00:00Z"));
        assert_eq!(flat(p), &all[1..]);
        assert!(pages(index.as_ref(), "nothing", 3, None) == vec![Vec::<String>::new()]);
    }

    #[test]
    fn count_agrees_with_search_for_exact_and_verified_queries() {
        let (_dir, index) = fixture();
        let s: &dyn MentionSearch = &index;
        let t = |x: &str| Some(x.parse::<DateTime<Utc>>().unwrap());
        for (q, since, until, want) in [
            ("acme", None, None, 3),
            ("acme", t("2026-01-02T10:00:00Z"), None, 2),
            ("acme", None, t("2026-01-02T10:00:00Z"), 2),
            ("acme NEAR/3 reussite", None, None, 1),
            ("NOT (acme NEAR/0 corp)", None, None, 2),
            ("nothing", None, None, 0),
        ] {
            let parsed = query::parse(q).unwrap();
            assert_eq!(s.count(&parsed, since, until).unwrap(), want, "{q}");
            let mut req = SearchRequest::new(&parsed, 100);
            req.since = since;
            req.until = until;
            assert_eq!(s.search(&req).unwrap().mentions.len() as u64, want, "{q}");
        }
    }

    #[test]
    fn delete_older_than_removes_old_mentions_at_commit() {
        let (dir, index) = fixture();
        let w: &dyn MentionIndex = &index;
        let before = "2026-01-02T10:00:00Z".parse().unwrap();
        assert_eq!(w.delete_older_than(before).unwrap(), 1);
        assert_eq!(w.num_docs(), 3, "not before the commit");
        w.commit().unwrap();
        assert_eq!(w.num_docs(), 2);
        assert_eq!(ids(&index, "acme"), vec!["c", "b"]);
        assert_eq!(w.delete_older_than(before).unwrap(), 0);
        drop(index);
        let ro = crate::store::open_search(crate::store::Backend::Tantivy, dir.path()).unwrap();
        let all = query::parse("acme OR NOT acme").unwrap();
        assert_eq!(ro.count(&all, None, None).unwrap(), 2);
        let mut stream = ro
            .between(
                "2000-01-01T00:00:00Z".parse().unwrap(),
                "2100-01-01T00:00:00Z".parse().unwrap(),
                1,
            )
            .unwrap();
        assert_eq!(stream.total(), 2);
        assert_eq!(stream.next().unwrap().unwrap()[0].id, "b");
        assert_eq!(stream.read(), 1);
    }
}
