//! Views of stored rows as the API and the portal show them (the types are `aisc_api`'s).

pub use aisc_api::jobs::{
    ActionResult, EventView, GpuView, JobDetail, JobList, JobView, NodeView, Submitted, WhoAmI,
};
use aisc_billing::money::Cents;
use aisc_model::units::format_duration;
use aisc_store::{JobEvent, JobRow};
use time::OffsetDateTime;

/// Formats epoch milliseconds as RFC 3339 in UTC with exactly three decimals,
/// so that the strings sort as the times do.
pub fn rfc3339(ms: i64) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_default()
}

fn secs(ms: Option<u64>) -> Option<f64> {
    ms.map(|v| v as f64 / 1000.0)
}

/// The view of a stored job.
pub fn job_view(r: &JobRow, gpus_fake: bool) -> JobView {
    JobView {
        id: r.id.0,
        name: r.name.clone(),
        user: r.owner_name.clone(),
        account: r.account.clone(),
        state: r.state.to_string(),
        reason: r.reason.clone(),
        held: r.held,
        gpus: r.resources.gpus,
        gpu_type: r.gpu_type.clone(),
        cpus: r.resources.cpus,
        mem_mb: r.resources.mem_mb,
        time_limit_s: r.time_limit_s,
        time_limit: format_duration(r.time_limit_s),
        qos: r.spec.as_ref().map(|s| s.qos.to_string()),
        submitted_at: rfc3339(r.submit_ms),
        started_at: r.start_ms.map(rfc3339),
        ended_at: r.end_ms.map(rfc3339),
        node: r.node.clone(),
        gpu_ids: r.gpu_ids.clone(),
        gpus_fake: gpus_fake && !r.gpu_ids.is_empty(),
        exit_code: r.exit_code,
        signal: r.signal,
        wall_seconds: secs(r.wall_ms),
        gpu_seconds: secs(r.gpu_ms),
        cpu_seconds: secs(r.cpu_ms),
        grant: r.charging.map(|c| c.grant),
        price_per_gpu_hour: r.charging.map(|c| Cents(c.price_cents).to_string()),
        lien: r.charging.map(|c| Cents(c.lien_cents).to_string()),
        // What the ledger charged (aisc_billing::carry), once settled: every run of a requeued job.
        charge: r
            .charging
            .filter(|_| r.state.is_terminal() || r.restarts > 0)
            .map(|_| Cents(r.charged_cents.unwrap_or(0)).to_string()),
        label: r.label(),
        array_job_id: r.array_job_id.map(|a| a.0),
        array_task_id: r.array_task_id,
        nodes: r.spec.as_ref().map(|s| s.geometry.nodes_text()),
        tasks: r.spec.as_ref().map(|s| s.geometry.tasks),
        restarts: r.restarts,
    }
}

/// The view of an earlier run of a requeued job.
pub fn run_view(r: &aisc_store::JobRun) -> aisc_api::jobs::RunView {
    aisc_api::jobs::RunView {
        run: r.run,
        reason: r.reason.clone(),
        node: r.node.clone(),
        started_at: r.start_ms.map(rfc3339),
        ended_at: r.end_ms.map(rfc3339),
        exit_code: r.exit_code,
        signal: r.signal,
        gpu_seconds: secs(r.gpu_ms),
    }
}

/// The view of a stored event.
pub fn event_view(e: &JobEvent) -> EventView {
    EventView {
        at: rfc3339(e.at_ms),
        from: e.from.map(|s| s.to_string()),
        to: e.to.to_string(),
        reason: e.reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn times_have_fixed_width_and_sort_as_strings() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_100), "1970-01-01T00:00:01.100Z");
        assert!(rfc3339(1_100) < rfc3339(1_150));
        let parsed = OffsetDateTime::parse(&rfc3339(1_764_000_000_123), &Rfc3339).unwrap();
        assert_eq!(parsed.unix_timestamp_nanos(), 1_764_000_000_123_000_000);
    }
}
