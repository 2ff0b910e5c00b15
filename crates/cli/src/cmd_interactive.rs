//! Interactive jobs: `aisc run` (as `srun`), `aisc alloc` (as `salloc`) and
//! `aisc attach`. The job's command runs under the job agent, which dials
//! the server; this side attaches to it through the server too (a WebSocket
//! each way), so it works wherever the job runs. Keys go as typed (Ctrl-C
//! included: the job's terminal sends the signal), the window's size follows
//! this terminal's, and Ctrl-] detaches, leaving the job running.

use crate::client::{Client, WebSocket};
use crate::cmd_submit::{JobFlags, build_request};
use aisc_api::relay::Control;
use aisc_model::request::Interactive;
use anyhow::{Context, Result, bail};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// The key that detaches: Ctrl-] (as telnet's escape).
const DETACH: u8 = 0x1d;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// What the job asks for, as `srun` spells it.
    #[command(flatten)]
    job: JobFlags,
    /// Give the command a pseudo-terminal (a shell, an editor, a REPL), as `srun --pty`.
    #[arg(long)]
    pty: bool,
    /// Run the command in this job's allocation (an interactive job of yours,
    /// e.g. one `aisc alloc` holds) instead of starting a job.
    #[arg(long, value_name = "ID")]
    jobid: Option<i64>,
    /// The command and its arguments (after `--` when they start with `-`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND",
        required = true
    )]
    command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AllocArgs {
    /// What the allocation asks for, as `salloc` spells it.
    #[command(flatten)]
    job: JobFlags,
    /// The command to run in it (default: your $SHELL, else /bin/bash).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The interactive job.
    id: i64,
}

/// `aisc run`: a job whose command's terminal is this one.
pub async fn run(a: RunArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    if let Some(id) = a.jobid {
        let (cols, rows) = window();
        let exec = Control::Exec {
            step: 0,
            argv: a.command.clone(),
            pty: a.pty,
            cols,
            rows,
        };
        let req = client.request(reqwest::Method::GET, &format!("/api/v1/jobs/{id}/exec"));
        let mut ws = client.websocket(req).await?;
        ws.send(Message::Text(exec.to_text().into())).await?;
        return session(&client, id, ws, a.pty).await;
    }
    start(&client, &a.job, a.command, a.pty, "").await
}

/// `aisc alloc`: an allocation with a shell in it.
pub async fn alloc(a: AllocArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let command = if a.command.is_empty() {
        vec![std::env::var("SHELL").unwrap_or_else(|_| "/bin/bash".into())]
    } else {
        a.command
    };
    start(&client, &a.job, command, true, "granted job allocation").await
}

/// `aisc attach`: back to an interactive job's terminal.
pub async fn attach(a: AttachArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    let ws = connect(&client, a.id).await?;
    session(&client, a.id, ws, true).await
}

