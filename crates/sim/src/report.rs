//! What a simulation writes: `report.json` (everything), `jobs.csv` (one row
//! per job and policy), SVG charts (queue length and GPU utilisation over
//! time, JCT and queueing-delay CDFs, per-tenant slowdown), and the summary
//! table the command prints.

use crate::engine::Phase;
use crate::metrics::{bounded_slowdown, measured};
use crate::{PolicyRun, Report};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Writes every file into `dir` (created if absent); returns their paths.
pub fn write_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("--out {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    let path = dir.join("report.json");
    let json = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
    std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    written.push(path);
    let path = dir.join("jobs.csv");
    write_jobs(report, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    written.push(path);
    for (name, draw) in CHARTS {
        let path = dir.join(name);
        let mut svg = String::new();
        draw(report, &mut svg).map_err(|e| format!("{name}: {e}"))?;
        std::fs::write(&path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

fn write_jobs(report: &Report, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = csv::Writer::from_path(path)?;
    out.write_record([
        "policy",
        "job",
        "name",
        "tenant",
        "gpus",
        "submit_s",
        "start_s",
        "end_s",
        "run_s",
        "wait_s",
        "jct_s",
        "bounded_slowdown",
        "preemptions",
        "measured",
    ])?;
    for run in &report.runs {
        let Some((w, o)) = &run.first else { continue };
        let take = measured(w, report.measure);
        for (i, (j, s)) in w.jobs.iter().zip(&o.state).enumerate() {
            let done = s.phase == Phase::Done;
            let num = |v: f64| {
                if v.is_nan() {
                    String::new()
                } else {
                    format!("{v:.3}")
                }
            };
            let jct = if done { s.end - j.submit } else { f64::NAN };
            out.write_record([
                run.policy.to_string(),
                i.to_string(),
                j.name.clone(),
                w.tenants[j.tenant as usize].clone(),
                j.gpus.to_string(),
                num(j.submit),
                num(s.first_start),
                num(if done { s.end } else { f64::NAN }),
                num(j.duration),
                num(s.first_start - j.submit),
                num(jct),
                num(if done {
                    bounded_slowdown(jct, j.duration)
                } else {
                    f64::NAN
                }),
                s.preemptions.to_string(),
                take[i].to_string(),
            ])?;
        }
    }
    out.flush()?;
    Ok(())
}

type Draw = fn(&Report, &mut String) -> Result<(), Box<dyn std::error::Error>>;

const CHARTS: [(&str, Draw); 5] = [
    ("queue.svg", queue_chart),
    ("utilisation.svg", utilisation_chart),
    ("jct_cdf.svg", jct_cdf),
    ("wait_cdf.svg", wait_cdf),
    ("tenant_slowdown.svg", tenant_chart),
];

const SIZE: (u32, u32) = (900, 480);

fn colour(i: usize) -> RGBColor {
    const C: [RGBColor; 7] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
    ];
    C[i % C.len()]
}

/// At most `n` points of a step series, taken at even times.
fn resample(points: &[(f64, f64)], n: usize) -> Vec<(f64, f64)> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Vec::new();
    };
    if points.len() <= n {
        return points.to_vec();
    }
    let step = (last.0 - first.0) / n as f64;
    let mut out = Vec::with_capacity(n + 1);
    let mut k = 0;
    for i in 0..=n {
        let t = first.0 + step * i as f64;
        while k + 1 < points.len() && points[k + 1].0 <= t {
            k += 1;
        }
        out.push((t, points[k].1));
    }
    out
}

/// A line chart's frame.
struct Axes<'a> {
    title: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    legend: SeriesLabelPosition,
}

/// One line per (name, points), with a legend.
fn lines(
    svg: &mut String,
    axes: &Axes,
    series: Vec<(String, Vec<(f64, f64)>)>,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(axes.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(axes.x.clone(), axes.y.clone())?;
    chart
        .configure_mesh()
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .draw()?;
    for (i, (name, pts)) in series.into_iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(pts, &c))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c));
    }
    chart
        .configure_series_labels()
        .position(axes.legend.clone())
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn timeline(
    report: &Report,
    svg: &mut String,
    title: &str,
    y_desc: &str,
    value: impl Fn(&crate::engine::Sample) -> f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let series: Vec<(String, Vec<(f64, f64)>)> = report
        .runs
        .iter()
        .filter_map(|r| {
            let (_, o) = r.first.as_ref()?;
            let pts: Vec<(f64, f64)> = o
                .series
                .iter()
                .map(|s| (s.t / 86_400.0, value(s)))
                .collect();
            Some((r.policy.to_string(), resample(&pts, 1_000)))
        })
        .collect();
    let x_max = series
        .iter()
        .flat_map(|s| s.1.last())
        .map(|p| p.0)
        .fold(1e-9, f64::max);
    let y_max = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.1))
        .fold(1e-9, f64::max)
        * 1.05;
    let axes = Axes {
        title,
        x_desc: "simulated days",
        y_desc,
        x: 0.0..x_max,
        y: 0.0..y_max,
        legend: SeriesLabelPosition::UpperRight,
    };
    lines(svg, &axes, series)
}

