//! The staff's matching (see `domain::deals::matching`): the board of requests in
//! matching and quoting, the ranked suppliers of one request with the reason
//! for every match and non-match, and sending the RFQ round to the chosen
//! suppliers (add one by INN, leave one out by unticking it).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::error::DomainError;
use minijinja::{Value, context};

use crate::AppState;
use crate::auth::{Auth, FrontOffice};
use crate::error::{AppError, AppResult};
use crate::forms::error_map;
use crate::layout::redirect_with_flash;
use crate::render::ser;

/// Suppliers ticked by default on the page: the best fitting ones.
const PRESELECT: usize = 3;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/matching", get(board))
        .route("/requests/{id}/matching", get(page))
        .route("/requests/{id}/rfq", post(send))
}

async fn board(State(state): State<AppState>, auth: Auth<FrontOffice>) -> AppResult<Response> {
    let rows = domain::deals::matching::board(&state.services, &auth.actor).await?;
    let types: std::collections::BTreeMap<&str, &str> = state
        .services
        .request_types
        .0
        .iter()
        .map(|t| (t.code.as_str(), t.title.as_str()))
        .collect();
    Ok(state
        .page(
            &auth.info,
            "matching/board.html",
            context! { rows => ser(&rows), types => ser(&types) },
        )?
        .into_response())
}

async fn render(
    state: &AppState,
    auth: &Auth<FrontOffice>,
    id: i64,
    chosen: Option<Vec<i64>>,
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    let s = &state.services;
    let (request, result) = domain::deals::matching::for_request(s, &auth.actor, id).await?;
    let rfqs = domain::deals::rfq::for_request(s, &auth.actor, id).await?;
    let chosen =
        chosen.unwrap_or_else(|| result.fitting().take(PRESELECT).map(|x| x.org_id).collect());
    let t = s.request_types.get(&request.request_type);
    Ok((
        status,
        state.page(
            &auth.info,
            "matching/request.html",
            context! {
                r => ser(&request), m => ser(&result), rfqs => ser(&rfqs), chosen => ser(&chosen),
                type_title => t.map(|t| t.title.clone()), errors,
                ready => request.status == "ready_for_matching",
            },
        )?,
    )
        .into_response())
}

async fn page(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    render(&state, &auth, id, None, Value::UNDEFINED, StatusCode::OK).await
}

/// The form repeats `supplier` once per ticked supplier; `add` is an INN.
async fn send(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
    body: String,
) -> AppResult<Response> {
    let mut chosen = Vec::new();
    let mut add = String::new();
    for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
        match k.as_ref() {
            "supplier" => {
                chosen.push(v.parse::<i64>().map_err(|_| AppError::BadRequest("form"))?);
            }
            "add" => add = v.into_owned(),
            _ => {}
        }
    }
    let s = &state.services;
    let result = async {
        if !add.trim().is_empty() {
            chosen.push(domain::deals::rfq::approved_supplier_by_inn(s, &add).await?);
        }
        domain::deals::rfq::send(s, &auth.actor, id, &chosen).await
    }
    .await;
    match result {
        Ok(_) => Ok(redirect_with_flash(
            &format!("/requests/{id}/quotes"),
            "flash-rfq-sent",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => {
            render(
                &state,
                &auth,
                id,
                Some(chosen),
                ser(&error_map(&e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
