-- Organisations, their projects, and who belongs where.
CREATE TABLE organisations (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE org_admins (
    org_id   INTEGER NOT NULL REFERENCES organisations(id),
    user_id  INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES organisations(id),
    name        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

-- role: 'pi' (principal investigator) or 'member'.
CREATE TABLE memberships (
    project_id  INTEGER NOT NULL REFERENCES projects(id),
    user_id     INTEGER NOT NULL REFERENCES users(id),
    role        TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships(user_id);

ALTER TABLE jobs ADD COLUMN project_id INTEGER REFERENCES projects(id);
CREATE INDEX jobs_by_project ON jobs(project_id, id);
