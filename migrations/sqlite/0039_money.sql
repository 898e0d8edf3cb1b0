-- Money, the foundation of issue 15 (see domain/src/money/): a double-entry
-- ledger in kopecks, invoices to clients, bank statement lines from
-- 1CClientBankExchange files and payouts. Money in kopecks, times in UTC ms,
-- dates YYYY-MM-DD.

-- The company's invoice number format, beside its order and contract ones
-- (domain/src/orders/numbering.rs). Empty means the built-in default.
ALTER TABLE organisations ADD COLUMN invoice_number_format TEXT;

-- An invoice to the client for (a part of) an order. Posting it makes its
-- ledger entry in the same transaction. `paid` is the part of `amount`
-- payments have been applied to: a projection the ledger can always
-- recompute (credits to the receivable account with this invoice).
CREATE TABLE invoices (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    number          TEXT    NOT NULL UNIQUE,
    order_id        INTEGER NOT NULL REFERENCES orders (id),
    client_org_id   INTEGER NOT NULL REFERENCES organisations (id),
    issued_on       TEXT    NOT NULL,
    due_on          TEXT    NOT NULL,
    amount          INTEGER NOT NULL CHECK (amount > 0),
    -- The VAT rate in force on the issue date: its code, its basis points
    -- (NULL: без НДС) and the VAT contained in the amount.
    vat_code        TEXT    NOT NULL,
    vat_rate_bp     INTEGER,
    vat_amount      INTEGER NOT NULL,
    legal_model     TEXT    NOT NULL CHECK (legal_model IN ('resale', 'agency')),
    paid            INTEGER NOT NULL DEFAULT 0 CHECK (paid >= 0 AND paid <= amount),
    created_by      INTEGER REFERENCES users (id),
    created_at      INTEGER NOT NULL
);
CREATE INDEX invoices_order ON invoices (order_id);
CREATE INDEX invoices_client_open ON invoices (client_org_id, issued_on);

-- A payout: money we send out — to a supplier for an order, or back to a
-- client (a refund of its unapplied credit). `exported_at`: when it went
-- into a payment-order file for the bank.
CREATE TABLE payouts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    purpose         TEXT    NOT NULL CHECK (purpose IN ('supplier', 'refund')),
    party_org_id    INTEGER NOT NULL REFERENCES organisations (id),
    order_id        INTEGER REFERENCES orders (id),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    method          TEXT    NOT NULL CHECK (method IN ('bank', 'cash', 'card')),
    paid_on         TEXT    NOT NULL,
    exported_at     INTEGER,
    created_by      INTEGER REFERENCES users (id),
    created_at      INTEGER NOT NULL
);
CREATE INDEX payouts_order ON payouts (order_id);
CREATE INDEX payouts_party ON payouts (party_org_id);

