//! Orders and framework contracts (see `domain::orders`): the order list
//! and page for the staff (both legs, assignments, contracts, history), the
//! client (its leg) and the supplier (its leg); the contract pages — the
//! client's details form (also behind the e-mailed link), the supplier's
//! acceptance, the staff's "signed on paper"; the company's number formats.
//!
//! Any signed-in user may call the reading handlers: the domain scopes
//! orders and contracts and cuts each side's view, so another party's id is
//! a plain 404.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use domain::error::DomainError;
use domain::orders::contracts::{self, DetailsInput};
use domain::orders::numbering::{self, Formats};
use domain::orders::{self, OrderView};
use minijinja::{Value, context};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{AdminOnly, AnyUser, Auth, FrontOffice, RequestInfo, SupplierOwner};
use crate::error::{AppError, AppResult};
use crate::forms::error_map;
use crate::layout::redirect_with_flash;
use crate::multipart::MultipartForm;
use crate::render::ser;

/// The largest scan upload (the file's own limit is checked by the domain).
const MAX_UPLOAD: usize = 16 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(list))
        .route("/orders/settings", get(settings).post(save_settings))
        .route("/orders/{id}", get(show))
        .route(
            "/orders/{id}/signed",
            post(order_signed).layer(DefaultBodyLimit::max(MAX_UPLOAD)),
        )
        .route("/orders/{id}/cancel", post(cancel))
        .route("/orders/legs/{leg}/work-order", get(work_order))
        // The supplier's section before orders existed.
        .route(
            "/supplier/orders",
            get(|| async { Redirect::permanent("/orders") }),
        )
        .route("/contracts", get(contract_list))
        .route("/contracts/{id}", get(contract_show))
        .route("/contracts/{id}/details", post(contract_details))
        .route(
            "/contracts/{id}/signed",
            post(contract_signed).layer(DefaultBodyLimit::max(MAX_UPLOAD)),
        )
        .route("/contracts/{id}/accept", post(contract_accept))
        .route(
            "/contracts/t/{token}",
            get(contract_by_token).post(contract_details_by_token),
        )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    status: String,
}

async fn list(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let status = Some(q.status.as_str()).filter(|s| !s.is_empty());
    let orders = orders::list(&state.services, &auth.actor, status).await?;
    Ok(state
        .page(
            &auth.info,
            "orders/list.html",
            context! {
                orders => ser(&orders),
                statuses => orders::STATUSES,
                status => q.status,
                staff => auth.actor.is_staff(),
            },
        )?
        .into_response())
}

/// The order's envelopes for its page (see `signing/_envelopes.html`).
async fn signing_block(
    state: &AppState,
    actor: &domain::access::Actor,
    id: i64,
) -> AppResult<Value> {
    let envelopes = domain::signing::for_owner(&state.services, actor, "order", id).await?;
    Ok(context! {
        envelopes => ser(&envelopes),
        order_id => id,
        staff => actor.is_staff(),
        can_send_for_signing => actor.is_front_office(),
        // The client's card is the front office's page.
        front_office => actor.is_front_office(),
    })
}

fn order_page(
    state: &AppState,
    info: &RequestInfo,
    view: &OrderView,
    errors: Value,
    signing: Value,
    status: StatusCode,
) -> AppResult<Response> {
    let template = match view {
        OrderView::Staff(_) => "orders/staff.html",
        OrderView::Client(_) => "orders/client.html",
        OrderView::Supplier(_) => "orders/supplier.html",
    };
    Ok((
        status,
        state.page(
            info,
            template,
            context! { v => ser(view), errors, ..signing },
        )?,
    )
        .into_response())
}

async fn show(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let view = orders::view(&state.services, &auth.actor, id).await?;
    let signing = signing_block(&state, &auth.actor, id).await?;
    order_page(
        &state,
        &auth.info,
        &view,
        Value::UNDEFINED,
        signing,
        StatusCode::OK,
    )
}

