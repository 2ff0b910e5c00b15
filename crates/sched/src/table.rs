//! A plan as a readable table: what each GPU holds, then the decisions. Used
//! by the worked examples and by anyone debugging a plan.

use crate::{Plan, Snapshot};
use std::fmt::Write;

/// Renders `snapshot` and its `plan`: one line per node (`.` free, `r12` running
/// job 12, `s12` started by the plan), then starts, claims, preemptions, reservations and reasons.
pub fn render(snapshot: &Snapshot, plan: &Plan) -> String {
    let mut grid: Vec<Vec<String>> = snapshot
        .nodes
        .iter()
        .map(|n| vec![".".to_string(); n.capacity.gpus as usize])
        .collect();
    let mut mark = |p: &crate::Placement, label: String| {
        for a in &p.allocs {
            for g in &a.gpus {
                if let Some(cell) = grid.get_mut(a.node).and_then(|r| r.get_mut(*g as usize)) {
                    *cell = if cell == "." {
                        label.clone()
                    } else {
                        format!("{cell}/{label}")
                    };
                }
            }
        }
    };
    for r in &snapshot.running {
        mark(&r.placement, format!("r{}", r.id));
    }
    for s in &plan.starts {
        mark(&s.placement, format!("s{}", s.id));
    }
    let mut out = String::new();
    for (i, n) in snapshot.nodes.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:<6} g{:<2} {}",
            n.name,
            n.group,
            grid[i]
                .iter()
                .map(|c| format!("{c:>4}"))
                .collect::<String>()
        );
    }
    for s in &plan.starts {
        let _ = writeln!(
            out,
            "start   job {} on {}",
            s.id,
            where_(snapshot, &s.placement)
        );
    }
    for c in &plan.claims {
        let _ = writeln!(
            out,
            "claim   job {} on {} (starts once preempted jobs stop)",
            c.id,
            where_(snapshot, &c.placement)
        );
    }
    for p in &plan.preempt {
        let _ = writeln!(out, "preempt job {} for job {}", p.id, p.for_job);
    }
    for r in &plan.reservations {
        let _ = writeln!(
            out,
            "reserve job {} at t={} on {}",
            r.job,
            r.at,
            where_(snapshot, &r.placement)
        );
    }
    for (id, reason) in &plan.waiting {
        let _ = writeln!(out, "wait    job {id}: {reason}");
    }
    out
}

fn where_(snapshot: &Snapshot, p: &crate::Placement) -> String {
    p.allocs
        .iter()
        .map(|a| {
            let name = snapshot.nodes.get(a.node).map_or("?", |n| n.name.as_str());
            let gpus: Vec<String> = a.gpus.iter().map(u32::to_string).collect();
            format!("{name}[{}]", gpus.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}
