-- The audit trail: who did what, when, from where. Append-only and
-- hash-chained: each row's hash covers its fields and the previous row's hash.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    at_ms      INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    summary    TEXT NOT NULL,
    source     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
