//! What ingestion changed and has not committed yet, and when to commit it.
//!
//! [`Pending`] accumulates the state changes of the batches ingested since
//! the last commit (seen ids, bucket increments, cursors) and the ids it
//! holds, so that a mention fetched twice before a commit is counted once.
//! [`CommitPolicy`] decides when a batch makes a commit due (by size and by
//! time); the commit itself (index first, then the state, in one
//! transaction) is [`super::Pipeline::commit`].
//!
//! Pure values: the monotonic time is passed in (`at`), never read here.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::mention::Mention;
use crate::store::state::IngestCommit;

/// State changes waiting for the next index commit.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Seen ids, bucket increments and cursors, committed in one state
    /// transaction right after the index commit.
    commit: IngestCommit,
    /// The ids in `commit.seen`: not yet in the store's seen table, so
    /// deduplicated here.
    seen: HashSet<String>,
    /// The mentions added to the index since its last commit, kept until
    /// it succeeds: a failed commit rolls the index back and adds them
    /// again (bounded by the commit policy).
    docs: Vec<Mention>,
}

impl Pending {
    /// Whether nothing waits for a commit.
    pub(crate) fn is_empty(&self) -> bool {
        self.commit.seen.is_empty()
            && self.commit.buckets.is_empty()
            && self.commit.validators.is_empty()
            && self.docs.is_empty()
    }

    /// Whether `id` was ingested since the last commit.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.seen.contains(id)
    }

    /// Documents added to the index since its last commit.
    pub(crate) fn docs(&self) -> usize {
        self.docs.len()
    }

    /// The mentions added to the index since its last commit.
    pub(crate) fn mentions(&self) -> &[Mention] {
        &self.docs
    }

    /// Adds one batch's changes and the mentions it indexed.
    pub(crate) fn absorb(&mut self, delta: IngestCommit, docs: &[Mention]) {
        self.seen
            .extend(delta.seen.iter().map(|(id, _)| id.clone()));
        self.commit.seen.extend(delta.seen);
        self.commit.buckets.extend(delta.buckets);
        self.commit.validators.extend(delta.validators);
        self.docs.extend_from_slice(docs);
    }

    /// Takes everything pending, leaving it empty: what to commit, and
    /// whether the index has documents to commit first.
    pub(crate) fn take(&mut self) -> (IngestCommit, usize) {
        let docs = std::mem::take(&mut self.docs).len();
        self.seen.clear();
        (std::mem::take(&mut self.commit), docs)
    }

    /// Puts back state changes [`take`](Self::take) took, after their
    /// transaction failed (their mentions are already in the index).
    pub(crate) fn restore(&mut self, commit: IngestCommit) {
        self.seen
            .extend(commit.seen.iter().map(|(id, _)| id.clone()));
        self.commit.seen.extend(commit.seen);
        self.commit.buckets.extend(commit.buckets);
        self.commit.validators.extend(commit.validators);
    }
}

/// When ingested batches are committed.
#[derive(Debug, Clone)]
pub(crate) struct CommitPolicy {
    /// A batch that leaves this many documents pending commits them.
    docs: usize,
    /// A batch arriving this long after the last commit commits.
    interval: Duration,
    /// When the last commit happened (monotonic).
    last: Instant,
}

impl CommitPolicy {
    /// Commits after `docs` pending documents or `interval`, counting from `at`.
    pub(crate) fn new(docs: usize, interval: Duration, at: Instant) -> CommitPolicy {
        CommitPolicy {
            docs: docs.max(1),
            interval,
            last: at,
        }
    }

    /// Whether a batch just ingested at `at` makes a commit due.
    pub(crate) fn due(&self, pending: &Pending, at: Instant) -> bool {
        !pending.is_empty()
            && (pending.docs() >= self.docs
                || at.saturating_duration_since(self.last) >= self.interval)
    }

    /// Notes a commit at `at`.
    pub(crate) fn committed(&mut self, at: Instant) {
        self.last = at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mentions(n: usize) -> Vec<Mention> {
        let m = Mention::from_json_line(
            r#"{"url":"https://example.org/a","title":"t","published":"2026-01-01T00:00:00Z"}"#,
            chrono::Utc::now(),
        )
        .unwrap();
        vec![m; n]
    }

    fn delta(ids: &[&str]) -> IngestCommit {
        IngestCommit {
            seen: ids.iter().map(|id| (id.to_string(), 0)).collect(),
            buckets: vec![("w".into(), 1, ids.len() as u64, 0)],
            validators: Vec::new(),
        }
    }

    #[test]
    fn policy_commits_by_size_or_time_and_never_empty() {
        let t0 = Instant::now();
        let mut policy = CommitPolicy::new(3, Duration::from_secs(5), t0);
        let mut p = Pending::default();
        assert!(
            !policy.due(&p, t0 + Duration::from_secs(60)),
            "nothing pending"
        );
        p.absorb(delta(&["a", "b"]), &mentions(2));
        assert!(p.contains("a") && !p.contains("c"));
        assert!(!policy.due(&p, t0 + Duration::from_secs(1)));
        assert!(policy.due(&p, t0 + Duration::from_secs(5)), "by time");
        p.absorb(delta(&["c"]), &mentions(1));
        assert!(policy.due(&p, t0 + Duration::from_secs(1)), "by size");
        let (c, docs) = p.take();
        assert_eq!((c.seen.len(), c.buckets.len(), docs), (3, 2, 3));
        assert!(p.is_empty() && !p.contains("a"));
        policy.committed(t0 + Duration::from_secs(10));
        p.absorb(delta(&["d"]), &mentions(1));
        assert!(!policy.due(&p, t0 + Duration::from_secs(14)));
        assert!(policy.due(&p, t0 + Duration::from_secs(15)));
    }
}
