//! Authentication: bearer tokens, stored as SHA-256 hashes.
//!
//! Tokens are 256 random bits, so a fast hash is the right tool (a slow
//! password hash guards low-entropy secrets; these are not). Lookups are
//! cached for a short time so that the hot submit path does not wait on the
//! database for every request.

use crate::AppState;
use crate::error::ApiError;
use aisc_store::AuthUser;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rand::Rng as _;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a token lookup is trusted before it is checked again.
const CACHE_TTL: Duration = Duration::from_secs(10);
/// The most cached tokens before the cache starts over.
const CACHE_MAX: usize = 10_000;

/// A new random token: `aisc_` and 64 hex digits (256 bits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("aisc_{}", hex::encode(bytes))
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Recently verified tokens.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<String, (AuthUser, Instant)>>,
}

impl TokenCache {
    fn get(&self, hash: &str) -> Option<AuthUser> {
        let entries = self.entries.read().ok()?;
        let (user, at) = entries.get(hash)?;
        (at.elapsed() < CACHE_TTL).then(|| user.clone())
    }

    fn put(&self, hash: String, user: AuthUser) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
            entries.insert(hash, (user, Instant::now()));
        }
    }
}

/// The authenticated caller of a request, and where it came from.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's user.
    pub user: AuthUser,
    /// The client's address, for the audit trail.
    pub source: String,
}

impl Caller {
    /// Whether the caller is a centre administrator.
    pub fn is_admin(&self) -> bool {
        self.user.role == "admin"
    }

    /// An audit event by this caller, now.
    pub fn audit(&self, action: &str, target: String, summary: String) -> aisc_store::NewAudit {
        aisc_store::NewAudit {
            at_ms: crate::clock::now_ms(),
            actor: self.user.name.clone(),
            action: action.to_string(),
            target,
            summary,
            source: self.source.clone(),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthorized(
                "missing bearer token (Authorization: Bearer <token>)",
            ))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized(
                "the Authorization header must be: Bearer <token>",
            ))?;
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string());
        let hash = hash_token(token);
        if let Some(user) = state.tokens.get(&hash) {
            return Ok(Caller { user, source });
        }
        match state
            .store
            .authenticate(&hash, crate::clock::now_ms())
            .await?
        {
            Some(user) => {
                state.tokens.put(hash, user.clone());
                Ok(Caller { user, source })
            }
            None => Err(ApiError::Unauthorized("invalid, expired or revoked token")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 5 + 64);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert!(
            !hash_token(&a).contains(&a[5..]),
            "the hash does not contain the token"
        );
    }
}
