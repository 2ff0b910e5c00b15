-- Each user's waiting jobs, for the per-user cap on queued jobs: a count
-- reads only these, never the user's finished history.
CREATE INDEX jobs_pending_by_owner ON jobs(owner_id) WHERE state = 'pending';
