-- Foundation: organisations, people, sessions, notifications, audit.
-- Conventions (see engine/src/db.rs): ids and money are integers, times are
-- UTC milliseconds since the epoch, JSON is TEXT, no boolean columns.

CREATE TABLE organisations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL CHECK (kind IN ('broker', 'supplier', 'client')),
    legal_form      TEXT    NOT NULL CHECK (legal_form IN ('ooo', 'ao', 'pao', 'ip', 'self_employed', 'person')),
    name            TEXT    NOT NULL,
    short_name      TEXT,
    inn             TEXT,
    kpp             TEXT,
    ogrn            TEXT,
    phone           TEXT,
    email           TEXT,
    status          TEXT    NOT NULL DEFAULT 'active',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX organisations_kind ON organisations (kind, status);
CREATE INDEX organisations_inn ON organisations (inn);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          INTEGER NOT NULL REFERENCES organisations (id),
    email           TEXT    UNIQUE,
    phone           TEXT    UNIQUE,
    full_name       TEXT    NOT NULL,
    password_hash   TEXT,
    status          TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'invited', 'disabled')),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_login_at   INTEGER,
    CHECK (email IS NOT NULL OR phone IS NOT NULL)
);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE user_roles (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT    NOT NULL,
    PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_role ON user_roles (role);

-- The session cookie holds a random token; only its SHA-256 is stored.
CREATE TABLE sessions (
    token_hash      TEXT    PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    ip              TEXT,
    user_agent      TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Failed sign-ins per login and per client address.
CREATE TABLE login_throttle (
    key             TEXT    PRIMARY KEY,
    failures        INTEGER NOT NULL,
    window_start_at INTEGER NOT NULL,
    locked_until    INTEGER
);

-- One-time links (password reset, invitations, e-mail confirmation).
CREATE TABLE one_time_tokens (
    token_hash      TEXT    PRIMARY KEY,
    purpose         TEXT    NOT NULL,
    user_id         INTEGER REFERENCES users (id) ON DELETE CASCADE,
    payload         TEXT    NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id, purpose);

-- Every message to a person (e-mail, SMS, Telegram) is written here in the
-- transaction that caused it, then delivered by a background sender. With no
-- transport configured it stays here for an admin to read.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel         TEXT    NOT NULL CHECK (channel IN ('email', 'sms', 'telegram')),
    recipient       TEXT    NOT NULL,
    user_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed', 'undeliverable')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX notifications_queue ON notifications (status, next_attempt_at);
CREATE INDEX notifications_recipient ON notifications (recipient);

-- Who did what, when: changes outside workflow history (which the engine keeps).
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    actor_user_id   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    org_id          INTEGER REFERENCES organisations (id) ON DELETE SET NULL,
    action          TEXT    NOT NULL,
    object_type     TEXT    NOT NULL,
    object_id       INTEGER,
    details         TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);

-- Server-wide secrets (HMAC keys), created at first start and shared by every
-- app server on the same database.
CREATE TABLE app_secrets (
    name            TEXT    PRIMARY KEY,
    value           TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);
