//! Workflows as people and integrations meet them: the task inbox and task
//! pages (claim, unclaim, complete through the form), the progress of a
//! business object's instance, the analysts' definitions and versions
//! (check, save, activate — with diagnostics), the graph a diagram is drawn
//! from, and the JSON API's start, read and external events.
//!
//! A façade over the engine, so that the web layer depends on the domain
//! alone (web/tests/layering.rs keeps it so). What it adds to the engine is
//! the brokerage's rules: who may see a task or an instance is decided by
//! the same tenancy scope as the task's business object ([`require_object`]),
//! who may edit workflows by [`Rule::WorkflowEditor`], and every refusal of
//! the engine becomes a [`DomainError`] in one place (see
//! [`crate::error`]). The views it returns are the engine's own, re-exported
//! here, so pages render what the engine knows without knowing the engine.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use engine::UserRef;
use engine::queries::{ObjectScope, TaskFilter};
use engine::story::{StoryKind, step_story};
use engine::versions::SaveError;
use serde::Serialize;
use serde_json::{Map, Value};

pub use engine::queries::{
    ActionView, Graph, GraphEdge, GraphState, HistoryView, InboxCounts, InstanceView, OutcomeView,
    TaskForm, TaskView, TimerView,
};
pub use engine::versions::{
    DefinitionSummary, DefinitionVersion, LoadAction, LoadedFile, MigrationPlan, MigrationReport,
    PlannedMove,
};
pub use engine::{Diagnostic, FieldErrors as FormErrors, Started, StepReport};

use crate::access::{Actor, Rule, instance_scope, require, require_object};
use crate::accounts::api_tokens::{Scope, TokenGrant};
use crate::error::{DomainError, DomainResult};
use crate::services::Services;

/// The engine's view of a person: id, organisation, roles, and whether they
/// are the broker's own staff (who see tasks across organisations).
pub(crate) fn user_ref(actor: &Actor) -> UserRef {
    UserRef {
        id: actor.user_id(),
        org_id: actor.org_id(),
        home_org: actor.is_staff(),
        roles: actor.role_names().into_iter().map(str::to_string).collect(),
    }
}

// ---- The inbox and tasks ----

/// Tasks an inbox page shows.
pub const INBOX_PAGE: i64 = 50;

/// Inbox filters as a page submits them; blank means "any".
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    /// A workflow key.
    pub workflow: Option<String>,
    /// `low`, `normal`, `high` or `urgent`; anything else is ignored.
    pub priority: Option<String>,
    pub overdue_only: bool,
    /// Part of the title (or of the workflow's or task's key).
    pub text: Option<String>,
    /// Only tasks claimed by or assigned to the person.
    pub mine_only: bool,
    /// The page, from 1 ([`INBOX_PAGE`] tasks each).
    pub page: i64,
}

/// The person's open tasks (one page) and the counts for the filter chips.
#[derive(Debug, Clone)]
pub struct Inbox {
    pub tasks: Vec<TaskView>,
    pub counts: InboxCounts,
    /// The page shown (from 1) and whether another follows it.
    pub page: i64,
    pub has_next: bool,
}

/// Open tasks the actor may do: theirs, their roles' unclaimed ones. A
/// hunter's role sees tasks of every request; their inbox keeps those of
/// their own book (the same scope as the requests), in the query itself so
/// that pages and counts agree.
pub async fn inbox(s: &Services, actor: &Actor, f: &InboxFilter) -> DomainResult<Inbox> {
    let me = user_ref(actor);
    let page = f.page.clamp(1, 100_000);
    let object_scope = instance_scope(actor).map(|scope| {
        ObjectScope(std::sync::Arc::new(move |sql: &mut engine::Sql| {
            scope(sql, "i")
        }))
    });
    let filter = TaskFilter {
        definition_key: f.workflow.clone().filter(|k| !k.is_empty()),
        priority: f
            .priority
            .as_deref()
            .and_then(engine::model::Priority::parse),
        overdue_only: f.overdue_only,
        text: f.text.clone(),
        mine_only: f.mine_only,
        object_scope,
        // One more than a page: whether a next page exists.
        limit: INBOX_PAGE + 1,
        offset: (page - 1) * INBOX_PAGE,
    };
    let mut tasks = s.engine.inbox(&me, &filter).await?;
    let has_next = tasks.len() as i64 > INBOX_PAGE;
    tasks.truncate(INBOX_PAGE as usize);
    let counts = s.engine.inbox_counts(&me, &filter).await?;
    Ok(Inbox {
        tasks,
        counts,
        page,
        has_next,
    })
}

