-- Tokens for the JSON API (integrations, connectors' webhooks, tools). Only
-- the SHA-256 of a token is stored; it is shown once when created.
CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    token_hash      TEXT    NOT NULL UNIQUE,
    created_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
);
