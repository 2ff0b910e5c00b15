//! The dashboard: capacity, GPUs busy per class, the queue, utilisation over
//! the last day and month, and each scheme's pool with its burn-down.

use super::{Nav, PortalError, Session, charts, page, svg};
use crate::AppState;
use crate::clock::now_ms;
use crate::control::Command;
use aisc_billing::money::Cents;
use aisc_model::JobState;
use aisc_model::calendar::format_date;
use aisc_store::{JobFilter, busy_gpu_ms};
use axum::extract::State;
use maud::{Markup, html};
use std::collections::HashMap;
use tokio::sync::oneshot;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// `HH:00` (Hong Kong) of an epoch-ms instant.
fn hk_hour(ms: i64) -> String {
    let t = aisc_model::calendar::format_minute(ms);
    format!("{}:00", t.get(11..13).unwrap_or_default())
}

/// Percent of `gpus` busy in each bucket of `width_ms`.
fn percent(busy: &[i64], gpus: u32, width_ms: i64) -> Vec<f64> {
    let cap = f64::from(gpus) * width_ms as f64;
    busy.iter()
        .map(|b| {
            if cap > 0.0 {
                100.0 * *b as f64 / cap
            } else {
                0.0
            }
        })
        .collect()
}

fn utilisation(title: &str, x_desc: &str, labels: Vec<String>, values: &[f64]) -> Markup {
    let mean = if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    };
    html! {
        figure {
            (svg(charts::bars(title, x_desc, "GPUs busy (%)", &labels, values, 100.0)))
            figcaption { (title) ": " (format!("{mean:.1}")) " % of GPU time busy on average." }
            details {
                summary { "Data" }
                table {
                    thead { tr { th scope="col" { (x_desc) } th scope="col" { "GPUs busy (%)" } } }
                    tbody { @for (l, v) in labels.iter().zip(values) { tr { td { (l) } td class="num" { (format!("{v:.1}")) } } } }
                }
            }
        }
    }
}

