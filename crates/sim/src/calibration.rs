//! Calibration against the Muri paper's simulator rows (SIGCOMM '22, figures
//! 9 and 10): SRTF, SRSF and Tiresias on `trace1`..`trace4` (and the `_pr`
//! variants, all submitted at once) on 8 nodes × 8 GPUs, replayed here with
//! `--compat muri` and every job measured.

use crate::cluster::ClusterSpec;
use crate::metrics::Measure;
use crate::trace::{Format, ReadOptions};
use crate::workload::WorkloadOptions;
use crate::{PolicyName, SimConfig, TraceInfo};
use serde::Serialize;
use std::path::Path;

/// Average JCT, makespan and p99 JCT, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figures {
    /// Mean job completion time.
    pub avg_jct_s: f64,
    /// First arrival to last end.
    pub makespan_s: f64,
    /// 99th percentile JCT.
    pub p99_jct_s: f64,
}

/// One published row beside ours.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `trace1`, `trace1_pr`, ...
    pub trace: String,
    /// SRTF, SRSF or Tiresias.
    pub policy: String,
    /// The paper's.
    pub theirs: Figures,
    /// Ours.
    pub ours: Figures,
}

impl Row {
    /// Relative errors of (avg JCT, makespan, p99 JCT).
    pub fn errors(&self) -> [f64; 3] {
        let e = |a: f64, b: f64| (a - b).abs() / b;
        [
            e(self.ours.avg_jct_s, self.theirs.avg_jct_s),
            e(self.ours.makespan_s, self.theirs.makespan_s),
            e(self.ours.p99_jct_s, self.theirs.p99_jct_s),
        ]
    }
}

/// The simulator's settings for a row: the Muri cluster, the policy, Muri's accounting.
pub fn config(policy: PolicyName) -> SimConfig {
    SimConfig {
        policies: vec![policy],
        sched_policy: aisc_sched::Policy::default(),
        cluster: ClusterSpec {
            pools: vec![crate::cluster::Pool {
                class: None,
                nodes: 8,
                gpus_per_node: 8,
            }],
            groups: 1,
        },
        workload: WorkloadOptions {
            muri_overheads: true,
            ..WorkloadOptions::default()
        },
        seed: 1,
        seeds: 1,
        measure: Measure::All,
        limit_factor: 1.0,
        restart_cost: 0.0,
        compat_muri: true,
        las_thresholds: crate::compat::MURI_LAS_THRESHOLDS.to_vec(),
        budget: None,
    }
}

/// Replays every SRTF, SRSF and Tiresias row of `published` (the paper's CSV)
/// with the traces in `traces_dir`.
pub fn muri_rows(published: &Path, traces_dir: &Path) -> Result<Vec<Row>, String> {
    let text =
        std::fs::read_to_string(published).map_err(|e| format!("{}: {e}", published.display()))?;
    let mut rows = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("trace,"))
    {
        let f: Vec<&str> = line.split(',').collect();
        let [trace, policy, avg, makespan, p99] = f[..] else {
            continue;
        };
        let name = match policy {
            "SRTF" => PolicyName::Srtf,
            "SRSF" => PolicyName::Srsf,
            "Tiresias" => PolicyName::Tiresias,
            _ => continue,
        };
        let num = |s: &str| s.parse::<f64>().map_err(|e| format!("{line}: {e}"));
        let theirs = Figures {
            avg_jct_s: num(avg)?,
            makespan_s: num(makespan)?,
            p99_jct_s: num(p99)?,
        };
        let path = traces_dir.join(format!("{trace}.csv"));
        let t = crate::trace::read(
            &path,
            Format::Muri,
            ReadOptions {
                muri_run_time: true,
                ..ReadOptions::default()
            },
        )
        .map_err(|e| e.to_string())?;
        let info = TraceInfo::new(
            &t,
            &path.display().to_string(),
            Format::Muri,
            Default::default(),
        );
        let report = crate::simulate(&t, info, &config(name), &mut |_, _| {})?;
        let s = &report.runs[0].summary;
        rows.push(Row {
            trace: trace.to_string(),
            policy: policy.to_string(),
            theirs,
            ours: Figures {
                avg_jct_s: s.avg_jct_s,
                makespan_s: s.makespan_s,
                p99_jct_s: s.p99_jct_s,
            },
        });
    }
    Ok(rows)
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| trace | policy | avg JCT (paper) | avg JCT (aisc) | err | makespan (paper) | makespan (aisc) | err | p99 JCT (paper) | p99 JCT (aisc) | err |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let e = r.errors();
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {:.2}% | {:.0} | {:.0} | {:.2}% | {:.0} | {:.0} | {:.2}% |\n",
            r.trace,
            r.policy,
            r.theirs.avg_jct_s,
            r.ours.avg_jct_s,
            e[0] * 100.0,
            r.theirs.makespan_s,
            r.ours.makespan_s,
            e[1] * 100.0,
            r.theirs.p99_jct_s,
            r.ours.p99_jct_s,
            e[2] * 100.0,
        ));
    }
    out
}