/// The scan of the work orders signed on paper (multipart: `scan`).
async fn order_signed(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
    mp: Multipart,
) -> AppResult<Response> {
    let form = MultipartForm::read(mp, MAX_UPLOAD).await?;
    let Some(scan) = form.files.get("scan") else {
        return refused_order(&state, &auth, id, DomainError::field("scan", "required")).await;
    };
    match orders::signed_on_paper(&state.services, &auth.actor, id, &scan.name, &scan.bytes).await {
        Ok(()) => Ok(redirect_with_flash(
            &format!("/orders/{id}"),
            "flash-order-signed",
            state.config.secure_cookies,
        )),
        Err(e @ DomainError::Invalid(_)) => refused_order(&state, &auth, id, e).await,
        Err(e) => Err(e.into()),
    }
}

/// The order page again with a form's errors (422).
async fn refused_order(
    state: &AppState,
    auth: &Auth<FrontOffice>,
    id: i64,
    e: DomainError,
) -> AppResult<Response> {
    let DomainError::Invalid(errors) = e else {
        return Err(e.into());
    };
    let view = orders::view(&state.services, &auth.actor, id).await?;
    let signing = signing_block(state, &auth.actor, id).await?;
    order_page(
        state,
        &auth.info,
        &view,
        ser(&error_map(&errors)),
        signing,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReasonForm {
    reason: String,
}

async fn cancel(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
    Form(f): Form<ReasonForm>,
) -> AppResult<Response> {
    match orders::cancel(&state.services, &auth.actor, id, &f.reason).await {
        Ok(()) => Ok(redirect_with_flash(
            &format!("/orders/{id}"),
            "flash-order-cancelled",
            state.config.secure_cookies,
        )),
        Err(e @ DomainError::Invalid(_)) => refused_order(&state, &auth, id, e).await,
        Err(e) => Err(e.into()),
    }
}

/// The data of one leg's work order, for whoever may have it: the staff
/// any leg, a party only its own (another's is 404). The printable PDF is
/// rendered from the same data by the documents crate.
async fn work_order(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(leg): Path<i64>,
) -> AppResult<Response> {
    let data = orders::paper::work_order_for(&state.services, &auth.actor, leg).await?;
    Ok(Json(data).into_response())
}

fn settings_page(
    state: &AppState,
    info: &RequestInfo,
    form: &Formats,
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            info,
            "orders/settings.html",
            context! { form => ser(form), errors },
        )?,
    )
        .into_response())
}

async fn settings(State(state): State<AppState>, auth: Auth<AdminOnly>) -> AppResult<Response> {
    let form = numbering::formats(&state.services, &auth.actor).await?;
    settings_page(&state, &auth.info, &form, Value::UNDEFINED, StatusCode::OK)
}