/// A task as its page shows it.
#[derive(Debug, Clone)]
pub struct Task {
    pub form: TaskForm,
    /// Whether the actor may claim or complete it now.
    pub can_act: bool,
    /// The instance's history told in words, for the broker's staff only.
    pub history: Vec<StoryLine>,
    /// Whether the actor may open the instance's technical page
    /// ([`may_inspect`]).
    pub may_inspect: bool,
}

/// A task the actor may see: theirs to do; for the broker's staff, any task
/// whose business object they may see (the object's own scope decides — a
/// hunter's are their book's). Anything else is "not found".
async fn visible_task(s: &Services, actor: &Actor, id: i64) -> DomainResult<TaskForm> {
    let form = s.engine.task_form(id).await?.ok_or(DomainError::NotFound)?;
    if actor.is_staff() {
        let object = &form.task.object;
        require_object(&s.db, actor, &object.kind, object.id).await?;
    } else if !s.engine.can_act(id, &user_ref(actor)).await? {
        return Err(DomainError::NotFound);
    }
    Ok(form)
}

/// A task's page: its form, whether the actor may act, and (for staff)
/// the history of its instance.
pub async fn task(s: &Services, actor: &Actor, id: i64) -> DomainResult<Task> {
    let form = visible_task(s, actor, id).await?;
    let can_act =
        form.task.status == "open" && s.engine.can_act(form.task.id, &user_ref(actor)).await?;
    let history = if actor.is_staff() {
        let tasks = s.engine.instance_tasks(form.task.instance_id, true).await?;
        story(s, form.task.instance_id, form.definition_id, &tasks).await?
    } else {
        Vec::new()
    };
    Ok(Task {
        form,
        can_act,
        history,
        may_inspect: may_inspect(actor),
    })
}

/// Takes an unclaimed task so that colleagues stop seeing it; a task a
/// colleague took is `task.claimed_by_other`.
pub async fn claim(s: &Services, actor: &Actor, id: i64) -> DomainResult<()> {
    visible_task(s, actor, id).await?;
    Ok(s.engine.claim(id, &user_ref(actor)).await?)
}

/// Gives a claimed task back to its candidates; only whoever claimed it
/// may (`task.not_claimed_by_you`).
pub async fn unclaim(s: &Services, actor: &Actor, id: i64) -> DomainResult<()> {
    visible_task(s, actor, id).await?;
    Ok(s.engine.unclaim(id, &user_ref(actor)).await?)
}

/// Gives an open task to a colleague (`to`): someone of the broker's
/// active staff who holds one of the task's roles. It becomes theirs,
/// unclaimed. `task.not_a_candidate` for anyone else.
pub async fn assign(s: &Services, actor: &Actor, id: i64, to: i64) -> DomainResult<()> {
    require(actor, Rule::FrontOffice)?;
    let form = visible_task(s, actor, id).await?;
    if form.task.status != "open" {
        return Err(DomainError::Conflict("task.closed"));
    }
    // A task of another organisation (a supplier's dispatcher's) is
    // theirs to share out, never the broker's.
    if let Some(org) = form.task.org_id
        && crate::access::broker_id(&s.db).await? != Some(org)
    {
        return Err(DomainError::Conflict("task.not_a_candidate"));
    }
    let mut sql = engine::Sql::new(
        "SELECT COUNT(*) FROM users u JOIN organisations o ON o.id = u.org_id AND o.kind = 'broker' \
         WHERE u.status = 'active' AND u.id = ",
    );
    sql.bind(to)
        .push(" AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role IN (")
        .bind_list(form.task.roles.iter().cloned())
        .push("))");
    let n: i64 = if form.task.roles.is_empty() {
        0
    } else {
        sql.query_scalar().fetch_one(s.db.pool()).await?
    };
    if n == 0 {
        return Err(DomainError::Conflict("task.not_a_candidate"));
    }
    s.engine.assign_task(id, to).await?;
    s.after_commit();
    Ok(())
}

