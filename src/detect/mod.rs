//! Detection: per-watch series, expected volume, alert rules and their
//! lifecycle. Pure and shared by `run` and `backtest`.
//!
//! The detector never reads a clock and does no I/O. Time is event time:
//! * [`Detector::ingest`] takes mentions already matched to watches (in any
//!   order), replays them in publication order, and evaluates the touched
//!   watches once per publication second, *at* that second — the daemon
//!   calls it for every batch and `backtest` for a whole file, so both run
//!   exactly the same evaluations on the same data;
//! * [`Detector::ingest_counts`] is the same path for counts without
//!   mention bodies (the NAB evaluation, benches): `n` mentions at a second
//!   are evaluated once, as `n` mentions published at that second are;
//! * [`Detector::advance`] moves time on without data, evaluating pending
//!   and firing alerts on the minute grid (resolution, `for`, repeat). An
//!   evaluation at time `t` only reads data published at or before `t`, so
//!   where it happens does not change its outcome; the daemon advances to
//!   the wall clock minus [`LATENESS`] so that a poll's mentions are in
//!   before their minute is evaluated.
//!
//! Expected volume ([`baseline`]): a robust seasonal baseline of hourly
//! counts (clipped level, hour-of-day profile, over-dispersion). A spike
//! window is *improbable* when the negative-binomial tail of its count is at
//! most `significance` ([`stats`]), and must also reach `min_mentions` and
//! `factor` × expected. Warm-up: spike kinds do not fire before the watch
//! has [`AlertRule::warmup`] of history. While less than a completed hour
//! is known, the expected count is the mean rate so far (Poisson).
//!
//! The lifecycle of each rule is in [`lifecycle`]; the explanation of an
//! event in [`explain`]. Alerts of one watch that change state in the same
//! evaluation are grouped: one event is notified, listing the others in
//! `related`.

pub mod baseline;
pub mod explain;
pub mod lifecycle;
pub mod replay;
pub mod series;
pub mod sim;
pub mod stats;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::alert::{AlertEvent, AlertState, RelatedAlert, Stage, TopMention};
use crate::mention::Mention;
use crate::rules::{AlertKind, AlertRule, RuleSet};
use baseline::Model;
use explain::{Explanation, Recent};
pub use lifecycle::AlertRecord;
use lifecycle::Signal;
use series::{Counts, Series};

/// How much history is kept (and restored from the store): the baseline
/// horizon.
pub const RETENTION: Duration = Duration::from_secs(28 * 86_400);
/// How far behind the wall clock the daemon evaluates the minute grid, so
/// that mentions published in a minute have arrived before it is judged.
pub const LATENESS: Duration = Duration::from_secs(60);
/// Early warning: a quarter-window must be this much above the previous one,
/// three quarters in a row.
pub const ACCELERATION: f64 = 1.5;
/// Early warning: significance of the last quarter-window, as a power of the
/// rule's (0.5: the square root, e.g. 1e-3 for 1e-6).
pub const EARLY_SIGNIFICANCE_POWER: f64 = 0.5;
/// `negative_surge` without `negative_share`: the share must rise this much
/// above its usual level.
pub const NEGATIVE_SHARE_RISE: f64 = 0.3;
/// Surprise gate: a spike window's surprise, `(observed + K) / (expected +
/// K)`, must reach this many times the median of the last days' largest
/// surprises. A watch whose volume routinely jumps tenfold every day is not
/// in crisis when it does so again.
pub const SURPRISE_GATE: f64 = 2.0;
/// Pseudo-count of the surprise ratio, so that a handful of mentions over
/// nearly nothing is not a large surprise.
pub const SURPRISE_K: f64 = 5.0;
/// Days of largest surprises the gate remembers, and needs before it applies.
pub const SURPRISE_DAYS: usize = 14;
pub const SURPRISE_MIN_DAYS: usize = 3;
/// Matching mentions kept per keyword or influencer rule.
const HITS_CAP: usize = 500;
/// Most grid steps one evaluation runs (a week of minutes).
const GRID_CAP: i64 = 7 * 1440;

