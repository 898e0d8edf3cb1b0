-- Requests: what a client asks for, of one of the request types analysts
-- define in workflows/request_types/. Common fields are columns; the type's
-- own fields are JSON in `fields` (typed as the type's YAML says).

-- Who brought a client and who is responsible for them (DESIGN §4): a hunter
-- owns a new client's requests until the first order goes into work; then a
-- responsible manager takes that order and everything after it.
ALTER TABLE organisations ADD COLUMN hunter_user_id INTEGER REFERENCES users (id);
ALTER TABLE organisations ADD COLUMN manager_user_id INTEGER REFERENCES users (id);
ALTER TABLE organisations ADD COLUMN first_order_at INTEGER;
ALTER TABLE organisations ADD COLUMN acquisition_channel TEXT;

CREATE TABLE requests (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The reference people quote on the phone, e.g. З-2026-00042.
    number          TEXT    NOT NULL UNIQUE,
    request_type    TEXT    NOT NULL,
    client_org_id   INTEGER NOT NULL REFERENCES organisations (id),
    contact_name    TEXT,
    contact_phone   TEXT,
    contact_email   TEXT,
    channel         TEXT    NOT NULL CHECK (channel IN ('website', 'operator', 'hunter', 'cabinet', 'api')),
    hunter_user_id  INTEGER REFERENCES users (id),
    owner_user_id   INTEGER REFERENCES users (id),
    created_by      INTEGER REFERENCES users (id),
    status          TEXT    NOT NULL DEFAULT 'new',
    site_address    TEXT,
    site_lat        REAL,
    site_lon        REAL,
    site_timezone   TEXT,
    wanted_from     INTEGER,
    wanted_to       INTEGER,
    -- In the request type's duration unit (hours or shifts).
    duration        REAL,
    comment         TEXT,
    fields          TEXT    NOT NULL DEFAULT '{}',
    search_text     TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX requests_client ON requests (client_org_id, created_at);
CREATE INDEX requests_owner ON requests (owner_user_id, status);
CREATE INDEX requests_status ON requests (status, created_at);
CREATE INDEX requests_channel ON requests (channel, created_at);

CREATE TABLE request_files (
    request_id      INTEGER NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    file_id         INTEGER NOT NULL REFERENCES files (id),
    PRIMARY KEY (request_id, file_id)
);

-- Sequence per year for request numbers (portable: one row per year).
CREATE TABLE request_numbers (
    year            INTEGER PRIMARY KEY,
    last            INTEGER NOT NULL
);

-- Fixed-window counters for rate limits shared by every app server
-- (public form per address, and the like).
CREATE TABLE rate_limits (
    key             TEXT    PRIMARY KEY,
    window_start_at INTEGER NOT NULL,
    hits            INTEGER NOT NULL
);
