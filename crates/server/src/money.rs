//! Between the pure ledger (`aisc_billing::ledger`) and its store.

use aisc_billing::ledger::Entry;
use aisc_store::NewEntry;

/// The store's form of a ledger entry: account keys, amounts, and which
/// accounts the store must keep from going below zero.
pub fn to_store(e: &Entry, scheme: Option<i64>, at_ms: i64, memo: String) -> NewEntry {
    NewEntry {
        kind: e.kind.as_str().to_string(),
        scheme,
        grant: e.grant.map(|g| g.0),
        job: e.job.map(|j| j.0),
        at_ms,
        memo,
        postings: e
            .postings
            .iter()
            .map(|p| (p.account.key(), p.amount.0))
            .collect(),
        guarded: e
            .postings
            .iter()
            .filter(|p| p.account.guarded())
            .map(|p| p.account.key())
            .collect(),
        carry: None,
        run: 0,
    }
}

/// How a job's run is named in the ledger's memos: `job 7`, `job 7 (run 1)`
/// once it was requeued.
pub fn job_run(job: aisc_model::JobId, run: u32) -> String {
    if run == 0 {
        format!("job {job}")
    } else {
        format!("job {job} (run {run})")
    }
}
