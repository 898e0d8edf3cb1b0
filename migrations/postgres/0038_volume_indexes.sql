-- Pages at a company's volume (issue 11 point 11: every list under 50 ms
-- with 100,000 requests and 100,000 open tasks). The task inbox reads the
-- tasks a person may see as a union of small sets, each from an index
-- (engine/src/queries.rs, `visible_ids`); these are the two sets no index
-- covered before.
-- Open tasks by who claimed them and who they are assigned to: the role
-- pool (nobody, nobody) with both columns, so that SQLite, which keeps no
-- statistics, prefers it to reading every unclaimed task; it also finds a
-- person's claimed tasks, which the index it replaces did.
DROP INDEX wf_tasks_open_claimed;
CREATE INDEX wf_tasks_open_pool ON wf_tasks (claimed_by, assignee_user_id) WHERE status = 'open';
-- Tasks escalated to a role.
CREATE INDEX wf_task_roles_escalation ON wf_task_roles (role, task_id) WHERE via = 'escalation';
