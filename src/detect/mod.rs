//! Detection: per-watch series, expected volume, alert rules and their
//! lifecycle. Pure and shared by `run` and `backtest`.
//!
//! The detector is fed mentions already matched to watches ([`Detector::observe`])
//! and is asked, at a time `now` passed in, which alerts change state
//! ([`Detector::evaluate`]). It never reads a clock and does no I/O: the
//! daemon persists what it returns (alert records, notifications) and
//! restores it with [`Detector::restore`].
//!
//! `volume_spike`: the mentions published in the window `(now - window, now]`
//! must reach `min_mentions` and `factor` × the expected count, where the
//! expected count is the mean rate over the history before the window (at
//! most [`BASELINE`], from the watch's first mention) times the window.
//! Warm-up: no spike fires before the history covers [`WARMUP_WINDOWS`]
//! windows, so a new source's backlog fills history instead of firing.
//! A firing alert resolves once the condition no longer holds and it has
//! fired for at least one window; after firing, the rule stays quiet for
//! `cooldown`.

pub mod explain;
pub mod series;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{AlertEvent, AlertState};
use crate::mention::Mention;
use crate::rules::{AlertKind, AlertRule, RuleSet};
use explain::Recent;
use series::Series;

/// How far back the expected volume looks.
pub const BASELINE: Duration = Duration::from_secs(7 * 86_400);
/// History (in windows) needed before a spike may fire.
pub const WARMUP_WINDOWS: i64 = 2;
/// How much minute history is kept (and restored from the store).
pub const RETENTION: Duration = Duration::from_secs(8 * 86_400);

/// The persisted lifecycle of one alert rule of one watch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub firing: bool,
    /// When it last fired.
    pub fired_at: Option<DateTime<Utc>>,
    /// When it last resolved.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// An alert that changed state: the event, where to send it, and the record
/// to persist with it (in the same transaction).
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub event: AlertEvent,
    /// Channels to notify (empty: recorded only).
    pub notify: Vec<String>,
    pub record_key: String,
    pub record: AlertRecord,
}

struct WatchState {
    name: String,
    alerts: Vec<AlertRule>,
    series: Series,
    recent: Recent,
    /// Latest publication second observed.
    last: Option<i64>,
}

/// The detection state of a whole rule set.
pub struct Detector {
    watches: Vec<WatchState>,
    records: HashMap<String, AlertRecord>,
}

