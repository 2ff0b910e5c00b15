-- Envelope encryption: one data key per scope ('project:<id>', or 'centre'
-- for what belongs to no project), stored only wrapped by a master key that
-- is never in the database. Destroying a key (crypto-shredding) clears
-- `wrapped` and keeps the row as the record of when.
CREATE TABLE data_keys (
    id            INTEGER PRIMARY KEY,
    scope         TEXT NOT NULL,
    project_id    INTEGER REFERENCES projects(id),
    master_kid    TEXT,
    wrapped       BLOB,
    created_ms    INTEGER NOT NULL,
    destroyed_ms  INTEGER
);
CREATE UNIQUE INDEX data_keys_live ON data_keys(scope) WHERE wrapped IS NOT NULL;

-- A project closed (no new jobs, grants or files) and, if erased, when.
ALTER TABLE projects ADD COLUMN closed_ms INTEGER;
ALTER TABLE projects ADD COLUMN erased_ms INTEGER;
-- Bytes of files the project may keep in aisc (NULL: the server's default).
ALTER TABLE projects ADD COLUMN data_quota_bytes INTEGER;

-- Files a project keeps in aisc (`aisc data`), sealed with its data key under
-- <data dir>/objects/<project>/<id>. An upload is a row with `complete_ms`
-- NULL; completing it replaces any file at the same path.
CREATE TABLE data_objects (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects(id),
    path         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    owner_id     INTEGER NOT NULL REFERENCES users(id),
    created_ms   INTEGER NOT NULL,
    complete_ms  INTEGER
);
CREATE UNIQUE INDEX data_objects_by_path ON data_objects(project_id, path) WHERE complete_ms IS NOT NULL;
CREATE INDEX data_objects_by_project ON data_objects(project_id, complete_ms);
