//! Interactive jobs' terminals over WebSockets: a user attaches to a job's
//! command (`/attach`) or runs another in its allocation (`/exec`); the job's
//! agent connects back (`/relay`, with the job's relay token). Binary frames
//! are the terminal's bytes, text frames `aisc_api::relay::Control`.

use crate::AppState;
use crate::api::extract::JobIdPath;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::relay::{FromAgent, Session, ToAgent};
use crate::service::terminals as service;
use aisc_api::relay::{Control, TOKEN_HEADER};
use aisc_model::JobId;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// The largest frame either side may send: a terminal sends keys and screens.
const MAX_FRAME: usize = 1 << 20;
/// How long a new step's agent has to connect.
const STEP_START: Duration = Duration::from_secs(30);
/// How long a user has to say what to run.
const EXEC_FIRST: Duration = Duration::from_secs(10);
/// The most bytes of a step's command line.
const MAX_ARGV_BYTES: usize = 64 * 1024;
/// How long an ended terminal stays for whoever attaches late.
const KEEP_ENDED: Duration = Duration::from_secs(60);

/// Attach to an interactive job's terminal (a WebSocket): what it showed
/// last (up to 64 KiB), then its output as binary frames; binary frames sent
/// are typed into it, `{"type":"resize","cols":C,"rows":R}` resizes it. The
/// last message is `{"type":"exit","code":N}`. The job's owner only (and
/// administrators, audited); not with a read-only token.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/attach", params(("id" = String, Path, description = "Job id")), tag = "jobs",
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 403, description = "Not the job's owner, or a read-only token", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not interactive, not started, ended, or its terminal not connected yet", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn attach(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(r): JobIdPath,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (_, session) = service::open(&state, &caller, r).await?;
    Ok(upgrade(ws)?
        .max_message_size(MAX_FRAME)
        .on_upgrade(move |socket| user_side(socket, session)))
}

/// Run a command in an interactive job's allocation (`aisc run --jobid`), as
/// a WebSocket: the first message is `{"type":"exec","argv":[...],"pty":B,
/// "cols":C,"rows":R}`; the job's agent starts it (as the job's user, in the
/// job's cgroup, with its GPUs) and the socket is then its terminal, as for
/// `/attach`.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/exec", params(("id" = String, Path, description = "Job id")), tag = "jobs",
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 403, description = "Not the job's owner, or a read-only token", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not interactive, not running, or its agent not connected yet", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn exec(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(r): JobIdPath,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (id, main) = service::open(&state, &caller, r).await?;
    Ok(upgrade(ws)?
        .max_message_size(MAX_FRAME)
        .on_upgrade(move |socket| exec_side(socket, state, id, main)))
}

/// Which of a job's terminals an agent serves.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RelayParams {
    /// 0 for the job's command, N for a step started with `/exec`.
    #[serde(default)]
    pub step: u32,
}