fn queue_chart(r: &Report, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    timeline(r, svg, "Jobs waiting", "jobs", |s| f64::from(s.waiting))
}

fn utilisation_chart(r: &Report, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let gpus = r.gpus.max(1) as f64;
    timeline(r, svg, "GPU utilisation", "% of GPUs busy", move |s| {
        s.busy as f64 * 100.0 / gpus
    })
}

fn cdf(
    report: &Report,
    svg: &mut String,
    title: &str,
    value: fn(f64, f64, f64) -> f64,
) -> Result<(), Box<dyn std::error::Error>> {
    // x: log10 of hours, from 1 second to the largest value.
    let series: Vec<(String, Vec<(f64, f64)>)> = report
        .runs
        .iter()
        .filter_map(|r| {
            let (w, o) = r.first.as_ref()?;
            let take = measured(w, report.measure);
            let mut v: Vec<f64> = w
                .jobs
                .iter()
                .zip(&o.state)
                .zip(&take)
                .filter(|((_, s), t)| **t && s.phase == Phase::Done)
                .map(|((j, s), _)| value(j.submit, s.first_start, s.end))
                .map(|secs| (secs.max(1.0) / 3600.0).log10())
                .collect();
            v.sort_by(f64::total_cmp);
            let n = v.len().max(1) as f64;
            let step = (v.len() / 1_000).max(1);
            let mut pts: Vec<(f64, f64)> = v
                .iter()
                .enumerate()
                .step_by(step)
                .map(|(i, x)| (*x, (i + 1) as f64 / n))
                .collect();
            if let Some(x) = v.last() {
                pts.push((*x, 1.0));
            }
            Some((r.policy.to_string(), pts))
        })
        .collect();
    let lo = (1.0f64 / 3600.0).log10();
    let hi = series
        .iter()
        .flat_map(|s| s.1.last())
        .map(|p| p.0)
        .fold(lo + 1.0, f64::max);
    let axes = Axes {
        title,
        x_desc: "hours (log10: -2 is 36 s, 0 is 1 h, 2 is 100 h)",
        y_desc: "fraction of jobs",
        x: lo..hi,
        y: 0.0..1.0,
        legend: SeriesLabelPosition::LowerRight,
    };
    lines(svg, &axes, series)
}

fn jct_cdf(r: &Report, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    cdf(r, svg, "Job completion time (CDF)", |submit, _, end| {
        end - submit
    })
}

fn wait_cdf(r: &Report, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    cdf(r, svg, "Queueing delay (CDF)", |submit, start, _| {
        start - submit
    })
}

fn tenant_chart(r: &Report, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let runs: Vec<&PolicyRun> = r.runs.iter().collect();
    let tenants: Vec<String> = runs
        .first()
        .map(|run| run.tenants.iter().map(|t| t.tenant.clone()).collect())
        .unwrap_or_default();
    let n = tenants.len().max(1);
    let k = runs.len().max(1);
    let y_max = runs
        .iter()
        .flat_map(|run| run.tenants.iter().map(|t| t.avg_slowdown))
        .fold(1.0, f64::max)
        * 1.1;
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Mean bounded slowdown per tenant", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..n as f64, 0f64..y_max)?;
    let names = tenants.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.min(40))
        .x_label_formatter(&move |x| {
            let i = x.floor() as usize;
            names.get(i).cloned().unwrap_or_default()
        })
        .y_desc("bounded slowdown")
        .draw()?;
    let width = 0.8 / k as f64;
    for (p, run) in runs.iter().enumerate() {
        let c = colour(p);
        chart
            .draw_series(run.tenants.iter().enumerate().map(|(i, t)| {
                let x0 = i as f64 + 0.1 + width * p as f64;
                Rectangle::new([(x0, 0.0), (x0 + width, t.avg_slowdown)], c.filled())
            }))?
            .label(run.policy.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 12, y + 4)], c.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn dur(s: f64) -> String {
    if s >= 86_400.0 {
        format!("{:.1}d", s / 86_400.0)
    } else if s >= 3_600.0 {
        format!("{:.1}h", s / 3_600.0)
    } else if s >= 60.0 {
        format!("{:.1}m", s / 60.0)
    } else {
        format!("{s:.0}s")
    }
}

