//! Jobs: submit, list, show, read logs (acting on one: `actions`). Each decides
//! whether the caller may (through `policy`), then does it.

use super::fits::{check_fits, check_paths, named_nodes, one_host, whole_nodes};
use super::{Found, ServiceError, stopping};
use crate::AppState;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::control::{Command, Queued};
use crate::policy::{self, Access, Resource, authorize, authorize_as, job_visibility};
use crate::service::views::{JobDetail, JobList, Submitted};
use aisc_api::jobs::{ListParams, LogParams};
use aisc_billing::money::{BasisPoints, Cents};
use aisc_billing::rating::{Price, QosTerms};
use aisc_model::array::JobRef;
use aisc_model::{JobCommand, JobId, JobRequest, JobState};
use aisc_store::{Charging, JobFilter, JobRow, NewJob};

mod actions;
pub use actions::{cancel, hold, release, requeue, update};

/// Largest page of a listing.
pub const MAX_LIST: u32 = 1000;
/// Largest chunk of a log in one answer.
pub const MAX_LOG_CHUNK: u64 = 4 << 20;

/// A chunk of a job's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Where to read next.
    pub next: u64,
    /// The job's state.
    pub state: JobState,
    /// The job has ended and everything has been read.
    pub complete: bool,
}

/// Submits a job as `caller` (the API's and the portal's one way in).
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    req: JobRequest,
) -> Result<Submitted, ServiceError> {
    let state = state.clone();
    let req_grant = req.grant;
    let resolved = req.resolve()?;
    if state.slurm_cluster.is_none() {
        one_host(&resolved.spec)?;
    }
    named_nodes(&state, &resolved.spec)?;
    check_fits(&state, &resolved.spec)?;
    check_paths(&state, &resolved.spec, &caller.user.name)?;
    let mut resolved = resolved;
    if resolved.spec.exclusive {
        whole_nodes(&state, &mut resolved.spec);
    }
    let cap = state.limits.settings().max_queued_per_user;
    let store = &state.store;
    state
        .limits
        .admit_queued(caller.user.id.0, async || {
            Ok(store.waiting_jobs(caller.user.id, cap).await?)
        })
        .await?;
    if state.jobs_need_unix_name() && state.store.unix_name(caller.user.id).await?.is_none() {
        let what = if state.slurm_cluster.is_some() {
            "jobs on Slurm run as"
        } else {
            "jobs on this root server run as (never root)"
        };
        return Err(ServiceError::invalid(
            "user",
            format!(
                "{} has no Unix user name, which {what}: an administrator sets one (aisc user set-unix-name {} NAME)",
                caller.user.name, caller.user.name
            ),
            None,
        ));
    }
    let mut spec = resolved.spec;
    spec.begin_ms = resolved.begin.map(|b| b.at(now_ms()));
    if spec.signal.is_some_and(|w| w.batch_only) && state.slurm_cluster.is_some() {
        return Err(ServiceError::invalid(
            "signal",
            "--signal=B:...: not the batch shell alone: slurmrestd (Slurm 22.05) refuses B: in a submission; without it Slurm signals the job's steps (srun), as sbatch --signal does".to_string(),
            Some("[R:]SIG[@SECS]".into()),
        ));
    }
    if let Some(a) = &spec.array {
        let max = state.limits.settings().max_array_size;
        if let Some(last) = a.tasks.last().filter(|l| *l >= max) {
            return Err(ServiceError::invalid(
                "array",
                format!(
                    "task {last} is above the largest task id allowed, {} (the maximum array size is {max})",
                    max - 1
                ),
                Some(format!("task ids 0 to {}", max - 1)),
            ));
        }
    }
    if let Some(dep) = &spec.dependency {
        if dep.pairs_tasks() && spec.array.is_none() {
            return Err(ServiceError::invalid(
                "dependency",
                "aftercorr pairs each task of a job array with the same task of the array it names: submit this job with --array",
                Some("aftercorr with --array".into()),
            ));
        }
        for id in dep.jobs() {
            visible_job(&state, caller, id, Access::Read).await?;
        }
    }
    let project = submit_project(&state, caller, spec.account.as_deref()).await?;
    spec.account = Some(project.1.clone());
    let privileged = policy::may_override_qos(caller);
    let charging = charge_to(&state, project.0, &project.1, req_grant, &spec, privileged).await?;
    let reason = if spec.hold { "Held" } else { "Priority" };
    let submit_ms = now_ms();
    let new = NewJob {
        owner: caller.user.id,
        spec: spec.clone(),
        reason: reason.into(),
        submit_ms,
        project: Some(project.0),
        charging: Some(charging),
        array_waiting: None,
    };
    let r = &spec.resources;
    let summary = format!(
        "submitted {:?}: {} GPUs, {} CPUs, {} MiB, time limit {}",
        spec.name,
        r.gpus,
        r.cpus,
        r.mem_mb,
        aisc_model::units::format_duration(spec.time_limit_s)
    );
    let id = state
        .store
        .submit(new, caller.audit("job.submit", String::new(), summary))
        .await?;
    let held = spec.hold;
    let queued = Queued {
        id,
        user: caller.user.name.clone(),
        owner: caller.user.id,
        org: Some(project.2),
        spec,
        held,
        project: Some(project.0),
        charging: Some(charging),
        submit_ms,
        restarts: 0,
    };
    if state
        .control
        .send(Command::Submitted(Box::new(queued)))
        .await
        .is_err()
    {
        tracing::warn!(%id, "control loop is stopping; the job is stored and will be queued at the next start");
    }
    Ok(Submitted {
        id: id.0,
        state: "pending".into(),
        reason: reason.into(),
        warnings: resolved.warnings,
    })
}

