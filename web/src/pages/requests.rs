//! Requests: the lists (staff: mine, all for admins, filters and search;
//! clients: their own), the request page (staff: every field, the client,
//! owner, hunter, channel, workflow state, history and the current task;
//! clients: what they asked for and its status — never a supplier's name or
//! price), the client cabinet's own form, and the staff's edit while a
//! request is being qualified.
//!
//! The forms of every channel are rendered from the request type (YAML)
//! with the shared macros of `templates/requests/_form.html`; this module
//! also holds the helpers the other intake pages use to read such a form.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{
    DefaultBodyLimit, FromRequest, Multipart, Path, Query, RawQuery, Request, State,
};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::error::DomainError;
use domain::intake::request_types::{RequestType, TIMEZONES};
use domain::intake::requests::{self, Channel, RequestFilter, RequestInput};
use domain::intake::{self, Attachment, ClientChoice, IntakeRequest};
use minijinja::{Value, context};
use serde_json::Value as Json;

use crate::AppState;
use crate::auth::{Auth, ClientUser, FrontOffice, RequestReaders};
use crate::error::{AppError, AppResult};
use crate::forms::error_map;
use crate::layout::redirect_with_flash;
use crate::pager::{PageQuery, Pager};
use crate::pages::board;
use crate::render::ser;

/// The largest request form (with its attachments).
pub const MAX_FORM: usize = 25 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests", get(list))
        .route("/requests/new", get(new_choice))
        .route(
            "/requests/new/{code}",
            get(cabinet_form).post(cabinet_submit),
        )
        .route("/requests/{id}", get(show))
        .route("/requests/{id}/edit", get(edit_form).post(edit))
        .route("/requests/{id}/client/confirm", post(confirm_client))
        .route("/requests/{id}/client/split", post(split_client))
        .layer(DefaultBodyLimit::max(MAX_FORM))
}

/// A submitted request form: its text fields and files.
pub struct Submitted {
    pub fields: BTreeMap<String, String>,
    pub files: Vec<Attachment>,
}

impl Submitted {
    pub fn text(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }

    /// The request part of the form (`f.<id>` for the type's own fields).
    pub fn request_input(&self, code: &str) -> RequestInput {
        RequestInput {
            request_type: code.to_string(),
            wanted_from: self.text("wanted_from"),
            wanted_to: self.text("wanted_to"),
            duration: self.text("duration"),
            comment: self.text("comment"),
            contact_name: self.text("contact_name"),
            contact_phone: self.text("contact_phone"),
            contact_email: self.text("contact_email"),
            fields: self
                .fields
                .iter()
                .filter(|(k, _)| k.starts_with("f."))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// Reads a request form sent as `multipart/form-data` (with files, field
/// `attachments`, several allowed) or as a plain urlencoded form.
pub async fn read_submitted(req: Request, max_total: usize) -> AppResult<Submitted> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    let mut out = Submitted {
        fields: BTreeMap::new(),
        files: Vec::new(),
    };
    if multipart {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|_| AppError::BadRequest("form"))?;
        let mut total = 0usize;
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|_| AppError::BadRequest("upload.too_large"))?
        {
            let name = field.name().unwrap_or_default().to_string();
            let file_name = field.file_name().map(str::to_string);
            let bytes = field
                .bytes()
                .await
                .map_err(|_| AppError::BadRequest("upload.too_large"))?;
            total += bytes.len();
            if total > max_total {
                return Err(AppError::BadRequest("upload.too_large"));
            }
            match file_name {
                Some(f) if !bytes.is_empty() => out.files.push(Attachment {
                    name: f,
                    bytes: bytes.to_vec(),
                }),
                Some(_) => {}
                None => {
                    out.fields
                        .insert(name, String::from_utf8_lossy(&bytes).into_owned());
                }
            }
        }
    } else {
        let bytes = to_bytes(req.into_body(), max_total)
            .await
            .map_err(|_| AppError::BadRequest("upload.too_large"))?;
        for (k, v) in url::form_urlencoded::parse(&bytes) {
            out.fields.insert(k.into_owned(), v.into_owned());
        }
    }
    Ok(out)
}

