//! The matcher and the index agree on every document, for every query.
//!
//! Property test: random corpora of mentions (a small vocabulary with
//! accents, case variants, French elisions with both apostrophes, hashtags,
//! handles, emojis, several sources, languages and URLs) are indexed once
//! each in a tempdir; then random queries from the whole grammar (words,
//! phrases, prefixes, AND/OR/NOT, juxtaposition, NEAR/ONEAR, every field)
//! are run through both back ends, and the sets of matching ids must be
//! equal: `query_matches` (the matcher's evaluator), `Matcher::matches` with
//! the query as a one-watch rule set (the prefilter path), and
//! `MentionSearch::search`. At the end, one `Matcher` holding every generated
//! query as a watch must give, per mention, exactly the watches whose query
//! matches (the shared trigger map).
//!
//! Reproduce: the run is deterministic for a seed. The seed is printed (run
//! with `--nocapture`) and named in every failure; set it with
//! `VEILLEUR_AGREEMENT_SEED=<u64>` (`random` picks one from the clock), and
//! the number of query cases per corpus with `VEILLEUR_AGREEMENT_CASES`
//! (default 300, over 4 corpora: 1,200 cases):
//!
//! ```text
//! VEILLEUR_AGREEMENT_SEED=42 cargo test --test query_agreement -- --nocapture
//! ```

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use veilleur::mention::Mention;
use veilleur::rules::matcher::{Matcher, query_matches};
use veilleur::rules::query::{self, Query};
use veilleur::rules::{RuleSet, Watch};
use veilleur::store::{self, Backend, SearchRequest};

const DEFAULT_SEED: u64 = 0x7665_696c_6c65_7572; // "veilleur"
const CORPORA: usize = 4;
const DOCS_PER_CORPUS: usize = 120;

/// Words as they appear in documents (and, often, in queries).
const VOCAB: &[&str] = &[
    "acme",
    "Acmé",
    "ACME",
    "arnaque",
    "l'arnaque",
    "L’Arnaque",
    "d'Acme",
    "d’acme",
    "qu'ils",
    "ils",
    "réclamation",
    "RECLAMATION",
    "service",
    "client",
    "Service-Client",
    "panne",
    "remboursé",
    "rembourse",
    "remboursement",
    "scam",
    "Scammers",
    "the",
    "le",
    "corp",
    "#boycott",
    "#BoycottAcme",
    "boycott",
    "@acme",
    "@Acme_FR",
    "😡",
    "👍🏽",
    "👍",
    "c'est",
    "aujourd'hui",
    "near",
    "or",
];

const SEPARATORS: &[&str] = &[" ", " ", " ", ", ", " ! ", " — ", "\n"];
const SOURCES: &[&str] = &["rss", "Reddit", "mastodon"];
const AUTHORS: &[&str] = &["Jean Dupont", "@acme", "Zoé Martin", ""];
const URLS: &[&str] = &[
    "https://www.example.org/blog/acme",
    "http://news.example.org/2026/panne",
    "https://forum.acme.fr/t/123",
    "https://acme.fr/",
    "",
];
const LANGS: &[Option<&str>] = &[None, Some("fr"), Some("en"), Some("und"), Some("FR")];

fn text_strategy(max_words: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(VOCAB),
            prop::sample::select(SEPARATORS),
        ),
        0..=max_words,
    )
    .prop_map(|ws| {
        let mut s = String::new();
        for (w, sep) in ws {
            s.push_str(w);
            s.push_str(sep);
        }
        s
    })
}

fn doc_strategy() -> impl Strategy<Value = Mention> {
    (
        text_strategy(5),
        text_strategy(16),
        prop::sample::select(SOURCES),
        prop::sample::select(AUTHORS),
        prop::sample::select(URLS),
        prop::sample::select(LANGS),
        0i64..100_000,
    )
        .prop_map(|(title, text, source, author, url, lang, secs)| Mention {
            id: String::new(),
            source: source.into(),
            url: url.into(),
            title,
            text,
            author: author.into(),
            author_followers: None,
            published: DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1_700_000_000 + secs),
            lang: lang.map(str::to_string),
            sentiment: None,
            watches: Vec::new(),
        })
}

/// A query word: a vocabulary word, sometimes re-cased.
fn word() -> impl Strategy<Value = String> {
    (prop::sample::select(VOCAB), any::<bool>()).prop_map(|(w, upper)| {
        if upper {
            // Upper-casing must not create an operator.
            let u = w.to_uppercase();
            if ["OR", "NEAR", "AND", "NOT"].contains(&u.as_str()) {
                w.to_string()
            } else {
                u
            }
        } else {
            w.to_string()
        }
    })
}

/// A prefix of an analyzed vocabulary token, at least 2 characters long.
fn prefix() -> impl Strategy<Value = String> {
    (prop::sample::select(VOCAB), 0usize..4).prop_filter_map("too short", |(w, cut)| {
        let tok = veilleur::text::words(w).into_iter().next()?;
        let chars: Vec<char> = tok.chars().collect();
        let body = chars.len() - usize::from(tok.starts_with(['#', '@']));
        if body < 2 {
            return None;
        }
        let keep = chars.len().saturating_sub(cut).max(chars.len() - body + 2);
        Some(format!("{}*", chars[..keep].iter().collect::<String>()))
    })
}

