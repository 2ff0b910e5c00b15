-- A requeued job keeps its id, as Slurm's does; its runs are numbered from
-- 0 (restarts: how many times it was requeued). Each run holds a lien of its
-- own and is settled on its own: at most one entry of a kind per run.
ALTER TABLE jobs ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_entries ADD COLUMN run INTEGER NOT NULL DEFAULT 0;
DROP INDEX ledger_once_per_job;
CREATE UNIQUE INDEX ledger_once_per_run ON ledger_entries(kind, job_id, run) WHERE job_id IS NOT NULL;
-- The runs of a requeued job before its current one (the current run's
-- figures are in its jobs row).
CREATE TABLE job_runs (
    job_id        INTEGER NOT NULL REFERENCES jobs(id),
    run           INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    node          TEXT,
    start_ms      INTEGER,
    end_ms        INTEGER,
    exit_code     INTEGER,
    signal        INTEGER,
    wall_ms       INTEGER,
    gpu_ms        INTEGER,
    cpu_ms        INTEGER,
    engine_job_id INTEGER,
    PRIMARY KEY (job_id, run)
);
