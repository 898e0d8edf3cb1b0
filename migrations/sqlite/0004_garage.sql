-- Garage: several photos per machine, and the warnings already sent about
-- a machine's documents (so that a warning about one document, stage and
-- date goes out once, however often the workflow or its action runs).

CREATE TABLE machine_photos (
    machine_id      INTEGER NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    file_id         INTEGER NOT NULL REFERENCES files (id),
    position        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (machine_id, file_id)
);

CREATE TABLE machine_document_alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id     INTEGER NOT NULL REFERENCES machine_documents (id) ON DELETE CASCADE,
    stage           TEXT    NOT NULL CHECK (stage IN ('expiring', 'expired')),
    valid_until     TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX machine_document_alerts_once ON machine_document_alerts (document_id, stage, valid_until);

-- Matching asks "which machines are busy on this day".
CREATE INDEX machine_busy_days_day ON machine_busy_days (day);
