//! Digests: a periodic summary per channel of every watch — volume and its
//! trend against the previous period, the sentiment split and its change,
//! share of voice among the watches tagged `brand` and `competitor`, top
//! sources, top authors by known reach, and the alerts of the period.
//!
//! Parts: [`data`] (the [`Digest`], serialisable, no wording: volumes,
//! splits, the alerts' fields and the per-bar series of the chart),
//! [`compute`] here (a pure pass over the period's mentions read from the
//! index and the alert history), [`render`] (subject, text, HTML with
//! inline charts, chat messages, in the channel's language and time zone,
//! through the alerts' sanitizers), [`schedule`] (`daily 08:30`,
//! `weekly mon 08:30` in the channel's time zone: when digests are due,
//! and the daemon task that queues them in the durable outbox).
//!
//! Computing reads the index (blocking): async callers use
//! `spawn_blocking`.

pub mod data;
pub mod render;
pub mod schedule;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use data::{Author, Count, Digest, DigestAlert, Split, WatchDigest};

use crate::alert::{AlertState, Stage};
use crate::mention::Mention;
use crate::rules::RuleSet;
use crate::store::state::silences::AlertEntry;
use crate::store::{IndexError, MentionSearch};

/// Sources and authors listed per watch.
pub const TOP: usize = 5;
/// Mentions read from the index per batch.
const BATCH: usize = 5_000;
/// Tags whose watches share the voice.
const VOICE_TAGS: [&str; 2] = ["brand", "competitor"];

/// Per-watch tallies of one period.
#[derive(Default)]
struct Tally {
    volume: u64,
    split: Split,
    sources: HashMap<String, u64>,
    /// author → (highest reach, mentions)
    authors: HashMap<String, (u64, u64)>,
}

impl Tally {
    fn add(&mut self, m: &Mention) {
        self.volume += 1;
        match m.sentiment {
            _ if m.is_negative() => self.split.negative += 1,
            Some(s) if s >= -crate::mention::NEGATIVE_THRESHOLD => self.split.positive += 1,
            _ => self.split.neutral += 1,
        }
        *self.sources.entry(m.source.clone()).or_default() += 1;
        if let Some(reach) = m.author_followers
            && !m.author.trim().is_empty()
        {
            let a = self.authors.entry(m.author.clone()).or_default();
            a.0 = a.0.max(reach);
            a.1 += 1;
        }
    }
}

/// The digest of the period of length `period` ending at `end` (excluded),
/// over the mentions of `index` and the alert history `alerts`, for the
/// watches of `rules`. Blocking (reads the index).
pub fn compute(
    rules: &RuleSet,
    index: &dyn MentionSearch,
    alerts: &[AlertEntry],
    end: DateTime<Utc>,
    period: Duration,
) -> Result<Digest, IndexError> {
    let len = chrono::Duration::from_std(period).unwrap_or(chrono::Duration::days(7));
    let start = end - len;
    let previous_start = start - len;
    let pos: HashMap<&str, usize> = rules
        .watches
        .iter()
        .enumerate()
        .map(|(i, w)| (w.name.as_str(), i))
        .collect();
    let step = crate::notify::chart::period_step(len.num_seconds());
    let bars = crate::notify::chart::period_bars(len.num_seconds(), step);
    let mut series: Vec<Vec<u64>> = rules.watches.iter().map(|_| vec![0; bars]).collect();
    let mut now: Vec<Tally> = rules.watches.iter().map(|_| Tally::default()).collect();
    let mut before: Vec<Tally> = rules.watches.iter().map(|_| Tally::default()).collect();
    // `between` includes both ends: the period's end is excluded below.
    for batch in index.between(previous_start, end, BATCH)? {
        for m in batch? {
            if m.published >= end {
                continue;
            }
            let current = m.published >= start;
            let bar = usize::try_from((m.published - start).num_seconds() / step).ok();
            for w in &m.watches {
                if let Some(&i) = pos.get(w.as_str()) {
                    if current {
                        now[i].add(&m);
                        if let Some(c) = bar.and_then(|b| series[i].get_mut(b)) {
                            *c += 1;
                        }
                    } else {
                        before[i].add(&m);
                    }
                }
            }
        }
    }
    let voiced = |i: usize| {
        rules.watches[i]
            .tags
            .iter()
            .any(|t| VOICE_TAGS.contains(&t.as_str()))
    };
    let voice_total = |t: &[Tally]| -> u64 {
        (0..t.len())
            .filter(|&i| voiced(i))
            .map(|i| t[i].volume)
            .sum()
    };
    let (total_now, total_before) = (voice_total(&now), voice_total(&before));
    let share =
        |v: u64, total: u64, i: usize| (voiced(i) && total > 0).then(|| v as f64 / total as f64);

    let mut watches = Vec::with_capacity(rules.watches.len());
    for (i, w) in rules.watches.iter().enumerate() {
        let (t, p) = (&now[i], &before[i]);
        let mut top_sources: Vec<Count> = t
            .sources
            .iter()
            .map(|(name, &count)| Count {
                name: name.clone(),
                count,
            })
            .collect();
        top_sources.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
        top_sources.truncate(TOP);
        let mut top_authors: Vec<Author> = t
            .authors
            .iter()
            .map(|(author, &(reach, mentions))| Author {
                author: author.clone(),
                reach,
                mentions,
            })
            .collect();
        top_authors.sort_by(|a, b| b.reach.cmp(&a.reach).then(a.author.cmp(&b.author)));
        top_authors.truncate(TOP);
        let alerts = alerts
            .iter()
            .filter(|e| {
                e.event.watch == w.name
                    && e.event.state == AlertState::Firing
                    && e.event.stage != Stage::Repeat
                    && !e.released
                    && e.event.at >= start
                    && e.event.at < end
            })
            .map(|e| DigestAlert {
                id: e.id,
                rule: e.event.rule.clone(),
                severity: e.event.severity.clone(),
                stage: e.event.stage.as_str().to_string(),
                at: e.event.at,
                summary: e.event.summary.clone(),
                silenced: e.silenced_by.is_some(),
                kind: e.event.kind.clone(),
                observed: e.event.observed,
                window_secs: e.event.window_secs,
                factor: crate::notify::render::factor(&e.event),
                negative_share: e.event.negative_share,
                negative_usual: crate::notify::render::usual_negative(&e.event),
            })
            .collect();
        watches.push(WatchDigest {
            watch: w.name.clone(),
            tags: w.tags.clone(),
            volume: t.volume,
            previous_volume: p.volume,
            sentiment: t.split,
            previous_sentiment: p.split,
            share_of_voice: share(t.volume, total_now, i),
            previous_share_of_voice: share(p.volume, total_before, i),
            top_sources,
            top_authors,
            alerts,
            series: std::mem::take(&mut series[i]),
        });
    }
    Ok(Digest {
        start,
        end,
        previous_start,
        watches,
        step_secs: u64::try_from(step).unwrap_or(0),
    })
}
