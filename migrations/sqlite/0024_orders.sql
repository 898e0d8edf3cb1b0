-- Orders and framework contracts (issue 12, points 1 and 2; see
-- domain/src/orders/). Money in kopecks, times in UTC ms, dates YYYY-MM-DD.

-- The company's numbering, kept on the broker's own organisation row with
-- its other details: a pattern such as 'ЗК-{year}-{seq:05}' (see
-- domain/src/orders/numbering.rs). Empty means the built-in default.
ALTER TABLE organisations ADD COLUMN order_number_format TEXT;
ALTER TABLE organisations ADD COLUMN contract_number_format TEXT;

-- The last number given per kind ('order', 'contract') and year.
CREATE TABLE order_numbers (
    kind            TEXT    NOT NULL,
    year            INTEGER NOT NULL,
    last            INTEGER NOT NULL,
    PRIMARY KEY (kind, year)
);

-- A framework contract with a client (forwarding, charter or services with
-- machinery, by the request type) or with a supplier (we are the customer).
-- draft: waiting for the party's details; sent: the details are in and the
-- contract is out for signature; in_force; ended. At most one contract per
-- party and kind that has not ended.
CREATE TABLE contracts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    party_org_id    INTEGER NOT NULL REFERENCES organisations (id),
    side            TEXT    NOT NULL CHECK (side IN ('client', 'supplier')),
    kind            TEXT    NOT NULL CHECK (kind IN ('forwarding', 'charter', 'services', 'supply')),
    number          TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'sent', 'in_force', 'ended')),
    -- What the contract needs, as the party gave it (legal details, the
    -- signatory and their authority, a private person's passport), JSON.
    data            TEXT    NOT NULL DEFAULT '{}',
    -- The contract's date: the day it came into force.
    signed_on       TEXT,
    -- How it came into force: 'paper' (a scan attached by staff),
    -- 'accepted' (a supplier accepted it in its cabinet).
    signed_how      TEXT,
    scan_file_id    INTEGER REFERENCES files (id),
    details_at      INTEGER,
    details_by      INTEGER REFERENCES users (id),
    in_force_at     INTEGER,
    ended_at        INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX contracts_party ON contracts (party_org_id, kind, status);
CREATE UNIQUE INDEX contracts_live ON contracts (party_org_id, kind) WHERE status <> 'ended';

-- An order: one per accepted offer, created in the accepting transaction.
-- What the parties agreed is copied here (the request and the quotes may
-- change later; the order is what was accepted). `status` mirrors the
-- order workflow's state for lists.
CREATE TABLE orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    number          TEXT    NOT NULL UNIQUE,
    request_id      INTEGER NOT NULL REFERENCES requests (id),
    offer_id        INTEGER NOT NULL UNIQUE REFERENCES offers (id),
    client_org_id   INTEGER NOT NULL REFERENCES organisations (id),
    request_type    TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'new',
    -- The job: the site, its time zone, the request's own fields (JSON),
    -- the wanted window and duration, the client's contact on site.
    site_address    TEXT,
    site_timezone   TEXT,
    fields          TEXT    NOT NULL DEFAULT '{}',
    wanted_from     INTEGER,
    wanted_to       INTEGER,
    duration        REAL,
    contact_name    TEXT,
    contact_phone   TEXT,
    -- When the first machine arrives, and the site-local days of the job.
    starts_at       INTEGER NOT NULL,
    first_day       TEXT    NOT NULL,
    last_day        TEXT    NOT NULL,
    -- Our person for the order: the request's owner, then the client's
    -- responsible manager once the order goes into work.
    -- Staff only: our price without VAT minus what the suppliers' prices
    -- cost us, as the accepted offer computed it.
    margin_total    INTEGER NOT NULL DEFAULT 0,
    manager_user_id INTEGER REFERENCES users (id),
    signed_at       INTEGER,
    signed_by       INTEGER REFERENCES users (id),
    signed_scan_file_id INTEGER REFERENCES files (id),
    started_at      INTEGER,
    cancel_reason   TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX orders_client ON orders (client_org_id, created_at);
CREATE INDEX orders_status ON orders (status, created_at);
CREATE INDEX orders_request ON orders (request_id);

-- The two sides of an order: the client leg (broker → client: our price,
-- our VAT, our terms) and one supplier leg per supplier (supplier →
-- broker: its price, its VAT, its terms). Every document, signature and
-- payment will belong to one leg.
CREATE TABLE order_legs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id        INTEGER NOT NULL REFERENCES orders (id),
    side            TEXT    NOT NULL CHECK (side IN ('client', 'supplier')),
    party_org_id    INTEGER NOT NULL REFERENCES organisations (id),
    -- The framework contract the leg runs under, once it is in force.
    contract_id     INTEGER REFERENCES contracts (id),
    price_unit      TEXT    NOT NULL,
    -- Units of the leg, in hundredths (2 machines × 4 hours = 800).
    quantity_centi  INTEGER NOT NULL,
    vat_mode        TEXT    NOT NULL,
    unit_net        INTEGER NOT NULL,
    unit_vat        INTEGER NOT NULL,
    unit_gross      INTEGER NOT NULL,
    total_net       INTEGER NOT NULL,
    total_vat       INTEGER NOT NULL,
    total_gross     INTEGER NOT NULL,
    prepayment_percent INTEGER NOT NULL DEFAULT 0,
    postpayment_days INTEGER NOT NULL DEFAULT 0,
    payment_method  TEXT    NOT NULL CHECK (payment_method IN ('cash', 'card', 'bank')),
    -- A supplier leg: the quote it was made from.
    supplier_quote_id INTEGER REFERENCES supplier_quotes (id),
    created_at      INTEGER NOT NULL,
    UNIQUE (order_id, side, party_org_id)
);
CREATE INDEX order_legs_party ON order_legs (party_org_id, side);

-- One machine of an order, with its driver and days, under its supplier's
-- leg. The names are copied as the parties were told them.
CREATE TABLE order_assignments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id        INTEGER NOT NULL REFERENCES orders (id),
    leg_id          INTEGER NOT NULL REFERENCES order_legs (id),
    machine_id      INTEGER NOT NULL REFERENCES machines (id),
    employee_id     INTEGER REFERENCES employees (id),
    category        TEXT    NOT NULL,
    make            TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    plate           TEXT,
    driver_name     TEXT,
    arrival_at      INTEGER NOT NULL,
    first_day       TEXT    NOT NULL,
    last_day        TEXT    NOT NULL,
    UNIQUE (order_id, machine_id)
);
CREATE INDEX order_assignments_leg ON order_assignments (leg_id);
CREATE INDEX order_assignments_employee ON order_assignments (employee_id);