/// Key of an alert record: `watch/rule`.
pub fn record_key(watch: &str, rule: &str) -> String {
    format!("{watch}/{rule}")
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

impl Detector {
    pub fn new(rules: &RuleSet) -> Detector {
        let mut d = Detector {
            watches: Vec::new(),
            records: HashMap::new(),
        };
        d.reload(rules);
        d
    }

    /// Adopts a new rule set; series and records of watches that keep their
    /// name are kept.
    pub fn reload(&mut self, rules: &RuleSet) {
        let mut old: HashMap<String, WatchState> = self
            .watches
            .drain(..)
            .map(|w| (w.name.clone(), w))
            .collect();
        self.watches = rules
            .watches
            .iter()
            .map(|w| {
                let mut st = old.remove(&w.name).unwrap_or_else(|| WatchState {
                    name: w.name.clone(),
                    alerts: Vec::new(),
                    series: Series::default(),
                    recent: Recent::default(),
                    last: None,
                });
                st.alerts = w.alerts.clone();
                st.recent.set_known(&w.query.to_string());
                st
            })
            .collect();
    }

    /// Restores persisted minute buckets `(watch, minute, total, negative)`
    /// and alert records (as stored by the daemon). Unknown watches are
    /// ignored; unreadable records are reset and reported.
    pub fn restore(
        &mut self,
        buckets: &[(String, i64, u64, u64)],
        records: &HashMap<String, Vec<u8>>,
    ) -> Vec<String> {
        let idx: HashMap<String, usize> = self
            .watches
            .iter()
            .enumerate()
            .map(|(i, w)| (w.name.clone(), i))
            .collect();
        for (watch, minute, total, negative) in buckets {
            if let Some(&i) = idx.get(watch) {
                self.watches[i].series.restore_minute(
                    *minute,
                    series::Counts {
                        total: *total,
                        negative: *negative,
                    },
                );
            }
        }
        let mut bad = Vec::new();
        for (k, v) in records {
            match serde_json::from_slice::<AlertRecord>(v) {
                Ok(r) => {
                    self.records.insert(k.clone(), r);
                }
                Err(_) => bad.push(k.clone()),
            }
        }
        bad
    }

    /// Records a mention matched to watch `watch` (an index into the rule
    /// set's watches).
    pub fn observe(&mut self, watch: usize, m: &Mention) {
        let Some(w) = self.watches.get_mut(watch) else {
            return;
        };
        let t = m.published.timestamp();
        w.series.add(t, m.is_negative());
        w.last = Some(w.last.map_or(t, |l| l.max(t)));
        let keep = w
            .alerts
            .iter()
            .map(|a| secs(a.window))
            .max()
            .unwrap_or(3600);
        w.recent.push(t, m, keep);
    }

    /// Evaluates every alert rule of every watch at `now`.
    pub fn evaluate(&mut self, now: DateTime<Utc>) -> Vec<Transition> {
        let all: Vec<usize> = (0..self.watches.len()).collect();
        self.evaluate_watches(&all, now)
    }

    /// Evaluates the rules of the given watches, and of any firing alert, at `now`.
    pub fn evaluate_watches(&mut self, watches: &[usize], now: DateTime<Utc>) -> Vec<Transition> {
        let mut out = Vec::new();
        let mut todo: Vec<usize> = watches.to_vec();
        for (i, w) in self.watches.iter().enumerate() {
            if w.alerts.iter().any(|a| {
                self.records
                    .get(&record_key(&w.name, &a.name))
                    .is_some_and(|r| r.firing)
            }) {
                todo.push(i);
            }
        }
        todo.sort_unstable();
        todo.dedup();
        for i in todo {
            let Some(w) = self.watches.get(i) else {
                continue;
            };
            for rule in &w.alerts {
                let key = record_key(&w.name, &rule.name);
                let rec = self.records.get(&key).cloned().unwrap_or_default();
                if let Some(t) = step(w, rule, &rec, now) {
                    self.records.insert(key, t.record.clone());
                    out.push(t);
                }
            }
        }
        out
    }

    /// Forgets data older than the retention at `now`.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        let now_s = now.timestamp();
        for w in &mut self.watches {
            let max_window = w
                .alerts
                .iter()
                .map(|a| secs(a.window))
                .max()
                .unwrap_or(3600);
            let keep_secs = (2 * max_window).max(3600) + 120;
            w.series
                .prune(now_s - keep_secs, (now_s - secs(RETENTION)).div_euclid(60));
            w.recent.prune(now_s - max_window);
        }
    }

    /// The current record of an alert rule.
    pub fn record(&self, watch: &str, rule: &str) -> Option<&AlertRecord> {
        self.records.get(&record_key(watch, rule))
    }
}

/// What a spike rule sees at `now`.
struct Measure {
    observed: u64,
    negative: u64,
    /// None while warming up.
    expected: Option<f64>,
}

fn measure(w: &WatchState, rule: &AlertRule, now_s: i64) -> Measure {
    let window = secs(rule.window).max(1);
    let ws = now_s - window;
    let c = w.series.window(ws, now_s);
    let expected = w.series.first().and_then(|first| {
        let from = first.max(ws - secs(BASELINE));
        let span = ws + 1 - from;
        if first > ws - WARMUP_WINDOWS * window || span <= 0 {
            return None;
        }
        let h = w.series.range(from, ws + 1);
        Some(h.total as f64 * window as f64 / span as f64)
    });
    Measure {
        observed: c.total,
        negative: c.negative,
        expected,
    }
}

