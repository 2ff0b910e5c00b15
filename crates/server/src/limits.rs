//! Abuse limits: requests per second per API token and per client address
//! (GCRA, from `governor`), and how many jobs one user may have waiting. A
//! request over a limit is answered 429 with `Retry-After` and changes nothing.

use crate::AppState;
use crate::error::ApiError;
use crate::service::ServiceError;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// Keys kept before idle ones are dropped.
const PRUNE_AT: usize = 10_000;

/// The limits `aisc serve` enforces; 0 turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Requests per second one API token (or portal session) may make; bursts of twice that.
    pub per_token: u32,
    /// Requests per second from one client address, signed in or not; bursts of twice that.
    pub per_address: u32,
    /// Jobs one user may have pending (held ones included) at once.
    pub max_queued_per_user: u32,
    /// Slurm's `MaxArraySize`: an array's task ids run from 0 to one less.
    pub max_array_size: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            per_token: 1_000,
            per_address: 2_000,
            max_queued_per_user: 10_000,
            max_array_size: aisc_model::array::DEFAULT_MAX_ARRAY_SIZE,
        }
    }
}

/// How long a user's counted waiting jobs are trusted (plus what they submitted since).
const WAITING_FRESH: Duration = Duration::from_secs(5);

/// The limiters.
pub struct Limits {
    settings: LimitSettings,
    per_token: Option<Keyed<String>>,
    per_address: Option<Keyed<IpAddr>>,
    /// Per user: jobs waiting when last counted, plus those admitted since, and when counted.
    waiting: Mutex<HashMap<i64, (u64, Instant)>>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn limiter<K: Hash + Eq + Clone>(per_second: u32) -> Option<Keyed<K>> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(per_second.saturating_mul(2)).unwrap_or(rate);
    Some(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

fn check<K: Hash + Eq + Clone>(
    limiter: Option<&Keyed<K>>,
    key: &K,
    what: &str,
    per_second: u32,
) -> Result<(), ServiceError> {
    let Some(l) = limiter else { return Ok(()) };
    if l.len() > PRUNE_AT {
        l.retain_recent();
    }
    l.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ServiceError::TooMany {
            detail: format!("too many requests {what} (limit: {per_second} per second)"),
            retry_after_s: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }
    })
}

