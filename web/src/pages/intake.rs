//! Staff intake: the contact centre's quick entry (phone lookup first, then
//! the type's form, a new caller created inline), the hunter's own clients
//! and their request form, a client's ownership card (hunter, responsible
//! manager, first order; an admin chooses the manager), and the intake
//! report per channel and per hunter.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Datelike, Duration};
use domain::access::Actor;
use domain::access::roles::Role;
use domain::error::DomainError;
use domain::intake::requests::{self, Channel, RequestInput};
use domain::intake::{self, ClientChoice, ClientInput, IntakeRequest};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{AdminOnly, Auth, FrontOffice, Hunters, IntakeStaff, Operators, Reports};
use crate::error::{AppError, AppResult};
use crate::forms::error_map;
use crate::layout::redirect_with_flash;
use crate::pager::{PageQuery, Pager};
use crate::pages::requests::{
    MAX_FORM, fresh_input, read_submitted, type_context, type_of, types_list,
};
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/intake", get(operator_screen))
        .route("/intake/new", get(new_form).post(new_submit))
        .route("/intake/clients/{id}", get(client_card))
        .route("/intake/clients/{id}/manager", post(choose_manager))
        .route("/intake/clients/{id}/legal-model", post(choose_legal_model))
        .route("/hunter/clients", get(hunter_clients))
        .route(
            "/hunter/clients/new",
            get(hunter_client_form).post(hunter_client_add),
        )
        .route("/reports/intake", get(report))
        .layer(DefaultBodyLimit::max(MAX_FORM))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LookupQuery {
    q: String,
}

async fn operator_screen(
    State(state): State<AppState>,
    auth: Auth<Operators>,
    Query(q): Query<LookupQuery>,
) -> AppResult<Response> {
    let found = intake::lookup(&state.services, &auth.actor, &q.q, state.config.timezone).await?;
    Ok(state
        .page(
            &auth.info,
            "requests/operator.html",
            context! {
                q => q.q.trim(),
                found => ser(&found),
                types => types_list(&state),
                searched => !q.q.trim().is_empty(),
            },
        )?
        .into_response())
}

/// What the staff form was opened for.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
struct NewQuery {
    #[serde(rename = "type")]
    request_type: String,
    client: Option<i64>,
    /// The caller's phone, to start a new client with.
    phone: String,
    /// `operator` or `hunter`; by default the actor's.
    channel: String,
}

/// The channel a staff member places requests through: a hunter's own
/// unless they also take calls; the contact centre's otherwise.
fn channel_for(actor: &Actor, asked: &str) -> Channel {
    let takes_calls = actor.has_any(&[Role::Admin, Role::Operator, Role::Manager]);
    match asked {
        "hunter" if actor.has(Role::Hunter) => Channel::Hunter,
        "operator" if takes_calls => Channel::Operator,
        _ if takes_calls => Channel::Operator,
        _ => Channel::Hunter,
    }
}

#[allow(clippy::too_many_arguments)]
async fn staff_form_page(
    state: &AppState,
    auth: &Auth<IntakeStaff>,
    q: &NewQuery,
    form: &RequestInput,
    client_form: &ClientInput,
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    let t = type_of(state, &q.request_type)?;
    let client = match q.client {
        Some(id) => Some(intake::client_ownership(&state.services, &auth.actor, id).await?),
        None => None,
    };
    let channel = channel_for(&auth.actor, &q.channel);
    Ok((
        status,
        state.page(
            &auth.info,
            "requests/staff_form.html",
            context! {
                q => ser(q),
                client => ser(&client),
                channel => channel.as_str(),
                form => ser(form),
                client_form => ser(client_form),
                legal_forms => ser(&domain::parties::orgs::LEGAL_FORMS),
                errors,
                types => types_list(state),
                ..type_context(state, t)
            },
        )?,
    )
        .into_response())
}

