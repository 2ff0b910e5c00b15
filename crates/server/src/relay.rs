//! The terminal relay. An interactive job (`aisc run`, `aisc alloc`) runs its
//! command under the job agent (`aisc __pty-agent`), which connects back to
//! this server over a WebSocket with the job's relay token; its users attach
//! over another with their own tokens. The server passes bytes between them
//! and keeps the last [`SCROLLBACK_BYTES`] for whoever attaches later, so that
//! a user may leave and come back (`aisc attach`). Nothing of a job's
//! terminal is reachable except through the server's authentication, and
//! the job needs no address the user could reach: it dials out.
//!
//! The relay token is an HMAC of the job's id under a key derived from the
//! master key (every server sharing the database derives the same one, so a
//! job's agent reconnects to whichever leads after a restart). It reaches the
//! job in its environment only, is never stored, and is checked against the
//! keys of every master key still held, so that a key rotation does not cut
//! running sessions off.

use aisc_api::relay::{Control, SCROLLBACK_BYTES};
use aisc_model::JobId;
use aisc_model::request::{Interactive, JobCommand, JobSpec};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{broadcast, mpsc};

/// Pieces of output unread by an attached user at which the agent's
/// connection waits (below the broadcast's capacity, so nothing is evicted).
pub const HIGH_WATER: usize = 512;

/// The variable that tells the agent where the server is.
pub const URL_VAR: &str = "AISC_RELAY_URL";
/// The variable that carries the job's relay token.
pub const TOKEN_VAR: &str = "AISC_RELAY_TOKEN";
/// The variable that carries the server's certificate (PEM) when it serves https.
pub const CA_VAR: &str = "AISC_RELAY_CA_PEM";
/// The variable that says whether the agent gives the command a pseudo-terminal.
pub const PTY_VAR: &str = "AISC_RELAY_PTY";
/// The variable that names the job to the relay.
pub const JOB_VAR: &str = "AISC_RELAY_JOB";
/// The variable that gives the agent the job's time limit, seconds.
pub const LIMIT_VAR: &str = "AISC_RELAY_LIMIT_S";

/// What goes to a job's agent: the user's keys, or a control message.
#[derive(Debug, Clone)]
pub enum ToAgent {
    /// Bytes typed.
    Data(Vec<u8>),
    /// A resize, or a step to start.
    Control(Control),
}

/// What comes from a job's agent to its users.
#[derive(Debug, Clone)]
pub enum FromAgent {
    /// The program's output.
    Data(Arc<[u8]>),
    /// Its exit, or a notice.
    Control(Control),
}

/// One terminal: a job's command (step 0) or a command run in it later.
#[derive(Debug)]
pub struct Session {
    input: mpsc::Sender<ToAgent>,
    /// Taken by the agent's connection for as long as it lasts.
    pub(crate) agent_input: tokio::sync::Mutex<mpsc::Receiver<ToAgent>>,
    out: Mutex<Output>,
    made: std::time::Instant,
}

/// How long a terminal's output is kept whole for its first user (`aisc run`
/// attaches as soon as the job runs); after that only the scrollback is.
pub const FIRST_USER_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// How much output is kept whole for the first user before the program waits.
pub const FIRST_USER_BYTES: usize = 8 << 20;

#[derive(Debug)]
struct Output {
    scrollback: VecDeque<u8>,
    tx: broadcast::Sender<FromAgent>,
    exit: Option<i32>,
    /// Bytes of output received from the agent, in all.
    received: u64,
    /// An agent is connected now.
    connected: bool,
    /// Someone has attached.
    attached_once: bool,
    /// Until then, every byte of output (up to [`FIRST_USER_BYTES`], for at
    /// most [`FIRST_USER_WAIT`]): the first user gets it all, not only the
    /// scrollback, so that `aisc run -- CMD | wc -c` counts every byte.
    first: Vec<u8>,
    /// The job's owner and when its time limit falls (epoch ms), once known.
    owner: Option<(aisc_model::UserId, i64)>,
}

/// What a user attaching gets: what was shown before, and what follows.
#[derive(Debug)]
pub struct Attached {
    /// The last output, up to [`SCROLLBACK_BYTES`].
    pub scrollback: Vec<u8>,
    /// The output from now on.
    pub rx: broadcast::Receiver<FromAgent>,
    /// The exit status, when the program has ended.
    pub exit: Option<i32>,
}

