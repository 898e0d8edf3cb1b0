//! Workflows for analysts: definitions with their versions and a diagram
//! with live instance counts, the YAML editor (validate with line errors,
//! save, activate — no restart), and instance pages for staff.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use engine::versions::SaveError;
use minijinja::context;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Analysts, Auth, Staff};
use crate::diagram;
use crate::engine_ui::object_href;
use crate::error::{AppError, AppResult};
use crate::layout::redirect_with_flash;
use crate::render::ser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/workflows", get(list))
        .route("/workflows/new", get(new_page))
        .route("/workflows/check", post(check))
        .route("/workflows/save", post(save))
        .route("/workflows/versions/{id}", get(version_page))
        .route("/workflows/versions/{id}/activate", post(activate))
        .route("/workflows/{key}", get(definition_page))
        .route("/instances/{id}", get(instance_page))
}

async fn list(State(state): State<AppState>, auth: Auth<Analysts>) -> AppResult<Response> {
    let defs = state.services.engine.list_definitions().await?;
    Ok(state
        .page(
            &auth.info,
            "workflows/list.html",
            context! { defs => ser(&defs) },
        )?
        .into_response())
}

fn edge_label(state: &AppState) -> impl Fn(&str) -> String + '_ {
    move |kind: &str| state.texts.get(&format!("wf-edge-{kind}"), &[])
}

async fn definition_page(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(key): Path<String>,
) -> AppResult<Response> {
    let engine = &state.services.engine;
    let versions = engine.list_versions(&key).await?;
    if versions.is_empty() {
        return Err(AppError::NotFound);
    }
    let shown = versions
        .iter()
        .find(|v| v.status == "active")
        .or_else(|| versions.first())
        .ok_or(AppError::NotFound)?
        .clone();
    show_version(&state, &auth, shown.id).await
}

async fn version_page(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    show_version(&state, &auth, id).await
}

async fn show_version(state: &AppState, auth: &Auth<Analysts>, id: i64) -> AppResult<Response> {
    let engine = &state.services.engine;
    let version = engine
        .definition_version(id)
        .await?
        .ok_or(AppError::NotFound)?;
    let versions = engine.list_versions(&version.key).await?;
    let yaml = engine.definition_yaml(id).await?.unwrap_or_default();
    let graph = engine.graph(id).await?;
    let svg = diagram::render(&graph, &edge_label(state));
    Ok(state
        .page(
            &auth.info,
            "workflows/definition.html",
            context! {
                v => ser(&version),
                versions => ser(&versions),
                yaml,
                svg => minijinja::Value::from_safe_string(svg),
                graph => ser(&graph),
            },
        )?
        .into_response())
}

async fn new_page(State(state): State<AppState>, auth: Auth<Analysts>) -> AppResult<Response> {
    let yaml = include_str!("../../templates/workflows/new_definition.yaml").to_string();
    editor(&state, &auth, yaml, Vec::new(), None, StatusCode::OK)
}

fn editor(
    state: &AppState,
    auth: &Auth<Analysts>,
    yaml: String,
    diagnostics: Vec<engine::Diagnostic>,
    checked: Option<bool>,
    status: StatusCode,
) -> AppResult<Response> {
    Ok((
        status,
        state.page(
            &auth.info,
            "workflows/editor.html",
            context! { yaml, diagnostics => ser(&diagnostics), checked },
        )?,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct YamlForm {
    yaml: String,
    activate: Option<String>,
}

async fn check(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Form(form): Form<YamlForm>,
) -> AppResult<Response> {
    match state
        .services
        .engine
        .validate(&form.yaml, "definition.yaml")
    {
        Ok(()) => editor(
            &state,
            &auth,
            form.yaml,
            Vec::new(),
            Some(true),
            StatusCode::OK,
        ),
        Err(d) => editor(
            &state,
            &auth,
            form.yaml,
            d,
            Some(false),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

async fn save(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Form(form): Form<YamlForm>,
) -> AppResult<Response> {
    let engine = &state.services.engine;
    match engine
        .save_draft(&form.yaml, Some(auth.actor.user_id()))
        .await
    {
        Ok(version) => {
            let (flash, id) = if form.activate.is_some() {
                let v = engine
                    .activate(version.id, Some(auth.actor.user_id()))
                    .await?;
                ("flash-workflow-activated", v.id)
            } else {
                ("flash-workflow-saved", version.id)
            };
            Ok(redirect_with_flash(
                &format!("/workflows/versions/{id}"),
                flash,
                state.config.secure_cookies,
            ))
        }
        Err(SaveError::Invalid(d)) => editor(
            &state,
            &auth,
            form.yaml,
            d.0,
            Some(false),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(SaveError::Engine(e)) => Err(e.into()),
    }
}

async fn activate(
    State(state): State<AppState>,
    auth: Auth<Analysts>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let v = state
        .services
        .engine
        .activate(id, Some(auth.actor.user_id()))
        .await?;
    Ok(redirect_with_flash(
        &format!("/workflows/versions/{}", v.id),
        "flash-workflow-activated",
        state.config.secure_cookies,
    ))
}

async fn instance_page(
    State(state): State<AppState>,
    auth: Auth<Staff>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let engine = &state.services.engine;
    let instance = engine.instance(id).await?.ok_or(AppError::NotFound)?;
    // The history is shown only to whoever may see the instance's object.
    domain::access::require_object(
        &state.db,
        &auth.actor,
        &instance.object.kind,
        instance.object.id,
    )
    .await?;
    let history = engine.history(id).await?;
    let tasks = engine.instance_tasks(id, true).await?;
    let timers = engine.timers(id).await?;
    let actions = engine.actions(id).await?;
    let graph = engine.graph(instance.definition_id).await?;
    let titles: BTreeMap<String, String> = graph
        .states
        .iter()
        .map(|s| (s.name.clone(), s.title.clone()))
        .collect();
    let object_link = object_href(&instance.object.kind, instance.object.id);
    Ok(state
        .page(
            &auth.info,
            "workflows/instance.html",
            context! {
                i => ser(&instance),
                history => ser(&history),
                tasks => ser(&tasks),
                timers => ser(&timers),
                actions => ser(&actions),
                titles => ser(&titles),
                object_link,
            },
        )?
        .into_response())
}
