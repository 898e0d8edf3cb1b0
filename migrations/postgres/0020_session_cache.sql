-- Every app server keeps the answer to "who is behind this session" for a
-- while (domain/src/accounts/session_cache.rs). Any change to a user, their
-- roles or their sessions — by whatever code — tells every server, through
-- the notification channel `podryad_auth`, to forget that user's cached
-- sessions. The notification goes out when the changing transaction commits.
CREATE FUNCTION podryad_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := to_jsonb(OLD);
    ELSE
        changed := to_jsonb(NEW);
    END IF;
    PERFORM pg_notify('podryad_auth', changed ->> TG_ARGV[0]);
    IF TG_OP = 'UPDATE' AND (to_jsonb(OLD) ->> TG_ARGV[0]) IS DISTINCT FROM (changed ->> TG_ARGV[0]) THEN
        PERFORM pg_notify('podryad_auth', to_jsonb(OLD) ->> TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_auth_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION podryad_auth_changed('id');
CREATE TRIGGER user_roles_auth_changed AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION podryad_auth_changed('user_id');
CREATE TRIGGER sessions_auth_changed AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION podryad_auth_changed('user_id');
