-- The PostgreSQL migration 0020 adds triggers that tell every app server to
-- forget cached sessions of a changed user (domain/src/accounts/session_cache.rs).
-- SQLite serves one app server per file, which forgets them itself: nothing
-- to change in the schema here. The file keeps the two folders in step.
SELECT 1;
