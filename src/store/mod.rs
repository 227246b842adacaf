//! Persistence: the mention index behind a narrow write/read interface, and
//! the redb state store behind named handles.
//!
//! The index seam: [`MentionIndex`] (write: upsert, commit, count, delete by
//! age) and [`MentionSearch`] (read: the query language newest first with a
//! time range, a limit and a cursor; a time range streamed in publication
//! order; counts). A back end is one module implementing both, one
//! [`Backend`] variant and one arm in [`open_index`] and [`open_search`];
//! tantivy ([`tantivy`]) is the only one today, Quickwit is the planned
//! second. Callers hold `Arc<dyn MentionIndex>` or `Box<dyn MentionSearch>`
//! and never name the back end.
//!
//! Every index call is blocking (disk I/O, tantivy commits): async callers
//! run it on `spawn_blocking`.
//!
//! [`index`] keeps the old path `store::index::MentionIndex` (the tantivy
//! type) working until its callers move to [`open_index`].

pub mod index;
pub mod state;
pub mod tantivy;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::mention::Mention;
use crate::rules::query::Query;

/// Errors of a mention index, whatever the back end. Messages say what to do.
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
    #[error("index opened read-only: cannot write (open it with store::open_index)")]
    ReadOnly,
    #[error("stored mention is incomplete: {0} (the index may be corrupt: re-import)")]
    Corrupt(String),
    #[error("invalid cursor `{0}`: pass back the `next` cursor of the previous page unchanged")]
    Cursor(String),
    /// An error of the back end's own library.
    #[error("index error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The index back ends, chosen by name in the config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backend {
    /// tantivy in `data_dir/index`, in process.
    #[default]
    Tantivy,
}

impl Backend {
    /// Every back end name, for error messages (`expected one of …`).
    pub(crate) const NAMES: &'static [&'static str] = &["tantivy"];

    /// The back end called `name` (as in the config), if any.
    pub(crate) fn from_name(name: &str) -> Option<Backend> {
        match name {
            "tantivy" => Some(Backend::Tantivy),
            _ => None,
        }
    }

    /// The config name of the back end.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Tantivy => "tantivy",
        }
    }
}

/// Opens the index of `backend` at `dir` for writing (creating it when
/// missing). Blocking. The writer also reads its own commits: upcast the
/// `Arc` to `Arc<dyn MentionSearch>` to hand out the read side.
pub fn open_index(backend: Backend, dir: &Path) -> Result<Arc<dyn MentionIndex>, IndexError> {
    match backend {
        Backend::Tantivy => Ok(Arc::new(tantivy::TantivyIndex::open(dir)?)),
    }
}

/// Opens an existing index of `backend` at `dir` for reading only, beside a
/// running writer (`veilleur search`, `backtest --config`). Blocking.
pub(crate) fn open_search(
    backend: Backend,
    dir: &Path,
) -> Result<Box<dyn MentionSearch>, IndexError> {
    match backend {
        Backend::Tantivy => Ok(Box::new(tantivy::TantivyIndex::open_read_only(dir)?)),
    }
}

/// The write side of a mention index. Every method blocks.
pub trait MentionIndex: MentionSearch {
    /// Upserts a mention by `m.id`: after the next [`commit`](Self::commit),
    /// one id is at most one document.
    fn upsert(&self, m: &Mention) -> Result<(), IndexError>;

    /// Makes the upserts and deletions so far durable and visible to searches.
    fn commit(&self) -> Result<(), IndexError>;

    /// Drops every upsert and deletion since the last commit, leaving the
    /// writer as the last commit left it: after a failed commit (a full
    /// disk) the caller upserts its pending mentions again and retries.
    fn rollback(&self) -> Result<(), IndexError>;

    /// Number of documents visible to searches (committed).
    fn num_docs(&self) -> u64;

    /// Deletes the mentions published before `before` (retention); returns
    /// how many it found. Takes effect at the next commit.
    fn delete_older_than(&self, before: DateTime<Utc>) -> Result<u64, IndexError>;
}

