-- Nodes an administrator has drained (they run what they have and take
-- nothing new). A node without a row is up. Kept across restarts.
CREATE TABLE node_drains (
    name    TEXT PRIMARY KEY,
    reason  TEXT NOT NULL,
    by_user TEXT NOT NULL,
    at_ms   INTEGER NOT NULL
);