fn hkd(cents: i64) -> String {
    aisc_billing::money::Cents(cents).to_string()
}

/// Rows as columns padded to their widest cell, each line after `indent`.
fn align(rows: &[Vec<String>], indent: &str) -> String {
    let mut out = String::new();
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        let _ = writeln!(out, "{indent}{}", line.join("  ").trim_end());
    }
    out
}

/// The summary table: one row per policy.
pub fn table(report: &Report) -> String {
    let mut rows: Vec<Vec<String>> = vec![
        [
            "POLICY",
            "JOBS",
            "AVG JCT",
            "MEDIAN",
            "P99 JCT",
            "AVG WAIT",
            "P99 WAIT",
            "BSLD",
            "UTIL",
            "MAKESPAN",
            "JAIN",
            "WORST TENANT",
            ">24H",
            "PASS P50",
            "PASS P99",
            "WALL",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for run in &report.runs {
        let s = &run.summary;
        rows.push(vec![
            run.policy.to_string(),
            s.measured.to_string(),
            dur(s.avg_jct_s),
            dur(s.median_jct_s),
            dur(s.p99_jct_s),
            dur(s.avg_wait_s),
            dur(s.p99_wait_s),
            format!("{:.2}", s.avg_bounded_slowdown),
            format!("{:.1}%", s.utilisation * 100.0),
            dur(s.makespan_s),
            format!("{:.3}", s.fairness_jain),
            format!("{} ({:.1})", s.worst_tenant, s.worst_tenant_slowdown),
            s.waiting_over_24h.to_string(),
            format!("{:.0}µs", s.pass_p50_us),
            format!("{:.0}µs", s.pass_p99_us),
            format!("{:.2}s", s.wall_s),
        ]);
    }
    let mut out = align(&rows, "");
    let t = &report.trace;
    let _ = writeln!(
        out,
        "\n{} jobs of {} rows ({} malformed skipped, {} left out); {} GPUs; offered load {:.2}{}; \
         measured: {}; seeds: {:?}",
        t.jobs,
        t.rows,
        t.bad_rows,
        t.left_out.values().sum::<usize>(),
        report.gpus,
        report.offered_load,
        report
            .target_load
            .map(|l| format!(" scaled to {l} (arrival times × {:.3})", report.time_scale))
            .unwrap_or_default(),
        match report.measure {
            crate::metrics::Measure::Central => "central 80 % of arrivals",
            crate::metrics::Measure::All => "all jobs",
        },
        report.seeds
    );
    if report.seeds.len() > 1 && report.settings.sample.is_none() && report.settings.jitter_s == 0.0
    {
        let _ = writeln!(
            out,
            "the seeds replayed the same jobs: a seed changes the run only with --sample or --jitter"
        );
    }
    if t.fractional_rounded_up > 0 {
        let _ = writeln!(
            out,
            "{} jobs on a fraction of a GPU were given a whole GPU (--fractional round-up)",
            t.fractional_rounded_up
        );
    }
    for run in &report.runs {
        let Some(b) = &run.budget else { continue };
        let _ = writeln!(
            out,
            "\nBudget ({}): pool {}, subsidy {:.2}%, from {}",
            run.policy,
            hkd(b.pool_cents),
            f64::from(b.rate_bp) / 100.0,
            b.start
        );
        let mut rows = vec![
            ["MONTH", "JOBS", "CHARGE", "SUBSIDY", "TENANTS PAY"]
                .map(String::from)
                .to_vec(),
        ];
        for m in &b.months {
            rows.push(vec![
                m.month.clone(),
                m.jobs.to_string(),
                hkd(m.charge_cents),
                hkd(m.subsidy_cents),
                hkd(m.tenant_cents),
            ]);
        }
        out.push_str(&align(&rows, "  "));
        match (&b.runs_out, &b.projected_runs_out) {
            (Some(d), _) => {
                let _ = writeln!(out, "  the pool runs out on {d}");
            }
            (None, Some(d)) => {
                let _ = writeln!(
                    out,
                    "  the pool lasts the run ({} left); at the run's mean burn it runs out on {d}",
                    hkd(b.pool_left_cents)
                );
            }
            (None, None) => {
                let _ = writeln!(out, "  nothing was charged");
            }
        }
        let mut rows = vec![
            ["TENANT", "CHARGE", "SUBSIDY", "PAYS"]
                .map(String::from)
                .to_vec(),
        ];
        for t in &b.tenants {
            rows.push(vec![
                t.tenant.clone(),
                hkd(t.charge_cents),
                hkd(t.subsidy_cents),
                hkd(t.tenant_cents),
            ]);
        }
        out.push_str(&align(&rows, "  "));
    }
    out
}
