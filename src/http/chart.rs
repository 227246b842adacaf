//! `GET /watch/{name}/chart.png?alert=KEY` (read access): the PNG chart of
//! a watch that alert emails embed and chat messages link to, drawn by the
//! same code ([`crate::notify::chart::watch_png`]). With `alert` (an alert
//! event's idempotency key, as the messages give it) the chart ends at that
//! event with its window shaded and the usual level; without, it ends now.

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
    let state = api.state.clone();
    let png = tokio::task::spawn_blocking(move || {
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
