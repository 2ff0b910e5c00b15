//! slurmrestd over HTTP (OpenAPI v0.0.38, dbv0.0.38), authenticated with JWTs
//! this process mints from Slurm's `jwt_key`: one token of the service user
//! (Slurm's SlurmUser), which may act for any user through `X-SLURM-USER-NAME`.

use super::SlurmError;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The API version spoken (Slurm 22.05 serves v0.0.36 to v0.0.38).
const API: &str = "v0.0.38";
/// How long a minted token lives; a new one is minted when half is gone.
const TOKEN_LIFE_S: u64 = 600;

/// How to reach slurmrestd.
#[derive(Clone)]
pub struct SlurmConfig {
    /// Base URL, e.g. `http://127.0.0.1:6820`.
    pub url: String,
    /// The HS256 key in slurm.conf's `AuthAltParameters=jwt_key=` (its file's bytes).
    pub jwt_key: Vec<u8>,
    /// The user the tokens are minted for (Slurm's SlurmUser, `slurm`).
    pub service_user: String,
    /// How long one request may take before Slurm counts as unavailable.
    pub timeout: Duration,
}

impl std::fmt::Debug for SlurmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never printed.
        f.debug_struct("SlurmConfig")
            .field("url", &self.url)
            .field("service_user", &self.service_user)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A slurmrestd client; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct SlurmClient {
    http: reqwest::Client,
    base: String,
    key: Arc<Vec<u8>>,
    user: String,
    token: Arc<Mutex<Option<(String, u64)>>>,
}

impl std::fmt::Debug for SlurmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlurmClient")
            .field("base", &self.base)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A batch job to submit.
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    /// The batch script (starting `#!`).
    pub script: String,
    /// Its options.
    pub job: JobDesc,
}

/// A job's options, as `POST /job/submit` takes them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobDesc {
    /// Slurm account (the project's).
    pub account: String,
    /// Partition (Slurm's default when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Job name.
    pub name: String,
    /// Carries `aisc:<instance>:<id>`, so that a job is found again and never submitted twice.
    pub comment: String,
    /// Working directory.
    pub current_working_directory: String,
    /// Environment.
    pub environment: BTreeMap<String, String>,
    /// Minutes.
    pub time_limit: u64,
    /// GPUs of the job, e.g. `"2"` or `"h100:2"` (absent for none, or when asked per node or task).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpus: Option<String>,
    /// GPUs on each node (`--gpus-per-node`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpus_per_node: Option<String>,
    /// GPUs for each task (`--gpus-per-task`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpus_per_task: Option<String>,
    /// CPUs for each task.
    pub cpus_per_task: u32,
    /// MiB on each node.
    pub memory_per_node: u64,
    /// Tasks in all.
    pub tasks: u32,
    /// At most this many tasks on a node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks_per_node: Option<u32>,
    /// Nodes: `"N"` or `"MIN-MAX"` (slurmrestd 22.05 reads the range from a string).
    pub nodes: String,
    /// Standard output path.
    pub standard_output: String,
    /// Standard error path.
    pub standard_error: String,
    /// Never requeued by Slurm on its own (aisc decides).
    pub requeue: bool,
    /// `-C/--constraint`: node features.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<String>,
    /// `"exclusive"`: whole nodes, shared with no other job (`--exclusive`;
    /// slurmrestd 22.05 refuses the schema's `"true"`, tested by hand).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusive: Option<String>,
    /// `"append"` for a requeued job's next run: its output goes on after
    /// the earlier runs' (Slurm's own default otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_mode: Option<String>,
    /// `--signal`: `[B:]NUM@SECS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

