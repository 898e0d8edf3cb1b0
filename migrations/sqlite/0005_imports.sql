-- Bulk imports keep the uploaded spreadsheet they were read from, so the
-- original can be downloaded from the import's page (access goes through
-- the file's org_id like every other file).

ALTER TABLE imports ADD COLUMN file_id INTEGER REFERENCES files (id);
