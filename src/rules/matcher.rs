//! The streaming matcher: which watches does a mention belong to?
//!
//! Owns the evaluation of a [`Query`] on one mention ([`query_matches`], the
//! reference semantics that `store::index` also uses to verify NEAR hits) and
//! the [`Matcher`], built once per rule set, that finds every matching watch
//! with a cost that grows with the text, not with the number of watches.
//! It does not parse queries (`rules::query`), analyze text itself (it calls
//! [`crate::text`]) or touch the index.
//!
//! A mention belongs to watch *w* when, in this order:
//!
//! 1. **sources**: `w.sources` is empty or holds `m.source` (exact, as
//!    configured);
//! 2. **languages**: `w.languages` is empty, or holds the mention's language
//!    (lowercased) or its primary subtag (`fr` keeps `fr-CA`). A mention
//!    whose language is unknown (`None`, empty or `und`) passes a non-empty
//!    filter only when it lists `und` explicitly: a watch that asks for
//!    French does not get posts we could not identify, unless it says so;
//! 3. its **query** matches, and its **exclude** (if any) does not.
//!
//! Prefilter (why it is fast, and why it is still exact): each watch query
//! gets a set of *trigger literals* ([`triggers`]) such that the query can
//! only match a mention holding one of them (as a token of title, text or
//! author, or a token starting with a trigger prefix). `Word` triggers on
//! itself, `Prefix` on its prefix, `Phrase` on its longest word, `A AND B`
//! on the smaller trigger set of its sides, `A OR B` on the union, `NEAR` on
//! one side. `NOT`, `source:`, `lang:` and `url:` give no trigger: a watch
//! whose query has none (`NOT acme`, `lang:fr`, `acme OR NOT x`) is evaluated
//! on every mention. All literals of all watches sit in one hash map
//! (token → watches) plus one prefix map probed at the prefix lengths in
//! use, so a mention costs one lookup per token, then one tree evaluation
//! per watch it triggered.
//!
//! Invariants: `Matcher` is immutable after [`Matcher::new`] (Send + Sync,
//! shared behind an `Arc`); [`Matcher::matches`] returns indices into
//! `rules.watches` in increasing order; the prefilter never changes the
//! answer of [`query_matches`], only how often it is asked.

use std::collections::{BTreeSet, HashMap};

use crate::mention::Mention;
use crate::rules::RuleSet;
use crate::rules::query::{self, Query, Scope};
use crate::text;

/// Matches mentions against every watch of a rule set.
#[derive(Debug)]
pub struct Matcher {
    watches: Vec<CompiledWatch>,
    /// Exact trigger token → watches (indices, increasing).
    by_token: HashMap<String, Vec<u32>>,
    /// Trigger prefix → watches.
    by_prefix: HashMap<String, Vec<u32>>,
    /// Byte lengths of the trigger prefixes, to probe only those.
    prefix_lens: Vec<usize>,
    /// Watches whose query has no trigger: evaluated on every mention.
    always: Vec<u32>,
}

#[derive(Debug)]
struct CompiledWatch {
    query: Query,
    exclude: Option<Query>,
    languages: Vec<String>,
    sources: Vec<String>,
}

impl Matcher {
    /// Compiles every watch of `rules`.
    pub fn new(rules: &RuleSet) -> Matcher {
        let mut m = Matcher {
            watches: Vec::with_capacity(rules.watches.len()),
            by_token: HashMap::new(),
            by_prefix: HashMap::new(),
            prefix_lens: Vec::new(),
            always: Vec::new(),
        };
        let mut lens = BTreeSet::new();
        for (i, w) in rules.watches.iter().enumerate() {
            let i = i as u32;
            m.watches.push(CompiledWatch {
                query: w.query.clone(),
                exclude: w.exclude.clone(),
                languages: w.languages.iter().map(|l| text::keyword(l)).collect(),
                sources: w.sources.clone(),
            });
            match triggers(&w.query) {
                None => m.always.push(i),
                Some(lits) => {
                    for lit in lits {
                        let (map, key) = match lit {
                            Literal::Token(t) => (&mut m.by_token, t),
                            Literal::Prefix(p) => {
                                lens.insert(p.len());
                                (&mut m.by_prefix, p)
                            }
                        };
                        let ids = map.entry(key).or_default();
                        if ids.last() != Some(&i) {
                            ids.push(i);
                        }
                    }
                }
            }
        }
        m.prefix_lens = lens.into_iter().collect();
        m
    }

