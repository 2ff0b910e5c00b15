-- Job arrays (sbatch --array). An array's own row has array_job_id = its id
-- and, while tasks wait, array_waiting (the waiting task ids, folded as
-- squeue prints them: 5-15,17) and array_throttle (%N). Each task that
-- starts is a row with array_job_id and array_task_id; the last one takes
-- the array's own row.
ALTER TABLE jobs ADD COLUMN array_job_id BIGINT;
ALTER TABLE jobs ADD COLUMN array_task_id BIGINT;
ALTER TABLE jobs ADD COLUMN array_waiting TEXT;
ALTER TABLE jobs ADD COLUMN array_throttle BIGINT;
CREATE INDEX jobs_by_array ON jobs (array_job_id, array_task_id) WHERE array_job_id IS NOT NULL;
