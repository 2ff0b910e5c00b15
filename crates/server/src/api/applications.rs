//! Applications for compute, their review, the committee's decision, and grants.

use crate::AppState;
use crate::api::extract::{Body, IdPath};
use crate::api::types::rfc3339;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::error::OrNotFound;
use crate::error::{ApiError, Problem};
use crate::policy::{Access, Resource, authorize, authorize_as};
pub use aisc_api::applications::{
    ApplicationRequest, ApplicationView, DecisionRequest, GrantLimitsRequest, GrantView,
    ReviewRequest, ReviewView,
};
use aisc_billing::ledger::{Account, LedgerError, subsidy_of};
use aisc_billing::money::{BasisPoints, Cents};
use aisc_billing::rules;
use aisc_model::review::{format_score, weighted_score};
use aisc_model::scheme::format_percent;
use aisc_model::{GrantId, SchemeId};
use aisc_store::{
    ApplicationRow, Decision, GrantRow, NewApplication, NewGrant, NewReview, Refusal, StoreError,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

/// The most GPU-hours one application may ask for.
pub const MAX_GPU_HOURS: i64 = 100_000_000;
/// The longest justification of one criterion, in characters.
pub const MAX_JUSTIFICATION: usize = 20_000;

/// The most GPUs a cap may name.
pub const MAX_GPU_CAP: i64 = 1_000_000;

async fn visible_application(
    state: &AppState,
    caller: &Caller,
    id: i64,
    access: Access,
) -> Result<ApplicationRow, ApiError> {
    let a = state
        .store
        .application(id)
        .await
        .or_404(|| format!("application {id}"))?;
    authorize_as(
        caller,
        access,
        Resource::Application {
            project_name: &a.project_name,
            project: a.project,
            org: a.org,
        },
        || format!("application {id}"),
    )?;
    Ok(a)
}

async fn application_view(
    state: &AppState,
    a: ApplicationRow,
) -> Result<ApplicationView, ApiError> {
    let reviews = state.store.reviews(a.id).await?;
    let mean = (!reviews.is_empty()).then(|| {
        format_score(reviews.iter().map(|r| r.weighted).sum::<u32>() / reviews.len() as u32)
    });
    Ok(ApplicationView {
        id: a.id,
        project: a.project_name,
        scheme: a.scheme_name,
        class: a.class_name,
        gpu_hours: a.gpu_hours,
        starts_at: rfc3339(a.starts_ms),
        ends_at: rfc3339(a.ends_ms),
        justification: a.justification,
        applicant: a.applicant,
        state: a.state,
        decision: a.decision,
        reviews: reviews
            .into_iter()
            .map(|r| ReviewView {
                reviewer: r.reviewer,
                scores: r.scores,
                weighted: format_score(r.weighted),
                comment: r.comment,
                at: rfc3339(r.at_ms),
            })
            .collect(),
        mean_score: mean,
    })
}

/// Apply to a scheme for GPU-hours of a resource class (the project's PI or organisation administrators).
#[utoipa::path(post, path = "/api/v1/applications", request_body = ApplicationRequest, tag = "grants",
    responses((status = 201, body = ApplicationView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<ApplicationRequest>,
) -> Result<(StatusCode, Json<ApplicationView>), ApiError> {
    let p = state
        .store
        .project(&req.project)
        .await
        .or_404(|| format!("project {}", req.project))?;
    authorize(
        &caller,
        Access::Manage,
        Resource::Project {
            name: &p.name,
            id: p.id,
            org: p.org,
        },
    )?;
    let scheme = state
        .store
        .scheme(&req.scheme)
        .await
        .or_404(|| format!("scheme {}", req.scheme))?;
    let class = state
        .store
        .class(&req.class)
        .await
        .or_404(|| format!("resource class {}", req.class))?;
    let now = now_ms();
    if !scheme.scheme.is_open(now) {
        return Err(ApiError::invalid(
            "scheme",
            format!("scheme {} is not open for applications now", req.scheme),
            Some(rfc3339(scheme.scheme.closes_ms)),
        ));
    }
    let orgs = state.store.orgs().await?;
    let kind = orgs
        .iter()
        .find(|o| o.id == p.org)
        .map(|o| o.kind.clone())
        .unwrap_or_default();
    if !scheme.scheme.eligible.iter().any(|k| k.as_str() == kind) {
        let allowed = scheme
            .scheme
            .eligible
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ApiError::invalid(
            "project",
            format!(
                "a {kind} organisation is not eligible for scheme {}",
                req.scheme
            ),
            Some(allowed),
        ));
    }
    if !(1..=MAX_GPU_HOURS).contains(&req.gpu_hours) {
        return Err(ApiError::invalid(
            "gpu_hours",
            format!("{} is out of range", req.gpu_hours),
            Some(format!("1 to {MAX_GPU_HOURS}")),
        ));
    }
    let starts = aisc_model::calendar::parse_date(&req.starts)
        .map_err(|e| ApiError::invalid("starts", e, None))?;
    let ends = aisc_model::calendar::parse_date(&req.ends)
        .map_err(|e| ApiError::invalid("ends", e, None))?;
    if ends <= starts {
        return Err(ApiError::invalid(
            "ends",
            "the period must end after it starts",
            None,
        ));
    }
    let today = aisc_model::calendar::parse_date(&aisc_model::calendar::format_date(now))
        .map_err(std::io::Error::other)
        .map_err(ApiError::internal)?;
    let earliest = today.max(scheme.scheme.opens_ms);
    if starts < earliest {
        return Err(ApiError::invalid(
            "starts",
            format!(
                "{} is {}",
                req.starts,
                if starts < today {
                    "in the past"
                } else {
                    "before the scheme opens"
                }
            ),
            Some(format!(
                "{} or later",
                aisc_model::calendar::format_date(earliest)
            )),
        ));
    }
    if ends > scheme.scheme.closes_ms {
        return Err(ApiError::invalid(
            "ends",
            format!("{} is after scheme {} closes", req.ends, req.scheme),
            Some(format!(
                "{} or earlier",
                aisc_model::calendar::format_date(scheme.scheme.closes_ms)
            )),
        ));
    }
    for c in &scheme.scheme.criteria {
        match req.justification.get(&c.name) {
            Some(t) if !t.trim().is_empty() && t.chars().count() <= MAX_JUSTIFICATION => {}
            Some(_) => {
                return Err(ApiError::invalid(
                    "justification",
                    format!("{}: 1 to {MAX_JUSTIFICATION} characters", c.name),
                    Some(MAX_JUSTIFICATION.to_string()),
                ));
            }
            None => {
                return Err(ApiError::invalid(
                    "justification",
                    format!("no justification for criterion {}", c.name),
                    None,
                ));
            }
        }
    }
    if let Some(extra) = req
        .justification
        .keys()
        .find(|k| !scheme.scheme.criteria.iter().any(|c| &c.name == *k))
    {
        return Err(ApiError::invalid(
            "justification",
            format!("{extra:?} is not a criterion of scheme {}", req.scheme),
            None,
        ));
    }
    // Over-asking: the subsidy of what is asked must fit what the pool has uncommitted.
    let price = state.store.price_at(class.id, now).await?.ok_or_else(|| {
        ApiError::Conflict(format!("resource class {} has no price yet", req.class))
    })?;
    let value = Cents(req.gpu_hours.saturating_mul(price.cents_per_gpu_hour));
    let rate = BasisPoints::new(scheme.scheme.default_rate_bp).unwrap_or(BasisPoints::FULL);
    let pool = Cents(
        state
            .store
            .balance(&Account::SchemePool(SchemeId(scheme.id)).key())
            .await?,
    );
    let needed = subsidy_of(value, rate);
    if needed > pool {
        return Err(ApiError::invalid(
            "gpu_hours",
            format!(
                "{} GPU-hours of {} would need {needed} of subsidy; the scheme has {pool} uncommitted",
                req.gpu_hours, req.class
            ),
            Some(pool.to_string()),
        ));
    }
    let new = NewApplication {
        project: p.id,
        scheme: scheme.id,
        class: class.id,
        gpu_hours: req.gpu_hours,
        starts_ms: starts,
        ends_ms: ends,
        justification: req.justification,
        applicant: caller.user.id,
        created_ms: now,
    };
    let audit = caller.audit(
        "application.submit",
        format!("project:{}", p.name),
        format!(
            "{} GPU-hours of {} from {}",
            req.gpu_hours, req.class, req.scheme
        ),
    );
    let id = state.store.apply_for(new, audit).await?;
    let a = state.store.application(id).await?;
    Ok((
        StatusCode::CREATED,
        Json(application_view(&state, a).await?),
    ))
}

/// Applications the caller may see, newest first (reviewers and auditors see all).
#[utoipa::path(get, path = "/api/v1/applications", tag = "grants", responses((status = 200, body = Vec<ApplicationView>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApplicationView>>, ApiError> {
    let mut out = Vec::new();
    for a in state.store.applications().await? {
        let r = Resource::Application {
            project_name: &a.project_name,
            project: a.project,
            org: a.org,
        };
        if authorize(&caller, Access::Read, r).is_ok() {
            out.push(application_view(&state, a).await?);
        }
    }
    Ok(Json(out))
}

