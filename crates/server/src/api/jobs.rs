//! `/api/v1/jobs`: submit, list, show, logs, cancel, release. Each handler
//! parses, calls `service::jobs` and answers.

use crate::AppState;
use crate::api::extract::{Body, JobIdPath, Query};
use crate::api::types::{ActionResult, JobDetail, JobList, Submitted};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
pub use aisc_api::jobs::{ListParams, LogParams};
use aisc_model::JobRequest;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;

use crate::service::jobs::{self as service, LogChunk};
pub use crate::service::jobs::{MAX_LIST, MAX_LOG_CHUNK};

/// Submit a job: a command (`command`) or a batch script (`script`) whose
/// `#SBATCH` directives are honoured; fields given here override the script.
#[utoipa::path(post, path = "/api/v1/jobs", request_body = JobRequest, tag = "jobs",
    responses(
        (status = 201, description = "Stored; the reply comes after the commit", body = Submitted),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is refused; `field` and `limit` say which and why", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<JobRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let body = service::submit(&state, &caller, req).await?;
    let location =
        HeaderValue::from_str(&format!("/api/v1/jobs/{}", body.id)).map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    ))
}

/// List jobs, newest first. Users see their own jobs; admins see all.
#[utoipa::path(get, path = "/api/v1/jobs", params(ListParams), tag = "jobs",
    responses((status = 200, body = JobList), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<JobList>, ApiError> {
    Ok(Json(service::list(&state, &caller, p).await?))
}

/// One job: spec, placement, exit status, usage and every transition with its
/// reason. Auditors get its metadata only (no command, script, working
/// directory, environment or paths) unless the centre allows them more.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", params(("id" = String, Path, description = "Job id: N, or N_T for task T of array N")), tag = "jobs",
    responses((status = 200, body = JobDetail), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> Result<Json<JobDetail>, ApiError> {
    let (id, _) = service::resolve(&state, &caller, id).await?;
    Ok(Json(service::show(&state, &caller, id).await?))
}

/// A chunk of a job's output. Headers: `X-Aisc-Next-Offset` (where to read next),
/// `X-Aisc-Job-State`, and `X-Aisc-Log-Complete: true` once the job has ended and
/// everything has been read.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/logs", params(("id" = String, Path, description = "Job id: N, or N_T for task T of array N"), LogParams), tag = "jobs",
    responses((status = 200, description = "Raw bytes of the log", content_type = "application/octet-stream"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn logs(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
    Query(p): Query<LogParams>,
) -> Result<impl IntoResponse, ApiError> {
    let (id, _) = service::resolve(&state, &caller, id).await?;
    log_answer(service::log(&state, &caller, id, p).await?)
}

/// A log chunk as the API answers it (the portal's live log too).
pub(crate) fn log_answer(chunk: LogChunk) -> Result<impl IntoResponse + use<>, ApiError> {
    let mut headers = HeaderMap::new();
    let hv = |s: String| HeaderValue::from_str(&s).map_err(ApiError::internal);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert("x-aisc-next-offset", hv(chunk.next.to_string())?);
    headers.insert("x-aisc-job-state", hv(chunk.state.to_string())?);
    headers.insert("x-aisc-log-complete", hv(chunk.complete.to_string())?);
    Ok((headers, chunk.bytes))
}

/// Cancel a job: a pending job is cancelled at once; a running one gets SIGTERM,
/// then SIGKILL after the grace period, and ends `cancelled`.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", params(("id" = String, Path, description = "Job id: N, or N_T for task T of array N")), tag = "jobs",
    responses((status = 202, body = ActionResult), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already finished", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> Result<impl IntoResponse, ApiError> {
    let result = service::cancel(&state, &caller, id).await?;
    Ok((StatusCode::ACCEPTED, Json(result)))
}

/// Requeue a running job, as `scontrol requeue`: its run is stopped
/// (SIGTERM, SIGKILL after the grace) and settled on its own, and it waits
/// again with the same id.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/requeue", params(("id" = String, Path, description = "Job id: N, or N_T for task T of array N")), tag = "jobs",
    responses((status = 202, body = ActionResult), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not running, ended, being stopped, or submitted with --no-requeue", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn requeue(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> Result<impl IntoResponse, ApiError> {
    let result = service::requeue(&state, &caller, id).await?;
    Ok((StatusCode::ACCEPTED, Json(result)))
}

/// Hold a pending job until it is released.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/hold", params(("id" = String, Path, description = "Job id: N, or N_T for task T of array N")), tag = "jobs",
    responses((status = 200, body = ActionResult), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending, or held already", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn hold(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> Result<Json<ActionResult>, ApiError> {
    let (id, _) = service::resolve(&state, &caller, id).await?;
    Ok(Json(service::hold(&state, &caller, id).await?))
}

/// Change a waiting job: its time limit (lowered; raised only by an
/// administrator), name or QOS. The job is priced again; a QOS its grant does
/// not allow is refused.
#[utoipa::path(patch, path = "/api/v1/jobs/{id}", params(("id" = String, Path, description = "Job id: N, or N_T for task T of array N")),
    request_body = aisc_model::request::JobChanges, tag = "jobs",
    responses((status = 200, body = ActionResult),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not waiting", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A change refused, naming the field and the limit", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
    Body(changes): Body<aisc_model::request::JobChanges>,
) -> Result<Json<ActionResult>, ApiError> {
    Ok(Json(service::update(&state, &caller, id, changes).await?))
}

/// Release a held job so the scheduler may start it.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/release", params(("id" = String, Path, description = "Job id: N, or N_T for task T of array N")), tag = "jobs",
    responses((status = 200, body = ActionResult), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not held", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> Result<Json<ActionResult>, ApiError> {
    let (id, _) = service::resolve(&state, &caller, id).await?;
    Ok(Json(service::release(&state, &caller, id).await?))
}
