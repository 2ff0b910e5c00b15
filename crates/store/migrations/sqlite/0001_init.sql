-- Users and their API tokens. Tokens are stored as SHA-256 hashes only.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    token_hash  TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER,
    revoked_ms  INTEGER
);

-- One row per job. `spec` is the resolved JobSpec as JSON; the columns beside
-- it are what listings, the scheduler and restart recovery read.
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id      INTEGER NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    account       TEXT,
    state         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    held          INTEGER NOT NULL DEFAULT 0,
    gpus          INTEGER NOT NULL,
    cpus          INTEGER NOT NULL,
    mem_mb        INTEGER NOT NULL,
    gpu_type      TEXT,
    time_limit_s  INTEGER NOT NULL,
    spec          TEXT NOT NULL,
    submit_ms     INTEGER NOT NULL,
    start_ms      INTEGER,
    end_ms        INTEGER,
    node          TEXT,
    gpu_ids       TEXT,
    pid           INTEGER,
    pid_start     INTEGER,
    stdout_path   TEXT,
    stderr_path   TEXT,
    kill_state    TEXT,
    kill_reason   TEXT,
    exit_code     INTEGER,
    signal        INTEGER,
    wall_ms       INTEGER,
    gpu_ms        INTEGER,
    cpu_ms        INTEGER
);
CREATE INDEX jobs_by_state ON jobs(state, id);
CREATE INDEX jobs_by_owner ON jobs(owner_id, id);

-- Every state transition, with its reason.
CREATE TABLE job_events (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs(id),
    at_ms       INTEGER NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    reason      TEXT NOT NULL
);
CREATE INDEX job_events_by_job ON job_events(job_id, id);
