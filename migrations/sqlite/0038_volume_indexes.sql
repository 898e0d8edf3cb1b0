-- Pages at a company's volume (issue 11 point 11: every list under 50 ms
-- with 100,000 requests and 100,000 open tasks). The task inbox reads the
-- tasks a person may see as a union of small sets, each from an index
-- (engine/src/queries.rs, `visible_ids`); these are the two sets no index
-- covered before.
-- The role pool: open tasks nobody claimed and nobody was assigned.
CREATE INDEX wf_tasks_open_pool ON wf_tasks (id)
    WHERE status = 'open' AND claimed_by IS NULL AND assignee_user_id IS NULL;
-- Tasks escalated to a role.
CREATE INDEX wf_task_roles_escalation ON wf_task_roles (role, task_id) WHERE via = 'escalation';
