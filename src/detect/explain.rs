//! What explains an alert: the recent mentions of a watch, their most
//! frequent and emerging terms, the mentions that drive the volume and the
//! breakdown by source.
//!
//! Keeps a bounded sample of each watch's recent mentions, and a thinned
//! sample of older ones (the terms' baseline). Counts come from the series,
//! not from here, so the caps never skew a decision. Terms are extracted
//! only when an alert is explained, so observing a mention stays cheap.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::alert::{EmergingTerm, SourceCount, TopMention};
use crate::mention::Mention;

/// Most mentions kept per watch for explanations.
const CAP: usize = 2_000;
/// Most older mentions kept per watch as the terms' baseline.
const HISTORY_CAP: usize = 2_000;
/// How far back the terms' baseline looks.
const HISTORY_SECS: i64 = 7 * 86_400;
/// Characters of a mention's text kept for terms.
const TEXT_CAP: usize = 600;
const TOP_TERMS: usize = 8;
const TOP_MENTIONS: usize = 5;
const TOP_SOURCES: usize = 8;
/// An emerging term is in at least this many of the window's mentions…
const EMERGING_MIN: usize = 2;
/// …with at least this lift over its baseline share.
const EMERGING_LIFT: f64 = 2.0;

/// Words too common to explain anything (French and English).
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "with", "that", "this", "are", "was", "from", "have", "has", "not", "but",
    "you", "your", "our", "all", "its", "they", "their", "will", "can", "about", "more", "les",
    "des", "une", "est", "pour", "dans", "par", "sur", "pas", "que", "qui", "avec", "son", "ses",
    "aux", "plus", "mais", "nous", "vous", "ils", "elle", "cette", "tout", "ont", "été", "sont",
    "leur", "chez", "depuis", "comme", "aussi", "encore", "très", "fait", "être", "avoir", "just",
    "après", "avant", "been", "were", "what", "when", "who", "how", "out", "now", "http", "https",
    "www", "com",
];

/// The mentions that drive an alert: by reach, then the most negative, one
/// per URL and one per title (syndicated copies say the same thing), at
/// most [`TOP_MENTIONS`].
pub fn top_mentions(mut ms: Vec<TopMention>) -> Vec<TopMention> {
    ms.sort_by(|a, b| {
        b.reach
            .cmp(&a.reach)
            .then(a.sentiment.total_cmp(&b.sentiment))
            .then(a.url.cmp(&b.url))
    });
    let mut urls = HashSet::new();
    let mut titles = HashSet::new();
    ms.retain(|m| {
        urls.insert(m.url.clone())
            && (m.title.trim().is_empty() || titles.insert(m.title.trim().to_lowercase()))
    });
    ms.truncate(TOP_MENTIONS);
    ms
}

#[derive(Clone)]
struct Item {
    t: i64,
    top: TopMention,
    source: String,
    /// Title and text, truncated: terms are extracted from it on demand.
    text: String,
}

/// What explains a window: see [`Recent::explain`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Explanation {
    pub top_terms: Vec<String>,
    pub emerging_terms: Vec<EmergingTerm>,
    pub top_mentions: Vec<TopMention>,
    pub sources: Vec<SourceCount>,
}

/// A watch's recent mentions, oldest first, and a sample of older ones.
#[derive(Default)]
pub(crate) struct Recent {
    items: VecDeque<Item>,
    /// Older mentions, one kept every `stride` offered, oldest first.
    history: VecDeque<(i64, String)>,
    stride: usize,
    offered: usize,
    /// Folded words of the watch's own query: they say nothing new.
    known: HashSet<String>,
}