async fn render(state: &AppState, s: &Session) -> Result<Markup, PortalError> {
    let now = now_ms();
    let caller = s.caller.clone();
    let capacity = crate::service::inventory::get_capacity(state, &caller).await?;
    let classes = crate::service::inventory::list_classes(state, &caller).await?;
    let nodes = crate::service::nodes::list(state).await?;
    let (reply, rx) = oneshot::channel();
    let (waiting, held) = match state.control.send(Command::QueueLength(reply)).await {
        Ok(()) => rx.await.unwrap_or((0, 0)),
        Err(_) => (0, 0),
    };
    // GPUs busy per class: running jobs by the class of the grant they charge.
    let class_of: HashMap<i64, String> = state
        .store
        .grants()
        .await?
        .into_iter()
        .map(|g| (g.id, g.class_name))
        .collect();
    let running = state
        .store
        .list(&JobFilter {
            state: Some(JobState::Running),
            limit: 100_000,
            ..JobFilter::default()
        })
        .await?;
    let mut busy_by_class: HashMap<String, u32> = HashMap::new();
    for j in &running {
        let class = j
            .charging
            .and_then(|c| class_of.get(&c.grant).cloned())
            .unwrap_or_else(|| "(no grant)".into());
        *busy_by_class.entry(class).or_default() += j.resources.gpus;
    }
    let gpus: u32 = nodes.iter().map(|n| n.node.gpus).sum();
    let busy: u32 = nodes.iter().map(|n| n.node.gpus_busy).sum();

    let day_from = now - DAY_MS;
    let month_from = now - 30 * DAY_MS;
    let intervals = state.store.gpu_intervals(month_from, now).await?;
    let hours = percent(&busy_gpu_ms(&intervals, day_from, now, 24), gpus, HOUR_MS);
    let days = percent(&busy_gpu_ms(&intervals, month_from, now, 30), gpus, DAY_MS);
    let hour_labels = (0..24).map(|i| hk_hour(day_from + i * HOUR_MS)).collect();
    let day_labels = (0..30)
        .map(|i| {
            format_date(month_from + i * DAY_MS)
                .get(5..)
                .unwrap_or_default()
                .to_string()
        })
        .collect();

    let scheme_views = crate::service::schemes::list(state, &caller).await?;
    let scheme_rows = state.store.schemes().await?;
    let mut pools = Vec::new();
    for v in scheme_views {
        let Some(row) = scheme_rows.iter().find(|r| r.scheme.name == v.name) else {
            continue;
        };
        let spending = state.store.scheme_spending_by_day(row.id).await?;
        let [funded, committed, _] = v.cents;
        let spent: i64 = spending.iter().map(|(_, c)| c).sum();
        // Burn-down: what is left of the pool after what was spent, day by day since it opened.
        let start = row.created_ms;
        let day = |ms: i64| (ms - start) as f64 / DAY_MS as f64;
        let mut left = funded;
        let mut points = vec![(0.0, funded as f64 / 100.0)];
        for (at, c) in &spending {
            left -= c;
            points.push((day(*at), left as f64 / 100.0));
        }
        points.push((day(now).max(0.0), left as f64 / 100.0));
        let chart = charts::lines(
            &format!("{}: pool remaining", v.name),
            "HK$",
            &[("remaining (HK$)".to_string(), points)],
            &|d| format_date(start + (d * DAY_MS as f64) as i64),
        );
        pools.push((v, funded, committed, spent, chart));
    }

    Ok(page(
        s,
        "Dashboard",
        Nav::Dashboard,
        html! {
            section aria-labelledby="cap" class="cards" {
                h2 id="cap" class="visually-hidden" { "The centre now" }
                div class="card" { span class="big" { (format!("{:.1}", capacity.pflops_bf16)) } " PFLOPS (BF16 peak, " (capacity.gpus) " GPUs in the inventory)" }
                div class="card" { span class="big" { (busy) " / " (gpus) } " GPUs busy now on " (nodes.len()) " node(s)" }
                div class="card" { span class="big" { (waiting) } " jobs queued" @if held > 0 { " (and " (held) " held)" } }
                div class="card" { span class="big" { (running.len()) } " jobs running" }
            }
            section aria-labelledby="classes" {
                h2 id="classes" { "GPUs per resource class" }
                table {
                    thead { tr { th scope="col" { "Class" } th scope="col" { "GPU model" } th scope="col" class="num" { "GPUs (inventory)" } th scope="col" class="num" { "Busy" } th scope="col" class="num" { "Idle" } th scope="col" { "List price / GPU-hour" } } }
                    tbody {
                        @for c in &classes {
                            @let b = busy_by_class.get(&c.name).copied().unwrap_or(0);
                            tr { td { (c.name) } td { (c.gpu_model) } td class="num" { (c.gpus) } td class="num" { (b) } td class="num" { (c.gpus.saturating_sub(u64::from(b))) } td { (c.price_per_gpu_hour.clone().unwrap_or_else(|| "-".into())) } }
                        }
                        @if let Some(b) = busy_by_class.get("(no grant)") { tr { td { "(jobs without a grant)" } td {} td {} td class="num" { (b) } td {} td {} } }
                    }
                }
            }
            section aria-labelledby="util" {
                h2 id="util" { "Utilisation" }
                (utilisation("Last 24 hours", "hour (Hong Kong)", hour_labels, &hours))
                (utilisation("Last 30 days", "day (Hong Kong)", day_labels, &days))
            }
            section aria-labelledby="pools" {
                h2 id="pools" { "Scheme pools" }
                @if pools.is_empty() { p { "No funding schemes yet." } }
                @for (v, funded, committed, spent, chart) in &pools {
                    h3 { (v.title) " (" (v.name) ")" }
                    dl class="figures" {
                        dt { "Funded" } dd { (Cents(*funded)) }
                        dt { "Committed to grants" } dd { (Cents(*committed)) }
                        dt { "Spent" } dd data-field="spent" { (Cents(*spent)) }
                        dt { "Remaining" } dd { (Cents(funded - spent)) }
                        dt { "Not yet committed" } dd { (v.uncommitted) }
                    }
                    figure { (svg(chart.clone())) figcaption { "Burn-down of " (v.name) ": the pool less the subsidy spent, by day." } }
                }
            }
        },
    ))
}

/// `GET /`.
pub async fn show(State(state): State<AppState>, s: Session) -> Result<Markup, PortalError> {
    render(&state, &s).await
}
