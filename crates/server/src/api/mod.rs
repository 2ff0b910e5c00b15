//! The HTTP API: JSON under `/api/v1`, described at `/api/v1/openapi.json`.

pub mod applications;
pub mod audit;
pub mod backup;
pub mod charging;
pub mod data;
pub mod extract;
pub mod identity;
pub mod inventory;
pub mod jobs;
pub mod keys;
pub mod nodes;
pub mod privacy;
pub mod queue;
pub mod schemes;
pub mod slurm;
pub mod statements;
pub mod tenancy;
pub mod types;

use crate::AppState;
use crate::auth::Caller;
use crate::control::Command;
use crate::error::{ApiError, Problem};
use aisc_model::{JobRequest, Resources};
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::oneshot;
use types::{
    ActionResult, EventView, GpuView, JobDetail, JobList, JobView, NodeView, Submitted, WhoAmI,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The largest request body.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(title = "aisc", description = "The API of an AI supercomputing centre: jobs, grants, billing."),
    paths(jobs::submit, jobs::list, jobs::show, jobs::logs, jobs::cancel, jobs::release, audit::list, audit::verify, whoami, nodes,
        identity::login, identity::create_token, identity::list_tokens, identity::revoke_token, identity::create_user, identity::list_users,
        tenancy::create_org, tenancy::list_orgs, tenancy::add_org_admin, tenancy::create_project, tenancy::list_projects,
        tenancy::show_project, tenancy::set_member, tenancy::remove_member, inventory::list_classes, inventory::create_class,
        inventory::set_nodes, inventory::list_prices, inventory::set_price, inventory::get_capacity, schemes::create, schemes::list,
        schemes::show, applications::apply, applications::list, applications::show, applications::review, applications::decide,
        applications::list_grants, applications::show_grant, applications::set_grant_limits, statements::statement,
        queue::list, queue::show, identity::set_role, identity::set_password, slurm::set_unix_name, slurm::sync, nodes::list, nodes::drain, nodes::resume,
        data::begin, data::status, data::part, data::complete, data::abandon, data::list, data::get, data::remove, data::set_quota,
        keys::list, keys::rotate, keys::retire, privacy::export, privacy::close, privacy::erase, backup::backup),
    components(schemas(JobRequest, Submitted, JobList, JobView, JobDetail, EventView, ActionResult, WhoAmI, NodeView, GpuView, Problem,
        audit::AuditView, audit::AuditVerification, identity::LoginRequest, identity::TokenRequest, identity::IssuedToken,
        identity::TokenView, identity::UserRequest, identity::UserView, tenancy::OrgRequest, tenancy::OrgView,
        tenancy::OrgAdminRequest, tenancy::ProjectRequest, tenancy::ProjectView, tenancy::MemberView, tenancy::ProjectDetail,
        tenancy::MemberRequest, inventory::ClassRequest, inventory::ClassView, inventory::NodesRequest, inventory::PriceRequest,
        inventory::PriceView, inventory::CapacityView, schemes::SchemeRequest, schemes::SchemeView, aisc_model::scheme::Criterion,
        applications::ApplicationRequest, applications::ReviewRequest, applications::DecisionRequest, applications::ReviewView,
        applications::ApplicationView, applications::GrantView, applications::GrantLimitsRequest, statements::Statement,
        statements::StatementLineView, crate::control::QueueView, crate::control::QueueEntry,
        slurm::UnixNameRequest, slurm::SyncRequest, slurm::SyncReport,
        identity::RoleRequest, identity::PasswordRequest, nodes::DrainRequest, nodes::NodeStateView, crate::control::NodeStatus,
        data::UploadRequest, data::UploadView, data::FileView, data::FileList, data::QuotaRequest, keys::MasterKeyView, keys::KeysView,
        keys::RetireRequest, privacy::ProjectExport, privacy::ConfirmRequest, privacy::ClosedView, backup::BackupManifest)),
    modifiers(&BearerAuth)
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/nodes", get(nodes))
        .route("/api/v1/nodes/states", get(nodes::list))
        .route("/api/v1/nodes/{name}/drain", post(nodes::drain))
        .route("/api/v1/nodes/{name}/resume", post(nodes::resume))
        .route("/api/v1/login", post(identity::login))
        .route(
            "/api/v1/tokens",
            get(identity::list_tokens).post(identity::create_token),
        )
        .route(
            "/api/v1/tokens/{id}",
            axum::routing::delete(identity::revoke_token),
        )
        .route(
            "/api/v1/users",
            get(identity::list_users).post(identity::create_user),
        )
        .route(
            "/api/v1/users/{name}/password",
            axum::routing::put(identity::set_password),
        )
        .route(
            "/api/v1/users/{name}/role",
            axum::routing::put(identity::set_role),
        )
        .route(
            "/api/v1/users/{name}/unix-name",
            axum::routing::put(slurm::set_unix_name),
        )
        .route("/api/v1/slurm/sync", post(slurm::sync))
        .route(
            "/api/v1/orgs",
            get(tenancy::list_orgs).post(tenancy::create_org),
        )
        .route("/api/v1/orgs/{org}/admins", post(tenancy::add_org_admin))
        .route(
            "/api/v1/projects",
            get(tenancy::list_projects).post(tenancy::create_project),
        )
        .route("/api/v1/projects/{project}", get(tenancy::show_project))
        .route("/api/v1/projects/{project}/uploads", post(data::begin))
        .route("/api/v1/projects/{project}/data", get(data::list))
        .route(
            "/api/v1/projects/{project}/data/{*path}",
            get(data::get).delete(data::remove),
        )
        .route(
            "/api/v1/projects/{project}/quota",
            axum::routing::put(data::set_quota),
        )
        .route("/api/v1/projects/{project}/export", get(privacy::export))
        .route("/api/v1/projects/{project}/close", post(privacy::close))
        .route("/api/v1/projects/{project}/erase", post(privacy::erase))
        .route(
            "/api/v1/uploads/{id}",
            get(data::status).put(data::part).delete(data::abandon),
        )
        .route("/api/v1/uploads/{id}/complete", post(data::complete))
        .route("/api/v1/backup", get(backup::backup))
        .route("/api/v1/keys", get(keys::list))
        .route("/api/v1/keys/rotate", post(keys::rotate))
        .route("/api/v1/keys/retire", post(keys::retire))
        .route(
            "/api/v1/projects/{project}/statement",
            get(statements::statement),
        )
        .route(
            "/api/v1/projects/{project}/members/{user}",
            axum::routing::put(tenancy::set_member).delete(tenancy::remove_member),
        )
        .route(
            "/api/v1/resource-classes",
            get(inventory::list_classes).post(inventory::create_class),
        )
        .route(
            "/api/v1/resource-classes/{class}/nodes",
            axum::routing::put(inventory::set_nodes),
        )
        .route(
            "/api/v1/resource-classes/{class}/prices",
            get(inventory::list_prices).post(inventory::set_price),
        )
        .route("/api/v1/capacity", get(inventory::get_capacity))
        .route("/api/v1/schemes", get(schemes::list).post(schemes::create))
        .route("/api/v1/schemes/{scheme}", get(schemes::show))
        .route(
            "/api/v1/applications",
            get(applications::list).post(applications::apply),
        )
        .route("/api/v1/applications/{id}", get(applications::show))
        .route(
            "/api/v1/applications/{id}/reviews",
            post(applications::review),
        )
        .route(
            "/api/v1/applications/{id}/decision",
            post(applications::decide),
        )
        .route("/api/v1/grants", get(applications::list_grants))
        .route(
            "/api/v1/grants/{id}",
            get(applications::show_grant).patch(applications::set_grant_limits),
        )
        .route("/api/v1/queue", get(queue::list))
        .route("/api/v1/queue/{id}", get(queue::show))
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/audit/verify", get(audit::verify))
        .route("/api/v1/jobs", get(jobs::list).post(jobs::submit))
        .route("/api/v1/jobs/{id}", get(jobs::show))
        .route("/api/v1/jobs/{id}/logs", get(jobs::logs))
        .route("/api/v1/jobs/{id}/cancel", post(jobs::cancel))
        .route("/api/v1/jobs/{id}/release", post(jobs::release))
        .fallback(|| async { ApiError::NotFound("route".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::Malformed("method not allowed on this route".into())
        })
        .merge(crate::portal::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::standby::follow_leader,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::limits::by_address,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::portal::security_headers,
        ))
        .with_state(state)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "identity", responses((status = 200, body = WhoAmI), (status = 401, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        id: caller.user.id.0,
        name: caller.user.name.clone(),
        role: caller.user.role.to_string(),
    })
}

/// The nodes, their GPUs (real or fake, said so) and what running jobs hold.
#[utoipa::path(get, path = "/api/v1/nodes", tag = "cluster", responses((status = 200, body = Vec<NodeView>)), security(("bearer" = [])))]
pub async fn nodes(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<NodeView>>, ApiError> {
    let (reply, rx) = oneshot::channel();
    let busy = match state.control.send(Command::Usage(reply)).await {
        Ok(()) => rx.await.unwrap_or_default(),
        Err(_) => Resources::default(),
    };
    let h = &state.host;
    Ok(Json(vec![NodeView {
        name: h.hostname.clone(),
        engine: "local".into(),
        cpus: state.node.capacity.cpus,
        mem_mb: state.node.capacity.mem_mb,
        gpus: h
            .gpus
            .iter()
            .map(|g| GpuView {
                index: g.index,
                name: g.name.clone(),
                uuid: g.uuid.clone(),
                memory_mb: g.memory_mb,
                fake: g.fake,
            })
            .collect(),
        gpu_source: h.gpu_source.clone(),
        gpus_busy: busy.gpus,
        cpus_busy: busy.cpus,
        mem_busy_mb: busy.mem_mb,
    }]))
}
