-- Signing (domain/src/signing): envelopes (one per document and party),
-- the signatures with their evidence, the e-signature agreements, the
-- one-time signing codes, the signed copies, and the ingress of EDO
-- operators' events.

-- Who may countersign for the company (a per-person setting an admin
-- gives), and the authority the signature page prints.
ALTER TABLE users ADD COLUMN can_countersign INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN sign_position TEXT;
ALTER TABLE users ADD COLUMN sign_basis TEXT;

-- How a counterparty signs: the built-in simple e-signature (pep) or its
-- EDO operator with its box.
ALTER TABLE organisations ADD COLUMN signing_channel TEXT NOT NULL DEFAULT 'pep';
ALTER TABLE organisations ADD COLUMN edo_box_id TEXT;

CREATE TABLE envelopes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id      INTEGER NOT NULL REFERENCES rendered_documents (id),
    owner_kind       TEXT    NOT NULL,
    owner_id         INTEGER NOT NULL,
    owner_part       TEXT    NOT NULL,
    party_org_id     INTEGER NOT NULL REFERENCES organisations (id),
    channel          TEXT    NOT NULL CHECK (channel IN ('pep', 'diadoc', 'sbis')),
    edo_box_id       TEXT,
    edo_message_id   TEXT,
    edo_document_id  TEXT,
    status           TEXT    NOT NULL CHECK (status IN ('sent', 'signed_by_party', 'countersigned', 'rejected', 'superseded')),
    reject_reason    TEXT,
    signed_storage_key TEXT,
    signed_sha256    TEXT,
    superseded_by    INTEGER REFERENCES envelopes (id),
    created_by       INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at       INTEGER NOT NULL,
    party_signed_at  INTEGER,
    countersigned_at INTEGER,
    rejected_at      INTEGER,
    reminded_at      INTEGER,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX envelopes_owner ON envelopes (owner_kind, owner_id);
CREATE INDEX envelopes_party ON envelopes (party_org_id, status);
CREATE UNIQUE INDEX envelopes_document ON envelopes (document_id);
CREATE INDEX envelopes_signed_sha ON envelopes (signed_sha256);
CREATE INDEX envelopes_edo ON envelopes (channel, edo_message_id);

-- One row per signature given, with what 63-FZ art. 9 asks to be kept.
CREATE TABLE signatures (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    envelope_id      INTEGER NOT NULL REFERENCES envelopes (id),
    side             TEXT    NOT NULL CHECK (side IN ('party', 'broker')),
    org_id           INTEGER NOT NULL REFERENCES organisations (id),
    user_id          INTEGER REFERENCES users (id),
    signer_name      TEXT    NOT NULL,
    position         TEXT    NOT NULL,
    basis            TEXT    NOT NULL,
    poa_number       TEXT,
    poa_date         TEXT,
    method           TEXT    NOT NULL,
    document_sha256  TEXT    NOT NULL,
    code_hash        TEXT,
    ip               TEXT,
    user_agent       TEXT,
    signed_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX signatures_once ON signatures (envelope_id, side);

-- The e-signature agreement, accepted once per counterparty.
CREATE TABLE esign_agreements (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id           INTEGER NOT NULL REFERENCES organisations (id),
    version          TEXT    NOT NULL,
    text_sha256      TEXT    NOT NULL,
    user_id          INTEGER NOT NULL REFERENCES users (id),
    ip               TEXT,
    user_agent       TEXT,
    accepted_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX esign_agreements_once ON esign_agreements (org_id, version);

-- One-time signing codes: only their SHA-256 is stored.
CREATE TABLE signing_codes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    envelope_id      INTEGER NOT NULL REFERENCES envelopes (id),
    user_id          INTEGER NOT NULL REFERENCES users (id),
    code_hash        TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    used_at          INTEGER
);
CREATE INDEX signing_codes_user ON signing_codes (user_id, created_at);

-- Events of EDO operators, each applied once.
CREATE TABLE edo_inbound_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    provider         TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    message_id       TEXT    NOT NULL,
    document_id      TEXT,
    kind             TEXT    NOT NULL,
    reason           TEXT,
    envelope_id      INTEGER REFERENCES envelopes (id),
    received_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX edo_inbound_events_once ON edo_inbound_events (provider, event_id);
