-- Security hardening (see README, "Security").

-- API tokens carry scopes (space-separated, e.g. "events:emit metrics"):
-- each endpoint checks its own. Tokens made before scopes existed acted as
-- the system for everything; they get no scope at all (they authenticate
-- but may do nothing) until an admin issues a scoped token.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
