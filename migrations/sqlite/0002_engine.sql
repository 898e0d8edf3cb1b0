-- The workflow engine: definitions (every version), instances, history,
-- human tasks, timers and the action outbox.
-- Conventions (see engine/src/db.rs): ids are integers, times are UTC
-- milliseconds since the epoch, JSON is TEXT, no boolean columns.

-- Every version of every definition. Exactly one version per key is active;
-- new instances use it, running ones keep the version they started with.
CREATE TABLE wf_definitions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    key             TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    content_hash    TEXT    NOT NULL,
    yaml            TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    object_kind     TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('draft', 'active', 'inactive')),
    created_by      INTEGER,
    created_at      INTEGER NOT NULL,
    activated_by    INTEGER,
    activated_at    INTEGER,
    UNIQUE (key, version),
    UNIQUE (key, content_hash)
);
CREATE UNIQUE INDEX wf_definitions_one_active ON wf_definitions (key) WHERE status = 'active';

-- One running workflow for one business object. `version` counts applied
-- steps and guards against two writers (optimistic locking).
CREATE TABLE wf_instances (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    definition_id   INTEGER NOT NULL REFERENCES wf_definitions (id),
    definition_key  TEXT    NOT NULL,
    object_kind     TEXT    NOT NULL,
    object_id       INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    data            TEXT    NOT NULL DEFAULT '{}',
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX wf_instances_object ON wf_instances (object_kind, object_id);
CREATE INDEX wf_instances_definition ON wf_instances (definition_id, state);
CREATE INDEX wf_instances_key ON wf_instances (definition_key, finished_at);

-- Append-only: one row per transition (or ignored event, reminder…).
-- No AUTOINCREMENT here: rows are never deleted, and it saves a write per step.
CREATE TABLE wf_history (
    id              INTEGER PRIMARY KEY,
    instance_id     INTEGER NOT NULL REFERENCES wf_instances (id),
    step            INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    trigger_kind    TEXT    NOT NULL,
    trigger_name    TEXT,
    from_state      TEXT    NOT NULL,
    to_state        TEXT    NOT NULL,
    actor_user_id   INTEGER,
    at              INTEGER NOT NULL,
    data_change     TEXT    NOT NULL DEFAULT '{}',
    details         TEXT    NOT NULL DEFAULT 'null',
    UNIQUE (instance_id, step, seq)
);

-- Human tasks. Who may see and do an unclaimed task is in wf_task_roles.
CREATE TABLE wf_tasks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id     INTEGER NOT NULL REFERENCES wf_instances (id),
    definition_key  TEXT    NOT NULL,
    task_key        TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    search_text     TEXT    NOT NULL,
    org_id          INTEGER,
    assignee_user_id INTEGER,
    claimed_by      INTEGER,
    claimed_at      INTEGER,
    priority        TEXT    NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    priority_rank   INTEGER NOT NULL,
    due_at          INTEGER,
    status          TEXT    NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
    outcome         TEXT,
    form_values     TEXT,
    created_at      INTEGER NOT NULL,
    completed_at    INTEGER,
    completed_by    INTEGER,
    escalated_at    INTEGER
);
CREATE INDEX wf_tasks_instance ON wf_tasks (instance_id, status);
CREATE INDEX wf_tasks_open_assignee ON wf_tasks (assignee_user_id) WHERE status = 'open';
CREATE INDEX wf_tasks_open_claimed ON wf_tasks (claimed_by) WHERE status = 'open';

-- Candidate roles of a task, each scoped to an organisation (NULL: the
-- broker's own staff). `via` is 'candidate' or 'escalation'.
CREATE TABLE wf_task_roles (
    task_id         INTEGER NOT NULL REFERENCES wf_tasks (id) ON DELETE CASCADE,
    role            TEXT    NOT NULL,
    org_id          INTEGER,
    via             TEXT    NOT NULL CHECK (via IN ('candidate', 'escalation')),
    UNIQUE (task_id, role, via)
);
CREATE INDEX wf_task_roles_role ON wf_task_roles (role, org_id);

-- Pending timers; a row is deleted in the transaction of the step it fires.
CREATE TABLE wf_timers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id     INTEGER NOT NULL REFERENCES wf_instances (id),
    kind            TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    due_at          INTEGER NOT NULL,
    payload         TEXT    NOT NULL DEFAULT 'null',
    created_at      INTEGER NOT NULL,
    UNIQUE (instance_id, key)
);
CREATE INDEX wf_timers_due ON wf_timers (due_at);

-- Actions to run after commit, at least once, with a stable idempotency key.
-- While a worker holds a row, next_attempt_at = locked_until (the lease), so
-- one index finds both new work and expired leases.
CREATE TABLE wf_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id     INTEGER NOT NULL REFERENCES wf_instances (id),
    step            INTEGER NOT NULL,
    action_index    INTEGER NOT NULL,
    action          TEXT    NOT NULL,
    params          TEXT    NOT NULL DEFAULT '{}',
    idempotency_key TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER,
    last_error      TEXT,
    result          TEXT,
    created_at      INTEGER NOT NULL,
    completed_at    INTEGER
);
CREATE INDEX wf_outbox_due ON wf_outbox (next_attempt_at) WHERE status IN ('pending', 'running');
CREATE INDEX wf_outbox_instance ON wf_outbox (instance_id);
