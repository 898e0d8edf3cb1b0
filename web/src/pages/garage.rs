//! A supplier's garage (see `domain::fleet::garage`): the list with availability,
//! adding and editing machines with category-specific specifications,
//! photos, documents with expiry dates and the calendar of busy days.
//!
//! The supplier's office (owner, dispatchers) edits; the broker's staff open
//! the same pages read-only (the domain scopes every query, so another
//! supplier's machine is 404). Drivers have no garage pages.
//!
//! The machine form lists every category as a radio button followed by its
//! specification fields; CSS shows only the fields of the chosen one, and
//! without CSS they are all shown and only the chosen category's are read.
//! So the form needs no JavaScript and no second step.

use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Duration;
use domain::access::roles::Role;
use domain::error::DomainError;
use domain::fleet::garage::{self, BusyInput, DocumentInput, MachineFilter, MachineInput, Upload};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{Auth, Policy, SupplierOffice};
use crate::error::{AppError, AppResult};
use crate::forms::error_map;
use crate::layout::redirect_with_flash;
use crate::multipart::MultipartForm;
use crate::render::ser;

const MAX_FORM: usize = 20 * 1024 * 1024;
/// Days the calendar and a machine's page look ahead.
const DAYS_AHEAD: i64 = 60;

/// Who may look at garage pages: the supplier's office and the broker's staff.
pub struct GarageViewers;

impl Policy for GarageViewers {
    const ROLES: &'static [Role] = &[
        Role::Admin,
        Role::Hunter,
        Role::Manager,
        Role::Operator,
        Role::Accountant,
        Role::Analyst,
        Role::Owner,
        Role::Dispatcher,
    ];
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/garage", get(list))
        .route("/garage/new", get(new_form).post(create))
        .route("/garage/documents/{doc}", get(document_link))
        .route("/garage/{id}", get(show))
        .route("/garage/{id}/edit", get(edit_form).post(update))
        .route("/garage/{id}/archive", post(archive))
        .route("/garage/{id}/restore", post(restore))
        .route("/garage/{id}/photos", post(add_photo))
        .route("/garage/{id}/photos/{file}/main", post(main_photo))
        .route("/garage/{id}/photos/{file}/delete", post(remove_photo))
        .route(
            "/garage/{id}/documents/new",
            get(new_document).post(create_document),
        )
        .route(
            "/garage/{id}/documents/{doc}",
            get(edit_document).post(update_document),
        )
        .route("/garage/{id}/documents/{doc}/delete", post(delete_document))
        .route("/garage/{id}/calendar", get(calendar).post(mark_busy))
        .route("/garage/{id}/calendar/free", post(clear_busy))
        .layer(DefaultBodyLimit::max(MAX_FORM))
}

fn flash(state: &AppState, to: &str, key: &str) -> Response {
    redirect_with_flash(to, key, state.config.secure_cookies)
}

/// `[code, title]` pairs of the catalogue's categories, for selects.
fn category_options(state: &AppState) -> Vec<[String; 2]> {
    state
        .services
        .equipment
        .categories
        .iter()
        .map(|c| [c.code.clone(), c.title.clone()])
        .collect()
}

// ---------------------------------------------------------------------------
// The list

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct ListQuery {
    category: String,
    q: String,
    available_on: String,
    archived: String,
    /// Staff: whose garage.
    org: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    auth: Auth<GarageViewers>,
    Query(lq): Query<ListQuery>,
) -> AppResult<Response> {
    let s = &state.services;
    let (org_id, party) = if auth.actor.is_staff() {
        let Some(org) = lq.org else {
            return Ok(Redirect::to("/suppliers").into_response());
        };
        (org, Some(domain::parties::get(s, &auth.actor, org).await?))
    } else {
        (auth.actor.org_id(), None)
    };
    let filter = MachineFilter {
        category: Some(lq.category.clone()),
        q: Some(lq.q.clone()),
        include_archived: !lq.archived.is_empty(),
        available_on: Some(lq.available_on.clone()),
    };
    let (date, machines) = garage::overview(s, &auth.actor, org_id, &filter).await?;
    let can_edit = !auth.actor.is_staff() && auth.actor.has_any(&[Role::Owner, Role::Dispatcher]);
    Ok(state
        .page(
            &auth.info,
            "garage/list.html",
            context! {
                machines => ser(&machines), f => ser(&lq), date => garage::ymd(date),
                categories => ser(&category_options(&state)), can_edit, party => ser(&party),
            },
        )?
        .into_response())
}

