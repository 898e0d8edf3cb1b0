//! Suppliers and clients: self-registration, e-mail confirmation, the
//! company profile with its change history, a client's contact people, and
//! the staff's directories and company cards.

use axum::Router;
use axum::extract::{Form, Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::access::roles::OrgKind;
use domain::error::DomainError;
use domain::parties::{
    self, CompanyInput, ContactInput, DirectoryFilter, Lookup, RegistrationInput,
};
use minijinja::context;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{AnyUser, Auth, ClientUser, FrontOffice, RequestInfo, Staff, SupplierOffice};
use crate::error::{AppError, AppResult};
use crate::forms::error_map;
use crate::layout::redirect_with_flash;
use crate::pager::{PageQuery, Pager};
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/register/supplier",
            get(supplier_form).post(register_supplier),
        )
        .route("/register/client", get(client_form).post(register_client))
        .route("/confirm/{token}", get(confirm))
        .route("/profile", get(profile))
        .route("/profile/edit", get(edit_form).post(edit))
        .route("/profile/resubmit", post(resubmit))
        .route("/profile/contacts", get(contacts).post(add_contact))
        .route("/profile/contacts/{id}/delete", post(delete_contact))
        .route("/suppliers", get(suppliers))
        .route("/clients", get(clients))
        .route("/parties/{id}", get(card))
        .route("/parties/{id}/suspend", post(suspend))
        .route("/parties/{id}/unsuspend", post(unsuspend))
}

/// The form's submit button: register, or fill the form from the registry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Submit {
    lookup: Option<String>,
}

fn registration_page(
    state: &AppState,
    info: &RequestInfo,
    kind: &str,
    form: &RegistrationInput,
    errors: minijinja::Value,
    lookup: Option<Lookup>,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            info,
            "parties/register.html",
            context! {
                kind,
                form => ser(&form),
                errors,
                lookup => ser(&lookup),
                registry => state.services.registry.is_configured(),
                vat_modes => vat_modes(),
            },
        )?,
    )
        .into_response())
}

/// VAT modes offered for new details: the current ones only.
pub fn vat_modes() -> Vec<&'static str> {
    domain::values::VatMode::CURRENT
        .iter()
        .map(|m| m.as_str())
        .collect()
}

