//! The staff's pipeline board (`/board`), the header search (`/search`),
//! bulk actions on the requests list and the task inbox, and saved
//! filters (issue 11 point 3). The rules are the domain's
//! ([`domain::workplace::board`], [`domain::workplace::find`],
//! [`domain::intake::handling`], [`domain::workflows::bulk`],
//! [`domain::accounts::saved_filters`]); these handlers read forms and
//! render answers.
//!
//! The board works without JavaScript: each card has a select of the
//! columns it may move to and a button; `static/app.js` adds dragging a
//! card onto a column, which submits the same form.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::accounts::saved_filters;
use domain::error::DomainError;
use domain::intake::handling::{self, BulkAction};
use domain::intake::requests::Channel;
use domain::workflows::{self, TaskBulkAction};
use domain::workplace::board::{self, BoardFilter};
use domain::workplace::find;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{Auth, FrontOffice, Staff};
use crate::error::{AppError, AppResult};
use crate::layout::redirect_with_flash;
use crate::pages::requests::types_list;
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/board", get(board_page))
        .route("/board/move", post(move_card))
        .route("/search", get(search))
        .route("/requests/bulk", post(requests_bulk))
        .route("/tasks/bulk", post(tasks_bulk))
        .route("/filters", post(save_filter))
        .route("/filters/{id}/delete", post(delete_filter))
}

/// The page a saved filter belongs to.
fn page_path(page: &str) -> &'static str {
    match page {
        "board" => "/board",
        "tasks" => "/tasks",
        _ => "/requests",
    }
}

/// The saved filters of `page` for the chips above it, and the current
/// query string to save.
pub async fn saved_context(
    state: &AppState,
    actor: &domain::access::Actor,
    page: &str,
    query: Option<String>,
) -> AppResult<Value> {
    let saved = if actor.is_front_office() {
        saved_filters::list(&state.services, actor, page).await?
    } else {
        Vec::new()
    };
    Ok(context! {
        page,
        path => page_path(page),
        list => ser(&saved),
        query => query.unwrap_or_default(),
        can_save => actor.is_front_office(),
    })
}

/// Colleagues a request or task can be given to.
pub async fn colleagues(state: &AppState, actor: &domain::access::Actor) -> AppResult<Value> {
    let list = if actor.is_front_office() {
        handling::handlers(&state.services, actor).await?
    } else {
        Vec::new()
    };
    Ok(ser(&list
        .into_iter()
        .map(|(id, name)| context! { id, name })
        .collect::<Vec<_>>()))
}

/// A refused move, shown on its card with the reason as typed.
#[derive(Debug, Default, Serialize)]
struct Refused {
    id: i64,
    code: String,
    reason: String,
    to: String,
}

async fn render_board(
    state: &AppState,
    auth: &Auth<FrontOffice>,
    f: &BoardFilter,
    query: Option<String>,
    refused: Option<Refused>,
    status: StatusCode,
) -> AppResult<Response> {
    let s = &state.services;
    let b = board::board(s, &auth.actor, f, state.config.timezone).await?;
    let total: i64 = b.columns.iter().map(|c| c.count).sum();
    let owners = colleagues(state, &auth.actor).await?;
    let saved = saved_context(state, &auth.actor, "board", query.clone()).await?;
    let page = state.page(
        &auth.info,
        "requests/board.html",
        context! {
            board => ser(&b),
            total,
            f => ser(f),
            types => types_list(state),
            channels => ser(&Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()),
            owners,
            me => auth.actor.user_id(),
            saved,
            back => query.unwrap_or_default(),
            refused => ser(&refused),
        },
    )?;
    Ok((status, page).into_response())
}