/// An alert that changed state: the event, where to send it, and the record
/// to persist with it (in the same transaction).
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub event: AlertEvent,
    /// Channels to notify (empty: recorded only, or notified with another
    /// event of its group).
    pub notify: Vec<String>,
    pub record_key: String,
    pub record: AlertRecord,
}

struct RuleState {
    rule: AlertRule,
    key: String,
    /// Spike kinds: the largest surprise of each learnt day, newest last.
    daily_max: VecDeque<f64>,
    /// The largest surprise of the day being learnt, and its hours so far.
    day_max: f64,
    day_hours: u32,
    /// keyword / influencer: matching mentions, oldest first.
    hits: VecDeque<(i64, TopMention)>,
}

struct WatchState {
    name: String,
    rules: Vec<RuleState>,
    series: Series,
    model: Model,
    negative: Model,
    /// Next unix hour the models learn.
    learned: Option<i64>,
    recent: Recent,
    /// Latest evaluation second: evaluations never go back.
    clock: Option<i64>,
    /// Seconds of one-second buckets and recent mentions needed.
    keep: i64,
}

/// The detection state of a whole rule set.
pub struct Detector {
    watches: Vec<WatchState>,
    records: HashMap<String, AlertRecord>,
    /// Keys of records changed since [`Detector::take_dirty_records`].
    dirty: BTreeSet<String>,
}

/// Key of an alert record: `watch/rule`.
pub fn record_key(watch: &str, rule: &str) -> String {
    format!("{watch}/{rule}")
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

fn time(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).unwrap_or_default()
}

fn rule_states(w: &crate::rules::Watch) -> Vec<RuleState> {
    w.alerts
        .iter()
        .map(|a| RuleState {
            rule: a.clone(),
            key: record_key(&w.name, &a.name),
            hits: VecDeque::new(),
            daily_max: VecDeque::new(),
            day_max: 0.0,
            day_hours: 0,
        })
        .collect()
}

impl Detector {
    pub fn new(rules: &RuleSet) -> Detector {
        let mut d = Detector {
            watches: Vec::new(),
            records: HashMap::new(),
            dirty: BTreeSet::new(),
        };
        d.reload(rules);
        d
    }

