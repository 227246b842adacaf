//! The alert event: what detection emits and notification delivers.
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

/// A change of an alert's state, with what explains it.
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
        }
    }

    /// Key that identifies this event across retries and restarts: receivers
    /// deduplicate on it (webhook `Idempotency-Key`, email `Message-ID`).
    pub fn idempotency_key(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.watch,
            self.rule,
            self.state.as_str(),
            self.at.timestamp_millis()
        )
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
    }
}
