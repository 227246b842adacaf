//! Translation of a rule [`Query`] AST to a tantivy query.
//!
//! Every node but `NEAR` translates to an exact tantivy query. Tantivy has no
//! span query for `NEAR` between phrases, prefixes and OR groups, so `NEAR`
//! becomes "both sides present" (a superset), and `NOT` of an inexact query
//! becomes "all" (a superset too); the flag returned with the query says
//! whether its hits must be verified with the matcher (see the parent
//! module). It does not parse queries (`rules::query`).

use tantivy::query::{
    AllQuery, BooleanQuery, EnableScoring, Explanation, Occur, PhraseQuery, Query as TQuery,
    RegexQuery, Scorer, TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Score, SeekDangerResult, SegmentReader, TERMINATED, Term};

use super::schema::Fields;
use crate::rules::query::{Query, Scope};
use crate::store::IndexError;

/// Translates `q`; the flag says whether the result is exact (otherwise
/// a superset to verify).
pub(super) fn translate(f: &Fields, q: &Query) -> Result<(Box<dyn TQuery>, bool), IndexError> {
    let term = |field: Field, t: &str| -> Box<dyn TQuery> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, t),
            IndexRecordOption::Basic,
        ))
    };
    let per_field = |scope: Scope, mk: &dyn Fn(Field) -> Result<Box<dyn TQuery>, IndexError>| {
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
                    let (t, e) = translate(f, inner)?;
                    if e {
                        clauses.push((Occur::MustNot, t));
                        continue;
                    }
                }
                let (t, e) = translate(f, q)?;
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
                let (t, e) = translate(f, q)?;
                exact &= e;
                clauses.push((Occur::Should, t));
            }
            (Box::new(BooleanQuery::new(clauses)), exact)
        }
        Query::Not(inner) => match translate(f, inner)? {
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
            let (l, _) = translate(f, left)?;
            let (r, _) = translate(f, right)?;
            (Box::new(BooleanQuery::intersection(vec![l, r])), false)
        }
    })
}

/// Terms of `field` starting with `prefix`.
fn prefix_query(field: Field, prefix: &str) -> Result<RegexQuery, IndexError> {
    Ok(RegexQuery::from_pattern(
        &format!("{}(?s:.*)", regex::escape(prefix)),
        field,
    )?)
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