// ---------------------------------------------------------------------------
// Adding and editing a machine

fn form_page(
    state: &AppState,
    auth: &Auth<SupplierOffice>,
    id: Option<i64>,
    form: &MachineInput,
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            &auth.info,
            "garage/form.html",
            context! { id, form => ser(form), errors, categories => ser(&state.services.equipment.categories) },
        )?,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewQuery {
    category: String,
}

async fn new_form(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    let form = MachineInput {
        category: q.category,
        ..Default::default()
    };
    form_page(&state, &auth, None, &form, Value::UNDEFINED, StatusCode::OK)
}

/// The machine as submitted: the chosen category's specification fields are
/// named `spec.<category>.<code>`; other categories' fields are ignored.
fn input_of(mp: &MultipartForm) -> MachineInput {
    let category = mp.text("category").trim().to_string();
    let prefix = format!("spec.{category}.");
    let specs = mp
        .fields
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(&prefix)
                .map(|code| (code.to_string(), v.clone()))
        })
        .collect();
    MachineInput {
        category,
        make: mp.text("make"),
        model: mp.text("model"),
        year: mp.text("year"),
        plate: mp.text("plate"),
        vin: mp.text("vin"),
        base_address: mp.text("base_address"),
        base_lat: mp.text("base_lat"),
        base_lon: mp.text("base_lon"),
        service_radius_km: mp.text("service_radius_km"),
        specs,
    }
}

fn upload<'a>(mp: &'a MultipartForm, field: &str) -> Option<Upload<'a>> {
    mp.files.get(field).map(|u| Upload {
        name: &u.name,
        bytes: &u.bytes,
    })
}

