//! The JSON API for integrations and tools, authenticated by a bearer token
//! (`podryad token create`), and the public request endpoint the website
//! (or any site) posts to without one. Errors are JSON
//! `{"error": code, "fields": […]}` with a 4xx status the caller can act on.
//! The API is described by the OpenAPI document at `/api/openapi.json`.

use axum::body::to_bytes;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::accounts::api_tokens::Scope;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::auth::RequestInfo;
use crate::error::{AppError, AppResult};
use crate::openapi::PUBLIC_BODY_LIMIT;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/public/requests",
            post(public_request).options(preflight),
        )
        .route("/api/public/request-types", get(request_types))
        .route("/api/addresses/suggest", get(address_suggestions))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/workflows/{key}/start", post(start))
        .route("/api/v1/instances/{id}", get(instance))
        .route("/api/v1/instances/{id}/events", post(event))
}

/// A valid `Authorization: Bearer` token, limited to its scopes. Each
/// endpoint asks for its scope with [`ApiToken::require`]; without it the
/// answer is 403 `token.scope`.
pub struct ApiToken(pub domain::accounts::api_tokens::TokenGrant);

impl ApiToken {
    pub fn require(&self, scope: Scope) -> AppResult<()> {
        if self.0.allows(scope) {
            Ok(())
        } else {
            Err(AppError::ForbiddenBecause("token.scope"))
        }
    }
}

/// The bearer token of a request, if it carries one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

impl FromRequestParts<AppState> for ApiToken {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or(AppError::Unauthorized)?;
        match domain::accounts::api_tokens::authenticate(&state.db, token).await? {
            Some(grant) => Ok(ApiToken(grant)),
            None => Err(AppError::Unauthorized),
        }
    }
}

#[derive(Debug, Deserialize)]
struct SuggestQuery {
    #[serde(default)]
    q: String,
}

/// `GET /api/addresses/suggest?q=…`: addresses that begin like `q`, for
/// the address fields of every request form. Signed-in people ask freely;
/// the public form's visitors are counted per address (429 `rate_limited`
/// with `Retry-After` over the limit). A geocoder that is missing or fails
/// answers an empty list: the person types the address in full.
async fn address_suggestions(
    State(state): State<AppState>,
    info: RequestInfo,
    axum::extract::Query(query): axum::extract::Query<SuggestQuery>,
) -> AppResult<Response> {
    let s = &state.services;
    if info.actor.is_none() {
        domain::intake::addresses::admit_public_suggest(s, info.ip.as_deref()).await?;
    }
    let found = domain::intake::addresses::suggest(s, &query.q).await;
    let list: Vec<Value> = found
        .into_iter()
        .map(|a| {
            json!({
                "value": a.value,
                "lat": a.lat,
                "lon": a.lon,
                "precision": a.precision,
                "region": a.region,
            })
        })
        .collect();
    let mut resp = Json(json!({ "suggestions": list })).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    Ok(resp)
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
    api: ApiToken,
    Path(key): Path<String>,
    body: Result<Json<StartBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Response> {
    // Refused before the body is read; the domain checks the scope again.
    api.require(Scope::WorkflowsStart)?;
    let Json(body) = body.map_err(|_| AppError::BadRequest("json.invalid"))?;
    let started = domain::workflows::start(
        &state.services,
        &api.0,
        &key,
        body.object_kind,
        body.object_id,
        body.data,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(started))).into_response())
}

async fn instance(
    State(state): State<AppState>,
    api: ApiToken,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    api.require(Scope::InstancesRead)?;
    let i = domain::workflows::instance(&state.services, &api.0, id).await?;
    Ok(Json(json!(i)).into_response())
}

#[derive(Debug, Deserialize)]
struct EventBody {
    name: String,
    #[serde(default)]
    payload: Value,
}

