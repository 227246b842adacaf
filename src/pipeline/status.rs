//! The live pipeline seen from outside: per watch, its rules' lifecycle
//! state, expected volume, recent counts and warm-up, taken on the worker
//! thread as a value ([`Pipeline::status`]). The daemon publishes it for
//! the HTTP API and sets the per-watch gauges from it, so that neither ever
//! locks the pipeline.
//!
//! Counts come from the state store's committed minute buckets: what is
//! pending commit (at most `commit_interval`) is not in them yet.

use chrono::{DateTime, Utc};

use super::{Detection, Pipeline, PipelineError, WatchWarmup};
use crate::detect::LATENESS;
use crate::rules::query::Query;

/// The lifecycle state of one alert rule, as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleState {
    /// Nothing holds.
    Inactive,
    /// The condition holds, waiting for its `for`.
    Pending,
    /// Firing (an early warning or at the rule's severity).
    Firing,
}

impl RuleState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RuleState::Inactive => "inactive",
            RuleState::Pending => "pending",
            RuleState::Firing => "firing",
        }
    }
}

/// One alert rule of a watch.
#[derive(Debug, Clone)]
pub(crate) struct RuleStatus {
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) severity: String,
    /// The rule's `window`, seconds.
    pub(crate) window_secs: u64,
    pub(crate) state: RuleState,
    /// Firing: only an early warning so far.
    pub(crate) early: bool,
    /// Since when it fires (firing) or holds (pending).
    pub(crate) since: Option<DateTime<Utc>>,
    pub(crate) resolved_at: Option<DateTime<Utc>>,
    /// Mentions expected in its window ending now (spike kinds, once
    /// anything is known).
    pub(crate) expected: Option<f64>,
    /// Mentions in its window ending now (committed buckets).
    pub(crate) observed: u64,
}

/// One watch.
#[derive(Debug, Clone)]
pub(crate) struct WatchStatus {
    pub(crate) name: String,
    pub(crate) tags: Vec<String>,
    /// Its query: the API narrows a per-watch search with it.
    pub(crate) query: Query,
    /// Every spike rule has its full baseline (true without spike rules).
    pub(crate) warm: bool,
    pub(crate) warm_at: Option<DateTime<Utc>>,
    /// Mentions and negative mentions in the last hour.
    pub(crate) hour: (u64, u64),
    /// Mentions and negative mentions in the last 24 hours.
    pub(crate) day: (u64, u64),
    pub(crate) rules: Vec<RuleStatus>,
}

impl WatchStatus {
    /// Share of negative mentions in the last 24 hours (0 without any).
    pub(crate) fn negative_share(&self) -> f64 {
        if self.day.0 == 0 {
            0.0
        } else {
            self.day.1 as f64 / self.day.0 as f64
        }
    }

    /// How far the watch is from usual: the highest observed/expected of
    /// its spike rules over their windows (0 while nothing is expected).
    pub(crate) fn anomaly_score(&self) -> f64 {
        self.rules
            .iter()
            .filter_map(|r| r.expected.map(|e| (r.observed, e)))
            .map(|(o, e)| if e > 0.0 { o as f64 / e } else { 0.0 })
            .fold(0.0, f64::max)
    }

    /// Whether any rule fires.
    pub(crate) fn firing(&self) -> bool {
        self.rules.iter().any(|r| r.state == RuleState::Firing)
    }
}

/// Sums minute buckets `(minute, total, negative)` at or after `from_minute`.
fn sum_since(buckets: &[(i64, u64, u64)], from_minute: i64) -> (u64, u64) {
    buckets
        .iter()
        .filter(|(m, _, _)| *m >= from_minute)
        .fold((0, 0), |(t, n), (_, bt, bn)| (t + bt, n + bn))
}

