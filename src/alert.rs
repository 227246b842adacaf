//! The alert event: what detection emits and notification delivers; and the
//! [`Notification`], what the outbox queues for a channel.
//!
//! Its JSON shape is a contract (DESIGN.md): backtests print it, the generic
//! webhook posts it, the API serves it. Detection builds it; notify renders it
//! and never reaches back into detection.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether an alert starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Firing,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// One mention that drives an alert, as shown to a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopMention {
    pub url: String,
    pub title: String,
    pub author: String,
    pub reach: u64,
    pub sentiment: f32,
}

/// Why a firing event was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The rule's condition was crossed (or, for a resolved event, left).
    #[default]
    Threshold,
    /// Sustained acceleration before the threshold: severity `warning`.
    EarlyWarning,
    /// A firing alert's volume doubled again since it was last notified.
    Escalation,
    /// A firing alert is still firing after `repeat_interval`.
    Repeat,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Threshold => "threshold",
            Stage::EarlyWarning => "early_warning",
            Stage::Escalation => "escalation",
            Stage::Repeat => "repeat",
        }
    }
}

/// A word or hashtag whose frequency in the window jumps against the
/// watch's baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmergingTerm {
    pub term: String,
    /// Mentions of the window holding it.
    pub count: u64,
    /// Its share of the window's mentions over its usual share.
    pub lift: f64,
}

/// How many of the window's mentions came from one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceCount {
    pub source: String,
    pub count: u64,
}

/// Another alert of the same watch that changed state in the same
/// evaluation, notified together with this one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelatedAlert {
    pub rule: String,
    pub kind: String,
    pub state: AlertState,
    pub severity: String,
    pub summary: String,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// A change of an alert's state, with what explains it.
///
/// The fields after `top_mentions` were added by issue 4; they are optional
/// in JSON (a consumer of the first version reads events unchanged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Alert rule name, unique within its watch.
    pub rule: String,
    /// Watch name.
    pub watch: String,
    /// Alert kind (`volume_spike`, …).
    pub kind: String,
    pub state: AlertState,
    /// Event time of the mention that made it fire (or resolve).
    pub at: DateTime<Utc>,
    pub severity: String,
    /// One human sentence: what is happening.
    pub summary: String,
    /// Mentions observed in the window.
    pub observed: u64,
    /// Mentions expected in the window from history.
    pub expected: f64,
    /// Share of negative mentions in the window, in [0, 1].
    pub negative_share: f64,
    /// Terms most frequent in the window's mentions.
    pub top_terms: Vec<String>,
    /// Mentions that drive the alert, by reach then negativity.
    pub top_mentions: Vec<TopMention>,
    /// Why this firing event was sent.
    #[serde(default)]
    pub stage: Stage,
    /// Width of the window `observed` counts, in seconds.
    #[serde(default)]
    pub window_secs: u64,
    /// `observed / expected` (0 when nothing was expected).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub factor: f64,
    /// Probability of at least `observed` under the baseline (spike kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_probability: Option<f64>,
    /// The watch's usual share of negative mentions, in [0, 1].
    #[serde(default)]
    pub negative_share_usual: f64,
    /// Terms whose frequency in the window jumps against the baseline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emerging_terms: Vec<EmergingTerm>,
    /// The window's mentions by source, most first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceCount>,
    /// Other alerts of the watch notified with this one (grouping).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RelatedAlert>,
}

impl AlertEvent {
    /// A realistic firing event, for documentation and tests.
    pub fn example() -> AlertEvent {
        AlertEvent {
            rule: "bad-buzz".into(),
            watch: "acme".into(),
            kind: "volume_spike".into(),
            state: AlertState::Firing,
            at: DateTime::from_timestamp(1_767_261_600, 0).unwrap_or_default(),
            severity: "critical".into(),
            summary: "acme: 64 mentions in 1h, 12.3× the 5.2 expected, 58% negative".into(),
            observed: 64,
            expected: 5.2,
            negative_share: 0.58,
            top_terms: vec!["panne".into(), "remboursement".into()],
            top_mentions: vec![TopMention {
                url: "https://forum.example.org/t/acme-panne?page=2".into(),
                title: "Acme en panne depuis ce matin, réclamation ignorée".into(),
                author: "@jdoe".into(),
                reach: 12_000,
                sentiment: -0.8,
            }],
            stage: Stage::Threshold,
            window_secs: 3600,
            factor: 12.31,
            tail_probability: Some(3.2e-21),
            negative_share_usual: 0.12,
            emerging_terms: vec![EmergingTerm {
                term: "panne".into(),
                count: 31,
                lift: 14.5,
            }],
            sources: vec![
                SourceCount {
                    source: "forum".into(),
                    count: 40,
                },
                SourceCount {
                    source: "mastodon".into(),
                    count: 24,
                },
            ],
            related: Vec::new(),
        }
    }

