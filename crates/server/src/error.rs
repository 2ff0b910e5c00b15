//! The API's one error type. Every error leaves as `application/problem+json`
//! (RFC 9457) naming, where it can, the field at fault and the limit crossed.
//! 5xx errors are logged with their cause and answered without internals.

pub use aisc_api::problem::Problem;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON at all.
    #[error("{0}")]
    Malformed(String),
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
    /// The request body is larger than the server takes.
    #[error("the request body is larger than {limit_bytes} bytes")]
    TooLarge {
        /// The largest body taken.
        limit_bytes: usize,
    },
    /// No token, or one that is not valid.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// No such thing, or not the caller's to see.
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The request needs a role the caller lacks.
    #[error("{0}")]
    Forbidden(String),
    /// It existed, and was destroyed on purpose (an erased project's data).
    #[error("{0}")]
    Gone(String),
    /// Too many attempts; try again after this many seconds.
    #[error("{detail}")]
    TooManyRequests {
        /// What was limited.
        detail: String,
        /// Seconds until a new attempt is accepted.
        retry_after_s: u64,
    },
    /// The server cannot take this now (e.g. it is shutting down).
    #[error("{0}")]
    Unavailable(String),
    /// Something broke on our side.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

/// A boxed cause for internal errors: kept for the log, never sent.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl ApiError {
    /// A field refusal.
    pub fn invalid(
        field: impl Into<String>,
        detail: impl Into<String>,
        limit: Option<String>,
    ) -> Self {
        ApiError::Invalid {
            field: field.into(),
            detail: detail.into(),
            limit,
        }
    }

    /// Wraps an internal failure.
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(e))
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::Malformed(_) => (
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "Malformed request",
            ),
            ApiError::Invalid { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-field",
                "Invalid field",
            ),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::Gone(_) => (StatusCode::GONE, "gone", "Gone"),
            ApiError::TooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request body too large",
            ),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

/// A store result whose `NotFound` becomes a 404 naming the resource.
pub trait OrNotFound<T> {
    /// `NotFound` becomes `ApiError::NotFound(what())`; any other error converts as usual.
    fn or_404(self, what: impl FnOnce() -> String) -> Result<T, ApiError>;
}

impl<T> OrNotFound<T> for Result<T, aisc_store::StoreError> {
    fn or_404(self, what: impl FnOnce() -> String) -> Result<T, ApiError> {
        self.map_err(|e| match e {
            aisc_store::StoreError::NotFound => ApiError::NotFound(what()),
            other => other.into(),
        })
    }
}

// The domain's errors mean what the services' errors mean: one mapping each
// (in `crate::service`), then the service error's answer.
impl From<crate::control::ControlError> for ApiError {
    fn from(e: crate::control::ControlError) -> Self {
        crate::service::ServiceError::from(e).into()
    }
}

impl From<aisc_store::StoreError> for ApiError {
    fn from(e: aisc_store::StoreError) -> Self {
        crate::service::ServiceError::from(e).into()
    }
}

impl From<aisc_model::SpecError> for ApiError {
    fn from(e: aisc_model::SpecError) -> Self {
        crate::service::ServiceError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.parts();
        if let ApiError::Internal(source) = &self {
            // The whole chain: "database error" alone says nothing of which.
            let mut chain = source.to_string();
            let mut cause = std::error::Error::source(source.as_ref());
            while let Some(c) = cause {
                chain.push_str(": ");
                chain.push_str(&c.to_string());
                cause = c.source();
            }
            tracing::error!(error = %chain, "request failed");
        }
        let (field, limit) = match &self {
            ApiError::Invalid { field, limit, .. } => (Some(field.clone()), limit.clone()),
            ApiError::TooLarge { limit_bytes } => {
                (Some("body".into()), Some(format!("{limit_bytes} bytes")))
            }
            _ => (None, None),
        };
        let detail = match &self {
            ApiError::Invalid { detail, .. } => detail.clone(),
            other => other.to_string(),
        };
        let problem = Problem {
            kind: format!("urn:aisc:problem:{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            field,
            limit,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::TooManyRequests { retry_after_s, .. } = &self
            && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"aisc\""),
            );
        }
        res
    }
}
