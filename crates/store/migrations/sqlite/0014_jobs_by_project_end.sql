-- A project's finished jobs, by when they ended: usage by month reads these
-- and not the project's waiting or held jobs.
CREATE INDEX jobs_by_project_end ON jobs(project_id, end_ms) WHERE end_ms IS NOT NULL;
