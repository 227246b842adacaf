//! `GET /watch/{name}/chart.png?alert=KEY` or `?since=T&until=T` (read
//! access): the PNG chart of a watch that alert emails embed and chat
//! messages link to, drawn by the same code
//! ([`crate::notify::chart::watch_png`]). With `alert` (an alert event's
//! idempotency key, as the messages give it) the chart ends at that event
//! with its window shaded and the usual level; with `since` and `until`
//! (RFC 3339, as digests link to it) it covers that period, the period
//! before giving the usual level
//! ([`crate::notify::chart::watch_period_png`]); without, it ends now.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::api::{Api, ApiError};

#[derive(Debug, Deserialize)]
pub(crate) struct ChartParams {
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
}

/// Longest period a chart covers: a year of bars is still a small image,
/// and a longer one would read years of buckets for one request.
const MAX_PERIOD_SECS: i64 = 366 * 86_400;

/// `since` and `until` as Unix seconds, when both are given.
fn period(p: &ChartParams) -> Result<Option<(i64, i64)>, ApiError> {
    let parse = |k: &str, v: &str| {
        DateTime::parse_from_rfc3339(v)
            .map(|t| t.timestamp())
            .map_err(|e| {
                ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("`{k}` `{v}`: {e} (expected RFC 3339, e.g. 2026-03-02T08:30:00Z)"),
                )
            })
    };
    match (&p.since, &p.until) {
        (None, None) => Ok(None),
        (Some(s), Some(u)) => {
            let (s, u) = (parse("since", s)?, parse("until", u)?);
            if u <= s || u - s > MAX_PERIOD_SECS {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    "`since` must be before `until`, at most 366 days apart".into(),
                ));
            }
            Ok(Some((s, u)))
        }
        _ => Err(ApiError(
            StatusCode::BAD_REQUEST,
            "give both `since` and `until`, or neither".into(),
        )),
    }
}

/// The event an alert key names: `watch/rule/state/millis[/stage]`, found
/// in the alert history at that instant.
fn event_of(
    state: &crate::store::state::StateStore,
    watch: &str,
    key: &str,
) -> Option<crate::alert::AlertEvent> {
    let millis: i64 = key.split('/').nth(3)?.parse().ok()?;
    let at = DateTime::<Utc>::from_timestamp_millis(millis)?;
    // `[at, at + 1 ms)`: the event's own instant (an empty range would
    // never find it).
    let to = at + chrono::Duration::milliseconds(1);
    let entries = state.silences().events_between(at, to).ok()?;
    entries
        .into_iter()
        .map(|e| e.event)
        .find(|ev| ev.watch == watch && ev.idempotency_key() == key)
}

pub(crate) async fn chart_png(
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(p): Query<ChartParams>,
) -> Result<Response, ApiError> {
    let known = api.snapshot.borrow().watches.iter().any(|w| w.name == name);
    if !known {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no watch `{name}` in the rules in force"),
        ));
    }
    let period = period(&p)?;
    let state = api.state.clone();
    let png = tokio::task::spawn_blocking(move || {
        if let Some((since, until)) = period {
            return crate::notify::chart::watch_period_png(&state, &name, since, until);
        }
        let ev = p.alert.as_deref().and_then(|k| event_of(&state, &name, k));
        let (end, window, expected) = match &ev {
            Some(ev) => (
                ev.at.timestamp(),
                i64::try_from(ev.window_secs).unwrap_or(0),
                crate::notify::render::factor(ev).map(|_| ev.expected),
            ),
            None => (Utc::now().timestamp(), 0, None),
        };
        crate::notify::chart::watch_png(&state, &name, end, window, expected)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=60"),
        ],
        png,
    )
        .into_response())
}