impl Pipeline {
    /// Every watch of the rules in force at `now`. Live pipelines with
    /// storage only (a replay has none to give). Reads the state store:
    /// blocking.
    pub(crate) fn status(&mut self, now: DateTime<Utc>) -> Result<Vec<WatchStatus>, PipelineError> {
        let (Detection::Live(d), Some(s)) = (&mut self.detection, &self.storage) else {
            return Ok(Vec::new());
        };
        let warmup = WatchWarmup::by_watch(d.warmup_status(now));
        // Expectations at the tick's grid time, never later: asking at `now`
        // would make the detector learn an hour before its late mentions are
        // in, and live detection would then differ from a backtest.
        let grid = now - chrono::Duration::from_std(LATENESS).unwrap_or_default();
        let now_min = now.timestamp().div_euclid(60);
        let mut out = Vec::with_capacity(self.watches.rules.watches.len());
        for (wi, w) in self.watches.rules.watches.iter().enumerate() {
            let longest = w
                .alerts
                .iter()
                .map(|a| a.window.as_secs())
                .max()
                .unwrap_or(0)
                .max(86_400);
            let first = now_min - (longest.div_ceil(60) as i64) + 1;
            let buckets = s.state.buckets().of_watch(&w.name, first, i64::MAX)?;
            let mut rules = Vec::with_capacity(w.alerts.len());
            for (ri, a) in w.alerts.iter().enumerate() {
                let rec = d.record(&w.name, &a.name).cloned().unwrap_or_default();
                let state = if rec.firing {
                    RuleState::Firing
                } else if rec.pending_since.is_some() {
                    RuleState::Pending
                } else {
                    RuleState::Inactive
                };
                let window_secs = a.window.as_secs();
                let from = now_min - (window_secs.div_ceil(60) as i64) + 1;
                rules.push(RuleStatus {
                    name: a.name.clone(),
                    kind: a.kind.as_str(),
                    severity: a.severity.clone(),
                    window_secs,
                    state,
                    early: rec.firing && rec.early,
                    since: if rec.firing {
                        rec.fired_at
                    } else {
                        rec.pending_since
                    },
                    resolved_at: rec.resolved_at,
                    expected: if a.kind.is_spike() {
                        d.expected(wi, ri, grid)
                    } else {
                        None
                    },
                    observed: sum_since(&buckets, from).0,
                });
            }
            let warm = warmup.iter().find(|x| x.watch == w.name);
            out.push(WatchStatus {
                name: w.name.clone(),
                tags: w.tags.clone(),
                query: w.query.clone(),
                warm: warm.is_none_or(|x| x.warm),
                warm_at: warm.and_then(|x| x.warm_at),
                hour: sum_since(&buckets, now_min - 59),
                day: sum_since(&buckets, now_min - 1439),
                rules,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_only_the_buckets_in_range() {
        let b = [(10, 3, 1), (11, 2, 2), (20, 5, 0)];
        assert_eq!(sum_since(&b, 11), (7, 2));
        assert_eq!(sum_since(&b, 21), (0, 0));
        assert_eq!(sum_since(&b, 0), (10, 3));
    }

    fn rule(observed: u64, expected: Option<f64>) -> RuleStatus {
        RuleStatus {
            name: "r".into(),
            kind: "volume_spike",
            severity: "critical".into(),
            window_secs: 3600,
            state: RuleState::Inactive,
            early: false,
            since: None,
            resolved_at: None,
            expected,
            observed,
        }
    }

    #[test]
    fn anomaly_score_is_the_worst_ratio_and_negative_share_of_the_day() {
        let w = WatchStatus {
            name: "acme".into(),
            tags: vec![],
            query: Query::And(vec![]),
            warm: true,
            warm_at: None,
            hour: (4, 1),
            day: (40, 10),
            rules: vec![rule(10, Some(5.0)), rule(30, Some(3.0)), rule(9, None)],
        };
        assert_eq!(w.anomaly_score(), 10.0);
        assert_eq!(w.negative_share(), 0.25);
        assert!(!w.firing());
        let quiet = WatchStatus {
            day: (0, 0),
            rules: vec![rule(3, Some(0.0))],
            ..w
        };
        assert_eq!(quiet.anomaly_score(), 0.0);
        assert_eq!(quiet.negative_share(), 0.0);
    }
}