    /// Adopts a new rule set; series, baselines and records of watches that
    /// keep their name are kept.
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
                    rules: Vec::new(),
                    series: Series::default(),
                    model: Model::default(),
                    negative: Model::default(),
                    learned: None,
                    recent: Recent::default(),
                    clock: None,
                    keep: 0,
                });
                st.rules = rule_states(w);
                st.keep = w
                    .alerts
                    .iter()
                    .map(|a| secs(a.window))
                    .max()
                    .unwrap_or(3600)
                    .max(60)
                    + 2 * 3600;
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
        let mut sorted: Vec<&(String, i64, u64, u64)> = buckets.iter().collect();
        sorted.sort_by_key(|b| b.1);
        for (watch, minute, total, negative) in sorted {
            if let Some(&i) = idx.get(watch) {
                self.watches[i].series.restore_minute(
                    *minute,
                    Counts {
                        total: *total,
                        negative: *negative,
                    },
                );
            }
        }
        let mut bad = Vec::new();
        for (k, v) in records {
            match AlertRecord::decode(v) {
                Ok(r) => {
                    self.records.insert(k.clone(), r);
                }
                Err(_) => bad.push(k.clone()),
            }
        }
        bad
    }

    /// Records a mention matched to watch `watch` (an index into the rule
    /// set's watches), without evaluating: see [`Detector::ingest`].
    pub fn observe(&mut self, watch: usize, m: &Mention) {
        let Some(w) = self.watches.get_mut(watch) else {
            return;
        };
        let t = m.published.timestamp();
        w.series.add(
            t,
            Counts {
                total: 1,
                negative: u64::from(m.is_negative()),
            },
        );
        w.recent.push(t, m, w.keep);
        for rs in &mut w.rules {
            let hit = match rs.rule.kind {
                AlertKind::Keyword => rs
                    .rule
                    .query
                    .as_ref()
                    .is_some_and(|q| crate::rules::matcher::query_matches(q, m)),
                AlertKind::Influencer => m.reach() >= rs.rule.min_reach,
                AlertKind::VolumeSpike | AlertKind::NegativeSurge => false,
            };
            if hit {
                let pos = rs.hits.partition_point(|(h, _)| *h <= t);
                rs.hits.insert(pos, (t, explain::top_mention(m)));
                if rs.hits.len() > HITS_CAP {
                    rs.hits.pop_front();
                }
            }
        }
    }

    /// Records `total` mentions (of which `negative`) published at unix
    /// second `t` for `watch`, without bodies and without evaluating.
    pub fn observe_count(&mut self, watch: usize, t: i64, total: u64, negative: u64) {
        if let Some(w) = self.watches.get_mut(watch) {
            w.series.add(t, Counts { total, negative });
        }
    }

    /// The detection path of `run` and `backtest`: observes `(watch,
    /// mention)` pairs in publication order and evaluates the touched
    /// watches after each publication second, at that second.
    pub fn ingest(&mut self, items: &[(usize, &Mention)]) -> Vec<Transition> {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by_key(|&i| items[i].1.published.timestamp());
        let mut out = Vec::new();
        let mut touched: Vec<usize> = Vec::new();
        let mut k = 0;
        while k < order.len() {
            let t = items[order[k]].1.published.timestamp();
            touched.clear();
            while k < order.len() && items[order[k]].1.published.timestamp() == t {
                let (w, m) = items[order[k]];
                self.observe(w, m);
                touched.push(w);
                k += 1;
            }
            touched.sort_unstable();
            touched.dedup();
            for &w in &touched {
                out.extend(self.evaluate_watch(w, t));
            }
        }
        out
    }

    /// [`Detector::ingest`] for live data arriving at `now`: a mention
    /// published before the longest window of its watch (ending at `now`)
    /// can no longer be part of a current alert, so it only fills history —
    /// a new source's backlog, however bursty, does not raise alerts about
    /// the past. `backtest` replays history and uses [`Detector::ingest`].
    pub fn ingest_live(
        &mut self,
        items: &[(usize, &Mention)],
        now: DateTime<Utc>,
    ) -> Vec<Transition> {
        let now_s = now.timestamp();
        let mut fresh = Vec::with_capacity(items.len());
        for &(w, m) in items {
            let Some(st) = self.watches.get(w) else {
                continue;
            };
            let longest = st
                .rules
                .iter()
                .map(|r| secs(r.rule.window))
                .max()
                .unwrap_or(0);
            if m.published.timestamp() <= now_s - longest {
                self.observe(w, m);
            } else {
                fresh.push((w, m));
            }
        }
        self.ingest(&fresh)
    }

    /// [`Detector::ingest`] for counts: `total` mentions (`negative` of them
    /// negative) published at second `t`, then one evaluation at `t`.
    pub fn ingest_counts(
        &mut self,
        watch: usize,
        t: i64,
        total: u64,
        negative: u64,
    ) -> Vec<Transition> {
        self.observe_count(watch, t, total, negative);
        self.evaluate_watch(watch, t)
    }

    /// Moves time on to `now` without data: pending and firing alerts are
    /// evaluated on the minute grid up to `now`.
    pub fn advance(&mut self, now: DateTime<Utc>) -> Vec<Transition> {
        let now_s = now.timestamp();
        let mut out = Vec::new();
        for i in 0..self.watches.len() {
            if self.any_active(i) {
                out.extend(self.evaluate_watch(i, now_s));
            }
        }
        out
    }

    /// Evaluates every alert rule of the given watches at `now` (after the
    /// minute grid up to it). Kept for callers that evaluate without data.
    pub fn evaluate_watches(&mut self, watches: &[usize], now: DateTime<Utc>) -> Vec<Transition> {
        let mut out = Vec::new();
        for &i in watches {
            out.extend(self.evaluate_watch(i, now.timestamp()));
        }
        out.extend(self.advance(now));
        out
    }

    /// Evaluates every alert rule of every watch at `now`.
    pub fn evaluate(&mut self, now: DateTime<Utc>) -> Vec<Transition> {
        let all: Vec<usize> = (0..self.watches.len()).collect();
        self.evaluate_watches(&all, now)
    }

    fn any_active(&self, i: usize) -> bool {
        self.watches[i]
            .rules
            .iter()
            .any(|r| self.records.get(&r.key).is_some_and(|r| r.is_active()))
    }

    /// Runs the minute grid of watch `i` up to `now`, then evaluates it at
    /// `now`. Evaluations never go back: `now` before the watch's clock is
    /// taken as the clock.
    fn evaluate_watch(&mut self, i: usize, now: i64) -> Vec<Transition> {
        let Some(w) = self.watches.get(i) else {
            return Vec::new();
        };
        let now = w.clock.map_or(now, |c| c.max(now));
        let mut out = Vec::new();
        if let Some(c) = w.clock {
            let mut g = (c.div_euclid(60) + 1) * 60;
            let end = now.min(g + GRID_CAP * 60);
            while g < end && self.any_active(i) {
                out.extend(self.evaluate_at(i, g));
                g += 60;
            }
        }
        out.extend(self.evaluate_at(i, now));
        self.watches[i].clock = Some(now);
        out
    }

    /// Learns the completed hours before `t`.
    fn learn(w: &mut WatchState, t: i64) {
        let Some(first) = w.series.first() else {
            return;
        };
        let current = t.div_euclid(3600);
        let mut h = w.learned.unwrap_or_else(|| {
            let fh = first.div_euclid(3600);
            if first.rem_euclid(3600) == 0 {
                fh
            } else {
                fh + 1
            }
        });
        h = h.max(current - series::HORIZON_HOURS);
        while h < current {
            Self::learn_surprise(w, h);
            let c = w.series.hour(h);
            w.model.learn(h, c.total as f64);
            w.negative.learn(h, c.negative as f64);
            h += 1;
        }
        w.learned = Some(h.max(w.learned.unwrap_or(h)));
    }

    /// Samples each spike rule's surprise over hour `h` (before the models
    /// learn it: what the rule would have seen), every half window.
    fn learn_surprise(w: &mut WatchState, h: i64) {
        let first = w.series.first().unwrap_or(h * 3600);
        for k in 0..w.rules.len() {
            let rule = &w.rules[k].rule;
            if !rule.kind.is_spike() {
                continue;
            }
            let negative = rule.kind == AlertKind::NegativeSurge;
            let window = secs(rule.window).max(1);
            let step = (window / 2).clamp(60, 3600);
            let mut best: f64 = 0.0;
            let mut t = h * 3600 + step;
            while t <= (h + 1) * 3600 {
                if t - window >= first {
                    let c = w.series.window(t - window, t);
                    let obs = if negative { c.negative } else { c.total } as f64;
                    if let Some((mu, _)) = expectation(w, negative, window, t) {
                        best = best.max((obs + SURPRISE_K) / (mu + SURPRISE_K));
                    }
                }
                t += step;
            }
            let rs = &mut w.rules[k];
            rs.day_max = rs.day_max.max(best);
            rs.day_hours += 1;
            if rs.day_hours >= 24 {
                rs.daily_max.push_back(rs.day_max);
                if rs.daily_max.len() > SURPRISE_DAYS {
                    rs.daily_max.pop_front();
                }
                rs.day_max = 0.0;
                rs.day_hours = 0;
            }
        }
    }

    /// Evaluates every rule of watch `i` at second `t`; groups the changes.
    fn evaluate_at(&mut self, i: usize, t: i64) -> Vec<Transition> {
        Self::learn(&mut self.watches[i], t);
        let w = &self.watches[i];
        let mut out = Vec::new();
        for rs in &w.rules {
            let rec = self.records.get(&rs.key).cloned().unwrap_or_default();
            let m = assess(w, rs, t);
            let (next, change) = lifecycle::step(&rec, m.signal, &rs.rule, time(t));
            if let Some(c) = change {
                out.push(transition(w, rs, &m, c, next.clone(), t));
            }
            if next != rec {
                self.dirty.insert(rs.key.clone());
                self.records.insert(rs.key.clone(), next);
            }
        }
        group(&mut out);
        out
    }

    /// Forgets data older than needed at `now`.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        let now_s = now.timestamp();
        for w in &mut self.watches {
            let before = now_s - w.keep - 60;
            w.series.prune(before);
            w.recent.prune(before);
            for rs in &mut w.rules {
                while rs.hits.front().is_some_and(|(h, _)| *h <= before) {
                    rs.hits.pop_front();
                }
            }
        }
    }

    /// The records changed since the last call, by key, in their current
    /// state: with a transition (whose `record` may be older when a rule
    /// changed twice since) or without one — a rule becoming pending (`for`),
    /// a firing rule whose condition stopped holding (`resolve_after`). The
    /// daemon persists them with the transitions, so a restart resumes a
    /// pending or clearing rule where it was instead of starting over.
    pub fn take_dirty_records(&mut self) -> Vec<(String, AlertRecord)> {
        std::mem::take(&mut self.dirty)
            .into_iter()
            .filter_map(|k| self.records.get(&k).cloned().map(|r| (k, r)))
            .collect()
    }

    /// The current record of an alert rule.
    pub fn record(&self, watch: &str, rule: &str) -> Option<&AlertRecord> {
        self.records.get(&record_key(watch, rule))
    }

    /// The expected volume of a watch's rule window ending at `now` (for
    /// tests and tools): `None` while nothing is known.
    pub fn expected(&mut self, watch: usize, rule: usize, now: DateTime<Utc>) -> Option<f64> {
        let t = now.timestamp();
        let w = self.watches.get_mut(watch)?;
        Self::learn(w, t);
        let rs = w.rules.get(rule)?;
        expectation(w, false, secs(rs.rule.window), t).map(|(mu, _)| mu)
    }
}

