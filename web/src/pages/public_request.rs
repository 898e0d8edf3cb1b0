//! The public request form of the website: `/request` lists the request
//! types, `/request/{type}` is a type's form; `/embed/request…` is the same in a
//! minimal layout for other sites' iframes (framing allowed there only, see
//! `frame_headers` in the crate root; no CSRF token, since third-party
//! iframes do not send our cookies). The JSON twin is
//! `POST /api/public/requests` ([`crate::api`]).
//!
//! Every submission first counts against the per-address rate limit, then
//! the domain checks the honeypot, the captcha and the form, and stores the
//! visitor's request — or nothing at all. The same submission again within
//! the duplicate window is the request stored the first time.
//!
//! Post/Redirect/Get: a stored request answers `303` to `…/{type}/sent`,
//! so reloading the answer posts nothing and the address bar keeps neither
//! the form's CSRF token nor the number. The "sent" page shows the number
//! only to the browser that sent it: a one-time receipt token in a
//! short-lived HttpOnly cookie (`podryad_sent`).
//!
//! The form used to live under `/order`; an order is now what follows an
//! accepted offer, so the old addresses answer with permanent redirects
//! (308, so a form posted to an old address is posted again, not lost).

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use domain::error::DomainError;
use domain::intake::{self, PublicSubmission};
use minijinja::{Value, context};

use crate::AppState;
use crate::auth::{RequestInfo, cookie, set_cookie};
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
        .route("/request/{code}/sent", get(sent_page))
        .route("/embed/request", get(types_page))
        .route("/embed/request/{code}", get(form_page).post(submit))
        .route("/embed/request/{code}/sent", get(sent_page))
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

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct SentQuery {
    receipt: Option<String>,
}

/// The cookie that holds the sender's receipt token.
const SENT_COOKIE: &str = "podryad_sent";

/// The answer after the form: the number, to the browser that sent it;
/// anyone else (or later) sees only that requests are answered by e-mail or
/// SMS.
async fn sent_page(
    State(state): State<AppState>,
    info: RequestInfo,
    Path(code): Path<String>,
    headers: HeaderMap,
    Query(q): Query<SentQuery>,
) -> AppResult<Response> {
    let t = type_of(&state, &code)?;
    let face = Face::of(&info);
    let token = match q.receipt {
        Some(r) if face.embed => Some(r),
        _ => cookie(&headers, SENT_COOKIE).map(str::to_string),
    };
    let receipt = match token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => intake::receipt(&state.services, token).await?,
        None => None,
    };
    Ok(state
        .page(
            &info,
            "public/request_done.html",
            context! {
                number => receipt.as_ref().map(|r| r.number.clone()),
                email => receipt.as_ref().and_then(|r| r.contact_email.clone()),
                phone => receipt.as_ref().and_then(|r| r.contact_phone.clone()),
                rt => ser(t),
                base_path => face.base_path(),
                layout => face.layout(),
                embed => face.embed,
            },
        )?
        .into_response())
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
    let result = intake::submit_public_within(
        s,
        state.captcha.as_ref(),
        info.ip.as_deref(),
        sub.clone(),
        form.files,
        state.config.duplicate_window,
    )
    .await;
    match result {
        Ok(created) => {
            let face = Face::of(&info);
            let token = intake::issue_receipt(s, created.id).await?;
            // Another site's iframe gets no cookie of ours back: the
            // embedded form carries the receipt in the address instead
            // (a random one-time token, never the number).
            let to = if face.embed {
                format!("{}/{}/sent?receipt={token}", face.base_path(), t.code)
            } else {
                format!("{}/{}/sent", face.base_path(), t.code)
            };
            let mut resp = Redirect::to(&to).into_response();
            resp.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(
                    SENT_COOKIE,
                    &token,
                    Some(30 * 60),
                    state.config.secure_cookies,
                ),
            );
            Ok(resp)
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
