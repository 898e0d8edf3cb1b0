//! The imperative shell: [`Engine`] loads an instance, asks [`step`] what a
//! trigger changes, and stores the outcome in one transaction with an
//! optimistic version check.
//!
//! Two triggers racing on one instance both compute an outcome from the same
//! version; the first to commit wins, the second finds the version moved, and
//! is computed again from the new state (a bounded number of times). A task
//! completed twice therefore fails the second time with "task is not open".

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::AnyConnection;
use tokio::sync::Notify;

use crate::calendar::Calendars;
use crate::db::{Db, Dialect, Tx};
use crate::diag::Diagnostics;
use crate::dsl::{RESERVED_ACTIONS, Vocabulary};
use crate::form::FieldErrors;
use crate::model::Definition;
use crate::registry::{ActionHandler, ContextProvider, LocalActionHandler, LocalActions};
use crate::step::{ObjectRef, Outcome, Snapshot, StepContext, StepError, Trigger, step};
use crate::store::{self, ApplyError};
use crate::writer::{self, SnapshotCache, WriteDone, WriteJob};

/// Tuning of the engine and its workers.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Runs of an external action before it counts as failed; also the
    /// failed firings of a timer before it is parked.
    pub max_attempts: u32,
    /// Wait before the second run (or firing); doubles each time.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a worker holds an action before another may take it over;
    /// extended every third of it while the action runs.
    pub lease: Duration,
    /// Longest idle sleep: other processes' work is seen within this time.
    pub poll_interval: Duration,
    /// Actions run at the same time by one outbox worker.
    pub outbox_concurrency: usize,
    /// Timer-firing loops started by `spawn_workers`; 0 picks 1 on SQLite
    /// (one writer anyway) and 4 on PostgreSQL (they skip each other's rows).
    pub timer_workers: usize,
    /// Times a step is computed before giving up on a busy instance (each
    /// lost race is retried against the new state after a short random pause).
    pub conflict_retries: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_attempts: 5,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(3600),
            lease: Duration::from_secs(300),
            poll_interval: Duration::from_secs(1),
            outbox_concurrency: 4,
            timer_workers: 0,
            conflict_retries: 30,
        }
    }
}

/// Who acts. A user is checked against the task's candidates; the system
/// (an API key, a connector, a timer) is not.
#[derive(Debug, Clone)]
pub enum Actor {
    User(UserRef),
    System,
}

impl Actor {
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Actor::User(u) => Some(u.id),
            Actor::System => None,
        }
    }
}

/// A person as the inbox sees them: id, organisation, roles.
#[derive(Debug, Clone, Serialize)]
pub struct UserRef {
    pub id: i64,
    pub org_id: i64,
    /// True for members of the host's own (home) organisation: tasks that
    /// name no organisation are theirs. Other users see only tasks of their
    /// `org_id`.
    pub home_org: bool,
    pub roles: Vec<String>,
}

/// What a caller learns about an applied step.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub instance_id: i64,
    pub version: i64,
    pub from_state: String,
    pub state: String,
    pub finished: bool,
    /// The event was recorded but no transition accepted it.
    pub ignored: bool,
    /// Ids of tasks this step opened.
    pub opened_tasks: Vec<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no active version of workflow `{0}`")]
    NoActiveDefinition(String),
    #[error("workflow definition {0} not found")]
    DefinitionNotFound(i64),
    #[error("stored definition is no longer valid:\n{0}")]
    InvalidDefinition(Diagnostics),
    #[error("workflow instance {0} not found")]
    InstanceNotFound(i64),
    #[error("task {0} not found")]
    TaskNotFound(i64),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error("the instance kept changing; gave up after {0} attempts")]
    Conflict(u32),
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    #[error("context of {kind} {id}: {message}")]
    Context {
        kind: String,
        id: i64,
        message: String,
    },
    #[error("migration refused:\n{}", .0.join("\n"))]
    Migration(Vec<String>),
    /// A local action refused the step; nothing of the step was stored.
    /// `reason` is the handler's machine-readable text.
    #[error("action `{action}` refused: {reason}")]
    ActionRefused { action: String, reason: String },
    /// The stored instance row cannot be read (its data is not a JSON
    /// object, …). The step is refused rather than the row overwritten.
    #[error("workflow instance {instance_id} has corrupt stored data: {message}")]
    CorruptInstance { instance_id: i64, message: String },
    /// A stored timer row cannot be read (its payload is not JSON).
    #[error("timer {timer_id} has a corrupt payload: {message}")]
    CorruptTimer { timer_id: i64, message: String },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl EngineError {
    /// Field errors when a task's form was refused.
    pub fn form_errors(&self) -> Option<&FieldErrors> {
        match self {
            EngineError::Step(StepError::Form(e)) => Some(e),
            _ => None,
        }
    }

    /// `(action, reason)` when a local action refused the step.
    pub fn refusal(&self) -> Option<(&str, &str)> {
        match self {
            EngineError::ActionRefused { action, reason } => Some((action, reason)),
            _ => None,
        }
    }
}

