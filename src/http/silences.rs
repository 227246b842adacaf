//! The silences and acknowledgements of the HTTP API: `GET /api/silences`
//! (read), `POST /api/silences`, `DELETE /api/silences/{id}` and
//! `POST /api/alerts/{id}/ack` (admin).
//!
//! Owns only the HTTP shapes: the rules (what a silence matches, what an
//! acknowledgement stops, the re-evaluation when a silence ends) live in
//! the state store's silences ([`crate::store::state::silences`]) and the
//! pipeline's alert log, which `veilleur silence` and `veilleur ack` use
//! too. The daemon holds the state store, so while it runs this API is the
//! way to write them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{Api, ApiError};
use crate::store::state::silences::{NewSilence, SilenceError};

/// The body of `POST /api/silences`: `ends_at` (RFC 3339) or `for` (a
/// duration such as `"6h"`), and the watch it silences.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SilenceRequest {
    watch: String,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    ends_at: Option<DateTime<Utc>>,
    #[serde(default, rename = "for")]
    duration: Option<String>,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    created_by: String,
}

/// The body of `POST /api/alerts/{id}/ack` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckRequest {
    #[serde(default)]
    by: String,
    #[serde(default)]
    comment: String,
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, m.into())
}

fn from_silence_error(e: SilenceError) -> ApiError {
    match e {
        SilenceError::Invalid(m) => bad(m),
        e @ SilenceError::NotFound { .. } => ApiError(StatusCode::NOT_FOUND, e.to_string()),
        e @ SilenceError::State(_) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Runs a state store call on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the state store call failed: {e}"),
        )
    })?
}

/// `GET /api/silences`: every silence, newest first, with its status
/// (`pending`, `active`, `expired`) now.
pub(crate) async fn list(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    let state = api.state.clone();
    let now = Utc::now();
    let mut all = blocking(move || {
        state
            .silences()
            .list()
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    })
    .await?;
    all.sort_by_key(|s| std::cmp::Reverse(s.id));
    let silences: Vec<Value> = all
        .into_iter()
        .map(|s| {
            let status = s.status(now);
            let mut v = serde_json::to_value(&s).unwrap_or(Value::Null);
            if let Value::Object(o) = &mut v {
                o.insert("status".into(), json!(status));
            }
            v
        })
        .collect();
    Ok(Json(json!({ "silences": silences })))
}

/// `POST /api/silences` (admin): creates a silence of a configured watch
/// (and rule); 201 with the silence.
pub(crate) async fn add(
    State(api): State<Api>,
    body: Result<Json<SilenceRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(req) = body.map_err(|e| bad(format!("the body is not a silence: {e}")))?;
    let now = Utc::now();
    let ends_at = match (req.ends_at, &req.duration) {
        (Some(t), None) => t,
        (None, Some(d)) => {
            let d = crate::duration::parse_duration(d).map_err(|e| bad(format!("`for`: {e}")))?;
            let d = chrono::Duration::from_std(d).map_err(|_| bad("`for` is too long"))?;
            req.starts_at
                .unwrap_or(now)
                .checked_add_signed(d)
                .ok_or_else(|| bad("`for` is too long"))?
        }
        _ => {
            return Err(bad(
                "give either `ends_at` (RFC 3339) or `for` (such as \"6h\")",
            ));
        }
    };
    // Only watches in force: a typo would silence nothing, silently.
    {
        let snap = api.snapshot.borrow();
        if snap.at.is_none() {
            return Err(ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "the daemon is starting (the rules in force are not published yet): retry".into(),
            ));
        }
        let Some(w) = snap.watches.iter().find(|w| w.name == req.watch) else {
            return Err(bad(format!(
                "no watch `{}` in the rules in force",
                req.watch
            )));
        };
        if let Some(rule) = &req.rule
            && !w.rules.iter().any(|r| &r.name == rule)
        {
            return Err(bad(format!(
                "watch `{}` has no alert rule `{rule}`",
                req.watch
            )));
        }
    }
    let new = NewSilence {
        watch: req.watch,
        rule: req.rule,
        starts_at: req.starts_at,
        ends_at,
        comment: req.comment,
        created_by: req.created_by,
    };
    let state = api.state.clone();
    let s = blocking(move || state.silences().add(new, now).map_err(from_silence_error)).await?;
    let status = s.status(now);
    let mut v = serde_json::to_value(&s).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("status".into(), json!(status));
    }
    Ok((StatusCode::CREATED, Json(v)))
}

/// `DELETE /api/silences/{id}` (admin): ends the silence now; a still
/// firing alert it held is then sent once.
pub(crate) async fn expire(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: u64 = id
        .parse()
        .map_err(|_| bad(format!("`{id}` is not a silence id (a number)")))?;
    let state = api.state.clone();
    let now = Utc::now();
    let s = blocking(move || state.silences().expire(id, now).map_err(from_silence_error)).await?;
    Ok(Json(
        json!({ "id": s.id, "status": s.status(now), "ends_at": s.ends_at }),
    ))
}

/// `POST /api/alerts/{id}/ack` (admin): the alert's repeats are no longer
/// notified until it resolves. `id` is an alert id or `watch/rule` (then
/// URL-encoded: `acme%2Fspike`).
pub(crate) async fn ack(
    State(api): State<Api>,
    Path(id): Path<String>,
    body: Option<Json<AckRequest>>,
) -> Result<Json<Value>, ApiError> {
    let req = body.map(|Json(b)| b).unwrap_or_default();
    let state = api.state.clone();
    let now = Utc::now();
    let ack = blocking(move || {
        state
            .silences()
            .ack(&id, &req.by, &req.comment, now)
            .map_err(from_silence_error)
    })
    .await?;
    Ok(Json(serde_json::to_value(&ack).unwrap_or(Value::Null)))
}
