-- A public request must not act for an existing client without proof
-- (issue 10, point 6). When a website or API request matches a client by
-- INN, phone or e-mail but carries a detail that client does not have on
-- record (another e-mail, phone or INN), the request is filed under the
-- matched client and held here as "client unconfirmed" until staff decide:
-- the same client (the typed contacts become the client's) or another one
-- (a new client is made from the typed details and takes the request).
-- While unconfirmed, the matched client's own users do not see the request
-- and no offer can be sent for it.
CREATE TABLE request_client_matches (
    request_id      INTEGER PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    matched_org_id  INTEGER NOT NULL REFERENCES organisations (id),
    matched_by      TEXT    NOT NULL CHECK (matched_by IN ('inn', 'phone', 'email')),
    status          TEXT    NOT NULL DEFAULT 'unconfirmed' CHECK (status IN ('unconfirmed', 'confirmed', 'split')),
    -- The client as the visitor typed it, for a split (and for the banner).
    legal_form      TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    inn             TEXT,
    contact_name    TEXT,
    phone           TEXT,
    email           TEXT,
    -- The client made by a split.
    split_org_id    INTEGER REFERENCES organisations (id),
    decided_by      INTEGER REFERENCES users (id),
    decided_at      INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX request_client_matches_org ON request_client_matches (matched_org_id, status);