async fn supplier_form(State(state): State<AppState>, info: RequestInfo) -> AppResult<Response> {
    let form = RegistrationInput {
        company: CompanyInput {
            legal_form: "ooo".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    registration_page(
        &state,
        &info,
        "supplier",
        &form,
        minijinja::Value::UNDEFINED,
        None,
        StatusCode::OK,
    )
}

async fn client_form(State(state): State<AppState>, info: RequestInfo) -> AppResult<Response> {
    let form = RegistrationInput {
        company: CompanyInput {
            legal_form: "person".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    registration_page(
        &state,
        &info,
        "client",
        &form,
        minijinja::Value::UNDEFINED,
        None,
        StatusCode::OK,
    )
}

async fn register(
    state: AppState,
    info: RequestInfo,
    kind: &str,
    body: String,
) -> AppResult<Response> {
    let form: RegistrationInput =
        serde_urlencoded::from_str(&body).map_err(|_| AppError::BadRequest("form"))?;
    let submit: Submit = serde_urlencoded::from_str(&body).unwrap_or_default();
    if submit.lookup.is_some() {
        let (company, lookup) = parties::fill_from_registry(&state.services, &form.company).await;
        let form = RegistrationInput { company, ..form };
        return registration_page(
            &state,
            &info,
            kind,
            &form,
            minijinja::Value::UNDEFINED,
            Some(lookup),
            StatusCode::OK,
        );
    }
    let result = if kind == "supplier" {
        parties::register_supplier(&state.services, &form).await
    } else {
        parties::register_client(&state.services, &form).await
    };
    match result {
        Ok(_) => Ok(state
            .page(
                &info,
                "parties/registered.html",
                context! { kind, email => form.company.email },
            )?
            .into_response()),
        Err(DomainError::Invalid(errors)) => registration_page(
            &state,
            &info,
            kind,
            &RegistrationInput {
                password: String::new(),
                confirm: String::new(),
                ..form
            },
            ser(&error_map(&errors)),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

async fn register_supplier(
    State(state): State<AppState>,
    info: RequestInfo,
    body: String,
) -> AppResult<Response> {
    register(state, info, "supplier", body).await
}

async fn register_client(
    State(state): State<AppState>,
    info: RequestInfo,
    body: String,
) -> AppResult<Response> {
    register(state, info, "client", body).await
}

async fn confirm(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(token): Path<String>,
) -> AppResult<Response> {
    match parties::confirm_email(&state.services, &token).await {
        Ok(_) => Ok(state
            .page(&info, "parties/confirmed.html", context! { ok => true })?
            .into_response()),
        Err(DomainError::Conflict(_)) => Ok((
            StatusCode::GONE,
            state.page(&info, "parties/confirmed.html", context! { ok => false })?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn profile(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    if auth.actor.is_staff() {
        return Ok(
            axum::response::Redirect::to(&format!("/orgs/{}", auth.actor.org_id())).into_response(),
        );
    }
    let party = parties::get(&state.services, &auth.actor, auth.actor.org_id()).await?;
    let history = parties::changes(&state.services, &auth.actor, party.id).await?;
    let can_edit = auth.actor.has_any(&[
        domain::access::roles::Role::Owner,
        domain::access::roles::Role::Client,
    ]);
    Ok(state
        .page(
            &auth.info,
            "parties/profile.html",
            context! { p => ser(&party), history => ser(&history), can_edit, own => true },
        )?
        .into_response())
}

/// Who may edit their company's details: the supplier's owner, a client user.
fn may_edit(actor: &domain::access::Actor) -> bool {
    actor.has_any(&[
        domain::access::roles::Role::Owner,
        domain::access::roles::Role::Client,
    ])
}

async fn edit_form(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    if !may_edit(&auth.actor) {
        return Err(AppError::Forbidden);
    }
    let party = parties::get(&state.services, &auth.actor, auth.actor.org_id()).await?;
    edit_page(
        &state,
        &auth,
        &party,
        &party.to_input(),
        minijinja::Value::UNDEFINED,
        None,
        StatusCode::OK,
    )
}

fn edit_page(
    state: &AppState,
    auth: &Auth<AnyUser>,
    party: &parties::Party,
    form: &CompanyInput,
    errors: minijinja::Value,
    lookup: Option<Lookup>,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            &auth.info,
            "parties/edit.html",
            context! {
                p => ser(party), form => ser(form), errors, lookup => ser(&lookup),
                registry => state.services.registry.is_configured(),
                vat_modes => vat_modes(),
                kind => party.kind.clone(),
                moderated => ser(&parties::MODERATED_FIELDS),
            },
        )?,
    )
        .into_response())
}

async fn edit(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    body: String,
) -> AppResult<Response> {
    if !may_edit(&auth.actor) {
        return Err(AppError::Forbidden);
    }
    let form: CompanyInput =
        serde_urlencoded::from_str(&body).map_err(|_| AppError::BadRequest("form"))?;
    let submit: Submit = serde_urlencoded::from_str(&body).unwrap_or_default();
    let party = parties::get(&state.services, &auth.actor, auth.actor.org_id()).await?;
    if submit.lookup.is_some() {
        let (filled, lookup) = parties::fill_from_registry(&state.services, &form).await;
        return edit_page(
            &state,
            &auth,
            &party,
            &filled,
            minijinja::Value::UNDEFINED,
            Some(lookup),
            StatusCode::OK,
        );
    }
    match parties::update_details(&state.services, &auth.actor, party.id, &form).await {
        Ok(saved) => {
            let flash = match saved {
                parties::DetailsSaved::Unchanged => "flash-nothing-changed",
                parties::DetailsSaved::Saved => "flash-saved",
                parties::DetailsSaved::SentToModeration => "flash-sent-to-moderation",
            };
            Ok(redirect_with_flash(
                "/profile",
                flash,
                state.config.secure_cookies,
            ))
        }
        Err(DomainError::Invalid(errors)) => edit_page(
            &state,
            &auth,
            &party,
            &form,
            ser(&error_map(&errors)),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

async fn resubmit(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
) -> AppResult<Response> {
    parties::resubmit(&state.services, &auth.actor).await?;
    Ok(redirect_with_flash(
        "/profile",
        "flash-resubmitted",
        state.config.secure_cookies,
    ))
}

async fn contacts(State(state): State<AppState>, auth: Auth<ClientUser>) -> AppResult<Response> {
    contacts_page(
        &state,
        &auth,
        &ContactInput::default(),
        minijinja::Value::UNDEFINED,
        StatusCode::OK,
    )
    .await
}

async fn contacts_page(
    state: &AppState,
    auth: &Auth<ClientUser>,
    form: &ContactInput,
    errors: minijinja::Value,
    status: StatusCode,
) -> AppResult<Response> {
    let list = parties::contacts(&state.services, &auth.actor, auth.actor.org_id()).await?;
    Ok((
        status,
        state.page(
            &auth.info,
            "parties/contacts.html",
            context! { contacts => ser(&list), form => ser(form), errors },
        )?,
    )
        .into_response())
}

async fn add_contact(
    State(state): State<AppState>,
    auth: Auth<ClientUser>,
    Form(form): Form<ContactInput>,
) -> AppResult<Response> {
    match parties::add_contact(&state.services, &auth.actor, &form).await {
        Ok(_) => Ok(redirect_with_flash(
            "/profile/contacts",
            "flash-saved",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => {
            contacts_page(
                &state,
                &auth,
                &form,
                ser(&error_map(&e)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn delete_contact(
    State(state): State<AppState>,
    auth: Auth<ClientUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    parties::delete_contact(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        "/profile/contacts",
        "flash-deleted",
        state.config.secure_cookies,
    ))
}

/// Organisations a page of a directory shows.
const DIRECTORY_PAGE: u32 = 100;

async fn directory(
    state: &AppState,
    auth: &Auth<FrontOffice>,
    kind: OrgKind,
    mut f: DirectoryFilter,
    (page, raw): (i64, Option<String>),
) -> AppResult<Response> {
    // One row more than a page: whether another page follows.
    f.limit = Some(DIRECTORY_PAGE + 1);
    f.offset = (page as u32 - 1) * DIRECTORY_PAGE;
    let mut rows = parties::directory(&state.services, &auth.actor, kind, &f).await?;
    let has_next = rows.len() > DIRECTORY_PAGE as usize;
    rows.truncate(DIRECTORY_PAGE as usize);
    let path = format!("/{}s", kind.as_str());
    let pager = Pager::new(&path, raw.as_deref(), page, has_next);
    let categories: Vec<(String, String)> = state
        .services
        .equipment
        .categories
        .iter()
        .map(|c| (c.code.clone(), c.title.clone()))
        .collect();
    let statuses: &[&str] = match kind {
        OrgKind::Supplier => &[
            "unconfirmed",
            "pending",
            "changes_requested",
            "approved",
            "rejected",
            "suspended",
        ],
        _ => &["active"],
    };
    Ok(state
        .page(
            &auth.info,
            "parties/directory.html",
            context! {
                kind => kind.as_str(), rows => ser(&rows), f => ser(&FilterView::from(&f)),
                pager => ser(&pager),
                categories => ser(&categories), statuses => ser(&statuses),
            },
        )?
        .into_response())
}

#[derive(serde::Serialize)]
struct FilterView {
    q: String,
    status: String,
    region: String,
    category: String,
}

impl From<&DirectoryFilter> for FilterView {
    fn from(f: &DirectoryFilter) -> Self {
        FilterView {
            q: f.q.clone().unwrap_or_default(),
            status: f.status.clone().unwrap_or_default(),
            region: f.region.clone().unwrap_or_default(),
            category: f.category.clone().unwrap_or_default(),
        }
    }
}

async fn suppliers(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Query(f): Query<DirectoryFilter>,
    Query(page): Query<PageQuery>,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let pages = (page.number(), raw);
    directory(&state, &auth, OrgKind::Supplier, f, pages).await
}

async fn clients(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Query(f): Query<DirectoryFilter>,
    Query(page): Query<PageQuery>,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let pages = (page.number(), raw);
    directory(&state, &auth, OrgKind::Client, f, pages).await
}

async fn card(
    State(state): State<AppState>,
    auth: Auth<Staff>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let s = &state.services;
    let party = parties::get(s, &auth.actor, id).await?;
    if party.kind == "broker" {
        return Err(AppError::NotFound);
    }
    let history = parties::changes(s, &auth.actor, id).await?;
    let people = domain::accounts::list_users(
        &state.db,
        &auth.actor,
        &domain::accounts::UserFilter {
            org_id: Some(id),
            ..Default::default()
        },
    )
    .await?;
    let employees = if party.kind == "supplier" {
        domain::parties::employees::list(s, &auth.actor, id, false).await?
    } else {
        Vec::new()
    };
    let machines = if party.kind == "supplier" {
        domain::fleet::garage::list(s, &auth.actor, id, &Default::default()).await?
    } else {
        Vec::new()
    };
    let contacts = if party.kind == "client" {
        parties::contacts(s, &auth.actor, id).await?
    } else {
        Vec::new()
    };
    let instances = domain::workflows::instances_of(s, &auth.actor, &party.kind, id).await?;
    let score = if party.kind == "supplier" {
        Some(domain::deals::scoring::for_supplier(s, &auth.actor, id).await?)
    } else {
        None
    };
    let categories: std::collections::BTreeMap<&str, &str> = s
        .equipment
        .categories
        .iter()
        .map(|c| (c.code.as_str(), c.title.as_str()))
        .collect();
    Ok(state
        .page(
            &auth.info,
            "parties/card.html",
            context! {
                p => ser(&party), history => ser(&history), people => ser(&people),
                employees => ser(&employees), machines => ser(&machines), contacts => ser(&contacts),
                instances => ser(&instances), categories => ser(&categories), score => ser(&score),
                may_inspect => domain::workflows::may_inspect(&auth.actor),
            },
        )?
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReasonForm {
    reason: String,
}

async fn suspend(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
    Form(f): Form<ReasonForm>,
) -> AppResult<Response> {
    parties::set_suspended(&state.services, &auth.actor, id, true, &f.reason).await?;
    Ok(redirect_with_flash(
        &format!("/parties/{id}"),
        "flash-supplier-suspended",
        state.config.secure_cookies,
    ))
}

async fn unsuspend(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    parties::set_suspended(&state.services, &auth.actor, id, false, "").await?;
    Ok(redirect_with_flash(
        &format!("/parties/{id}"),
        "flash-supplier-unsuspended",
        state.config.secure_cookies,
    ))
}