-- One line of an imported bank statement. `dedupe_key` (date, number,
-- amount, payer's account) makes a second import of the same file change
-- nothing. status: 'applied' (a payment entry was posted), 'unmatched'
-- (waiting for the accountant, with `reason`), 'outgoing' (money we sent).
CREATE TABLE bank_lines (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key      TEXT    NOT NULL,
    file_name       TEXT    NOT NULL,
    doc_date        TEXT    NOT NULL,
    doc_number      TEXT    NOT NULL,
    amount          INTEGER NOT NULL CHECK (amount > 0),
    direction       TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    payer_inn       TEXT,
    payer_name      TEXT,
    payer_account   TEXT,
    recipient_inn   TEXT,
    recipient_name  TEXT,
    recipient_account TEXT,
    purpose         TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL CHECK (status IN ('applied', 'unmatched', 'outgoing')),
    reason          TEXT,
    client_org_id   INTEGER REFERENCES organisations (id),
    imported_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX bank_lines_dedupe ON bank_lines (dedupe_key);
CREATE INDEX bank_lines_status ON bank_lines (status, doc_date);

-- A journal entry: a set of lines whose debits equal its credits, tied to
-- its source (an invoice, a bank line, a payout). Entries never change: a
-- correction is a new entry. An entry is written unsealed, its lines are
-- added, and sealing it checks the balance (triggers below); a sealed entry
-- takes no more lines, and nothing is ever updated or deleted.
CREATE TABLE ledger_entries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_on     TEXT    NOT NULL,
    source_kind     TEXT    NOT NULL CHECK (source_kind IN ('invoice', 'bank_line', 'payout', 'cash_on_site')),
    source_id       INTEGER NOT NULL,
    order_id        INTEGER REFERENCES orders (id),
    memo            TEXT    NOT NULL DEFAULT '',
    total           INTEGER NOT NULL CHECK (total > 0),
    sealed          INTEGER NOT NULL DEFAULT 0 CHECK (sealed IN (0, 1)),
    posted_by       INTEGER REFERENCES users (id),
    posted_at       INTEGER NOT NULL
);
CREATE INDEX ledger_entries_source ON ledger_entries (source_kind, source_id);
CREATE INDEX ledger_entries_order ON ledger_entries (order_id);

-- One side of an entry on one account (the chart is in
-- domain/src/money/ledger.rs), with the party and order it concerns.
-- Exactly one of debit and credit is positive.
CREATE TABLE ledger_lines (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id        INTEGER NOT NULL REFERENCES ledger_entries (id),
    account         TEXT    NOT NULL CHECK (account IN ('receivable', 'payable', 'bank', 'cash', 'revenue', 'cost', 'vat_payable', 'unapplied', 'supplier_holds')),
    party_org_id    INTEGER REFERENCES organisations (id),
    order_id        INTEGER REFERENCES orders (id),
    invoice_id      INTEGER REFERENCES invoices (id),
    debit           INTEGER NOT NULL DEFAULT 0 CHECK (debit >= 0),
    credit          INTEGER NOT NULL DEFAULT 0 CHECK (credit >= 0),
    CHECK ((debit > 0 AND credit = 0) OR (debit = 0 AND credit > 0))
);
CREATE INDEX ledger_lines_entry ON ledger_lines (entry_id);
CREATE INDEX ledger_lines_account ON ledger_lines (account, party_org_id);
CREATE INDEX ledger_lines_order ON ledger_lines (order_id, account);
CREATE INDEX ledger_lines_invoice ON ledger_lines (invoice_id);

CREATE TRIGGER ledger_entries_seal BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are immutable')
    WHERE OLD.sealed = 1 OR NEW.sealed <> 1
       OR NEW.id <> OLD.id OR NEW.occurred_on <> OLD.occurred_on
       OR NEW.source_kind <> OLD.source_kind OR NEW.source_id <> OLD.source_id
       OR NEW.order_id IS NOT OLD.order_id OR NEW.memo <> OLD.memo
       OR NEW.total <> OLD.total OR NEW.posted_by IS NOT OLD.posted_by
       OR NEW.posted_at <> OLD.posted_at;
    SELECT RAISE(ABORT, 'ledger entry is not balanced')
    WHERE (SELECT COALESCE(SUM(debit), 0) FROM ledger_lines WHERE entry_id = NEW.id) <> NEW.total
       OR (SELECT COALESCE(SUM(credit), 0) FROM ledger_lines WHERE entry_id = NEW.id) <> NEW.total;
END;

CREATE TRIGGER ledger_entries_keep BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are immutable');
END;

CREATE TRIGGER ledger_lines_sealed BEFORE INSERT ON ledger_lines
BEGIN
    SELECT RAISE(ABORT, 'ledger entry is sealed')
    WHERE (SELECT sealed FROM ledger_entries WHERE id = NEW.entry_id) <> 0;
END;

CREATE TRIGGER ledger_lines_no_update BEFORE UPDATE ON ledger_lines
BEGIN
    SELECT RAISE(ABORT, 'ledger lines are immutable');
END;

CREATE TRIGGER ledger_lines_keep BEFORE DELETE ON ledger_lines
BEGIN
    SELECT RAISE(ABORT, 'ledger lines are immutable');
END;