/// Emits an event to an instance — only one its workflow lists under
/// `external:` (see [`domain::workflows::emit_external`]).
async fn event(
    State(state): State<AppState>,
    api: ApiToken,
    Path(id): Path<i64>,
    body: Result<Json<EventBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Response> {
    api.require(Scope::EventsEmit)?;
    let Json(body) = body.map_err(|_| AppError::BadRequest("json.invalid"))?;
    let report =
        domain::workflows::emit_external(&state.services, &api.0, id, &body.name, body.payload)
            .await?;
    Ok(Json(json!(report)).into_response())
}

/// A JSON error answer that carries more than [`AppError`] has.
fn json_error(status: StatusCode, code: &str, detail: Option<String>) -> Response {
    let mut body = json!({"error": code, "fields": []});
    if let Some(d) = detail {
        body["detail"] = Value::String(d);
    }
    (status, Json(body)).into_response()
}

/// Any site may call the public endpoints from a browser: they take no
/// cookies and answer nothing private.
fn open_to_all_sites(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

async fn preflight() -> Response {
    let mut resp = open_to_all_sites(StatusCode::NO_CONTENT.into_response());
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    resp
}

/// `POST /api/public/requests`: a website visitor's request as JSON. In
/// order: the body's size, the address's rate limit, the content type, the
/// JSON itself, then the domain's checks (honeypot, captcha, every field);
/// only a 201 stores anything.
async fn public_request(
    State(state): State<AppState>,
    info: RequestInfo,
    req: Request,
) -> Response {
    let resp = match public_request_inner(&state, &info, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    open_to_all_sites(resp)
}

async fn public_request_inner(
    state: &AppState,
    info: &RequestInfo,
    req: Request,
) -> AppResult<Response> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > PUBLIC_BODY_LIMIT) {
        return Ok(json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body.too_large",
            None,
        ));
    }
    let s = &state.services;
    // An integration with a `requests:create` token files requests for many
    // visitors from one address: the per-address limit is not for it.
    let integration = match bearer(req.headers()) {
        Some(token) => domain::accounts::api_tokens::authenticate(&state.db, token)
            .await?
            .is_some_and(|g| g.allows(Scope::RequestsCreate)),
        None => false,
    };
    if !integration {
        domain::intake::admit_public(s, info.ip.as_deref(), state.config.public_rate_limit).await?;
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !is_json {
        return Ok(json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type.unsupported",
            None,
        ));
    }
    let Ok(bytes) = to_bytes(req.into_body(), PUBLIC_BODY_LIMIT).await else {
        return Ok(json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body.too_large",
            None,
        ));
    };
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return Ok(json_error(
                StatusCode::BAD_REQUEST,
                "json.invalid",
                Some(e.to_string()),
            ));
        }
    };
    let sub =
        domain::intake::submission_from_json(&s.request_types, &body).map_err(AppError::Invalid)?;
    let created = domain::intake::submit_public_within(
        s,
        state.captcha.as_ref(),
        info.ip.as_deref(),
        sub,
        Vec::new(),
        state.config.duplicate_window,
    )
    .await?;
    let message = state.texts.get(
        "public-request-received",
        &[(
            "number",
            fluent_bundle::FluentValue::from(created.number.as_str()),
        )],
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({"number": created.number, "status": "new", "message": message})),
    )
        .into_response())
}

/// `GET /api/public/request-types`: the types and their fields, for sites
/// that build their own form.
async fn request_types(State(state): State<AppState>) -> Response {
    let types: Vec<Value> = state
        .services
        .request_types
        .0
        .iter()
        .map(|t| {
            json!({
                "code": t.code,
                "title": t.title,
                "duration": t.duration,
                "site": t.site,
                "fields": t.fields,
                "categories": t.categories.iter().map(|c| json!({
                    "code": c,
                    "title": state.services.equipment.category(c).map(|x| x.title.clone()),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    open_to_all_sites(Json(types).into_response())
}

/// `GET /api/openapi.json`: the API's description, following the request
/// types of this server.
async fn openapi(State(state): State<AppState>) -> Response {
    let s = &state.services;
    let doc = crate::openapi::document(
        &s.request_types,
        &s.equipment,
        &state.config.base_url,
        state.config.public_rate_limit,
    );
    open_to_all_sites(Json(doc).into_response())
}