impl Limits {
    /// The limiters for `settings`.
    pub fn new(settings: LimitSettings) -> Self {
        Limits {
            settings,
            per_token: limiter(settings.per_token),
            per_address: limiter(settings.per_address),
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one more job of `user` unless they have `max_queued_per_user` waiting.
    /// Counting is the store's (`count`, bounded by the cap), but a recent count
    /// plus what was admitted since is trusted while it stays under the cap, so a
    /// busy submitter does not pay for a count per job; near the cap, or once the
    /// count is old, it is counted again. Jobs that start meanwhile only make the
    /// estimate high, which a fresh count corrects.
    pub async fn admit_queued<F, Fut>(&self, user: i64, count: F) -> Result<(), ServiceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<u64, ServiceError>>,
    {
        let max = u64::from(self.settings.max_queued_per_user);
        if max == 0 {
            return Ok(());
        }
        if let Ok(mut waiting) = self.waiting.lock()
            && let Some((n, at)) = waiting.get_mut(&user)
            && at.elapsed() < WAITING_FRESH
            && *n + 1 < max
        {
            *n += 1;
            return Ok(());
        }
        let n = count().await?;
        self.queued(n)?;
        if let Ok(mut waiting) = self.waiting.lock() {
            if waiting.len() > PRUNE_AT {
                waiting.retain(|_, (_, at)| at.elapsed() < WAITING_FRESH);
            }
            waiting.insert(user, (n + 1, Instant::now()));
        }
        Ok(())
    }

    /// The settings in force.
    pub fn settings(&self) -> LimitSettings {
        self.settings
    }

    /// Counts a request made with the token of this hash.
    pub fn token(&self, token_hash: &str) -> Result<(), ServiceError> {
        check(
            self.per_token.as_ref(),
            &token_hash.to_string(),
            "with this token",
            self.settings.per_token,
        )
    }

    /// Counts a request from this address.
    pub fn address(&self, ip: IpAddr) -> Result<(), ServiceError> {
        check(
            self.per_address.as_ref(),
            &ip,
            "from this address",
            self.settings.per_address,
        )
    }

    /// Refuses another job for a user who has `waiting` jobs pending already.
    pub fn queued(&self, waiting: u64) -> Result<(), ServiceError> {
        let max = self.settings.max_queued_per_user;
        if max > 0 && waiting >= u64::from(max) {
            return Err(ServiceError::TooMany {
                detail: format!(
                    "you have {waiting} jobs waiting (limit: {max} per user); wait for some to start or cancel them"
                ),
                retry_after_s: 60,
            });
        }
        Ok(())
    }
}

/// Middleware: every request counts against its client address's limit.
pub async fn by_address(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = ip
        && let Err(e) = state.limits.address(ip)
    {
        return ApiError::from(e).into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_time_to_wait() {
        let l = Limits::new(LimitSettings {
            per_token: 5,
            per_address: 0,
            max_queued_per_user: 0,
            ..LimitSettings::default()
        });
        let ok = (0..50).take_while(|_| l.token("a").is_ok()).count();
        assert_eq!(ok, 10, "a burst of twice the rate");
        match l.token("a") {
            Err(ServiceError::TooMany {
                retry_after_s,
                detail,
            }) => {
                assert!((1..=1).contains(&retry_after_s), "{retry_after_s}");
                assert!(detail.contains("5 per second"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert!(l.token("b").is_ok(), "another token has its own allowance");
        assert!(
            l.address("127.0.0.1".parse().unwrap()).is_ok(),
            "0 is no limit"
        );
    }

    #[tokio::test]
    async fn a_recent_count_is_trusted_below_the_cap_and_counted_again_near_it() {
        let l = Limits::new(LimitSettings {
            per_token: 0,
            per_address: 0,
            max_queued_per_user: 5,
            ..LimitSettings::default()
        });
        let counts = std::sync::atomic::AtomicU64::new(0);
        let count = |n: u64| {
            counts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move { Ok(n) }
        };
        // 1 waiting: counted once, then trusted for jobs 2, 3 and 4.
        l.admit_queued(7, || count(1)).await.unwrap();
        l.admit_queued(7, || count(99)).await.unwrap();
        l.admit_queued(7, || count(99)).await.unwrap();
        assert_eq!(counts.load(std::sync::atomic::Ordering::Relaxed), 1);
        // The estimate (4) is near the cap: counted again, and refused when the count says 5.
        assert!(matches!(
            l.admit_queued(7, || count(5)).await,
            Err(ServiceError::TooMany { .. })
        ));
        // Jobs started meanwhile: a fresh count of 2 admits again.
        l.admit_queued(7, || count(2)).await.unwrap();
        assert_eq!(counts.load(std::sync::atomic::Ordering::Relaxed), 3);
        // Another user has their own count.
        l.admit_queued(8, || count(0)).await.unwrap();
        assert_eq!(counts.load(std::sync::atomic::Ordering::Relaxed), 4);
    }

    #[test]
    fn queued_jobs_are_capped_per_user_unless_zero() {
        let l = Limits::new(LimitSettings {
            per_token: 0,
            per_address: 0,
            max_queued_per_user: 3,
            ..LimitSettings::default()
        });
        assert!(l.queued(2).is_ok());
        assert!(matches!(l.queued(3), Err(ServiceError::TooMany { .. })));
        let off = Limits::new(LimitSettings {
            per_token: 0,
            per_address: 0,
            max_queued_per_user: 0,
            ..LimitSettings::default()
        });
        assert!(off.queued(1_000_000).is_ok());
    }
}
