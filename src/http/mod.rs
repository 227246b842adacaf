//! The daemon's HTTP endpoint: the router. `/metrics` (Prometheus text
//! exposition or OpenMetrics by `Accept`) and `/healthz` here; the JSON API
//! in [`api`], who may call it in [`auth`], the web page in [`web`].
//!
//! Serves what the daemon already holds; it never drives the pipeline
//! (a reload is a request the pipeline loop answers).

pub(crate) mod api;
pub(crate) mod auth;
pub(crate) mod chart;
pub(crate) mod silences;
pub(crate) mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{ConnectInfo, FromRef, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::telemetry::Metrics;
use auth::{Access, Auth, Refusal};

/// What the handlers read.
#[derive(Clone)]
pub(crate) struct HttpState {
    pub metrics: Arc<Metrics>,
    /// False until start-up has finished and after shutdown began.
    pub ready: Arc<AtomicBool>,
    /// The API's view of the index, the state and the pipeline.
    pub api: api::Api,
    /// Who may call the API.
    pub auth: Arc<Auth>,
}

impl FromRef<HttpState> for api::Api {
    fn from_ref(s: &HttpState) -> api::Api {
        s.api.clone()
    }
}

/// OpenMetrics when the client asks for it (Prometheus does), else the
/// Prometheus text format 0.0.4 (`curl`, `promtool check metrics`).
async fn metrics(State(s): State<HttpState>, headers: HeaderMap) -> impl IntoResponse {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    if openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            s.metrics.encode(),
        )
    } else {
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            s.metrics.encode_text(),
        )
    }
}

async fn healthz(State(s): State<HttpState>) -> impl IntoResponse {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting or stopping\n")
    }
}

/// Refuses the request unless its client may do what `need` asks.
async fn guard(
    s: &HttpState,
    peer: SocketAddr,
    req: Request,
    next: Next,
    need: Access,
) -> Response {
    match s.auth.check(peer.ip(), req.headers(), need) {
        Ok(_) => {
            let mut r = next.run(req).await;
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(Refusal::Unauthorized) => {
            let mut r = api::ApiError(
                StatusCode::UNAUTHORIZED,
                "a bearer token is required: send `Authorization: Bearer <token>` (api.token_env or api.token_file)".into(),
            )
            .into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"veilleur\""),
            );
            r
        }
        Err(Refusal::Forbidden) => api::ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "this token may not do that: it needs the {} token (api.admin_token_env or api.admin_token_file)",
                need.as_str()
            ),
        )
        .into_response(),
    }
}

async fn require_read(
    State(s): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    guard(&s, peer, req, next, Access::Read).await
}

async fn require_admin(
    State(s): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    guard(&s, peer, req, next, Access::Admin).await
}

/// `GET /api/whoami`: what the caller's token (or address) allows; the page
/// shows the admin buttons from it.
async fn whoami(
    State(s): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let access = s.auth.access(peer.ip(), &headers).map(Access::as_str);
    axum::Json(serde_json::json!({ "access": access })).into_response()
}

/// The router, for tests and for [`bind`]. Needs the peer address
/// (`into_make_service_with_connect_info`).
pub(crate) fn router(state: HttpState) -> Router {
    let read = Router::new()
        .route("/api/mentions", get(api::mentions))
        .route("/api/watches", get(api::watches))
        .route("/api/alerts", get(api::alerts))
        .route("/api/stats", get(api::stats))
        .route("/api/silences", get(silences::list))
        .route("/watch/{name}/chart.png", get(chart::chart_png))
        .route_layer(from_fn_with_state(state.clone(), require_read));
    let admin = Router::new()
        .route("/-/reload", post(api::reload))
        .route("/api/silences", post(silences::add))
        .route("/api/silences/{id}", delete(silences::expire))
        .route("/api/alerts/{id}/ack", post(silences::ack))
        .route_layer(from_fn_with_state(state.clone(), require_admin));
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/api/whoami", get(whoami))
        .merge(read)
        .merge(admin)
        .merge(web::routes())
        .with_state(state)
}

/// Binds `addr` (port 0 picks a free port) and returns the bound address and
/// the server future, which ends when `shutdown` is cancelled.
pub(crate) async fn bind(
    addr: SocketAddr,
    state: HttpState,
    shutdown: CancellationToken,
) -> std::io::Result<(
    SocketAddr,
    impl std::future::Future<Output = std::io::Result<()>>,
)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let fut = async move {
        axum::serve(
            listener,
            router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    };
    Ok((local, fut))
}
