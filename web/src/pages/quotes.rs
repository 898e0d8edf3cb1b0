//! The manager's side of quoting (see `domain::deals::quotes`, `domain::deals::offers`):
//! the comparison of every supplier quote of a request with the suggested
//! best and why, and our offer to the client built on the chosen one (with
//! the price recomputed on the server before sending, margin shown to staff).

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
        .route("/requests/{id}/rfq/close", post(rfq_close))
        .route("/requests/{id}/rfq/remind", post(rfq_remind))
        .route("/requests/{id}/rfq/extend", post(rfq_extend))
        .route("/requests/{id}/offer", get(offer_form).post(offer_post))
}

async fn compare(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    render_compare(&state, &auth, id, Control::default(), StatusCode::OK).await
}

/// What the RFQ controls say after a refused action: why (a conflict code)
/// or which field is wrong, and the deadline as typed.
#[derive(Debug, Default)]
struct Control {
    refused: Option<&'static str>,
    errors: Option<std::collections::BTreeMap<String, String>>,
    deadline: Option<String>,
}

async fn render_compare(
    state: &AppState,
    auth: &Auth<FrontOffice>,
    id: i64,
    control: Control,
    status: StatusCode,
) -> AppResult<Response> {
    let s = &state.services;
    let request = domain::deals::matching::staff_request(s, &auth.actor, id).await?;
    let comparison = domain::deals::quotes::compare(s, &auth.actor, id).await?;
    let rfqs = domain::deals::rfq::for_request(s, &auth.actor, id).await?;
    let round = domain::deals::rfq::control::control(s, &auth.actor, id).await?;
    let offers = offers::for_request(s, &auth.actor, id).await?;
    let approval = offers::latest_approval(s, &auth.actor, id).await?;
    let min_margin_bp = offers::min_margin_of(s, &request.request_type).await?;
    let t = s.request_types.get(&request.request_type);
    // The offer may be made once quotes are in, while the round is still
    // open too (the workflow closes it then).
    let can_offer = matches!(request.status.as_str(), "quote_review" | "rfq");
    Ok((
        status,
        state.page(
            &auth.info,
            "quotes/compare.html",
            context! {
                r => ser(&request), c => ser(&comparison), rfqs => ser(&rfqs), offers => ser(&offers),
                approval => ser(&approval), min_margin_bp, round => ser(&round),
                type_title => t.map(|t| t.title.clone()),
                can_offer,
                control_refused => control.refused,
                control_errors => control.errors.map(|e| ser(&e)).unwrap_or(Value::UNDEFINED),
                control_deadline => control.deadline,
            },
        )?,
    )
        .into_response())
}

/// The answer to an RFQ control: back to the quotes page with a flash, or
/// the page again saying why not.
async fn control_answer(
    state: &AppState,
    auth: &Auth<FrontOffice>,
    id: i64,
    result: Result<(), DomainError>,
    flash: &str,
    deadline: Option<String>,
) -> AppResult<Response> {
    match result {
        Ok(()) => Ok(redirect_with_flash(
            &format!("/requests/{id}/quotes"),
            flash,
            state.config.secure_cookies,
        )),
        Err(DomainError::Conflict(code)) => {
            let control = Control {
                refused: Some(code),
                deadline,
                ..Control::default()
            };
            render_compare(state, auth, id, control, StatusCode::CONFLICT).await
        }
        Err(DomainError::Invalid(e)) => {
            let control = Control {
                errors: Some(error_map(&e)),
                deadline,
                ..Control::default()
            };
            render_compare(state, auth, id, control, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn rfq_close(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let result = domain::deals::rfq::control::close_early(&state.services, &auth.actor, id).await;
    control_answer(&state, &auth, id, result, "flash-rfq-closed-early", None).await
}

async fn rfq_remind(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let result = domain::deals::rfq::control::remind_now(&state.services, &auth.actor, id)
        .await
        .map(|_| ());
    control_answer(&state, &auth, id, result, "flash-rfq-reminded", None).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ExtendForm {
    deadline: String,
}

async fn rfq_extend(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
    Form(f): Form<ExtendForm>,
) -> AppResult<Response> {
    let result = domain::deals::rfq::control::extend(&state.services, &auth.actor, id, &f.deadline)
        .await
        .map(|_| ());
    control_answer(
        &state,
        &auth,
        id,
        result,
        "flash-rfq-extended",
        Some(f.deadline),
    )
    .await
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
