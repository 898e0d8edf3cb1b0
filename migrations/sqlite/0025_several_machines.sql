-- Several machines per quote and per offer (issue 12, point 0). A request
-- may ask for several machines (ten tippers, two buses): a supplier's quote
-- may offer several, each with its driver, and our offer to the client may
-- combine several suppliers' quotes that together cover the count. Prices
-- stay per unit and machine; totals are unit × quantity × machines.

-- The machines of a quote, in the order the supplier listed them (the
-- first is also supplier_quotes.machine_id / employee_id).
CREATE TABLE supplier_quote_machines (
    quote_id        INTEGER NOT NULL REFERENCES supplier_quotes (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    machine_id      INTEGER NOT NULL REFERENCES machines (id),
    employee_id     INTEGER REFERENCES employees (id),
    PRIMARY KEY (quote_id, machine_id)
);
CREATE INDEX supplier_quote_machines_machine ON supplier_quote_machines (machine_id);
INSERT INTO supplier_quote_machines (quote_id, position, machine_id, employee_id)
SELECT id, 1, machine_id, employee_id FROM supplier_quotes;
ALTER TABLE supplier_quotes ADD COLUMN machines INTEGER NOT NULL DEFAULT 1;

-- The quotes an offer is built on (the first is also offers.supplier_quote_id).
CREATE TABLE offer_quotes (
    offer_id          INTEGER NOT NULL REFERENCES offers (id),
    supplier_quote_id INTEGER NOT NULL REFERENCES supplier_quotes (id),
    PRIMARY KEY (offer_id, supplier_quote_id)
);
CREATE INDEX offer_quotes_quote ON offer_quotes (supplier_quote_id);
INSERT INTO offer_quotes (offer_id, supplier_quote_id) SELECT id, supplier_quote_id FROM offers;
-- Machines in the offer: the client's total is unit × quantity × machines.
ALTER TABLE offers ADD COLUMN machines INTEGER NOT NULL DEFAULT 1;
