//! The centre's use cases, apart from HTTP: each takes the server's state,
//! the caller and a request type of `aisc_api`, decides whether the caller
//! may (through `policy`), does it, and answers with a response type or a
//! [`ServiceError`]. The API's handlers parse, call a service and answer;
//! the portal's pages call the same services and render.

pub mod applications;
pub mod audit;
pub mod backup;
pub mod data;
mod fits;
pub mod grants;
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
pub mod terminals;
pub mod views;

use crate::error::{ApiError, BoxError};

/// Why a use case refused or failed. The API answers it as problem+json, the
/// portal as a page; neither decides it.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A field has a value that is refused.
    #[error("{field}: {detail}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        detail: String,
        /// The limit, if one applies.
        limit: Option<String>,
    },
    /// The credentials given are not valid.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// No such thing, or not the caller's to see.
    #[error("{0} not found")]
    NotFound(String),
    /// The caller's role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// It conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// It existed, and was destroyed on purpose.
    #[error("{0}")]
    Gone(String),
    /// Too many at once; try again after this many seconds.
    #[error("{detail}")]
    TooMany {
        /// What was limited.
        detail: String,
        /// Seconds until a new attempt is accepted.
        retry_after_s: u64,
    },
    /// It cannot be done now (the server is stopping, a leader did not answer).
    #[error("{0}")]
    Unavailable(String),
    /// Something broke on our side.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl ServiceError {
    /// A field refusal.
    pub fn invalid(
        field: impl Into<String>,
        detail: impl Into<String>,
        limit: Option<String>,
    ) -> Self {
        ServiceError::Invalid {
            field: field.into(),
            detail: detail.into(),
            limit,
        }
    }

    /// Wraps an internal failure.
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ServiceError::Internal(Box::new(e))
    }
}

/// A store result whose `NotFound` names the resource.
pub trait Found<T> {
    /// `NotFound` becomes `ServiceError::NotFound(what())`; any other error converts as usual.
    fn or_404(self, what: impl FnOnce() -> String) -> Result<T, ServiceError>;
}

impl<T> Found<T> for Result<T, aisc_store::StoreError> {
    fn or_404(self, what: impl FnOnce() -> String) -> Result<T, ServiceError> {
        self.map_err(|e| match e {
            aisc_store::StoreError::NotFound => ServiceError::NotFound(what()),
            other => other.into(),
        })
    }
}

impl From<aisc_store::StoreError> for ServiceError {
    fn from(e: aisc_store::StoreError) -> Self {
        match e {
            aisc_store::StoreError::NotFound => ServiceError::NotFound("resource".into()),
            aisc_store::StoreError::Exists(what) => {
                ServiceError::Conflict(format!("{what} already exists"))
            }
            aisc_store::StoreError::Refused(why) => ServiceError::Conflict(why.into()),
            aisc_store::StoreError::OverQuota { used, quota } => ServiceError::invalid(
                "size",
                format!("the project's files take {used} bytes already; this does not fit"),
                Some(format!("{quota} bytes (the project's quota)")),
            ),
            other => ServiceError::internal(other),
        }
    }
}

impl From<crate::control::ControlError> for ServiceError {
    fn from(e: crate::control::ControlError) -> Self {
        use crate::control::ControlError;
        match e {
            ControlError::Conflict(m) => ServiceError::Conflict(m),
            ControlError::Unavailable(m) => ServiceError::Unavailable(m),
            ControlError::Store(e) => e.into(),
        }
    }
}

impl From<aisc_model::SpecError> for ServiceError {
    fn from(e: aisc_model::SpecError) -> Self {
        ServiceError::Invalid {
            field: e.field.to_string(),
            detail: e.message,
            limit: e.limit,
        }
    }
}

/// The abuse limits answer in the API's terms; a use case that meets one
/// passes it on as its own.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid {
                field,
                detail,
                limit,
            } => ApiError::Invalid {
                field,
                detail,
                limit,
            },
            ServiceError::Unauthorized(m) => ApiError::Unauthorized(m),
            ServiceError::NotFound(m) => ApiError::NotFound(m),
            ServiceError::Forbidden(m) => ApiError::Forbidden(m),
            ServiceError::Conflict(m) => ApiError::Conflict(m),
            ServiceError::Gone(m) => ApiError::Gone(m),
            ServiceError::TooMany {
                detail,
                retry_after_s,
            } => ApiError::TooManyRequests {
                detail,
                retry_after_s,
            },
            ServiceError::Unavailable(m) => ApiError::Unavailable(m),
            ServiceError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// The answer when the control loop is gone.
pub(crate) fn stopping() -> ServiceError {
    ServiceError::Unavailable("the server is shutting down; try again after it restarts".into())
}
