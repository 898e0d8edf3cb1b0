-- Matching, requests for quotes (RFQ), suppliers' quotes and our offers to
-- clients (issue 6). Money in kopecks, times in UTC ms, dates YYYY-MM-DD.

-- Matching reads machines by category and a bounding box around the site,
-- and the largest service radius per category to size that box.
CREATE INDEX machines_match_geo ON machines (category, base_lat, base_lon);
CREATE INDEX machines_match_radius ON machines (category, service_radius_km);

-- One round of RFQs for a request (a request may need several: a widened
-- search is a new round). The deadline comes from the request workflow.
CREATE TABLE rfq_rounds (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id      INTEGER NOT NULL REFERENCES requests (id),
    number          INTEGER NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    mode            TEXT    NOT NULL DEFAULT 'manual' CHECK (mode IN ('manual', 'auto')),
    deadline_at     INTEGER,
    sent_by         INTEGER REFERENCES users (id),
    created_at      INTEGER NOT NULL,
    closed_at       INTEGER,
    UNIQUE (request_id, number)
);

-- Our request for a quote to one supplier.
CREATE TABLE rfqs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    round_id        INTEGER NOT NULL REFERENCES rfq_rounds (id),
    request_id      INTEGER NOT NULL REFERENCES requests (id),
    supplier_org_id INTEGER NOT NULL REFERENCES organisations (id),
    -- sent: waiting for an answer; quoted; declined; withdrawn (the quote was
    -- withdrawn); expired (no answer when the round closed).
    status          TEXT    NOT NULL DEFAULT 'sent' CHECK (status IN ('sent', 'quoted', 'declined', 'withdrawn', 'expired')),
    -- The matching's figures when it was sent (for the supplier's list).
    distance_km     REAL,
    decline_reason  TEXT,
    sent_at         INTEGER NOT NULL,
    notified_at     INTEGER,
    viewed_at       INTEGER,
    answered_at     INTEGER,
    reminders       INTEGER NOT NULL DEFAULT 0,
    -- Idempotency key of the last reminder action that notified it.
    reminded_key    TEXT,
    UNIQUE (round_id, supplier_org_id)
);
CREATE INDEX rfqs_supplier ON rfqs (supplier_org_id, status, sent_at);
CREATE INDEX rfqs_request ON rfqs (request_id, round_id);

-- A supplier's quote (КП) in answer to an RFQ; revised in place.
CREATE TABLE supplier_quotes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    rfq_id          INTEGER NOT NULL UNIQUE REFERENCES rfqs (id),
    request_id      INTEGER NOT NULL REFERENCES requests (id),
    supplier_org_id INTEGER NOT NULL REFERENCES organisations (id),
    machine_id      INTEGER NOT NULL REFERENCES machines (id),
    employee_id     INTEGER REFERENCES employees (id),
    price_unit      TEXT    NOT NULL,
    -- Per unit, as the supplier invoices it (VAT included per vat_mode).
    unit_price      INTEGER NOT NULL,
    -- Units the price covers, in hundredths (2 shifts = 200).
    quantity_centi  INTEGER NOT NULL,
    total_price     INTEGER NOT NULL,
    vat_mode        TEXT    NOT NULL,
    prepayment_percent INTEGER NOT NULL DEFAULT 0,
    postpayment_days INTEGER NOT NULL DEFAULT 0,
    payment_method  TEXT    NOT NULL CHECK (payment_method IN ('cash', 'card', 'bank')),
    arrival_at      INTEGER NOT NULL,
    -- The site-local calendar day of arrival: the day the machine is booked.
    work_day        TEXT    NOT NULL,
    valid_until     INTEGER NOT NULL,
    comment         TEXT,
    -- active; withdrawn; selected (we offered it to the client); won (the
    -- client accepted); lost (another quote won or the request ended).
    status          TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'withdrawn', 'selected', 'won', 'lost')),
    revision        INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX supplier_quotes_request ON supplier_quotes (request_id, status);
CREATE INDEX supplier_quotes_supplier ON supplier_quotes (supplier_org_id, status, updated_at);
CREATE INDEX supplier_quotes_booked ON supplier_quotes (work_day, status, machine_id);

-- Our quote to the client, built on one supplier quote.
CREATE TABLE offers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id      INTEGER NOT NULL REFERENCES requests (id),
    client_org_id   INTEGER NOT NULL REFERENCES organisations (id),
    supplier_quote_id INTEGER NOT NULL REFERENCES supplier_quotes (id),
    status          TEXT    NOT NULL DEFAULT 'sent' CHECK (status IN ('sent', 'accepted', 'declined', 'expired', 'withdrawn')),
    price_unit      TEXT    NOT NULL,
    quantity_centi  INTEGER NOT NULL,
    -- Our VAT mode and the price per unit without VAT, the VAT, with VAT.
    vat_mode        TEXT    NOT NULL,
    unit_net        INTEGER NOT NULL,
    unit_vat        INTEGER NOT NULL,
    unit_gross      INTEGER NOT NULL,
    total_gross     INTEGER NOT NULL,
    total_vat       INTEGER NOT NULL,
    -- Staff only: our cost per unit (what we cannot reclaim of the supplier's
    -- price), the markup and the margin of the whole offer, without VAT.
    unit_cost       INTEGER NOT NULL,
    markup_bp       INTEGER,
    markup_amount   INTEGER,
    margin_total    INTEGER NOT NULL,
    prepayment_percent INTEGER NOT NULL DEFAULT 0,
    postpayment_days INTEGER NOT NULL DEFAULT 0,
    payment_method  TEXT    NOT NULL CHECK (payment_method IN ('cash', 'card', 'bank')),
    arrival_at      INTEGER NOT NULL,
    valid_until     INTEGER NOT NULL,
    comment         TEXT,
    decline_reason  TEXT,
    sent_by         INTEGER REFERENCES users (id),
    sent_at         INTEGER NOT NULL,
    decided_at      INTEGER,
    decided_by      INTEGER REFERENCES users (id),
    created_at      INTEGER NOT NULL
);
CREATE INDEX offers_request ON offers (request_id, status);
CREATE INDEX offers_client ON offers (client_org_id, status, sent_at);

-- A supplier's record of answering RFQs, kept up to date in the transaction
-- of every answer, expiry and win: the score is read in one batch by matching.
CREATE TABLE supplier_stats (
    org_id          INTEGER PRIMARY KEY REFERENCES organisations (id),
    rfqs            INTEGER NOT NULL DEFAULT 0,
    answered        INTEGER NOT NULL DEFAULT 0,
    quoted          INTEGER NOT NULL DEFAULT 0,
    won             INTEGER NOT NULL DEFAULT 0,
    answer_ms_total INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL
);