impl Session {
    fn new() -> Session {
        let (input, agent_input) = mpsc::channel(256);
        let (tx, _) = broadcast::channel(1024);
        Session {
            input,
            agent_input: tokio::sync::Mutex::new(agent_input),
            made: std::time::Instant::now(),
            out: Mutex::new(Output {
                scrollback: VecDeque::new(),
                tx,
                exit: None,
                received: 0,
                connected: false,
                attached_once: false,
                first: Vec::new(),
                owner: None,
            }),
        }
    }

    fn out(&self) -> std::sync::MutexGuard<'_, Output> {
        self.out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The scrollback and a subscription, taken together so nothing falls between.
    pub fn attach(&self) -> Attached {
        let mut out = self.out();
        let scrollback = if out.attached_once || self.made.elapsed() >= FIRST_USER_WAIT {
            out.scrollback.iter().copied().collect()
        } else {
            std::mem::take(&mut out.first)
        };
        out.attached_once = true;
        out.first = Vec::new();
        Attached {
            scrollback,
            rx: out.tx.subscribe(),
            exit: out.exit,
        }
    }

    /// Whether the agent's output should wait (the agent's connection stops
    /// reading, so that the program's output waits for its slowest reader, as
    /// on a terminal, instead of being lost): an attached user is
    /// [`HIGH_WATER`] pieces behind, or the first user, not there yet, has
    /// [`FIRST_USER_BYTES`] waiting (for at most [`FIRST_USER_WAIT`]).
    pub fn output_waits(&self) -> bool {
        let out = self.out();
        out.tx.len() >= HIGH_WATER
            || (!out.attached_once
                && out.first.len() >= FIRST_USER_BYTES
                && self.made.elapsed() < FIRST_USER_WAIT)
    }

    /// Output from the agent: kept and sent to whoever is attached.
    pub fn output(&self, msg: FromAgent) {
        let mut out = self.out();
        let kept: Option<Vec<u8>> = match &msg {
            FromAgent::Data(bytes) => {
                out.received += bytes.len() as u64;
                Some(bytes.to_vec())
            }
            // A notice is kept as a line of its own, for whoever attaches later.
            FromAgent::Control(Control::Notice { text }) => {
                Some(format!("\r\n{text}\r\n").into_bytes())
            }
            FromAgent::Control(Control::Exit { code }) => {
                out.exit = Some(*code);
                None
            }
            FromAgent::Control(_) => None,
        };
        if let Some(bytes) = kept {
            if !out.attached_once && self.made.elapsed() < FIRST_USER_WAIT {
                out.first.extend_from_slice(&bytes);
            } else if !out.first.is_empty() {
                out.first = Vec::new();
            }
            out.scrollback.extend(bytes);
            let over = out.scrollback.len().saturating_sub(SCROLLBACK_BYTES);
            out.scrollback.drain(..over);
        }
        let _ = out.tx.send(msg);
    }

    /// Sends the user's keys or a control message to the agent; waits while
    /// the agent is behind (the user's typing waits, nothing else does).
    pub async fn input(&self, msg: ToAgent) -> bool {
        self.input.send(msg).await.is_ok()
    }

    /// Whether the program has ended, and how.
    pub fn exit(&self) -> Option<i32> {
        self.out().exit
    }

    /// Bytes of output received from the agent, in all.
    pub fn received(&self) -> u64 {
        self.out().received
    }

    /// Whose terminal this is, and when its job's time limit falls (epoch ms).
    pub fn set_owner(&self, owner: aisc_model::UserId, deadline_ms: i64) {
        self.out().owner = Some((owner, deadline_ms));
    }

    /// Notes that an agent connected or left.
    pub fn set_connected(&self, connected: bool) {
        self.out().connected = connected;
    }

    /// Whether an agent is connected now.
    pub fn connected(&self) -> bool {
        self.out().connected
    }
}

/// The relay: its keys, where jobs reach it, and the live terminals.
#[derive(Debug)]
pub struct Relay {
    /// Derived from each master key held, the current one first.
    keys: Vec<[u8; 32]>,
    /// Where jobs reach this server (set once it listens).
    url: OnceLock<String>,
    /// The agent: this program and its subcommand.
    agent: Vec<String>,
    /// The server's certificate, when it serves https.
    ca_pem: Option<String>,
    sessions: Mutex<HashMap<(JobId, u32), Arc<Session>>>,
    next_step: AtomicU32,
}

