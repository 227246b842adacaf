//! What explains an alert: the recent mentions of a watch, their most
//! frequent terms and the mentions that drive the volume.
//!
//! Keeps a bounded sample of each watch's recent mentions (counts come from
//! the series, not from here, so the cap never skews a decision).

use std::collections::{HashMap, HashSet, VecDeque};

use crate::alert::TopMention;
use crate::mention::Mention;

/// Most mentions kept per watch for explanations.
const CAP: usize = 2_000;
const TOP_TERMS: usize = 8;
const TOP_MENTIONS: usize = 5;

/// Words too common to explain anything (French and English).
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "with", "that", "this", "are", "was", "from", "have", "has", "not", "but",
    "you", "your", "our", "all", "its", "they", "their", "will", "can", "about", "more", "les",
    "des", "une", "est", "pour", "dans", "par", "sur", "pas", "que", "qui", "avec", "son", "ses",
    "aux", "plus", "mais", "nous", "vous", "ils", "elle", "cette", "tout", "ont", "été", "sont",
    "leur", "chez", "depuis", "comme", "aussi", "encore", "très", "fait", "être", "avoir", "just",
    "been", "were", "what", "when", "who", "how", "out", "now", "http", "https", "www", "com",
];

struct Item {
    t: i64,
    top: TopMention,
    terms: Vec<String>,
}

/// A watch's recent mentions, oldest first.
#[derive(Default)]
pub struct Recent {
    items: VecDeque<Item>,
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
    pub fn set_known(&mut self, query_text: &str) {
        self.known = crate::text::words(query_text).into_iter().collect();
    }

    /// Adds a mention published at `t`, dropping those older than `keep`
    /// seconds before the newest, and the oldest beyond the cap.
    pub fn push(&mut self, t: i64, m: &Mention, keep: i64) {
        let item = Item {
            t,
            top: TopMention {
                url: m.url.clone(),
                title: m.title.clone(),
                author: m.author.clone(),
                reach: m.reach(),
                sentiment: m.sentiment.unwrap_or(0.0),
            },
            terms: terms(&format!("{} {}", m.title, m.text)),
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
            self.items.pop_front();
        }
    }

    /// Drops mentions published at or before `before`.
    pub fn prune(&mut self, before: i64) {
        while self.items.front().is_some_and(|i| i.t <= before) {
            self.items.pop_front();
        }
    }

    /// Top terms and top mentions of the window `(from, to]`. Mentions rank
    /// by reach, then by negativity.
    pub fn explain(&self, from: i64, to: i64) -> (Vec<String>, Vec<TopMention>) {
        let window: Vec<&Item> = self
            .items
            .iter()
            .filter(|i| i.t > from && i.t <= to)
            .collect();
        let mut freq: HashMap<&str, usize> = HashMap::new();
        for i in &window {
            for t in &i.terms {
                *freq.entry(t).or_default() += 1;
            }
        }
        let mut terms: Vec<(&str, usize)> = freq.into_iter().collect();
        terms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let top_terms = terms
            .iter()
            .filter(|(t, _)| !crate::text::words(t).iter().any(|w| self.known.contains(w)))
            .take(TOP_TERMS)
            .map(|(t, _)| t.to_string())
            .collect();
        let mut ms: Vec<&TopMention> = window.iter().map(|i| &i.top).collect();
        ms.sort_by(|a, b| {
            b.reach
                .cmp(&a.reach)
                .then(a.sentiment.total_cmp(&b.sentiment))
                .then(a.url.cmp(&b.url))
        });
        ms.dedup_by(|a, b| a.url == b.url);
        (
            top_terms,
            ms.into_iter().take(TOP_MENTIONS).cloned().collect(),
        )
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
}