/// What a bulk action of the task inbox does to each task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskBulkAction {
    /// Give to this colleague.
    Assign(i64),
    /// Take oneself.
    Claim,
    /// Cancel the task's request with this reason (the request's open
    /// task closes with it).
    Cancel(String),
}

/// How one task of a bulk action went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TaskBulkItem {
    pub id: i64,
    /// The task's title, when the actor may see it.
    pub title: Option<String>,
    /// `None` when done, else the refusal's code.
    pub refused: Option<String>,
}

/// Applies `action` to each task of `ids`, each on its own: a refusal
/// (done meanwhile, taken by a colleague, not a request's task) leaves the
/// others done.
pub async fn bulk(
    s: &Services,
    actor: &Actor,
    ids: &[i64],
    action: &TaskBulkAction,
) -> DomainResult<Vec<TaskBulkItem>> {
    use crate::intake::handling;
    require(actor, Rule::FrontOffice)?;
    if ids.is_empty() {
        return Err(DomainError::field("ids", "required"));
    }
    if ids.len() > handling::BULK_MAX {
        return Err(DomainError::field("ids", "bulk.too_many"));
    }
    if let TaskBulkAction::Cancel(reason) = action {
        handling::check_reason(reason)?;
    }
    let mut out = Vec::with_capacity(ids.len());
    let mut seen = std::collections::BTreeSet::new();
    for &id in ids {
        if !seen.insert(id) {
            continue;
        }
        let task = visible_task(s, actor, id).await.ok().map(|f| f.task);
        let done = match (&task, action) {
            (None, _) => Err(DomainError::NotFound),
            (Some(_), TaskBulkAction::Assign(to)) => assign(s, actor, id, *to).await,
            (Some(_), TaskBulkAction::Claim) => claim(s, actor, id).await,
            (Some(t), TaskBulkAction::Cancel(reason)) if t.object.kind == "request" => {
                handling::cancel(s, actor, t.object.id, reason).await
            }
            (Some(_), TaskBulkAction::Cancel(_)) => {
                Err(DomainError::Conflict("task.not_a_request"))
            }
        };
        out.push(TaskBulkItem {
            id,
            title: task.map(|t| t.title),
            refused: done.err().map(|e| handling::refusal_code(&e)),
        });
    }
    Ok(out)
}

/// What follows a completed task: where its doer goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The next open task of the same business object (a request…) that
    /// the doer may do — the work goes on there — if any.
    pub next_task: Option<i64>,
    /// The task's business object: kind and id (its page when no task follows).
    pub object_kind: String,
    pub object_id: i64,
}

/// Completes a task with `outcome` and the submitted `values` (only the
/// task's own form fields are taken) and says what follows ([`Completed`]).
/// `Ok(Err(errors))` is a form the workflow refused, field by field with
/// the limits the page shows; other refusals (done already, taken by a
/// colleague, an outcome the task does not have) are errors.
pub async fn complete(
    s: &Services,
    actor: &Actor,
    id: i64,
    outcome: &str,
    values: &BTreeMap<String, String>,
) -> DomainResult<Result<Completed, FormErrors>> {
    let form = visible_task(s, actor, id).await?;
    let mut input = Map::new();
    for field in &form.fields {
        if let Some(v) = values.get(&field.id) {
            input.insert(field.id.clone(), Value::String(v.clone()));
        }
    }
    let who = engine::Actor::User(user_ref(actor));
    match s.engine.complete_task(id, outcome, input, &who).await {
        Ok(_) => {
            s.after_commit();
            let object = &form.task.object;
            Ok(Ok(Completed {
                next_task: next_task_on(s, actor, &object.kind, object.id, id).await?,
                object_kind: object.kind.clone(),
                object_id: object.id,
            }))
        }
        Err(engine::EngineError::Step(engine::StepError::Form(errors))) => Ok(Err(errors)),
        Err(e) => Err(e.into()),
    }
}

/// The first open task (oldest first) on the business object `kind`/`id`
/// that `actor` may do, other than `done`: the steps the completed task led
/// to open theirs in the same transaction, so they are there already.
async fn next_task_on(
    s: &Services,
    actor: &Actor,
    kind: &str,
    object_id: i64,
    done: i64,
) -> DomainResult<Option<i64>> {
    let me = user_ref(actor);
    for instance in s.engine.instances_for_object(kind, object_id).await? {
        for t in s.engine.instance_tasks(instance.id, false).await? {
            if t.id != done && t.can_act(&me) {
                return Ok(Some(t.id));
            }
        }
    }
    Ok(None)
}

