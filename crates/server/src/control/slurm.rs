//! The control loop's side of the Slurm engine: admitted jobs are submitted
//! to Slurm instead of spawned here; Slurm's reports move them through aisc's
//! state machine; cancels go to Slurm; Slurm's accounting is what is charged.
//!
//! Guarantees:
//! - a job is stored `admitted` (with the time of the hand-over) before it is
//!   submitted, and a job that may already be in Slurm (an attempt whose
//!   answer was lost, or a restart) is looked for there before it is
//!   submitted again: nothing is submitted twice;
//! - when Slurm cannot be reached, submissions stop, waiting jobs show
//!   `EngineUnavailable`, and attempts resume with backoff (1 s doubling to
//!   30 s); a job whose submission failed goes back to `pending`, so none is lost;
//! - time limits are Slurm's to enforce: aisc sends no signals of its own.

use super::{Active, Controller, Queued, SlurmJob};
use crate::clock::now_ms;
use aisc_engine::slurm::{JobDesc, SlurmEnd, SlurmEngine, SlurmError, SlurmEvent, Submission};
use aisc_model::units::format_duration;
use aisc_model::{JobCommand, JobId, JobState, ProjectId};
use aisc_sched::Placement;
use aisc_store::{Fields, JobChange, StoreError};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// What the Slurm engine needs besides its client.
#[derive(Debug, Clone, Default)]
pub struct SlurmSettings {
    /// Resource class → Slurm partition.
    pub partitions: BTreeMap<String, String>,
    /// The partition of classes not in the map (else the class's own name).
    pub default_partition: Option<String>,
    /// How many admitted jobs may wait in Slurm's own queue (so that Slurm
    /// starts the next job the moment one ends, without waiting for aisc).
    pub queue_depth: usize,
}