async fn save_settings(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
    Form(form): Form<Formats>,
) -> AppResult<Response> {
    match numbering::save_formats(&state.services, &auth.actor, &form).await {
        Ok(()) => Ok(redirect_with_flash(
            "/orders/settings",
            "flash-saved",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => settings_page(
            &state,
            &auth.info,
            &form,
            ser(&error_map(&e)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------
// Contracts

async fn contract_list(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    let list = contracts::list(&state.services, &auth.actor).await?;
    Ok(state
        .page(
            &auth.info,
            "contracts/list.html",
            context! { contracts => ser(&list), staff => auth.actor.is_staff() },
        )?
        .into_response())
}

fn contract_page(
    state: &AppState,
    info: &RequestInfo,
    page: &contracts::ContractPage,
    action: &str,
    // The details as typed, with how the registry lookup went when the
    // client asked for one.
    input: Option<(&DetailsInput, Option<domain::parties::Lookup>)>,
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    let (input, lookup) = match input {
        Some((i, l)) => (Some(i), l),
        None => (None, None),
    };
    Ok((
        status,
        state.page(
            info,
            "contracts/show.html",
            context! {
                c => ser(page),
                input => ser(input.unwrap_or(&page.input)),
                action,
                errors,
                authorities => contracts::AUTHORITIES,
                by_link => info.actor.is_none(),
                lookup => ser(&lookup),
            },
        )?,
    )
        .into_response())
}

async fn contract_show(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let page = contracts::page(&state.services, &auth.actor, id).await?;
    contract_page(
        &state,
        &auth.info,
        &page,
        &format!("/contracts/{id}/details"),
        None,
        Value::UNDEFINED,
        StatusCode::OK,
    )
}

/// The contract details form as posted: the details, and whether the
/// client asked to fill them from the company registry by the INN.
#[derive(Debug, Deserialize)]
struct DetailsSubmit {
    #[serde(flatten)]
    input: DetailsInput,
    lookup: Option<String>,
}

async fn contract_details(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
    Form(DetailsSubmit { input, lookup }): Form<DetailsSubmit>,
) -> AppResult<Response> {
    if lookup.is_some() {
        let page = contracts::page(&state.services, &auth.actor, id).await?;
        let (filled, how) = input.fill_from_registry(&state.services).await;
        return contract_page(
            &state,
            &auth.info,
            &page,
            &format!("/contracts/{id}/details"),
            Some((&filled, Some(how))),
            Value::UNDEFINED,
            StatusCode::OK,
        );
    }
    match contracts::submit_details(&state.services, &auth.actor, id, &input).await {
        Ok(()) => Ok(redirect_with_flash(
            &format!("/contracts/{id}"),
            "flash-contract-details",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => {
            let page = contracts::page(&state.services, &auth.actor, id).await?;
            contract_page(
                &state,
                &auth.info,
                &page,
                &format!("/contracts/{id}/details"),
                Some((&input, None)),
                ser(&error_map(&e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e.into()),
    }
}

async fn contract_signed(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
    mp: Multipart,
) -> AppResult<Response> {
    let form = MultipartForm::read(mp, MAX_UPLOAD).await?;
    let result = match form.files.get("scan") {
        Some(scan) => {
            contracts::signed_on_paper(&state.services, &auth.actor, id, &scan.name, &scan.bytes)
                .await
        }
        None => Err(DomainError::field("scan", "required")),
    };
    match result {
        Ok(()) => Ok(redirect_with_flash(
            &format!("/contracts/{id}"),
            "flash-contract-signed",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => {
            let page = contracts::page(&state.services, &auth.actor, id).await?;
            contract_page(
                &state,
                &auth.info,
                &page,
                &format!("/contracts/{id}/details"),
                None,
                ser(&error_map(&e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e.into()),
    }
}

async fn contract_accept(
    State(state): State<AppState>,
    auth: Auth<SupplierOwner>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    contracts::accept(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        &format!("/contracts/{id}"),
        "flash-contract-accepted",
        state.config.secure_cookies,
    ))
}

fn gone(state: &AppState, info: &RequestInfo) -> AppResult<Response> {
    Ok((
        StatusCode::GONE,
        state.page(info, "contracts/gone.html", context! {})?,
    )
        .into_response())
}

/// The e-mailed link: the details form while it is valid, "gone" after.
async fn contract_by_token(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(token): Path<String>,
) -> AppResult<Response> {
    match contracts::page_by_token(&state.services, &token).await {
        Ok(page) => contract_page(
            &state,
            &info,
            &page,
            &format!("/contracts/t/{token}"),
            None,
            Value::UNDEFINED,
            StatusCode::OK,
        ),
        Err(DomainError::NotFound) => gone(&state, &info),
        Err(e) => Err(e.into()),
    }
}

async fn contract_details_by_token(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(token): Path<String>,
    Form(DetailsSubmit { input, lookup }): Form<DetailsSubmit>,
) -> AppResult<Response> {
    if lookup.is_some() {
        let Ok(page) = contracts::page_by_token(&state.services, &token).await else {
            return gone(&state, &info);
        };
        let (filled, how) = input.fill_from_registry(&state.services).await;
        return contract_page(
            &state,
            &info,
            &page,
            &format!("/contracts/t/{token}"),
            Some((&filled, Some(how))),
            Value::UNDEFINED,
            StatusCode::OK,
        );
    }
    match contracts::submit_details_by_token(&state.services, &token, &input).await {
        Ok(_) => Ok(state
            .page(&info, "contracts/thanks.html", context! {})?
            .into_response()),
        Err(DomainError::Invalid(e)) => {
            match contracts::page_by_token(&state.services, &token).await {
                Ok(page) => contract_page(
                    &state,
                    &info,
                    &page,
                    &format!("/contracts/t/{token}"),
                    Some((&input, None)),
                    ser(&error_map(&e)),
                    StatusCode::UNPROCESSABLE_ENTITY,
                ),
                Err(_) => gone(&state, &info),
            }
        }
        Err(DomainError::NotFound) => gone(&state, &info),
        Err(e) => Err(AppError::from(e)),
    }
}