async fn create(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    mp: Multipart,
) -> AppResult<Response> {
    let mp = MultipartForm::read(mp, MAX_FORM).await?;
    let input = input_of(&mp);
    match garage::create(&state.services, &auth.actor, &input, upload(&mp, "photo")).await {
        Ok(id) => Ok(flash(
            &state,
            &format!("/garage/{id}"),
            "flash-machine-added",
        )),
        Err(DomainError::Invalid(e)) => form_page(
            &state,
            &auth,
            None,
            &input,
            ser(&error_map(&e)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

async fn edit_form(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let m = garage::get(&state.services, &auth.actor, id).await?;
    if !garage::can_edit(&auth.actor, &m) {
        return Err(AppError::NotFound);
    }
    form_page(
        &state,
        &auth,
        Some(id),
        &MachineInput::from_machine(&m),
        Value::UNDEFINED,
        StatusCode::OK,
    )
}

async fn update(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
    mp: Multipart,
) -> AppResult<Response> {
    let mp = MultipartForm::read(mp, MAX_FORM).await?;
    let input = input_of(&mp);
    match garage::update(&state.services, &auth.actor, id, &input).await {
        Ok(()) => Ok(flash(&state, &format!("/garage/{id}"), "flash-saved")),
        Err(DomainError::Invalid(e)) => form_page(
            &state,
            &auth,
            Some(id),
            &input,
            ser(&error_map(&e)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

async fn archive(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    garage::archive(&state.services, &auth.actor, id).await?;
    Ok(flash(
        &state,
        &format!("/garage/{id}"),
        "flash-machine-archived",
    ))
}

async fn restore(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    garage::restore(&state.services, &auth.actor, id).await?;
    Ok(flash(
        &state,
        &format!("/garage/{id}"),
        "flash-machine-restored",
    ))
}

// ---------------------------------------------------------------------------
// A machine's page and photos

async fn machine_page<P: Policy>(
    state: &AppState,
    auth: &Auth<P>,
    id: i64,
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    let card = garage::card(&state.services, &auth.actor, id, DAYS_AHEAD).await?;
    Ok((
        status,
        state.page(
            &auth.info,
            "garage/machine.html",
            context! { c => ser(&card), errors, days => DAYS_AHEAD },
        )?,
    )
        .into_response())
}

async fn show(
    State(state): State<AppState>,
    auth: Auth<GarageViewers>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    machine_page(&state, &auth, id, Value::UNDEFINED, StatusCode::OK).await
}

async fn add_photo(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
    mp: Multipart,
) -> AppResult<Response> {
    let mp = MultipartForm::read(mp, MAX_FORM).await?;
    match garage::add_photo(&state.services, &auth.actor, id, upload(&mp, "photo")).await {
        Ok(_) => Ok(flash(&state, &format!("/garage/{id}"), "flash-photo-added")),
        Err(DomainError::Invalid(e)) => {
            machine_page(
                &state,
                &auth,
                id,
                ser(&error_map(&e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn main_photo(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path((id, file)): Path<(i64, i64)>,
) -> AppResult<Response> {
    garage::set_main_photo(&state.services, &auth.actor, id, file).await?;
    Ok(flash(&state, &format!("/garage/{id}"), "flash-saved"))
}

async fn remove_photo(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path((id, file)): Path<(i64, i64)>,
) -> AppResult<Response> {
    garage::remove_photo(&state.services, &auth.actor, id, file).await?;
    Ok(flash(
        &state,
        &format!("/garage/{id}"),
        "flash-photo-removed",
    ))
}

// ---------------------------------------------------------------------------
// Documents

/// `[code, title, mandatory]` of every document kind, the category's
/// mandatory ones first.
fn document_kinds(state: &AppState, category: &str) -> Vec<(String, String, bool)> {
    let eq = &state.services.equipment;
    let mandatory = eq
        .category(category)
        .map(|c| c.documents.clone())
        .unwrap_or_default();
    let mut kinds: Vec<(String, String, bool)> = eq
        .documents
        .iter()
        .map(|d| (d.code.clone(), d.title.clone(), mandatory.contains(&d.code)))
        .collect();
    kinds.sort_by_key(|k| !k.2);
    kinds
}

async fn document_page(
    state: &AppState,
    auth: &Auth<SupplierOffice>,
    machine_id: i64,
    doc: Option<&garage::MachineDocument>,
    form: &DocumentInput,
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    let m = garage::get(&state.services, &auth.actor, machine_id).await?;
    if !garage::can_edit(&auth.actor, &m) {
        return Err(AppError::NotFound);
    }
    let kinds = document_kinds(state, &m.category);
    Ok((
        status,
        state.page(
            &auth.info,
            "garage/document.html",
            context! { m => ser(&m), doc => ser(&doc), form => ser(form), errors, kinds => ser(&kinds) },
        )?,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct KindQuery {
    kind: String,
}

async fn new_document(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
    Query(q): Query<KindQuery>,
) -> AppResult<Response> {
    let form = DocumentInput {
        kind: q.kind,
        ..Default::default()
    };
    document_page(
        &state,
        &auth,
        id,
        None,
        &form,
        Value::UNDEFINED,
        StatusCode::OK,
    )
    .await
}

fn document_input(mp: &MultipartForm) -> DocumentInput {
    DocumentInput {
        kind: mp.text("kind"),
        number: mp.text("number"),
        valid_from: mp.text("valid_from"),
        valid_until: mp.text("valid_until"),
    }
}

async fn create_document(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
    mp: Multipart,
) -> AppResult<Response> {
    let mp = MultipartForm::read(mp, MAX_FORM).await?;
    let input = document_input(&mp);
    match garage::add_document(
        &state.services,
        &auth.actor,
        id,
        &input,
        upload(&mp, "scan"),
    )
    .await
    {
        Ok(_) => Ok(flash(
            &state,
            &format!("/garage/{id}#documents"),
            "flash-document-saved",
        )),
        Err(DomainError::Invalid(e)) => {
            document_page(
                &state,
                &auth,
                id,
                None,
                &input,
                ser(&error_map(&e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn edit_document(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path((id, doc)): Path<(i64, i64)>,
) -> AppResult<Response> {
    let d = garage::document(&state.services, &auth.actor, id, doc).await?;
    document_page(
        &state,
        &auth,
        id,
        Some(&d),
        &DocumentInput::from_document(&d),
        Value::UNDEFINED,
        StatusCode::OK,
    )
    .await
}

async fn update_document(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path((id, doc)): Path<(i64, i64)>,
    mp: Multipart,
) -> AppResult<Response> {
    let current = garage::document(&state.services, &auth.actor, id, doc).await?;
    let mp = MultipartForm::read(mp, MAX_FORM).await?;
    let input = document_input(&mp);
    match garage::update_document(
        &state.services,
        &auth.actor,
        id,
        doc,
        &input,
        upload(&mp, "scan"),
    )
    .await
    {
        Ok(()) => Ok(flash(
            &state,
            &format!("/garage/{id}#documents"),
            "flash-document-saved",
        )),
        Err(DomainError::Invalid(e)) => {
            document_page(
                &state,
                &auth,
                id,
                Some(&current),
                &input,
                ser(&error_map(&e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn delete_document(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path((id, doc)): Path<(i64, i64)>,
) -> AppResult<Response> {
    garage::delete_document(&state.services, &auth.actor, id, doc).await?;
    Ok(flash(
        &state,
        &format!("/garage/{id}#documents"),
        "flash-document-deleted",
    ))
}

/// Where a document's workflow links to: its machine's page.
async fn document_link(
    State(state): State<AppState>,
    auth: Auth<GarageViewers>,
    Path(doc): Path<i64>,
) -> AppResult<Response> {
    let d = garage::document_by_id(&state.services, &auth.actor, doc).await?;
    Ok(Redirect::to(&format!("/garage/{}#doc-{}", d.machine_id, d.id)).into_response())
}

// ---------------------------------------------------------------------------
// The calendar of busy days

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CalendarQuery {
    from: String,
}

async fn calendar_page<P: Policy>(
    state: &AppState,
    auth: &Auth<P>,
    id: i64,
    from: &str,
    form: &BusyInput,
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    let s = &state.services;
    let actor = &auth.actor;
    let m = garage::get(s, actor, id).await?;
    let today = garage::today(s);
    let start = garage::parse_date(from).unwrap_or(today);
    let months = garage::calendar(s, actor, id, start, DAYS_AHEAD).await?;
    let busy =
        garage::busy_days(s, actor, id, start, start + Duration::days(DAYS_AHEAD - 1)).await?;
    Ok((
        status,
        state.page(
            &auth.info,
            "garage/calendar.html",
            context! {
                m => ser(&m), months => ser(&months), busy => ser(&busy), form => ser(form), errors,
                can_edit => garage::can_edit(actor, &m), days => DAYS_AHEAD,
                today => garage::ymd(today), start => garage::ymd(start),
                prev => garage::ymd(start - Duration::days(DAYS_AHEAD)), next => garage::ymd(start + Duration::days(DAYS_AHEAD)),
            },
        )?,
    )
        .into_response())
}

async fn calendar(
    State(state): State<AppState>,
    auth: Auth<GarageViewers>,
    Path(id): Path<i64>,
    Query(q): Query<CalendarQuery>,
) -> AppResult<Response> {
    calendar_page(
        &state,
        &auth,
        id,
        &q.from,
        &BusyInput::default(),
        Value::UNDEFINED,
        StatusCode::OK,
    )
    .await
}

async fn mark_busy(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
    Form(f): Form<BusyInput>,
) -> AppResult<Response> {
    match garage::mark_busy(&state.services, &auth.actor, id, &f).await {
        Ok(_) => Ok(flash(
            &state,
            &format!("/garage/{id}/calendar"),
            "flash-busy-set",
        )),
        Err(DomainError::Invalid(e)) => {
            calendar_page(
                &state,
                &auth,
                id,
                "",
                &f,
                ser(&error_map(&e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn clear_busy(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
    Form(f): Form<BusyInput>,
) -> AppResult<Response> {
    match garage::clear_busy(&state.services, &auth.actor, id, &f).await {
        Ok(_) => Ok(flash(
            &state,
            &format!("/garage/{id}/calendar"),
            "flash-busy-cleared",
        )),
        Err(DomainError::Invalid(e)) => {
            // The errors belong to the "free" form, whose fields are prefixed.
            let errors: std::collections::BTreeMap<String, String> = error_map(&e)
                .into_iter()
                .map(|(k, v)| (format!("free_{k}"), v))
                .collect();
            calendar_page(
                &state,
                &auth,
                id,
                "",
                &BusyInput::default(),
                ser(&errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