/// Builds an [`Engine`]: the host registers roles, events, actions, context
/// providers and calendars, which definitions are validated against.
pub struct EngineBuilder {
    db: Db,
    vocab: Vocabulary,
    actions: HashMap<String, Arc<dyn ActionHandler>>,
    locals: LocalActions,
    contexts: HashMap<String, Arc<dyn ContextProvider>>,
    config: EngineConfig,
}

impl EngineBuilder {
    pub fn role(mut self, role: &str) -> Self {
        self.vocab.roles.insert(role.to_string());
        self
    }

    pub fn roles<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, roles: I) -> Self {
        for r in roles {
            self.vocab.roles.insert(r.as_ref().to_string());
        }
        self
    }

    /// An event any definition may listen to without declaring it.
    pub fn event(mut self, name: &str) -> Self {
        self.vocab.events.insert(name.to_string());
        self
    }

    /// Registers **external** action `name`: it runs after commit from the
    /// outbox, at least once, with an idempotency key (see [`crate::worker`]).
    /// `params`, when given, are the only parameter names definitions may
    /// pass. The reserved `task.created`, `task.remind` and `task.escalated`
    /// may be registered too (to notify people). Registering a name again
    /// (as either kind) replaces the earlier registration.
    pub fn action(
        mut self,
        name: &str,
        params: Option<&[&str]>,
        handler: Arc<dyn ActionHandler>,
    ) -> Self {
        self.declare_action(name, params, false);
        self.locals.remove(name);
        self.actions.insert(name.to_string(), handler);
        self
    }

    /// Registers **local** action `name`: it runs inside the transaction
    /// that stores the step, on that transaction's connection, in step order
    /// with the step's other actions — exactly once with the step. A refusal
    /// rolls the step back ([`EngineError::ActionRefused`]). A local action
    /// has no `<name>.done` / `<name>.failed` events. The reserved task
    /// notifications (`task.created`, …) may be registered as local actions,
    /// so that the host queues its messages in the step's transaction.
    pub fn local_action(
        mut self,
        name: &str,
        params: Option<&[&str]>,
        handler: Arc<dyn LocalActionHandler>,
    ) -> Self {
        self.declare_action(name, params, true);
        self.actions.remove(name);
        self.locals.insert(name.to_string(), handler);
        self
    }

    fn declare_action(&mut self, name: &str, params: Option<&[&str]>, local: bool) {
        if !RESERVED_ACTIONS.contains(&name) {
            self.vocab.actions.insert(
                name.to_string(),
                params.map(|p| p.iter().map(|s| s.to_string()).collect()),
            );
        }
        if local {
            self.vocab.local_actions.insert(name.to_string());
        } else {
            self.vocab.local_actions.remove(name);
        }
    }

    /// Provides `object.*` for definitions of this object kind.
    pub fn context(mut self, object_kind: &str, provider: Arc<dyn ContextProvider>) -> Self {
        self.vocab.object_kinds.insert(object_kind.to_string());
        let fields = provider.fields();
        if !fields.is_empty() {
            self.vocab.object_fields.insert(
                object_kind.to_string(),
                fields.iter().map(|f| f.to_string()).collect(),
            );
        }
        self.contexts.insert(object_kind.to_string(), provider);
        self
    }

    /// Declares an object kind that needs no context.
    pub fn object_kind(mut self, object_kind: &str) -> Self {
        self.vocab.object_kinds.insert(object_kind.to_string());
        self
    }

    pub fn calendars(mut self, calendars: Calendars) -> Self {
        self.vocab.calendars = calendars;
        self
    }

    /// Time zone of cron schedules in definitions that name none.
    pub fn timezone(mut self, tz: Tz) -> Self {
        self.vocab.timezone = tz;
        self
    }

    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// The names definitions are checked against (for `check_files`).
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    pub fn build(self) -> Engine {
        Engine {
            inner: Arc::new(Inner {
                db: self.db,
                vocab: self.vocab,
                actions: self.actions,
                locals: Arc::new(self.locals),
                contexts: self.contexts,
                config: self.config,
                defs: RwLock::new(HashMap::new()),
                timers_changed: Notify::new(),
                outbox_changed: Notify::new(),
                writer: std::sync::OnceLock::new(),
                cache: SnapshotCache::default(),
                wake_timers: AtomicBool::new(false),
                wake_outbox: AtomicBool::new(false),
            }),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) vocab: Vocabulary,
    pub(crate) actions: HashMap<String, Arc<dyn ActionHandler>>,
    pub(crate) locals: Arc<LocalActions>,
    pub(crate) contexts: HashMap<String, Arc<dyn ContextProvider>>,
    pub(crate) config: EngineConfig,
    /// Compiled definitions by row id. A version never changes once stored,
    /// so entries never go stale.
    pub(crate) defs: RwLock<HashMap<i64, Arc<Definition>>>,
    pub(crate) timers_changed: Notify,
    pub(crate) outbox_changed: Notify,
    /// The SQLite group-commit writer, started on first use.
    pub(crate) writer: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<WriteJob>>,
    pub(crate) cache: SnapshotCache,
    /// Work added by `_in_tx` calls whose callers have not called
    /// [`Engine::wake_workers`] yet.
    pub(crate) wake_timers: AtomicBool,
    pub(crate) wake_outbox: AtomicBool,
}

