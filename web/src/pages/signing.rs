//! Signing (see `domain::signing`): the parties' "documents to sign" and
//! the envelope page (the PDF, the e-signature agreement, the one-time
//! code, the signature with its authority, a rejection); the staff's
//! countersignature, channel override, corrected version and "send for
//! signing"; the admin's countersignature authority; and the public
//! verification page `/verify`.
//!
//! Envelopes are scoped by the domain: another party's envelope is 404.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::error::DomainError;
use domain::signing::{self, copy, pep};
use minijinja::{Value, context};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{AdminOnly, AnyUser, Auth, FrontOffice, RequestInfo};
use crate::error::AppResult;
use crate::forms::error_map;
use crate::layout::redirect_with_flash;
use crate::multipart::MultipartForm;
use crate::render::ser;

/// The largest PDF the verification page accepts.
const MAX_VERIFY_UPLOAD: usize = 32 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signing", get(inbox))
        .route(
            "/signing/authority",
            get(authority_page).post(save_authority),
        )
        .route("/signing/{id}", get(show))
        .route("/signing/{id}/document.pdf", get(original))
        .route("/signing/{id}/signed.pdf", get(signed))
        .route("/signing/{id}/agreement", post(accept_agreement))
        .route("/signing/{id}/code", post(request_code))
        .route("/signing/{id}/sign", post(sign))
        .route("/signing/{id}/reject", post(reject))
        .route("/signing/{id}/countersign", post(countersign))
        .route("/signing/{id}/channel", post(channel))
        .route("/signing/{id}/reissue", post(reissue))
        .route("/orders/{id}/send-for-signing", post(send_order))
        .route(
            "/verify",
            get(verify_page)
                .post(verify_upload)
                .layer(DefaultBodyLimit::max(MAX_VERIFY_UPLOAD)),
        )
}

fn evidence(info: &RequestInfo) -> pep::Evidence {
    pep::Evidence {
        ip: info.ip.clone(),
        user_agent: info.user_agent.clone(),
    }
}

async fn inbox(State(state): State<AppState>, auth: Auth<AnyUser>) -> AppResult<Response> {
    if auth.actor.is_staff() {
        return Ok(Redirect::to("/orders?status=ready_for_signing").into_response());
    }
    let list = signing::inbox(&state.services, &auth.actor).await?;
    Ok(state
        .page(
            &auth.info,
            "signing/list.html",
            context! { envelopes => ser(&list) },
        )?
        .into_response())
}

/// What was typed into the signing form, given back on an error.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(default)]
struct SignForm {
    code: String,
    position: String,
    basis: String,
    poa_number: String,
    poa_date: String,
}

