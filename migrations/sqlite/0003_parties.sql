-- Parties: company details of suppliers and clients, their garage and
-- people, uploaded files, contact people, bulk imports.

ALTER TABLE organisations ADD COLUMN legal_address TEXT;
ALTER TABLE organisations ADD COLUMN postal_address TEXT;
ALTER TABLE organisations ADD COLUMN region TEXT;
ALTER TABLE organisations ADD COLUMN bank_name TEXT;
ALTER TABLE organisations ADD COLUMN bik TEXT;
ALTER TABLE organisations ADD COLUMN settlement_account TEXT;
ALTER TABLE organisations ADD COLUMN corr_account TEXT;
ALTER TABLE organisations ADD COLUMN vat_mode TEXT;
ALTER TABLE organisations ADD COLUMN director_name TEXT;
ALTER TABLE organisations ADD COLUMN director_post TEXT;
ALTER TABLE organisations ADD COLUMN contact_name TEXT;
-- Why an application was rejected or sent back for changes (shown to the supplier).
ALTER TABLE organisations ADD COLUMN status_reason TEXT;
ALTER TABLE organisations ADD COLUMN approved_at INTEGER;
ALTER TABLE organisations ADD COLUMN registered_by INTEGER REFERENCES users (id);

ALTER TABLE users ADD COLUMN email_confirmed_at INTEGER;

-- Every change of an organisation's details: who, when, which fields, from what to what.
CREATE TABLE org_changes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          INTEGER NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    at              INTEGER NOT NULL,
    user_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    changes         TEXT    NOT NULL
);
CREATE INDEX org_changes_org ON org_changes (org_id, at);

-- A client's contact people (not necessarily users).
CREATE TABLE org_contacts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          INTEGER NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    full_name       TEXT    NOT NULL,
    position        TEXT,
    phone           TEXT,
    email           TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX org_contacts_org ON org_contacts (org_id);

-- Uploaded files. The bytes live in the configured storage (local disk by
-- default) under storage_key; access always goes through org_id.
CREATE TABLE files (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          INTEGER NOT NULL REFERENCES organisations (id),
    purpose         TEXT    NOT NULL,
    original_name   TEXT    NOT NULL,
    content_type    TEXT    NOT NULL,
    size_bytes      INTEGER NOT NULL,
    sha256          TEXT    NOT NULL,
    storage_key     TEXT    NOT NULL UNIQUE,
    uploaded_by     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX files_org ON files (org_id);

-- A supplier's machines.
CREATE TABLE machines (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          INTEGER NOT NULL REFERENCES organisations (id),
    category        TEXT    NOT NULL,
    make            TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    year            INTEGER,
    plate           TEXT,
    vin             TEXT,
    specs           TEXT    NOT NULL DEFAULT '{}',
    base_address    TEXT,
    base_lat        REAL,
    base_lon        REAL,
    service_radius_km INTEGER NOT NULL DEFAULT 50,
    status          TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    photo_file_id   INTEGER REFERENCES files (id),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX machines_org ON machines (org_id, status);
CREATE INDEX machines_category ON machines (category, status);
CREATE UNIQUE INDEX machines_plate ON machines (plate) WHERE plate IS NOT NULL AND status = 'active';

-- A machine's documents with their validity (calendar dates, 'YYYY-MM-DD').
CREATE TABLE machine_documents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    machine_id      INTEGER NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    org_id          INTEGER NOT NULL REFERENCES organisations (id),
    kind            TEXT    NOT NULL,
    number          TEXT,
    valid_from      TEXT,
    valid_until     TEXT,
    file_id         INTEGER REFERENCES files (id),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX machine_documents_machine ON machine_documents (machine_id, kind);
CREATE INDEX machine_documents_expiry ON machine_documents (valid_until);

-- Days a machine is busy (from the supplier's calendar).
CREATE TABLE machine_busy_days (
    machine_id      INTEGER NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    day             TEXT    NOT NULL,
    note            TEXT,
    PRIMARY KEY (machine_id, day)
);

-- A supplier's dispatchers and drivers/operators. A person gets a login by
-- accepting an invitation; until then user_id is empty.
CREATE TABLE employees (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          INTEGER NOT NULL REFERENCES organisations (id),
    user_id         INTEGER UNIQUE REFERENCES users (id) ON DELETE SET NULL,
    role            TEXT    NOT NULL CHECK (role IN ('owner', 'dispatcher', 'driver')),
    full_name       TEXT    NOT NULL,
    phone           TEXT,
    email           TEXT,
    licence_categories TEXT,
    operator_licence TEXT,
    photo_file_id   INTEGER REFERENCES files (id),
    status          TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX employees_org ON employees (org_id, role, status);

-- Bulk imports of a supplier's fleet: the parsed rows wait here between the
-- preview and the confirmation; progress is shown while a large file runs.
CREATE TABLE imports (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          INTEGER NOT NULL REFERENCES organisations (id),
    user_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    kind            TEXT    NOT NULL,
    file_name       TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('parsing', 'preview', 'importing', 'done', 'failed', 'cancelled')),
    total_rows      INTEGER NOT NULL DEFAULT 0,
    processed_rows  INTEGER NOT NULL DEFAULT 0,
    error_rows      INTEGER NOT NULL DEFAULT 0,
    rows            TEXT    NOT NULL DEFAULT '[]',
    message         TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX imports_org ON imports (org_id, created_at);