    /// Key that identifies this event across retries and restarts: receivers
    /// deduplicate on it (webhook `Idempotency-Key`, email `Message-ID`).
    /// Events of a stage other than `threshold` carry it as a suffix, so an
    /// early warning and its escalation never share a key.
    pub fn idempotency_key(&self) -> String {
        let mut k = format!(
            "{}/{}/{}/{}",
            self.watch,
            self.rule,
            self.state.as_str(),
            self.at.timestamp_millis()
        );
        if self.stage != Stage::Threshold {
            k.push('/');
            k.push_str(self.stage.as_str());
        }
        k
    }
}

/// What the outbox queues and delivers to one channel: an alert event or
/// a digest; other kinds of message are new variants.
///
/// Stored as JSON in the state store, externally tagged
/// (`{"alert": {…event…}}`), so a variant added later never changes how the
/// existing ones read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
// Alerts are the common case and are built in many places: they stay
// unboxed; the rarer digest is boxed.
#[allow(clippy::large_enum_variant)]
pub enum Notification {
    /// An alert fired or resolved.
    Alert(AlertEvent),
    /// A channel's periodic summary (`crate::digest`).
    Digest(Box<crate::digest::Digest>),
}

impl Notification {
    /// Key that identifies this notification across retries and restarts;
    /// receivers deduplicate on it.
    pub fn idempotency_key(&self) -> String {
        match self {
            Notification::Alert(ev) => ev.idempotency_key(),
            Notification::Digest(d) => format!(
                "digest/{}/{}",
                d.start.timestamp_millis(),
                d.end.timestamp_millis()
            ),
        }
    }

    /// The alert event, when this is one.
    #[cfg(test)]
    pub(crate) fn as_alert(&self) -> Option<&AlertEvent> {
        match self {
            Notification::Alert(ev) => Some(ev),
            Notification::Digest(_) => None,
        }
    }
}

impl From<AlertEvent> for Notification {
    fn from(ev: AlertEvent) -> Self {
        Notification::Alert(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_matches_design() {
        let ev = AlertEvent::example();
        let v: serde_json::Value = serde_json::to_value(&ev).unwrap();
        for key in [
            "rule",
            "watch",
            "kind",
            "state",
            "at",
            "severity",
            "summary",
            "observed",
            "expected",
            "negative_share",
            "top_terms",
            "top_mentions",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["state"], "firing");
        assert_eq!(v["at"], "2026-01-01T10:00:00Z");
        assert_eq!(v["top_mentions"][0]["reach"], 12_000);
        assert_eq!(ev.idempotency_key(), "acme/bad-buzz/firing/1767261600000");
        assert_eq!(v["stage"], "threshold");
        assert_eq!(v["emerging_terms"][0]["term"], "panne");
    }

    #[test]
    fn first_version_events_still_parse() {
        let mut v: serde_json::Value = serde_json::to_value(AlertEvent::example()).unwrap();
        for k in [
            "stage",
            "window_secs",
            "factor",
            "tail_probability",
            "negative_share_usual",
            "emerging_terms",
            "sources",
            "related",
        ] {
            v.as_object_mut().unwrap().remove(k);
        }
        let ev: AlertEvent = serde_json::from_value(v).unwrap();
        assert_eq!(ev.stage, Stage::Threshold);
        assert!(ev.related.is_empty());
    }

    #[test]
    fn notification_is_tagged_by_kind_and_keyed_by_its_event() {
        let ev = AlertEvent::example();
        let n = Notification::from(ev.clone());
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(v["alert"]["watch"], "acme");
        assert_eq!(serde_json::from_value::<Notification>(v).unwrap(), n);
        assert_eq!(n.idempotency_key(), ev.idempotency_key());
        assert_eq!(n.as_alert(), Some(&ev));
    }
}
