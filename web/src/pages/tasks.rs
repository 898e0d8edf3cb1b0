//! The task inbox: my tasks and my roles' unclaimed ones, claim and
//! unclaim, and completing a task through its form (then on to the next
//! task of the same request, or its page). Who may see and do a
//! task is the domain's ([`domain::workflows`]).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::workflows::{self, InboxFilter};
use minijinja::context;
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::auth::{AnyUser, Auth};
use crate::error::AppResult;
use crate::layout::redirect_with_flash;
use crate::links::object_href;
use crate::pager::{PageQuery, Pager};
use crate::pages::board;
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tasks", get(inbox))
        .route("/tasks/{id}", get(task_page))
        .route("/tasks/{id}/claim", post(claim))
        .route("/tasks/{id}/unclaim", post(unclaim))
        .route("/tasks/{id}/complete", post(complete))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InboxQuery {
    q: Option<String>,
    workflow: Option<String>,
    priority: Option<String>,
    overdue: Option<String>,
    mine: Option<String>,
}

async fn inbox(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Query(q): Query<InboxQuery>,
    Query(page): Query<PageQuery>,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let inbox = workflows::inbox(
        &state.services,
        &auth.actor,
        &InboxFilter {
            workflow: q.workflow.clone(),
            priority: q.priority.clone(),
            overdue_only: q.overdue.is_some(),
            text: q.q.clone(),
            mine_only: q.mine.is_some(),
            page: page.number(),
        },
    )
    .await?;
    let now = state.services.db.now().timestamp_millis();
    let pager = Pager::new("/tasks", query.as_deref(), inbox.page, inbox.has_next);
    let saved = board::saved_context(&state, &auth.actor, "tasks", query).await?;
    let colleagues = board::colleagues(&state, &auth.actor).await?;
    Ok(state
        .page(
            &auth.info,
            "tasks/inbox.html",
            context! {
                tasks => ser(&inbox.tasks),
                counts => ser(&inbox.counts),
                me => auth.actor.user_id(),
                now,
                q => ser(&q.q), workflow => ser(&q.workflow), priority => ser(&q.priority),
                overdue => q.overdue.is_some(), mine => q.mine.is_some(),
                saved,
                colleagues,
                pager => ser(&pager),
            },
        )?
        .into_response())
}

async fn render_task(
    state: &AppState,
    auth: &Auth<AnyUser>,
    task: workflows::Task,
    values: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> AppResult<Response> {
    let form = task.form;
    let object_link = object_href(&form.task.object.kind, form.task.object.id);
    Ok((
        status,
        state.page(
            &auth.info,
            "tasks/task.html",
            context! {
                task => ser(&form.task),
                description => form.description,
                fields => ser(&form.fields),
                outcomes => ser(&form.outcomes),
                values => ser(&values),
                errors => ser(&errors),
                can_act => task.can_act,
                me => auth.actor.user_id(),
                object_link,
                history => ser(&task.history),
                may_inspect => task.may_inspect,
            },
        )?,
    )
        .into_response())
}

async fn task_page(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let task = workflows::task(&state.services, &auth.actor, id).await?;
    let values = task
        .form
        .task
        .form_values
        .as_ref()
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), value_text(v))).collect())
        .unwrap_or_default();
    render_task(&state, &auth, task, values, BTreeMap::new(), StatusCode::OK).await
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn claim(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    workflows::claim(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        &format!("/tasks/{id}"),
        "flash-task-claimed",
        state.config.secure_cookies,
    ))
}

async fn unclaim(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    workflows::unclaim(&state.services, &auth.actor, id).await?;
    Ok(redirect_with_flash(
        "/tasks",
        "flash-task-unclaimed",
        state.config.secure_cookies,
    ))
}

async fn complete(
    State(state): State<AppState>,
    auth: Auth<AnyUser>,
    Path(id): Path<i64>,
    body: String,
) -> AppResult<Response> {
    let mut outcome = String::new();
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
        match k.as_ref() {
            "outcome" => outcome = v.into_owned(),
            "_csrf" => {}
            key => {
                values.insert(key.to_string(), v.into_owned());
            }
        }
    }
    match workflows::complete(&state.services, &auth.actor, id, &outcome, &values).await? {
        // The work goes on where it was: the next task of the same request,
        // else the request's page, else the inbox.
        Ok(done) => {
            let (to, flash) = match done.next_task {
                Some(next) => (format!("/tasks/{next}"), "flash-task-done-next"),
                None => (
                    object_href(&done.object_kind, done.object_id)
                        .unwrap_or_else(|| "/tasks".into()),
                    "flash-task-done",
                ),
            };
            Ok(redirect_with_flash(&to, flash, state.config.secure_cookies))
        }
        Err(errs) => {
            let texts = &state.texts;
            let errors = errs
                .iter()
                .map(|(field, e)| {
                    let limit = e.limit.as_ref().map(|l| l.to_string()).unwrap_or_default();
                    let key = format!("error-form-{}", e.code.replace('_', "-"));
                    (field.clone(), texts.get(&key, &[("limit", limit.into())]))
                })
                .collect();
            let task = workflows::task(&state.services, &auth.actor, id).await?;
            render_task(
                &state,
                &auth,
                task,
                values,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
