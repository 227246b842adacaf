//! The JSON API: `GET /api/mentions`, `/api/watches`, `/api/alerts`,
//! `/api/stats` and `POST /-/reload`.
//!
//! Handlers never touch the pipeline: detection and alert state come from
//! the [`Snapshot`] the daemon publishes after each refresh (a `watch`
//! channel), mentions from the index's read side and chart series from the
//! state store's committed buckets, both on blocking threads (at most
//! [`BLOCKING_READS`] at once). A reload is a request the pipeline loop
//! answers, exactly as SIGHUP is handled.
//!
//! Mentions are served in the JSON shape of `veilleur search --json`
//! (DESIGN.md), alert events in the alert event shape with their `id`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query as QueryParams, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::alert::AlertEvent;
use crate::enrich::sentiment::{LABEL_THRESHOLD, Label};
use crate::mention::Mention;
use crate::pipeline::status::{RuleState, WatchStatus};
use crate::rules::query::Query;
use crate::store::state::StateStore;
use crate::store::{Cursor, IndexError, MentionSearch, SearchRequest};

/// Index and state reads running at once; more wait their turn.
pub(crate) const BLOCKING_READS: usize = 4;
/// Mentions in a page when `limit` is not given.
const DEFAULT_LIMIT: usize = 50;
/// The largest `limit` accepted.
const MAX_LIMIT: usize = 500;
/// Mentions a filtered search (`watch`, `sentiment`) reads for one page at
/// most; past it the page is returned short, with a `next` cursor.
const MAX_SCAN: usize = 5_000;
/// Points of a `/api/stats` series at most.
const MAX_POINTS: i64 = 2_000;
/// Recent alert events the snapshot keeps.
pub(crate) const RECENT_EVENTS: usize = 200;
/// How long `POST /-/reload` waits for the pipeline loop.
const RELOAD_WAIT: Duration = Duration::from_secs(60);

/// What the pipeline loop publishes for the API: the watches as of `at`
/// and the alert events recorded since start-up.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    /// When it was taken (`None`: not yet).
    pub(crate) at: Option<DateTime<Utc>>,
    pub(crate) watches: Vec<WatchStatus>,
    /// Alert events, oldest first, at most [`RECENT_EVENTS`].
    pub(crate) recent: VecDeque<AlertEvent>,
}

impl Snapshot {
    /// Appends events, forgetting the oldest past [`RECENT_EVENTS`].
    pub(crate) fn push_events(&mut self, events: impl IntoIterator<Item = AlertEvent>) {
        for e in events {
            if self.recent.len() == RECENT_EVENTS {
                self.recent.pop_front();
            }
            self.recent.push_back(e);
        }
    }

    fn watch(&self, name: &str) -> Option<&WatchStatus> {
        self.watches.iter().find(|w| w.name == name)
    }
}

/// A rule reload asked over HTTP; the pipeline loop answers with the
/// number of watches in force, or the diagnostics of the refused set.
#[derive(Debug)]
pub(crate) struct ReloadRequest {
    pub(crate) reply: oneshot::Sender<Result<usize, Vec<String>>>,
}

/// What the API handlers read.
#[derive(Clone)]
pub(crate) struct Api {
    /// The index's read side.
    pub(crate) search: Arc<dyn MentionSearch>,
    /// Committed per-watch buckets.
    pub(crate) state: Arc<StateStore>,
    /// The latest snapshot of the pipeline.
    pub(crate) snapshot: watch::Receiver<Arc<Snapshot>>,
    /// Reload requests to the pipeline loop.
    pub(crate) reload: mpsc::Sender<ReloadRequest>,
    /// Bounds the blocking reads in flight.
    pub(crate) reads: Arc<Semaphore>,
    /// The daemon's language and time zone: alert events carry a
    /// `summary_local` in it beside detection's English `summary`.
    pub(crate) locale: crate::i18n::Locale,
}

