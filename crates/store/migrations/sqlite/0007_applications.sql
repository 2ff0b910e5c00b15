-- Applications for compute under a scheme, their reviews, and the grants
-- that approved applications become (a grant's id is its application's id).
CREATE TABLE applications (
    id             INTEGER PRIMARY KEY,
    project_id     INTEGER NOT NULL REFERENCES projects(id),
    scheme_id      INTEGER NOT NULL REFERENCES schemes(id),
    class_id       INTEGER NOT NULL REFERENCES resource_classes(id),
    gpu_hours      INTEGER NOT NULL,
    starts_ms      INTEGER NOT NULL,
    ends_ms        INTEGER NOT NULL,
    justification  TEXT NOT NULL,
    applicant_id   INTEGER NOT NULL REFERENCES users(id),
    state          TEXT NOT NULL,
    decision       TEXT,
    decided_by     INTEGER REFERENCES users(id),
    created_ms     INTEGER NOT NULL
);

CREATE TABLE reviews (
    application_id  INTEGER NOT NULL REFERENCES applications(id),
    reviewer_id     INTEGER NOT NULL REFERENCES users(id),
    scores          TEXT NOT NULL,
    weighted        INTEGER NOT NULL,
    comment         TEXT NOT NULL,
    at_ms           INTEGER NOT NULL,
    PRIMARY KEY (application_id, reviewer_id)
);

CREATE TABLE grants (
    id             INTEGER PRIMARY KEY REFERENCES applications(id),
    project_id     INTEGER NOT NULL REFERENCES projects(id),
    scheme_id      INTEGER NOT NULL REFERENCES schemes(id),
    class_id       INTEGER NOT NULL REFERENCES resource_classes(id),
    gpu_hours      INTEGER NOT NULL,
    value_cents    INTEGER NOT NULL,
    price_cents    INTEGER NOT NULL,
    rate_bp        INTEGER NOT NULL,
    starts_ms      INTEGER NOT NULL,
    ends_ms        INTEGER NOT NULL,
    created_ms     INTEGER NOT NULL
);
CREATE INDEX grants_by_project ON grants(project_id);
