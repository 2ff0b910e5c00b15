-- The Slurm engine. A user's Unix (Slurm) user name, which their jobs run as.
ALTER TABLE users ADD COLUMN unix_name TEXT;
CREATE UNIQUE INDEX users_by_unix_name ON users(unix_name) WHERE unix_name IS NOT NULL;
-- The engine's id for a job (Slurm's job id), once the engine has accepted it.
ALTER TABLE jobs ADD COLUMN engine_job_id INTEGER;
-- When the job was first handed to an engine that keeps its own queue: from
-- then on it may exist there, and is looked for before it is submitted again.
ALTER TABLE jobs ADD COLUMN engine_submit_ms INTEGER;
-- This installation's id, made once: it tells this aisc's jobs from another's
-- in an engine they share (Slurm job comments are `aisc:<instance>:<job id>`).
CREATE TABLE instance (id TEXT NOT NULL);
INSERT INTO instance (id) VALUES (lower(hex(randomblob(6))));
