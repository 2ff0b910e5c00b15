//! Jobs: submit, list, show, read logs, cancel, release. Each decides
//! whether the caller may (through `policy`), then does it.

use super::{Found, ServiceError, stopping};
use crate::AppState;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::control::{CancelOutcome, Command, Queued};
use crate::policy::{self, Access, Resource, authorize, authorize_as, job_visibility};
use crate::service::views::{ActionResult, JobDetail, JobList, Submitted};
use aisc_api::jobs::{ListParams, LogParams};
use aisc_billing::money::{BasisPoints, Cents};
use aisc_billing::rating::{Price, QosTerms};
use aisc_model::array::JobRef;
use aisc_model::{JobCommand, JobId, JobRequest, JobSpec, JobState};
use aisc_store::{Charging, JobFilter, JobRow, NewJob};
use tokio::sync::oneshot;

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

/// Refuses a working directory, output or error path that no job may use
/// (see `aisc_model::job_paths`), naming the field and the limit.
fn check_paths(state: &AppState, spec: &JobSpec, user: &str) -> Result<(), ServiceError> {
    let expand = |p: &String| crate::control::expand_pattern(p, JobId(1), &spec.name, user);
    let files: Vec<(&'static str, String)> = [("output", &spec.output), ("error", &spec.error)]
        .into_iter()
        .filter_map(|(f, p)| p.as_ref().map(|p| (f, expand(p))))
        .collect();
    let files: Vec<(&'static str, &std::path::Path)> = files
        .iter()
        .map(|(f, p)| (*f, std::path::Path::new(p.as_str())))
        .collect();
    aisc_model::job_paths::check(
        std::path::Path::new(&spec.workdir),
        &files,
        &state.confinement.roots,
        &state.confinement.hidden,
    )
    .map_err(|r| ServiceError::invalid(r.field, r.detail, Some(r.limit)))
}

/// Refuses what one host cannot do: several nodes, or node features (its
/// tasks run there as `srun` steps of the job's own `srun`).
fn one_host(spec: &JobSpec) -> Result<(), ServiceError> {
    if let Some(c) = &spec.constraint {
        return Err(ServiceError::invalid(
            "constraint",
            format!(
                "--constraint={c}: this host declares no node features (local engine); choose a GPU model with --gpus=TYPE:N, or use the Slurm engine, which passes -C to Slurm"
            ),
            None,
        ));
    }
    let g = &spec.geometry;
    if g.nodes_max > 1 {
        return Err(ServiceError::invalid(
            "nodes",
            format!(
                "--nodes={}: this centre runs jobs on one host (local engine); use the Slurm engine for multi-node jobs",
                g.nodes_text()
            ),
            Some("1".into()),
        ));
    }
    Ok(())
}

/// `-w/--nodelist` and `-x/--exclude`, as Slurm reads them: on this host's
/// one node, a job may name that node (and must not exclude it, nor name a
/// node there is not); slurmrestd 22.05 takes no node list in a submission,
/// so on Slurm both are refused rather than lost.
fn named_nodes(state: &AppState, spec: &JobSpec) -> Result<(), ServiceError> {
    for (field, flag, names) in [
        ("nodelist", "--nodelist", &spec.nodelist),
        ("exclude", "--exclude", &spec.exclude),
    ] {
        if names.is_empty() {
            continue;
        }
        let list = names.join(",");
        if state.slurm_cluster.is_some() {
            return Err(ServiceError::invalid(
                field,
                format!(
                    "{flag}={list}: slurmrestd (Slurm 22.05) takes no node list in a submission, so Slurm could not be told; ask for the nodes' feature with -C instead"
                ),
                None,
            ));
        }
        let me = &state.node.name;
        if let Some(other) = names.iter().find(|n| *n != me) {
            return Err(ServiceError::invalid(
                field,
                format!(
                    "{flag}={list}: there is no node {other} here (this host's one node is {me})"
                ),
                Some(me.clone()),
            ));
        }
        if field == "exclude" {
            return Err(ServiceError::invalid(
                field,
                format!(
                    "{flag}={list}: it excludes {me}, this host's one node, so it could never run"
                ),
                None,
            ));
        }
    }
    Ok(())
}

/// An exclusive job (`--exclusive`) holds whole nodes: all of each node's
/// GPUs, CPUs and memory (a node as `check_fits` counts it, which the job
/// asked no more of), so that no other job shares them and its lien and
/// charge are for what it keeps from others.
fn whole_nodes(state: &AppState, spec: &mut JobSpec) {
    let cap = &state.node.capacity;
    let n = spec.geometry.nodes_max.max(1);
    spec.resources = aisc_model::Resources {
        gpus: cap.gpus.saturating_mul(n),
        cpus: cap.cpus.saturating_mul(n),
        mem_mb: cap.mem_mb.saturating_mul(u64::from(n)),
    };
    if cap.gpus > 0 {
        spec.geometry.gpus_per = aisc_model::request::GpusPer::Node;
    }
}

/// Refuses a job that could never run on this host (on Slurm: a node of
/// the cluster), counting what it asks of each of its nodes.
fn check_fits(state: &AppState, spec: &JobSpec) -> Result<(), ServiceError> {
    let cap = &state.node.capacity;
    let per = spec.geometry.nodes_max.max(1);
    let r = &aisc_model::Resources {
        gpus: spec.resources.gpus.div_ceil(per),
        cpus: spec.resources.cpus.div_ceil(per),
        mem_mb: spec.resources.mem_mb.div_ceil(u64::from(per)),
    };
    if r.gpus > cap.gpus {
        let what = if cap.gpus == 0 {
            format!("this host has no GPUs ({})", state.host.gpu_source)
        } else {
            format!("this host has {}", cap.gpus)
        };
        return Err(ServiceError::invalid(
            "gpus",
            format!("{} GPUs requested but {what}", r.gpus),
            Some(cap.gpus.to_string()),
        ));
    }
    if let Some(want) = &spec.gpu_type
        && r.gpus > 0
        && !state
            .node
            .gpu_type
            .as_deref()
            .is_some_and(|have| have.eq_ignore_ascii_case(want))
    {
        let have = state.node.gpu_type.clone().unwrap_or_else(|| "none".into());
        return Err(ServiceError::invalid(
            "gpus",
            format!("no {want} GPUs here: this host's GPUs are {have}"),
            Some(have),
        ));
    }
    if r.cpus > cap.cpus {
        return Err(ServiceError::invalid(
            "cpus",
            format!("{} CPUs requested but this host has {}", r.cpus, cap.cpus),
            Some(cap.cpus.to_string()),
        ));
    }
    if r.mem_mb > cap.mem_mb {
        return Err(ServiceError::invalid(
            "mem",
            format!(
                "{} MiB requested but this host has {} MiB",
                r.mem_mb, cap.mem_mb
            ),
            Some(format!("{}M", cap.mem_mb)),
        ));
    }
    Ok(())
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

/// Cancels a job: a pending one at once, a running one stopped by the
/// engine. An array's id cancels the whole array (its waiting tasks and
/// every task that runs); `N_T` one task of it.
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    r: JobRef,
) -> Result<ActionResult, ServiceError> {
    let (id, task) = resolve(state, caller, r).await?;
    let row = visible_job(state, caller, id, Access::Act).await?;
    let whole_array = r.task.is_none() && row.array_job_id == Some(id);
    let mut outcome = if row.state.is_terminal() {
        None
    } else {
        Some(cancel_one(state, caller, id, task).await?)
    };
    if whole_array {
        // Its tasks of their own, found after the array stopped splitting them off.
        let filter = aisc_store::JobFilter {
            array: Some(id),
            limit: u32::MAX,
            ..Default::default()
        };
        for t in state.store.list(&filter).await? {
            if t.id != id && !t.state.is_terminal() {
                let o = cancel_one(state, caller, t.id, None).await?;
                outcome = outcome.or(Some(o));
            }
        }
    }
    let result = match outcome {
        None => {
            return Err(ServiceError::Conflict(format!(
                "job {r} has already ended ({})",
                row.state
            )));
        }
        Some(o) => o,
    };
    let result = match result {
        CancelOutcome::Cancelled => "cancelled",
        CancelOutcome::Signalled => "signalled: it will end as cancelled",
        CancelOutcome::AlreadyStopping => "already stopping",
        CancelOutcome::NotActive => {
            return Err(ServiceError::Conflict(format!("job {r} has already ended")));
        }
    };
    Ok(ActionResult {
        id: id.0,
        result: result.into(),
    })
}

/// Asks the control loop to cancel one job, or a task waiting with its array.
async fn cancel_one(
    state: &AppState,
    caller: &Caller,
    id: JobId,
    task: Option<u32>,
) -> Result<CancelOutcome, ServiceError> {
    let (reply, rx) = oneshot::channel();
    let target = match task {
        Some(t) => format!("job:{id}_{t}"),
        None => format!("job:{id}"),
    };
    send(
        state,
        Command::Cancel {
            id,
            task,
            by: caller.user.name.clone(),
            audit: caller.audit("job.cancel", target, "cancel requested".into()),
            reply,
        },
    )
    .await?;
    Ok(rx.await.map_err(|_| stopping())??)
}

/// Changes a waiting job (`aisc update`): its time limit (a user may lower
/// it, not raise it; administrators may), name or QOS, each checked as at
/// submission. The job is priced again (its lien at today's list price and
/// the new limit and QOS), and a QOS its grant does not allow is refused.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    r: JobRef,
    changes: aisc_model::request::JobChanges,
) -> Result<ActionResult, ServiceError> {
    let (id, _) = resolve(state, caller, r).await?;
    let row = visible_job(state, caller, id, Access::Act).await?;
    if row.state != JobState::Pending {
        return Err(ServiceError::Conflict(format!(
            "job {r} is {}: only a waiting job is changed",
            row.state
        )));
    }
    let Some(before) = row.spec.clone() else {
        return Err(ServiceError::Conflict(format!(
            "job {r}'s content was erased with its project's key"
        )));
    };
    let spec = changes.apply(&before)?;
    let privileged = policy::may_override_qos(caller);
    if spec.time_limit_s > before.time_limit_s && !privileged {
        return Err(ServiceError::invalid(
            "time",
            format!(
                "{} is longer than the job's limit, {}: you may lower a time limit, not raise it (an administrator may)",
                aisc_model::units::format_duration(spec.time_limit_s),
                aisc_model::units::format_duration(before.time_limit_s)
            ),
            Some(format!(
                "at most {}",
                aisc_model::units::format_duration(before.time_limit_s)
            )),
        ));
    }
    let charging = match (row.project, row.charging, &row.account) {
        (Some(project), Some(c), Some(name)) => {
            let again = charge_to(state, project, name, Some(c.grant), &spec, privileged).await?;
            // A requeued job's next run keeps its number.
            Some(Charging {
                run: c.run,
                ..again
            })
        }
        _ => row.charging,
    };
    let mut said = Vec::new();
    if spec.time_limit_s != before.time_limit_s {
        said.push(format!(
            "time limit {}",
            aisc_model::units::format_duration(spec.time_limit_s)
        ));
    }
    if spec.name != before.name {
        said.push(format!("name {:?}", spec.name));
    }
    if spec.qos != before.qos {
        said.push(format!("QOS {}", spec.qos));
    }
    let said = if said.is_empty() {
        "unchanged".to_string()
    } else {
        format!("updated: {}", said.join(", "))
    };
    let audit = caller.audit("job.update", format!("job:{id}"), said.clone());
    let update = aisc_store::JobUpdate {
        id,
        project: row.project,
        spec,
        charging,
        at_ms: now_ms(),
    };
    let (reply, rx) = oneshot::channel();
    send(
        state,
        Command::Update {
            update: Box::new(update),
            audit,
            reply,
        },
    )
    .await?;
    rx.await.map_err(|_| stopping())??;
    Ok(ActionResult {
        id: id.0,
        result: said,
    })
}

/// Ends a running job's run and queues it again with its id, as `scontrol
/// requeue` does (the job's own people, administrators): it gets SIGTERM
/// (SIGKILL after the grace), its run is settled on its own, and it waits
/// again; its next run appends to the same output files.
pub async fn requeue(
    state: &AppState,
    caller: &Caller,
    r: JobRef,
) -> Result<ActionResult, ServiceError> {
    let (id, task) = resolve(state, caller, r).await?;
    let row = visible_job(state, caller, id, Access::Act).await?;
    if task.is_some() || row.state == JobState::Pending {
        return Err(ServiceError::Conflict(format!(
            "job {r} waits: it has no run to end (requeue ends a running job's run and queues it again)"
        )));
    }
    if row.state.is_terminal() {
        return Err(ServiceError::Conflict(format!(
            "job {r} has ended ({}): submit it again to run it again",
            row.state
        )));
    }
    let (reply, rx) = oneshot::channel();
    send(
        state,
        Command::Requeue {
            id,
            by: caller.user.name.clone(),
            audit: caller.audit(
                "job.requeue",
                format!("job:{id}"),
                "requeue requested".into(),
            ),
            reply,
        },
    )
    .await?;
    rx.await.map_err(|_| stopping())??;
    Ok(ActionResult {
        id: id.0,
        result: format!(
            "requeued: its run is being stopped, then it waits again as job {}",
            row.label()
        ),
    })
}

/// Releases a held job.
pub async fn release(
    state: &AppState,
    caller: &Caller,
    id: JobId,
) -> Result<ActionResult, ServiceError> {
    set_held(state, caller, id, false).await
}

/// Holds a pending job until it is released (its owner, those who manage its project, administrators).
pub async fn hold(
    state: &AppState,
    caller: &Caller,
    id: JobId,
) -> Result<ActionResult, ServiceError> {
    set_held(state, caller, id, true).await
}

async fn set_held(
    state: &AppState,
    caller: &Caller,
    id: JobId,
    held: bool,
) -> Result<ActionResult, ServiceError> {
    visible_job(state, caller, id, Access::Act).await?;
    let (reply, rx) = oneshot::channel();
    let (action, summary, result) = if held {
        ("job.hold", "held", "held")
    } else {
        ("job.release", "released from hold", "released")
    };
    let audit = caller.audit(action, format!("job:{id}"), summary.into());
    let cmd = Command::SetHeld {
        id,
        held,
        audit,
        reply,
    };
    send(state, cmd).await?;
    rx.await.map_err(|_| stopping())??;
    Ok(ActionResult {
        id: id.0,
        result: result.into(),
    })
}

/// Hands a command to the control loop (unavailable while the server shuts down).
pub(crate) async fn send(state: &AppState, cmd: Command) -> Result<(), ServiceError> {
    state.control.send(cmd).await.map_err(|_| stopping())
}