    /// Number of compiled watches.
    pub fn len(&self) -> usize {
        self.watches.len()
    }

    /// Whether the rule set had no watch.
    pub fn is_empty(&self) -> bool {
        self.watches.is_empty()
    }

    /// Indices into `rules.watches` of the watches `m` belongs to, increasing
    /// (see the module doc for the source, language, query and exclude rules).
    pub fn matches(&self, m: &Mention) -> Vec<usize> {
        let doc = Doc::new(m);
        let mut candidates: Vec<u32> = self.always.clone();
        for field in [&doc.title, &doc.text, &doc.author] {
            for t in field.iter() {
                if let Some(ids) = self.by_token.get(t) {
                    candidates.extend_from_slice(ids);
                }
                for &len in &self.prefix_lens {
                    if len > t.len() {
                        break;
                    }
                    if t.is_char_boundary(len)
                        && let Some(ids) = self.by_prefix.get(&t[..len])
                    {
                        candidates.extend_from_slice(ids);
                    }
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .filter(|&i| {
                let w = &self.watches[i as usize];
                w.accepts_source(&m.source)
                    && w.accepts_lang(&doc.lang)
                    && eval(&w.query, &doc)
                    && !w.exclude.as_ref().is_some_and(|x| eval(x, &doc))
            })
            .map(|i| i as usize)
            .collect()
    }
}

impl CompiledWatch {
    fn accepts_source(&self, source: &str) -> bool {
        self.sources.is_empty() || self.sources.iter().any(|s| s == source)
    }

    /// `lang` is the mention's [`lang_key`].
    fn accepts_lang(&self, lang: &str) -> bool {
        if self.languages.is_empty() {
            return true;
        }
        let primary = lang.split(['-', '_']).next().unwrap_or(lang);
        self.languages.iter().any(|l| l == lang || l == primary)
    }
}

/// Whether `q` matches `m`: the reference semantics of the query language,
/// which the tantivy back end must agree with.
pub fn query_matches(q: &Query, m: &Mention) -> bool {
    eval(q, &Doc::new(m))
}

/// The language key a mention is filtered and searched by: its language,
/// lowercased, or `und` when unknown (`None` or empty).
pub(crate) fn lang_key(lang: Option<&str>) -> String {
    match lang.map(text::keyword) {
        Some(l) if !l.is_empty() => l,
        _ => "und".to_string(),
    }
}

/// A literal a watch can be triggered by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Literal {
    /// An analyzed token.
    Token(String),
    /// Any token starting with this.
    Prefix(String),
}

/// Trigger literals of `q`: when `Some(lits)`, `q` can only match a mention
/// one of whose title, text or author tokens is (or starts with) one of
/// `lits`. `None` means `q` may match without any of its literals (see the
/// module doc) and must be evaluated on every mention.
pub(crate) fn triggers(q: &Query) -> Option<Vec<Literal>> {
    match q {
        Query::Word { word, .. } => Some(vec![Literal::Token(word.clone())]),
        Query::Prefix { prefix, .. } => Some(vec![Literal::Prefix(prefix.clone())]),
        Query::Phrase { words, .. } => words
            .iter()
            .max_by_key(|w| w.len())
            .map(|w| vec![Literal::Token(w.clone())]),
        Query::Source(_) | Query::Lang(_) | Query::UrlHost(_) | Query::UrlPrefix(_) => None,
        Query::Not(_) => None,
        Query::And(qs) => qs.iter().filter_map(triggers).min_by_key(|lits| {
            (
                lits.len(),
                lits.iter()
                    .filter(|l| matches!(l, Literal::Prefix(_)))
                    .count(),
            )
        }),
        Query::Or(qs) => {
            let mut all = Vec::new();
            for q in qs {
                all.extend(triggers(q)?);
            }
            Some(all)
        }
        Query::Near { left, right, .. } => match (triggers(left), triggers(right)) {
            (Some(l), Some(r)) => Some(if r.len() < l.len() { r } else { l }),
            (l, r) => l.or(r),
        },
    }
}

/// The tokens of one analyzed field, in position order (token *i* is at
/// position *i*: the analyzer numbers positions contiguously), in one buffer.
#[derive(Debug, Default)]
struct Tokens {
    buf: String,
    ends: Vec<u32>,
}

impl Tokens {
    fn new(s: &str) -> Tokens {
        let mut t = Tokens {
            buf: String::with_capacity(s.len()),
            ends: Vec::new(),
        };
        text::for_each_token(s, |tok, _, _, _| {
            t.buf.push_str(tok);
            t.ends.push(t.buf.len() as u32);
        });
        t
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.buf[start..self.ends[i] as usize]
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// A mention, analyzed once for evaluating many queries.
struct Doc {
    title: Tokens,
    text: Tokens,
    author: Tokens,
    source: String,
    lang: String,
    url_key: String,
}

impl Doc {
    fn new(m: &Mention) -> Doc {
        Doc {
            title: Tokens::new(&m.title),
            text: Tokens::new(&m.text),
            author: Tokens::new(&m.author),
            source: text::keyword(&m.source),
            lang: lang_key(m.lang.as_deref()),
            url_key: query::url_key(&m.url),
        }
    }
}

/// Calls `f` with each field of `scope`; true as soon as `f` is.
fn any_field(d: &Doc, scope: Scope, mut f: impl FnMut(&Tokens) -> bool) -> bool {
    match scope {
        Scope::TitleOrText => f(&d.title) || f(&d.text),
        Scope::Title => f(&d.title),
        Scope::Text => f(&d.text),
        Scope::Author => f(&d.author),
    }
}

fn eval(q: &Query, d: &Doc) -> bool {
    match q {
        Query::Word { scope, word } => any_field(d, *scope, |t| t.iter().any(|x| x == word)),
        Query::Prefix { scope, prefix } => any_field(d, *scope, |t| {
            t.iter().any(|x| x.starts_with(prefix.as_str()))
        }),
        Query::Phrase { scope, .. } => any_field(d, *scope, |t| !spans(q, t).is_empty()),
        Query::Source(v) => d.source == *v,
        Query::Lang(v) => d.lang == *v,
        Query::UrlHost(h) => {
            let host = query::url_key_host(&d.url_key);
            query::host_suffixes(host).any(|s| s == h)
        }
        Query::UrlPrefix(p) => d.url_key.starts_with(p.as_str()),
        Query::And(qs) => qs.iter().all(|q| eval(q, d)),
        Query::Or(qs) => qs.iter().any(|q| eval(q, d)),
        Query::Not(q) => !eval(q, d),
        Query::Near {
            left,
            right,
            max_gap,
            ordered,
        } => {
            let Some(scope) = left.span_scope() else {
                return false;
            };
            any_field(d, scope, |t| {
                let ls = spans(left, t);
                if ls.is_empty() {
                    return false;
                }
                let rs = spans(right, t);
                ls.iter().any(|&(l0, l1)| {
                    rs.iter().any(|&(r0, r1)| {
                        (l1 < r0 && r0 - l1 - 1 <= *max_gap)
                            || (!*ordered && r1 < l0 && l0 - r1 - 1 <= *max_gap)
                    })
                })
            })
        }
    }
}

/// Inclusive position spans where a span query (word, prefix, phrase, OR of
/// them) occurs in `t`. Other nodes have no span.
fn spans(q: &Query, t: &Tokens) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    collect_spans(q, t, &mut out);
    out
}

fn collect_spans(q: &Query, t: &Tokens, out: &mut Vec<(u32, u32)>) {
    match q {
        Query::Word { word, .. } => {
            for (i, x) in t.iter().enumerate() {
                if x == word {
                    out.push((i as u32, i as u32));
                }
            }
        }
        Query::Prefix { prefix, .. } => {
            for (i, x) in t.iter().enumerate() {
                if x.starts_with(prefix.as_str()) {
                    out.push((i as u32, i as u32));
                }
            }
        }
        Query::Phrase { words, .. } => {
            let n = words.len();
            if n == 0 || t.len() < n {
                return;
            }
            for i in 0..=t.len() - n {
                if words.iter().enumerate().all(|(k, w)| t.get(i + k) == w) {
                    out.push((i as u32, (i + n - 1) as u32));
                }
            }
        }
        Query::Or(qs) => {
            for q in qs {
                collect_spans(q, t, out);
            }
        }
        _ => {}
    }
}

// The daemon shares one `Matcher` between tasks behind an `Arc`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Matcher>();
};

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::rules::Watch;

    fn mention(title: &str, text: &str) -> Mention {
        Mention {
            id: "1".into(),
            source: "Reddit".into(),
            url: "https://www.News.example.org/2026/acme?x=1".into(),
            title: title.into(),
            text: text.into(),
            author: "Jean Dupont @jdupont".into(),
            author_followers: None,
            published: "2026-01-01T00:00:00Z".parse().unwrap(),
            lang: Some("fr".into()),
            sentiment: None,
            watches: Vec::new(),
        }
    }

    /// `query` against a mention whose text is `text` (title empty).
    fn check(query: &str, text: &str, expected: bool) {
        let q = query::parse(query).unwrap_or_else(|e| panic!("{query:?}: {e}"));
        assert_eq!(
            query_matches(&q, &mention("", text)),
            expected,
            "{query:?} on {text:?}"
        );
    }

    fn watch(name: &str, query: &str) -> Watch {
        Watch {
            name: name.into(),
            query: query::parse(query).unwrap(),
            exclude: None,
            languages: Vec::new(),
            sources: Vec::new(),
            tags: Vec::new(),
            alerts: Vec::new(),
            path: PathBuf::from(format!("{name}.toml")),
        }
    }

    #[test]
    fn words_fold_case_accents_and_elision() {
        check(
            "réclamation",
            r#"Ma RECLAMATION est restée sans réponse"#,
            true,
        );
        check("reclamation", r#"ma réclamation"#, true);
        check("Acmé", r#"j'adore ACME"#, true);
        check("arnaque", r#"c'est l'arnaque du siècle"#, true);
        check("acme", r#"le service d’Acme"#, true);
        check("ils", r#"qu'ils remboursent"#, true);
        check("l'arnaque", r#"quelle arnaque"#, true);
        check("acme", r#"acmecorp rachète tout"#, false);
        check("scam", r#"this is a SCAM"#, true);
        check("scam", r#"scammers everywhere"#, false);
    }

    #[test]
    fn phrases_are_consecutive_and_elision_takes_no_position() {
        check(r#""service client""#, r#"Le Service Client d'Acme"#, true);
        check(r#""service client""#, r#"le client du service"#, false);
        check(r#""arnaque acme""#, r#"l'arnaque d'Acme"#, true);
        check(
            r#""customer service""#,
            r#"Worst customer-service ever"#,
            true,
        );
        check("acme-corp", r#"Acme Corp is down"#, true);
    }

    #[test]
    fn booleans_follow_precedence() {
        let text = r#"Acme : panne générale, le service client ne répond pas"#;
        check("acme panne", text, true);
        check("acme AND remboursement", text, false);
        check("remboursement OR panne", text, true);
        check("acme NOT panne", text, false);
        check("NOT remboursement", text, true);
        check("remboursement acme OR panne", text, true);
        check("remboursement (acme OR panne)", text, false);
        check("NOT (acme AND remboursement)", text, true);
    }

    #[test]
    fn prefixes_near_tags_emojis() {
        check("arnaq*", r#"Des arnaqueurs !"#, true);
        check("rembours*", r#"jamais remboursé"#, true);
        check("rembours*", r#"rien"#, false);
        check("acme NEAR/3 arnaque", r#"Acme est une vraie arnaque"#, true);
        check(
            "acme NEAR/2 arnaque",
            r#"Acme est une vraie arnaque"#,
            false,
        );
        check("arnaque NEAR/3 acme", r#"Acme est une vraie arnaque"#, true);
        check(
            "arnaque ONEAR/3 acme",
            r#"Acme est une vraie arnaque"#,
            false,
        );
        check(
            "acme ONEAR/3 arnaque",
            r#"Acme est une vraie arnaque"#,
            true,
        );
        check(
            r#"(acme OR "acme corp") NEAR/0 (scam* OR fraud)"#,
            r#"the Acme Corp scammers"#,
            true,
        );
        check("acme NEAR/5 acme", r#"acme only once"#, false);
        check("acme NEAR/5 acme", r#"acme and acme"#, true);
        check("#boycottacme", r#"#BoycottAcmé maintenant"#, true);
        check("boycottacme", r#"#BoycottAcme"#, false);
        check("#boycott", r#"boycott Acme"#, false);
        check("#boycott*", r#"#BoycottAcme"#, true);
        check("@acme", r#"merci @Acme"#, true);
        check("@acme", r#"contact@acme.fr"#, false);
        check("😡", r#"Acme 😡😡"#, true);
        check("acme 👍", r#"acme 👍🏽"#, true);
    }

    /// The same constructs on English text, matches and non-matches.
    #[test]
    fn english_constructs() {
        let cases = [
            ("refund", "Still waiting for my REFUND", true),
            ("refund", "refunds are slow", false),
            ("refund*", "refunds are slow", true),
            (r#""data breach""#, "Acme confirms a data-breach", true),
            (r#""data breach""#, "a breach of data rules", false),
            ("acme AND (outage OR recall)", "Acme recall announced", true),
            ("acme AND (outage OR recall)", "Acme recalls nothing", false),
            (
                "acme NOT roadrunner",
                "acme anvil for the roadrunner",
                false,
            ),
            ("acme lawsuit", "lawsuit against Acme filed", true),
            (
                "support NEAR/2 unreachable",
                "support is totally unreachable",
                true,
            ),
            (
                "support NEAR/1 unreachable",
                "support is totally unreachable",
                false,
            ),
            (
                "unreachable ONEAR/3 support",
                "support is unreachable",
                false,
            ),
            ("#AcmeFail", "so much #acmefail today", true),
            ("acmefail", "so much #acmefail today", false),
            ("@AcmeHelp", "@acmehelp why no answer?", true),
            ("🤬 AND acme", "acme again 🤬", true),
        ];
        for (q, text, expected) in cases {
            check(q, text, expected);
        }
    }

    #[test]
    fn fields_scope_the_search() {
        let m = mention("Panne chez Acme", "tout va bien");
        let yes = |q: &str| query_matches(&query::parse(q).unwrap(), &m);
        assert!(yes("title:panne"));
        assert!(!yes("text:panne"));
        assert!(yes("panne"));
        assert!(
            !yes(r#""acme tout""#),
            "a phrase does not span title and text"
        );
        assert!(yes("author:dupont author:@jdupont"));
        assert!(!yes("dupont"), "unfielded terms do not search the author");
        assert!(yes("source:reddit"));
        assert!(yes("lang:FR") && !yes("lang:en"));
        assert!(yes("url:example.org") && yes("url:news.example.org") && yes("url:org"));
        assert!(!yes("url:ample.org") && !yes("url:other.org"));
        assert!(yes("url:http://news.example.org/2026/"));
        assert!(!yes("url:news.example.org/2025"));
        let mut und = m.clone();
        und.lang = None;
        assert!(query_matches(&query::parse("lang:und").unwrap(), &und));
    }

    #[test]
    fn matcher_applies_exclude_languages_and_sources() {
        let mut a = watch("acme", r#"acme OR #acme"#);
        a.exclude = Some(query::parse(r#""acme road runner""#).unwrap());
        let mut fr = watch("fr", "acme");
        fr.languages = vec!["fr".into()];
        let mut en = watch("en", "acme");
        en.languages = vec!["en".into()];
        let mut und = watch("und", "acme");
        und.languages = vec!["fr".into(), "und".into()];
        let mut rss = watch("rss", "acme");
        rss.sources = vec!["rss".into()];
        let not = watch("not", "NOT acme");
        let rules = RuleSet {
            watches: vec![a, fr, en, und, rss, not],
        };
        let matcher = Matcher::new(&rules);
        let mut m = mention("", "Acme, encore en panne");
        assert_eq!(matcher.matches(&m), vec![0, 1, 3]);
        m.text = "the acme road runner show".into();
        assert_eq!(matcher.matches(&m), vec![1, 3]);
        m.lang = Some("und".into());
        assert_eq!(matcher.matches(&m), vec![3]);
        m.lang = Some("fr-CA".into());
        m.source = "rss".into();
        m.text = "rien à voir".into();
        assert_eq!(matcher.matches(&m), vec![5]);
    }

    #[test]
    fn triggers_cover_what_can_match() {
        let t = |q: &str| triggers(&query::parse(q).unwrap());
        assert_eq!(t("acme"), Some(vec![Literal::Token("acme".into())]));
        assert_eq!(
            t(r#""service client" panne"#),
            Some(vec![Literal::Token("service".into())])
        );
        assert_eq!(t("NOT acme"), None);
        assert_eq!(t("acme OR NOT b"), None);
        assert_eq!(t("lang:fr"), None);
        assert_eq!(t("lang:fr acme"), Some(vec![Literal::Token("acme".into())]));
        assert_eq!(t("arn* OR x").map(|l| l.len()), Some(2));
    }
}
