-- Scheduling limits a grant carries: the most GPUs its project's jobs may hold
-- at once (NULL: no cap), and whether its jobs may use the `high` QOS.
ALTER TABLE grants ADD COLUMN max_gpus INTEGER;
ALTER TABLE grants ADD COLUMN high_qos INTEGER NOT NULL DEFAULT 0;
-- The discount scavenger jobs get on the list price, basis points (5000 = 50 %).
ALTER TABLE schemes ADD COLUMN scavenger_discount_bp INTEGER NOT NULL DEFAULT 5000;
-- Finished jobs by end time, for the decayed usage behind fair share.
CREATE INDEX jobs_by_end ON jobs(end_ms) WHERE end_ms IS NOT NULL;
