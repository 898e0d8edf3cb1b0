//! Operations: liveness, readiness and Prometheus metrics.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: the database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Prometheus metrics, for the configured addresses
/// (`PODRYAD_METRICS_ALLOW`, loopback by default) or a bearer token with the
/// `metrics` scope; anyone else gets 403.
async fn metrics(State(state): State<AppState>, req: Request) -> Response {
    let from = crate::auth::client_ip(&req, state.config.trust_forwarded_for);
    let token = crate::api::bearer(req.headers()).map(str::to_string);
    drop(req);
    if !metrics_allowed(&state, from.as_deref(), token.as_deref()).await {
        return crate::error::AppError::ForbiddenBecause("metrics.not_allowed").into_response();
    }
    match &state.metrics {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4",
            )],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are off").into_response(),
    }
}

async fn metrics_allowed(state: &AppState, from: Option<&str>, token: Option<&str>) -> bool {
    let from = from.and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
    if from.is_some_and(|ip| state.config.metrics_allow.contains(&ip)) {
        return true;
    }
    let Some(token) = token else {
        return false;
    };
    match domain::accounts::api_tokens::authenticate(&state.db, token).await {
        Ok(Some(grant)) => grant.allows(domain::accounts::api_tokens::Scope::Metrics),
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "metrics token check failed");
            false
        }
    }
}

/// Counts requests and their duration per route (the route pattern, not the
/// raw path, so ids do not explode the label set).
pub async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}
