-- Bookings (DESIGN §4: no machine is booked twice). Accepting an offer
-- books every site-local day of the job for the quote's machine, in the
-- accepting transaction; the primary key refuses a second booking of the
-- same machine on the same day, so of two clients accepting at once one
-- wins and the other is refused. Matching and quoting treat a booked day
-- as unavailable. Only accepted offers book: a declined, expired or
-- withdrawn offer never booked anything, so it releases nothing.
CREATE TABLE machine_bookings (
    machine_id        INTEGER NOT NULL REFERENCES machines (id),
    -- The site-local calendar day, YYYY-MM-DD.
    day               TEXT    NOT NULL,
    offer_id          INTEGER NOT NULL REFERENCES offers (id),
    supplier_quote_id INTEGER NOT NULL REFERENCES supplier_quotes (id),
    request_id        INTEGER NOT NULL REFERENCES requests (id),
    created_at        INTEGER NOT NULL,
    PRIMARY KEY (machine_id, day)
);
CREATE INDEX machine_bookings_offer ON machine_bookings (offer_id);
CREATE INDEX machine_bookings_request ON machine_bookings (request_id);

-- Offers accepted before this table existed booked their quote's arrival
-- day (a won quote's work_day): keep those bookings.
INSERT OR IGNORE INTO machine_bookings (machine_id, day, offer_id, supplier_quote_id, request_id, created_at)
SELECT q.machine_id, q.work_day, o.id, q.id, o.request_id, COALESCE(o.decided_at, o.created_at)
FROM offers o JOIN supplier_quotes q ON q.id = o.supplier_quote_id
WHERE o.status = 'accepted'
ORDER BY o.decided_at, o.id;