// ---- Instances ----

/// Whether `actor` may open an instance's technical page (data, timers,
/// actions, the raw history): analysts and administrators. Everyday pages
/// tell the same history in words ([`story`]).
pub fn may_inspect(actor: &Actor) -> bool {
    Rule::WorkflowEditor.holds(actor)
}

/// A step of a business object's history as its page tells it: when, who,
/// and what in the workflow's own words.
#[derive(Debug, Clone, Serialize)]
pub struct StoryLine {
    pub at: DateTime<Utc>,
    /// The person who did it; `None` for the system (an event from another
    /// part of the application, a timer, a condition that came true).
    pub who: Option<String>,
    pub kind: StoryKind,
    /// The YAML title of what was done (the outcome's, the transition's).
    pub title: Option<String>,
    /// The title of the task completed, reminded of or escalated.
    pub task: Option<String>,
    /// The role an escalated task went to (`admin`…).
    pub role: Option<String>,
    /// The titles of the states it left and entered; `to` only when the
    /// step moved it.
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The history of the instance `instance_id` running `definition_id`,
/// oldest first, told in words: the YAML's titles for states, outcomes and
/// transitions, the titles of its `tasks` (all of them, as the caller has
/// them already), people's names, and only the steps that changed
/// something.
pub async fn story(
    s: &Services,
    instance_id: i64,
    definition_id: i64,
    tasks: &[TaskView],
) -> DomainResult<Vec<StoryLine>> {
    let def = s.engine.definition(definition_id).await?;
    let history = s.engine.history(instance_id).await?;
    let tasks: BTreeMap<i64, &str> = tasks.iter().map(|t| (t.id, t.title.as_str())).collect();
    let people = people_in(s, instance_id).await?;
    let state_title = |name: &str| def.state(name).map(|st| st.title.clone());
    Ok(history
        .iter()
        .filter_map(|h| {
            let told = step_story(&def, h)?;
            let moved = h.from_state != h.to_state;
            Some(StoryLine {
                at: h.at,
                who: h.actor.and_then(|id| people.get(&id).cloned()),
                kind: told.kind,
                title: told.title,
                task: told
                    .task_id
                    .and_then(|id| tasks.get(&id).map(|t| t.to_string())),
                role: told.role,
                from: state_title(&h.from_state),
                to: moved.then(|| state_title(&h.to_state)).flatten(),
            })
        })
        .collect())
}

/// The names of the people who moved an instance, by user id.
async fn people_in(s: &Services, instance_id: i64) -> DomainResult<BTreeMap<i64, String>> {
    Ok(sqlx::query_as::<_, (i64, String)>(
        "SELECT DISTINCT u.id, u.full_name FROM users u JOIN wf_history h ON h.actor_user_id = u.id WHERE h.instance_id = $1",
    )
    .bind(instance_id)
    .fetch_all(s.db.pool())
    .await?
    .into_iter()
    .collect())
}

/// The names of a definition's states with their titles.
async fn state_titles(s: &Services, definition_id: i64) -> DomainResult<BTreeMap<String, String>> {
    let graph = s.engine.graph(definition_id).await?;
    Ok(graph
        .states
        .into_iter()
        .map(|st| (st.name, st.title))
        .collect())
}

/// Staff who may see the business object `kind`/`id`: the only people who
/// see its workflow's insides.
async fn require_staff_on(s: &Services, actor: &Actor, kind: &str, id: i64) -> DomainResult<()> {
    if !actor.is_staff() {
        return Err(DomainError::NotFound);
    }
    require_object(&s.db, actor, kind, id).await
}

/// The workflow instances of a business object, for staff.
pub async fn instances_of(
    s: &Services,
    actor: &Actor,
    kind: &str,
    id: i64,
) -> DomainResult<Vec<InstanceView>> {
    require_staff_on(s, actor, kind, id).await?;
    Ok(s.engine.instances_for_object(kind, id).await?)
}

/// Where a business object's latest instance stands: for a staff page.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub instance: Option<InstanceView>,
    pub history: Vec<StoryLine>,
    /// Its open tasks.
    pub tasks: Vec<TaskView>,
    pub titles: BTreeMap<String, String>,
}

