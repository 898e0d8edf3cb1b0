-- The pipeline board, the header search and saved filters (issue 11, point 3).

-- Search terms: what people type to find a client, a request or an order —
-- every word of a name (folded: lower case, ё as е, no punctuation), a
-- number, an INN, and every tail of a phone's digits (so "7770011" and
-- "916 777" find +7 916 777-00-11). A search matches terms by prefix, a
-- range on the index (`term >= 'громов' AND term < 'громов' || U+FFFF`),
-- so it reads only the matching rows however many there are; a LIKE
-- '%…%' over a text column would read every row. Written by the
-- application (domain::search) with the object it describes.
CREATE TABLE search_terms (
    kind            TEXT    NOT NULL CHECK (kind IN ('client', 'request', 'order')),
    object_id       INTEGER NOT NULL,
    term            TEXT    NOT NULL,
    PRIMARY KEY (kind, object_id, term)
);
CREATE INDEX search_terms_term ON search_terms (kind, term, object_id);

-- A staff member's saved filters: the query string of a page's filter
-- (requests list, board, task inbox) under a name, shown as chips.
CREATE TABLE saved_filters (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    page            TEXT    NOT NULL CHECK (page IN ('requests', 'board', 'tasks')),
    name            TEXT    NOT NULL,
    query           TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (user_id, page, name)
);
