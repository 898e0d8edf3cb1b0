//! A supplier's employees: dispatchers and drivers with their licences and
//! photo, invitations to create a login, and accepting one.

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use domain::error::DomainError;
use domain::files::Purpose;
use domain::parties::employees::{self, EmployeeInput};
use minijinja::context;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Auth, RequestInfo, SupplierOffice};
use crate::error::{AppError, AppResult};
use crate::forms::error_map;
use crate::layout::redirect_with_flash;
use crate::multipart::MultipartForm;
use crate::render::ser;

const MAX_FORM: usize = 10 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/supplier/employees", get(list))
        .route("/supplier/employees/new", get(new_form).post(create))
        .route("/supplier/employees/{id}", get(edit_form).post(update))
        .route("/supplier/employees/{id}/invite", post(invite))
        .route("/supplier/employees/{id}/archive", post(archive))
        .route("/join/{token}", get(join_form).post(join))
        .layer(DefaultBodyLimit::max(MAX_FORM))
}

async fn list(State(state): State<AppState>, auth: Auth<SupplierOffice>) -> AppResult<Response> {
    let people = employees::list(&state.services, &auth.actor, auth.actor.org_id(), false).await?;
    Ok(state
        .page(
            &auth.info,
            "employees/list.html",
            context! { people => ser(&people) },
        )?
        .into_response())
}

fn form_page(
    state: &AppState,
    auth: &Auth<SupplierOffice>,
    id: Option<i64>,
    form: &EmployeeInput,
    extra: minijinja::Value,
    errors: minijinja::Value,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            &auth.info,
            "employees/form.html",
            context! { id, form => ser(form), e => extra, errors, categories => ser(&employees::LICENCE_CATEGORIES) },
        )?,
    )
        .into_response())
}

async fn new_form(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
) -> AppResult<Response> {
    let form = EmployeeInput {
        role: "driver".into(),
        ..Default::default()
    };
    form_page(
        &state,
        &auth,
        None,
        &form,
        minijinja::Value::UNDEFINED,
        minijinja::Value::UNDEFINED,
        StatusCode::OK,
    )
}

fn input_of(mp: &MultipartForm) -> EmployeeInput {
    EmployeeInput {
        role: mp.text("role"),
        full_name: mp.text("full_name"),
        phone: mp.text("phone"),
        email: mp.text("email"),
        licence_categories: mp.text("licence_categories"),
        operator_licence: mp.text("operator_licence"),
    }
}

/// Stores an attached photo for the actor's organisation.
async fn save_photo(
    state: &AppState,
    auth: &Auth<SupplierOffice>,
    mp: &MultipartForm,
) -> Result<Option<i64>, DomainError> {
    let Some(upload) = mp.files.get("photo") else {
        return Ok(None);
    };
    let s = &state.services;
    let stored = s
        .files
        .accept("photo", Purpose::Photo, &upload.name, &upload.bytes)
        .await?;
    let now = s.db.now();
    let mut tx = s.db.begin().await?;
    let id = stored
        .record(&mut tx, now, auth.actor.org_id(), auth.actor.user())
        .await?;
    tx.commit().await?;
    Ok(Some(id))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    mp: Multipart,
) -> AppResult<Response> {
    let mp = MultipartForm::read(mp, MAX_FORM).await?;
    let input = input_of(&mp);
    let result = match save_photo(&state, &auth, &mp).await {
        Ok(photo) => employees::create(&state.services, &auth.actor, &input, photo).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(id) => Ok(redirect_with_flash(
            &format!("/supplier/employees/{id}"),
            "flash-employee-added",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => form_page(
            &state,
            &auth,
            None,
            &input,
            minijinja::Value::UNDEFINED,
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
    let e = employees::get(&state.services, &auth.actor, id).await?;
    let form = EmployeeInput {
        role: e.role.clone(),
        full_name: e.full_name.clone(),
        phone: e.phone.clone().unwrap_or_default(),
        email: e.email.clone().unwrap_or_default(),
        licence_categories: e.licence_categories.clone().unwrap_or_default(),
        operator_licence: e.operator_licence.clone().unwrap_or_default(),
    };
    form_page(
        &state,
        &auth,
        Some(id),
        &form,
        ser(&e),
        minijinja::Value::UNDEFINED,
        StatusCode::OK,
    )
}

async fn update(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
    mp: Multipart,
) -> AppResult<Response> {
    let current = employees::get(&state.services, &auth.actor, id).await?;
    let mp = MultipartForm::read(mp, MAX_FORM).await?;
    let input = input_of(&mp);
    let result = match save_photo(&state, &auth, &mp).await {
        Ok(photo) => employees::update(&state.services, &auth.actor, id, &input, photo).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(redirect_with_flash(
            &format!("/supplier/employees/{id}"),
            "flash-saved",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => form_page(
            &state,
            &auth,
            Some(id),
            &input,
            ser(&current),
            ser(&error_map(&e)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

async fn invite(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    employees::invite(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        &format!("/supplier/employees/{id}"),
        "flash-employee-invited",
        state.config.secure_cookies,
    ))
}

async fn archive(
    State(state): State<AppState>,
    auth: Auth<SupplierOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    employees::archive(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        "/supplier/employees",
        "flash-employee-archived",
        state.config.secure_cookies,
    ))
}

async fn join_form(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(token): Path<String>,
) -> AppResult<Response> {
    match employees::invitation(&state.services, &token).await {
        Ok(inv) => Ok(state
            .page(
                &info,
                "employees/join.html",
                context! { inv => ser(&inv), token },
            )?
            .into_response()),
        Err(DomainError::Conflict(_)) => Ok((
            StatusCode::GONE,
            state.page(&info, "employees/join.html", context! { token })?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct JoinForm {
    password: String,
    confirm: String,
}

async fn join(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(token): Path<String>,
    Form(f): Form<JoinForm>,
) -> AppResult<Response> {
    match employees::accept_invitation(&state.services, &token, &f.password, &f.confirm).await {
        Ok(_) => Ok(redirect_with_flash(
            "/login",
            "flash-joined",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(e)) => {
            let inv = employees::invitation(&state.services, &token).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                state.page(
                    &info,
                    "employees/join.html",
                    context! { inv => ser(&inv), token, errors => ser(&error_map(&e)) },
                )?,
            )
                .into_response())
        }
        Err(DomainError::Conflict("employee.login_taken")) => {
            Err(AppError::Conflict("employee.login_taken"))
        }
        Err(DomainError::Conflict(_)) => Ok((
            StatusCode::GONE,
            state.page(&info, "employees/join.html", context! { token })?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}