/// The latest instance of a business object with its history and tasks.
pub async fn progress(s: &Services, actor: &Actor, kind: &str, id: i64) -> DomainResult<Progress> {
    let instances = instances_of(s, actor, kind, id).await?;
    let Some(instance) = instances.into_iter().max_by_key(|i| i.id) else {
        return Ok(Progress::default());
    };
    let mut tasks = s.engine.instance_tasks(instance.id, true).await?;
    let history = story(s, instance.id, instance.definition_id, &tasks).await?;
    tasks.retain(|t| t.status == "open");
    Ok(Progress {
        titles: state_titles(s, instance.definition_id).await?,
        history,
        tasks,
        instance: Some(instance),
    })
}

/// One instance in full, for staff who may see its object.
#[derive(Debug, Clone)]
pub struct InstanceDetail {
    pub instance: InstanceView,
    pub history: Vec<HistoryView>,
    pub tasks: Vec<TaskView>,
    pub timers: Vec<TimerView>,
    pub actions: Vec<ActionView>,
    pub titles: BTreeMap<String, String>,
    /// Names of the people in the history, by user id.
    pub people: BTreeMap<i64, String>,
}

/// An instance's technical page: for analysts and administrators
/// ([`may_inspect`]); everyone else reads the history in words on the
/// object's own page. Only for an object the reader may see, so that its
/// links (the object, its tasks, the workflow) all open for them.
pub async fn instance_detail(s: &Services, actor: &Actor, id: i64) -> DomainResult<InstanceDetail> {
    require(actor, Rule::WorkflowEditor)?;
    let instance = s.engine.instance(id).await?.ok_or(DomainError::NotFound)?;
    require_staff_on(s, actor, &instance.object.kind, instance.object.id).await?;
    Ok(InstanceDetail {
        people: people_in(s, id).await?,
        history: s.engine.history(id).await?,
        tasks: s.engine.instance_tasks(id, true).await?,
        timers: s.engine.timers(id).await?,
        actions: s.engine.actions(id).await?,
        titles: state_titles(s, instance.definition_id).await?,
        instance,
    })
}

// ---- Definitions, for the analysts ----

/// Every workflow with its active version and instance counts.
pub async fn definitions(s: &Services, actor: &Actor) -> DomainResult<Vec<DefinitionSummary>> {
    require(actor, Rule::WorkflowEditor)?;
    Ok(s.engine.list_definitions().await?)
}

/// A version as the analysts' page shows it: its text, its siblings and
/// the graph with running instances per state.
#[derive(Debug, Clone)]
pub struct VersionPage {
    pub version: DefinitionVersion,
    pub versions: Vec<DefinitionVersion>,
    pub yaml: String,
    pub graph: Graph,
}

/// Version `id` of a workflow.
pub async fn version(s: &Services, actor: &Actor, id: i64) -> DomainResult<VersionPage> {
    require(actor, Rule::WorkflowEditor)?;
    let version = s
        .engine
        .definition_version(id)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(VersionPage {
        versions: s.engine.list_versions(&version.key).await?,
        yaml: s.engine.definition_yaml(id).await?.unwrap_or_default(),
        graph: s.engine.graph(id).await?,
        version,
    })
}

/// The version of workflow `key` people see first: the active one, else
/// the newest.
pub async fn current_version(s: &Services, actor: &Actor, key: &str) -> DomainResult<VersionPage> {
    require(actor, Rule::WorkflowEditor)?;
    let versions = s.engine.list_versions(key).await?;
    let shown = versions
        .iter()
        .find(|v| v.status == "active")
        .or_else(|| versions.first())
        .ok_or(DomainError::NotFound)?;
    version(s, actor, shown.id).await
}

/// Checks a definition's text without storing it: every problem with its
/// line and column (none when it is fine).
pub fn check(s: &Services, actor: &Actor, yaml: &str) -> DomainResult<Vec<Diagnostic>> {
    require(actor, Rule::WorkflowEditor)?;
    Ok(s.engine
        .validate(yaml, "definition.yaml")
        .err()
        .unwrap_or_default())
}