fn step(
    w: &WatchState,
    rule: &AlertRule,
    rec: &AlertRecord,
    now: DateTime<Utc>,
) -> Option<Transition> {
    match rule.kind {
        AlertKind::VolumeSpike => {}
    }
    let now_s = now.timestamp();
    let m = measure(w, rule, now_s);
    let share = if m.observed == 0 {
        0.0
    } else {
        m.negative as f64 / m.observed as f64
    };
    let holds = m.expected.is_some_and(|e| {
        m.observed >= rule.min_mentions
            && m.observed as f64 >= rule.factor * e
            && rule.negative_share.is_none_or(|s| share >= s)
    });
    let in_cooldown = rec
        .fired_at
        .is_some_and(|f| now < f + chrono::Duration::from_std(rule.cooldown).unwrap_or_default());
    let expected = m.expected.unwrap_or(0.0);
    let (state, record) = if !rec.firing && holds && !in_cooldown {
        (
            AlertState::Firing,
            AlertRecord {
                firing: true,
                fired_at: Some(now),
                resolved_at: rec.resolved_at,
            },
        )
    } else if rec.firing
        && !holds
        && rec
            .fired_at
            .is_none_or(|f| now >= f + chrono::Duration::from_std(rule.window).unwrap_or_default())
    {
        (
            AlertState::Resolved,
            AlertRecord {
                firing: false,
                fired_at: rec.fired_at,
                resolved_at: Some(now),
            },
        )
    } else {
        return None;
    };
    // The event time is that of the latest mention seen, never after `now`.
    let at_s = match state {
        AlertState::Firing => w.last.map_or(now_s, |l| l.min(now_s)),
        AlertState::Resolved => now_s,
    };
    let at = Utc.timestamp_opt(at_s, 0).single().unwrap_or(now);
    let window_txt = crate::config::format_duration(rule.window);
    let summary = match state {
        AlertState::Firing => format!(
            "{}: {} mentions in {window_txt}, {:.1}× the {:.1} expected, {:.0}% negative",
            w.name,
            m.observed,
            m.observed as f64 / expected.max(0.1),
            expected,
            share * 100.0
        ),
        AlertState::Resolved => format!(
            "{}: back to {} mentions in {window_txt} ({:.1} expected)",
            w.name, m.observed, expected
        ),
    };
    let (top_terms, top_mentions) = w.recent.explain(now_s - secs(rule.window), now_s);
    let event = AlertEvent {
        rule: rule.name.clone(),
        watch: w.name.clone(),
        kind: rule.kind.as_str().to_string(),
        state,
        at,
        severity: rule.severity.clone(),
        summary,
        observed: m.observed,
        expected: (expected * 100.0).round() / 100.0,
        negative_share: (share * 1000.0).round() / 1000.0,
        top_terms,
        top_mentions,
    };
    let notify = if state == AlertState::Firing || rule.notify_resolved {
        rule.notify.clone()
    } else {
        Vec::new()
    };
    Some(Transition {
        event,
        notify,
        record_key: record_key(&w.name, &rule.name),
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Query, Watch};

    fn rules(rule: AlertRule) -> RuleSet {
        RuleSet {
            watches: vec![Watch {
                name: "acme".into(),
                query: crate::rules::query::parse("acme").unwrap(),
                exclude: None::<Query>,
                languages: vec![],
                sources: vec![],
                tags: vec![],
                alerts: vec![rule],
                path: "acme.toml".into(),
            }],
        }
    }

    fn spike(window: u64, min: u64, cooldown: u64) -> AlertRule {
        AlertRule {
            name: "spike".into(),
            kind: AlertKind::VolumeSpike,
            window: Duration::from_secs(window),
            min_mentions: min,
            factor: 3.0,
            negative_share: None,
            severity: "critical".into(),
            notify: vec!["mail".into()],
            notify_resolved: false,
            cooldown: Duration::from_secs(cooldown),
        }
    }

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn mention(t: i64, neg: bool) -> Mention {
        Mention {
            id: format!("m{t}-{neg}"),
            source: "s".into(),
            url: format!("https://ex.org/{t}"),
            title: "acme panne".into(),
            text: "acme service client injoignable".into(),
            author: "a".into(),
            author_followers: Some(t as u64),
            published: at(t),
            lang: Some("fr".into()),
            sentiment: Some(if neg { -0.8 } else { 0.2 }),
            watches: vec!["acme".into()],
        }
    }

    /// A quiet baseline of one mention a minute for `hours`, ending at 0.
    fn quiet(d: &mut Detector, hours: i64) {
        for k in (1..=hours * 60).rev() {
            d.observe(0, &mention(-k * 60, false));
        }
    }

    #[test]
    fn quiet_baseline_does_not_fire_and_a_spike_fires_once() {
        let mut d = Detector::new(&rules(spike(600, 10, 3600)));
        quiet(&mut d, 3);
        assert!(d.evaluate(at(0)).is_empty(), "quiet baseline fired");
        let mut fired = Vec::new();
        for s in 1..=60 {
            d.observe(0, &mention(s * 5, true));
            fired.extend(d.evaluate(at(s * 5)));
        }
        assert_eq!(fired.len(), 1, "{fired:#?}");
        let ev = &fired[0].event;
        assert_eq!(ev.state, AlertState::Firing);
        assert_eq!(ev.watch, "acme");
        // Baseline is one a minute: 10 expected in a 10-minute window.
        assert!((ev.expected - 10.0).abs() < 1.0, "{}", ev.expected);
        assert!(ev.observed >= 30);
        assert!(ev.negative_share > 0.5);
        assert_eq!(fired[0].notify, vec!["mail"]);
        assert!(!ev.top_mentions.is_empty());
        assert!(
            ev.top_terms.iter().any(|t| t == "panne"),
            "{:?}",
            ev.top_terms
        );
        assert!(
            !ev.top_terms.iter().any(|t| t == "acme"),
            "the query's own word: {:?}",
            ev.top_terms
        );
        // `at` is the event time of the mention that made it fire.
        assert!(ev.at <= at(300) && ev.at > at(0));
    }

    #[test]
    fn backlog_of_a_week_does_not_fire() {
        let mut d = Detector::new(&rules(spike(3600, 20, 3600)));
        // 30 mentions a day for 7 days, arriving all at once at `now`.
        for k in (1..=7 * 30).rev() {
            d.observe(0, &mention(-k * 2880, false));
        }
        assert!(d.evaluate(at(0)).is_empty());
    }

    #[test]
    fn no_fire_during_warmup() {
        let mut d = Detector::new(&rules(spike(600, 10, 3600)));
        for s in 0..100 {
            d.observe(0, &mention(s, false));
        }
        assert!(d.evaluate(at(100)).is_empty());
    }

    #[test]
    fn resolves_after_the_spike_then_cooldown_blocks_refire() {
        let mut d = Detector::new(&rules(spike(600, 10, 7200)));
        quiet(&mut d, 3);
        let mut evs = Vec::new();
        for s in 1..=60 {
            d.observe(0, &mention(s * 5, true));
            evs.extend(d.evaluate(at(s * 5)));
        }
        // Quiet again: resolves once the window has passed.
        evs.extend(d.evaluate(at(1200)));
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[1].event.state, AlertState::Resolved);
        assert!(
            evs[1].notify.is_empty(),
            "resolved is not notified by default"
        );
        // A second spike inside the cooldown does not fire.
        for s in 1..=60 {
            d.observe(0, &mention(1200 + s * 5, true));
            assert!(d.evaluate(at(1200 + s * 5)).is_empty());
        }
    }

    #[test]
    fn negative_share_condition_blocks_positive_spikes() {
        let mut rule = spike(600, 10, 3600);
        rule.negative_share = Some(0.5);
        let mut d = Detector::new(&rules(rule));
        quiet(&mut d, 3);
        for s in 1..=60 {
            d.observe(0, &mention(s * 5, false));
            assert!(d.evaluate(at(s * 5)).is_empty());
        }
    }

    #[test]
    fn restored_records_prevent_refiring() {
        let mut d = Detector::new(&rules(spike(600, 10, 3600)));
        quiet(&mut d, 3);
        let mut fired = Vec::new();
        for s in 1..=60 {
            d.observe(0, &mention(s * 5, true));
            fired.extend(d.evaluate(at(s * 5)));
        }
        let t = &fired[0];
        let stored: HashMap<String, Vec<u8>> =
            [(t.record_key.clone(), serde_json::to_vec(&t.record).unwrap())].into();
        let mut d2 = Detector::new(&rules(spike(600, 10, 3600)));
        assert!(d2.restore(&[], &stored).is_empty());
        quiet(&mut d2, 3);
        for s in 1..=60 {
            d2.observe(0, &mention(s * 5, true));
            let evs = d2.evaluate(at(s * 5));
            assert!(evs.iter().all(|e| e.event.state != AlertState::Firing));
        }
    }
}