/// Expected count (and dispersion) of `model`'s series in `(t − window, t]`:
/// from the baseline once an hour is learnt, else from the mean rate of
/// history before the window (Poisson). `None` without history.
fn expectation(w: &WatchState, negative: bool, window: i64, t: i64) -> Option<(f64, f64)> {
    let first = w.series.first()?;
    let ws = t - window;
    let model = if negative { &w.negative } else { &w.model };
    if model.hours() == 0 {
        let span = ws + 1 - first;
        if span <= 0 {
            return None;
        }
        let h = w.series.range(first, ws + 1);
        let count = if negative { h.negative } else { h.total };
        return Some((count as f64 * window as f64 / span as f64, 0.0));
    }
    let mut mu = 0.0;
    let mut a = ws;
    while a < t {
        let h = a.div_euclid(3600);
        let b = ((h + 1) * 3600).min(t);
        mu += model.expected_hour(h) * (b - a) as f64 / 3600.0;
        a = b;
    }
    Some((mu, model.phi()))
}

/// What a rule sees at `t`, with the numbers its event explains.
#[derive(Debug, Clone, Copy, Default)]
struct Measure {
    signal: Signal,
    observed: u64,
    expected: f64,
    tail: Option<f64>,
    /// Window counts (all mentions).
    window: Counts,
    usual_share: f64,
}