/// Stores a definition's text as a new version (the stored one when the
/// text is unchanged) and, with `activate`, makes it the one new instances
/// run — without a restart. `Ok(Err(problems))` is a text that does not
/// validate: nothing was stored.
pub async fn save(
    s: &Services,
    actor: &Actor,
    yaml: &str,
    activate: bool,
) -> DomainResult<Result<DefinitionVersion, Vec<Diagnostic>>> {
    require(actor, Rule::WorkflowEditor)?;
    let saved = match s.engine.save_draft(yaml, Some(actor.user_id())).await {
        Ok(v) => v,
        Err(SaveError::Invalid(d)) => return Ok(Err(d.0)),
        Err(SaveError::Engine(e)) => return Err(e.into()),
    };
    if activate {
        return Ok(Ok(s
            .engine
            .activate(saved.id, Some(actor.user_id()))
            .await?));
    }
    Ok(Ok(saved))
}

/// Makes version `id` the one new instances of its workflow run.
pub async fn activate(s: &Services, actor: &Actor, id: i64) -> DomainResult<DefinitionVersion> {
    require(actor, Rule::WorkflowEditor)?;
    Ok(s.engine.activate(id, Some(actor.user_id())).await?)
}

/// What the analysts called each state of the workflows run on
/// `object_kind` (their active versions): labels for a status no message
/// catalogue knows, such as a state added in the YAML yesterday. Public
/// knowledge (the same titles show on every request page), so no actor.
pub async fn active_state_titles(
    s: &Services,
    object_kind: &str,
) -> DomainResult<BTreeMap<String, String>> {
    Ok(s.engine.active_state_titles(object_kind).await?)
}

/// Reads the workflow files of `dir` again, as the server does at start: a
/// changed file becomes the active version of its workflow, a broken file
/// is refused with its problems and its workflow keeps the version that
/// was active — the running server never stops over a typo.
pub async fn reload_files(
    s: &Services,
    actor: &Actor,
    dir: &std::path::Path,
) -> DomainResult<(Vec<LoadedFile>, Vec<Diagnostic>)> {
    require(actor, Rule::WorkflowEditor)?;
    match s
        .engine
        .load_dir_keeping_good(dir, Some(actor.user_id()))
        .await
    {
        Ok(r) => Ok(r),
        Err(SaveError::Invalid(d)) => Ok((Vec::new(), d.0)),
        Err(SaveError::Engine(e)) => Err(e.into()),
    }
}

/// The fields of `object.*` per object kind, as the context providers
/// declare them (the checker refuses any other): what the analysts' guide
/// lists.
pub fn object_fields(s: &Services, actor: &Actor) -> DomainResult<BTreeMap<String, Vec<String>>> {
    require(actor, Rule::WorkflowEditor)?;
    Ok(s.engine.vocabulary().object_fields.clone())
}

// ---- Moving running instances to another version ----

/// A migration as the analyst sees it before confirming: the workflow's
/// versions, what would move where, and the target's states (for the map
/// of states the target no longer has).
#[derive(Debug, Clone)]
pub struct MigrationPreview {
    pub versions: Vec<DefinitionVersion>,
    /// The source versions (every version but the target when none given).
    pub from_versions: Vec<i64>,
    pub plan: MigrationPlan,
    /// The target's states as (name, title), in definition order.
    pub target_states: Vec<(String, String)>,
    /// Titles of every state of the versions involved, by name.
    pub titles: BTreeMap<String, String>,
}

/// What moving workflow `key`'s running instances from `from_versions`
/// (all others when empty) to `to_version` would do; nothing is moved.
pub async fn preview_migration(
    s: &Services,
    actor: &Actor,
    key: &str,
    from_versions: &[i64],
    to_version: i64,
    state_map: &BTreeMap<String, String>,
) -> DomainResult<MigrationPreview> {
    let (versions, from_versions) =
        versions_and_sources(s, actor, key, from_versions, to_version).await?;
    let plan = s
        .engine
        .plan_migration(key, &from_versions, to_version, state_map)
        .await?;
    let mut titles = BTreeMap::new();
    let mut target_states = Vec::new();
    for v in &versions {
        let involved = from_versions.contains(&v.version) || v.version == to_version;
        if !involved {
            continue;
        }
        let graph = s.engine.graph(v.id).await?;
        for st in graph.states {
            if v.version == to_version {
                target_states.push((st.name.clone(), st.title.clone()));
            }
            titles.entry(st.name).or_insert(st.title);
        }
    }
    Ok(MigrationPreview {
        versions,
        from_versions,
        plan,
        target_states,
        titles,
    })
}