/// The purpose the relay's key is derived for.
const PURPOSE: &str = "job relay tokens v1";

impl Relay {
    /// A relay with tokens keyed by `masters`, starting jobs' agents as `agent`.
    pub fn new(
        masters: &aisc_vault::MasterKeys,
        agent: Vec<String>,
        ca_pem: Option<String>,
    ) -> Relay {
        Relay {
            keys: masters.all().iter().map(|m| m.derive(PURPOSE)).collect(),
            url: OnceLock::new(),
            agent,
            ca_pem,
            sessions: Mutex::new(HashMap::new()),
            next_step: AtomicU32::new(1),
        }
    }

    /// Sets where jobs reach this server, once (later calls change nothing).
    pub fn set_url(&self, url: String) {
        let _ = self.url.set(url);
    }

    fn token_with(key: &[u8; 32], job: JobId) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(format!("job:{}", job.0).as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The job's relay token.
    pub fn token(&self, job: JobId) -> Option<String> {
        self.keys.first().map(|k| Relay::token_with(k, job))
    }

    /// Whether `token` is the job's, under any key held (in constant time).
    pub fn verify(&self, job: JobId, token: &str) -> bool {
        self.keys
            .iter()
            .any(|k| crate::auth::same(&Relay::token_with(k, job), token))
    }

    /// What the engine starts for an interactive job: its command under the
    /// agent, with where to reach the relay and the token in its environment.
    /// Any other job is given back as it is.
    pub fn wrap(&self, job: JobId, mut spec: JobSpec) -> JobSpec {
        let Some(Interactive { pty }) = spec.interactive else {
            return spec;
        };
        let JobCommand::Argv(argv) = &spec.command else {
            return spec;
        };
        let mut wrapped = self.agent.clone();
        wrapped.push("--".into());
        wrapped.extend(argv.iter().cloned());
        spec.command = JobCommand::Argv(wrapped);
        if let Some(url) = self.url.get() {
            spec.env.insert(URL_VAR.into(), url.clone());
        }
        if let Some(token) = self.token(job) {
            spec.env.insert(TOKEN_VAR.into(), token);
        }
        if let Some(pem) = &self.ca_pem {
            spec.env.insert(CA_VAR.into(), pem.clone());
        }
        spec.env
            .insert(PTY_VAR.into(), if pty { "1" } else { "0" }.into());
        spec.env.insert(JOB_VAR.into(), job.0.to_string());
        spec.env
            .insert(LIMIT_VAR.into(), spec.time_limit_s.to_string());
        spec
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<(JobId, u32), Arc<Session>>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The terminal of a job's step, made when its agent first connects.
    pub fn session_for_agent(&self, job: JobId, step: u32) -> Option<Arc<Session>> {
        let mut sessions = self.sessions();
        if step == 0 {
            Some(
                sessions
                    .entry((job, 0))
                    .or_insert_with(|| Arc::new(Session::new()))
                    .clone(),
            )
        } else {
            // A step's terminal is made when a user asks for it, never by an agent.
            sessions.get(&(job, step)).cloned()
        }
    }

    /// The terminal of a job's step, if its agent has connected.
    pub fn session(&self, job: JobId, step: u32) -> Option<Arc<Session>> {
        self.sessions().get(&(job, step)).cloned()
    }

    /// A new step's terminal in a job, for a command a user runs in it.
    pub fn new_step(&self, job: JobId) -> (u32, Arc<Session>) {
        let step = self.next_step.fetch_add(1, Ordering::Relaxed);
        let session = Arc::new(Session::new());
        self.sessions().insert((job, step), session.clone());
        (step, session)
    }

    /// `user`'s live terminals whose time limit falls within `within_ms` of
    /// `now_ms`: each job and its minutes left (the portal's banner).
    pub fn ending_soon(
        &self,
        user: aisc_model::UserId,
        now_ms: i64,
        within_ms: i64,
    ) -> Vec<(JobId, i64)> {
        let sessions: Vec<(JobId, Arc<Session>)> = self
            .sessions()
            .iter()
            .filter(|((_, step), _)| *step == 0)
            .map(|((job, _), s)| (*job, s.clone()))
            .collect();
        let mut soon: Vec<(JobId, i64)> = sessions
            .into_iter()
            .filter_map(|(job, s)| {
                let out = s.out();
                let (owner, deadline) = out.owner?;
                let left = deadline - now_ms;
                (owner == user && out.exit.is_none() && out.connected && left <= within_ms)
                    .then_some((job, (left.max(0) + 59_999) / 60_000))
            })
            .collect();
        soon.sort();
        soon
    }

    /// Forgets a terminal (its program ended, or its agent never came).
    pub fn remove(&self, job: JobId, step: u32) {
        self.sessions().remove(&(job, step));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay() -> Relay {
        let masters = aisc_vault::MasterKeys::from_keys(vec![aisc_vault::MasterKey::generate()]);
        Relay::new(
            &masters,
            vec!["/usr/bin/aisc".into(), "__pty-agent".into()],
            None,
        )
    }

    #[test]
    fn a_token_opens_its_own_job_only_and_survives_a_key_rotation() {
        let r = relay();
        let t = r.token(JobId(7)).expect("a key");
        assert!(r.verify(JobId(7), &t));
        assert!(!r.verify(JobId(8), &t));
        assert!(!r.verify(JobId(7), &t[..t.len() - 1]));
        assert!(!r.verify(JobId(7), ""));
        // Another server with the same master key agrees; one with another does not.
        let first = aisc_vault::MasterKey::generate();
        let a = Relay::new(
            &aisc_vault::MasterKeys::from_keys(vec![first.clone()]),
            vec![],
            None,
        );
        let rotated =
            aisc_vault::MasterKeys::from_keys(vec![aisc_vault::MasterKey::generate(), first]);
        let b = Relay::new(&rotated, vec![], None);
        let old = a.token(JobId(1)).expect("a key");
        assert!(
            b.verify(JobId(1), &old),
            "a rotation keeps the old key's tokens"
        );
        assert_ne!(b.token(JobId(1)), Some(old), "new tokens use the new key");
        assert!(!r.verify(JobId(1), &b.token(JobId(1)).expect("a key")));
    }

    #[test]
    fn only_interactive_jobs_are_wrapped_and_the_token_goes_in_their_environment() {
        let r = relay();
        r.set_url("http://127.0.0.1:8080".into());
        let plain = JobSpec::new(
            "j",
            JobCommand::Argv(vec!["bash".into()]),
            "/tmp",
            aisc_model::Resources::default(),
            60,
        );
        assert_eq!(r.wrap(JobId(3), plain.clone()), plain);
        let mut inter = plain.clone();
        inter.interactive = Some(Interactive { pty: true });
        let w = r.wrap(JobId(3), inter);
        assert_eq!(
            w.command,
            JobCommand::Argv(vec![
                "/usr/bin/aisc".into(),
                "__pty-agent".into(),
                "--".into(),
                "bash".into()
            ])
        );
        assert_eq!(
            w.env.get(URL_VAR).map(String::as_str),
            Some("http://127.0.0.1:8080")
        );
        let token = w.env.get(TOKEN_VAR).expect("the token");
        assert!(r.verify(JobId(3), token));
        assert_eq!(w.env.get(PTY_VAR).map(String::as_str), Some("1"));
    }

    #[test]
    fn the_scrollback_keeps_the_last_output_and_a_late_attacher_sees_the_exit() {
        let s = Session::new();
        let early = s.attach();
        assert!(early.scrollback.is_empty());
        let chunk: Arc<[u8]> = vec![b'x'; SCROLLBACK_BYTES].into();
        s.output(FromAgent::Data(chunk));
        s.output(FromAgent::Data(Arc::from(&b"tail"[..])));
        s.output(FromAgent::Control(Control::Exit { code: 3 }));
        let late = s.attach();
        assert_eq!(late.scrollback.len(), SCROLLBACK_BYTES);
        assert!(late.scrollback.ends_with(b"xxtail"));
        assert_eq!(late.exit, Some(3));
        assert_eq!(s.exit(), Some(3));
        let mut rx = early.rx;
        assert!(matches!(rx.try_recv(), Ok(FromAgent::Data(_))));
    }
}