fn improbable(observed: u64, rule: &AlertRule, mu: f64, phi: f64, alpha: f64) -> Option<f64> {
    let need = (rule.factor * mu).ceil().max(rule.min_mentions as f64);
    if (observed as f64) < need {
        return None;
    }
    let p = stats::nb_tail(observed, mu, phi);
    (p <= alpha).then_some(p)
}

fn assess(w: &WatchState, rs: &RuleState, t: i64) -> Measure {
    let rule = &rs.rule;
    let window = secs(rule.window).max(1);
    let c = w.series.window(t - window, t);
    let usual_share = if w.model.level() > 0.0 {
        (w.negative.level() / w.model.level()).clamp(0.0, 1.0)
    } else {
        let f = w.series.first().unwrap_or(t);
        let h = w.series.range(f, t - window + 1);
        if h.total > 0 {
            h.negative as f64 / h.total as f64
        } else {
            0.0
        }
    };
    let mut m = Measure {
        window: c,
        usual_share,
        ..Measure::default()
    };
    let warm = w
        .series
        .first()
        .is_some_and(|f| t - f >= secs(rule.warmup()));
    match rule.kind {
        AlertKind::Keyword | AlertKind::Influencer => {
            let n = rs
                .hits
                .iter()
                .rev()
                .take_while(|(h, _)| *h > t - window)
                .filter(|(h, _)| *h <= t)
                .count() as u64;
            m.observed = n;
            m.signal = Signal {
                holds: n >= rule.min_mentions.max(1),
                early: false,
                observed: n,
            };
        }
        AlertKind::VolumeSpike | AlertKind::NegativeSurge => {
            let negative = rule.kind == AlertKind::NegativeSurge;
            let observed = if negative { c.negative } else { c.total };
            m.observed = observed;
            let Some((mu, phi)) = expectation(w, negative, window, t) else {
                return m;
            };
            m.expected = mu;
            if !warm {
                return m;
            }
            let share = if c.total > 0 {
                c.negative as f64 / c.total as f64
            } else {
                0.0
            };
            let share_ok = rule.negative_share.is_none_or(|s| share >= s);
            let mut holds = false;
            if let Some(p) = improbable(observed, rule, mu, phi, rule.significance) {
                m.tail = Some(p);
                holds = share_ok && beats_gate(rs, observed, mu);
            }
            if negative && !holds && observed >= rule.min_mentions {
                // The share of negative mentions rises well above usual.
                let need = rule
                    .negative_share
                    .unwrap_or((usual_share + NEGATIVE_SHARE_RISE).min(0.95));
                if share >= need {
                    let p = stats::binomial_tail(c.negative, c.total, usual_share.max(0.01));
                    if p <= rule.significance {
                        m.tail = Some(p);
                        holds = true;
                    }
                }
            }
            let early = !holds
                && rule.early_warning
                && accelerating(w, rule, negative, window, t)
                && share_ok;
            m.signal = Signal {
                holds,
                early,
                observed,
            };
        }
    }
    m
}

