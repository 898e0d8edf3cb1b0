-- The engine's failure bookkeeping (see engine/src/worker.rs):
-- a timer whose firing fails is retried with backoff and, after the last
-- attempt, parked (failed_at) so that later timers keep firing; an instance
-- whose stored row cannot be stepped (corrupt data) is marked broken.
-- Both are listed for administrators by engine::queries.
ALTER TABLE wf_timers ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE wf_timers ADD COLUMN last_error TEXT;
ALTER TABLE wf_timers ADD COLUMN failed_at BIGINT;
DROP INDEX wf_timers_due;
CREATE INDEX wf_timers_due ON wf_timers (due_at) WHERE failed_at IS NULL;
CREATE INDEX wf_timers_failed ON wf_timers (failed_at) WHERE failed_at IS NOT NULL;

ALTER TABLE wf_instances ADD COLUMN broken_at BIGINT;
ALTER TABLE wf_instances ADD COLUMN broken_reason TEXT;
CREATE INDEX wf_instances_broken ON wf_instances (broken_at) WHERE broken_at IS NOT NULL;

-- Failed and retried outbox rows, for the administrators' page.
CREATE INDEX wf_outbox_failed ON wf_outbox (completed_at) WHERE status = 'failed';