fn terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '#' || c == '@' || c == '-'))
        .map(|w| w.trim_matches('-').to_lowercase())
        .filter(|w| w.chars().count() >= 3 && !STOPWORDS.contains(&w.as_str()))
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl Recent {
    /// Sets the words (in any form: they are folded by the shared analyzer)
    /// that top terms leave out, typically the watch query's own words.
    pub(crate) fn set_known(&mut self, query_text: &str) {
        self.known = crate::text::words(query_text).into_iter().collect();
    }

    /// Adds a mention published at `t`, dropping those older than `keep`
    /// seconds before the newest, and the oldest beyond the cap.
    pub(crate) fn push(&mut self, t: i64, m: &Mention, keep: i64) {
        let mut text = String::with_capacity(m.title.len() + 1 + m.text.len().min(TEXT_CAP));
        text.push_str(&m.title);
        text.push(' ');
        let mut cut = m.text.len().min(TEXT_CAP);
        while !m.text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.push_str(&m.text[..cut]);
        let item = Item {
            t,
            top: top_mention(m),
            source: m.source.clone(),
            text,
        };
        // Mostly in order: insert from the back.
        let pos = self
            .items
            .iter()
            .rposition(|i| i.t <= t)
            .map_or(0, |p| p + 1);
        self.items.insert(pos, item);
        let newest = self.items.back().map_or(t, |i| i.t);
        while self.items.front().is_some_and(|i| i.t < newest - keep) || self.items.len() > CAP {
            if let Some(old) = self.items.pop_front() {
                self.offer_history(old.t, old.text);
            }
        }
    }

    /// Keeps one older mention in `stride`; when full, halves the sample
    /// and doubles the stride, so it spans the baseline evenly.
    fn offer_history(&mut self, t: i64, text: String) {
        self.stride = self.stride.max(1);
        self.offered += 1;
        if !self.offered.is_multiple_of(self.stride) {
            return;
        }
        self.history.push_back((t, text));
        if self.history.len() > HISTORY_CAP {
            let mut k = 0;
            self.history.retain(|_| {
                k += 1;
                k % 2 == 0
            });
            self.stride *= 2;
        }
    }

    /// Drops mentions published at or before `before` from the recent ones
    /// (into the history sample), and history older than the baseline.
    pub(crate) fn prune(&mut self, before: i64) {
        while self.items.front().is_some_and(|i| i.t <= before) {
            if let Some(old) = self.items.pop_front() {
                self.offer_history(old.t, old.text);
            }
        }
        let horizon = before - HISTORY_SECS;
        while self.history.front().is_some_and(|(t, _)| *t < horizon) {
            self.history.pop_front();
        }
    }

    fn is_known(&self, term: &str) -> bool {
        crate::text::words(term)
            .iter()
            .any(|w| self.known.contains(w))
    }

    /// Explains the window `(from, to]`: its most frequent terms, the terms
    /// whose share jumps against the older mentions, the top mentions (by
    /// reach, then negativity) and the sources.
    pub(crate) fn explain(&self, from: i64, to: i64) -> Explanation {
        let window: Vec<&Item> = self
            .items
            .iter()
            .filter(|i| i.t > from && i.t <= to)
            .collect();
        let mut freq: HashMap<String, usize> = HashMap::new();
        for i in &window {
            for t in terms(&i.text) {
                *freq.entry(t).or_default() += 1;
            }
        }
        let mut ranked: Vec<(&String, usize)> = freq
            .iter()
            .filter(|(t, _)| !self.is_known(t))
            .map(|(t, n)| (t, *n))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let top_terms = ranked
            .iter()
            .take(TOP_TERMS)
            .map(|(t, _)| t.to_string())
            .collect();

        // Baseline: the history sample and the recent mentions before the window.
        let mut base: HashMap<String, usize> = HashMap::new();
        let mut base_n = 0usize;
        let older = self
            .history
            .iter()
            .filter(|(t, _)| *t <= from)
            .map(|(_, s)| s.as_str())
            .chain(
                self.items
                    .iter()
                    .filter(|i| i.t <= from)
                    .map(|i| i.text.as_str()),
            );
        for text in older {
            base_n += 1;
            for t in terms(text) {
                if freq.contains_key(&t) {
                    *base.entry(t).or_default() += 1;
                }
            }
        }
        let n = window.len().max(1) as f64;
        let mut emerging: Vec<(f64, EmergingTerm)> = ranked
            .iter()
            .filter(|(_, c)| *c >= EMERGING_MIN)
            .filter_map(|(t, c)| {
                let b = base.get(*t).copied().unwrap_or(0) as f64;
                let usual = (b + 0.5) / (base_n as f64 + 1.0);
                let share = *c as f64 / n;
                let lift = share / usual;
                (lift >= EMERGING_LIFT).then(|| {
                    let excess = *c as f64 - n * usual;
                    (
                        excess,
                        EmergingTerm {
                            term: t.to_string(),
                            count: *c as u64,
                            lift: (lift * 10.0).round() / 10.0,
                        },
                    )
                })
            })
            .collect();
        emerging.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.term.cmp(&b.1.term)));

        let ms = top_mentions(window.iter().map(|i| i.top.clone()).collect());

        let mut by_source: HashMap<&str, u64> = HashMap::new();
        for i in &window {
            *by_source.entry(i.source.as_str()).or_default() += 1;
        }
        let mut sources: Vec<SourceCount> = by_source
            .into_iter()
            .map(|(s, count)| SourceCount {
                source: s.to_string(),
                count,
            })
            .collect();
        sources.sort_by(|a, b| b.count.cmp(&a.count).then(a.source.cmp(&b.source)));
        sources.truncate(TOP_SOURCES);

        Explanation {
            top_terms,
            emerging_terms: emerging
                .into_iter()
                .take(TOP_TERMS)
                .map(|(_, e)| e)
                .collect(),
            top_mentions: ms,
            sources,
        }
    }
}

