//! Two or more servers on one PostgreSQL database: every server answers the
//! API; the one that holds the lead (see `aisc_store::Leadership`) also runs
//! the control loop: the scheduler and the engine.
//!
//! Until it leads, a server is a standby:
//! - jobs it accepts are stored pending, and the leader's poll queues them;
//! - what needs the control loop (the queue, nodes, cancel, release, drains)
//!   is passed on over HTTP to the leader, whose address the lease names;
//! - commands its own handlers send the control loop are answered here:
//!   submissions and grant changes need nothing (the leader reads them from
//!   the database), the rest are refused as unavailable.
//!
//! When the leader's lock is released (it stopped, or was killed) a standby
//! takes the lead, and its control loop starts as after a restart: pending
//! jobs are queued and running ones re-adopted.

use crate::AppState;
use crate::control::{Command, ControlError};
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// Whether this server leads now.
#[derive(Debug, Default)]
pub struct Role(AtomicBool);

impl Role {
    /// Leading: from now on this server's own control loop answers.
    pub fn lead(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether this server leads.
    pub fn leading(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Answers control commands while this server is a standby, until `lead`
/// resolves; then hands back the receiver for the control loop. `None` when
/// every sender is gone first (the server is stopping).
pub async fn until_leading<T>(
    mut rx: mpsc::Receiver<Command>,
    lead: impl Future<Output = T>,
) -> Option<(mpsc::Receiver<Command>, T)> {
    tokio::pin!(lead);
    loop {
        tokio::select! {
            led = &mut lead => return Some((rx, led)),
            cmd = rx.recv() => match cmd {
                Some(cmd) => answer(cmd),
                None => return None,
            },
        }
    }
}

const NO_LEADER: &str =
    "this server is a standby and no leader answered; try again in a few seconds";

fn unavailable() -> ApiError {
    ApiError::Unavailable(NO_LEADER.into())
}

/// A standby's answer to a command meant for the control loop.
fn answer(cmd: Command) {
    match cmd {
        // Stored already: the leader's poll and its periodic re-read find them.
        Command::Submitted(_) | Command::GrantsChanged => {}
        Command::Cancel { reply, .. } => {
            let _ = reply.send(Err(ControlError::Unavailable(NO_LEADER.into())));
        }
        Command::SetHeld { reply, .. } | Command::Update { reply, .. } => {
            let _ = reply.send(Err(ControlError::Unavailable(NO_LEADER.into())));
        }
        // Dropping the reply: the asker reports what it cannot know here.
        other => drop(other),
    }
}

/// The most a passed-on request body may hold (these routes take small JSON).
const MAX_PASSED_BODY: usize = 1 << 20;

/// Middleware of the routes that need the control loop (marked `leader` in
/// `api::routes`): on a standby, passes the request on to the leader.
pub async fn follow_leader(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.role.leading() {
        return next.run(req).await;
    }
    match pass_on(&state, req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn pass_on(state: &AppState, req: Request) -> Result<Response, ApiError> {
    let leader = state
        .store
        .leader()
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let Some((holder, url, _)) = leader else {
        return Err(unavailable());
    };
    let target = format!(
        "http://{url}{}",
        req.uri().path_and_query().map_or("", |p| p.as_str())
    );
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_PASSED_BODY)
        .await
        .map_err(|_| ApiError::Malformed("request body too large to pass on".into()))?;
    let mut out = state.http.request(parts.method.clone(), &target).body(body);
    for name in ["authorization", "cookie", "content-type", "accept"] {
        if let Some(v) = parts.headers.get(name) {
            out = out.header(name, v.clone());
        }
    }
    let resp = out.send().await.map_err(|e| {
        tracing::warn!(leader = %holder, error = %e, "the leader did not answer");
        unavailable()
    })?;
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    for name in ["content-type", "retry-after"] {
        if let Some(v) = resp.headers().get(name)
            && let Ok(v) = axum::http::HeaderValue::from_bytes(v.as_bytes())
        {
            headers.insert(name, v);
        }
    }
    let bytes = resp.bytes().await.map_err(|_| unavailable())?;
    Ok((status, headers, Body::from(bytes)).into_response())
}

/// A shared role, for the state.
pub fn role() -> Arc<Role> {
    Arc::new(Role::default())
}