/// The workflow engine. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// A started instance.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    pub instance_id: i64,
    pub definition_id: i64,
    pub state: String,
    pub opened_tasks: Vec<i64>,
}

impl Engine {
    pub fn builder(db: Db) -> EngineBuilder {
        EngineBuilder {
            db,
            vocab: Vocabulary::default(),
            actions: HashMap::new(),
            locals: HashMap::new(),
            contexts: HashMap::new(),
            config: EngineConfig::default(),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn vocabulary(&self) -> &Vocabulary {
        &self.inner.vocab
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Wakes the workers now, after the caller committed a transaction in
    /// which an `_in_tx` method added timers due soon or external actions
    /// (otherwise they notice within the poll interval). Wakes nobody when no
    /// such call happened since the last wake: a woken worker reads the
    /// database, and callers call this after every commit to be safe.
    pub fn wake_workers(&self) {
        let timers = self.inner.wake_timers.swap(false, Ordering::AcqRel);
        let actions = self.inner.wake_outbox.swap(false, Ordering::AcqRel);
        self.after_commit(timers, actions);
    }

    /// The compiled definition stored under `id`.
    pub async fn definition(&self, id: i64) -> Result<Arc<Definition>, EngineError> {
        if let Some(d) = self.cached(id) {
            return Ok(d);
        }
        let mut conn = self.inner.db.pool().acquire().await?;
        self.definition_on(&mut conn, id).await
    }

    fn cached(&self, id: i64) -> Option<Arc<Definition>> {
        self.inner
            .defs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    pub(crate) async fn definition_on(
        &self,
        conn: &mut AnyConnection,
        id: i64,
    ) -> Result<Arc<Definition>, EngineError> {
        if let Some(d) = self.cached(id) {
            return Ok(d);
        }
        let (key, version, yaml) = store::definition_source(conn, id)
            .await?
            .ok_or(EngineError::DefinitionNotFound(id))?;
        let def = crate::dsl::compile(&yaml, &format!("{key}@v{version}"), &self.inner.vocab)
            .map_err(|d| EngineError::InvalidDefinition(Diagnostics(d)))?;
        let def = Arc::new(def);
        self.inner
            .defs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, def.clone());
        Ok(def)
    }

    pub(crate) async fn object_context(
        &self,
        conn: &mut AnyConnection,
        def: &Definition,
        object: &ObjectRef,
    ) -> Result<Value, EngineError> {
        if !def.uses_object {
            return Ok(Value::Null);
        }
        match self.inner.contexts.get(&object.kind) {
            None => Ok(Value::Null),
            Some(p) => p
                .context(conn, object.id)
                .await
                .map_err(|e| EngineError::Context {
                    kind: object.kind.clone(),
                    id: object.id,
                    message: e.to_string(),
                }),
        }
    }

    /// What `object.*` holds for business object `kind`/`id` right now
    /// (`null` for a kind without a context provider or a missing object).
    pub async fn object_context_of(&self, kind: &str, id: i64) -> Result<Value, EngineError> {
        let Some(p) = self.inner.contexts.get(kind) else {
            return Ok(Value::Null);
        };
        let mut conn = self.inner.db.pool().acquire().await?;
        p.context(&mut conn, id)
            .await
            .map_err(|e| EngineError::Context {
                kind: kind.to_string(),
                id,
                message: e.to_string(),
            })
    }

    /// Starts an instance of the active version of `key` for `object`.
    pub async fn start(
        &self,
        key: &str,
        object: ObjectRef,
        data: Map<String, Value>,
        actor: Option<i64>,
    ) -> Result<Started, EngineError> {
        let mut tx = self.inner.db.begin().await?;
        let started = self.start_on(&mut tx, key, object, data, actor).await?;
        tx.commit().await?;
        self.after_commit(started.1, started.2);
        Ok(started.0)
    }

    /// [`Engine::start`] inside the caller's transaction, so that a business
    /// row and its workflow are created together or not at all.
    pub async fn start_in_tx(
        &self,
        tx: &mut Tx,
        key: &str,
        object: ObjectRef,
        data: Map<String, Value>,
        actor: Option<i64>,
    ) -> Result<Started, EngineError> {
        let (started, timers, actions) = self.start_on(tx, key, object, data, actor).await?;
        self.after_commit_soon(timers, actions);
        Ok(started)
    }

    async fn start_on(
        &self,
        tx: &mut Tx,
        key: &str,
        object: ObjectRef,
        data: Map<String, Value>,
        actor: Option<i64>,
    ) -> Result<(Started, bool, bool), EngineError> {
        let conn: &mut AnyConnection = tx;
        let def_id = store::active_definition(conn, key)
            .await?
            .ok_or_else(|| EngineError::NoActiveDefinition(key.to_string()))?;
        let def = self.definition_on(conn, def_id).await?;
        let ctx = StepContext {
            object: self.object_context(conn, &def, &object).await?,
            strict: false,
        };
        let snap = Snapshot::new_instance(0, object);
        let outcome = step(
            &def,
            &snap,
            &Trigger::Start { data, actor },
            &ctx,
            self.inner.db.now(),
        )?;
        let applied = store::apply(
            conn,
            &def.key,
            def_id,
            &snap,
            &outcome,
            self.inner.db.now(),
            None,
            &self.inner.locals,
        )
        .await
        .map_err(apply_error)?;
        Ok((
            Started {
                instance_id: applied.instance_id,
                definition_id: def_id,
                state: outcome.state.clone(),
                opened_tasks: applied.task_ids.clone(),
            },
            self.timers_to_wake(&outcome),
            self.has_outbox_work(&outcome),
        ))
    }

    /// Delivers an external event to an instance. An event the current state
    /// does not accept is recorded in the history as ignored.
    pub async fn emit(
        &self,
        instance_id: i64,
        name: &str,
        payload: Value,
        actor: Option<i64>,
    ) -> Result<StepReport, EngineError> {
        let trigger = Trigger::Event {
            name: name.to_string(),
            payload,
            actor,
        };
        self.trigger(instance_id, trigger, false).await
    }

    /// Like [`Engine::emit`], but an event the state does not accept is an
    /// error ([`StepError::NotAccepted`]) and nothing is stored.
    pub async fn emit_strict(
        &self,
        instance_id: i64,
        name: &str,
        payload: Value,
        actor: Option<i64>,
    ) -> Result<StepReport, EngineError> {
        let trigger = Trigger::Event {
            name: name.to_string(),
            payload,
            actor,
        };
        self.trigger(instance_id, trigger, true).await
    }

    /// [`Engine::emit`] inside the caller's transaction.
    pub async fn emit_in_tx(
        &self,
        tx: &mut Tx,
        instance_id: i64,
        name: &str,
        payload: Value,
        actor: Option<i64>,
    ) -> Result<StepReport, EngineError> {
        let trigger = Trigger::Event {
            name: name.to_string(),
            payload,
            actor,
        };
        let (report, timers, actions) = self
            .trigger_locked(tx, instance_id, &trigger, false)
            .await?;
        self.after_commit_soon(timers, actions);
        Ok(report)
    }

    /// Delivers an event to every running instance of a business object.
    pub async fn emit_to_object(
        &self,
        kind: &str,
        object_id: i64,
        name: &str,
        payload: Value,
        actor: Option<i64>,
    ) -> Result<Vec<StepReport>, EngineError> {
        let ids = {
            let mut conn = self.inner.db.pool().acquire().await?;
            store::running_instances_of(&mut conn, kind, object_id).await?
        };
        let mut out = Vec::new();
        for id in ids {
            out.push(self.emit(id, name, payload.clone(), actor).await?);
        }
        Ok(out)
    }

    /// [`Engine::emit_to_object`] inside the caller's transaction.
    pub async fn emit_to_object_in_tx(
        &self,
        tx: &mut Tx,
        kind: &str,
        object_id: i64,
        name: &str,
        payload: Value,
        actor: Option<i64>,
    ) -> Result<Vec<StepReport>, EngineError> {
        let ids = store::running_instances_of(tx, kind, object_id).await?;
        let mut out = Vec::new();
        for id in ids {
            out.push(
                self.emit_in_tx(tx, id, name, payload.clone(), actor)
                    .await?,
            );
        }
        Ok(out)
    }

    /// Re-evaluates `when:` guards and `at:` times of an instance (call it
    /// when the business object changed in a way the workflow watches).
    pub async fn recheck(&self, instance_id: i64) -> Result<StepReport, EngineError> {
        self.trigger(instance_id, Trigger::Recheck, false).await
    }

    /// Completes a task with `outcome`. The form is validated against the
    /// task's form ([`EngineError::form_errors`]); a user must be allowed to
    /// do the task; a task completed meanwhile by someone else is refused.
    pub async fn complete_task(
        &self,
        task_id: i64,
        outcome: &str,
        form: Map<String, Value>,
        actor: &Actor,
    ) -> Result<StepReport, EngineError> {
        let instance_id = {
            let db = &self.inner.db;
            let mut conn = db.pool().acquire().await?;
            let access = store::task_access(&mut conn, db.dialect(), task_id)
                .await?
                .ok_or(EngineError::TaskNotFound(task_id))?;
            if let Actor::User(u) = actor {
                access.check_complete(u)?;
            }
            access.instance_id
        };
        let trigger = Trigger::TaskOutcome {
            task_id,
            outcome: outcome.to_string(),
            form,
            actor: actor.user_id(),
        };
        self.trigger(instance_id, trigger, false).await
    }

    /// Applies `trigger` to an instance: load, step, store; recomputed when
    /// another writer got there first.
    pub async fn trigger(
        &self,
        instance_id: i64,
        trigger: Trigger,
        strict: bool,
    ) -> Result<StepReport, EngineError> {
        let db = &self.inner.db;
        let attempts = self.inner.config.conflict_retries.max(1);
        let mut use_cache = true;
        let mut conflicts = 0u32;
        for _ in 0..attempts {
            let cached = if use_cache {
                self.cached_snapshot(instance_id)
            } else {
                None
            };
            let from_cache = cached.is_some();
            use_cache = false;
            let (def_id, def, snap, ctx) = match cached {
                Some((def_id, def, snap)) => (
                    def_id,
                    def,
                    snap,
                    StepContext {
                        object: Value::Null,
                        strict,
                    },
                ),
                None => {
                    let mut conn = db.pool().acquire().await?;
                    let (def_id, snap) = self.load(&mut conn, instance_id, false).await?;
                    let def = self.definition_on(&mut conn, def_id).await?;
                    let object = self.object_context(&mut conn, &def, &snap.object).await?;
                    (def_id, def, snap, StepContext { object, strict })
                }
            };
            let outcome = match step(&def, &snap, &trigger, &ctx, db.now()) {
                Ok(o) => o,
                // A remembered snapshot may be old: decide on a fresh one.
                Err(_) if from_cache => {
                    self.inner.cache.remove(instance_id);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if outcome.is_noop() {
                return Ok(report(&outcome, &[], false));
            }
            let done = self.store_step(&def.key, def_id, snap, outcome).await?;
            match done.result {
                Ok(applied) => {
                    self.remember(&def, def_id, &done.snap, &done.outcome);
                    let o = &done.outcome;
                    self.after_commit(self.timers_to_wake(o), self.has_outbox_work(o));
                    return Ok(report(o, &applied.task_ids, is_ignored(o)));
                }
                Err(ApplyError::Conflict) => {
                    self.inner.cache.remove(instance_id);
                    metrics::counter!("engine_step_conflicts_total").increment(1);
                    // Callers racing on one instance retry at slightly
                    // different moments, so that each round one of them wins.
                    conflicts += 1;
                    let jitter = rand::random_range(0..=500 * conflicts.min(20) as u64);
                    tokio::time::sleep(Duration::from_micros(jitter)).await;
                    continue;
                }
                Err(e) => {
                    self.inner.cache.remove(instance_id);
                    return Err(apply_error(e));
                }
            }
        }
        Err(EngineError::Conflict(attempts))
    }

    /// The remembered snapshot of an instance, when its definition is
    /// compiled and needs no business-object context.
    fn cached_snapshot(&self, instance_id: i64) -> Option<(i64, Arc<Definition>, Snapshot)> {
        let (def_id, snap) = self.inner.cache.get(instance_id)?;
        let def = self.cached(def_id)?;
        (!def.uses_object).then_some((def_id, def, snap))
    }

    /// Remembers the stored snapshot when its state has no tasks and no
    /// timers (then the snapshot is just state, data and version).
    fn remember(&self, def: &Definition, def_id: i64, snap: &Snapshot, o: &Outcome) {
        let plain = def
            .state(&o.state)
            .is_some_and(|s| s.tasks.is_empty() && !s.has_timers())
            && o.open_tasks.is_empty()
            && o.set_timers.is_empty();
        if plain {
            self.inner.cache.put(
                def_id,
                Snapshot {
                    id: snap.id,
                    object: snap.object.clone(),
                    state: o.state.clone(),
                    data: o.data.clone(),
                    version: o.version,
                    finished: o.finished,
                    tasks: Vec::new(),
                    timers: Vec::new(),
                },
            );
        } else {
            self.inner.cache.remove(snap.id);
        }
    }

    /// Stores a computed step: through the batching writer on SQLite, in its
    /// own transaction on PostgreSQL (whose connections write in parallel).
    async fn store_step(
        &self,
        key: &str,
        def_id: i64,
        snap: Snapshot,
        outcome: Outcome,
    ) -> Result<WriteDone, EngineError> {
        let db = &self.inner.db;
        if db.dialect() == Dialect::Sqlite {
            let writer = self
                .inner
                .writer
                .get_or_init(|| writer::spawn_writer(db.clone(), self.inner.locals.clone()));
            let (reply, answer) = tokio::sync::oneshot::channel();
            let job = WriteJob {
                key: key.to_string(),
                def_id,
                snap,
                outcome,
                reply,
            };
            match writer.send(job) {
                Ok(()) => {
                    // The writer answers every job; it only vanishes when its
                    // runtime shuts down, and then nothing was stored.
                    return answer.await.map_err(|_| EngineError::Conflict(1));
                }
                Err(back) => {
                    let job = back.0;
                    return self.store_direct(key, def_id, job.snap, job.outcome).await;
                }
            }
        }
        self.store_direct(key, def_id, snap, outcome).await
    }

    async fn store_direct(
        &self,
        key: &str,
        def_id: i64,
        snap: Snapshot,
        outcome: Outcome,
    ) -> Result<WriteDone, EngineError> {
        let db = &self.inner.db;
        let mut tx = db.begin().await?;
        // The transaction is this step's alone and is rolled back whole on
        // a refusal: no savepoint needed.
        let result = match store::apply_alone(
            &mut tx,
            key,
            def_id,
            &snap,
            &outcome,
            db.now(),
            &self.inner.locals,
        )
        .await
        {
            Ok(a) => {
                tx.commit().await?;
                Ok(a)
            }
            Err(e) => {
                tx.rollback().await?;
                Err(e)
            }
        };
        Ok(WriteDone {
            result,
            snap,
            outcome,
        })
    }

    /// Loads, steps and applies within `tx`, holding the instance's row lock
    /// on PostgreSQL (SQLite's single writer already excludes others).
    pub(crate) async fn trigger_locked(
        &self,
        tx: &mut Tx,
        instance_id: i64,
        trigger: &Trigger,
        strict: bool,
    ) -> Result<(StepReport, bool, bool), EngineError> {
        let db = &self.inner.db;
        let conn: &mut AnyConnection = tx;
        self.inner.cache.remove(instance_id);
        let (def_id, snap) = self.load(conn, instance_id, true).await?;
        let def = self.definition_on(conn, def_id).await?;
        let ctx = StepContext {
            object: self.object_context(conn, &def, &snap.object).await?,
            strict,
        };
        let outcome = step(&def, &snap, trigger, &ctx, db.now())?;
        if outcome.is_noop() {
            return Ok((report(&outcome, &[], false), false, false));
        }
        let applied = store::apply(
            conn,
            &def.key,
            def_id,
            &snap,
            &outcome,
            db.now(),
            None,
            &self.inner.locals,
        )
        .await
        .map_err(apply_error)?;
        Ok((
            report(&outcome, &applied.task_ids, is_ignored(&outcome)),
            self.timers_to_wake(&outcome),
            self.has_outbox_work(&outcome),
        ))
    }

    /// Loads an instance snapshot; its open tasks and timers are read only
    /// when its state can have any (most steps need one query).
    pub(crate) async fn load(
        &self,
        conn: &mut AnyConnection,
        instance_id: i64,
        lock: bool,
    ) -> Result<(i64, Snapshot), EngineError> {
        let lock = lock && self.inner.db.dialect() == Dialect::Postgres;
        let row = store::instance_row(conn, instance_id, lock)
            .await?
            .ok_or(EngineError::InstanceNotFound(instance_id))?;
        let def = self.definition_on(conn, row.definition_id).await?;
        let (need_tasks, need_timers) = match def.state(&row.state) {
            Some(s) => (!s.tasks.is_empty(), s.has_timers()),
            // A state unknown to the definition cannot happen short of manual
            // edits; load everything so that nothing is left dangling.
            None => (true, true),
        };
        let snap = store::snapshot(conn, row, need_tasks, need_timers).await?;
        Ok((snap.0, snap.1))
    }

    /// Whether a stored step set a timer the timer workers must hear about
    /// now: one due before their next look anyway (they sleep at most the
    /// poll interval). Waking them for a reminder due in an hour would cost
    /// a read for nothing.
    pub(crate) fn timers_to_wake(&self, o: &Outcome) -> bool {
        let soon = self.inner.db.now()
            + chrono::Duration::from_std(self.inner.config.poll_interval)
                .unwrap_or(chrono::Duration::seconds(1));
        o.set_timers.iter().any(|t| t.due_at <= soon)
    }

    /// Whether a stored step queued work for the outbox worker: an external
    /// action (local actions ran in the step's transaction).
    pub(crate) fn has_outbox_work(&self, o: &Outcome) -> bool {
        o.actions
            .iter()
            .any(|a| !self.inner.locals.contains_key(&a.name))
    }

    pub(crate) fn after_commit(&self, timers: bool, actions: bool) {
        if timers {
            self.inner.timers_changed.notify_one();
        }
        if actions {
            self.inner.outbox_changed.notify_one();
        }
    }

    /// After an `_in_tx` call the caller commits later: wake the workers a
    /// moment from now, when the commit has most likely happened.
    fn after_commit_soon(&self, timers: bool, actions: bool) {
        if !timers && !actions {
            return;
        }
        // For the caller's `wake_workers()` after its commit.
        if timers {
            self.inner.wake_timers.store(true, Ordering::Release);
        }
        if actions {
            self.inner.wake_outbox.store(true, Ordering::Release);
        }
        let engine = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(25)).await;
            engine.after_commit(timers, actions);
        });
    }
}

pub(crate) fn apply_error(e: ApplyError) -> EngineError {
    match e {
        ApplyError::Conflict => EngineError::Conflict(1),
        ApplyError::Refused { action, reason } => EngineError::ActionRefused { action, reason },
        ApplyError::Db(e) => EngineError::Db(e),
    }
}

fn is_ignored(o: &Outcome) -> bool {
    o.history.len() == 1 && o.history[0].details.get("ignored").is_some()
}

pub(crate) fn report(o: &Outcome, task_ids: &[i64], ignored: bool) -> StepReport {
    StepReport {
        instance_id: o.instance_id,
        version: if o.is_noop() {
            o.from_version
        } else {
            o.version
        },
        from_state: o.from_state.clone(),
        state: o.state.clone(),
        finished: o.finished,
        ignored,
        opened_tasks: task_ids.to_vec(),
    }
}

/// Counts of instances per state, for one definition version.
pub type StateCounts = BTreeMap<String, i64>;