/// The project a job is charged to: the one named (`-A`), which the caller must
/// belong to, or the caller's first project.
async fn submit_project(
    state: &AppState,
    caller: &Caller,
    named: Option<&str>,
) -> Result<(aisc_model::ProjectId, String, aisc_model::OrgId), ServiceError> {
    let mine = &caller.user.projects;
    match named {
        None => mine.iter().min_by_key(|m| m.project).map(|m| (m.project, m.name.clone(), m.org)).ok_or_else(|| {
            ServiceError::invalid(
                "account",
                "you belong to no project: ask a project's PI to add you, then submit with -A PROJECT",
                None,
            )
        }),
        Some(name) => {
            if let Some(m) = mine.iter().find(|m| m.name == name) {
                return Ok((m.project, m.name.clone(), m.org));
            }
            let p = state.store.project(name).await.or_404(|| format!("project {name}"))?;
            authorize(caller, Access::Submit, Resource::Project { name, id: p.id, org: p.org })?;
            Ok((p.id, p.name, p.org))
        }
    }
}

/// The grant a job is charged to (the one named, or the project's first active
/// one), the list price in force now for its resource class, and the lien of
/// the job's worst case: all its GPUs for its whole time limit.
async fn charge_to(
    state: &AppState,
    project: aisc_model::ProjectId,
    project_name: &str,
    named: Option<i64>,
    spec: &aisc_model::JobSpec,
    caller_is_admin: bool,
) -> Result<Charging, ServiceError> {
    let active = state.charging.active_grants(&state.store, project).await?;
    // -p names a resource class: the grant charged is one of that class.
    let of_class =
        |g: &&aisc_store::GrantRow| spec.partition.as_deref().is_none_or(|p| g.class_name == p);
    let grant = match named {
        Some(id) => active.iter().find(|g| g.id == id).ok_or_else(|| {
            ServiceError::invalid("grant", format!("grant {id} is not an active grant of project {project_name}"), None)
        })?,
        None => active.iter().find(of_class).ok_or_else(|| match &spec.partition {
            Some(p) => {
                let classes: Vec<&str> = active.iter().map(|g| g.class_name.as_str()).collect();
                ServiceError::invalid(
                    "partition",
                    format!("project {project_name} has no active grant of resource class {p}"),
                    Some(if classes.is_empty() {
                        "a class the project holds a grant of (it holds none)".to_string()
                    } else {
                        format!("a class the project holds a grant of: {}", classes.join(", "))
                    }),
                )
            }
            None => ServiceError::invalid(
                "grant",
                format!("project {project_name} has no active grant: apply for one (aisc apply), or name one with --grant"),
                None,
            ),
        })?,
    };
    if !of_class(&grant) {
        return Err(ServiceError::invalid(
            "partition",
            format!(
                "grant {} is of resource class {}, not {}",
                grant.id,
                grant.class_name,
                spec.partition.as_deref().unwrap_or_default()
            ),
            Some(format!(
                "{} (the grant's class), or leave -p out",
                grant.class_name
            )),
        ));
    }
    let list = state
        .charging
        .price(&state.store, grant.class)
        .await?
        .unwrap_or(grant.price_cents);
    let terms = QosTerms {
        high_allowed: grant.high_qos,
        scavenger_discount: BasisPoints::new(grant.scavenger_discount_bp)
            .unwrap_or(BasisPoints::FULL),
    };
    let list = Price {
        per_gpu_hour: Cents(list),
    };
    let charge = aisc_billing::rating::job_charge(
        list,
        spec.qos,
        terms,
        caller_is_admin,
        spec.resources.gpus,
        spec.time_limit_s,
    )
    .map_err(|_| {
        ServiceError::invalid(
            "qos",
            format!(
                "grant {} does not allow the high QOS: an administrator grants it (aisc grants set {} --high-qos yes)",
                grant.id, grant.id
            ),
            Some("normal or scavenger".into()),
        )
    })?;
    Ok(Charging {
        grant: grant.id,
        price_cents: charge.price.per_gpu_hour.0,
        lien_cents: charge.lien.0,
        run: 0,
    })
}

