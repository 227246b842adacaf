//! The digest as data: what a periodic summary says, serialisable, with no
//! wording. `render` turns it into text and HTML; the outbox stores it as
//! JSON inside `Notification::Digest`, so fields added later must default
//! when absent (old rows stay readable).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A summary of every watch over one period, compared with the period
/// before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// Start of the period (included).
    pub start: DateTime<Utc>,
    /// End of the period (excluded).
    pub end: DateTime<Utc>,
    /// Start of the previous period, of the same length, ending at `start`.
    pub previous_start: DateTime<Utc>,
    /// One entry per watch, in the rule set's order.
    pub watches: Vec<WatchDigest>,
    /// Seconds per bar of each watch's `series` (0 in digests queued
    /// before series existed).
    #[serde(default)]
    pub step_secs: u64,
}

impl Digest {
    /// Mentions of every watch in the period.
    pub fn mentions(&self) -> u64 {
        self.watches.iter().map(|w| w.volume).sum()
    }

    /// Alerts of every watch in the period.
    pub fn alerts(&self) -> u64 {
        self.watches.iter().map(|w| w.alerts.len() as u64).sum()
    }
}

/// Mentions by sentiment label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub negative: u64,
    pub neutral: u64,
    pub positive: u64,
}

impl Split {
    pub fn total(&self) -> u64 {
        self.negative + self.neutral + self.positive
    }

    /// Share of negative mentions in [0, 1]; `None` without mentions.
    pub fn negative_share(&self) -> Option<f64> {
        ratio(self.negative, self.total())
    }

    /// Share of positive mentions in [0, 1]; `None` without mentions.
    pub fn positive_share(&self) -> Option<f64> {
        ratio(self.positive, self.total())
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// A name and how many mentions it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

/// An author of the period with a known reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub author: String,
    /// The highest follower count seen for them in the period.
    pub reach: u64,
    pub mentions: u64,
}

/// An alert of the period, as the history recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestAlert {
    /// The alert id (history id of the event).
    pub id: u64,
    pub rule: String,
    pub severity: String,
    /// `threshold`, `early_warning` or `escalation`.
    pub stage: String,
    pub at: DateTime<Utc>,
    /// The English summary detection wrote (the machine contract); people
    /// read the sentence rendered from the fields below instead.
    pub summary: String,
    /// Kept back by a silence.
    #[serde(default)]
    pub silenced: bool,
    /// `volume_spike`, `negative_surge`, `keyword` or `influencer` (empty
    /// in digests queued before it existed: the summary is shown then).
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub observed: u64,
    #[serde(default)]
    pub window_secs: u64,
    /// `observed / expected`, when there was an expectation.
    #[serde(default)]
    pub factor: Option<f64>,
    #[serde(default)]
    pub negative_share: f64,
    /// The usual negative share, when there was history to speak of.
    #[serde(default)]
    pub negative_usual: Option<f64>,
}

/// One watch over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchDigest {
    pub watch: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Mentions in the period.
    pub volume: u64,
    /// Mentions in the previous period.
    pub previous_volume: u64,
    pub sentiment: Split,
    pub previous_sentiment: Split,
    /// Its share of the mentions of all watches tagged `brand` or
    /// `competitor`, in [0, 1]; `None` when it has neither tag or when none
    /// of them has a mention.
    #[serde(default)]
    pub share_of_voice: Option<f64>,
    /// The same over the previous period.
    #[serde(default)]
    pub previous_share_of_voice: Option<f64>,
    /// Sources with the most mentions, most first.
    #[serde(default)]
    pub top_sources: Vec<Count>,
    /// Authors with the highest known reach, highest first.
    #[serde(default)]
    pub top_authors: Vec<Author>,
    /// Alerts that fired or escalated in the period, oldest first.
    #[serde(default)]
    pub alerts: Vec<DigestAlert>,
    /// Mentions per bar of [`Digest::step_secs`] over the period, from its
    /// start (empty in digests queued before series existed).
    #[serde(default)]
    pub series: Vec<u64>,
}

impl WatchDigest {
    /// Relative change of the volume against the previous period (0.5 is
    /// +50 %); `None` when the previous period had none.
    pub fn trend(&self) -> Option<f64> {
        (self.previous_volume > 0).then(|| {
            (self.volume as f64 - self.previous_volume as f64) / self.previous_volume as f64
        })
    }

    /// Change of the negative share, in points of share (0.1 is +10
    /// points); `None` when either period had no mention.
    pub fn negative_share_change(&self) -> Option<f64> {
        Some(self.sentiment.negative_share()? - self.previous_sentiment.negative_share()?)
    }
}