/// A mention as an alert shows it.
pub(crate) fn top_mention(m: &Mention) -> TopMention {
    TopMention {
        url: m.url.clone(),
        title: m.title.clone(),
        author: m.author.clone(),
        reach: m.reach(),
        sentiment: m.sentiment.unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_drop_stopwords_and_short_words() {
        assert_eq!(
            terms("Le service client est injoignable, #boycott les 2 jours"),
            vec!["#boycott", "client", "injoignable", "jours", "service"]
        );
    }

    fn mention(t: i64, text: &str, source: &str) -> Mention {
        Mention {
            id: format!("{t}"),
            source: source.into(),
            url: format!("https://ex.org/{t}"),
            title: String::new(),
            text: text.into(),
            author: "a".into(),
            author_followers: Some(t as u64),
            published: chrono::DateTime::from_timestamp(t, 0).unwrap(),
            lang: None,
            sentiment: Some(-0.5),
            watches: vec![],
        }
    }

    #[test]
    fn emerging_terms_jump_against_the_baseline() {
        let mut r = Recent::default();
        r.set_known("acme");
        for t in 0..200 {
            r.push(t * 60, &mention(t * 60, "acme offre fibre", "feed"), 3600);
        }
        for t in 0..20 {
            let s = 12_000 + t;
            r.push(
                s,
                &mention(s, "acme panne fibre remboursement", "forum"),
                3600,
            );
        }
        let e = r.explain(11_999, 12_100);
        let names: Vec<&str> = e.emerging_terms.iter().map(|t| t.term.as_str()).collect();
        assert!(names.contains(&"panne"), "{names:?}");
        assert!(names.contains(&"remboursement"), "{names:?}");
        assert!(!names.contains(&"fibre"), "usual term: {names:?}");
        assert!(!names.contains(&"acme"), "the query's word: {names:?}");
        assert!(e.top_terms.contains(&"fibre".to_string()));
        assert_eq!(e.sources[0].source, "forum");
        assert_eq!(e.sources[0].count, 20);
        assert_eq!(e.top_mentions[0].reach, 12_019);
    }

    #[test]
    fn top_mentions_rank_by_reach_then_negativity_one_per_url_and_title() {
        let m = |url: &str, title: &str, reach: u64, sentiment: f32| TopMention {
            url: url.into(),
            title: title.into(),
            author: String::new(),
            reach,
            sentiment,
        };
        let top = top_mentions(vec![
            m("u1", "Panne Acme", 0, -0.2),
            m("u2", "Panne Acme", 0, -0.9),
            m("u3", "Fuite de données", 10, 0.1),
            m("u3", "Fuite de données (copie)", 10, 0.1),
            m("u4", "", 0, -0.5),
        ]);
        let urls: Vec<&str> = top.iter().map(|t| t.url.as_str()).collect();
        assert_eq!(urls, vec!["u3", "u2", "u4"]);
    }
}
