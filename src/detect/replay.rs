//! The replay engine of `veilleur backtest`: matched mentions, fed batch by
//! batch in publication order, through a [`Detector`] whose clock is each
//! mention's own time.
//!
//! Owns the batching rule and the order of the events: the mentions of a
//! batch's newest second are held back until the next batch (or
//! [`Replay::finish`]), so that the detector evaluates each second once with
//! all its mentions — the same evaluations as one call over the whole input,
//! and as the daemon's (`Detector::ingest` per poll), whatever the batch
//! boundaries.
//!
//! It neither enriches nor matches: the ingest step (`crate::pipeline`) does
//! both before it hands [`Matched`] mentions over, exactly as for live
//! ingestion. [`replay`] matches mentions that are already enriched (as the
//! index stores them), for tests and tools.

use chrono::{DateTime, Utc};

use super::Detector;
use crate::alert::AlertEvent;
use crate::mention::Mention;
use crate::rules::RuleSet;
use crate::rules::matcher::Matcher;

/// A mention with the watches it matched (indices into the rule set's
/// watches).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matched {
    pub mention: Mention,
    pub watches: Vec<usize>,
}

/// A replay fed in batches, for inputs too large to hold at once.
///
/// Batches must come in publication order: each one's mentions (in any
/// order among themselves) are no older than the previous batches'.
pub(crate) struct Replay {
    detector: Detector,
    /// Mentions of the newest second seen, not yet ingested.
    carry: Vec<Matched>,
    /// Publication time of the newest mention seen.
    newest: Option<DateTime<Utc>>,
    /// Events so far, in the order they happened.
    events: Vec<AlertEvent>,
}

impl Replay {
    /// A replay of `rules` from an empty history.
    pub(crate) fn new(rules: &RuleSet) -> Replay {
        Replay {
            detector: Detector::new(rules),
            carry: Vec::new(),
            newest: None,
            events: Vec::new(),
        }
    }

    /// Replays a batch of matched (and enriched) mentions.
    pub(crate) fn push(&mut self, batch: Vec<Matched>) {
        let mut ms = std::mem::take(&mut self.carry);
        ms.extend(batch);
        // Stable: ties keep their input order, as in one whole replay.
        ms.sort_by_key(|m| m.mention.published);
        let Some(last) = ms.last().map(|m| m.mention.published) else {
            return;
        };
        self.newest = Some(self.newest.map_or(last, |n| n.max(last)));
        let cut = ms.partition_point(|m| m.mention.published.timestamp() < last.timestamp());
        self.carry = ms.split_off(cut);
        self.ingest(&ms);
    }

    fn ingest(&mut self, ms: &[Matched]) {
        let items: Vec<(usize, &Mention)> = ms
            .iter()
            .flat_map(|m| m.watches.iter().map(move |&i| (i, &m.mention)))
            .collect();
        let ts = self.detector.ingest(&items);
        self.events.extend(ts.into_iter().map(|t| t.event));
    }

    /// Ingests what is held back, moves time on to the newest mention (so
    /// that pending and firing alerts are judged up to it) and returns the
    /// events in time order (ties in the order they happened).
    pub(crate) fn finish(mut self) -> Vec<AlertEvent> {
        let carry = std::mem::take(&mut self.carry);
        self.ingest(&carry);
        if let Some(newest) = self.newest {
            let ts = self.detector.advance(newest);
            self.events.extend(ts.into_iter().map(|t| t.event));
        }
        let mut events = self.events;
        events.sort_by_key(|e| e.at);
        events
    }

    /// Events so far (held-back mentions not included).
    pub(crate) fn events(&self) -> usize {
        self.events.len()
    }
}

/// Replays `mentions` (any order, already enriched: a mention without a
/// sentiment counts as not negative) through the matcher and the detector,
/// and returns the alert events in time order. `veilleur backtest` goes
/// through the ingest step instead, which also enriches and deduplicates.
pub fn replay(rules: &RuleSet, mentions: Vec<Mention>) -> Vec<AlertEvent> {
    let matcher = Matcher::new(rules);
    let batch = mentions
        .into_iter()
        .map(|m| Matched {
            watches: matcher.matches(&m),
            mention: m,
        })
        .collect();
    let mut r = Replay::new(rules);
    r.push(batch);
    r.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> (tempfile::TempDir, RuleSet) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("acme.toml"),
            r#"
[watch]
name = "acme"
query = 'acme'

[[alert]]
name = "spike"
kind = "volume_spike"
window = "10m"
min_mentions = 10

[[alert]]
name = "words"
kind = "keyword"
query = 'boycott'
window = "10m"
"#,
        )
        .unwrap();
        let rules = crate::rules::load_dir(dir.path(), None).unwrap();
        (dir, rules)
    }

    fn mentions() -> Vec<Mention> {
        let t0: DateTime<Utc> = "2026-03-02T00:00:00Z".parse().unwrap();
        let mut at = Vec::new();
        for k in 0..300 {
            at.push((k * 60, "Acme offre fibre"));
        }
        // Several mentions per second, so batches cut inside seconds.
        for k in 0..90 {
            at.push((18_000 + (k / 3) * 5, "Acme panne, boycott"));
        }
        for k in 0..60 {
            at.push((18_600 + k * 60, "Acme offre fibre"));
        }
        at.into_iter()
            .enumerate()
            .map(|(i, (s, text))| Mention {
                id: format!("m{i}"),
                source: "feed".into(),
                url: format!("https://ex.org/{i}"),
                title: text.into(),
                text: text.into(),
                author: format!("a{i}"),
                author_followers: Some(i as u64),
                published: t0 + chrono::Duration::seconds(s),
                lang: Some("fr".into()),
                sentiment: Some(if text.contains("panne") { -0.7 } else { 0.3 }),
                watches: vec![],
            })
            .collect()
    }

    #[test]
    fn batched_replay_equals_whole_replay_whatever_the_cuts() {
        let (_dir, rules) = rules();
        let ms = mentions();
        let whole = replay(&rules, ms.clone());
        assert!(whole.iter().any(|e| e.rule == "spike"), "{whole:#?}");
        assert!(whole.iter().any(|e| e.rule == "words"));
        assert!(whole.windows(2).all(|w| w[0].at <= w[1].at));
        let matcher = Matcher::new(&rules);
        for size in [1, 2, 7, 100, 1000] {
            let mut r = Replay::new(&rules);
            for chunk in ms.chunks(size) {
                r.push(
                    chunk
                        .iter()
                        .map(|m| Matched {
                            watches: matcher.matches(m),
                            mention: m.clone(),
                        })
                        .collect(),
                );
            }
            assert_eq!(r.finish(), whole, "batches of {size}");
        }
        assert!(replay(&rules, Vec::new()).is_empty());
    }
}
