//! Monthly statements: every charge of a project's jobs settled in a month,
//! from the ledger, with totals that match it to the cent.

use crate::AppState;
use crate::api::extract::Query;
use crate::api::types::rfc3339;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::service::statements as service;
pub use aisc_api::statements::{Statement, StatementLineView, StatementParams};
use aisc_billing::money::Cents;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// A project's statement for a month (its PI, its organisation's administrators, auditors).
#[utoipa::path(get, path = "/api/v1/projects/{project}/statement", params(("project" = String, Path, description = "Project"), StatementParams),
    tag = "grants",
    responses((status = 200, body = Statement), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn statement(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Query(p): Query<StatementParams>,
) -> Result<Response, ApiError> {
    let csv = match p.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("{other:?} is not a format"),
                Some("json or csv".into()),
            ));
        }
    };
    let data = service::statement(&state, &caller, &project, &p.month).await?;
    if csv {
        let mut res = to_csv(&data).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        return Ok(res);
    }
    Ok(Json(to_view(data)).into_response())
}

/// A statement as CSV, a line per charge and a total.
pub(crate) fn to_csv(data: &service::StatementData) -> String {
    let mut out = String::from(
        "job,name,grant,charged_at,gpu_seconds,price_per_gpu_hour_hkd,charge_hkd,subsidy_hkd,tenant_hkd\n",
    );
    let hkd = |c: i64| {
        let sign = if c < 0 { "-" } else { "" };
        format!("{sign}{}.{:02}", (c / 100).abs(), (c % 100).abs())
    };
    for l in &data.lines {
        let name = l.name.replace('"', "\"\"");
        out.push_str(&format!(
            "{},\"{name}\",{},{},{:.3},{},{},{},{}\n",
            l.job,
            l.grant,
            rfc3339(l.at_ms),
            l.gpu_ms as f64 / 1000.0,
            hkd(l.price_cents),
            hkd(l.charge),
            hkd(l.subsidy),
            hkd(l.tenant)
        ));
    }
    let totals = data.totals;
    out.push_str(&format!(
        "total,,,,{:.3},,{},{},{}\n",
        data.gpu_ms as f64 / 1000.0,
        hkd(totals[0]),
        hkd(totals[1]),
        hkd(totals[2])
    ));
    out
}

/// A statement as the API's JSON answers it.
pub(crate) fn to_view(data: service::StatementData) -> Statement {
    let totals = data.totals;
    Statement {
        project: data.project,
        month: data.month,
        lines: data
            .lines
            .iter()
            .map(|l| StatementLineView {
                job: l.job,
                run: l.run,
                name: l.name.clone(),
                grant: l.grant,
                charged_at: rfc3339(l.at_ms),
                gpu_seconds: l.gpu_ms as f64 / 1000.0,
                price_per_gpu_hour: Cents(l.price_cents).to_string(),
                charge: Cents(l.charge).to_string(),
                subsidy: Cents(l.subsidy).to_string(),
                tenant: Cents(l.tenant).to_string(),
            })
            .collect(),
        gpu_seconds: data.gpu_ms as f64 / 1000.0,
        charge: Cents(totals[0]).to_string(),
        subsidy: Cents(totals[1]).to_string(),
        tenant: Cents(totals[2]).to_string(),
        cents: totals,
    }
}