async fn new_form(
    State(state): State<AppState>,
    auth: Auth<IntakeStaff>,
    Query(mut q): Query<NewQuery>,
) -> AppResult<Response> {
    let t = type_of(&state, &q.request_type)?;
    // A caller whose phone is a client's on record calls as that client:
    // the form is that client's, never a new one with the same phone.
    if q.client.is_none() && !q.phone.trim().is_empty() {
        let found = intake::lookup(
            &state.services,
            &auth.actor,
            &q.phone,
            state.config.timezone,
        )
        .await?;
        if let [only] = found.matches.as_slice() {
            q.client = Some(only.client.id);
        }
    }
    let mut form = fresh_input(t);
    form.contact_phone = q.phone.clone();
    if let Some(id) = q.client {
        // The client's own contact, until the operator types the caller's.
        let c = intake::client_ownership(&state.services, &auth.actor, id).await?;
        form.contact_name = c.contact_name.clone().unwrap_or_default();
        if form.contact_phone.is_empty() {
            form.contact_phone = c.phone.clone().unwrap_or_default();
        }
        form.contact_email = c.email.clone().unwrap_or_default();
    }
    let client_form = ClientInput {
        legal_form: "person".into(),
        ..Default::default()
    };
    staff_form_page(
        &state,
        &auth,
        &q,
        &form,
        &client_form,
        Value::UNDEFINED,
        StatusCode::OK,
    )
    .await
}

