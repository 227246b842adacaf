//! The lifecycle of one alert rule of one watch, as in Alertmanager:
//! inactive → pending (optional `for`) → firing → resolved, with a cooldown
//! after firing (a spike kind's return at twice the volume last notified
//! fires through it), re-notification after `repeat_interval`, escalation when a
//! firing alert's volume doubles again, and an early warning (severity
//! `warning`) that escalates to the rule's severity when the threshold is
//! crossed.
//!
//! [`step`] is a pure function of the persisted [`AlertRecord`], what the
//! rule sees now ([`Signal`]) and `now`; it returns the new record and, when
//! something must be told, the event's state and stage.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{AlertState, Stage};
use crate::rules::AlertRule;

/// The persisted lifecycle of one alert rule of one watch. Fields added
/// after the first version default when absent, so old records load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub firing: bool,
    /// When it last fired (started firing).
    pub fired_at: Option<DateTime<Utc>>,
    /// When it last resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Since when the condition holds without firing yet (`for`).
    #[serde(default)]
    pub pending_since: Option<DateTime<Utc>>,
    /// Since when a firing alert's condition no longer holds.
    #[serde(default)]
    pub clear_since: Option<DateTime<Utc>>,
    /// When it was last notified (firing, escalation or repeat).
    #[serde(default)]
    pub notified_at: Option<DateTime<Utc>>,
    /// The volume it was last notified at (escalation doubles it).
    #[serde(default)]
    pub notified_observed: u64,
    /// Whether the firing is only an early warning so far.
    #[serde(default)]
    pub early: bool,
}

impl AlertRecord {
    /// Whether the rule needs evaluating as time passes (pending or firing).
    pub(crate) fn is_active(&self) -> bool {
        self.firing || self.pending_since.is_some()
    }

    /// The bytes the state store keeps for this record (JSON).
    pub(crate) fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// A record from the bytes [`AlertRecord::encode`] wrote (or an older
    /// version of them).
    pub fn decode(bytes: &[u8]) -> Result<AlertRecord, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// What a rule sees at `now`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Signal {
    /// The rule's condition holds.
    pub holds: bool,
    /// The early-warning condition holds (spike kinds, before the threshold).
    pub early: bool,
    /// The volume the rule tests (mentions, negative mentions or matches).
    pub observed: u64,
}

/// What changed: the event to emit, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    pub state: AlertState,
    pub stage: Stage,
    /// Severity of the event: `warning` for an early warning.
    pub early: bool,
}

fn dur(d: std::time::Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or(ChronoDuration::MAX)
}

/// The condition holds at twice the volume last notified (at least 1): an
/// escalation while firing, a bigger wave through a spike's cooldown.
fn doubles_the_notified(r: &AlertRecord, sig: Signal) -> bool {
    sig.holds && sig.observed >= r.notified_observed.saturating_mul(2).max(1)
}

