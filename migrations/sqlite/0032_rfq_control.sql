-- RFQ control (issue 11, point 5): why a round closed, so the supplier's
-- page can say it — `deadline`, `manager` (closed early), `offer` (an offer
-- was made from the quotes in hand), `review` (the manager moved on after
-- everyone answered), `declined` (every supplier declined), `cancelled`,
-- `new_round`. NULL while open (and for rounds closed before this column).
ALTER TABLE rfq_rounds ADD COLUMN close_reason TEXT;
