-- The money guard (DESIGN §4: an offer below cost never leaves without an
-- explicit approval). The broker's details say how client prices are
-- rounded and the margin below which an offer needs approval when its
-- request type does not say (0: only a negative margin needs it).
ALTER TABLE organisations ADD COLUMN price_rounding TEXT NOT NULL DEFAULT 'rouble'
    CHECK (price_rounding IN ('kopeck', 'rouble', 'ten_roubles'));
ALTER TABLE organisations ADD COLUMN min_margin_bp INTEGER NOT NULL DEFAULT 0;

-- An offer held for approval: it is not an offer yet (the client never sees
-- it, no link exists), so it lives here with the manager's checked input
-- until someone allowed approves (it is then sent and offer_id names it) or
-- rejects it with a reason.
CREATE TABLE offer_approvals (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id      INTEGER NOT NULL REFERENCES requests (id),
    supplier_quote_id INTEGER NOT NULL REFERENCES supplier_quotes (id),
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
    -- The checked offer (price, terms) as JSON: approved, it is sent as it was seen.
    input           TEXT    NOT NULL,
    total_gross     INTEGER NOT NULL,
    margin_total    INTEGER NOT NULL,
    margin_bp       INTEGER NOT NULL,
    min_margin_bp   INTEGER NOT NULL,
    valid_until     INTEGER NOT NULL,
    reason          TEXT,
    offer_id        INTEGER REFERENCES offers (id),
    requested_by    INTEGER REFERENCES users (id),
    requested_at    INTEGER NOT NULL,
    decided_by      INTEGER REFERENCES users (id),
    decided_at      INTEGER
);
CREATE INDEX offer_approvals_request ON offer_approvals (request_id, status);
