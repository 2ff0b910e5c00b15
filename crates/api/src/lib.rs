//! What crosses the wire between the server and its clients: request and
//! response bodies, query parameters and the problem document, with their
//! OpenAPI schemas. The server builds them from its state; the CLI reads them.
//! This crate depends on the model, `serde` (and `serde_json`) and `utoipa` only: no server, no
//! store, no async runtime.

pub mod applications;
pub mod audit;
pub mod backup;
pub mod data;
pub mod identity;
pub mod inventory;
pub mod jobs;
pub mod keys;
pub mod nodes;
pub mod privacy;
pub mod problem;
pub mod queue;
pub mod relay;
pub mod schemes;
pub mod slurm;
pub mod statements;
pub mod tenancy;

pub use problem::Problem;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API document's schemas and security. Its paths are the server's: it
/// merges them in from its route table.
#[derive(OpenApi)]
#[openapi(
    info(title = "aisc", description = "The API of an AI supercomputing centre: jobs, grants, billing."),
    components(schemas(aisc_model::JobRequest, aisc_model::request::JobChanges, jobs::Submitted, jobs::JobList, jobs::JobView, jobs::JobDetail, jobs::EventView, jobs::ActionResult,
        jobs::WhoAmI, jobs::NodeView, jobs::GpuView, Problem,
        audit::AuditView, audit::AuditVerification, identity::LoginRequest, identity::TokenRequest, identity::IssuedToken,
        identity::TokenView, identity::UserRequest, identity::UserView, tenancy::OrgRequest, tenancy::OrgView,
        tenancy::OrgAdminRequest, tenancy::ProjectRequest, tenancy::ProjectView, tenancy::MemberView, tenancy::ProjectDetail,
        tenancy::MemberRequest, inventory::ClassRequest, inventory::ClassView, inventory::NodesRequest, inventory::PriceRequest,
        inventory::PriceView, inventory::CapacityView, schemes::SchemeRequest, schemes::SchemeView, aisc_model::scheme::Criterion,
        applications::ApplicationRequest, applications::ReviewRequest, applications::DecisionRequest, applications::ReviewView,
        applications::ApplicationView, applications::GrantView, applications::GrantLimitsRequest, statements::Statement,
        statements::StatementLineView, queue::QueueView, queue::QueueEntry,
        slurm::UnixNameRequest, slurm::SyncRequest, slurm::SyncReport,
        identity::RoleRequest, identity::PasswordRequest, nodes::DrainRequest, nodes::NodeStateView, queue::NodeStatus,
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
