//! The task inbox: my tasks and my roles' unclaimed ones, claim and
//! unclaim, and completing a task through its form.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use engine::queries::TaskFilter;
use engine::{EngineError, StepError};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::AppState;
use crate::auth::{AnyUser, Auth};
use crate::engine_ui::{object_href, user_ref};
use crate::error::{AppError, AppResult};
use crate::layout::redirect_with_flash;
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
) -> AppResult<Response> {
    let engine = &state.services.engine;
    let me = user_ref(&auth.actor);
    let filter = TaskFilter {
        definition_key: q.workflow.clone().filter(|s| !s.is_empty()),
        priority: q
            .priority
            .as_deref()
            .and_then(engine::model::Priority::parse),
        overdue_only: q.overdue.is_some(),
        text: q.q.clone(),
        limit: 200,
        offset: 0,
    };
    let mut tasks = engine.inbox(&me, &filter).await?;
    if domain::access::hunter_only(&auth.actor) {
        // A hunter's role sees tasks of every request; their inbox keeps
        // those of their own book (the same scope as the requests).
        let mut visible = Vec::with_capacity(tasks.len());
        for t in tasks {
            if domain::access::object_visible(&state.db, &auth.actor, &t.object.kind, t.object.id)
                .await?
            {
                visible.push(t);
            }
        }
        tasks = visible;
    }
    if q.mine.is_some() {
        tasks.retain(|t| t.claimed_by == Some(me.id) || t.assignee == Some(me.id));
    }
    let counts = engine.inbox_counts(&me).await?;
    let now = state.services.db.now().timestamp_millis();
    Ok(state
        .page(
            &auth.info,
            "tasks/inbox.html",
            context! {
                tasks => ser(&tasks),
                counts => ser(&counts),
                me => me.id,
                now,
                q => ser(&q.q), workflow => ser(&q.workflow), priority => ser(&q.priority),
                overdue => q.overdue.is_some(), mine => q.mine.is_some(),
            },
        )?
        .into_response())
}

/// A task the actor may see: theirs to do; for the broker's staff, any task
/// whose business object they may see (the object's own scope decides — a
/// hunter's are their book's). Anything else is "not found".
async fn visible_task(
    state: &AppState,
    auth: &Auth<AnyUser>,
    id: i64,
) -> AppResult<engine::queries::TaskForm> {
    let engine = &state.services.engine;
    let form = engine.task_form(id).await?.ok_or(AppError::NotFound)?;
    let me = user_ref(&auth.actor);
    if auth.actor.is_staff() {
        let object = &form.task.object;
        domain::access::require_object(&state.db, &auth.actor, &object.kind, object.id).await?;
    } else if !engine.can_act(id, &me).await? {
        return Err(AppError::NotFound);
    }
    Ok(form)
}

async fn render_task(
    state: &AppState,
    auth: &Auth<AnyUser>,
    form: engine::queries::TaskForm,
    values: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> AppResult<Response> {
    let engine = &state.services.engine;
    let me = user_ref(&auth.actor);
    let can_act = form.task.status == "open" && engine.can_act(form.task.id, &me).await?;
    let object_link = object_href(&form.task.object.kind, form.task.object.id);
    let history = if auth.actor.is_staff() {
        engine.history(form.task.instance_id).await?
    } else {
        Vec::new()
    };
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
                can_act,
                me => me.id,
                object_link,
                history => ser(&history),
                staff => auth.actor.is_staff(),
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
    let form = visible_task(&state, &auth, id).await?;
    let values = form
        .task
        .form_values
        .as_ref()
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), value_text(v))).collect())
        .unwrap_or_default();
    render_task(&state, &auth, form, values, BTreeMap::new(), StatusCode::OK).await
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
    visible_task(&state, &auth, id).await?;
    state
        .services
        .engine
        .claim(id, &user_ref(&auth.actor))
        .await?;
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
    visible_task(&state, &auth, id).await?;
    state
        .services
        .engine
        .unclaim(id, &user_ref(&auth.actor))
        .await?;
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
    let form = visible_task(&state, &auth, id).await?;
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
    let mut input = Map::new();
    for field in &form.fields {
        if let Some(v) = values.get(&field.id) {
            input.insert(field.id.clone(), Value::String(v.clone()));
        }
    }
    let actor = engine::Actor::User(user_ref(&auth.actor));
    match state
        .services
        .engine
        .complete_task(id, &outcome, input, &actor)
        .await
    {
        Ok(_) => {
            state.services.after_commit();
            Ok(redirect_with_flash(
                "/tasks",
                "flash-task-done",
                state.config.secure_cookies,
            ))
        }
        Err(EngineError::Step(StepError::Form(errs))) => {
            let texts = &state.texts;
            let errors = errs
                .iter()
                .map(|(field, e)| {
                    let limit = e.limit.as_ref().map(|l| l.to_string()).unwrap_or_default();
                    let key = format!("error-form-{}", e.code.replace('_', "-"));
                    (field.clone(), texts.get(&key, &[("limit", limit.into())]))
                })
                .collect();
            render_task(
                &state,
                &auth,
                form,
                values,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
