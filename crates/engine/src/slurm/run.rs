//! [`Slurm`]: the [`Engine`] that hands admitted jobs to a Slurm cluster.
//!
//! - a job that may already be in Slurm (an attempt whose answer was lost, or
//!   a restart) is looked for there before it is submitted again: nothing is
//!   submitted twice;
//! - when Slurm cannot be reached it is unavailable for new jobs, and tried
//!   again with backoff (1 s doubling to 30 s); a job whose submission failed
//!   for that reason comes back as `NotStarted { retry: true }`, so none is lost;
//! - time limits are Slurm's to enforce: aisc sends no signals of its own;
//!   a stop is a cancel, sent once Slurm's id for the job is known;
//! - a job's end carries what Slurm's accounting measured, which billing
//!   meters as it meters local jobs.

use super::{JobDesc, SlurmEnd, SlurmEngine, SlurmError, SlurmEvent, Submission};
use crate::engine::{
    Accounts, Admission, End, Engine, EngineEvent, Events, How, Measured, Ran, RecoverJob,
    Recovered, StartJob, Started, Verdict, expand_pattern,
};
use aisc_model::engine::distributed_vars;
use aisc_model::request::GpusPer;
use aisc_model::units::format_duration;
use aisc_model::{JobCommand, JobId, JobState};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What the Slurm engine needs besides its client.
#[derive(Debug, Clone, Default)]
pub struct SlurmSettings {
    /// Resource class → Slurm partition.
    pub partitions: BTreeMap<String, String>,
    /// The partition of classes not in the map (else Slurm's default partition).
    pub default_partition: Option<String>,
    /// How many admitted jobs may wait in Slurm's own queue (so that Slurm
    /// starts the next job the moment one ends, without waiting for aisc).
    pub queue_depth: usize,
}

/// Jobs on a Slurm cluster.
#[derive(Debug)]
pub struct Slurm {
    engine: SlurmEngine,
    events: mpsc::UnboundedReceiver<SlurmEvent>,
    settings: SlurmSettings,
    /// Slurm's id of each job handed over, once known.
    ids: HashMap<JobId, Option<u32>>,
    /// Jobs aisc asked to stop.
    stopping: HashSet<JobId>,
    /// Jobs that may be in Slurm already: looked for before they are submitted.
    maybe_submitted: HashSet<JobId>,
    /// Submissions wait until then after Slurm was found unavailable.
    down_until: Option<Instant>,
    backoff: Duration,
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What slurmstepd reports in a job's signal field when it could not open
/// the job's output or error file.
const SLURM_OUTPUT_ERROR: i32 = 53;

impl Slurm {
    /// The engine over `client`, its poller looking every `poll`; `instance`
    /// tells this installation's jobs from others' on a shared cluster.
    pub fn start(
        client: super::SlurmClient,
        poll: Duration,
        instance: &str,
        settings: SlurmSettings,
    ) -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        Slurm {
            engine: SlurmEngine::start(client, tx, poll, instance),
            events,
            settings,
            ids: HashMap::new(),
            stopping: HashSet::new(),
            maybe_submitted: HashSet::new(),
            down_until: None,
            backoff: Duration::from_secs(1),
        }
    }

