-- The double-entry ledger: entries of postings that sum to zero. Balances are
-- sums of postings, never stored on their own.
CREATE TABLE ledger_entries (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    scheme_id  INTEGER,
    grant_id   INTEGER,
    job_id     INTEGER,
    at_ms      INTEGER NOT NULL,
    memo       TEXT NOT NULL
);
-- A job has at most one lien and one settlement: replays are refused.
CREATE UNIQUE INDEX ledger_once_per_job ON ledger_entries(kind, job_id) WHERE job_id IS NOT NULL;
CREATE INDEX ledger_by_grant ON ledger_entries(grant_id, id);

CREATE TABLE ledger_postings (
    entry_id  INTEGER NOT NULL REFERENCES ledger_entries(id),
    account   TEXT NOT NULL,
    amount    INTEGER NOT NULL
);
CREATE INDEX postings_by_account ON ledger_postings(account);

-- Funding schemes.
CREATE TABLE schemes (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    title            TEXT NOT NULL,
    eligible_kinds   TEXT NOT NULL,
    default_rate_bp  INTEGER NOT NULL,
    max_rate_bp      INTEGER NOT NULL,
    criteria         TEXT NOT NULL,
    opens_ms         INTEGER NOT NULL,
    closes_ms        INTEGER NOT NULL,
    created_ms       INTEGER NOT NULL
);