/// One application with its reviews.
#[utoipa::path(get, path = "/api/v1/applications/{id}", params(("id" = i64, Path, description = "Application")), tag = "grants",
    responses((status = 200, body = ApplicationView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<ApplicationView>, ApiError> {
    let a = visible_application(&state, &caller, id, Access::Read).await?;
    Ok(Json(application_view(&state, a).await?))
}

/// Score an application (reviewers; not of their own organisation's applications; once).
#[utoipa::path(post, path = "/api/v1/applications/{id}/reviews", request_body = ReviewRequest, params(("id" = i64, Path, description = "Application")), tag = "grants",
    responses((status = 201, body = ApplicationView), (status = 403, description = "Not a reviewer, or a conflict of interest", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Reviewed already, or decided", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn review(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    Body(req): Body<ReviewRequest>,
) -> Result<(StatusCode, Json<ApplicationView>), ApiError> {
    let a = visible_application(&state, &caller, id, Access::Read).await?;
    crate::policy::may_review(&caller, a.org)?;
    let scheme = state.store.scheme(&a.scheme_name).await?;
    let weighted = weighted_score(&scheme.scheme.criteria, &req.scores)
        .map_err(|e| ApiError::invalid("scores", e, Some("0 to 10 per criterion".into())))?;
    if req.comment.chars().count() > MAX_JUSTIFICATION {
        return Err(ApiError::invalid(
            "comment",
            "too long",
            Some(MAX_JUSTIFICATION.to_string()),
        ));
    }
    let audit = caller.audit(
        "application.review",
        format!("application:{id}"),
        format!("weighted score {}", format_score(weighted)),
    );
    let new = NewReview {
        app: id,
        reviewer: caller.user.id,
        scores: req.scores,
        weighted,
        comment: req.comment,
        at_ms: now_ms(),
    };
    match state.store.review(new, audit).await {
        Err(StoreError::Exists(what)) => {
            return Err(ApiError::Conflict(format!("{what} already exists")));
        }
        other => other?,
    }
    let a = state.store.application(id).await?;
    Ok((
        StatusCode::CREATED,
        Json(application_view(&state, a).await?),
    ))
}

/// Approve (reserving the grant's subsidy from the pool) or reject an application (centre administrators; once).
#[utoipa::path(post, path = "/api/v1/applications/{id}/decision", request_body = DecisionRequest, params(("id" = i64, Path, description = "Application")), tag = "grants",
    responses((status = 200, body = ApplicationView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Decided already, or the pool cannot cover it", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    Body(req): Body<DecisionRequest>,
) -> Result<Json<ApplicationView>, ApiError> {
    authorize(&caller, Access::Manage, Resource::Centre)?;
    let a = visible_application(&state, &caller, id, Access::Read).await?;
    if a.state != "submitted" {
        return Err(ApiError::Conflict(format!(
            "application {id} was {} already",
            a.state
        )));
    }
    let now = now_ms();
    let (decision, summary) = if req.approve {
        let scheme = state.store.scheme(&a.scheme_name).await?;
        let reviews = state.store.reviews(a.id).await?.len();
        let needed = scheme.scheme.min_reviews as usize;
        if reviews < needed {
            return Err(ApiError::Conflict(format!(
                "application {id} has {reviews} review(s); scheme {} needs at least {needed} before it is approved",
                a.scheme_name
            )));
        }
        let rate_bp = match &req.rate {
            Some(r) => aisc_model::scheme::parse_percent(r)
                .map_err(|e| ApiError::invalid("rate", e, None))?,
            None => scheme.scheme.default_rate_bp,
        };
        if rate_bp > scheme.scheme.max_rate_bp {
            return Err(ApiError::invalid(
                "rate",
                format!("{} is above the scheme's maximum", format_percent(rate_bp)),
                Some(format_percent(scheme.scheme.max_rate_bp)),
            ));
        }
        let gpu_hours = req.gpu_hours.unwrap_or(a.gpu_hours);
        if !(1..=a.gpu_hours).contains(&gpu_hours) {
            return Err(ApiError::invalid(
                "gpu_hours",
                format!("{gpu_hours} is out of range"),
                Some(format!("1 to the {} asked for", a.gpu_hours)),
            ));
        }
        let price = state.store.price_at(a.class, now).await?.ok_or_else(|| {
            ApiError::Conflict(format!("resource class {} has no price", a.class_name))
        })?;
        let value = Cents(gpu_hours.saturating_mul(price.cents_per_gpu_hour));
        let rate = BasisPoints::new(rate_bp).unwrap_or(BasisPoints::FULL);
        // The ledger's rule, on the pool as read now; the store checks it again at commit.
        let pool = Cents(
            state
                .store
                .balance(&Account::SchemePool(SchemeId(a.scheme)).key())
                .await?,
        );
        let entry = rules::approve(SchemeId(a.scheme), GrantId(id), value, rate, pool)
            .map_err(|e| match e {
                LedgerError::PoolOverCommitted { available, needed } => ApiError::Conflict(format!(
                    "the scheme's uncommitted pool cannot cover this grant's subsidy (short by {})",
                    needed - available
                )),
                other => ApiError::Conflict(other.to_string()),
            })?;
        let terms = format!(
            "approved: {gpu_hours} GPU-hours of {} ({value} at list price), subsidy {}",
            a.class_name,
            format_percent(rate_bp)
        );
        let grant = NewGrant {
            gpu_hours,
            price_cents: price.cents_per_gpu_hour,
            value_cents: value.0,
            rate_bp,
        };
        let e = crate::money::to_store(&entry, Some(a.scheme), now, format!("grant {id}"));
        (Decision::Approve(grant, Box::new(e), terms.clone()), terms)
    } else {
        let reason = req
            .reason
            .clone()
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| ApiError::invalid("reason", "a rejection needs a reason", None))?;
        (
            Decision::Reject(reason.clone()),
            format!("rejected: {reason}"),
        )
    };
    let audit = caller.audit("application.decide", format!("application:{id}"), summary);
    match state
        .store
        .decide(id, caller.user.id, decision, now, audit)
        .await
    {
        Err(StoreError::Exists(_)) => {
            return Err(ApiError::Conflict(format!(
                "application {id} was decided already"
            )));
        }
        Err(StoreError::Ledger(Refusal::Overdrawn(_, short))) => {
            return Err(ApiError::Conflict(format!(
                "the scheme's uncommitted pool cannot cover this grant's subsidy (short by {})",
                Cents(-short)
            )));
        }
        other => other?,
    }
    grants_changed(&state).await;
    let a = state.store.application(id).await?;
    Ok(Json(application_view(&state, a).await?))
}

async fn grant_view(state: &AppState, g: GrantRow) -> Result<GrantView, ApiError> {
    let id = GrantId(g.id);
    let bal = |a: Account| {
        let store = state.store.clone();
        async move { store.balance(&a.key()).await }
    };
    let (remaining, held, used) = (
        bal(Account::GrantAvailable(id)).await?,
        bal(Account::GrantHeld(id)).await?,
        bal(Account::GrantUsed(id)).await?,
    );
    let (spent, reserved) = (
        bal(Account::SubsidySpent(id)).await?,
        bal(Account::GrantSubsidy(id)).await?,
    );
    Ok(GrantView {
        id: g.id,
        project: g.project_name,
        scheme: g.scheme_name,
        class: g.class_name,
        gpu_hours: g.gpu_hours,
        price_per_gpu_hour: Cents(g.price_cents).to_string(),
        rate: format_percent(g.rate_bp),
        starts_at: rfc3339(g.starts_ms),
        ends_at: rfc3339(g.ends_ms),
        amount: Cents(g.value_cents).to_string(),
        used: Cents(used).to_string(),
        held: Cents(held).to_string(),
        remaining: Cents(remaining).to_string(),
        subsidy_spent: Cents(spent).to_string(),
        subsidy_reserved: Cents(reserved).to_string(),
        cents: [g.value_cents, used, held, remaining, spent, reserved],
        max_gpus: g.max_gpus,
        high_qos: g.high_qos,
        scavenger_discount: format_percent(g.scavenger_discount_bp),
    })
}

/// Sets a grant's scheduling limits: a cap on the GPUs its project's jobs hold at once, and the `high` QOS (centre administrators).
#[utoipa::path(patch, path = "/api/v1/grants/{id}", request_body = GrantLimitsRequest, params(("id" = i64, Path, description = "Grant")), tag = "grants",
    responses((status = 200, body = GrantView), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_grant_limits(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    Body(req): Body<GrantLimitsRequest>,
) -> Result<Json<GrantView>, ApiError> {
    authorize(&caller, Access::Manage, Resource::Centre)?;
    if let Some(m) = req.max_gpus
        && !(1..=MAX_GPU_CAP).contains(&m)
    {
        return Err(ApiError::invalid(
            "max_gpus",
            format!("{m} GPUs is out of range"),
            Some(format!("1 to {MAX_GPU_CAP}, or null for no cap")),
        ));
    }
    let cap = req.max_gpus.map_or("no GPU cap".to_string(), |m| {
        format!("at most {m} GPUs at once")
    });
    let summary = format!(
        "grant {id}: {cap}, high QOS {}",
        if req.high_qos {
            "allowed"
        } else {
            "not allowed"
        }
    );
    state
        .store
        .set_grant_limits(
            id,
            req.max_gpus,
            req.high_qos,
            caller.audit("grant.limits", format!("grant:{id}"), summary),
        )
        .await
        .or_404(|| format!("grant {id}"))?;
    grants_changed(&state).await;
    let g = state.store.grant(id).await?;
    Ok(Json(grant_view(&state, g).await?))
}

/// After a grant is created or its limits change: submissions and the
/// scheduler read grants afresh at once. (If the scheduler is stopping,
/// nothing is lost: it reads them again when it starts.)
async fn grants_changed(state: &AppState) {
    state.charging.clear();
    let _ = state
        .control
        .send(crate::control::Command::GrantsChanged)
        .await;
}

fn grant_resource(g: &GrantRow) -> Resource<'_> {
    Resource::Project {
        name: &g.project_name,
        id: g.project,
        org: g.org,
    }
}

/// Grants the caller may see, with what is used, held and remaining.
#[utoipa::path(get, path = "/api/v1/grants", tag = "grants", responses((status = 200, body = Vec<GrantView>)), security(("bearer" = [])))]
pub async fn list_grants(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<GrantView>>, ApiError> {
    let mut out = Vec::new();
    for g in state.store.grants().await? {
        if authorize(&caller, Access::Read, grant_resource(&g)).is_ok() {
            out.push(grant_view(&state, g).await?);
        }
    }
    Ok(Json(out))
}

/// One grant.
#[utoipa::path(get, path = "/api/v1/grants/{id}", params(("id" = i64, Path, description = "Grant")), tag = "grants",
    responses((status = 200, body = GrantView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn show_grant(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<GrantView>, ApiError> {
    let g = state
        .store
        .grant(id)
        .await
        .or_404(|| format!("grant {id}"))?;
    authorize_as(&caller, Access::Read, grant_resource(&g), || {
        format!("grant {id}")
    })?;
    Ok(Json(grant_view(&state, g).await?))
}
