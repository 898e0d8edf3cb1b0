-- The home pages (workplaces) read bounded windows; these indexes keep them
-- from scanning history (issue 11: every home page under 50 ms with
-- 100,000 requests and a year of history).
-- The analyst's funnel: requests of the last 90 days by type, channel and
-- status, answered from the index alone.
CREATE INDEX requests_funnel ON requests (created_at, request_type, channel, status);
-- The analyst's time in each state: the latest transitions, newest first.
CREATE INDEX wf_history_at ON wf_history (at);
-- The admin's and analyst's SLA breaches: open tasks past their due time.
CREATE INDEX wf_tasks_open_due ON wf_tasks (due_at) WHERE status = 'open';
-- The manager's offers about to expire.
CREATE INDEX offers_expiry ON offers (status, valid_until);
-- The manager's jobs of the day.
CREATE INDEX orders_days ON orders (first_day, last_day);
