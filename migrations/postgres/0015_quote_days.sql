-- The days a supplier's quote is for (see domain/src/deals/bookings.rs):
-- from its arrival day (work_day) to last_work_day, both site-local
-- YYYY-MM-DD. Accepting an offer books every one of them (machine_bookings,
-- 0014); quotes written before this column existed were for their arrival
-- day only, as that was all they booked. The default only serves the ALTER:
-- every quote is written with its last day.
ALTER TABLE supplier_quotes ADD COLUMN last_work_day TEXT NOT NULL DEFAULT '';
UPDATE supplier_quotes SET last_work_day = work_day;

-- Bookings are read from machine_bookings now, not from won quotes.
DROP INDEX supplier_quotes_booked;
