//! Starting a planned job: stored `admitted` first, then spawned, then `running`.

use super::money::Hold;
use super::{Active, Controller, Queued, secs_to_ms};
use crate::clock::now_ms;
use aisc_engine::LaunchSpec;
use aisc_model::{JobId, JobState};
use aisc_sched::Placement;
use aisc_store::{Fields, StoreError};
use std::path::{Path, PathBuf};

impl Controller {
    /// Holds a job's lien before it is admitted (on any engine). When its
    /// grant cannot cover it, the job goes back to the queue with reason
    /// `GrantExhausted` and `None` is returned.
    pub(super) async fn lien_or_wait(&mut self, q: Queued) -> Result<Option<Queued>, StoreError> {
        if let Some(c) = q.charging
            && self.hold(q.id, &c).await? == Hold::Exhausted
        {
            let id = q.id;
            self.pending.insert(id, q);
            self.reasons
                .insert(id, aisc_model::PendingReason::GrantExhausted);
            self.store
                .change(aisc_store::JobChange::Reasons(vec![(
                    id,
                    "GrantExhausted".into(),
                )]))
                .await?;
            return Ok(None);
        }
        Ok(Some(q))
    }

    pub(super) async fn start(
        &mut self,
        q: Queued,
        placement: Placement,
    ) -> Result<(), StoreError> {
        // The lien first: a job is never admitted without its worst case held.
        let Some(q) = self.lien_or_wait(q).await? else {
            return Ok(());
        };
        // The local engine has one node: a placement is one allocation on it.
        let alloc = placement
            .allocs
            .first()
            .cloned()
            .unwrap_or(aisc_sched::Alloc {
                node: 0,
                gpus: Vec::new(),
                cpus: q.spec.resources.cpus,
                mem_mb: q.spec.resources.mem_mb,
            });
        let node = self
            .nodes
            .get(alloc.node)
            .map(|n| n.name.clone())
            .unwrap_or_default();
        let now = now_ms();
        let gpus = if alloc.gpus.is_empty() {
            "no GPUs".to_string()
        } else {
            let fake = if self.fake_gpus { " (fake)" } else { "" };
            format!("GPUs {}{fake}", join(&alloc.gpus))
        };
        let set = Fields {
            node: Some(node.clone()),
            gpu_ids: Some(alloc.gpus.clone()),
            ..Default::default()
        };
        let reason = format!("placed on {node} with {gpus}");
        self.transition(
            q.id,
            JobState::Pending,
            JobState::Admitted,
            &reason,
            now,
            set,
        )
        .await?;

        let job_dir = Self::job_dir(&self.data_dir, q.id);
        let workdir = PathBuf::from(&q.spec.workdir);
        let expand =
            |p: &String| resolve_path(&workdir, &expand_pattern(p, q.id, &q.spec.name, &q.user));
        let stdout = q
            .spec
            .output
            .as_ref()
            .map_or_else(|| job_dir.join("output.log"), expand);
        let stderr = q.spec.error.as_ref().map(expand);
        let run_as = if self.engine.confinement().mode == aisc_engine::confine::Mode::Accounts {
            self.store
                .unix_name(q.owner)
                .await?
                .or_else(|| self.engine.confinement().default_unix_name.clone())
        } else {
            None
        };
        let launch = LaunchSpec {
            time_limit_ms: u64::try_from(secs_to_ms(q.spec.time_limit_s)).unwrap_or(u64::MAX),
            grace_ms: u64::try_from(self.kill_grace_ms).unwrap_or(0),
            mem_mb: alloc.mem_mb,
            run_as,
            job: q.id,
            name: q.spec.name.clone(),
            command: q.spec.command.clone(),
            workdir,
            env: q.spec.env.clone(),
            gpu_ids: alloc.gpus.clone(),
            fake_gpus: self.fake_gpus,
            cpus: alloc.cpus,
            job_dir,
            stdout: stdout.clone(),
            stderr: stderr.clone(),
        };
        let now = now_ms();
        match self.engine.launch(&launch) {
            Ok(l) => {
                let set = Fields {
                    pid: Some(l.pid),
                    pid_start: Some(l.pid_start),
                    start_ms: Some(now),
                    stdout_path: Some(stdout.display().to_string()),
                    stderr_path: Some(stderr.as_ref().unwrap_or(&stdout).display().to_string()),
                    ..Default::default()
                };
                let active = Active {
                    leader_outcome: None,
                    resources: q.spec.resources,
                    pid: l.pid,
                    start_ms: now,
                    deadline_ms: now.saturating_add(secs_to_ms(q.spec.time_limit_s)),
                    kill: None,
                    placement,
                    project: q.project,
                    charging: q.charging,
                    qos: q.spec.qos,
                    slurm: None,
                };
                self.running.insert(q.id, active);
                self.transition(
                    q.id,
                    JobState::Admitted,
                    JobState::Running,
                    "started",
                    now,
                    set,
                )
                .await
            }
            Err(e) => {
                if let Some(c) = q.charging {
                    self.settle(q.id, &c, q.project, 0).await?;
                }
                let set = Fields {
                    end_ms: Some(now),
                    ..Default::default()
                };
                let reason = format!("could not start: {e}");
                self.transition(
                    q.id,
                    JobState::Admitted,
                    JobState::Failed,
                    &reason,
                    now,
                    set,
                )
                .await
            }
        }
    }
}

impl Controller {
    /// Submits a copy of a preempted job that asked to be requeued; returns the new job's id.
    pub(super) async fn requeue(&mut self, id: JobId) -> Result<Option<JobId>, StoreError> {
        let row = self.store.job(id).await?;
        let Some(mut spec) = row.spec.clone() else {
            return Ok(None);
        };
        if !spec.requeue {
            return Ok(None);
        }
        spec.hold = false;
        let now = now_ms();
        let new = aisc_store::NewJob {
            owner: row.owner,
            spec: spec.clone(),
            reason: "Priority".into(),
            submit_ms: now,
            project: row.project,
            charging: row.charging,
        };
        let audit = aisc_store::NewAudit {
            at_ms: now,
            actor: "scheduler".into(),
            action: "job.requeue".into(),
            target: String::new(),
            summary: format!("requeued job {id} after preemption"),
            source: "local".into(),
        };
        let new_id = self.store.submit(new, audit).await?;
        self.queue(Queued {
            id: new_id,
            user: row.owner_name,
            owner: row.owner,
            org: row.org,
            spec,
            held: false,
            project: row.project,
            charging: row.charging,
            submit_ms: now,
        });
        self.dirty = true;
        Ok(Some(new_id))
    }
}

/// Expands `%j` (job id), `%x` (name), `%u` (user) and `%%` as `sbatch -o` does.
pub fn expand_pattern(pattern: &str, id: JobId, name: &str, user: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('j') | Some('A') => out.push_str(&id.to_string()),
            Some('x') => out.push_str(name),
            Some('u') => out.push_str(user),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

fn resolve_path(workdir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        workdir.join(p)
    }
}

fn join(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_patterns_expand_like_sbatch() {
        assert_eq!(
            expand_pattern("slurm-%j.out", JobId(42), "n", "u"),
            "slurm-42.out"
        );
        assert_eq!(
            expand_pattern("%x-%u-%j-%%-%q", JobId(1), "train", "ann"),
            "train-ann-1-%-%q"
        );
        assert_eq!(expand_pattern("end%", JobId(1), "n", "u"), "end%");
    }
}