/// An error answered as `{"error": "..."}`.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl ApiError {
    fn bad(msg: impl Into<String>) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, msg.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<IndexError> for ApiError {
    fn from(e: IndexError) -> ApiError {
        match e {
            IndexError::Cursor(_) => ApiError::bad(e.to_string()),
            other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

/// A time parameter: RFC 3339, or a duration before `now` (`24h`, `7d`).
fn parse_time(key: &str, v: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    crate::duration::parse_duration(v)
        .ok()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| {
            ApiError::bad(format!(
                "`{key}`: `{v}` is neither an RFC 3339 time (2026-03-01T08:00:00Z) nor a duration before now (24h, 7d)"
            ))
        })
}

fn opt_time(
    key: &str,
    v: &Option<String>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_time(key, s, now))
        .transpose()
}

/// The label of a mention's sentiment (neutral when unscored).
fn label(m: &Mention) -> Label {
    match m.sentiment {
        Some(s) if s <= -LABEL_THRESHOLD => Label::Neg,
        Some(s) if s >= LABEL_THRESHOLD => Label::Pos,
        _ => Label::Neu,
    }
}

fn cursor_of(m: &Mention) -> Cursor {
    Cursor {
        published_nanos: m.published.timestamp_nanos_opt().unwrap_or(i64::MAX),
        id: m.id.clone(),
    }
}

/// `GET /api/mentions` parameters.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MentionsParams {
    q: Option<String>,
    watch: Option<String>,
    source: Option<String>,
    since: Option<String>,
    until: Option<String>,
    sentiment: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// One validated mention search: the index query and what is checked on
/// each hit the index cannot filter by.
#[derive(Debug)]
struct Plan {
    query: Query,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: usize,
    after: Option<Cursor>,
    watch: Option<String>,
    sentiment: Option<Label>,
}

impl Plan {
    fn new(p: &MentionsParams, snap: &Snapshot, now: DateTime<Utc>) -> Result<Plan, ApiError> {
        let text = p.q.as_deref().unwrap_or("").trim();
        let mut parts = Vec::new();
        if !text.is_empty() {
            let q = crate::rules::query::parse(text).map_err(|e| {
                let col = text[..e.offset.min(text.len())].chars().count() + 1;
                ApiError::bad(format!("invalid query at column {col}: {e}"))
            })?;
            parts.push(q);
        }
        let watch = p.watch.as_deref().filter(|w| !w.is_empty());
        if let Some(w) = watch {
            let ws = snap.watch(w).ok_or_else(|| {
                ApiError(
                    StatusCode::NOT_FOUND,
                    format!("no watch named `{w}`: GET /api/watches lists them"),
                )
            })?;
            // Narrows the candidates; each hit is then checked against the
            // watches it matched when it was ingested.
            parts.push(ws.query.clone());
        }
        if let Some(s) = p.source.as_deref().filter(|s| !s.is_empty()) {
            parts.push(Query::Source(s.to_lowercase()));
        }
        let sentiment = match p.sentiment.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(Label::parse(s).ok_or_else(|| {
                ApiError::bad(format!("`sentiment`: `{s}` is not one of neg, neu, pos"))
            })?),
        };
        let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::bad(format!(
                "`limit` must be between 1 and {MAX_LIMIT}"
            )));
        }
        let after = p
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(Cursor::parse)
            .transpose()?;
        Ok(Plan {
            query: if parts.len() == 1 {
                parts.remove(0)
            } else {
                // No part: an empty `And` matches every mention.
                Query::And(parts)
            },
            since: opt_time("since", &p.since, now)?,
            until: opt_time("until", &p.until, now)?,
            limit,
            after,
            watch: watch.map(str::to_string),
            sentiment,
        })
    }

    fn keeps(&self, m: &Mention) -> bool {
        self.watch.as_ref().is_none_or(|w| m.watches.contains(w))
            && self.sentiment.is_none_or(|l| label(m) == l)
    }

    /// One page, newest first, and the cursor of the next one. Blocking.
    fn run(
        &self,
        search: &dyn MentionSearch,
    ) -> Result<(Vec<Mention>, Option<Cursor>), IndexError> {
        let filtered = self.watch.is_some() || self.sentiment.is_some();
        let mut req = SearchRequest::new(&self.query, self.limit);
        req.since = self.since;
        req.until = self.until;
        req.after = self.after.clone();
        if !filtered {
            let page = search.search(&req)?;
            return Ok((page.mentions, page.next));
        }
        req.limit = (self.limit * 2).clamp(50, MAX_LIMIT);
        let mut out = Vec::with_capacity(self.limit);
        let mut scanned = 0;
        loop {
            let page = search.search(&req)?;
            let n = page.mentions.len();
            for (i, m) in page.mentions.into_iter().enumerate() {
                scanned += 1;
                let c = cursor_of(&m);
                if self.keeps(&m) {
                    out.push(m);
                }
                if out.len() == self.limit {
                    let more = i + 1 < n || page.next.is_some();
                    return Ok((out, more.then_some(c)));
                }
                req.after = Some(c);
            }
            if page.next.is_none() {
                return Ok((out, None));
            }
            if scanned >= MAX_SCAN {
                return Ok((out, req.after));
            }
        }
    }
}

