//! Usage read back from Slurm's accounting for jobs that ended, in batches:
//! one `sacct -P -j ID,ID,...` for whatever ended since the last look (the
//! figures slurmdbd recorded: elapsed seconds and allocated TRES). Without
//! `sacct` on this host, each job is read through slurmrestd's
//! `/slurmdb/.../job/{id}` instead. A job slurmdbd has not recorded yet is
//! asked for again; after about 30 s without a record, slurmctld's own
//! figures are used and the job says so.

use super::{CtldJob, Phase, SlurmClient, SlurmEnd, SlurmEvent, ctld_end, phase};
use aisc_model::JobId;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::process::Command;
use tokio::sync::mpsc;

/// A job waiting for its accounting record.
#[derive(Debug)]
pub(crate) struct Ended {
    job: JobId,
    slurm_id: u32,
    end: SlurmEnd,
    since: Instant,
}

impl Ended {
    pub(crate) fn new(job: JobId, j: &CtldJob) -> Self {
        Ended {
            job,
            slurm_id: j.job_id,
            end: ctld_end(j),
            since: Instant::now(),
        }
    }
}

/// How long a job waits for slurmdbd before slurmctld's figures are used.
const PATIENCE: Duration = Duration::from_secs(30);
/// Time between looks while records are missing.
const AGAIN: Duration = Duration::from_millis(250);
/// Job ids per `sacct` call.
const CHUNK: usize = 500;

/// One accounting record: state, elapsed seconds, GPUs, CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    state: String,
    elapsed_s: i64,
    gpus: i64,
    cpus: i64,
}

/// Parses `sacct -n -P -X -o JobIDRaw,State,ElapsedRaw,AllocTRES`.
pub(crate) fn parse_sacct(text: &str) -> HashMap<u32, Record> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').collect();
        let [id, state, elapsed, tres, ..] = f.as_slice() else {
            continue;
        };
        let Ok(id) = id.parse::<u32>() else { continue };
        let tres_of = |key: &str| super::tres(tres, key).unwrap_or(0);
        out.insert(
            id,
            Record {
                // "CANCELLED by 0" → CANCELLED
                state: state.split(' ').next().unwrap_or("").to_string(),
                elapsed_s: elapsed.parse().unwrap_or(0),
                gpus: tres_of("gres/gpu"),
                cpus: tres_of("cpu"),
            },
        );
    }
    out
}

async fn sacct(ids: &[u32]) -> Option<HashMap<u32, Record>> {
    let list = ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let out = Command::new("sacct")
        .args([
            "-n",
            "-P",
            "-X",
            "-o",
            "JobIDRaw,State,ElapsedRaw,AllocTRES",
            "-j",
        ])
        .arg(&list)
        .output()
        .await
        .ok()?;
    if !out.status.success() {
        tracing::warn!(
            error = %String::from_utf8_lossy(&out.stderr).trim(),
            "sacct failed"
        );
        return None;
    }
    Some(parse_sacct(&String::from_utf8_lossy(&out.stdout)))
}

async fn rest(client: &SlurmClient, id: u32) -> Option<Record> {
    let db = client.accounting(id).await.ok()??;
    (db.time.end > 0).then(|| Record {
        state: db.state.current.clone(),
        elapsed_s: db.time.elapsed,
        gpus: db.allocated("gres", Some("gpu")),
        cpus: db.allocated("cpu", None),
    })
}

/// Reads accounting for every job sent on `jobs` and reports each on `events`.
pub(crate) async fn accountant(
    client: SlurmClient,
    mut jobs: mpsc::UnboundedReceiver<Ended>,
    events: mpsc::UnboundedSender<SlurmEvent>,
) {
    let use_sacct = Command::new("sacct")
        .arg("--version")
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if !use_sacct {
        tracing::info!("no sacct here: accounting is read through slurmrestd, one job at a time");
    }
    let mut waiting: Vec<Ended> = Vec::new();
    loop {
        if waiting.is_empty() {
            match jobs.recv().await {
                Some(e) => waiting.push(e),
                None => return,
            }
        }
        while let Ok(e) = jobs.try_recv() {
            waiting.push(e);
        }
        let mut found: HashMap<u32, Record> = HashMap::new();
        if use_sacct {
            let ids: Vec<u32> = waiting.iter().map(|e| e.slurm_id).collect();
            for chunk in ids.chunks(CHUNK) {
                if let Some(r) = sacct(chunk).await {
                    found.extend(r);
                }
            }
        } else {
            for e in &waiting {
                if let Some(r) = rest(&client, e.slurm_id).await {
                    found.insert(e.slurm_id, r);
                }
            }
        }
        let mut still = Vec::new();
        for mut e in waiting.drain(..) {
            match found.get(&e.slurm_id) {
                Some(r) if phase(&r.state) == Phase::Ended => {
                    e.end.elapsed_s = r.elapsed_s;
                    e.end.gpus = r.gpus;
                    e.end.cpus = r.cpus;
                    e.end.accounted = true;
                }
                _ if e.since.elapsed() < PATIENCE => {
                    still.push(e);
                    continue;
                }
                _ => tracing::warn!(
                    slurm_id = e.slurm_id,
                    "no accounting record; using slurmctld's figures"
                ),
            }
            let _ = events.send(SlurmEvent::Ended {
                job: e.job,
                slurm_id: e.slurm_id,
                end: e.end,
            });
        }
        waiting = still;
        if !waiting.is_empty() {
            tokio::time::sleep(AGAIN).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sacct_lines_give_state_elapsed_and_tres() {
        let text = "12|COMPLETED|61|billing=2,cpu=2,gres/gpu=2,mem=1G,node=1\n\
                    13|CANCELLED by 0|5|cpu=1,mem=1G,node=1\n\
                    14|RUNNING|3|cpu=1\n\
                    junk\n";
        let r = parse_sacct(text);
        assert_eq!(
            r[&12],
            Record {
                state: "COMPLETED".into(),
                elapsed_s: 61,
                gpus: 2,
                cpus: 2
            }
        );
        assert_eq!(r[&13].state, "CANCELLED");
        assert_eq!(r[&13].gpus, 0);
        assert_eq!(phase(&r[&14].state), Phase::Running);
        assert_eq!(r.len(), 3);
    }
}