async fn board_page(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Query(f): Query<BoardFilter>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    render_board(&state, &auth, &f, query, None, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MoveForm {
    request_id: i64,
    to: String,
    reason: String,
    /// The board's query string, to come back to the same filter.
    back: String,
}

/// The board again after a move: its filter as it was.
fn board_again(back: &str) -> (BoardFilter, Option<String>) {
    let back = back.trim_start_matches('?');
    let f = serde_urlencoded::from_str(back).unwrap_or_default();
    (f, (!back.is_empty()).then(|| back.to_string()))
}

async fn move_card(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    axum::Form(m): axum::Form<MoveForm>,
) -> AppResult<Response> {
    let (f, query) = board_again(&m.back);
    match board::move_card(&state.services, &auth.actor, m.request_id, &m.to, &m.reason).await {
        Ok(()) => {
            let to = match &query {
                Some(q) => format!("/board?{q}"),
                None => "/board".into(),
            };
            Ok(redirect_with_flash(
                &to,
                "flash-board-moved",
                state.config.secure_cookies,
            ))
        }
        // Refused: the board again, the reason on the card, the reason
        // typed kept.
        Err(e @ (DomainError::Conflict(_) | DomainError::Invalid(_))) => {
            let status = match &e {
                DomainError::Conflict(_) => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let refused = Refused {
                id: m.request_id,
                code: handling::refusal_code(&e),
                reason: m.reason,
                to: m.to,
            };
            render_board(&state, &auth, &f, query, Some(refused), status).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SearchQuery {
    q: String,
}

async fn search(
    State(state): State<AppState>,
    auth: Auth<Staff>,
    Query(q): Query<SearchQuery>,
) -> AppResult<Response> {
    let found = find::find(&state.services, &auth.actor, &q.q).await?;
    Ok(state
        .page(
            &auth.info,
            "search.html",
            context! { q => q.q, found => ser(&found) },
        )?
        .into_response())
}

/// A bulk form: the ticked ids (`ids`, repeated), the action and its
/// colleague or reason, and the list's query string to go back to.
#[derive(Debug, Default)]
struct BulkForm {
    ids: Vec<i64>,
    action: String,
    assignee: String,
    reason: String,
    back: String,
}

fn read_bulk(body: &str) -> AppResult<BulkForm> {
    let mut f = BulkForm::default();
    for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
        match k.as_ref() {
            "ids" => f
                .ids
                .push(v.parse().map_err(|_| AppError::BadRequest("bulk.ids"))?),
            "action" => f.action = v.into_owned(),
            "assignee" => f.assignee = v.into_owned(),
            "reason" => f.reason = v.into_owned(),
            "back" => f.back = v.into_owned(),
            _ => {}
        }
    }
    Ok(f)
}

/// The action of a bulk form, or the field that is wrong.
enum Chosen {
    Assign(i64),
    Claim,
    Cancel(String),
}

fn chosen(f: &BulkForm) -> Result<Chosen, DomainError> {
    match f.action.as_str() {
        "assign" => f
            .assignee
            .trim()
            .parse()
            .map(Chosen::Assign)
            .map_err(|_| DomainError::field("assignee", "required")),
        "claim" => Ok(Chosen::Claim),
        "cancel" => Ok(Chosen::Cancel(f.reason.clone())),
        _ => Err(DomainError::field("action", "required")),
    }
}

/// One line of a bulk action's answer.
#[derive(Debug, Serialize)]
struct BulkLine {
    href: String,
    label: String,
    refused: Option<String>,
}

fn bulk_answer(
    state: &AppState,
    auth: &Auth<FrontOffice>,
    back: String,
    lines: Vec<BulkLine>,
    error: Option<(String, String)>,
    status: StatusCode,
) -> AppResult<Response> {
    let done = lines.iter().filter(|l| l.refused.is_none()).count();
    let page = state.page(
        &auth.info,
        "bulk_done.html",
        context! {
            back,
            lines => ser(&lines),
            done,
            refused => lines.len() - done,
            error => ser(&error),
        },
    )?;
    Ok((status, page).into_response())
}

/// The field and code of a refusal of the whole form.
fn whole_form_error(e: &DomainError) -> Option<(String, String)> {
    match e {
        DomainError::Invalid(f) => f.0.first().map(|e| (e.field.clone(), e.code.clone())),
        _ => None,
    }
}

/// The answer to a bulk form: each item done or refused; a refusal of the
/// whole form (no colleague, no reason, nothing ticked) with its field.
fn bulk_outcome(
    state: &AppState,
    auth: &Auth<FrontOffice>,
    back: String,
    outcome: Result<Vec<BulkLine>, DomainError>,
) -> AppResult<Response> {
    match outcome {
        Ok(lines) => bulk_answer(state, auth, back, lines, None, StatusCode::OK),
        Err(e @ DomainError::Invalid(_)) => bulk_answer(
            state,
            auth,
            back,
            Vec::new(),
            whole_form_error(&e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

async fn requests_bulk(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    body: String,
) -> AppResult<Response> {
    let f = read_bulk(&body)?;
    let back = format!("/requests?{}", f.back.trim_start_matches('?'));
    let outcome = match chosen(&f) {
        Ok(c) => {
            let action = match c {
                Chosen::Assign(to) => BulkAction::Assign(to),
                Chosen::Claim => BulkAction::Claim,
                Chosen::Cancel(r) => BulkAction::Cancel(r),
            };
            handling::bulk(&state.services, &auth.actor, &f.ids, &action)
                .await
                .map(|items| {
                    items
                        .into_iter()
                        .map(|i| BulkLine {
                            href: format!("/requests/{}", i.id),
                            label: i.number.unwrap_or_else(|| format!("#{}", i.id)),
                            refused: i.refused,
                        })
                        .collect()
                })
        }
        Err(e) => Err(e),
    };
    bulk_outcome(&state, &auth, back, outcome)
}

async fn tasks_bulk(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    body: String,
) -> AppResult<Response> {
    let f = read_bulk(&body)?;
    let back = format!("/tasks?{}", f.back.trim_start_matches('?'));
    let outcome = match chosen(&f) {
        Ok(c) => {
            let action = match c {
                Chosen::Assign(to) => TaskBulkAction::Assign(to),
                Chosen::Claim => TaskBulkAction::Claim,
                Chosen::Cancel(r) => TaskBulkAction::Cancel(r),
            };
            workflows::bulk(&state.services, &auth.actor, &f.ids, &action)
                .await
                .map(|items| {
                    items
                        .into_iter()
                        .map(|i| BulkLine {
                            href: format!("/tasks/{}", i.id),
                            label: i.title.unwrap_or_else(|| format!("#{}", i.id)),
                            refused: i.refused,
                        })
                        .collect()
                })
        }
        Err(e) => Err(e),
    };
    bulk_outcome(&state, &auth, back, outcome)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SaveFilterForm {
    page: String,
    name: String,
    query: String,
}

async fn save_filter(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    axum::Form(f): axum::Form<SaveFilterForm>,
) -> AppResult<Response> {
    let path = page_path(&f.page);
    match saved_filters::save(&state.services, &auth.actor, &f.page, &f.name, &f.query).await {
        Ok(saved) => Ok(redirect_with_flash(
            &format!("{path}?{}", saved.query),
            "flash-filter-saved",
            state.config.secure_cookies,
        )),
        // The form is one field on the list's page: the list again with
        // the reason as a message, its filter as it was.
        Err(DomainError::Invalid(e)) => {
            let code = e.0.first().map(|e| e.code.clone()).unwrap_or_default();
            let key = if code == "saved_filter.too_many" {
                "error-saved-filter-too-many"
            } else {
                "error-saved-filter-name"
            };
            let back = f.query.trim_start_matches('?');
            Ok(redirect_with_flash(
                &format!("{path}?{back}"),
                key,
                state.config.secure_cookies,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn delete_filter(
    State(state): State<AppState>,
    auth: Auth<FrontOffice>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let page = saved_filters::delete(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        page_path(&page),
        "flash-filter-deleted",
        state.config.secure_cookies,
    ))
}

/// Margins of a list's requests keyed by id (as text: template maps).
pub async fn margins_by_id(
    state: &AppState,
    actor: &domain::access::Actor,
    ids: &[i64],
) -> AppResult<Value> {
    let m = domain::deals::offers::margins(&state.services, actor, ids).await?;
    Ok(ser(&m
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect::<BTreeMap<_, _>>()))
}
