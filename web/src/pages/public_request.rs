//! The public request form of the website: `/request` lists the request
//! types, `/request/{type}` is a type's form; `/embed/request…` is the same in a
//! minimal layout for other sites' iframes (framing allowed there only, see
//! `frame_headers` in the crate root; no CSRF token, since third-party
//! iframes do not send our cookies). The JSON twin is
//! `POST /api/public/requests` ([`crate::api`]).
//!
//! Every submission first counts against the per-address rate limit, then
//! the domain checks the honeypot, the captcha and the form, and stores the
//! visitor's request — or nothing at all.
//!
//! The form used to live under `/order`; an order is now what follows an
//! accepted offer, so the old addresses answer with permanent redirects
//! (308, so a form posted to an old address is posted again, not lost).

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use domain::error::DomainError;
use domain::intake::{self, PublicSubmission};
use minijinja::{Value, context};

use crate::AppState;
use crate::auth::RequestInfo;
use crate::error::AppResult;
use crate::forms::error_map;
use crate::pages::requests::{
    MAX_FORM, fresh_input, read_submitted, type_context, type_of, types_list,
};
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/request", get(types_page))
        .route("/request/{code}", get(form_page).post(submit))
        .route("/embed/request", get(types_page))
        .route("/embed/request/{code}", get(form_page).post(submit))
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .route("/order", any(moved))
        .route("/order/{*rest}", any(moved))
        .route("/embed/order", any(moved))
        .route("/embed/order/{*rest}", any(moved))
}

/// The form's old addresses (`/order…`, `/embed/order…`): a permanent
/// redirect to the same place under `/request`, query included.
async fn moved(uri: Uri) -> Redirect {
    let path = uri.path();
    let new = match path.strip_prefix("/embed/order") {
        Some(rest) => format!("/embed/request{rest}"),
        None => format!(
            "/request{}",
            path.strip_prefix("/order").unwrap_or_default()
        ),
    };
    match uri.query() {
        Some(q) => Redirect::permanent(&format!("{new}?{q}")),
        None => Redirect::permanent(&new),
    }
}

/// Which face of the form a path is: the site's page or the embeddable one.
struct Face {
    embed: bool,
}

impl Face {
    fn of(info: &RequestInfo) -> Face {
        Face {
            embed: info.path.starts_with("/embed/"),
        }
    }

    fn base_path(&self) -> &'static str {
        if self.embed {
            "/embed/request"
        } else {
            "/request"
        }
    }

    fn layout(&self) -> &'static str {
        if self.embed {
            "public/embed.html"
        } else {
            "base.html"
        }
    }
}

async fn types_page(State(state): State<AppState>, info: RequestInfo) -> AppResult<Response> {
    let face = Face::of(&info);
    Ok(state
        .page(
            &info,
            "public/request_types.html",
            context! {
                types => types_list(&state),
                base_path => face.base_path(),
                layout => face.layout(),
                embed => face.embed,
            },
        )?
        .into_response())
}

#[allow(clippy::too_many_arguments)]
fn form_view(
    state: &AppState,
    info: &RequestInfo,
    code: &str,
    form: &domain::intake::requests::RequestInput,
    company: (&str, &str),
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    let face = Face::of(info);
    let t = type_of(state, code)?;
    Ok((
        status,
        state.page(
            info,
            "public/request_form.html",
            context! {
                form => ser(form),
                company_name => company.0,
                inn => company.1,
                errors,
                base_path => face.base_path(),
                layout => face.layout(),
                embed => face.embed,
                captcha => state.captcha.enabled(),
                ..type_context(state, t)
            },
        )?,
    )
        .into_response())
}

async fn form_page(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(code): Path<String>,
) -> AppResult<Response> {
    let t = type_of(&state, &code)?;
    form_view(
        &state,
        &info,
        &code,
        &fresh_input(t),
        ("", ""),
        Value::UNDEFINED,
        StatusCode::OK,
    )
}

async fn submit(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(code): Path<String>,
    req: Request,
) -> AppResult<Response> {
    let t = type_of(&state, &code)?;
    let s = &state.services;
    intake::admit_public(s, info.ip.as_deref(), state.config.public_rate_limit).await?;
    let form = read_submitted(req, MAX_FORM).await?;
    let sub = PublicSubmission {
        input: form.request_input(&t.code),
        company_name: form.text("company_name"),
        inn: form.text("inn"),
        website: form.text("website"),
        captcha_token: form.text("captcha_token"),
        type_errors: Default::default(),
    };
    let result = intake::submit_public(
        s,
        state.captcha.as_ref(),
        info.ip.as_deref(),
        sub.clone(),
        form.files,
    )
    .await;
    match result {
        Ok(created) => {
            let face = Face::of(&info);
            Ok(state
                .page(
                    &info,
                    "public/request_done.html",
                    context! {
                        number => created.number,
                        email => sub.input.contact_email.trim(),
                        phone => sub.input.contact_phone.trim(),
                        rt => ser(t),
                        base_path => face.base_path(),
                        layout => face.layout(),
                        embed => face.embed,
                    },
                )?
                .into_response())
        }
        Err(DomainError::Invalid(errors)) => form_view(
            &state,
            &info,
            &code,
            &sub.input,
            (&sub.company_name, &sub.inn),
            ser(&error_map(&errors)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}
