-- Paperwork (domain/src/paperwork): versions of the document templates
-- analysts edit, and the documents rendered from them.

-- Every saved version of a template. At most one version per key is
-- active; with none, the built-in template (version 0) is used.
CREATE TABLE document_templates (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    key             TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    source          TEXT    NOT NULL,
    sha256          TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('draft', 'active', 'inactive')),
    created_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    activated_by    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    activated_at    INTEGER
);
CREATE UNIQUE INDEX document_templates_key_version ON document_templates (key, version);
CREATE UNIQUE INDEX document_templates_one_active ON document_templates (key) WHERE status = 'active';

-- Rendered documents. A row is never updated: rendering again for the same
-- owner, part and template adds the next version. The PDF's bytes are in
-- the file store under storage_key (see domain/src/files.rs); sha256 is
-- theirs, and data is the JSON the template was given.
CREATE TABLE rendered_documents (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    template_key     TEXT    NOT NULL,
    template_version INTEGER NOT NULL,
    number           TEXT    NOT NULL,
    owner_kind       TEXT    NOT NULL,
    owner_id         INTEGER NOT NULL,
    owner_part       TEXT    NOT NULL DEFAULT '',
    party_org_id     INTEGER REFERENCES organisations (id),
    version          INTEGER NOT NULL,
    sha256           TEXT    NOT NULL,
    size_bytes       INTEGER NOT NULL,
    pages            INTEGER NOT NULL,
    data             TEXT    NOT NULL,
    storage_key      TEXT    NOT NULL UNIQUE,
    created_by       INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX rendered_documents_version ON rendered_documents (owner_kind, owner_id, owner_part, template_key, version);
CREATE INDEX rendered_documents_party ON rendered_documents (party_org_id);