/// Jobs the caller may see, newest first (users their own; staff more, as `policy` says).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    p: ListParams,
) -> Result<JobList, ServiceError> {
    let job_state = p
        .state
        .as_deref()
        .map(str::parse::<JobState>)
        .transpose()
        .map_err(|e| ServiceError::invalid("state", e.to_string(), None))?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=MAX_LIST).contains(&limit) {
        return Err(ServiceError::invalid(
            "limit",
            format!("{limit} is out of range"),
            Some(format!("1 to {MAX_LIST}")),
        ));
    }
    let filter = JobFilter {
        state: job_state,
        owner: p.mine.then_some(caller.user.id),
        project: p.project.filter(|n| !n.is_empty()),
        visible_to: job_visibility(caller),
        before: p.before.map(JobId),
        array: None,
        limit,
    };
    let rows = state.store.list(&filter).await?;
    let fake = state.host.gpus_fake();
    let next_before = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.id.0))
        .flatten();
    Ok(JobList {
        jobs: rows
            .iter()
            .map(|r| crate::service::views::job_view(r, fake))
            .collect(),
        next_before,
    })
}

/// A job the caller may see, or 404 (never 403: another's job does not exist for them).
pub(crate) async fn visible_job(
    state: &AppState,
    caller: &Caller,
    id: JobId,
    access: Access,
) -> Result<JobRow, ServiceError> {
    let row = state.store.job(id).await.or_404(|| format!("job {id}"))?;
    let resource = Resource::Job {
        owner: row.owner,
        project: row.project,
        org: row.org,
    };
    authorize_as(caller, access, resource, || format!("job {id}"))?;
    Ok(row)
}

/// The job a user's name for it means: `N` is job (or array) N; `N_T` is
/// task T of array N: its own record once it has started, else the array,
/// with the task (which waits with it). 404 for an array the caller may not
/// see, or that has no such task.
pub async fn resolve(
    state: &AppState,
    caller: &Caller,
    r: JobRef,
) -> Result<(JobId, Option<u32>), ServiceError> {
    let Some(task) = r.task else {
        return Ok((r.id, None));
    };
    if let Some(id) = state.store.array_task(r.id, task).await? {
        return Ok((id, None));
    }
    let row = visible_job(state, caller, r.id, Access::Read).await?;
    let waits = row.array_job_id == Some(r.id)
        && row.array_task_id.is_none()
        && row
            .array_waiting
            .as_deref()
            .and_then(|w| {
                aisc_model::array::Tasks::parse(w, aisc_model::array::HARD_MAX_ARRAY_SIZE).ok()
            })
            .is_some_and(|w| w.contains(task));
    if waits {
        Ok((r.id, Some(task)))
    } else {
        Err(ServiceError::NotFound(format!("job {r}")))
    }
}

