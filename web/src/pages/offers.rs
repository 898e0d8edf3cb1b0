//! The client's side (see `domain::deals::offers`): our offers in the cabinet, and
//! the link from the e-mail that opens one without a password. Accept, or
//! decline with a reason. Nothing here names the supplier or its price.
//!
//! Any signed-in user may call these handlers: the domain answers "not found"
//! to anyone but a client's people, so another party's id is a plain 404.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::deals::offers::{self, Decision};
use domain::error::DomainError;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{AnyUser, Auth, RequestInfo};
use crate::error::AppResult;
use crate::forms::error_map;
use crate::layout::redirect_with_flash;
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/offers", get(list))
        .route("/offers/{id}", get(show))
        .route("/offers/{id}/accept", post(accept))
        .route("/offers/{id}/decline", post(decline))
        .route("/offers/t/{token}", get(by_token))
        .route("/offers/t/{token}/accept", post(accept_by_token))
        .route("/offers/t/{token}/decline", post(decline_by_token))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReasonForm {
    reason: String,
}

async fn list(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    let offers = offers::list_for_client(&state.services, &auth.actor).await?;
    Ok(state
        .page(
            &auth.info,
            "offers/list.html",
            context! { offers => ser(&offers) },
        )?
        .into_response())
}

fn offer_page(
    state: &AppState,
    info: &RequestInfo,
    offer: &offers::ClientOffer,
    action: &str,
    // The decline refused: why, and the reason as typed.
    errors: Value,
    reason: &str,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            info,
            "offers/show.html",
            context! { o => ser(offer), action, errors, reason },
        )?,
    )
        .into_response())
}

async fn show(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let o = offers::for_client(&state.services, &auth.actor, id).await?;
    offer_page(
        &state,
        &auth.info,
        &o,
        &format!("/offers/{id}"),
        Value::UNDEFINED,
        "",
        StatusCode::OK,
    )
}

async fn accept(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    offers::answer(&state.services, &auth.actor, id, Decision::Accept, "").await?;
    Ok(redirect_with_flash(
        &format!("/offers/{id}"),
        "flash-offer-accepted",
        state.config.secure_cookies,
    ))
}

async fn decline(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
    Form(f): Form<ReasonForm>,
) -> AppResult<Response> {
    match offers::answer(
        &state.services,
        &auth.actor,
        id,
        Decision::Decline,
        &f.reason,
    )
    .await
    {
        Ok(()) => Ok(redirect_with_flash(
            &format!("/offers/{id}"),
            "flash-offer-declined",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => {
            let o = offers::for_client(&state.services, &auth.actor, id).await?;
            offer_page(
                &state,
                &auth.info,
                &o,
                &format!("/offers/{id}"),
                ser(&error_map(&e)),
                &f.reason,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// The e-mailed link: valid, the offer; spent or expired, "gone".
async fn by_token(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(token): Path<String>,
) -> AppResult<Response> {
    match offers::by_token(&state.services, &token).await {
        Ok(o) => offer_page(
            &state,
            &info,
            &o,
            &format!("/offers/t/{token}"),
            Value::UNDEFINED,
            "",
            StatusCode::OK,
        ),
        Err(DomainError::NotFound) => gone(&state, &info),
        Err(e) => Err(e.into()),
    }
}

fn gone(state: &AppState, info: &RequestInfo) -> AppResult<Response> {
    Ok((
        StatusCode::GONE,
        state.page(info, "offers/gone.html", context! {})?,
    )
        .into_response())
}

async fn decided(state: &AppState, info: &RequestInfo, key: &str) -> AppResult<Response> {
    Ok(state
        .page(info, "offers/decided.html", context! { key })?
        .into_response())
}

async fn accept_by_token(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(token): Path<String>,
) -> AppResult<Response> {
    match offers::answer_by_token(&state.services, &token, Decision::Accept, "").await {
        Ok(_) => decided(&state, &info, "q-offer-accepted-thanks").await,
        Err(DomainError::NotFound) => gone(&state, &info),
        Err(e) => Err(e.into()),
    }
}

async fn decline_by_token(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(token): Path<String>,
    Form(f): Form<ReasonForm>,
) -> AppResult<Response> {
    match offers::answer_by_token(&state.services, &token, Decision::Decline, &f.reason).await {
        Ok(_) => decided(&state, &info, "q-offer-declined-thanks").await,
        Err(DomainError::Invalid(e)) => match offers::by_token(&state.services, &token).await {
            Ok(o) => offer_page(
                &state,
                &info,
                &o,
                &format!("/offers/t/{token}"),
                ser(&error_map(&e)),
                &f.reason,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            Err(_) => gone(&state, &info),
        },
        Err(DomainError::NotFound) => gone(&state, &info),
        Err(e) => Err(e.into()),
    }
}