#[derive(Debug, Deserialize)]
struct Submitted {
    id: i64,
    warnings: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct JobState {
    state: String,
    reason: String,
    exit_code: Option<i32>,
}

/// Submits the job, waits for it to start (Ctrl-C meanwhile cancels it, as
/// with `srun`), then attaches.
async fn start(
    client: &Client,
    flags: &JobFlags,
    command: Vec<String>,
    pty: bool,
    granted: &str,
) -> Result<ExitCode> {
    let mut req = build_request(flags, None, &[], &command)?;
    req.interactive = Some(Interactive { pty });
    let submitted: Submitted = client.post_json("/api/v1/jobs", &req).await?;
    let id = submitted.id;
    if !flags.quiet {
        for w in &submitted.warnings {
            eprintln!("aisc: warning: {w}");
        }
    }
    let mut said_waiting = false;
    let submitted_at = tokio::time::Instant::now();
    loop {
        let job: JobState = client.get_json(&format!("/api/v1/jobs/{id}")).await?;
        match job.state.as_str() {
            "running" => break,
            "pending" | "admitted" => {
                // As srun: said only of a job that does not start at once.
                if !said_waiting && !flags.quiet && submitted_at.elapsed() > Duration::from_secs(1)
                {
                    eprintln!(
                        "aisc: job {id} queued and waiting for resources ({})",
                        job.reason
                    );
                    said_waiting = true;
                }
            }
            _ => {
                // Ended before this side attached: what its terminal said, if
                // the server still has it (why it could not start, say).
                let req =
                    client.request(reqwest::Method::GET, &format!("/api/v1/jobs/{id}/attach"));
                return match client.websocket(req).await {
                    Ok(ws) => session(client, id, ws, false).await,
                    Err(_) => Ok(ended(id, &job)),
                };
            }
        }
        tokio::select! {
            () = tokio::time::sleep(pause(submitted_at)) => {}
            _ = tokio::signal::ctrl_c() => {
                let _ = client.send(client.request(reqwest::Method::POST, &format!("/api/v1/jobs/{id}/cancel"))).await;
                eprintln!("aisc: job {id} cancelled while it waited");
                return Ok(ExitCode::from(130));
            }
        }
    }
    if !flags.quiet {
        if granted.is_empty() {
            eprintln!("aisc: job {id} running");
        } else {
            eprintln!("aisc: {granted} {id}");
        }
    }
    let ws = connect(client, id).await?;
    session(client, id, ws, pty).await
}

/// Attaches, waiting a little for a just-started job's agent to dial in.
async fn connect(client: &Client, id: i64) -> Result<WebSocket> {
    let began = tokio::time::Instant::now();
    let deadline = began + Duration::from_secs(60);
    loop {
        let req = client.request(reqwest::Method::GET, &format!("/api/v1/jobs/{id}/attach"));
        match client.websocket(req).await {
            Ok(ws) => return Ok(ws),
            Err(e)
                if e.to_string().contains("has not connected yet")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(pause(began)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// How long to wait before asking again: often in the first two seconds (a
/// job that starts at once is a prompt the user waits for), then 5 times a second.
fn pause(since: tokio::time::Instant) -> Duration {
    if since.elapsed() < Duration::from_secs(2) {
        Duration::from_millis(20)
    } else {
        Duration::from_millis(200)
    }
}

/// How a job that ended says so, and the status to exit with.
fn ended(id: i64, job: &JobState) -> ExitCode {
    eprintln!("aisc: job {id} {}: {}", job.state, job.reason);
    let code = job
        .exit_code
        .and_then(|c| u8::try_from(c).ok())
        .filter(|c| *c != 0)
        .unwrap_or(1);
    ExitCode::from(if job.state == "completed" { 0 } else { code })
}

/// This terminal's size: columns and rows (80x24 when it is not a terminal).
fn window() -> (u16, u16) {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .ok()
        .filter(|w| w.ws_col > 0 && w.ws_row > 0)
        .map_or((80, 24), |w| (w.ws_col, w.ws_row))
}

/// This terminal in raw mode while it lives (keys go to the job as typed),
/// restored after.
struct Raw {
    saved: Option<rustix::termios::Termios>,
}

impl Raw {
    fn new(want: bool) -> Raw {
        let stdin = std::io::stdin();
        let saved = if want && rustix::termios::isatty(&stdin) {
            rustix::termios::tcgetattr(&stdin).ok()
        } else {
            None
        };
        if let Some(t) = &saved {
            let mut raw = t.clone();
            raw.make_raw();
            let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw);
        }
        Raw { saved }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                t,
            );
        }
    }
}

/// Keys from this terminal, read on a thread of their own (a blocked read
/// never holds up the end).
fn keys() -> tokio::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match std::io::Read::read(&mut std::io::stdin(), &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// The attached session: keys out, output in, until the command ends, the
/// job ends, or the user detaches.
async fn session(client: &Client, id: i64, mut ws: WebSocket, pty: bool) -> Result<ExitCode> {
    let raw = Raw::new(pty);
    let (cols, rows) = window();
    // A terminal that has ended answers with what it showed and its end.
    let _ = ws
        .send(Message::Text(
            Control::Resize { cols, rows }.to_text().into(),
        ))
        .await;
    let mut keys = keys();
    let mut keys_open = true;
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        .context("cannot watch the window's size")?;
    // The job's state, every 2 s: a job that ended without its terminal
    // saying so (killed with its agent) ends the session 2 s later, so that
    // an exit status on its way is read first.
    let every = Duration::from_secs(2);
    let mut check = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut ended_job: Option<JobState> = None;
    let mut out = std::io::stdout();
    let nl = if raw.saved.is_some() { "\r\n" } else { "\n" };
    loop {
        tokio::select! {
            k = keys.recv(), if keys_open => match k {
                Some(k) => {
                    if pty && k.contains(&DETACH) {
                        drop(raw);
                        eprintln!("\naisc: detached from job {id}; it runs on (aisc attach {id} to return, aisc cancel {id} to end it)");
                        return Ok(ExitCode::SUCCESS);
                    }
                    if ws.send(Message::Binary(k.into())).await.is_err() {
                        break;
                    }
                }
                // The input ended (a pipe): the command's input ends too, as with srun.
                None => {
                    keys_open = false;
                    if !pty {
                        let _ = ws.send(Message::Binary(Vec::new().into())).await;
                    }
                }
            },
            _ = winch.recv() => {
                let (cols, rows) = window();
                let _ = ws.send(Message::Text(Control::Resize { cols, rows }.to_text().into())).await;
            }
            m = ws.next() => match m {
                Some(Ok(Message::Binary(b))) => {
                    out.write_all(&b)?;
                    out.flush()?;
                }
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<Control>(&t) {
                    Ok(Control::Exit { code }) => {
                        drop(raw);
                        return Ok(ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)));
                    }
                    Ok(Control::Notice { text }) => {
                        write!(out, "{nl}{text}{nl}")?;
                        out.flush()?;
                    }
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = check.tick() => {
                if let Some(job) = ended_job.take() {
                    drop(raw);
                    return Ok(ended(id, &job));
                }
                let job: JobState = client.get_json(&format!("/api/v1/jobs/{id}")).await?;
                if !matches!(job.state.as_str(), "running" | "admitted" | "pending") {
                    ended_job = Some(job);
                }
            }
        }
    }
    drop(raw);
    // The connection ended without the command's end: say how the job stands.
    let job: JobState = client.get_json(&format!("/api/v1/jobs/{id}")).await?;
    if matches!(job.state.as_str(), "running" | "admitted" | "pending") {
        bail!("lost the connection to job {id}, which runs on: aisc attach {id}");
    }
    Ok(ended(id, &job))
}