/// Whether a window's surprise beats the watch's usual daily record (see
/// [`SURPRISE_GATE`]); always true while fewer than [`SURPRISE_MIN_DAYS`]
/// days are known.
fn beats_gate(rs: &RuleState, observed: u64, mu: f64) -> bool {
    if rs.daily_max.len() < SURPRISE_MIN_DAYS {
        return true;
    }
    let mut v: Vec<f64> = rs.daily_max.iter().copied().collect();
    v.sort_by(f64::total_cmp);
    let median = v[v.len() / 2];
    (observed as f64 + SURPRISE_K) / (mu + SURPRISE_K) >= SURPRISE_GATE * median
}

/// Early warning: the last three quarter-windows each grew by at least
/// [`ACCELERATION`], and the last one is already improbable at a looser
/// significance, with a quarter of `min_mentions` and of `factor`.
fn accelerating(w: &WatchState, rule: &AlertRule, negative: bool, window: i64, t: i64) -> bool {
    let q = (window / 4).max(1);
    let pick = |c: Counts| if negative { c.negative } else { c.total };
    let q3 = pick(w.series.window(t - q, t));
    if (q3 as f64) < (rule.min_mentions as f64 / 4.0).max(3.0) {
        return false;
    }
    let q2 = pick(w.series.window(t - 2 * q, t - q));
    let q1 = pick(w.series.window(t - 3 * q, t - 2 * q));
    if (q3 as f64) < ACCELERATION * q2 as f64 || (q2 as f64) < ACCELERATION * q1 as f64 || q1 == 0 {
        return false;
    }
    let Some((mu, phi)) = expectation(w, negative, q, t) else {
        return false;
    };
    let need = (rule.factor * mu).ceil();
    (q3 as f64) >= need
        && stats::nb_tail(q3, mu, phi) <= rule.significance.powf(EARLY_SIGNIFICANCE_POWER)
}

