//! The manager's side of quoting (see `domain::deals::quotes`, `domain::deals::offers`):
//! the comparison of every supplier quote of a request with the suggested
//! best and why, and our offer to the client built on the chosen one (with
//! the price recomputed on the server before sending, margin shown to staff).

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::deals::offers::{self, OfferInput};
use domain::error::DomainError;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Auth, FrontOffice};
use crate::error::{AppError, AppResult};
use crate::forms::error_map;
use crate::layout::redirect_with_flash;
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests/{id}/quotes", get(compare))
        .route("/requests/{id}/offer", get(offer_form).post(offer_post))
}

async fn compare(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let s = &state.services;
    let request = domain::deals::matching::staff_request(s, &auth.actor, id).await?;
    let comparison = domain::deals::quotes::compare(s, &auth.actor, id).await?;
    let rfqs = domain::deals::rfq::for_request(s, &auth.actor, id).await?;
    let offers = offers::for_request(s, &auth.actor, id).await?;
    let approval = offers::latest_approval(s, &auth.actor, id).await?;
    let min_margin_bp = offers::min_margin_of(s, &request.request_type).await?;
    let t = s.request_types.get(&request.request_type);
    Ok(state
        .page(
            &auth.info,
            "quotes/compare.html",
            context! {
                r => ser(&request), c => ser(&comparison), rfqs => ser(&rfqs), offers => ser(&offers),
                approval => ser(&approval), min_margin_bp,
                type_title => t.map(|t| t.title.clone()),
                can_offer => request.status == "quote_review",
            },
        )?
        .into_response())
}

/// The quotes the offer is built on: `?quote=…`, repeated when several
/// quotes make one offer.
fn quote_ids(query: &[(String, String)]) -> Result<Vec<i64>, AppError> {
    let ids: Vec<i64> = query
        .iter()
        .filter(|(k, _)| k == "quote")
        .map(|(_, v)| v.trim().parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| AppError::BadRequest("form"))?;
    if ids.is_empty() {
        return Err(AppError::BadRequest("form"));
    }
    Ok(ids)
}

/// The offer form; `blocked` names why sending was refused (shown next to
/// the send button, the form kept as typed).
fn offer_page(
    state: &AppState,
    auth: &Auth<FrontOffice>,
    draft: &offers::Draft,
    errors: Value,
    blocked: Option<&str>,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            &auth.info,
            "quotes/offer.html",
            context! {
                d => ser(draft), input => ser(&draft.input), errors, blocked,
                methods => ser(&domain::deals::quotes::PAYMENT_METHODS),
            },
        )?,
    )
        .into_response())
}

async fn offer_form(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
    Query(q): Query<Vec<(String, String)>>,
) -> AppResult<Response> {
    let ids = quote_ids(&q)?;
    let draft = offers::draft(&state.services, &auth.actor, id, None, &ids).await?;
    offer_page(
        &state,
        &auth,
        &draft,
        Value::UNDEFINED,
        None,
        StatusCode::OK,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OfferForm {
    #[serde(flatten)]
    input: OfferInput,
    /// Present when the manager asked to recompute, not to send.
    preview: Option<String>,
}

async fn offer_post(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
    Form(f): Form<OfferForm>,
) -> AppResult<Response> {
    let s = &state.services;
    let quote_ids = offers::quote_ids(&f.input).map_err(|_| AppError::BadRequest("form"))?;
    if f.preview.is_some() {
        let draft = offers::draft(s, &auth.actor, id, Some(&f.input), &quote_ids).await?;
        return offer_page(
            &state,
            &auth,
            &draft,
            Value::UNDEFINED,
            None,
            StatusCode::OK,
        );
    }
    match offers::send(s, &auth.actor, id, &f.input).await {
        Ok(sent) if sent.approval_id.is_some() => Ok(redirect_with_flash(
            &format!("/requests/{id}/quotes"),
            "flash-offer-held",
            state.config.secure_cookies,
        )),
        Ok(_) => Ok(redirect_with_flash(
            &format!("/requests/{id}/quotes"),
            "flash-offer-sent",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => {
            let draft = offers::draft(s, &auth.actor, id, Some(&f.input), &quote_ids).await?;
            offer_page(
                &state,
                &auth,
                &draft,
                ser(&error_map(&e)),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        // Refusals the manager can act on are said next to the button,
        // with what they typed kept.
        Err(DomainError::Conflict(
            code @ ("request.client_unconfirmed" | "offer.no_verified_contact"),
        )) => {
            let draft = offers::draft(s, &auth.actor, id, Some(&f.input), &quote_ids).await?;
            offer_page(
                &state,
                &auth,
                &draft,
                Value::UNDEFINED,
                Some(code),
                StatusCode::CONFLICT,
            )
        }
        Err(e) => Err(e.into()),
    }
}