/// Runs a blocking read on its own thread, at most [`BLOCKING_READS`] at once.
async fn blocking<T: Send + 'static>(
    api: &Api,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let internal = |m: String| ApiError(StatusCode::INTERNAL_SERVER_ERROR, m);
    let _permit = api
        .reads
        .acquire()
        .await
        .map_err(|_| internal("shutting down".into()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(format!("the read failed: {e}")))?
}

/// `GET /api/mentions?q=&watch=&source=&since=&until=&sentiment=&limit=&cursor=`
pub(crate) async fn mentions(
    State(api): State<Api>,
    QueryParams(p): QueryParams<MentionsParams>,
) -> Result<Json<MentionsPage>, ApiError> {
    let snap = api.snapshot.borrow().clone();
    let plan = Plan::new(&p, &snap, Utc::now())?;
    let search = api.search.clone();
    let (mentions, next) = blocking(&api, move || Ok(plan.run(search.as_ref())?)).await?;
    Ok(Json(MentionsPage {
        mentions,
        next: next.map(|c| c.encode()),
    }))
}

/// A page of `/api/mentions`. Serialized straight from [`Mention`] (not
/// through a `serde_json::Value`, which would widen `sentiment` to f64
/// digits): byte for byte the lines of `veilleur search --json`.
#[derive(Debug, serde::Serialize)]
pub(crate) struct MentionsPage {
    mentions: Vec<Mention>,
    next: Option<String>,
}

fn time_json(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_rfc3339()))
}

