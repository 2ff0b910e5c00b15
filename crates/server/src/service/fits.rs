//! What a job may ask of this centre's nodes, checked at submission: one
//! host's limits on the local engine (one node, no node features), the
//! nodes it names (`-w`, `-x`), whole nodes for `--exclusive`, whether it
//! fits a node at all, and the paths it names.

use super::ServiceError;
use crate::AppState;
use aisc_model::{JobId, JobSpec};

/// Refuses a working directory, output or error path that no job may use
/// (see `aisc_model::job_paths`), naming the field and the limit.
pub(super) fn check_paths(
    state: &AppState,
    spec: &JobSpec,
    user: &str,
) -> Result<(), ServiceError> {
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
pub(super) fn one_host(spec: &JobSpec) -> Result<(), ServiceError> {
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
pub(super) fn named_nodes(state: &AppState, spec: &JobSpec) -> Result<(), ServiceError> {
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
pub(super) fn whole_nodes(state: &AppState, spec: &mut JobSpec) {
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
pub(super) fn check_fits(state: &AppState, spec: &JobSpec) -> Result<(), ServiceError> {
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