async fn new_submit(
    State(state): State<AppState>,
    auth: Auth<IntakeStaff>,
    req: Request,
) -> AppResult<Response> {
    let form = read_submitted(req, MAX_FORM).await?;
    let q = NewQuery {
        request_type: form.text("request_type"),
        client: form.text("client").parse().ok(),
        phone: String::new(),
        channel: form.text("channel"),
    };
    let t = type_of(&state, &q.request_type)?;
    let input = form.request_input(&t.code);
    let client_form = ClientInput {
        legal_form: form.text("legal_form"),
        company_name: form.text("company_name"),
        inn: form.text("inn"),
        ..Default::default()
    };
    let client = match q.client {
        Some(id) => ClientChoice::Existing(id),
        None => ClientChoice::New(client_form.clone()),
    };
    let placed = intake::place(
        &state.services,
        &auth.actor,
        IntakeRequest {
            channel: channel_for(&auth.actor, &q.channel),
            client,
            input: input.clone(),
            attachments: form.files,
        },
    )
    .await;
    match placed {
        Ok(created) => Ok(redirect_with_flash(
            &format!("/requests/{}", created.id),
            "flash-request-created",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(errors)) => {
            staff_form_page(
                &state,
                &auth,
                &q,
                &input,
                &client_form,
                ser(&error_map(&errors)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn client_card(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let s = &state.services;
    let c = intake::client_ownership(s, &auth.actor, id).await?;
    let rows = intake::client_requests(s, &auth.actor, id, state.config.timezone).await?;
    let is_admin = auth.actor.has(Role::Admin);
    let managers = if is_admin {
        intake::managers(s).await?
    } else {
        Vec::new()
    };
    let legal_model = domain::tax::client_override(&s.db, id)
        .await?
        .map(|m| m.as_str());
    Ok(state
        .page(
            &auth.info,
            "requests/client.html",
            context! {
                c => ser(&c),
                with_hunter => c.with_hunter(),
                rows => ser(&rows),
                managers => ser(&managers),
                is_admin,
                legal_model,
                types => types_list(&state),
            },
        )?
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LegalModelForm {
    legal_model: String,
}

/// An administrator gives a client its own legal model (or the company's).
async fn choose_legal_model(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
    Path(id): Path<i64>,
    Form(f): Form<LegalModelForm>,
) -> AppResult<Response> {
    domain::tax::choose_for_client(&state.services.db, &auth.actor, id, &f.legal_model).await?;
    Ok(redirect_with_flash(
        &format!("/intake/clients/{id}"),
        "flash-saved",
        state.config.secure_cookies,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ManagerForm {
    manager_id: String,
}

async fn choose_manager(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
    Path(id): Path<i64>,
    Form(f): Form<ManagerForm>,
) -> AppResult<Response> {
    let manager = match f.manager_id.trim() {
        "" => None,
        v => Some(
            v.parse::<i64>()
                .map_err(|_| AppError::BadRequest("manager.invalid"))?,
        ),
    };
    let done = intake::set_manager(&state.services, &auth.actor, id, manager).await?;
    let flash = match done {
        intake::ManagerSet::Planned => "flash-manager-planned",
        intake::ManagerSet::Assigned => "flash-manager-assigned",
    };
    Ok(redirect_with_flash(
        &format!("/intake/clients/{id}"),
        flash,
        state.config.secure_cookies,
    ))
}

/// Clients a page of the hunter's list shows.
const HUNTER_PAGE: u32 = 100;

async fn hunter_clients(
    State(state): State<AppState>,
    auth: Auth<Hunters>,
    Query(q): Query<LookupQuery>,
    Query(page): Query<PageQuery>,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    // One row more than a page: whether another page follows.
    let window = (HUNTER_PAGE + 1, (page.number() as u32 - 1) * HUNTER_PAGE);
    let mut rows = intake::hunter_clients(&state.services, &auth.actor, &q.q, window).await?;
    let has_next = rows.len() > HUNTER_PAGE as usize;
    rows.truncate(HUNTER_PAGE as usize);
    let pager = Pager::new("/hunter/clients", raw.as_deref(), page.number(), has_next);
    Ok(state
        .page(
            &auth.info,
            "requests/hunter_clients.html",
            context! {
                rows => ser(&rows), q => q.q.trim(), types => types_list(&state),
                pager => ser(&pager),
            },
        )?
        .into_response())
}

fn hunter_client_page(
    state: &AppState,
    auth: &Auth<Hunters>,
    form: &ClientInput,
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            &auth.info,
            "requests/hunter_client_form.html",
            context! { form => ser(form), errors, legal_forms => ser(&domain::parties::orgs::LEGAL_FORMS) },
        )?,
    )
        .into_response())
}

async fn hunter_client_form(
    State(state): State<AppState>,
    auth: Auth<Hunters>,
) -> AppResult<Response> {
    let form = ClientInput {
        legal_form: "ooo".into(),
        ..Default::default()
    };
    hunter_client_page(&state, &auth, &form, Value::UNDEFINED, StatusCode::OK)
}

async fn hunter_client_add(
    State(state): State<AppState>,
    auth: Auth<Hunters>,
    Form(form): Form<ClientInput>,
) -> AppResult<Response> {
    match intake::add_hunter_client(&state.services, &auth.actor, &form).await {
        Ok(id) => Ok(redirect_with_flash(
            &format!("/intake/clients/{id}"),
            "flash-client-added",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(errors)) => hunter_client_page(
            &state,
            &auth,
            &form,
            ser(&error_map(&errors)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(DomainError::Conflict(code)) => {
            let mut e = domain::error::FieldErrors::new();
            e.add("company_name", code);
            hunter_client_page(
                &state,
                &auth,
                &form,
                ser(&error_map(&e)),
                StatusCode::CONFLICT,
            )
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Period {
    from: String,
    to: String,
}

async fn report(
    State(state): State<AppState>,
    auth: Auth<Reports>,
    Query(mut p): Query<Period>,
) -> AppResult<Response> {
    let tz = state.config.timezone;
    let today = state.services.db.now().with_timezone(&tz).date_naive();
    if p.from.trim().is_empty() {
        p.from = today
            .with_day(1)
            .unwrap_or(today)
            .format("%Y-%m-%d")
            .to_string();
    }
    if p.to.trim().is_empty() {
        p.to = today.format("%Y-%m-%d").to_string();
    }
    let (Some(from), Some(to)) = (
        requests::day_start(&p.from, tz),
        requests::day_start(&p.to, tz),
    ) else {
        return Err(AppError::BadRequest("date.invalid"));
    };
    let to = to + Duration::days(1).num_milliseconds();
    let r = intake::report(&state.services, &auth.actor, from, to).await?;
    Ok(state
        .page(
            &auth.info,
            "requests/report.html",
            context! { r => ser(&r), p => ser(&p) },
        )?
        .into_response())
}