fn watch_json(w: &WatchStatus) -> Value {
    let state = if w.firing() {
        "firing"
    } else if w.rules.iter().any(|r| r.state == RuleState::Pending) {
        "pending"
    } else {
        "quiet"
    };
    json!({
        "name": w.name,
        "tags": w.tags,
        "state": state,
        "warm": w.warm,
        "warm_at": time_json(w.warm_at),
        "mentions_last_hour": w.hour.0,
        "negative_last_hour": w.hour.1,
        "mentions_last_day": w.day.0,
        "negative_last_day": w.day.1,
        "negative_share": w.negative_share(),
        "anomaly_score": w.anomaly_score(),
        "rules": w.rules.iter().map(|r| json!({
            "name": r.name,
            "kind": r.kind,
            "severity": r.severity,
            "window_secs": r.window_secs,
            "state": r.state.as_str(),
            "early_warning": r.early,
            "since": time_json(r.since),
            "resolved_at": time_json(r.resolved_at),
            "observed": r.observed,
            "expected": r.expected,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/watches`
pub(crate) async fn watches(State(api): State<Api>) -> Json<Value> {
    let snap = api.snapshot.borrow().clone();
    Json(json!({
        "at": time_json(snap.at),
        "watches": snap.watches.iter().map(watch_json).collect::<Vec<_>>(),
    }))
}

/// An alert event as the API gives it: its JSON (the contract, `summary`
/// in English included), its `id`, and `summary_local`: the same in
/// `locale`'s language, rendered from the event's fields, for people.
fn event_json(e: &AlertEvent, locale: &crate::i18n::Locale) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("id".into(), Value::String(e.idempotency_key()));
        o.insert(
            "summary_local".into(),
            Value::String(crate::notify::render::summary(e, locale)),
        );
    }
    v
}

/// `GET /api/alerts` parameters.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AlertsParams {
    watch: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/alerts?watch=&limit=`: the firing and pending rules (each with
/// its latest event since start-up, which explains it) and the recent
/// events, newest first.
pub(crate) async fn alerts(
    State(api): State<Api>,
    QueryParams(p): QueryParams<AlertsParams>,
) -> Json<Value> {
    let snap = api.snapshot.borrow().clone();
    let wanted = |w: &str| p.watch.as_deref().is_none_or(|x| x.is_empty() || x == w);
    let mut active = Vec::new();
    for w in snap.watches.iter().filter(|w| wanted(&w.name)) {
        for r in w.rules.iter().filter(|r| r.state != RuleState::Inactive) {
            let last = snap
                .recent
                .iter()
                .rev()
                .find(|e| e.watch == w.name && e.rule == r.name);
            active.push(json!({
                "watch": w.name,
                "rule": r.name,
                "kind": r.kind,
                "severity": if r.early { "warning" } else { r.severity.as_str() },
                "state": r.state.as_str(),
                "since": time_json(r.since),
                "event": last.map_or(Value::Null, |e| event_json(e, &api.locale)),
            }));
        }
    }
    let limit = p.limit.unwrap_or(50).min(RECENT_EVENTS);
    let recent: Vec<Value> = snap
        .recent
        .iter()
        .rev()
        .filter(|e| wanted(&e.watch))
        .take(limit)
        .map(|e| event_json(e, &api.locale))
        .collect();
    Json(json!({ "at": time_json(snap.at), "active": active, "recent": recent }))
}

/// `GET /api/stats` parameters.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct StatsParams {
    watch: Option<String>,
    since: Option<String>,
    until: Option<String>,
    step: Option<String>,
}

/// The bins of a series: `(start, step)` in unix seconds and the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bins {
    start: i64,
    step: i64,
    n: i64,
}

impl Bins {
    /// Bins of `step` (a whole number of minutes; automatic when `None`:
    /// about a hundred points) covering `[since, until]`, aligned on `step`.
    fn new(since: i64, until: i64, step: Option<i64>) -> Result<Bins, ApiError> {
        if until <= since {
            return Err(ApiError::bad("`since` must be before `until`"));
        }
        let step = match step {
            Some(s) if s < 60 || s % 60 != 0 => {
                return Err(ApiError::bad(
                    "`step` must be a whole number of minutes (5m, 1h)",
                ));
            }
            Some(s) => s,
            None => {
                const STEPS: [i64; 8] = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86_400];
                let span = until - since;
                STEPS
                    .into_iter()
                    .find(|s| span / s <= 150)
                    .unwrap_or(86_400)
            }
        };
        let start = since.div_euclid(step) * step;
        let n = (until - start).div_euclid(step) + 1;
        if n > MAX_POINTS {
            return Err(ApiError::bad(format!(
                "{n} points: at most {MAX_POINTS}; give a larger `step` or a shorter range"
            )));
        }
        Ok(Bins { start, step, n })
    }

    /// Totals and negatives per bin from minute buckets.
    fn fill(&self, buckets: &[(i64, u64, u64)]) -> Vec<(u64, u64)> {
        let mut out = vec![(0, 0); usize::try_from(self.n).unwrap_or(0)];
        for &(minute, total, neg) in buckets {
            let i = (minute * 60 - self.start).div_euclid(self.step);
            if let Some(b) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
                b.0 += total;
                b.1 += neg;
            }
        }
        out
    }
}

/// `GET /api/stats?watch=&since=&until=&step=`: mentions and negative
/// mentions per step, from the committed per-watch buckets (older than
/// three days they are hourly: a smaller step puts an hour in its first
/// bin).
pub(crate) async fn stats(
    State(api): State<Api>,
    QueryParams(p): QueryParams<StatsParams>,
) -> Result<Json<Value>, ApiError> {
    let now = Utc::now();
    let watch = p
        .watch
        .filter(|w| !w.is_empty())
        .ok_or_else(|| ApiError::bad("`watch` is required: GET /api/watches lists them"))?;
    if api.snapshot.borrow().watch(&watch).is_none() {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no watch named `{watch}`: GET /api/watches lists them"),
        ));
    }
    let since = opt_time("since", &p.since, now)?.unwrap_or(now - chrono::Duration::hours(24));
    let until = opt_time("until", &p.until, now)?.unwrap_or(now);
    let step = match p.step.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            crate::duration::parse_duration(s)
                .map_err(|e| ApiError::bad(format!("`step`: {e}")))?
                .as_secs() as i64,
        ),
    };
    let bins = Bins::new(since.timestamp(), until.timestamp(), step)?;
    let state = api.state.clone();
    let (w, from) = (watch.clone(), bins.start.div_euclid(60));
    let buckets = blocking(&api, move || {
        state
            .buckets()
            .of_watch(&w, from, i64::MAX)
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    })
    .await?;
    let points: Vec<Value> = bins
        .fill(&buckets)
        .into_iter()
        .enumerate()
        .map(|(i, (total, negative))| {
            let t = DateTime::from_timestamp(bins.start + i as i64 * bins.step, 0);
            json!({ "t": time_json(t), "total": total, "negative": negative })
        })
        .collect();
    Ok(Json(json!({
        "watch": watch,
        "since": time_json(DateTime::from_timestamp(bins.start, 0)),
        "until": until.to_rfc3339(),
        "step_secs": bins.step,
        "points": points,
    })))
}

