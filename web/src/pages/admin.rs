//! The administrator's workplace: staff accounts, the message outbox, and
//! what the workflow workers could not do (failed and retrying actions,
//! failed timers, broken instances — see `domain::operations`), with a
//! retry for a failed action or timer once its cause is fixed.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::access::roles::Role;
use domain::accounts::{UserFilter, UserInput};
use domain::error::DomainError;
use minijinja::context;

use crate::render::ser;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{AdminOnly, Auth};
use crate::error::{AppError, AppResult};
use crate::forms::error_map;
use crate::layout::redirect_with_flash;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users))
        .route("/admin/users/new", get(new_user_page).post(create_user))
        .route("/admin/users/{id}", get(user_page).post(update_user))
        .route("/admin/outbox", get(outbox))
        .route("/admin/workflow-problems", get(workflow_problems))
        .route(
            "/admin/workflow-problems/actions/{id}/retry",
            post(retry_action),
        )
        .route(
            "/admin/workflow-problems/timers/{id}/retry",
            post(retry_timer),
        )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UsersQuery {
    q: Option<String>,
    role: Option<String>,
}

async fn users(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
    Query(q): Query<UsersQuery>,
) -> AppResult<Response> {
    let filter = UserFilter {
        org_id: Some(auth.actor.org_id()),
        role: q.role.as_deref().and_then(Role::parse),
        text: q.q.clone(),
    };
    let users = domain::accounts::list_users(&state.db, &auth.actor, &filter).await?;
    Ok(state
        .page(
            &auth.info,
            "admin/users.html",
            context! { users => ser(&users), q => q.q, role => q.role, staff_roles => staff_roles() },
        )?
        .into_response())
}

fn staff_roles() -> Vec<&'static str> {
    Role::STAFF.iter().map(|r| r.as_str()).collect()
}

/// A user form as submitted: roles arrive as repeated `roles` fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UserForm {
    full_name: String,
    email: String,
    phone: String,
    password: String,
    status: String,
}

fn roles_from(body: &str) -> Vec<String> {
    url::form_urlencoded::parse(body.as_bytes())
        .filter(|(k, _)| k == "roles")
        .map(|(_, v)| v.into_owned())
        .collect()
}

async fn new_user_page(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
) -> AppResult<Response> {
    Ok(state
        .page(
            &auth.info,
            "admin/user_new.html",
            context! { staff_roles => staff_roles(), form => context!{ roles => Vec::<String>::new() } },
        )?
        .into_response())
}

async fn create_user(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
    body: String,
) -> AppResult<Response> {
    let form: UserForm =
        serde_urlencoded::from_str(&body).map_err(|_| AppError::BadRequest("form"))?;
    let roles = roles_from(&body);
    let input = UserInput {
        full_name: form.full_name.clone(),
        email: form.email.clone(),
        phone: form.phone.clone(),
        roles: roles.clone(),
        password: form.password.clone(),
    };
    match domain::accounts::create_colleague(&state.services, &auth.actor, &input).await {
        Ok(id) => Ok(redirect_with_flash(
            &format!("/admin/users/{id}"),
            "flash-user-created",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            state.page(
                &auth.info,
                "admin/user_new.html",
                context! {
                    staff_roles => staff_roles(),
                    form => context! {
                        full_name => form.full_name, email => form.email,
                        phone => form.phone, roles,
                    },
                    errors => error_map(&errors),
                },
            )?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn user_page(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let user = domain::accounts::get_user(&state.db, &auth.actor, id).await?;
    Ok(state
        .page(
            &auth.info,
            "admin/user.html",
            context! { u => ser(&user), staff_roles => staff_roles() },
        )?
        .into_response())
}

async fn update_user(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
    Path(id): Path<i64>,
    body: String,
) -> AppResult<Response> {
    let form: UserForm =
        serde_urlencoded::from_str(&body).map_err(|_| AppError::BadRequest("form"))?;
    let roles = roles_from(&body);
    match domain::accounts::update_colleague(&state.db, &auth.actor, id, &roles, &form.status).await
    {
        Ok(()) => Ok(redirect_with_flash(
            &format!("/admin/users/{id}"),
            "flash-saved",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(errors)) => {
            let user = domain::accounts::get_user(&state.db, &auth.actor, id).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                state.page(
                    &auth.info,
                    "admin/user.html",
                    context! { u => ser(&user), staff_roles => staff_roles(), errors => error_map(&errors), roles },
                )?,
            )
                .into_response())
        }
        Err(DomainError::Conflict(code)) => {
            let user = domain::accounts::get_user(&state.db, &auth.actor, id).await?;
            Ok((
                StatusCode::CONFLICT,
                state.page(
                    &auth.info,
                    "admin/user.html",
                    context! { u => ser(&user), staff_roles => staff_roles(), conflict => code },
                )?,
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OutboxQuery {
    recipient: Option<String>,
    page: Option<i64>,
}

async fn outbox(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
    Query(q): Query<OutboxQuery>,
) -> AppResult<Response> {
    let page = q.page.unwrap_or(1).max(1);
    let messages = domain::notify::list(
        &state.db,
        q.recipient.as_deref().filter(|r| !r.is_empty()),
        50,
        (page - 1) * 50,
    )
    .await
    .map_err(AppError::Internal)?;
    Ok(state
        .page(
            &auth.info,
            "admin/outbox.html",
            context! { messages => ser(&messages), recipient => q.recipient, page },
        )?
        .into_response())
}

const PROBLEMS: &str = "/admin/workflow-problems";

/// The problems page; `refusal` is a retry the engine refused (409).
async fn problems_page(
    state: &AppState,
    auth: &Auth<AdminOnly>,
    refusal: Option<&str>,
) -> AppResult<Response> {
    let p = domain::operations::workflow_problems(&state.services, &auth.actor).await?;
    let status = if refusal.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        state.page(
            &auth.info,
            "admin/workflow_problems.html",
            context! { p => ser(&p), empty => p.is_empty(), refusal },
        )?,
    )
        .into_response())
}

async fn workflow_problems(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
) -> AppResult<Response> {
    problems_page(&state, &auth, None).await
}

/// After a retry: back to the page, or the page with the refusal.
async fn after_retry(
    state: &AppState,
    auth: &Auth<AdminOnly>,
    done: Result<(), DomainError>,
    flash: &str,
) -> AppResult<Response> {
    match done {
        Ok(()) => Ok(redirect_with_flash(
            PROBLEMS,
            flash,
            state.config.secure_cookies,
        )),
        Err(DomainError::Conflict(code)) => problems_page(state, auth, Some(code)).await,
        Err(e) => Err(e.into()),
    }
}

async fn retry_action(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let done = domain::operations::retry_action(&state.services, &auth.actor, id).await;
    after_retry(&state, &auth, done, "flash-action-retried").await
}

async fn retry_timer(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let done = domain::operations::retry_timer(&state.services, &auth.actor, id).await;
    after_retry(&state, &auth, done, "flash-timer-retried").await
}
