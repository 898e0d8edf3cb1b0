//! The client's side (see `domain::deals::offers`): our offers in the cabinet, and
//! the link from the e-mail that opens one without a password. Accept, or
//! decline with a reason. Nothing here names the supplier or its price.
//!
//! Any signed-in user may call these handlers: the domain answers "not found"
//! to anyone but a client's people, so another party's id is a plain 404.
//!
//! An accept refused because the machine was booked meanwhile by another
//! client shows the offer again with the refusal (409, `machine.booked`).

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::deals::bookings::MACHINE_BOOKED;
use domain::deals::offers::{self, Decision};
use domain::error::DomainError;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{AnyUser, Auth, RequestInfo};
use crate::error::{AppError, AppResult};
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
            context! { o => ser(offer), action, errors, reason, refused => status == StatusCode::CONFLICT },
        )?,
    )
        .into_response())
}

/// An accept refused because the machine was booked meanwhile: the offer
/// page again, saying so (409); a JSON caller gets `machine.booked`.
fn machine_booked(
    state: &AppState,
    info: &RequestInfo,
    headers: &HeaderMap,
    offer: Option<&offers::ClientOffer>,
    action: &str,
) -> AppResult<Response> {
    let json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"));
    match offer {
        Some(o) if !json => offer_page(
            state,
            info,
            o,
            action,
            Value::UNDEFINED,
            "",
            StatusCode::CONFLICT,
        ),
        _ => Err(AppError::Conflict(MACHINE_BOOKED)),
    }
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
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    match offers::answer(&state.services, &auth.actor, id, Decision::Accept, "").await {
        Ok(()) => Ok(redirect_with_flash(
            &format!("/offers/{id}"),
            "flash-offer-accepted",
            state.config.secure_cookies,
        )),
        Err(DomainError::Conflict(MACHINE_BOOKED)) => {
            let o = offers::for_client(&state.services, &auth.actor, id).await?;
            machine_booked(
                &state,
                &auth.info,
                &headers,
                Some(&o),
                &format!("/offers/{id}"),
            )
        }
        Err(e) => Err(e.into()),
    }
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
    headers: HeaderMap,
    Path(token): Path<String>,
) -> AppResult<Response> {
    match offers::answer_by_token(&state.services, &token, Decision::Accept, "").await {
        Ok(_) => decided(&state, &info, "q-offer-accepted-thanks").await,
        Err(DomainError::NotFound) => gone(&state, &info),
        Err(DomainError::Conflict(MACHINE_BOOKED)) => {
            // The refused accept left the link valid.
            let o = offers::by_token(&state.services, &token).await.ok();
            machine_booked(
                &state,
                &info,
                &headers,
                o.as_ref(),
                &format!("/offers/t/{token}"),
            )
        }
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
