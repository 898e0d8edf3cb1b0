//! The supplier's side of quoting (see `domain::deals::rfq`, `domain::deals::quotes`):
//! incoming requests for quotes, the quote form (revise, withdraw, decline),
//! and the supplier's own quotes. A supplier sees the job, never the client.
//!
//! Any signed-in user may call these handlers: the domain answers "not found"
//! to anyone but a supplier's people, so another party's id is a plain 404.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::deals::quotes::{self, QuoteInput};
use domain::error::DomainError;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{AnyUser, Auth};
use crate::error::AppResult;
use crate::forms::error_map;
use crate::layout::redirect_with_flash;
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/supplier/rfqs", get(list))
        .route("/supplier/rfqs/{id}", get(show))
        .route("/supplier/rfqs/{id}/quote", post(submit))
        .route("/supplier/rfqs/{id}/decline", post(decline))
        .route("/supplier/rfqs/{id}/withdraw", post(withdraw))
        .route("/supplier/quotes", get(own_quotes))
}

async fn list(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    let rfqs = domain::deals::rfq::list_for_supplier(&state.services, &auth.actor).await?;
    Ok(state
        .page(
            &auth.info,
            "rfqs/list.html",
            context! { rfqs => ser(&rfqs) },
        )?
        .into_response())
}

fn show_page(
    state: &AppState,
    auth: &Auth<AnyUser>,
    form: &quotes::QuoteForm,
    input: &QuoteInput,
    errors: Value,
    decline_errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            &auth.info,
            "rfqs/show.html",
            context! {
                f => ser(form), input => ser(input), errors, decline_errors,
                methods => ser(&quotes::PAYMENT_METHODS),
            },
        )?,
    )
        .into_response())
}

async fn show(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let form = quotes::form(&state.services, &auth.actor, id).await?;
    let input = form.input.clone();
    show_page(
        &state,
        &auth,
        &form,
        &input,
        Value::UNDEFINED,
        Value::UNDEFINED,
        StatusCode::OK,
    )
}

async fn submit(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    // The machine rows repeat `machine_id` and `employee_id`.
    let input = QuoteInput::from_pairs(&pairs);
    match quotes::submit(&state.services, &auth.actor, id, &input).await {
        Ok(_) => Ok(redirect_with_flash(
            &format!("/supplier/rfqs/{id}"),
            "flash-quote-sent",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => {
            let form = quotes::form(&state.services, &auth.actor, id).await?;
            show_page(
                &state,
                &auth,
                &form,
                &input,
                ser(&error_map(&e)),
                Value::UNDEFINED,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReasonForm {
    reason: String,
}

async fn decline(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
    Form(f): Form<ReasonForm>,
) -> AppResult<Response> {
    match quotes::decline(&state.services, &auth.actor, id, &f.reason).await {
        Ok(()) => Ok(redirect_with_flash(
            &format!("/supplier/rfqs/{id}"),
            "flash-rfq-declined",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => {
            let form = quotes::form(&state.services, &auth.actor, id).await?;
            let input = form.input.clone();
            show_page(
                &state,
                &auth,
                &form,
                &input,
                Value::UNDEFINED,
                ser(&error_map(&e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e.into()),
    }
}

async fn withdraw(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    quotes::withdraw(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        &format!("/supplier/rfqs/{id}"),
        "flash-quote-withdrawn",
        state.config.secure_cookies,
    ))
}

async fn own_quotes(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    let quotes = quotes::list_for_supplier(&state.services, &auth.actor).await?;
    Ok(state
        .page(
            &auth.info,
            "rfqs/quotes.html",
            context! { quotes => ser(&quotes) },
        )?
        .into_response())
}