/// One step of the lifecycle. Returns the new record and the change to
/// notify (`None`: nothing to tell; the record may still have changed, e.g.
/// pending).
pub(crate) fn step(
    rec: &AlertRecord,
    sig: Signal,
    rule: &AlertRule,
    now: DateTime<Utc>,
) -> (AlertRecord, Option<Change>) {
    let mut r = rec.clone();
    let wants = sig.holds || sig.early;
    if r.firing {
        if !wants {
            let since = *r.clear_since.get_or_insert(now);
            if now - since >= dur(rule.resolve_after) {
                r.firing = false;
                r.resolved_at = Some(now);
                r.clear_since = None;
                r.pending_since = None;
                r.early = false;
                return (
                    r,
                    Some(Change {
                        state: AlertState::Resolved,
                        stage: Stage::Threshold,
                        early: false,
                    }),
                );
            }
            return (r, None);
        }
        r.clear_since = None;
        let stage = if r.early && sig.holds {
            r.early = false;
            Some(Stage::Threshold)
        } else if doubles_the_notified(&r, sig)
            && r.notified_at.is_none_or(|n| now - n >= dur(rule.window))
        {
            // "Doubles again": against the window last notified, once it has
            // been entirely replaced.
            Some(Stage::Escalation)
        } else if r
            .notified_at
            .or(r.fired_at)
            .is_none_or(|n| now - n >= dur(rule.repeat_interval))
        {
            Some(Stage::Repeat)
        } else {
            None
        };
        if let Some(stage) = stage {
            r.notified_at = Some(now);
            r.notified_observed = sig.observed;
            return (
                r.clone(),
                Some(Change {
                    state: AlertState::Firing,
                    stage,
                    early: r.early,
                }),
            );
        }
        return (r, None);
    }
    if !wants {
        r.pending_since = None;
        return (r, None);
    }
    let in_cooldown = r.fired_at.is_some_and(|f| now < f + dur(rule.cooldown));
    // A spike that comes back at twice the volume last notified is a bigger
    // wave, not the same story: the cooldown does not hide it.
    let bigger_wave = rule.kind.is_spike() && doubles_the_notified(&r, sig);
    if in_cooldown && !bigger_wave {
        r.pending_since = None;
        return (r, None);
    }
    let since = *r.pending_since.get_or_insert(now);
    if now - since < dur(rule.pending_for) {
        return (r, None);
    }
    r.firing = true;
    r.fired_at = Some(now);
    r.pending_since = None;
    r.clear_since = None;
    r.notified_at = Some(now);
    r.notified_observed = sig.observed;
    r.early = !sig.holds;
    let stage = if r.early {
        Stage::EarlyWarning
    } else {
        Stage::Threshold
    };
    (
        r.clone(),
        Some(Change {
            state: AlertState::Firing,
            stage,
            early: r.early,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::AlertKind;
    use std::time::Duration;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn rule() -> AlertRule {
        let mut r = AlertRule::with_defaults("r", AlertKind::VolumeSpike);
        r.cooldown = Duration::from_secs(3600);
        r.resolve_after = Duration::from_secs(600);
        r.repeat_interval = Duration::from_secs(4 * 3600);
        r
    }

    fn sig(holds: bool, early: bool, observed: u64) -> Signal {
        Signal {
            holds,
            early,
            observed,
        }
    }

    /// Runs `steps` from an empty record; returns the changes as
    /// `(second, state, stage)`.
    fn check(
        rule: &AlertRule,
        steps: &[(i64, Signal)],
        expected: &[(i64, AlertState, Stage)],
    ) -> AlertRecord {
        let mut rec = AlertRecord::default();
        let mut got = Vec::new();
        for (s, sg) in steps {
            let (r, c) = step(&rec, *sg, rule, at(*s));
            rec = r;
            if let Some(c) = c {
                got.push((*s, c.state, c.stage));
            }
        }
        assert_eq!(got, expected);
        rec
    }

    use AlertState::{Firing, Resolved};

    #[test]
    fn fires_at_once_without_for() {
        let rec = check(
            &rule(),
            &[(0, sig(true, false, 30))],
            &[(0, Firing, Stage::Threshold)],
        );
        assert!(rec.firing && rec.is_active());
    }

    #[test]
    fn pending_for_then_fires_or_clears() {
        let mut r = rule();
        r.pending_for = Duration::from_secs(300);
        let held = [
            (0, sig(true, false, 30)),
            (120, sig(true, false, 30)),
            (300, sig(true, false, 30)),
        ];
        check(&r, &held, &[(300, Firing, Stage::Threshold)]);
        let cleared = [
            (0, sig(true, false, 30)),
            (120, sig(false, false, 3)),
            (300, sig(true, false, 30)),
        ];
        let rec = check(&r, &cleared, &[]);
        assert_eq!(rec.pending_since, Some(at(300)), "pending again from 300");
    }

    #[test]
    fn resolves_only_after_resolve_after_without_the_condition() {
        let steps = [
            (0, sig(true, false, 30)),
            (60, sig(false, false, 5)),
            (300, sig(true, false, 30)),
            (360, sig(false, false, 5)),
            (900, sig(false, false, 5)),
            (960, sig(false, false, 5)),
        ];
        let rec = check(
            &rule(),
            &steps,
            &[
                (0, Firing, Stage::Threshold),
                (960, Resolved, Stage::Threshold),
            ],
        );
        assert!(!rec.firing && !rec.is_active());
    }

    #[test]
    fn cooldown_blocks_refiring_after_resolution() {
        let steps = [
            (0, sig(true, false, 30)),
            (60, sig(false, false, 5)),
            (700, sig(false, false, 5)),
            (1000, sig(true, false, 30)),
            (3600, sig(true, false, 30)),
        ];
        check(
            &rule(),
            &steps,
            &[
                (0, Firing, Stage::Threshold),
                (700, Resolved, Stage::Threshold),
                (3600, Firing, Stage::Threshold),
            ],
        );
    }

    #[test]
    fn a_bigger_wave_fires_through_a_spike_cooldown_and_a_like_one_does_not() {
        // Notified at 30, resolved; within the hour of cooldown a return at
        // 59 stays silent, one at 60 (twice 30) fires.
        let steps = [
            (0, sig(true, false, 30)),
            (60, sig(false, false, 5)),
            (700, sig(false, false, 5)),
            (1000, sig(true, false, 59)),
            (1060, sig(false, true, 500)),
            (1120, sig(true, false, 60)),
        ];
        let rec = check(
            &rule(),
            &steps,
            &[
                (0, Firing, Stage::Threshold),
                (700, Resolved, Stage::Threshold),
                (1120, Firing, Stage::Threshold),
            ],
        );
        assert_eq!(rec.notified_observed, 60, "the next wave must double 60");
        // A keyword rule's cooldown is a rate limit: twice the matches wait.
        let mut kw = rule();
        kw.kind = AlertKind::Keyword;
        check(
            &kw,
            &steps,
            &[
                (0, Firing, Stage::Threshold),
                (700, Resolved, Stage::Threshold),
            ],
        );
    }

    #[test]
    fn escalates_when_the_volume_doubles_again_and_repeats() {
        let steps = [
            (0, sig(true, false, 30)),
            (60, sig(true, false, 59)),
            (120, sig(true, false, 60)),
            (3600, sig(true, false, 60)),
            (3660, sig(true, false, 100)),
            (4 * 3600 + 3600, sig(true, false, 100)),
        ];
        check(
            &rule(),
            &steps,
            &[
                (0, Firing, Stage::Threshold),
                (3600, Firing, Stage::Escalation),
                (4 * 3600 + 3600, Firing, Stage::Repeat),
            ],
        );
    }

    #[test]
    fn early_warning_escalates_to_the_rule_severity() {
        let steps = [
            (0, sig(false, true, 12)),
            (60, sig(false, true, 15)),
            (120, sig(true, false, 25)),
        ];
        let rec = check(
            &rule(),
            &steps,
            &[
                (0, Firing, Stage::EarlyWarning),
                (120, Firing, Stage::Threshold),
            ],
        );
        assert!(!rec.early);
        let (_, c) = step(
            &AlertRecord::default(),
            sig(false, true, 12),
            &rule(),
            at(0),
        );
        assert!(c.unwrap().early);
    }

    #[test]
    fn old_records_without_new_fields_load() {
        let r: AlertRecord = serde_json::from_str(
            r#"{"firing":true,"fired_at":"2026-01-01T00:00:00Z","resolved_at":null}"#,
        )
        .unwrap();
        assert!(r.firing && r.notified_at.is_none());
    }
}