/// `POST /-/reload` (admin): reloads the rule files as SIGHUP does. A
/// refused rule set answers 422 with its diagnostics; the rules in force
/// keep running.
pub(crate) async fn reload(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    let unavailable = || {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the pipeline is not taking reloads (starting or stopping): retry".into(),
        )
    };
    let (tx, rx) = oneshot::channel();
    api.reload
        .send(ReloadRequest { reply: tx })
        .await
        .map_err(|_| unavailable())?;
    match tokio::time::timeout(RELOAD_WAIT, rx).await {
        Ok(Ok(Ok(watches))) => Ok(Json(json!({ "ok": true, "watches": watches }))),
        Ok(Ok(Err(errors))) => Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "invalid rules, the previous ones keep running:\n{}",
                errors.join("\n")
            ),
        )),
        Ok(Err(_)) | Err(_) => Err(unavailable()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-03-30T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn times_are_rfc3339_or_a_duration_before_now() {
        assert_eq!(
            parse_time("since", "2026-03-01T08:00:00+01:00", now()).unwrap(),
            "2026-03-01T07:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse_time("since", "2d", now()).unwrap(),
            "2026-03-28T12:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let e = parse_time("until", "yesterday", now()).unwrap_err();
        assert_eq!(e.0, StatusCode::BAD_REQUEST);
        assert!(e.1.contains("`until`"), "{}", e.1);
    }

    #[test]
    fn bins_align_on_the_step_and_are_bounded() {
        let b = Bins::new(3_700, 7_300, Some(3600)).unwrap();
        assert_eq!(
            b,
            Bins {
                start: 3600,
                step: 3600,
                n: 2
            }
        );
        // minute 61 (3660 s) is in bin 0, minute 121 in bin 1, minute 200 beyond.
        assert_eq!(
            b.fill(&[(61, 2, 1), (121, 3, 0), (200, 9, 9)]),
            vec![(2, 1), (3, 0)]
        );
        let auto = Bins::new(0, 86_400, None).unwrap();
        assert_eq!(auto.step, 900);
        assert!(Bins::new(0, 86_400 * 30, Some(60)).is_err());
        assert!(Bins::new(0, 600, Some(90)).is_err());
        assert!(Bins::new(600, 600, None).is_err());
    }

    fn m(sentiment: Option<f32>, watches: &[&str]) -> Mention {
        Mention {
            id: "x".into(),
            source: "s".into(),
            url: String::new(),
            title: String::new(),
            text: String::new(),
            author: String::new(),
            author_followers: None,
            published: now(),
            lang: None,
            sentiment,
            watches: watches.iter().map(|w| w.to_string()).collect(),
        }
    }

    #[test]
    fn labels_follow_the_sentiment_thresholds() {
        assert_eq!(label(&m(Some(-0.5), &[])), Label::Neg);
        assert_eq!(label(&m(Some(-0.05), &[])), Label::Neg);
        assert_eq!(label(&m(Some(0.0), &[])), Label::Neu);
        assert_eq!(label(&m(None, &[])), Label::Neu);
        assert_eq!(label(&m(Some(0.3), &[])), Label::Pos);
    }

    #[test]
    fn plans_refuse_bad_parameters_with_what_to_fix() {
        let snap = Snapshot::default();
        let bad = |p: MentionsParams| Plan::new(&p, &snap, now()).unwrap_err();
        let e = bad(MentionsParams {
            q: Some("\"acme".into()),
            ..Default::default()
        });
        assert!(e.1.contains("column"), "{}", e.1);
        let e = bad(MentionsParams {
            watch: Some("nope".into()),
            ..Default::default()
        });
        assert_eq!(e.0, StatusCode::NOT_FOUND);
        let e = bad(MentionsParams {
            sentiment: Some("angry".into()),
            ..Default::default()
        });
        assert!(e.1.contains("neg, neu, pos"), "{}", e.1);
        let e = bad(MentionsParams {
            limit: Some(0),
            ..Default::default()
        });
        assert!(e.1.contains("limit"), "{}", e.1);
        let e = bad(MentionsParams {
            cursor: Some("garbage".into()),
            ..Default::default()
        });
        assert!(e.1.contains("previous page"), "{}", e.1);
        let all = Plan::new(&MentionsParams::default(), &snap, now()).unwrap();
        assert_eq!(all.query, Query::And(vec![]));
        assert!(all.keeps(&m(None, &[])));
        let neg = Plan::new(
            &MentionsParams {
                sentiment: Some("neg".into()),
                ..Default::default()
            },
            &snap,
            now(),
        )
        .unwrap();
        assert!(neg.keeps(&m(Some(-0.4), &[])));
        assert!(!neg.keeps(&m(Some(0.4), &[])));
    }

    #[test]
    fn the_snapshot_keeps_the_latest_events_only() {
        let mut s = Snapshot::default();
        s.push_events((0..RECENT_EVENTS + 5).map(|i| {
            let mut e = AlertEvent::example();
            e.observed = i as u64;
            e
        }));
        assert_eq!(s.recent.len(), RECENT_EVENTS);
        assert_eq!(s.recent.front().unwrap().observed, 5);
    }
}