fn round(x: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

fn transition(
    w: &WatchState,
    rs: &RuleState,
    m: &Measure,
    c: lifecycle::Change,
    record: AlertRecord,
    t: i64,
) -> Transition {
    let rule = &rs.rule;
    let window = secs(rule.window).max(1);
    let window_txt = crate::config::format_duration(rule.window);
    let share = if m.window.total == 0 {
        0.0
    } else {
        m.window.negative as f64 / m.window.total as f64
    };
    let factor = if m.expected > 0.0 {
        m.observed as f64 / m.expected
    } else {
        0.0
    };
    let ex: Explanation = w.recent.explain(t - window, t);
    let what = match rule.kind {
        AlertKind::VolumeSpike => "mentions",
        AlertKind::NegativeSurge => "negative mentions",
        AlertKind::Keyword => "mentions matching the crisis query",
        AlertKind::Influencer => "mentions by high-reach authors",
    };
    let summary = match (c.state, rule.kind.is_spike()) {
        (AlertState::Resolved, _) => format!(
            "{}: back to {} {what} in {window_txt} ({:.1} expected)",
            w.name, m.observed, m.expected
        ),
        (AlertState::Firing, true) => format!(
            "{}{}: {} {what} in {window_txt}, {:.1}× the {:.1} expected, {:.0}% negative (usually {:.0}%)",
            match c.stage {
                Stage::EarlyWarning => "early warning, accelerating — ",
                Stage::Escalation => "escalation, volume doubled — ",
                Stage::Repeat => "still firing — ",
                Stage::Threshold => "",
            },
            w.name,
            m.observed,
            factor,
            m.expected,
            share * 100.0,
            m.usual_share * 100.0
        ),
        (AlertState::Firing, false) => format!(
            "{}: {} {what} in {window_txt}, {:.0}% negative",
            w.name,
            m.observed,
            share * 100.0
        ),
    };
    let top_mentions = if rule.kind.is_spike() {
        ex.top_mentions
    } else {
        explain::top_mentions(
            rs.hits
                .iter()
                .filter(|(h, _)| *h > t - window && *h <= t)
                .map(|(_, m)| m.clone())
                .collect(),
        )
    };
    let event = AlertEvent {
        rule: rule.name.clone(),
        watch: w.name.clone(),
        kind: rule.kind.as_str().to_string(),
        state: c.state,
        at: time(t),
        severity: if c.early {
            "warning".to_string()
        } else {
            rule.severity.clone()
        },
        summary,
        observed: m.observed,
        expected: round(m.expected, 2),
        negative_share: round(share, 3),
        top_terms: ex.top_terms,
        top_mentions,
        stage: c.stage,
        window_secs: window as u64,
        factor: round(factor, 2),
        tail_probability: m.tail,
        negative_share_usual: round(m.usual_share, 3),
        emerging_terms: ex.emerging_terms,
        sources: ex.sources,
        related: Vec::new(),
    };
    let notify = if c.state == AlertState::Firing || rule.notify_resolved {
        rule.notify.clone()
    } else {
        Vec::new()
    };
    Transition {
        event,
        notify,
        record_key: rs.key.clone(),
        record,
    }
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 3,
        "warning" => 2,
        "info" => 1,
        _ => 0,
    }
}

/// Groups the changes of one watch at one time into one notification: the
/// most severe firing event is notified to the union of the channels and
/// lists the others in `related`; the others are recorded only.
fn group(ts: &mut [Transition]) {
    let notified: Vec<usize> = (0..ts.len())
        .filter(|&i| !ts[i].notify.is_empty())
        .collect();
    if notified.len() < 2 {
        return;
    }
    let Some(&lead) = notified.iter().max_by_key(|&&i| {
        (
            ts[i].event.state == AlertState::Firing,
            severity_rank(&ts[i].event.severity),
            std::cmp::Reverse(i),
        )
    }) else {
        return;
    };
    let mut channels = ts[lead].notify.clone();
    let mut related = Vec::new();
    for &i in &notified {
        if i == lead {
            continue;
        }
        for ch in std::mem::take(&mut ts[i].notify) {
            if !channels.contains(&ch) {
                channels.push(ch);
            }
        }
        let e = &ts[i].event;
        related.push(RelatedAlert {
            rule: e.rule.clone(),
            kind: e.kind.clone(),
            state: e.state,
            severity: e.severity.clone(),
            summary: e.summary.clone(),
        });
    }
    ts[lead].notify = channels;
    ts[lead].event.related = related;
}

#[cfg(test)]
mod tests;
