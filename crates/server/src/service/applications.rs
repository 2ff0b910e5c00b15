//! Applications for compute, their review and the committee's decision;
//! grants as views. Each decides whether the caller may (through `policy`).

use super::grants::grants_changed;
use super::{Found, ServiceError};
use crate::AppState;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::policy::{Access, Resource, authorize, authorize_as};
use crate::service::views::rfc3339;
use aisc_api::applications::{
    ApplicationRequest, ApplicationView, DecisionRequest, ReviewRequest, ReviewView,
};
use aisc_billing::ledger::{Account, LedgerError, subsidy_of};
use aisc_billing::money::{BasisPoints, Cents};
use aisc_billing::rules;
use aisc_model::review::{format_score, weighted_score};
use aisc_model::scheme::format_percent;
use aisc_model::{GrantId, SchemeId};
use aisc_store::{
    ApplicationRow, Decision, NewApplication, NewGrant, NewReview, Refusal, StoreError,
};

/// The most GPU-hours one application may ask for.
pub const MAX_GPU_HOURS: i64 = 100_000_000;
/// The longest justification of one criterion, in characters.
pub const MAX_JUSTIFICATION: usize = 20_000;

/// Applies for compute under a scheme as the project's PI.
pub async fn apply(
    state: &AppState,
    caller: &Caller,
    req: ApplicationRequest,
) -> Result<ApplicationView, ServiceError> {
    let p = state
        .store
        .project(&req.project)
        .await
        .or_404(|| format!("project {}", req.project))?;
    authorize(
        caller,
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
        return Err(ServiceError::invalid(
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
        return Err(ServiceError::invalid(
            "project",
            format!(
                "a {kind} organisation is not eligible for scheme {}",
                req.scheme
            ),
            Some(allowed),
        ));
    }
    if !(1..=MAX_GPU_HOURS).contains(&req.gpu_hours) {
        return Err(ServiceError::invalid(
            "gpu_hours",
            format!("{} is out of range", req.gpu_hours),
            Some(format!("1 to {MAX_GPU_HOURS}")),
        ));
    }
    let starts = aisc_model::calendar::parse_date(&req.starts)
        .map_err(|e| ServiceError::invalid("starts", e, None))?;
    let ends = aisc_model::calendar::parse_date(&req.ends)
        .map_err(|e| ServiceError::invalid("ends", e, None))?;
    if ends <= starts {
        return Err(ServiceError::invalid(
            "ends",
            "the period must end after it starts",
            None,
        ));
    }
    let today = aisc_model::calendar::parse_date(&aisc_model::calendar::format_date(now))
        .map_err(std::io::Error::other)
        .map_err(ServiceError::internal)?;
    let earliest = today.max(scheme.scheme.opens_ms);
    if starts < earliest {
        return Err(ServiceError::invalid(
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
        return Err(ServiceError::invalid(
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
                return Err(ServiceError::invalid(
                    "justification",
                    format!("{}: 1 to {MAX_JUSTIFICATION} characters", c.name),
                    Some(MAX_JUSTIFICATION.to_string()),
                ));
            }
            None => {
                return Err(ServiceError::invalid(
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
        return Err(ServiceError::invalid(
            "justification",
            format!("{extra:?} is not a criterion of scheme {}", req.scheme),
            None,
        ));
    }
    // Over-asking: the subsidy of what is asked must fit what the pool has uncommitted.
    let price = state.store.price_at(class.id, now).await?.ok_or_else(|| {
        ServiceError::Conflict(format!("resource class {} has no price yet", req.class))
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
        return Err(ServiceError::invalid(
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
    application_view(state, a).await
}

/// Applications the caller may see, newest first (reviewers and auditors see all).
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<ApplicationView>, ServiceError> {
    let mut out = Vec::new();
    for a in state.store.applications().await? {
        let r = Resource::Application {
            project_name: &a.project_name,
            project: a.project,
            org: a.org,
        };
        if authorize(caller, Access::Read, r).is_ok() {
            out.push(application_view(state, a).await?);
        }
    }
    Ok(out)
}

/// One application with its reviews.
pub async fn show(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<ApplicationView, ServiceError> {
    let a = visible_application(state, caller, id, Access::Read).await?;
    application_view(state, a).await
}

/// Scores an application (reviewers; not of their own organisation's; once).
pub async fn review(
    state: &AppState,
    caller: &Caller,
    id: i64,
    req: ReviewRequest,
) -> Result<ApplicationView, ServiceError> {
    let a = visible_application(state, caller, id, Access::Read).await?;
    crate::policy::may_review(caller, a.org)?;
    let scheme = state.store.scheme(&a.scheme_name).await?;
    let weighted = weighted_score(&scheme.scheme.criteria, &req.scores)
        .map_err(|e| ServiceError::invalid("scores", e, Some("0 to 10 per criterion".into())))?;
    if req.comment.chars().count() > MAX_JUSTIFICATION {
        return Err(ServiceError::invalid(
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
            return Err(ServiceError::Conflict(format!("{what} already exists")));
        }
        other => other?,
    }
    let a = state.store.application(id).await?;
    application_view(state, a).await
}

/// Approves (reserving the grant's subsidy from the pool) or rejects an application (centre administrators; once).
pub async fn decide(
    state: &AppState,
    caller: &Caller,
    id: i64,
    req: DecisionRequest,
) -> Result<ApplicationView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    let a = visible_application(state, caller, id, Access::Read).await?;
    if a.state != "submitted" {
        return Err(ServiceError::Conflict(format!(
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
            return Err(ServiceError::Conflict(format!(
                "application {id} has {reviews} review(s); scheme {} needs at least {needed} before it is approved",
                a.scheme_name
            )));
        }
        let rate_bp = match &req.rate {
            Some(r) => aisc_model::scheme::parse_percent(r)
                .map_err(|e| ServiceError::invalid("rate", e, None))?,
            None => scheme.scheme.default_rate_bp,
        };
        if rate_bp > scheme.scheme.max_rate_bp {
            return Err(ServiceError::invalid(
                "rate",
                format!("{} is above the scheme's maximum", format_percent(rate_bp)),
                Some(format_percent(scheme.scheme.max_rate_bp)),
            ));
        }
        let gpu_hours = req.gpu_hours.unwrap_or(a.gpu_hours);
        if !(1..=a.gpu_hours).contains(&gpu_hours) {
            return Err(ServiceError::invalid(
                "gpu_hours",
                format!("{gpu_hours} is out of range"),
                Some(format!("1 to the {} asked for", a.gpu_hours)),
            ));
        }
        let price = state.store.price_at(a.class, now).await?.ok_or_else(|| {
            ServiceError::Conflict(format!("resource class {} has no price", a.class_name))
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
                LedgerError::PoolOverCommitted { available, needed } => ServiceError::Conflict(format!(
                    "the scheme's uncommitted pool cannot cover this grant's subsidy (short by {})",
                    needed - available
                )),
                other => ServiceError::Conflict(other.to_string()),
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
            .ok_or_else(|| ServiceError::invalid("reason", "a rejection needs a reason", None))?;
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
            return Err(ServiceError::Conflict(format!(
                "application {id} was decided already"
            )));
        }
        Err(StoreError::Ledger(Refusal::Overdrawn(_, short))) => {
            return Err(ServiceError::Conflict(format!(
                "the scheme's uncommitted pool cannot cover this grant's subsidy (short by {})",
                Cents(-short)
            )));
        }
        other => other?,
    }
    grants_changed(state).await;
    let a = state.store.application(id).await?;
    application_view(state, a).await
}

pub(crate) async fn visible_application(
    state: &AppState,
    caller: &Caller,
    id: i64,
    access: Access,
) -> Result<ApplicationRow, ServiceError> {
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

pub(crate) async fn application_view(
    state: &AppState,
    a: ApplicationRow,
) -> Result<ApplicationView, ServiceError> {
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