/// A job as slurmctld reports it (`GET /jobs`), the fields aisc reads.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CtldJob {
    /// Slurm's id.
    pub job_id: u32,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Comment (`aisc:<id>` for aisc's jobs).
    #[serde(default)]
    pub comment: Option<String>,
    /// PENDING, RUNNING, COMPLETED, ...
    pub job_state: String,
    /// Why it waits (or `None`).
    #[serde(default)]
    pub state_reason: String,
    /// Epoch seconds (0 if not started).
    #[serde(default)]
    pub start_time: i64,
    /// Epoch seconds (expected end while running).
    #[serde(default)]
    pub end_time: i64,
    /// Wait status: exit code << 8 | signal.
    #[serde(default)]
    pub exit_code: i64,
    /// Nodes it runs on.
    #[serde(default)]
    pub nodes: String,
    /// Allocated TRES, e.g. `cpu=2,mem=1G,node=1,billing=2,gres/gpu=1`.
    #[serde(default)]
    pub tres_alloc_str: String,
    /// Generic resources held, per node, e.g. `gpu:h100:2(IDX:0-1)`.
    #[serde(default)]
    pub gres_detail: Vec<String>,
}

impl CtldJob {
    /// The GPU indices it holds (from `gres_detail`'s `IDX:0-1,4`), on its first node.
    pub fn gpu_ids(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let Some(detail) = self.gres_detail.first() else {
            return out;
        };
        let Some(idx) = detail.split("IDX:").nth(1) else {
            return out;
        };
        for part in idx.trim_end_matches(')').split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                        out.extend(a..=b);
                    }
                }
                None => out.extend(part.parse::<u32>().ok()),
            }
        }
        out
    }

    /// The aisc job id in its comment, if it is a job of the aisc installation `instance`.
    pub fn aisc_id(&self, instance: &str) -> Option<i64> {
        self.aisc_run(instance).map(|(id, _)| id)
    }

    /// The aisc job id and run in its comment (`<id>`, or `<id>.<run>` for
    /// a requeued job's later runs), if it is a job of `instance`.
    pub fn aisc_run(&self, instance: &str) -> Option<(i64, u32)> {
        let text = self
            .comment
            .as_deref()?
            .strip_prefix("aisc:")?
            .strip_prefix(instance)?
            .strip_prefix(':')?;
        match text.split_once('.') {
            Some((id, run)) => Some((id.parse().ok()?, run.parse().ok()?)),
            None => Some((text.parse().ok()?, 0)),
        }
    }
}

/// A node as slurmctld reports it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct SlurmNode {
    /// Name.
    pub name: String,
    /// CPUs.
    pub cpus: u32,
    /// Memory, MiB.
    pub real_memory: u64,
    /// Generic resources, e.g. `gpu:h100:8`.
    #[serde(default)]
    pub gres: String,
    /// Partitions it is in.
    #[serde(default)]
    pub partitions: Vec<String>,
    /// idle, mixed, allocated, down, drained, ...
    #[serde(default)]
    pub state: String,
}

impl SlurmNode {
    /// GPUs and their model from `gres` (`gpu:h100:8`, `gpu:8`, `gpu:h100:8(S:0-1)`).
    pub fn gpus(&self) -> (u32, Option<String>) {
        let mut count = 0;
        let mut model = None;
        for g in self.gres.split(',') {
            let g = g.split('(').next().unwrap_or("");
            let parts: Vec<&str> = g.split(':').collect();
            match parts.as_slice() {
                ["gpu", n] => count += n.parse::<u32>().unwrap_or(0),
                ["gpu", m, n] => {
                    count += n.parse::<u32>().unwrap_or(0);
                    model = Some((*m).to_string());
                }
                _ => {}
            }
        }
        (count, model)
    }
}

/// A job's accounting record (`GET /slurmdb/.../job/{id}`), the fields aisc reads.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DbJob {
    /// Slurm's id.
    pub job_id: u32,
    /// State.
    pub state: DbState,
    /// Times.
    pub time: DbTime,
    /// TRES.
    pub tres: DbTres,
}

/// State in accounting.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DbState {
    /// COMPLETED, ...
    pub current: String,
}

/// Times in accounting.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DbTime {
    /// Seconds it ran.
    #[serde(default)]
    pub elapsed: i64,
    /// Epoch seconds.
    #[serde(default)]
    pub start: i64,
    /// Epoch seconds (0 while running).
    #[serde(default)]
    pub end: i64,
}

/// TRES in accounting.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DbTres {
    /// What was allocated.
    #[serde(default)]
    pub allocated: Vec<DbTresItem>,
}

