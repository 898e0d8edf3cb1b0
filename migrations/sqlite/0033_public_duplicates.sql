-- Duplicate public requests (issue 11, point 8).
--
-- Every stored website/JSON request leaves its fingerprint (SHA-256 of the
-- type, the contact phone and e-mail, the company, the dates and every
-- field as checked): the same submission again within the window
-- (`PODRYAD_DUPLICATE_WINDOW`, 10 minutes by default) is the same request.
CREATE TABLE public_submissions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint     TEXT    NOT NULL,
    request_id      INTEGER NOT NULL REFERENCES requests (id),
    created_at      INTEGER NOT NULL
);
CREATE INDEX public_submissions_fingerprint ON public_submissions (fingerprint, created_at);

-- The "sent" page after the public form (Post/Redirect/Get) shows the
-- request's number only to the browser that sent it: a random token in a
-- short-lived cookie, stored here as its SHA-256.
CREATE TABLE public_receipts (
    token_hash      TEXT    PRIMARY KEY,
    request_id      INTEGER NOT NULL REFERENCES requests (id),
    expires_at      INTEGER NOT NULL
);