/// The job side of a terminal (a WebSocket), for the job agent only: it
/// presents the job's relay token (`X-Aisc-Relay-Token`), which reaches the
/// job in its environment. No user token is accepted here.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/relay", params(("id" = String, Path, description = "Job id"), RelayParams), tag = "jobs",
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, description = "No valid relay token for this job", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such step waiting", body = Problem, content_type = "application/problem+json")))]
pub async fn relay(
    State(state): State<AppState>,
    JobIdPath(r): JobIdPath,
    Query(p): Query<RelayParams>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let token = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // The same answer for a wrong token and a job that is not one: nothing to learn.
    if r.task.is_some() || !state.relay.verify(r.id, token) {
        return Err(ApiError::Unauthorized(
            "no valid relay token for this job (the X-Aisc-Relay-Token header)",
        ));
    }
    let id = r.id;
    let Some(session) = state.relay.session_for_agent(id, p.step) else {
        return Err(ApiError::NotFound(format!("step {} of job {id}", p.step)));
    };
    if p.step == 0 {
        // Whose it is and when it ends, for the portal's banner.
        let row = state.store.job(id).await.map_err(ApiError::internal)?;
        let start = row.start_ms.unwrap_or_else(crate::clock::now_ms);
        let limit_ms = i64::try_from(row.time_limit_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        session.set_owner(row.owner, start.saturating_add(limit_ms));
    }
    Ok(upgrade(ws)?
        .max_message_size(MAX_FRAME)
        .on_upgrade(move |socket| agent_side(socket, state, id, p.step, session)))
}

/// The upgrade, once the caller may have it (so that a plain request learns
/// what it may do before it learns that this is a WebSocket).
fn upgrade(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<WebSocketUpgrade, ApiError> {
    ws.map_err(|e| {
        ApiError::Malformed(format!(
            "this is a WebSocket endpoint: send an upgrade request (aisc attach and aisc run do): {e}"
        ))
    })
}

/// Passes the agent's output to the session and the users' input to the agent.
async fn agent_side(
    mut socket: WebSocket,
    state: AppState,
    id: JobId,
    step: u32,
    session: Arc<Session>,
) {
    // A reconnecting agent waits here until its old connection is gone.
    let Ok(mut input) =
        tokio::time::timeout(Duration::from_secs(30), session.agent_input.lock()).await
    else {
        finish(&mut socket, "another agent holds this terminal").await;
        return;
    };
    let known = Control::Known {
        bytes: session.received(),
    };
    if socket
        .send(Message::Text(known.to_text().into()))
        .await
        .is_err()
    {
        return;
    }
    session.set_connected(true);
    let mut exited = false;
    loop {
        // A user behind on the output holds the program back, as a terminal does.
        let behind = session.output_waits();
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(5)), if behind => {}
            m = socket.recv(), if !behind => match m {
                Some(Ok(Message::Binary(b))) => session.output(FromAgent::Data(Arc::from(&b[..]))),
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<Control>(&t) {
                    Ok(c @ Control::Exit { .. }) => {
                        session.output(FromAgent::Control(c));
                        exited = true;
                        // Every byte before it is in: the agent may go.
                        finish(&mut socket, "ended").await;
                        break;
                    }
                    Ok(c @ Control::Notice { .. }) => session.output(FromAgent::Control(c)),
                    // Nothing else is the agent's to say.
                    Ok(_) | Err(_) => tracing::debug!(job = %id, "agent sent an unknown message"),
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            i = input.recv() => {
                let sent = match i {
                    Some(ToAgent::Data(d)) => socket.send(Message::Binary(d.into())).await,
                    Some(ToAgent::Control(c)) => socket.send(Message::Text(c.to_text().into())).await,
                    None => break,
                };
                if sent.is_err() {
                    break;
                }
            }
        }
    }
    session.set_connected(false);
    drop(input);
    // Ended: kept a while for a user who attaches just after, then forgotten.
    // Gone without a word (the job killed, the node lost): forgotten unless
    // its agent is back by then (a reconnecting agent is told the relay has
    // nothing, and sends what it kept).
    tokio::spawn(async move {
        tokio::time::sleep(KEEP_ENDED).await;
        let same = state
            .relay
            .session(id, step)
            .is_some_and(|s| Arc::ptr_eq(&s, &session));
        if same && (exited || !session.connected()) {
            state.relay.remove(id, step);
        }
    });
}

/// Passes a user's keys and resizes to the session, and its output back.
async fn user_side(mut socket: WebSocket, session: Arc<Session>) {
    let attached = session.attach();
    if !attached.scrollback.is_empty()
        && socket
            .send(Message::Binary(attached.scrollback.into()))
            .await
            .is_err()
    {
        return;
    }
    if let Some(code) = attached.exit {
        let _ = socket
            .send(Message::Text(Control::Exit { code }.to_text().into()))
            .await;
        finish(&mut socket, "ended").await;
        return;
    }
    let mut rx = attached.rx;
    loop {
        tokio::select! {
            m = socket.recv() => match m {
                Some(Ok(Message::Binary(b))) => {
                    if !session.input(ToAgent::Data(b.to_vec())).await {
                        break;
                    }
                }
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<Control>(&t) {
                    Ok(Control::Resize { cols, rows }) if (1..=1000).contains(&cols) && (1..=1000).contains(&rows) => {
                        if !session.input(ToAgent::Control(Control::Resize { cols, rows })).await {
                            break;
                        }
                    }
                    _ => {
                        let text = "aisc: a terminal takes binary frames and {\"type\":\"resize\",\"cols\":1-1000,\"rows\":1-1000} only".to_string();
                        let _ = socket.send(Message::Text(Control::Notice { text }.to_text().into())).await;
                    }
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            o = rx.recv() => {
                let (msg, last) = match o {
                    Ok(FromAgent::Data(d)) => (Message::Binary(d.to_vec().into()), false),
                    Ok(FromAgent::Control(c)) => {
                        let last = matches!(c, Control::Exit { .. });
                        (Message::Text(c.to_text().into()), last)
                    }
                    Err(RecvError::Lagged(n)) => {
                        let text = format!("aisc: {n} pieces of output skipped: this connection is too slow");
                        (Message::Text(Control::Notice { text }.to_text().into()), false)
                    }
                    Err(RecvError::Closed) => break,
                };
                if socket.send(msg).await.is_err() {
                    break;
                }
                if last {
                    finish(&mut socket, "ended").await;
                    break;
                }
            }
        }
    }
}

/// Reads what to run, has the job's agent start it as a step, then serves
/// the step's terminal.
async fn exec_side(mut socket: WebSocket, state: AppState, id: JobId, main: Arc<Session>) {
    let first = tokio::time::timeout(EXEC_FIRST, socket.recv()).await;
    let asked = match first {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<Control>(&t).ok(),
        _ => None,
    };
    let Some(Control::Exec {
        argv,
        pty,
        cols,
        rows,
        ..
    }) = asked
    else {
        finish(
            &mut socket,
            "the first message must be {\"type\":\"exec\",\"argv\":[...]}",
        )
        .await;
        return;
    };
    let bytes: usize = argv.iter().map(String::len).sum();
    if argv.first().is_none_or(String::is_empty)
        || bytes > MAX_ARGV_BYTES
        || argv.iter().any(|a| a.contains('\0'))
    {
        finish(
            &mut socket,
            "argv: a program and its arguments, at most 64 KiB, without NUL",
        )
        .await;
        return;
    }
    let (step, session) = state.relay.new_step(id);
    let asked = Control::Exec {
        step,
        argv,
        pty,
        cols: cols.clamp(1, 1000),
        rows: rows.clamp(1, 1000),
    };
    if !main.input(ToAgent::Control(asked)).await {
        state.relay.remove(id, step);
        finish(&mut socket, "the job's agent is gone").await;
        return;
    }
    let deadline = tokio::time::Instant::now() + STEP_START;
    while !session.connected() && session.exit().is_none() {
        if tokio::time::Instant::now() >= deadline {
            state.relay.remove(id, step);
            finish(
                &mut socket,
                "the job's agent did not start the step in 30 s",
            )
            .await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    user_side(socket, session).await;
}

/// Closes a WebSocket properly: the close frame, then whatever the other
/// side still sends until it answers (at most 5 s). Dropping it with unread
/// data would reset the connection, and the other side could lose the last
/// frames sent to it (the exit status).
async fn finish(socket: &mut WebSocket, reason: &str) {
    if socket.send(close(reason)).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = socket.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

fn close(reason: &str) -> Message {
    // A close frame's reason is at most 123 bytes.
    let mut reason = reason.to_string();
    while reason.len() > 123 {
        reason.pop();
    }
    Message::Close(Some(CloseFrame {
        code: axum::extract::ws::close_code::POLICY,
        reason: reason.into(),
    }))
}