    fn went_down(&mut self) {
        if self.unavailable_until().is_none() {
            self.down_until = Some(Instant::now() + self.backoff);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn came_back(&mut self) {
        self.down_until = None;
        self.backoff = Duration::from_secs(1);
    }

    fn partition(&self, class: Option<&str>) -> Option<String> {
        partition_of(&self.settings, class)
    }

    fn submission(&self, job: &StartJob) -> Submission {
        let spec = &job.spec;
        let workdir = std::path::PathBuf::from(&spec.workdir);
        let expand = |p: &str| {
            let e = expand_pattern(p, job.job, &spec.name, &job.user);
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
        environment.insert("AISC_JOB_ID".into(), job.job.to_string());
        // Each run is a Slurm job of its own: aisc counts the requeues.
        if job.restarts > 0 {
            environment.insert("SLURM_RESTART_COUNT".into(), job.restarts.to_string());
        }
        let g = &spec.geometry;
        for (k, v) in distributed_vars(job.job, g.tasks) {
            environment.entry(k.into()).or_insert(v);
        }
        let r = &spec.resources;
        let gpus_of = |n: u32| match &spec.gpu_type {
            Some(t) => format!("{t}:{n}"),
            None => n.to_string(),
        };
        let per = |total: u32, by: u32| gpus_of(total / by.max(1));
        let (gpus, gpus_per_node, gpus_per_task) = match g.gpus_per {
            _ if r.gpus == 0 => (None, None, None),
            GpusPer::Job => (Some(gpus_of(r.gpus)), None, None),
            GpusPer::Node => (None, Some(per(r.gpus, g.nodes_max)), None),
            GpusPer::Task => (None, None, Some(per(r.gpus, g.tasks))),
        };
        Submission {
            script: batch_script(&spec.command, &spec.args, !g.is_single()),
            job: JobDesc {
                account: job.account.clone().unwrap_or_default(),
                partition: self.partition(job.class.as_deref()),
                name: spec.name.clone(),
                comment: self.engine.comment(job.job, job.restarts),
                current_working_directory: spec.workdir.clone(),
                environment,
                time_limit: spec.time_limit_s.div_ceil(60).max(1),
                gpus,
                gpus_per_node,
                gpus_per_task,
                cpus_per_task: (r.cpus / g.tasks.max(1)).max(1),
                memory_per_node: r.mem_mb.div_ceil(u64::from(g.nodes_max.max(1))).max(1),
                tasks: g.tasks.max(1),
                tasks_per_node: g.tasks_per_node,
                nodes: g.nodes_text(),
                signal: spec.signal.map(|w| w.slurm_text()),
                constraints: spec.constraint.clone(),
                exclusive: spec.exclusive.then(|| "exclusive".to_string()),
                open_mode: (job.restarts > 0).then(|| "append".to_string()),
                standard_output: stdout,
                standard_error: stderr,
                requeue: false,
            },
        }
    }

    fn on_slurm(&mut self, ev: SlurmEvent, out: &mut Vec<EngineEvent>) {
        match ev {
            SlurmEvent::Submitted {
                job,
                slurm_id,
                adopted,
            } => {
                self.maybe_submitted.remove(&job);
                self.came_back();
                if adopted {
                    tracing::info!(%job, slurm_id, "found in Slurm already: adopted, not submitted again");
                }
                self.ids.insert(job, Some(slurm_id));
                out.push(EngineEvent::Accepted {
                    job,
                    engine_id: i64::from(slurm_id),
                });
            }
            SlurmEvent::SubmitFailed { job, error } => match error {
                SlurmError::Unavailable(e) => {
                    self.went_down();
                    self.maybe_submitted.insert(job);
                    self.ids.remove(&job);
                    tracing::warn!(%job, error = %e, "Slurm unavailable: the job waits and is tried again");
                    out.push(EngineEvent::NotStarted {
                        job,
                        reason: format!("EngineUnavailable: {e}"),
                        retry: true,
                    });
                }
                other => {
                    self.forget(job);
                    out.push(EngineEvent::NotStarted {
                        job,
                        reason: other.to_string(),
                        retry: false,
                    });
                }
            },
            SlurmEvent::Waiting { job, reason, .. } => {
                if reason != "None" {
                    out.push(EngineEvent::Waiting {
                        job,
                        reason: format!("{reason} (Slurm)"),
                    });
                }
            }
            SlurmEvent::Started {
                job,
                slurm_id,
                start_s,
                nodes,
                gpu_ids,
            } => {
                self.ids.insert(job, Some(slurm_id));
                out.push(EngineEvent::Started(Started {
                    job,
                    at_ms: start_s.saturating_mul(1000),
                    reason: format!("started on {nodes} (Slurm job {slurm_id})"),
                    node: Some(nodes),
                    gpu_ids: Some(gpu_ids),
                    pid: None,
                    engine_id: Some(i64::from(slurm_id)),
                    logs: None,
                }));
            }
            SlurmEvent::Finished { job } => out.push(EngineEvent::Released { job }),
            SlurmEvent::Ended { job, slurm_id, end } => {
                let stopped = self.stopping.contains(&job);
                self.forget(job);
                out.push(EngineEvent::Ended {
                    job,
                    end: end_of(&end, slurm_id, stopped),
                });
            }
            SlurmEvent::Reachable(up) => {
                if up {
                    self.came_back();
                } else {
                    self.went_down();
                }
                out.push(EngineEvent::Reachable(up));
            }
        }
    }

    fn forget(&mut self, job: JobId) {
        self.engine.untrack(job);
        self.ids.remove(&job);
        self.stopping.remove(&job);
        self.maybe_submitted.remove(&job);
    }
}

impl Engine for Slurm {
    fn name(&self) -> &'static str {
        "Slurm"
    }

    fn accounts(&self) -> Accounts {
        Accounts::Required
    }

    fn admission(&self, job: &StartJob) -> Admission {
        let partition = self.partition(job.class.as_deref());
        let reason = format!(
            "handed to Slurm as user {}{}{}",
            job.unix_name.as_deref().unwrap_or_default(),
            job.account
                .as_deref()
                .map(|a| format!(", account {a}"))
                .unwrap_or_default(),
            partition
                .as_deref()
                .map(|p| format!(", partition {p}"))
                .unwrap_or_default()
        );
        Admission {
            reason,
            node: None,
            gpu_ids: None,
            handed_over: true,
        }
    }

    fn start(&mut self, jobs: Vec<StartJob>) -> Vec<EngineEvent> {
        for job in jobs {
            let submission = self.submission(&job);
            let look_first = self.maybe_submitted.contains(&job.job);
            self.ids.insert(job.job, None);
            let user = job.unix_name.unwrap_or_default();
            self.engine
                .submit(job.job, job.restarts, user, submission, look_first);
        }
        Vec::new()
    }

    fn signal(&mut self, job: JobId, how: How) {
        if let How::Signal(n) | How::SignalBatch(n) = how {
            // Slurm sends a job's --signal itself (aisc does not enforce limits here).
            tracing::warn!(%job, signal = n, "a signal for a job on Slurm is Slurm's to send: not sent");
            return;
        }
        // Slurm has one way to stop a job from outside: cancel it.
        self.stopping.insert(job);
        if let Some(Some(sid)) = self.ids.get(&job) {
            self.engine.cancel(*sid);
        }
        // With no Slurm id yet, the cancel is sent when the submission answers.
    }

    fn next_events(&mut self) -> Events<'_> {
        Box::pin(async move {
            let mut raw = Vec::new();
            if self.events.recv_many(&mut raw, 4096).await == 0 {
                return None;
            }
            let mut out = Vec::with_capacity(raw.len());
            for ev in raw {
                self.on_slurm(ev, &mut out);
            }
            Some(out)
        })
    }

    fn unavailable_until(&self) -> Option<Instant> {
        self.down_until.filter(|t| Instant::now() < *t)
    }

    fn queue_depth(&self) -> Option<usize> {
        Some(self.settings.queue_depth)
    }

    fn limits_by_aisc(&self) -> bool {
        false
    }

    fn may_hold(&mut self, job: JobId) {
        self.maybe_submitted.insert(job);
    }

    fn recover(&mut self, job: &RecoverJob) -> Recovered {
        let slurm_id = job.engine_id.and_then(|i| u32::try_from(i).ok());
        if slurm_id.is_none() && !job.running {
            self.maybe_submitted.insert(job.job);
            return Recovered::Resubmit {
                reason: "server restarted while handing it to Slurm: looked for there before it is submitted again".into(),
            };
        }
        self.engine.track(job.job, job.restarts, slurm_id);
        self.ids.insert(job.job, slurm_id);
        if job.running {
            Recovered::Running { pid: None }
        } else {
            Recovered::Waiting
        }
    }

    fn release(&mut self, job: JobId) {
        self.forget(job);
    }
}

/// Quotes a word for `/bin/sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The first node of the job's allocation, in the batch script's shell.
const MASTER_ADDR: &str = "MASTER_ADDR=${MASTER_ADDR:-$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)}\nexport MASTER_ADDR\n";

/// The batch script Slurm runs: the job's own, or a `sh` wrapper that
/// runs it with its arguments and, for a job of several nodes or tasks,
/// sets `MASTER_ADDR` first.
fn batch_script(command: &JobCommand, args: &[String], distributed: bool) -> String {
    let prelude = if distributed { MASTER_ADDR } else { "" };
    match command {
        JobCommand::Script(text) if args.is_empty() && !distributed => text.clone(),
        JobCommand::Script(text) => {
            let end = (0..)
                .map(|n| format!("AISC_SCRIPT_END_{n}"))
                .find(|d| text.lines().all(|l| l != d))
                .unwrap_or_default();
            let nl = if text.ends_with('\n') { "" } else { "\n" };
            let words: Vec<String> = args.iter().map(|a| sh_quote(a)).collect();
            format!(
                "#!/bin/sh\n# aisc: the job's script, run with its arguments\n{prelude}\
                 s=$(mktemp) || exit 1\ncat >\"$s\" <<'{end}'\n{text}{nl}{end}\n\
                 chmod 700 \"$s\"\n\"$s\" {}\nrc=$?\nrm -f \"$s\"\nexit $rc\n",
                words.join(" ")
            )
        }
        JobCommand::Argv(argv) => {
            let words: Vec<String> = argv.iter().map(|a| sh_quote(a)).collect();
            format!("#!/bin/sh\n{prelude}exec {}\n", words.join(" "))
        }
    }
}

/// aisc's reading of how a job ended on Slurm. A cancel aisc asked for
/// leaves the reason to aisc (no verdict).
fn verdict(end: &SlurmEnd, stopped: bool) -> Option<Verdict> {
    let firm = |state, reason: &str| {
        Some(Verdict {
            state,
            reason: reason.to_string(),
            firm: true,
        })
    };
    match (end.state.as_str(), end.exit_code, end.signal) {
        ("CANCELLED", _, _) if stopped => None,
        ("COMPLETED", _, _) => firm(JobState::Completed, "exited with status 0"),
        // slurmstepd reports a batch step whose output or error file it could
        // not open (as the job's user) as "signal" 53, before anything ran.
        ("FAILED", _, Some(SLURM_OUTPUT_ERROR)) => firm(
            JobState::Failed,
            "could not start: Slurm could not open its output or error file as the job's user (a directory that does not exist or that the user cannot write)",
        ),
        ("FAILED", Some(c), _) => firm(JobState::Failed, &format!("exited with status {c}")),
        ("FAILED", _, Some(s)) => firm(JobState::Failed, &format!("killed by signal {s}")),
        ("CANCELLED", _, _) => firm(JobState::Cancelled, "cancelled in Slurm"),
        ("TIMEOUT", _, _) => firm(JobState::TimedOut, "time limit reached (Slurm)"),
        ("PREEMPTED", _, _) => firm(JobState::Preempted, "preempted by Slurm"),
        ("OUT_OF_MEMORY", _, _) => firm(JobState::Failed, "ran out of memory (Slurm)"),
        ("NODE_FAIL", _, _) => firm(JobState::Failed, "its node failed (Slurm)"),
        (other, _, _) => firm(JobState::Failed, &format!("ended {other} in Slurm")),
    }
}

/// A Slurm end as the engine reports it: Slurm's accounting of what the job
/// held and for how long, and where it ran.
fn end_of(end: &SlurmEnd, slurm_id: u32, stopped: bool) -> End {
    let gpus = u32::try_from(end.gpus).unwrap_or(0);
    let source = if end.accounted {
        "usage from Slurm's accounting"
    } else {
        "usage from slurmctld: accounting did not answer"
    };
    let ran = format_duration(u64::try_from(end.elapsed_s).unwrap_or(0));
    End {
        at_ms: Some(end.end_s.saturating_mul(1000)),
        exit_code: end.exit_code,
        signal: end.signal,
        verdict: verdict(end, stopped),
        measured: Some(Measured {
            elapsed_ms: u64::try_from(end.elapsed_s)
                .unwrap_or(0)
                .saturating_mul(1000),
            gpus,
            cpus: u32::try_from(end.cpus).unwrap_or(0),
        }),
        ran: (end.start_s > 0).then(|| Ran {
            at_ms: end.start_s.saturating_mul(1000),
            node: end.nodes.clone(),
            reason: format!("started on {} (Slurm job {slurm_id})", end.nodes),
        }),
        note: Some(format!("{source} ({ran} on {gpus} GPUs)")),
    }
}

/// The partition a class's jobs go to: its mapping, else the default
/// partition configured, else none (Slurm's own default partition).
fn partition_of(settings: &SlurmSettings, class: Option<&str>) -> Option<String> {
    class
        .and_then(|c| settings.partitions.get(c).cloned())
        .or_else(|| settings.default_partition.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_with_no_partition_goes_to_slurms_default_partition() {
        let mut s = SlurmSettings::default();
        s.partitions.insert("h100".into(), "gpu".into());
        assert_eq!(partition_of(&s, Some("h100")).as_deref(), Some("gpu"));
        assert_eq!(
            partition_of(&s, Some("a100")),
            None,
            "not a partition named like the class"
        );
        assert_eq!(partition_of(&s, None), None);
        s.default_partition = Some("batch".into());
        assert_eq!(partition_of(&s, Some("a100")).as_deref(), Some("batch"));
    }

    #[test]
    fn commands_become_quoted_scripts() {
        let s = batch_script(
            &JobCommand::Argv(vec!["echo".into(), "it's here".into()]),
            &[],
            false,
        );
        assert_eq!(s, "#!/bin/sh\nexec 'echo' 'it'\\''s here'\n");
        let script = JobCommand::Script("#!/bin/bash\n#SBATCH -G 1\nrun\n".into());
        let s = batch_script(&script, &[], false);
        assert!(s.starts_with("#!/bin/bash\n#SBATCH"));
        // Several nodes or tasks: the first node is found before the script runs.
        let s = batch_script(&script, &[], true);
        assert!(s.starts_with("#!/bin/sh\n"), "{s}");
        assert!(s.contains("export MASTER_ADDR\n"), "{s}");
        assert!(s.contains("\n#!/bin/bash\n#SBATCH -G 1\nrun\n"), "{s}");
        let tricky = JobCommand::Script("#!/bin/sh\necho \"$@\"\nAISC_SCRIPT_END_0".into());
        let s = batch_script(&tricky, &["a b".into(), "it's".into()], false);
        assert!(s.contains("<<'AISC_SCRIPT_END_1'\n#!/bin/sh\n"), "{s}");
        assert!(s.contains("\"$s\" 'a b' 'it'\\''s'\n"), "{s}");
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

    fn state(e: &SlurmEnd, stopped: bool) -> Option<(JobState, String)> {
        verdict(e, stopped).map(|v| (v.state, v.reason))
    }

    #[test]
    fn slurm_end_states_map_onto_aisc_states() {
        assert_eq!(
            state(&end("COMPLETED", Some(0), None), false).map(|s| s.0),
            Some(JobState::Completed)
        );
        assert_eq!(
            state(&end("FAILED", Some(3), None), false),
            Some((JobState::Failed, "exited with status 3".into()))
        );
        let (s, reason) = state(&end("FAILED", Some(0), Some(53)), false)
            .unwrap_or((JobState::Completed, String::new()));
        assert_eq!(s, JobState::Failed);
        assert!(
            reason.contains("could not open its output or error file"),
            "{reason}"
        );
        assert_eq!(
            state(&end("TIMEOUT", None, Some(15)), false).map(|s| s.0),
            Some(JobState::TimedOut)
        );
        assert_eq!(
            state(&end("NODE_FAIL", None, None), false).map(|s| s.0),
            Some(JobState::Failed)
        );
        // A cancel aisc asked for keeps aisc's reason; one it did not is Slurm's.
        assert_eq!(state(&end("CANCELLED", None, Some(9)), true), None);
        assert_eq!(
            state(&end("CANCELLED", None, Some(9)), false).map(|s| s.1),
            Some("cancelled in Slurm".into())
        );
        // Even when stopping, an end Slurm reads otherwise stands.
        assert!(verdict(&end("TIMEOUT", None, None), true).is_some_and(|v| v.firm));
    }

    #[test]
    fn a_slurm_end_carries_slurms_usage_and_start() {
        let e = end_of(&end("COMPLETED", Some(0), None), 7, false);
        assert_eq!(
            e.measured,
            Some(Measured {
                elapsed_ms: 1000,
                gpus: 1,
                cpus: 1
            })
        );
        assert_eq!(e.ran.map(|r| r.at_ms), Some(1000));
        assert_eq!(e.at_ms, Some(2000));
    }
}