/// A fresh form of a type: its defaults filled in.
pub fn fresh_input(t: &RequestType) -> RequestInput {
    let mut fields = BTreeMap::new();
    for f in &t.fields {
        let text = match &f.default {
            Some(Json::Bool(true)) => "1".to_string(),
            Some(Json::Bool(false)) | Some(Json::Null) | None => continue,
            Some(Json::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        fields.insert(format!("f.{}", f.id), text);
    }
    RequestInput {
        request_type: t.code.clone(),
        fields,
        ..Default::default()
    }
}

/// What the form macros need to render a type: the type, the titles of its
/// equipment categories and the time zones a site can be in.
pub fn type_context(state: &AppState, t: &RequestType) -> Value {
    let categories: BTreeMap<&str, &str> = t
        .categories
        .iter()
        .filter_map(|c| {
            state
                .services
                .equipment
                .category(c)
                .map(|cat| (c.as_str(), cat.title.as_str()))
        })
        .collect();
    context! {
        rt => ser(t),
        categories => ser(&categories),
        timezones => ser(&TIMEZONES),
    }
}

/// The request types, as cards list them.
pub fn types_list(state: &AppState) -> Value {
    ser(&state.services.request_types.0)
}

/// The request type of a path, or 404.
pub fn type_of<'a>(state: &'a AppState, code: &str) -> AppResult<&'a RequestType> {
    state
        .services
        .request_types
        .get(code)
        .ok_or(AppError::NotFound)
}

/// The status and channel values filters offer.
fn filter_options() -> Value {
    context! {
        statuses => ser(&requests::STATUSES),
        channels => ser(&Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()),
    }
}

/// Requests a page of the list shows.
const LIST_PAGE: u32 = 100;

async fn list(
    State(state): State<AppState>,
    auth: Auth<RequestReaders>,
    Query(mut f): Query<RequestFilter>,
    Query(page): Query<PageQuery>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let s = &state.services;
    // One row more than a page: whether another page follows.
    f.limit = Some(LIST_PAGE + 1);
    f.offset = (page.number() as u32 - 1) * LIST_PAGE;
    let mut rows = requests::list(s, &auth.actor, &f, state.config.timezone).await?;
    let has_next = rows.len() > LIST_PAGE as usize;
    rows.truncate(LIST_PAGE as usize);
    let pager = Pager::new("/requests", query.as_deref(), page.number(), has_next);
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let margins = board::margins_by_id(&state, &auth.actor, &ids).await?;
    let saved = board::saved_context(&state, &auth.actor, "requests", query).await?;
    let colleagues = board::colleagues(&state, &auth.actor).await?;
    let template = if auth.actor.is_staff() {
        "requests/list.html"
    } else {
        "requests/my_list.html"
    };
    let mine = requests::only_mine(&auth.actor, &f);
    Ok(state
        .page(
            &auth.info,
            template,
            context! {
                rows => ser(&rows),
                f => ser(&f),
                pager => ser(&pager),
                mine,
                is_admin => auth.actor.has(domain::access::roles::Role::Admin),
                types => types_list(&state),
                options => filter_options(),
                margins,
                saved,
                colleagues,
            },
        )?
        .into_response())
}

async fn new_choice(
    State(state): State<AppState>,
    auth: Auth<RequestReaders>,
) -> AppResult<Response> {
    if auth.actor.is_staff() {
        return Ok(Redirect::to("/intake").into_response());
    }
    Ok(state
        .page(
            &auth.info,
            "requests/new_types.html",
            context! { types => types_list(&state), base_path => "/requests/new" },
        )?
        .into_response())
}

fn cabinet_page(
    state: &AppState,
    auth: &Auth<ClientUser>,
    t: &RequestType,
    form: &RequestInput,
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            &auth.info,
            "requests/cabinet_form.html",
            context! { form => ser(form), errors, ..type_context(state, t) },
        )?,
    )
        .into_response())
}

async fn cabinet_form(
    State(state): State<AppState>,
    auth: Auth<ClientUser>,
    Path(code): Path<String>,
) -> AppResult<Response> {
    let t = type_of(&state, &code)?;
    cabinet_page(
        &state,
        &auth,
        t,
        &fresh_input(t),
        Value::UNDEFINED,
        StatusCode::OK,
    )
}