/// A positional leaf: word, phrase or prefix (valid on either side of NEAR).
fn span_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => word(),
        2 => prop::collection::vec(word(), 2..=3).prop_map(|ws| format!("\"{}\"", ws.join(" "))),
        2 => prefix(),
    ]
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => span_leaf(),
        1 => (prop::sample::select(&["title:", "text:", "author:"][..]), span_leaf())
            .prop_map(|(f, l)| format!("{f}{l}")),
        1 => prop::sample::select(&[
            "source:reddit", "source:RSS", "lang:fr", "lang:und", "lang:en",
            "url:example.org", "url:acme.fr", "url:news.example.org/2026",
            "url:https://www.example.org/blog", "url:org",
        ][..]).prop_map(str::to_string),
        1 => (span_leaf(), prop::sample::select(&["NEAR", "ONEAR"][..]), 0u32..4, span_leaf())
            .prop_map(|(l, op, n, r)| format!("{l} {op}/{n} {r}")),
        1 => (prop::collection::vec(span_leaf(), 2..=3), 0u32..3, span_leaf())
            .prop_map(|(ls, n, r)| format!("({}) NEAR/{n} {r}", ls.join(" OR "))),
    ]
}

fn query_strategy() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) AND ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) OR ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} OR NOT {b}")),
            inner.clone().prop_map(|a| format!("NOT ({a})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a}) NOT ({b})")),
        ]
    })
}

fn seed() -> u64 {
    match std::env::var("VEILLEUR_AGREEMENT_SEED") {
        Ok(s) if s == "random" => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(DEFAULT_SEED),
        Ok(s) => s
            .parse()
            .expect("VEILLEUR_AGREEMENT_SEED must be a u64 or `random`"),
        Err(_) => DEFAULT_SEED,
    }
}

fn rng(seed: u64, stream: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&stream.to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

fn watch(i: usize, q: Query) -> Watch {
    Watch {
        name: format!("w{i}"),
        query: q,
        exclude: None,
        languages: Vec::new(),
        sources: Vec::new(),
        tags: Vec::new(),
        alerts: Vec::new(),
        path: PathBuf::from(format!("w{i}.toml")),
    }
}

#[test]
fn matcher_and_index_agree_on_every_document() {
    let seed = seed();
    let cases: u32 = std::env::var("VEILLEUR_AGREEMENT_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    println!("query_agreement: VEILLEUR_AGREEMENT_SEED={seed} VEILLEUR_AGREEMENT_CASES={cases}");
    let mut total = 0;
    // Cases whose answer is neither "no document" nor "every document": the
    // generator must exercise real distinctions, not only trivial answers.
    let nontrivial = std::cell::Cell::new(0usize);
    for corpus in 0..CORPORA {
        // The corpus: drawn from the seed, indexed once.
        let mut runner = TestRunner::new_with_rng(Config::default(), rng(seed, corpus as u64));
        let mut docs = prop::collection::vec(doc_strategy(), DOCS_PER_CORPUS)
            .new_tree(&mut runner)
            .expect("corpus generation")
            .current();
        for (i, d) in docs.iter_mut().enumerate() {
            d.id = format!("d{i}");
        }
        let dir = tempfile::tempdir().unwrap();
        let index = store::open_index(Backend::Tantivy, dir.path()).unwrap();
        for d in &docs {
            index.upsert(d).unwrap();
        }
        index.commit().unwrap();

        let queries: RefCell<Vec<Query>> = RefCell::new(Vec::new());
        let config = Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 2_000,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng(seed, 1_000 + corpus as u64));
        let result = runner.run(&query_strategy(), |src| {
            let q = query::parse(&src)
                .map_err(|e| TestCaseError::fail(format!("generated query {src:?}: {e}")))?;
            let by_eval: BTreeSet<&str> = docs
                .iter()
                .filter(|d| query_matches(&q, d))
                .map(|d| d.id.as_str())
                .collect();
            let one = Matcher::new(&RuleSet {
                watches: vec![watch(0, q.clone())],
            });
            let by_matcher: BTreeSet<&str> = docs
                .iter()
                .filter(|d| !one.matches(d).is_empty())
                .map(|d| d.id.as_str())
                .collect();
            let hits = index
                .search(&SearchRequest::new(&q, usize::MAX))
                .map_err(|e| TestCaseError::fail(format!("{src:?}: {e}")))?
                .mentions;
            let by_index: BTreeSet<&str> = hits.iter().map(|m| m.id.as_str()).collect();
            prop_assert_eq!(
                &by_eval,
                &by_matcher,
                "prefilter changed the answer for {:?}",
                src
            );
            prop_assert_eq!(
                &by_eval,
                &by_index,
                "matcher vs index for {:?} (AST {:?})",
                src,
                q
            );
            if !by_eval.is_empty() && by_eval.len() < docs.len() {
                nontrivial.set(nontrivial.get() + 1);
            }
            queries.borrow_mut().push(q);
            Ok(())
        });
        if let Err(e) = result {
            panic!(
                "{e}\nreproduce with VEILLEUR_AGREEMENT_SEED={seed} (corpus {corpus})\ncorpus: {docs:#?}"
            );
        }

        // Every query at once: the shared trigger map finds the same watches.
        let queries = queries.into_inner();
        total += queries.len();
        let rules = RuleSet {
            watches: queries
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, q)| watch(i, q))
                .collect(),
        };
        let all = Matcher::new(&rules);
        for d in &docs {
            let want: Vec<usize> = (0..queries.len())
                .filter(|&i| query_matches(&queries[i], d))
                .collect();
            assert_eq!(
                all.matches(d),
                want,
                "seed {seed}, corpus {corpus}, doc {d:#?}"
            );
        }
    }
    assert!(total >= 1_000 || cases < 250, "only {total} cases ran");
    println!(
        "query_agreement: {total} cases, {} with a non-trivial answer",
        nontrivial.get()
    );
    assert!(
        nontrivial.get() * 3 >= total,
        "too few non-trivial cases: {}",
        nontrivial.get()
    );
}