/// The Slurm engine's state inside the control loop.
#[derive(Debug)]
pub(super) struct SlurmSide {
    pub(super) engine: SlurmEngine,
    settings: SlurmSettings,
    /// Jobs handed to Slurm whose submission has not answered yet.
    submitting: HashMap<JobId, Queued>,
    /// Jobs that may be in Slurm already: looked for before they are submitted.
    pub(super) maybe_submitted: HashSet<JobId>,
    /// Submissions wait until then after Slurm was found unavailable.
    down_until: Option<Instant>,
    backoff: Duration,
    /// Each grant's class name (grants do not change class).
    grant_class: HashMap<i64, String>,
    /// Project names (the Slurm accounts).
    project_names: HashMap<ProjectId, String>,
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl SlurmSide {
    pub(super) fn new(engine: SlurmEngine, settings: SlurmSettings) -> Self {
        SlurmSide {
            engine,
            settings,
            submitting: HashMap::new(),
            maybe_submitted: HashSet::new(),
            down_until: None,
            backoff: Duration::from_secs(1),
            grant_class: HashMap::new(),
            project_names: HashMap::new(),
        }
    }

    pub(super) fn queue_depth(&self) -> usize {
        self.settings.queue_depth
    }

    /// Whether submissions wait for Slurm to come back.
    pub(super) fn unavailable(&self) -> bool {
        self.down_until.is_some_and(|t| Instant::now() < t)
    }

    /// When submissions may be tried again, if they wait.
    pub(super) fn retry_at(&self) -> Option<Instant> {
        self.down_until.filter(|t| Instant::now() < *t)
    }

    fn went_down(&mut self) {
        if !self.unavailable() {
            self.down_until = Some(Instant::now() + self.backoff);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn came_back(&mut self) {
        self.down_until = None;
        self.backoff = Duration::from_secs(1);
    }

    fn partition(&self, class: Option<&str>) -> Option<String> {
        class
            .and_then(|c| self.settings.partitions.get(c).cloned())
            .or_else(|| self.settings.default_partition.clone())
            .or_else(|| class.map(str::to_string))
    }
}

/// Quotes a word for `/bin/sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The batch script Slurm runs: the job's own script, or its command line.
fn batch_script(command: &JobCommand) -> String {
    match command {
        JobCommand::Script(text) => text.clone(),
        JobCommand::Argv(argv) => {
            let words: Vec<String> = argv.iter().map(|a| sh_quote(a)).collect();
            format!("#!/bin/sh\nexec {}\n", words.join(" "))
        }
    }
}

/// What slurmstepd reports in a job's signal field when it could not open
/// the job's output or error file.
const SLURM_OUTPUT_ERROR: i32 = 53;

/// aisc's end state and reason for how a job ended on Slurm.
fn end_state(end: &SlurmEnd, kill: Option<(JobState, String)>) -> (JobState, String) {
    if let Some(k) = kill
        && end.state == "CANCELLED"
    {
        return k;
    }
    match (end.state.as_str(), end.exit_code, end.signal) {
        ("COMPLETED", _, _) => (JobState::Completed, "exited with status 0".into()),
        // slurmstepd reports a batch step whose output or error file it could
        // not open (as the job's user) as "signal" 53, before anything ran.
        ("FAILED", _, Some(SLURM_OUTPUT_ERROR)) => (
            JobState::Failed,
            "could not start: Slurm could not open its output or error file as the job's user (a directory that does not exist or that the user cannot write)".into(),
        ),
        ("FAILED", Some(c), _) => (JobState::Failed, format!("exited with status {c}")),
        ("FAILED", _, Some(s)) => (JobState::Failed, format!("killed by signal {s}")),
        ("CANCELLED", _, _) => (JobState::Cancelled, "cancelled in Slurm".into()),
        ("TIMEOUT", _, _) => (JobState::TimedOut, "time limit reached (Slurm)".into()),
        ("PREEMPTED", _, _) => (JobState::Preempted, "preempted by Slurm".into()),
        ("OUT_OF_MEMORY", _, _) => (JobState::Failed, "ran out of memory (Slurm)".into()),
        ("NODE_FAIL", _, _) => (JobState::Failed, "its node failed (Slurm)".into()),
        (other, _, _) => (JobState::Failed, format!("ended {other} in Slurm")),
    }
}

impl Controller {
    /// Hands a planned job to Slurm: the lien, then `admitted` with the time
    /// of the hand-over, then the submission (answered later as an event).
    pub(super) async fn start_on_slurm(
        &mut self,
        q: Queued,
        placement: Placement,
    ) -> Result<(), StoreError> {
        let Some(q) = self.lien_or_wait(q).await? else {
            return Ok(());
        };
        let now = now_ms();
        let Some(unix) = self.store.unix_name(q.owner).await? else {
            let reason = format!(
                "refused: user {} has no Unix user name for Slurm (an administrator sets one: aisc user set-unix-name {} NAME)",
                q.user, q.user
            );
            return self
                .never_ran(q, JobState::Pending, JobState::Failed, reason, now)
                .await;
        };
        let class = match q.charging {
            Some(c) => self.grant_class(c.grant).await?,
            None => None,
        };
        let account = match q.project {
            Some(p) => Some(self.project_name(p).await?),
            None => None,
        };
        let Some(side) = self.slurm.as_mut() else {
            return Ok(());
        };
        let partition = side.partition(class.as_deref());
        let look_first = side.maybe_submitted.contains(&q.id);
        let set = Fields {
            engine_submit_ms: Some(now),
            ..Default::default()
        };
        let reason = format!(
            "handed to Slurm as user {unix}{}{}",
            account
                .as_deref()
                .map(|a| format!(", account {a}"))
                .unwrap_or_default(),
            partition
                .as_deref()
                .map(|p| format!(", partition {p}"))
                .unwrap_or_default()
        );
        self.transition(
            q.id,
            JobState::Pending,
            JobState::Admitted,
            &reason,
            now,
            set,
        )
        .await?;
        let submission = self.submission(&q, account, partition);
        let Some(side) = self.slurm.as_mut() else {
            return Ok(());
        };
        side.engine.submit(q.id, unix, submission, look_first);
        self.running.insert(
            q.id,
            Active {
                leader_outcome: None,
                placement,
                resources: q.spec.resources,
                pid: 0,
                start_ms: now,
                deadline_ms: now.saturating_add(super::secs_to_ms(q.spec.time_limit_s)),
                kill: None,
                project: q.project,
                charging: q.charging,
                qos: q.spec.qos,
                slurm: Some(SlurmJob {
                    id: None,
                    started: false,
                    finished: false,
                }),
            },
        );
        side.submitting.insert(q.id, q);
        Ok(())
    }

    fn submission(
        &self,
        q: &Queued,
        account: Option<String>,
        partition: Option<String>,
    ) -> Submission {
        let spec = &q.spec;
        let workdir = std::path::PathBuf::from(&spec.workdir);
        let expand = |p: &str| {
            let e = super::expand_pattern(p, q.id, &spec.name, &q.user);
            let path = std::path::Path::new(&e);
            if path.is_absolute() {
                e
            } else {
                workdir.join(path).display().to_string()
            }
        };
        let stdout = spec
            .output
            .as_deref()
            .map_or_else(|| expand("aisc-%j.out"), expand);
        let stderr = spec.error.as_deref().map_or_else(|| stdout.clone(), expand);
        let mut environment = spec.env.clone();
        environment
            .entry("PATH".into())
            .or_insert_with(|| "/usr/local/bin:/usr/bin:/bin".into());
        environment.insert("AISC_JOB_ID".into(), q.id.to_string());
        let r = &spec.resources;
        let gpus = (r.gpus > 0).then(|| match &spec.gpu_type {
            Some(t) => format!("{t}:{}", r.gpus),
            None => r.gpus.to_string(),
        });
        Submission {
            script: batch_script(&spec.command),
            job: JobDesc {
                account: account.unwrap_or_default(),
                partition,
                name: spec.name.clone(),
                comment: self
                    .slurm
                    .as_ref()
                    .map(|s| s.engine.comment(q.id))
                    .unwrap_or_default(),
                current_working_directory: spec.workdir.clone(),
                environment,
                time_limit: spec.time_limit_s.div_ceil(60).max(1),
                gpus,
                cpus_per_task: r.cpus.max(1),
                memory_per_node: r.mem_mb.max(1),
                tasks: 1,
                nodes: 1,
                standard_output: stdout,
                standard_error: stderr,
                requeue: false,
            },
        }
    }

    async fn grant_class(&mut self, grant: i64) -> Result<Option<String>, StoreError> {
        if let Some(c) = self.slurm.as_ref().and_then(|s| s.grant_class.get(&grant)) {
            return Ok(Some(c.clone()));
        }
        let g = self.store.grant(grant).await?;
        if let Some(s) = self.slurm.as_mut() {
            s.grant_class.insert(grant, g.class_name.clone());
        }
        Ok(Some(g.class_name))
    }

    async fn project_name(&mut self, p: ProjectId) -> Result<String, StoreError> {
        if let Some(n) = self.slurm.as_ref().and_then(|s| s.project_names.get(&p)) {
            return Ok(n.clone());
        }
        let all = self.store.projects().await?;
        let name = all
            .iter()
            .find(|x| x.id == p)
            .map(|x| x.name.clone())
            .ok_or(StoreError::NotFound)?;
        if let Some(s) = self.slurm.as_mut() {
            s.project_names = all.into_iter().map(|x| (x.id, x.name)).collect();
        }
        Ok(name)
    }

    /// Ends a job that never ran: its lien released, nothing charged.
    async fn never_ran(
        &mut self,
        q: Queued,
        from: JobState,
        to: JobState,
        reason: String,
        now: i64,
    ) -> Result<(), StoreError> {
        if let Some(c) = q.charging {
            self.settle(q.id, &c, q.project, 0).await?;
        }
        let set = Fields {
            end_ms: Some(now),
            ..Default::default()
        };
        self.transition(q.id, from, to, &reason, now, set).await
    }

    /// Hands jobs to Slurm: those the plan started (they fit what is free),
    /// then the next waiting ones in priority order, as long as fewer than the
    /// queue depth wait in Slurm's own queue. Jobs waiting for a grant, a
    /// quota or a release are never handed over.
    pub(super) async fn hand_to_slurm(
        &mut self,
        starts: Vec<aisc_sched::Start>,
        waiting: &[(JobId, aisc_model::PendingReason)],
    ) {
        use aisc_model::PendingReason as R;
        let queued = self
            .running
            .values()
            .filter(|a| a.slurm.is_some_and(|s| !s.started && !s.finished))
            .count();
        let depth = self.slurm.as_ref().map_or(0, |s| s.queue_depth());
        let mut room = depth.saturating_sub(queued);
        let next = waiting
            .iter()
            .filter(|(_, r)| matches!(r, R::Priority | R::Resources | R::Reservation))
            .map(|(id, _)| (*id, Placement { allocs: Vec::new() }));
        let order: Vec<(JobId, Placement)> = starts
            .into_iter()
            .map(|s| (s.id, s.placement))
            .chain(next)
            .collect();
        for (id, placement) in order {
            if room == 0 {
                break;
            }
            let Some(q) = self.pending.remove(&id) else {
                continue;
            };
            self.reasons.remove(&id);
            room -= 1;
            if let Err(e) = self.start_on_slurm(q, placement).await {
                tracing::error!(job = %id, error = %e, "could not hand a job to Slurm");
            }
        }
    }

    /// Cancels a job that Slurm holds (or is about to): the kill's reason is
    /// stored first, then Slurm is asked; the end comes from the poller.
    pub(super) fn cancel_on_slurm(&self, id: JobId) {
        if let Some(side) = &self.slurm
            && let Some(a) = self.running.get(&id)
            && let Some(SlurmJob { id: Some(sid), .. }) = a.slurm
        {
            side.engine.cancel(sid);
        }
        // With no Slurm id yet, the cancel is sent when the submission answers.
    }

    /// One report from the Slurm engine.
    pub(super) async fn on_slurm(&mut self, ev: SlurmEvent) {
        let res = match ev {
            SlurmEvent::Submitted {
                job,
                slurm_id,
                adopted,
            } => self.slurm_submitted(job, slurm_id, adopted).await,
            SlurmEvent::SubmitFailed { job, error } => self.slurm_submit_failed(job, error).await,
            SlurmEvent::Waiting { job, reason, .. } => {
                if reason == "None" || !self.running.contains_key(&job) {
                    return;
                }
                self.store
                    .change(JobChange::Reasons(vec![(job, format!("{reason} (Slurm)"))]))
                    .await
            }
            SlurmEvent::Started {
                job,
                slurm_id,
                start_s,
                nodes,
                gpu_ids,
            } => {
                self.slurm_started(job, slurm_id, start_s, nodes, gpu_ids)
                    .await
            }
            SlurmEvent::Finished { job } => {
                if let Some(s) = self.running.get_mut(&job).and_then(|a| a.slurm.as_mut()) {
                    s.finished = true;
                    self.dirty = true;
                }
                Ok(())
            }
            SlurmEvent::Ended { job, slurm_id, end } => self.slurm_ended(job, slurm_id, end).await,
            SlurmEvent::Reachable(up) => {
                if let Some(s) = self.slurm.as_mut() {
                    if up {
                        s.came_back();
                    } else {
                        s.went_down();
                    }
                }
                self.dirty = true;
                Ok(())
            }
        };
        if let Err(e) = res {
            tracing::error!(error = %e, "could not record what Slurm reported");
        }
    }

    async fn slurm_submitted(
        &mut self,
        job: JobId,
        slurm_id: u32,
        adopted: bool,
    ) -> Result<(), StoreError> {
        let Some(side) = self.slurm.as_mut() else {
            return Ok(());
        };
        side.submitting.remove(&job);
        side.maybe_submitted.remove(&job);
        side.came_back();
        if adopted {
            tracing::info!(%job, slurm_id, "found in Slurm already: adopted, not submitted again");
        }
        let cancel = match self.running.get_mut(&job) {
            Some(a) => {
                if let Some(s) = a.slurm.as_mut() {
                    s.id = Some(slurm_id);
                }
                a.kill.is_some()
            }
            None => false,
        };
        if cancel {
            side.engine.cancel(slurm_id);
        }
        self.store
            .change(JobChange::EngineJob {
                id: job,
                engine_job_id: i64::from(slurm_id),
            })
            .await
    }

    async fn slurm_submit_failed(
        &mut self,
        job: JobId,
        error: SlurmError,
    ) -> Result<(), StoreError> {
        let Some(side) = self.slurm.as_mut() else {
            return Ok(());
        };
        let Some(q) = side.submitting.remove(&job) else {
            return Ok(());
        };
        let now = now_ms();
        self.running.remove(&job);
        match error {
            SlurmError::Unavailable(e) => {
                side.went_down();
                side.maybe_submitted.insert(job);
                tracing::warn!(%job, error = %e, "Slurm unavailable: the job waits and is tried again");
                self.transition(
                    job,
                    JobState::Admitted,
                    JobState::Pending,
                    &format!("EngineUnavailable: {e}"),
                    now,
                    Fields::default(),
                )
                .await?;
                self.reasons
                    .insert(job, aisc_model::PendingReason::EngineUnavailable);
                self.queue(q);
                self.dirty = true;
                Ok(())
            }
            other => {
                side.engine.untrack(job);
                side.maybe_submitted.remove(&job);
                let reason = other.to_string();
                self.never_ran(q, JobState::Admitted, JobState::Failed, reason, now)
                    .await
            }
        }
    }

    async fn slurm_started(
        &mut self,
        job: JobId,
        slurm_id: u32,
        start_s: i64,
        nodes: String,
        gpu_ids: Vec<u32>,
    ) -> Result<(), StoreError> {
        // Where Slurm placed it (one node, as aisc submits): what the scheduler counts from now on.
        let node = self.nodes.iter().position(|n| n.name == nodes);
        let Some(a) = self.running.get_mut(&job) else {
            return Ok(());
        };
        if let Some(node) = node {
            a.placement =
                Placement::on_node(node, gpu_ids.clone(), a.resources.cpus, a.resources.mem_mb);
        }
        let Some(s) = a.slurm.as_mut() else {
            return Ok(());
        };
        if s.started {
            return Ok(());
        }
        s.started = true;
        s.id = Some(slurm_id);
        a.deadline_ms = a
            .deadline_ms
            .saturating_sub(a.start_ms)
            .saturating_add(start_s.saturating_mul(1000));
        a.start_ms = start_s.saturating_mul(1000);
        if let Some(side) = self.slurm.as_mut() {
            side.submitting.remove(&job);
        }
        let set = Fields {
            start_ms: Some(start_s.saturating_mul(1000)),
            node: Some(nodes.clone()),
            gpu_ids: Some(gpu_ids),
            engine_job_id: Some(i64::from(slurm_id)),
            ..Default::default()
        };
        self.transition(
            job,
            JobState::Admitted,
            JobState::Running,
            &format!("started on {nodes} (Slurm job {slurm_id})"),
            now_ms(),
            set,
        )
        .await
    }

    async fn slurm_ended(
        &mut self,
        job: JobId,
        slurm_id: u32,
        end: SlurmEnd,
    ) -> Result<(), StoreError> {
        if let Some(side) = self.slurm.as_mut() {
            side.engine.untrack(job);
            side.submitting.remove(&job);
        }
        let Some(mut a) = self.running.remove(&job) else {
            return Ok(());
        };
        self.dirty = true;
        let started = a.slurm.as_ref().is_some_and(|s| s.started);
        let kill = a.kill.as_ref().map(|k| (k.state, k.reason.clone()));
        let (state, reason) = end_state(&end, kill);
        let end_ms = end.end_s.saturating_mul(1000).max(a.start_ms);
        if !started {
            if end.start_s <= 0 {
                // It never ran (cancelled while it waited in Slurm, or refused at launch).
                let to = if state == JobState::Cancelled {
                    JobState::Cancelled
                } else {
                    JobState::Failed
                };
                let set = Fields {
                    end_ms: Some(end_ms),
                    engine_job_id: Some(i64::from(slurm_id)),
                    ..Default::default()
                };
                if let Some(c) = a.charging {
                    self.settle(job, &c, a.project, 0).await?;
                }
                return self
                    .transition(job, JobState::Admitted, to, &reason, end_ms, set)
                    .await;
            }
            a.start_ms = end.start_s.saturating_mul(1000);
            let set = Fields {
                start_ms: Some(a.start_ms),
                node: Some(end.nodes.clone()),
                engine_job_id: Some(i64::from(slurm_id)),
                ..Default::default()
            };
            self.transition(
                job,
                JobState::Admitted,
                JobState::Running,
                &format!("started on {} (Slurm job {slurm_id})", end.nodes),
                a.start_ms,
                set,
            )
            .await?;
        }
        let elapsed_ms = u64::try_from(end.elapsed_s)
            .unwrap_or(0)
            .saturating_mul(1000);
        let gpus = u32::try_from(end.gpus).unwrap_or(0);
        let held = aisc_model::Resources {
            gpus,
            cpus: u32::try_from(end.cpus).unwrap_or(0),
            mem_mb: 0,
        };
        // Slurm's accounting says what it held and for how long; billing meters it as it meters local jobs.
        let usage = aisc_billing::meter_for(&held, elapsed_ms);
        let source = if end.accounted {
            "usage from Slurm's accounting"
        } else {
            "usage from slurmctld: accounting did not answer"
        };
        let ran = format_duration(u64::try_from(end.elapsed_s).unwrap_or(0));
        let reason = format!("{reason}; {source} ({ran} on {gpus} GPUs)");
        let set = Fields {
            end_ms: Some(end_ms),
            exit_code: end.exit_code,
            signal: end.signal,
            wall_ms: Some(usage.wall_ms),
            gpu_ms: Some(usage.gpu_ms),
            cpu_ms: Some(usage.cpu_ms),
            ..Default::default()
        };
        self.record_end(job, a, state, reason, set).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_become_quoted_scripts() {
        let s = batch_script(&JobCommand::Argv(vec!["echo".into(), "it's here".into()]));
        assert_eq!(s, "#!/bin/sh\nexec 'echo' 'it'\\''s here'\n");
        let s = batch_script(&JobCommand::Script(
            "#!/bin/bash\n#SBATCH -G 1\nrun\n".into(),
        ));
        assert!(s.starts_with("#!/bin/bash\n#SBATCH"));
    }

    fn end(state: &str, exit: Option<i32>, signal: Option<i32>) -> SlurmEnd {
        SlurmEnd {
            state: state.into(),
            exit_code: exit,
            signal,
            start_s: 1,
            end_s: 2,
            elapsed_s: 1,
            gpus: 1,
            cpus: 1,
            accounted: true,
            nodes: "gpu01".into(),
        }
    }

    #[test]
    fn slurm_end_states_map_onto_aisc_states() {
        assert_eq!(
            end_state(&end("COMPLETED", Some(0), None), None).0,
            JobState::Completed
        );
        assert_eq!(
            end_state(&end("FAILED", Some(3), None), None),
            (JobState::Failed, "exited with status 3".into())
        );
        let (state, reason) = end_state(&end("FAILED", Some(0), Some(53)), None);
        assert_eq!(state, JobState::Failed);
        assert!(
            reason.contains("could not open its output or error file"),
            "{reason}"
        );
        assert_eq!(
            end_state(&end("TIMEOUT", None, Some(15)), None).0,
            JobState::TimedOut
        );
        assert_eq!(
            end_state(&end("NODE_FAIL", None, None), None).0,
            JobState::Failed
        );
        // A cancel aisc asked for keeps aisc's reason.
        let k = Some((JobState::Cancelled, "cancelled by ann".to_string()));
        assert_eq!(
            end_state(&end("CANCELLED", None, Some(9)), k).1,
            "cancelled by ann"
        );
        assert_eq!(
            end_state(&end("CANCELLED", None, Some(9)), None).1,
            "cancelled in Slurm"
        );
    }
}