async fn cabinet_submit(
    State(state): State<AppState>,
    auth: Auth<ClientUser>,
    Path(code): Path<String>,
    req: Request,
) -> AppResult<Response> {
    let t = type_of(&state, &code)?;
    let form = read_submitted(req, MAX_FORM).await?;
    let input = form.request_input(&t.code);
    let placed = intake::place(
        &state.services,
        &auth.actor,
        IntakeRequest {
            channel: Channel::Cabinet,
            client: ClientChoice::Existing(auth.actor.org_id()),
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
        Err(DomainError::Invalid(errors)) => cabinet_page(
            &state,
            &auth,
            t,
            &input,
            ser(&error_map(&errors)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

/// A date-time at the request's site, in the site's time zone.
fn site_time(ms: Option<i64>, tz: Option<&str>) -> String {
    requests::local_text(ms, requests::site_tz(tz))
}

async fn show(
    State(state): State<AppState>,
    auth: Auth<RequestReaders>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let s = &state.services;
    let r = requests::get(s, &auth.actor, id).await?;
    let t = s.request_types.get(&r.request_type);
    let shown = requests::shown_fields(t, &r.field_values(), &s.equipment);
    let files = requests::attachments(s, &auth.actor, id).await?;
    let common = context! {
        r => ser(&r),
        rt => ser(&t),
        shown => ser(&shown),
        files => ser(&files),
        wanted_from => site_time(r.wanted_from, r.site_timezone.as_deref()),
        wanted_to => site_time(r.wanted_to, r.site_timezone.as_deref()),
        duration => r.duration.map(requests::number_text),
    };
    if !auth.actor.is_staff() {
        return Ok(state
            .page(&auth.info, "requests/my_show.html", common)?
            .into_response());
    }
    let domain::workflows::Progress {
        instance,
        history,
        tasks,
        titles,
    } = domain::workflows::progress(s, &auth.actor, "request", id).await?;
    let can_edit = requests::may_edit(&auth.actor, &r);
    let margin = domain::deals::offers::margins(s, &auth.actor, &[id])
        .await?
        .remove(&id);
    // A public request that matched a client without proof: who it matched
    // and the two decisions (only the front office decides).
    let client_match = if auth.actor.is_front_office() {
        intake::client_match(s, &auth.actor, id).await?
    } else {
        None
    };
    Ok(state
        .page(
            &auth.info,
            "requests/show.html",
            context! {
                instance => ser(&instance),
                history => ser(&history),
                tasks => ser(&tasks),
                titles => ser(&titles),
                may_inspect => domain::workflows::may_inspect(&auth.actor),
                // Matching, quotes and the client's card are the front
                // office's pages: others get no links that would refuse them.
                front_office => auth.actor.is_front_office(),
                can_edit,
                client_match => ser(&client_match),
                margin => ser(&margin),
                ..common
            },
        )?
        .into_response())
}

fn edit_page(
    state: &AppState,
    auth: &Auth<FrontOffice>,
    r: &requests::RequestDetail,
    t: &RequestType,
    form: &RequestInput,
    errors: Value,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            &auth.info,
            "requests/edit.html",
            context! { r => ser(r), form => ser(form), errors, ..type_context(state, t) },
        )?,
    )
        .into_response())
}

async fn edit_form(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let r = requests::get(&state.services, &auth.actor, id).await?;
    if !requests::may_edit(&auth.actor, &r) {
        return Err(AppError::Conflict("request.not_editable"));
    }
    let t = type_of(&state, &r.request_type)?;
    edit_page(
        &state,
        &auth,
        &r,
        t,
        &r.to_input(),
        Value::UNDEFINED,
        StatusCode::OK,
    )
}

async fn edit(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
    req: Request,
) -> AppResult<Response> {
    let r = requests::get(&state.services, &auth.actor, id).await?;
    let t = type_of(&state, &r.request_type)?;
    let form = read_submitted(req, MAX_FORM).await?;
    let input = form.request_input(&t.code);
    match requests::update(&state.services, &auth.actor, id, &input).await {
        Ok(()) => Ok(redirect_with_flash(
            &format!("/requests/{id}"),
            "flash-saved",
            state.config.secure_cookies,
        )),
        Err(DomainError::Invalid(errors)) => edit_page(
            &state,
            &auth,
            &r,
            t,
            &input,
            ser(&error_map(&errors)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

/// "Это этот клиент": the visitor is the matched client.
async fn confirm_client(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    intake::confirm_client(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        &format!("/requests/{id}"),
        "flash-client-confirmed",
        state.config.secure_cookies,
    ))
}

/// "Это другой клиент": a new client from the typed details takes the request.
async fn split_client(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    intake::split_client(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        &format!("/requests/{id}"),
        "flash-client-split",
        state.config.secure_cookies,
    ))
}
