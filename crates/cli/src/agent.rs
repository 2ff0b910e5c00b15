//! `aisc __pty-agent -- COMMAND...`: the job agent of an interactive job. The
//! engine starts it as the job's command (as the job's user, in its cgroup,
//! with its GPUs); it runs COMMAND on a pseudo-terminal (or on pipes) and
//! dials the server's relay with the job's relay token, so that the user's
//! terminal reaches it wherever it runs, a Slurm node the user cannot reach
//! included. It reconnects when the server restarts, keeping the latest
//! output meanwhile; it starts the commands a user runs in the allocation
//! (`aisc run --jobid`) as steps; it says when the time limit nears; and it
//! exits with COMMAND's status, which becomes the job's.

use crate::client::{Client, WebSocket};
use aisc_api::relay::{Control, SCROLLBACK_BYTES, TOKEN_HEADER};
use anyhow::{Context, Result, anyhow};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// The variables the server gives the agent, which its commands do not see.
const RELAY_VARS: [&str; 6] = [
    "AISC_RELAY_URL",
    "AISC_RELAY_TOKEN",
    "AISC_RELAY_CA_PEM",
    "AISC_RELAY_PTY",
    "AISC_RELAY_JOB",
    "AISC_RELAY_LIMIT_S",
];

/// How quiet the output of a command that has ended must be (when something
/// it left still holds its terminal open) before its end is told.
const QUIET: Duration = Duration::from_millis(150);

/// How long the agent keeps trying to tell the server a command's end.
const LAST_WORD: Duration = Duration::from_secs(60);

