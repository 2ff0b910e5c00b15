//! Extractors whose rejections are problem documents naming the field.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body. Not JSON at all: 400. JSON of the wrong shape: 422 naming the path.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                return ApiError::TooLarge {
                    limit_bytes: crate::api::MAX_BODY_BYTES,
                };
            }
            ApiError::invalid(
                "body",
                e.body_text(),
                Some(format!("{} bytes", crate::api::MAX_BODY_BYTES)),
            )
        })?;
        parse_body(&bytes).map(Body)
    }
}

/// A JSON body as [`Body`] reads it: empty or not JSON at all, 400; not an
/// object, 400; JSON of the wrong shape, 422 naming the path. Never panics.
/// (Fuzzed by `fuzz/fuzz_targets/api_bodies.rs`.)
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::Malformed(
            "the request body is empty: send a JSON object".into(),
        ));
    }
    // One parse on the way in; only a failure is parsed again, to tell
    // broken JSON (400, never blamed on a field) from a wrong shape (422).
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(de) {
        Ok(v) => Ok(v),
        Err(e) => match serde_json::from_slice::<serde_json::Value>(bytes) {
            Err(syntax) => Err(ApiError::Malformed(format!(
                "the body is not valid JSON: {syntax}"
            ))),
            Ok(v) if !v.is_object() => {
                Err(ApiError::Malformed("the body must be a JSON object".into()))
            }
            Ok(_) => {
                let path = e.path().to_string();
                // The whole body, or a key that is the empty string (`{"": 1}`),
                // is named `body`: a 422 always names something.
                let field = if path == "." || path.is_empty() {
                    "body".to_string()
                } else {
                    path
                };
                Err(ApiError::invalid(field, e.into_inner().to_string(), None))
            }
        },
    }
}

/// Query parameters; a bad one is a 422 naming it.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(t)| Query(t))
            .map_err(|e| ApiError::invalid("query", e.body_text(), None))
    }
}

/// A job id from the path: a positive integer.
#[derive(Debug, Clone, Copy)]
pub struct JobIdPath(pub aisc_model::array::JobRef);

impl<S: Send + Sync> FromRequestParts<S> for JobIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::invalid("id", e.body_text(), None))?;
        match raw.parse::<aisc_model::array::JobRef>() {
            Ok(r) => Ok(JobIdPath(r)),
            Err(e) => Err(ApiError::invalid(
                "id",
                e,
                Some("a positive integer, or N_T for task T of array N".into()),
            )),
        }
    }
}

/// A positive integer id from the path (`{id}`); anything else is a 422 naming `id`.
#[derive(Debug, Clone, Copy)]
pub struct IdPath(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::invalid("id", e.body_text(), None))?;
        match raw.parse::<i64>() {
            Ok(n) if n > 0 => Ok(IdPath(n)),
            _ => Err(ApiError::invalid(
                "id",
                format!("{raw:?} is not an id"),
                Some("a positive integer".into()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Named {
        name: String,
    }

    #[test]
    fn a_refused_body_always_names_a_field() {
        // Found by the api_bodies fuzz target: an empty key gave an empty field.
        for body in [&br#"{"":"b"}"#[..], br#"{"name": 1}"#, br#"{}"#] {
            match parse_body::<Named>(body) {
                Err(ApiError::Invalid { field, .. }) => assert!(!field.is_empty(), "{body:?}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            parse_body::<Named>(b"[1]"),
            Err(ApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_body::<Named>(b"{"),
            Err(ApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_body::<Named>(b""),
            Err(ApiError::Malformed(_))
        ));
    }
}
