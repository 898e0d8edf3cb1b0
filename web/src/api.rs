//! The JSON API for integrations and tools, authenticated by a bearer token
//! (`podryad token create`). Errors are JSON `{"error": code, "fields": […]}`
//! with a 4xx status the caller can act on.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::access::Actor;
use engine::ObjectRef;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{AppError, AppResult};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workflows/{key}/start", post(start))
        .route("/api/v1/instances/{id}", get(instance))
        .route("/api/v1/instances/{id}/events", post(event))
}

/// The system actor behind a valid `Authorization: Bearer` token.
pub struct ApiActor(pub Actor);

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(AppError::Unauthorized)?;
        match domain::api_tokens::authenticate(&state.db, token.trim()).await? {
            Some(actor) => Ok(ApiActor(actor)),
            None => Err(AppError::Unauthorized),
        }
    }
}

#[derive(Debug, Deserialize)]
struct StartBody {
    object_kind: Option<String>,
    object_id: i64,
    #[serde(default)]
    data: Map<String, Value>,
}

async fn start(
    State(state): State<AppState>,
    _api: ApiActor,
    Path(key): Path<String>,
    body: Result<Json<StartBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Response> {
    let Json(body) = body.map_err(|_| AppError::BadRequest("json.invalid"))?;
    let engine = &state.services.engine;
    let kind = match body.object_kind {
        Some(k) => k,
        None => {
            // The definition names its object kind.
            let versions = engine.list_versions(&key).await?;
            versions
                .into_iter()
                .find(|v| v.status == "active")
                .map(|v| v.object_kind)
                .ok_or(AppError::NotFound)?
        }
    };
    let started = engine
        .start(
            &key,
            ObjectRef {
                kind,
                id: body.object_id,
            },
            body.data,
            None,
        )
        .await
        .map_err(|e| match e {
            engine::EngineError::NoActiveDefinition(_) => AppError::NotFound,
            engine::EngineError::Step(
                engine::StepError::BadData { .. } | engine::StepError::UnknownField(_),
            ) => AppError::BadRequest("workflow.bad_data"),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(json!(started))).into_response())
}

async fn instance(
    State(state): State<AppState>,
    _api: ApiActor,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let i = state
        .services
        .engine
        .instance(id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(json!(i)).into_response())
}

#[derive(Debug, Deserialize)]
struct EventBody {
    name: String,
    #[serde(default)]
    payload: Value,
}

async fn event(
    State(state): State<AppState>,
    _api: ApiActor,
    Path(id): Path<i64>,
    body: Result<Json<EventBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Response> {
    let Json(body) = body.map_err(|_| AppError::BadRequest("json.invalid"))?;
    let report = state
        .services
        .engine
        .emit(id, &body.name, body.payload, None)
        .await?;
    Ok(Json(json!(report)).into_response())
}