/// The read side of a mention index. Every method blocks.
pub trait MentionSearch: Send + Sync + std::fmt::Debug {
    /// One page of the mentions matching `req.query` in its time range,
    /// newest first (ties by id, descending), at most `req.limit`, after
    /// `req.after`. The page's `next` continues where it ended.
    fn search(&self, req: &SearchRequest<'_>) -> Result<SearchPage, IndexError>;

    /// Number of mentions matching `query` published in `[since, until]`
    /// (open bounds when `None`).
    fn count(
        &self,
        query: &Query,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<u64, IndexError>;

    /// The mentions published in `[from, to]` (both included), oldest first,
    /// in batches of at most `batch` (0 means 1): what backtests replay. The
    /// stream reads the index as it was at the call.
    fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        batch: usize,
    ) -> Result<Box<dyn MentionStream + '_>, IndexError>;
}

/// Batches of mentions in publication order, from [`MentionSearch::between`].
pub trait MentionStream: Iterator<Item = Result<Vec<Mention>, IndexError>> {
    /// Number of mentions in the range (read or not).
    fn total(&self) -> usize;
    /// Number of mentions already returned.
    fn read(&self) -> usize;
}

/// What [`MentionSearch::search`] looks for.
#[derive(Debug, Clone)]
pub struct SearchRequest<'q> {
    pub query: &'q Query,
    /// Published at or after (all time when `None`).
    pub since: Option<DateTime<Utc>>,
    /// Published at or before (up to now when `None`).
    pub until: Option<DateTime<Utc>>,
    /// Most mentions in the page; 0 gives an empty page.
    pub limit: usize,
    /// Continue after this position (the `next` of the previous page).
    pub after: Option<Cursor>,
}

impl<'q> SearchRequest<'q> {
    /// All time, first page, at most `limit`.
    pub fn new(query: &'q Query, limit: usize) -> Self {
        SearchRequest {
            query,
            since: None,
            until: None,
            limit,
            after: None,
        }
    }
}

/// One page of search results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// Newest first.
    pub mentions: Vec<Mention>,
    /// Where the next page starts; `None` when there is no more.
    pub next: Option<Cursor>,
}

/// A position in newest-first order: the last mention of a page. Opaque to
/// API clients as a string ([`Cursor::encode`], [`Cursor::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Unix nanoseconds of the last mention's `published`.
    pub published_nanos: i64,
    /// The last mention's id (ties on `published` are ordered by id).
    pub id: String,
}

impl Cursor {
    /// The cursor as an opaque token: `<nanos>:<id>`.
    pub(crate) fn encode(&self) -> String {
        format!("{}:{}", self.published_nanos, self.id)
    }

    /// Reads a token made by [`Cursor::encode`].
    pub fn parse(s: &str) -> Result<Cursor, IndexError> {
        let bad = || IndexError::Cursor(s.to_string());
        let (nanos, id) = s.split_once(':').ok_or_else(bad)?;
        Ok(Cursor {
            published_nanos: nanos.parse().map_err(|_| bad())?,
            id: id.to_string(),
        })
    }

    /// Whether a mention at (`nanos`, `id`) comes after this cursor in
    /// newest-first, then id-descending, order.
    pub(crate) fn precedes(&self, nanos: i64, id: &str) -> bool {
        (nanos, id) < (self.published_nanos, self.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip() {
        for name in Backend::NAMES {
            let b = Backend::from_name(name).unwrap();
            assert_eq!(b.name(), *name);
        }
        assert_eq!(Backend::from_name("quickwit"), None);
        assert_eq!(Backend::default(), Backend::Tantivy);
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            published_nanos: -5,
            id: "a:b".into(),
        };
        assert_eq!(Cursor::parse(&c.encode()).unwrap(), c);
        for bad in ["", "abc", "x:1", "1.5:a"] {
            let err = Cursor::parse(bad).unwrap_err();
            assert!(err.to_string().contains("previous page"), "{bad}: {err}");
        }
        assert!(c.precedes(-6, "z"));
        assert!(c.precedes(-5, "a"));
        assert!(!c.precedes(-5, "a:b"));
        assert!(!c.precedes(-4, "a"));
    }
}