/// One TRES count.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DbTresItem {
    /// `cpu`, `mem`, `gres`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// For `gres`: `gpu`.
    #[serde(default)]
    pub name: Option<String>,
    /// How many.
    #[serde(default)]
    pub count: Option<i64>,
}

impl DbJob {
    /// Allocated count of one TRES (`cpu`, or `gres` named `gpu`).
    pub fn allocated(&self, kind: &str, name: Option<&str>) -> i64 {
        self.tres
            .allocated
            .iter()
            .filter(|t| t.kind == kind && t.name.as_deref() == name)
            .filter_map(|t| t.count)
            .sum()
    }
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    error_number: Option<i64>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    errors: Vec<ApiError>,
}

#[derive(Deserialize)]
struct SubmitReply {
    #[serde(default)]
    errors: Vec<ApiError>,
    job_id: Option<u32>,
}

#[derive(Deserialize)]
struct JobsReply {
    #[serde(default)]
    jobs: Vec<CtldJob>,
}

#[derive(Deserialize)]
struct NodesReply {
    #[serde(default)]
    nodes: Vec<SlurmNode>,
}

#[derive(Deserialize)]
struct DbJobsReply {
    #[serde(default)]
    jobs: Vec<DbJob>,
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An HS256 JWT with the claims Slurm reads: `sun` (user name), `iat`, `exp`.
pub fn mint_token(key: &[u8], user: &str, now_s: u64, life_s: u64) -> String {
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({"sun": user, "iat": now_s, "exp": now_s + life_s});
    let body = b64(claims.to_string().as_bytes());
    let signing = format!("{header}.{body}");
    // HMAC takes a key of any length.
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(signing.as_bytes());
    let sig = b64(&mac.finalize().into_bytes());
    format!("{signing}.{sig}")
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Slurm's error codes for failed communication (slurm_errno.h: 1000 to 1999,
/// e.g. 1800 "Unable to contact slurm controller").
fn is_comms(code: i64) -> bool {
    (1000..2000).contains(&code)
}

/// Answers that say "not now" rather than "no": slurmctld just restarted and
/// its nodes have not registered yet, it is busy, it is a standby
/// controller, or slurmrestd lost its connection to it mid-request.
fn is_transient(text: &str) -> bool {
    const NOT_NOW: [&str; 9] = [
        "Required node not available (down, drained or reserved)",
        "temporarily unavailable",
        "timed out",
        "try again",
        "standby",
        "Unable to contact",
        "Connection reset by peer",
        "Connection refused",
        "Broken pipe",
    ];
    NOT_NOW.iter().any(|m| text.contains(m))
}

fn describe(errors: &[ApiError]) -> String {
    errors
        .iter()
        .map(|e| match &e.description {
            Some(d) if !d.is_empty() && d != &e.error => format!("{}: {}", e.error, d),
            _ => e.error.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn unavailable(e: reqwest::Error) -> SlurmError {
    SlurmError::Unavailable(format!("slurmrestd: {e}"))
}

impl SlurmClient {
    /// A client; nothing is sent until the first call.
    pub fn new(config: &SlurmConfig) -> Result<Self, SlurmError> {
        let http = crate::http_client(|| {
            reqwest::Client::builder()
                .timeout(config.timeout)
                .connect_timeout(Duration::from_secs(3))
                .pool_max_idle_per_host(16)
        })
        .map_err(|e| SlurmError::Protocol(format!("HTTP client: {e}")))?;
        Ok(SlurmClient {
            http,
            base: config.url.trim_end_matches('/').to_string(),
            key: Arc::new(config.jwt_key.clone()),
            user: config.service_user.clone(),
            token: Arc::new(Mutex::new(None)),
        })
    }

    fn token(&self) -> String {
        let now = now_s();
        let mut t = self.token.lock().unwrap_or_else(|p| p.into_inner());
        match &*t {
            Some((tok, minted)) if now < minted + TOKEN_LIFE_S / 2 => tok.clone(),
            _ => {
                let tok = mint_token(&self.key, &self.user, now, TOKEN_LIFE_S);
                *t = Some((tok.clone(), now));
                tok
            }
        }
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        as_user: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("X-SLURM-USER-NAME", as_user)
            .header("X-SLURM-USER-TOKEN", self.token())
    }

    /// Reads a reply: Slurm's own errors become `Refused` (or `Unavailable` for
    /// its communication errors and for 5xx answers with no error of its own).
    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        resp: reqwest::Response,
        what: &str,
    ) -> Result<T, SlurmError> {
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(unavailable)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| SlurmError::Protocol(format!("{what}: unexpected answer: {e}")));
        }
        let env: Envelope =
            serde_json::from_slice(&bytes).unwrap_or(Envelope { errors: Vec::new() });
        let code = env
            .errors
            .iter()
            .filter_map(|e| e.error_code.or(e.error_number))
            .find(|c| *c != 0);
        let text = describe(&env.errors);
        match code {
            Some(c) if is_comms(c) || is_transient(&text) => {
                Err(SlurmError::Unavailable(format!("{what}: {text}")))
            }
            // "Unspecified error" (-1) is what slurmrestd says when it cannot reach slurmctld for a read.
            Some(c) if c > 0 && status.as_u16() != 401 => {
                Err(SlurmError::Refused(format!("{what}: {text}")))
            }
            _ if status.is_server_error() => Err(SlurmError::Unavailable(format!(
                "{what}: HTTP {status}{}",
                if text.is_empty() {
                    String::new()
                } else {
                    format!(": {text}")
                }
            ))),
            _ => Err(SlurmError::Protocol(format!(
                "{what}: HTTP {status}: {text}"
            ))),
        }
    }

    /// Whether slurmctld answers.
    pub async fn ping(&self) -> Result<(), SlurmError> {
        let resp = self
            .request(
                reqwest::Method::GET,
                &format!("/slurm/{API}/ping"),
                &self.user,
            )
            .send()
            .await
            .map_err(unavailable)?;
        let v: serde_json::Value = self.read(resp, "ping").await?;
        let up = v["pings"]
            .as_array()
            .is_some_and(|p| p.iter().any(|x| x["ping"] == "UP"));
        if up {
            Ok(())
        } else {
            Err(SlurmError::Unavailable(
                "slurmctld does not answer ping".into(),
            ))
        }
    }

    /// Submits a batch job as `user`; returns Slurm's job id.
    pub async fn submit(&self, user: &str, job: &Submission) -> Result<u32, SlurmError> {
        let resp = self
            .request(
                reqwest::Method::POST,
                &format!("/slurm/{API}/job/submit"),
                user,
            )
            .json(job)
            .send()
            .await
            .map_err(unavailable)?;
        let reply: SubmitReply = self.read(resp, "submit").await?;
        match reply.job_id {
            Some(id) if reply.errors.is_empty() => Ok(id),
            _ => {
                let text = describe(&reply.errors);
                if is_transient(&text) {
                    Err(SlurmError::Unavailable(format!("submit: {text}")))
                } else {
                    Err(SlurmError::Refused(format!("submit: {text}")))
                }
            }
        }
    }

    /// Every job slurmctld holds, or `None` when nothing changed since `since` (epoch s).
    pub async fn jobs(&self, since: Option<i64>) -> Result<Option<Vec<CtldJob>>, SlurmError> {
        let mut req = self.request(
            reqwest::Method::GET,
            &format!("/slurm/{API}/jobs"),
            &self.user,
        );
        if let Some(t) = since {
            req = req.query(&[("update_time", t)]);
        }
        let resp = req.send().await.map_err(unavailable)?;
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let reply: JobsReply = self.read(resp, "jobs").await?;
        Ok(Some(reply.jobs))
    }

    /// Cancels a job (as `scancel` does).
    pub async fn cancel(&self, id: u32) -> Result<(), SlurmError> {
        let resp = self
            .request(
                reqwest::Method::DELETE,
                &format!("/slurm/{API}/job/{id}"),
                &self.user,
            )
            .send()
            .await
            .map_err(unavailable)?;
        match self.read::<serde_json::Value>(resp, "cancel").await {
            Ok(_) => Ok(()),
            // Already gone: the poller reports how it ended.
            Err(SlurmError::Refused(m))
                if m.contains("Invalid job id")
                    || m.contains("already completing or completed") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The cluster's nodes.
    pub async fn nodes(&self) -> Result<Vec<SlurmNode>, SlurmError> {
        let resp = self
            .request(
                reqwest::Method::GET,
                &format!("/slurm/{API}/nodes"),
                &self.user,
            )
            .send()
            .await
            .map_err(unavailable)?;
        let reply: NodesReply = self.read(resp, "nodes").await?;
        Ok(reply.nodes)
    }

    /// A job's accounting record from slurmdbd, once it has one.
    pub async fn accounting(&self, id: u32) -> Result<Option<DbJob>, SlurmError> {
        let resp = self
            .request(
                reqwest::Method::GET,
                &format!("/slurmdb/{API}/job/{id}"),
                &self.user,
            )
            .send()
            .await
            .map_err(unavailable)?;
        match self.read::<DbJobsReply>(resp, "accounting").await {
            Ok(r) => Ok(r.jobs.into_iter().find(|j| j.job_id == id)),
            Err(SlurmError::Refused(m))
                if m.contains("not found") || m.contains("Nothing found") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_hs256_over_header_and_claims() {
        let t = mint_token(b"key", "slurm", 1000, 600);
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        use base64::Engine;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .expect("base64");
        let v: serde_json::Value = serde_json::from_slice(&claims).expect("json");
        assert_eq!(v["sun"], "slurm");
        assert_eq!(v["exp"], 1600);
        // A different key signs differently.
        assert_ne!(mint_token(b"other", "slurm", 1000, 600), t);
    }

    #[test]
    fn slurm_saying_not_now_is_told_from_slurm_saying_no() {
        assert!(is_transient(
            "Required node not available (down, drained or reserved)"
        ));
        assert!(is_transient(
            "Unable to contact slurm controller (connect failure)"
        ));
        // slurmctld went away while slurmrestd was talking to it (seen in an outage).
        assert!(is_transient("Connection reset by peer"));
        assert!(!is_transient(
            "Invalid account or account/partition combination specified"
        ));
        assert!(is_comms(1800) && !is_comms(2045));
    }

    #[test]
    fn gres_strings_give_gpu_counts_and_models() {
        let node = |gres: &str| SlurmNode {
            name: "n".into(),
            cpus: 1,
            real_memory: 1,
            gres: gres.into(),
            partitions: vec![],
            state: "idle".into(),
        };
        assert_eq!(node("gpu:h100:8").gpus(), (8, Some("h100".into())));
        assert_eq!(node("gpu:4").gpus(), (4, None));
        assert_eq!(node("gpu:a100:4(S:0-1)").gpus(), (4, Some("a100".into())));
        assert_eq!(node("").gpus(), (0, None));
    }

    #[test]
    fn gres_detail_gives_gpu_indices() {
        let mut j: CtldJob = serde_json::from_value(serde_json::json!({
            "job_id": 7, "job_state": "RUNNING", "gres_detail": ["gpu:h100:4(IDX:0-1,4,6)"]
        }))
        .expect("job");
        assert_eq!(j.gpu_ids(), vec![0, 1, 4, 6]);
        j.gres_detail.clear();
        assert_eq!(j.gpu_ids(), Vec::<u32>::new());
    }

    #[test]
    fn comments_carry_the_aisc_id() {
        let mut j: CtldJob = serde_json::from_value(serde_json::json!({
            "job_id": 7, "job_state": "PENDING", "comment": "aisc:ab12:42"
        }))
        .expect("job");
        assert_eq!(j.aisc_id("ab12"), Some(42));
        // Another installation's job with the same number is not ours.
        assert_eq!(j.aisc_id("cd34"), None);
        assert_eq!(j.aisc_run("ab12"), Some((42, 0)));
        j.comment = Some("aisc:ab12:42.3".into());
        assert_eq!(j.aisc_run("ab12"), Some((42, 3)));
        assert_eq!(j.aisc_id("ab12"), Some(42));
        j.comment = Some("something else".into());
        assert_eq!(j.aisc_id("ab12"), None);
    }
}