/// Runs the agent: the arguments after `__pty-agent`.
pub fn main(args: &[String]) -> ExitCode {
    let argv: Vec<String> = match args.first().map(String::as_str) {
        Some("--") => args[1..].to_vec(),
        _ => args.to_vec(),
    };
    // Nothing else (another job of the same Unix user included) may read this
    // process's memory or its first environment, which holds the token.
    let _ = nix::sys::prctl::set_dumpable(false);
    // Read, then taken out of the environment before any thread or command
    // starts: the commands it runs never see the token.
    let relay = Relay::from_env();
    let pty = std::env::var("AISC_RELAY_PTY").is_ok_and(|v| v == "1");
    let limit_s: u64 = std::env::var("AISC_RELAY_LIMIT_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for k in RELAY_VARS {
        remove_var(k);
    }
    let relay = match relay {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aisc agent: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aisc agent: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(relay, argv, pty, limit_s)) {
        Ok(code) => ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)),
        Err(e) => {
            eprintln!("aisc agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where the relay is and who this job is.
#[derive(Clone)]
struct Relay {
    client: Client,
    token: String,
    job: i64,
}

impl Relay {
    fn from_env() -> Result<Relay> {
        let var = |k: &str| std::env::var(k).with_context(|| format!("{k} is not set"));
        let url = var("AISC_RELAY_URL")?;
        let token = var("AISC_RELAY_TOKEN")?;
        let job = var("AISC_RELAY_JOB")?
            .parse()
            .context("AISC_RELAY_JOB is not a job id")?;
        let ca = std::env::var("AISC_RELAY_CA_PEM").ok();
        // Its own certificate, when the server serves https; nothing read from a path.
        let client = Client::for_relay(url, ca.as_deref())?;
        Ok(Relay { client, token, job })
    }

    async fn connect(&self, step: u32) -> Result<WebSocket> {
        let req = self
            .client
            .request_untokened(
                reqwest::Method::GET,
                &format!("/api/v1/jobs/{}/relay?step={step}", self.job),
            )
            .header(TOKEN_HEADER, &self.token);
        self.client.websocket(req).await
    }
}

async fn run(relay: Relay, argv: Vec<String>, pty: bool, limit_s: u64) -> Result<i32> {
    if argv.is_empty() {
        return Err(anyhow!("nothing to run: aisc __pty-agent -- COMMAND..."));
    }
    let program = match Program::start(&argv, pty, 24, 80) {
        Ok(p) => p,
        Err(e) => {
            // Said to the user at the terminal, not only to the job's log.
            eprintln!("aisc agent: {e:#}");
            cannot_start(&relay, 0, &e).await;
            return Ok(127);
        }
    };
    let notices = time_notices(relay.job, limit_s);
    serve(relay, 0, program, notices).await
}

#[allow(unsafe_code)]
fn remove_var(k: &str) {
    // SAFETY: called before the agent starts any thread (its runtime
    // included) or any child: no other reader of the environment exists.
    unsafe { std::env::remove_var(k) }
}

/// Messages to show before the time limit: 15 and 5 minutes before it.
fn time_notices(job: i64, limit_s: u64) -> Vec<(Duration, String)> {
    let mut out = Vec::new();
    for left in [15u64, 5] {
        if limit_s > left * 60 {
            out.push((
                Duration::from_secs(limit_s - left * 60),
                format!(
                    "aisc: job {job} has {left} minutes left before its time limit; save your work"
                ),
            ));
        }
    }
    out
}

/// A command the agent runs: its output, its input, and its end.
struct Program {
    child: tokio::process::Child,
    output: mpsc::Receiver<Vec<u8>>,
    input: Input,
}

/// Where the user's keys go.
enum Input {
    /// The pseudo-terminal (which also takes the window's size).
    Pty(pty_process::OwnedWritePty),
    /// The command's standard input.
    Pipe(tokio::process::ChildStdin),
    /// Nowhere (its input was closed).
    Closed,
}

impl Program {
    fn start(argv: &[String], pty: bool, rows: u16, cols: u16) -> Result<Program> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| anyhow!("nothing to run"))?;
        let (tx, output) = mpsc::channel(64);
        if pty {
            let (p, pts) = pty_process::open().context("cannot open a pseudo-terminal")?;
            p.resize(pty_process::Size::new(rows.max(1), cols.max(1)))
                .context("cannot size the pseudo-terminal")?;
            let term = std::env::var("TERM").unwrap_or_else(|_| "xterm-256color".into());
            let child = pty_process::Command::new(program)
                .args(args)
                .env("TERM", term)
                .spawn(pts)
                .with_context(|| format!("cannot start {program}"))?;
            let (reader, writer) = p.into_split();
            tokio::spawn(pump(reader, tx));
            Ok(Program {
                child,
                output,
                input: Input::Pty(writer),
            })
        } else {
            let mut child = tokio::process::Command::new(program)
                .args(args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .with_context(|| format!("cannot start {program}"))?;
            if let Some(out) = child.stdout.take() {
                tokio::spawn(pump(out, tx.clone()));
            }
            if let Some(err) = child.stderr.take() {
                tokio::spawn(pump(err, tx));
            }
            let input = match child.stdin.take() {
                Some(i) => Input::Pipe(i),
                None => Input::Closed,
            };
            Ok(Program {
                child,
                output,
                input,
            })
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        // An empty frame is the end of the user's input (a pipe that closed).
        if bytes.is_empty() && matches!(self.input, Input::Pipe(_)) {
            self.input = Input::Closed;
            return;
        }
        let ok = match &mut self.input {
            Input::Pty(w) => w.write_all(bytes).await.and(w.flush().await).is_ok(),
            Input::Pipe(w) => w.write_all(bytes).await.and(w.flush().await).is_ok(),
            Input::Closed => true,
        };
        if !ok {
            self.input = Input::Closed;
        }
    }

    fn resize(&self, rows: u16, cols: u16) {
        if let Input::Pty(w) = &self.input {
            let _ = w.resize(pty_process::Size::new(rows, cols));
        }
    }

    /// Hangs up on the command, as a terminal closing does: SIGHUP, then
    /// SIGTERM, to its process group (its own session's, on a terminal).
    fn hang_up(&self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let group = nix::unistd::Pid::from_raw(pid);
            for sig in [nix::sys::signal::SIGHUP, nix::sys::signal::SIGTERM] {
                let _ = nix::sys::signal::killpg(group, sig);
            }
        }
    }
}

/// Reads a stream to the end, chunk by chunk, onto `tx`.
async fn pump(mut from: impl AsyncRead + Unpin, tx: mpsc::Sender<Vec<u8>>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            // A pseudo-terminal whose last user closed it reads EIO: its end.
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx.send(buf[..n].to_vec()).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// An exit status as the shell reports it: the code, or 128+N for signal N.
fn status_code(s: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt as _;
    s.code()
        .or_else(|| s.signal().map(|n| 128 + n))
        .unwrap_or(1)
}

/// Serves one command's terminal until it ends: its output to the relay
/// (the latest [`SCROLLBACK_BYTES`] kept for a relay that has not seen them:
/// one that was unreachable, or a restarted server),
/// the relay's input and resizes to it, steps started on the relay's word
/// (step 0 only), and its end told last. Returns its status.
async fn serve(
    relay: Relay,
    step: u32,
    mut program: Program,
    notices: Vec<(Duration, String)>,
) -> Result<i32> {
    let started = tokio::time::Instant::now();
    let mut notices: VecDeque<(tokio::time::Instant, String)> = notices
        .into_iter()
        .map(|(after, text)| (started + after, text))
        .collect();
    // The latest output, and how many bytes were produced in all: what a
    // relay that has not seen it all is sent on connecting.
    let mut history: VecDeque<u8> = VecDeque::new();
    let mut produced: u64 = 0;
    let mut status: Option<i32> = None;
    let mut output_open = true;
    let mut ended_at: Option<tokio::time::Instant> = None;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    let mut backoff = Duration::from_millis(200);
    loop {
        let mut ws = match relay.connect(step).await {
            Ok(ws) => {
                backoff = Duration::from_millis(200);
                ws
            }
            Err(e) => {
                if let Some(t) = ended_at
                    && t.elapsed() > LAST_WORD
                {
                    eprintln!("aisc agent: could not tell the relay the end: {e:#}");
                    return Ok(status.unwrap_or(1));
                }
                eprintln!("aisc agent: relay unreachable ({e:#}); retrying");
                // Meanwhile the command runs on and its output is kept.
                let wait = tokio::time::sleep(backoff);
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        () = &mut wait => break,
                        chunk = program.output.recv(), if output_open => match chunk {
                            Some(c) => {
                                keep(&mut history, &c);
                                produced += c.len() as u64;
                            }
                            None => output_open = false,
                        },
                        s = program.child.wait(), if status.is_none() => {
                            status = Some(s.map(status_code).unwrap_or(1));
                            ended_at = Some(tokio::time::Instant::now());
                        }
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        // The relay says how much it has; it gets the rest that was kept.
        let known = match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str::<Control>(&t) {
                Ok(Control::Known { bytes }) => bytes,
                _ => produced,
            },
            _ => continue,
        };
        let missing = usize::try_from(produced.saturating_sub(known))
            .unwrap_or(usize::MAX)
            .min(history.len());
        if missing > 0 {
            let bytes: Vec<u8> = history
                .iter()
                .skip(history.len() - missing)
                .copied()
                .collect();
            if ws.send(Message::Binary(bytes.into())).await.is_err() {
                continue;
            }
        }
        // Output the command wrote after it ended reaches the user before its end.
        let drain = tokio::time::sleep(Duration::from_millis(150));
        tokio::pin!(drain);
        let lost = loop {
            let next_notice = notices.front().map(|(at, _)| *at);
            tokio::select! {
                chunk = program.output.recv(), if output_open => match chunk {
                    Some(c) => {
                        keep(&mut history, &c);
                        produced += c.len() as u64;
                        if ws.send(Message::Binary(c.into())).await.is_err() {
                            break true;
                        }
                        // After the end, its output goes on until it has been quiet a while.
                        if status.is_some() {
                            drain.as_mut().reset(tokio::time::Instant::now() + QUIET);
                        }
                    }
                    None => {
                        output_open = false;
                        drain.as_mut().reset(tokio::time::Instant::now());
                    }
                },
                s = program.child.wait(), if status.is_none() => {
                    status = Some(s.map(status_code).unwrap_or(1));
                    ended_at = Some(tokio::time::Instant::now());
                    let wait = if output_open { QUIET } else { Duration::ZERO };
                    drain.as_mut().reset(tokio::time::Instant::now() + wait);
                }
                () = &mut drain, if status.is_some() => {
                    let code = status.unwrap_or(1);
                    let said = ws.send(Message::Text(Control::Exit { code }.to_text().into())).await;
                    if said.is_err() {
                        break true;
                    }
                    // The relay closes once it has everything: only then may the job end.
                    let acked = tokio::time::timeout(Duration::from_secs(10), async {
                        while let Some(Ok(m)) = ws.next().await {
                            if matches!(m, Message::Close(_)) {
                                return true;
                            }
                        }
                        true
                    })
                    .await;
                    if acked.is_err() {
                        eprintln!("aisc agent: the relay did not acknowledge the end");
                    }
                    return Ok(code);
                }
                () = sleep_until(next_notice), if next_notice.is_some() => {
                    if let Some((_, text)) = notices.pop_front() {
                        let _ = ws.send(Message::Text(Control::Notice { text }.to_text().into())).await;
                    }
                }
                _ = term.recv() => {
                    let text = format!("aisc: job {} is being stopped (cancelled, requeued or at its time limit)", relay.job);
                    let _ = ws.send(Message::Text(Control::Notice { text }.to_text().into())).await;
                    program.hang_up();
                }
                m = ws.next() => match m {
                    Some(Ok(Message::Binary(b))) => program.write(&b).await,
                    Some(Ok(Message::Text(t))) => match serde_json::from_str::<Control>(&t) {
                        Ok(Control::Resize { cols, rows }) => program.resize(rows, cols),
                        Ok(Control::Exec { step: n, argv, pty, cols, rows }) if step == 0 && n > 0 => {
                            start_step(relay.clone(), n, argv, pty, rows, cols);
                        }
                        _ => {}
                    },
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break true,
                    Some(Ok(_)) => {}
                },
            }
        };
        if lost {
            eprintln!("aisc agent: lost the relay; reconnecting");
        }
    }
}

/// Starts a step a user asked for: its own command and its own connection.
fn start_step(relay: Relay, step: u32, argv: Vec<String>, pty: bool, rows: u16, cols: u16) {
    tokio::spawn(async move {
        match Program::start(&argv, pty, rows, cols) {
            Ok(p) => {
                if let Err(e) = serve(relay, step, p, Vec::new()).await {
                    eprintln!("aisc agent: step {step}: {e:#}");
                }
            }
            Err(e) => cannot_start(&relay, step, &e).await,
        }
    });
}

/// Tells whoever waits at a terminal that its command could not start
/// (status 127, as a shell says of a missing program).
async fn cannot_start(relay: &Relay, step: u32, e: &anyhow::Error) {
    if let Ok(mut ws) = relay.connect(step).await {
        let text = format!("aisc: {e:#}");
        let _ = ws
            .send(Message::Text(Control::Notice { text }.to_text().into()))
            .await;
        let _ = ws
            .send(Message::Text(Control::Exit { code: 127 }.to_text().into()))
            .await;
        let _ = ws.close(None).await;
    }
}

/// Keeps the latest output, for a relay that has not seen it.
fn keep(history: &mut VecDeque<u8>, chunk: &[u8]) {
    history.extend(chunk);
    let over = history.len().saturating_sub(SCROLLBACK_BYTES);
    history.drain(..over);
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_come_15_and_5_minutes_before_the_limit_and_only_when_there_is_time() {
        let n = time_notices(4, 3600);
        assert_eq!(
            n.iter().map(|(d, _)| d.as_secs()).collect::<Vec<_>>(),
            vec![2700, 3300]
        );
        assert!(n[0].1.contains("15 minutes") && n[0].1.contains("job 4"));
        assert_eq!(time_notices(4, 600).len(), 1, "a 10-minute job hears of 5");
        assert!(time_notices(4, 0).is_empty(), "no limit, no notice");
    }

    #[test]
    fn output_kept_while_away_is_the_latest() {
        let mut held = VecDeque::new();
        keep(&mut held, &vec![b'a'; SCROLLBACK_BYTES]);
        keep(&mut held, b"end");
        assert_eq!(held.len(), SCROLLBACK_BYTES);
        assert!(held.iter().rev().take(3).eq(b"dne".iter()));
    }
}
