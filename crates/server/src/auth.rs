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
use std::sync::{Arc, RwLock};
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

/// An argon2id hash of `password` (PHC string). Slow by design: call from a blocking thread.
pub fn hash_password(password: &str) -> Result<String, crate::service::ServiceError> {
    use argon2::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| crate::service::ServiceError::Internal(e.to_string().into()))
}

/// Whether `password` matches the PHC string `hash`. Slow by design.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A valid hash of nothing anyone knows, checked when a user name is unknown
/// so that a failed login takes as long whether or not the user exists.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$nfhuzWdjUdhcyt6Eshy3Vw$AZEe0CHxmqwWJ4fVAUy+8sliY2FflVb86Fkobt4sZfo";

/// Failed logins, counted per account and per address over a sliding window.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: std::sync::Mutex<HashMap<String, std::collections::VecDeque<Instant>>>,
}

/// The window over which failed logins are counted.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed logins allowed per account in the window.
pub const LOGIN_MAX_PER_ACCOUNT: usize = 5;
/// Failed logins allowed per client address in the window.
pub const LOGIN_MAX_PER_ADDRESS: usize = 20;

impl LoginLimiter {
    /// Refuses with 429 while the account or the address has used up its failures.
    pub fn check(&self, account: &str, address: &str) -> Result<(), crate::service::ServiceError> {
        let Ok(mut map) = self.failures.lock() else {
            return Ok(());
        };
        for (key, max) in [
            (format!("user:{account}"), LOGIN_MAX_PER_ACCOUNT),
            (format!("addr:{address}"), LOGIN_MAX_PER_ADDRESS),
        ] {
            let Some(q) = map.get_mut(&key) else { continue };
            while q.front().is_some_and(|t| t.elapsed() >= LOGIN_WINDOW) {
                q.pop_front();
            }
            if q.len() >= max {
                let oldest = q.front().map_or(Duration::ZERO, |t| t.elapsed());
                let retry_after_s = LOGIN_WINDOW.saturating_sub(oldest).as_secs().max(1);
                return Err(crate::service::ServiceError::TooMany {
                    detail: format!("too many failed logins; try again in {retry_after_s} s"),
                    retry_after_s,
                });
            }
        }
        Ok(())
    }

    /// Counts a failed login against the account and the address.
    pub fn failed(&self, account: &str, address: &str) {
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > 100_000 {
                map.clear(); // bounded memory under a flood of made-up names
            }
            for key in [format!("user:{account}"), format!("addr:{address}")] {
                map.entry(key).or_default().push_back(Instant::now());
            }
        }
    }

    /// Forgets the account's failures after a successful login.
    pub fn succeeded(&self, account: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&format!("user:{account}"));
        }
    }
}

/// Recently verified tokens.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<String, (Arc<AuthUser>, Instant)>>,
}

impl TokenCache {
    fn get(&self, hash: &str) -> Option<Arc<AuthUser>> {
        let entries = self.entries.read().ok()?;
        let (user, at) = entries.get(hash)?;
        // A token's expiry is checked on every request, cached or not.
        let live = user.expires_ms.is_none_or(|e| e > crate::clock::now_ms());
        (live && at.elapsed() < CACHE_TTL).then(|| user.clone())
    }

    /// Forgets every cached token (after a revocation, so it takes effect at once).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }

    fn put(&self, hash: String, user: Arc<AuthUser>) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
            entries.insert(hash, (user, Instant::now()));
        }
    }
}

/// Equal in constant time: secrets (CSRF tokens, relay tokens) are compared,
/// never branched on byte by byte.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The authenticated caller of a request, and where it came from.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's user (shared with the token cache: no copy per request).
    pub user: Arc<AuthUser>,
    /// The client's address, for the audit trail.
    pub source: String,
}

impl Caller {
    /// Whether the caller is a centre administrator.
    pub fn is_admin(&self) -> bool {
        self.user.role == aisc_model::tenancy::CentreRole::Admin
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
        // Counted before the lookup, so that guessing tokens is limited too.
        state.limits.token(&hash)?;
        let read_only =
            parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD;
        let allowed = |user: Arc<AuthUser>| {
            if user.scope == "read" && !read_only {
                Err(ApiError::Forbidden("this token is read-only".into()))
            } else {
                Ok(Caller {
                    user,
                    source: source.clone(),
                })
            }
        };
        if let Some(user) = state.tokens.get(&hash) {
            return allowed(user);
        }
        match state
            .store
            .authenticate(&hash, crate::clock::now_ms())
            .await?
        {
            Some(user) => {
                let user = Arc::new(user);
                state.tokens.put(hash, user.clone());
                allowed(user)
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

/// A name a client sent, as it may appear in the server's log: at most 64
/// characters, control characters escaped, and a mark when it was cut.
pub fn for_log(name: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = name
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if name.chars().count() > MAX {
        out.push_str(&format!("…({} bytes)", name.len()));
    }
    out
}

#[cfg(test)]
mod log_tests {
    use super::for_log;

    #[test]
    fn a_long_or_odd_name_is_cut_and_escaped_for_the_log() {
        let long = "a".repeat(10_000);
        let logged = for_log(&long);
        assert!(logged.len() < 100, "{logged}");
        assert!(logged.contains("10000 bytes"));
        assert_eq!(for_log("ann"), "ann");
        assert_eq!(for_log("a\nb"), "a\\nb");
    }
}