async fn envelope_page(
    state: &AppState,
    auth: &Auth<AnyUser>,
    id: i64,
    form: &SignForm,
    errors: Value,
    sent_to: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let s = &state.services;
    let e = signing::get(s, &auth.actor, id).await?;
    let agreement = pep::agreement(s, e.party_org_id).await?;
    let authority = pep::countersign_authority(s, &auth.actor).await?;
    let agreement_text = state
        .services
        .texts
        .text("esign-agreement-text", &std::collections::HashMap::new());
    Ok((
        status,
        state.page(
            &auth.info,
            "signing/envelope.html",
            context! {
                e => ser(&e),
                agreement => ser(&agreement),
                agreement_version => pep::AGREEMENT_VERSION,
                agreement_text,
                staff => auth.actor.is_staff(),
                signer => signing::signs_for_party(&auth.actor) && !auth.actor.is_staff(),
                can_countersign => authority.is_some(),
                verify_url => copy::verify_url(s, &e.document_sha256),
                channels => signing::CHANNELS,
                form => ser(form),
                sent_to,
                errors,
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
    envelope_page(
        &state,
        &auth,
        id,
        &SignForm::default(),
        Value::UNDEFINED,
        None,
        StatusCode::OK,
    )
    .await
}

/// The envelope page again with the form's errors (422).
async fn refused(
    state: &AppState,
    auth: &Auth<AnyUser>,
    id: i64,
    form: &SignForm,
    e: DomainError,
) -> AppResult<Response> {
    let DomainError::Invalid(errors) = e else {
        return Err(e.into());
    };
    envelope_page(
        state,
        auth,
        id,
        form,
        ser(&error_map(&errors)),
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

fn pdf_response(name: &str, bytes: Vec<u8>) -> Response {
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = crate::forms::content_disposition("inline", name, &ascii);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    resp
}

async fn original(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (name, bytes) = signing::original_pdf(&state.services, &auth.actor, id).await?;
    Ok(pdf_response(&name, bytes))
}

async fn signed(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (name, bytes) = signing::signed_pdf(&state.services, &auth.actor, id).await?;
    Ok(pdf_response(&name, bytes))
}

fn back(state: &AppState, id: i64, flash: &str) -> Response {
    redirect_with_flash(
        &format!("/signing/{id}"),
        flash,
        state.config.secure_cookies,
    )
}

async fn accept_agreement(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    pep::accept_agreement(&state.services, &auth.actor, id, &evidence(&auth.info)).await?;
    Ok(back(&state, id, "flash-signing-agreement"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CodeForm {
    via: String,
}

async fn request_code(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
    Form(f): Form<CodeForm>,
) -> AppResult<Response> {
    match pep::request_code(&state.services, &auth.actor, id, &f.via).await {
        Ok(to) => {
            envelope_page(
                &state,
                &auth,
                id,
                &SignForm::default(),
                Value::UNDEFINED,
                Some(to),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => refused(&state, &auth, id, &SignForm::default(), e).await,
    }
}

async fn sign(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
    Form(f): Form<SignForm>,
) -> AppResult<Response> {
    let input = pep::SignInput {
        code: f.code.clone(),
        position: f.position.clone(),
        basis: f.basis.clone(),
        poa_number: f.poa_number.clone(),
        poa_date: f.poa_date.clone(),
    };
    match pep::sign(
        &state.services,
        &auth.actor,
        id,
        &input,
        &evidence(&auth.info),
    )
    .await
    {
        Ok(()) => Ok(back(&state, id, "flash-signing-signed")),
        Err(e) => {
            // The code is never typed back into the page.
            let kept = SignForm {
                code: String::new(),
                ..f
            };
            refused(&state, &auth, id, &kept, e).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReasonForm {
    reason: String,
}

async fn reject(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
    Form(f): Form<ReasonForm>,
) -> AppResult<Response> {
    match pep::reject(&state.services, &auth.actor, id, &f.reason).await {
        Ok(()) => Ok(back(&state, id, "flash-signing-rejected")),
        Err(e) => refused(&state, &auth, id, &SignForm::default(), e).await,
    }
}

async fn countersign(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    pep::countersign(&state.services, &auth.actor, id, &evidence(&auth.info)).await?;
    Ok(back(&state, id, "flash-signing-countersigned"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ChannelForm {
    channel: String,
    edo_box_id: String,
    remember: Option<String>,
}

async fn channel(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
    Form(f): Form<ChannelForm>,
) -> AppResult<Response> {
    let input = signing::ChannelInput {
        channel: f.channel,
        edo_box_id: f.edo_box_id,
        remember: f.remember.is_some(),
    };
    match signing::set_channel(&state.services, &auth.actor, id, &input).await {
        Ok(()) => Ok(back(&state, id, "flash-signing-channel")),
        Err(e) => refused(&state, &auth, id, &SignForm::default(), e).await,
    }
}

async fn reissue(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let new = pep::reissue(&state.services, &auth.actor, id).await?;
    Ok(back(&state, new, "flash-signing-reissued"))
}

async fn send_order(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    signing::send_order(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        &format!("/orders/{id}"),
        "flash-signing-sent",
        state.config.secure_cookies,
    ))
}

async fn authority_page(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
) -> AppResult<Response> {
    let staff = pep::staff_authorities(&state.services, &auth.actor).await?;
    Ok(state
        .page(
            &auth.info,
            "signing/authority.html",
            context! { staff => ser(&staff), errors => Value::UNDEFINED },
        )?
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AuthorityForm {
    user_id: i64,
    allowed: Option<String>,
    position: String,
    basis: String,
}

async fn save_authority(
    State(state): State<AppState>,
    auth: Auth<AdminOnly>,
    Form(f): Form<AuthorityForm>,
) -> AppResult<Response> {
    match pep::set_authority(
        &state.services,
        &auth.actor,
        f.user_id,
        f.allowed.is_some(),
        &f.position,
        &f.basis,
    )
    .await
    {
        Ok(()) => Ok(redirect_with_flash(
            "/signing/authority",
            "flash-saved",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(errors)) => {
            let staff = pep::staff_authorities(&state.services, &auth.actor).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                state.page(
                    &auth.info,
                    "signing/authority.html",
                    context! {
                        staff => ser(&staff),
                        errors => ser(&error_map(&errors)),
                        failed_user => f.user_id,
                    },
                )?,
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VerifyQuery {
    sha256: String,
}

fn verify_view(
    state: &AppState,
    info: &RequestInfo,
    asked: &str,
    outcome: Option<Result<copy::Verified, ()>>,
    errors: Value,
) -> AppResult<Response> {
    let (found, missing) = match outcome {
        Some(Ok(v)) => (ser(&v), false),
        Some(Err(())) => (Value::UNDEFINED, true),
        None => (Value::UNDEFINED, false),
    };
    let status = if missing {
        StatusCode::NOT_FOUND
    } else if errors.is_undefined() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        state.page(
            info,
            "signing/verify.html",
            context! { found, missing, asked, errors },
        )?,
    )
        .into_response())
}

async fn verify_hash(state: &AppState, info: &RequestInfo, sha: &str) -> AppResult<Response> {
    match copy::verify(&state.services, sha).await {
        Ok(v) => verify_view(state, info, sha, Some(Ok(v)), Value::UNDEFINED),
        Err(DomainError::NotFound) => {
            verify_view(state, info, sha, Some(Err(())), Value::UNDEFINED)
        }
        Err(e) => Err(e.into()),
    }
}

/// The public verification page; `?sha256=` (the QR code's link) checks
/// at once.
async fn verify_page(
    State(state): State<AppState>,
    info: RequestInfo,
    Query(q): Query<VerifyQuery>,
) -> AppResult<Response> {
    if q.sha256.trim().is_empty() {
        return verify_view(&state, &info, "", None, Value::UNDEFINED);
    }
    if copy::parse_sha256(&q.sha256).is_none() {
        let errors = ser(&error_map(&field("sha256", "signing.sha256_format")));
        return verify_view(&state, &info, &q.sha256, None, errors);
    }
    verify_hash(&state, &info, &q.sha256).await
}

fn field(name: &str, code: &str) -> domain::error::FieldErrors {
    let mut e = domain::error::FieldErrors::new();
    e.add(name, code);
    e
}

/// An uploaded PDF (`file`) or a typed SHA-256 (`sha256`).
async fn verify_upload(
    State(state): State<AppState>,
    info: RequestInfo,
    mp: Multipart,
) -> AppResult<Response> {
    use sha2::{Digest, Sha256};
    let form = MultipartForm::read(mp, MAX_VERIFY_UPLOAD).await?;
    let sha = match form.files.get("file") {
        Some(f) if !f.bytes.is_empty() => hex::encode(Sha256::digest(&f.bytes)),
        _ => {
            let typed = form.fields.get("sha256").cloned().unwrap_or_default();
            if copy::parse_sha256(&typed).is_none() {
                let code = if typed.trim().is_empty() {
                    "signing.verify_nothing"
                } else {
                    "signing.sha256_format"
                };
                let errors = ser(&error_map(&field("sha256", code)));
                return verify_view(&state, &info, &typed, None, errors);
            }
            typed
        }
    };
    verify_hash(&state, &info, &sha).await
}
