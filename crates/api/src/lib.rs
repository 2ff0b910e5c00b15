//! What crosses the wire between the server and its clients: request and
//! response bodies, query parameters and the problem document, with their
//! OpenAPI schemas. The server builds them from its state; the CLI reads them.
//! This crate depends on the model, `serde` and `utoipa` only: no server, no
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
pub mod schemes;
pub mod slurm;
pub mod statements;
pub mod tenancy;

pub use problem::Problem;