/// Whether the caller may read the job's content (`None`: metadata only);
/// a read by the centre's staff from outside the tenant is audited.
pub(crate) async fn content_reader(
    state: &AppState,
    caller: &Caller,
    row: &JobRow,
    what: &str,
) -> Result<Option<policy::ContentReader>, ServiceError> {
    let resource = Resource::Job {
        owner: row.owner,
        project: row.project,
        org: row.org,
    };
    let id = row.id;
    match policy::read_content(caller, resource, state.auditors_read_content, || {
        format!("job {id}")
    }) {
        Ok(policy::ContentReader::Centre) => {
            let audit = caller.audit(
                "job.read_content",
                format!("job:{id}"),
                format!("read {what} of job {id} (owner {})", row.owner_name),
            );
            state.store.record_audit(audit).await?;
            Ok(Some(policy::ContentReader::Centre))
        }
        Ok(r) => Ok(Some(r)),
        Err(ServiceError::Forbidden(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One job, with its content where the caller may read it.
pub async fn show(state: &AppState, caller: &Caller, id: JobId) -> Result<JobDetail, ServiceError> {
    let row = visible_job(state, caller, id, Access::Read).await?;
    let events = state.store.events(id).await?;
    let runs = if row.restarts > 0 {
        state.store.job_runs(id).await?
    } else {
        Vec::new()
    };
    let content =
        content_reader(state, caller, &row, "its command, script and environment").await?;
    let spec = row.spec.as_ref().filter(|_| content.is_some());
    let (command, script, workdir, env_names) = match spec {
        Some(spec) => {
            let (command, script) = match &spec.command {
                JobCommand::Argv(a) => (Some(a.clone()), None),
                JobCommand::Script(s) => (None, Some(s.clone())),
            };
            (
                command,
                script,
                Some(spec.workdir.clone()),
                spec.env.keys().cloned().collect(),
            )
        }
        None => (None, None, None, Vec::new()),
    };
    Ok(JobDetail {
        job: crate::service::views::job_view(&row, state.host.gpus_fake()),
        command,
        script,
        workdir,
        output_path: row.stdout_path.clone().filter(|_| content.is_some()),
        error_path: row.stderr_path.clone().filter(|_| content.is_some()),
        env_names,
        args: spec.map(|s| s.args.clone()).unwrap_or_default(),
        partition: spec.and_then(|s| s.partition.clone()),
        comment: spec.and_then(|s| s.comment.clone()),
        exclusive: row.spec.as_ref().is_some_and(|s| s.exclusive),
        interactive: row.spec.as_ref().and_then(|s| s.interactive),
        mail_type: spec.and_then(|s| s.mail.as_ref()?.types.clone()),
        mail_user: spec.and_then(|s| s.mail.as_ref()?.user.clone()),
        begin_at: row
            .spec
            .as_ref()
            .and_then(|s| s.begin_ms)
            .map(crate::service::views::rfc3339),
        events: events
            .iter()
            .map(crate::service::views::event_view)
            .collect(),
        runs: runs.iter().map(crate::service::views::run_view).collect(),
    })
}

/// A chunk of a job's log (a read by the centre's staff is audited).
pub async fn log(
    state: &AppState,
    caller: &Caller,
    id: JobId,
    p: LogParams,
) -> Result<LogChunk, ServiceError> {
    let row = visible_job(state, caller, id, Access::Read).await?;
    let resource = Resource::Job {
        owner: row.owner,
        project: row.project,
        org: row.org,
    };
    let reader = policy::read_content(caller, resource, state.auditors_read_content, || {
        format!("job {id}")
    })?;
    if reader == policy::ContentReader::Centre && p.offset.unwrap_or(0) == 0 {
        // Following a log reads it in pieces: its first piece stands for the read.
        let audit = caller.audit(
            "job.read_logs",
            format!("job:{id}"),
            format!("read the logs of job {id} (owner {})", row.owner_name),
        );
        state.store.record_audit(audit).await?;
    }
    if row.spec.is_none() {
        return Err(ServiceError::Gone(format!(
            "job {id}'s logs were destroyed with its project's data key (the project was closed)"
        )));
    }
    // Standard error merged into standard output is the output stream.
    let merged = row.stderr_path == row.stdout_path;
    let (stream, path) = match p.stream.as_deref().unwrap_or("output") {
        "output" | "stdout" => ("output", row.stdout_path.clone()),
        "error" | "stderr" if merged => ("output", row.stderr_path.clone()),
        "error" | "stderr" => ("error", row.stderr_path.clone()),
        other => {
            return Err(ServiceError::invalid(
                "stream",
                format!("{other:?} is not a log stream"),
                Some("output or error".into()),
            ));
        }
    };
    let offset = p.offset.unwrap_or(0);
    let limit = p.limit.unwrap_or(MAX_LOG_CHUNK);
    if !(1..=MAX_LOG_CHUNK).contains(&limit) {
        return Err(ServiceError::invalid(
            "limit",
            format!("{limit} is out of range"),
            Some(format!("1 to {MAX_LOG_CHUNK}")),
        ));
    }
    let (bytes, size) = match path {
        Some(path) => {
            let job_dir = crate::control::Controller::job_dir(&state.data_dir, id);
            crate::sealed::read_log(&state.store, id, &job_dir, stream, &path, offset, limit)
                .await?
        }
        None => (Vec::new(), 0),
    };
    let next = offset + bytes.len() as u64;
    let complete = row.state.is_terminal() && next >= size;
    Ok(LogChunk {
        bytes,
        next,
        state: row.state,
        complete,
    })
}

/// Hands a command to the control loop (unavailable while the server shuts down).
pub(crate) async fn send(state: &AppState, cmd: Command) -> Result<(), ServiceError> {
    state.control.send(cmd).await.map_err(|_| stopping())
}