/// Moves the running instances as [`preview_migration`] showed;
/// `Ok(Err(problems))` when the engine refused (nothing moved).
pub async fn migrate(
    s: &Services,
    actor: &Actor,
    key: &str,
    from_versions: &[i64],
    to_version: i64,
    state_map: &BTreeMap<String, String>,
) -> DomainResult<Result<MigrationReport, Vec<String>>> {
    let (_, from_versions) = versions_and_sources(s, actor, key, from_versions, to_version).await?;
    match s
        .engine
        .migrate_instances(
            key,
            &from_versions,
            to_version,
            state_map,
            Some(actor.user_id()),
        )
        .await
    {
        Ok(report) => Ok(Ok(report)),
        Err(engine::EngineError::Migration(problems)) => Ok(Err(problems)),
        Err(e) => Err(e.into()),
    }
}

/// For a workflow editor: the versions of workflow `key` (none: not
/// found), and the versions a migration moves from — those given, or every
/// version but the target.
async fn versions_and_sources(
    s: &Services,
    actor: &Actor,
    key: &str,
    given: &[i64],
    to_version: i64,
) -> DomainResult<(Vec<DefinitionVersion>, Vec<i64>)> {
    require(actor, Rule::WorkflowEditor)?;
    let versions = s.engine.list_versions(key).await?;
    if versions.is_empty() {
        return Err(DomainError::NotFound);
    }
    let sources = if given.is_empty() {
        versions
            .iter()
            .map(|v| v.version)
            .filter(|v| *v != to_version)
            .collect()
    } else {
        given.to_vec()
    };
    Ok((versions, sources))
}

// ---- The JSON API ----

fn require_scope(grant: &TokenGrant, scope: Scope) -> DomainResult<()> {
    if grant.allows(scope) {
        Ok(())
    } else {
        Err(DomainError::ForbiddenBecause("token.scope"))
    }
}

/// Starts workflow `key` for the object `object_kind`/`object_id` (the
/// kind defaults to the one the active version names). Data of the wrong
/// type or an undeclared field is bad input; an unknown workflow is not
/// found.
pub async fn start(
    s: &Services,
    grant: &TokenGrant,
    key: &str,
    object_kind: Option<String>,
    object_id: i64,
    data: Map<String, Value>,
) -> DomainResult<Started> {
    require_scope(grant, Scope::WorkflowsStart)?;
    let kind = match object_kind {
        Some(k) => k,
        None => s
            .engine
            .list_versions(key)
            .await?
            .into_iter()
            .find(|v| v.status == "active")
            .map(|v| v.object_kind)
            .ok_or(DomainError::NotFound)?,
    };
    let started = s
        .engine
        .start(
            key,
            engine::ObjectRef {
                kind,
                id: object_id,
            },
            data,
            None,
        )
        .await?;
    Ok(started)
}

/// An instance as the API shows it.
pub async fn instance(s: &Services, grant: &TokenGrant, id: i64) -> DomainResult<InstanceView> {
    require_scope(grant, Scope::InstancesRead)?;
    s.engine.instance(id).await?.ok_or(DomainError::NotFound)
}

/// Emits an event to an instance from outside — only one its workflow lists
/// under `external:` (an `offer.accepted` or `order.started` is the
/// system's own word, never an integration's: `event.not_external`). A
/// repeated event the state no longer takes is recorded and ignored, so a
/// provider's retried webhook changes nothing.
pub async fn emit_external(
    s: &Services,
    grant: &TokenGrant,
    id: i64,
    name: &str,
    payload: Value,
) -> DomainResult<StepReport> {
    require_scope(grant, Scope::EventsEmit)?;
    let instance = s.engine.instance(id).await?.ok_or(DomainError::NotFound)?;
    let definition = s.engine.definition(instance.definition_id).await?;
    if !definition.is_external(name) {
        return Err(DomainError::ForbiddenBecause("event.not_external"));
    }
    Ok(s.engine.emit(id, name, payload, None).await?)
}
