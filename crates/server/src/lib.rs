//! The aisc server: the HTTP API, authentication, and the control loop that
//! drives the scheduler and the engine. `aisc serve` calls [`run`].

pub mod api;
pub mod auth;
mod bootstrap;
pub mod clock;
pub mod control;
pub mod error;
pub mod limits;
pub mod money;
pub mod policy;
pub mod portal;
pub mod relay;
pub mod sealed;
pub mod service;
pub mod slurm_sync;
pub mod standby;

use aisc_engine::confine::Confinement;
use aisc_engine::{FakeGpus, HostInfo, Local};
use aisc_model::Resources;
use aisc_sched::Node;
use aisc_store::{Durability, Store, StoreError};
use auth::TokenCache;
use control::{Command, Controller};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{self, OpenOptions};
use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How the server is started.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the database, job directories and admin token live.
    pub data_dir: PathBuf,
    /// The database; `None`: SQLite at `<data_dir>/aisc.db`.
    pub database: Option<aisc_store::Database>,
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// GPUs to pretend to have, instead of asking NVML.
    pub fake_gpus: Option<FakeGpus>,
    /// Time between SIGTERM and SIGKILL when a job is cancelled or times out.
    pub kill_grace: Duration,
    /// How hard commits wait for the disk.
    pub durability: Durability,
    /// Scheduling policy: priority weights, usage half-life, backfill, preemption.
    pub policy: aisc_sched::Policy,
    /// Where jobs run.
    pub engine: EngineChoice,
    /// The address users reach the server at, when it differs from `listen`
    /// (e.g. behind a TLS proxy: `https://aisc.example.org`).
    pub public_url: Option<String>,
    /// Abuse limits: request rates per token and per address, jobs waiting per user.
    pub limits: limits::LimitSettings,
    /// Serve https with this certificate chain and key (PEM files), instead of http.
    pub tls: Option<TlsFiles>,
    /// Where the master keys come from (`None`: `<data-dir>/master.key`, made if missing).
    pub master_keys: Option<aisc_vault::KeySource>,
    /// Bytes of files a project may keep in aisc unless its own quota is set.
    pub data_quota_bytes: i64,
    /// How local jobs are confined.
    pub jobs: JobSettings,
    /// Auditors may read jobs' content (commands, scripts, environment, logs); each read is audited.
    pub auditors_read_content: bool,
    /// Where interactive jobs reach this server (`--relay-url`); by default
    /// the address it listens on (loopback when it listens on all).
    pub relay_url: Option<String>,
}

/// How local jobs are confined (see `aisc_engine::confine`).
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Directories besides a job's working directory where its output files may be.
    pub roots: Vec<PathBuf>,
    /// The lowest uid a job may run as.
    pub min_uid: u32,
    /// The Unix account of users who have none (a root server only).
    pub default_unix_name: Option<String>,
    /// More paths no job may reach (the config file, TLS and Slurm keys are added by the server).
    pub hidden: Vec<PathBuf>,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            roots: Vec::new(),
            min_uid: 1000,
            default_unix_name: None,
            hidden: Vec::new(),
        }
    }
}

/// The first directory above `dir` that users other than its owner cannot
/// search (jobs reach their own directory through it).
fn closed_ancestor(dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = fs::canonicalize(dir).ok()?;
    dir.ancestors()
        .skip(1)
        .find(|a| fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 == 0))
        .map(Path::to_path_buf)
}

/// The local engine's confinement for this server: the launcher is this
/// program (`aisc __launch`); the data directory, key files and the other
/// secrets it was given are hidden from jobs.
fn confinement(config: &Config, dir: &Path) -> Result<Confinement, ServerError> {
    let exe = std::env::current_exe().map_err(|e| ServerError::Launcher(e.to_string()))?;
    let mut hidden = vec![fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())];
    if let Some(aisc_vault::KeySource::File(p)) = &config.master_keys {
        hidden.push(p.clone());
    }
    if let Some(t) = &config.tls {
        hidden.push(t.key.clone());
    }
    hidden.extend(config.jobs.hidden.iter().cloned());
    let mut c = Confinement::new(
        vec![exe, PathBuf::from("__launch")],
        Confinement::mode_for_this_process(),
        hidden,
    );
    c.roots = config.jobs.roots.clone();
    c.min_uid = config.jobs.min_uid.max(1);
    c.default_unix_name = config.jobs.default_unix_name.clone();
    Ok(c)
}

/// The terminal relay of interactive jobs: their agent is this program
/// (`aisc __pty-agent`), its tokens keyed by the master keys; with https, the
/// certificate goes to the agent so that it trusts this server.
fn relay_for(
    config: &Config,
    masters: &aisc_vault::MasterKeys,
) -> Result<relay::Relay, ServerError> {
    let exe = std::env::current_exe().map_err(|e| ServerError::Launcher(e.to_string()))?;
    let ca_pem = match &config.tls {
        Some(t) => Some(
            fs::read_to_string(&t.cert)
                .map_err(io_err("cannot read the TLS certificate", &t.cert))?,
        ),
        None => None,
    };
    Ok(relay::Relay::new(
        masters,
        vec![exe.display().to_string(), "__pty-agent".into()],
        ca_pem,
    ))
}

/// A TLS certificate chain and its private key, PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Where jobs run.
#[derive(Debug, Clone, Default)]
pub enum EngineChoice {
    /// Processes on this host (the default).
    #[default]
    Local,
    /// A Slurm cluster, through slurmrestd.
    Slurm(Box<SlurmChoice>),
}

/// How to run jobs on Slurm.
#[derive(Debug, Clone)]
pub struct SlurmChoice {
    /// slurmrestd and its JWT key.
    pub client: aisc_engine::slurm::SlurmConfig,
    /// Class → partition.
    pub settings: control::SlurmSettings,
    /// Slurm's cluster name (for accounts).
    pub cluster: String,
    /// How often job states are polled.
    pub poll: Duration,
    /// Jobs that may wait in Slurm's queue (`None`: twice its GPU count, at least 256).
    pub queue_depth: Option<usize>,
    /// How often accounts are reconciled (`None`: only on request).
    pub sync_every: Option<Duration>,
}

/// What every request handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// Recently verified tokens.
    pub tokens: Arc<TokenCache>,
    /// Failed password logins, for rate limiting.
    pub logins: Arc<auth::LoginLimiter>,
    /// Projects' active grants and classes' prices, for submissions.
    pub charging: Arc<api::charging::ChargingCache>,
    /// The control loop's inbox.
    pub control: mpsc::Sender<Command>,
    /// This host.
    pub host: Arc<HostInfo>,
    /// This host as the scheduler sees it (with Slurm: its largest node).
    pub node: Arc<Node>,
    /// Slurm's cluster name, when jobs run on Slurm.
    pub slurm_cluster: Option<String>,
    /// Auditors may read jobs' content (see [`Config::auditors_read_content`]).
    pub auditors_read_content: bool,
    /// How local jobs are confined: their accounts' lowest uid, where they
    /// may put files (job roots) and what they may never reach (hidden paths).
    pub confinement: Arc<Confinement>,
    /// Whether users reach the server over https (then session cookies are `Secure`).
    pub public_https: bool,
    /// How far the audit chain was last verified.
    pub audit_chain: Arc<service::audit::ChainCheck>,
    /// Abuse limits.
    pub limits: Arc<limits::Limits>,
    /// The data directory (projects' sealed files live under `objects/`).
    pub data_dir: Arc<PathBuf>,
    /// Bytes of files a project may keep unless its own quota is set.
    pub data_quota_bytes: i64,
    /// Held while master keys are rotated or retired, so that two rotations do not interleave.
    pub key_rotation: Arc<tokio::sync::Mutex<()>>,
    /// Whether this server leads (always, on SQLite); see `standby`.
    pub role: Arc<standby::Role>,
    /// For passing requests on to the leader.
    pub http: reqwest::Client,
    /// Interactive jobs' terminals (`relay`).
    pub relay: Arc<relay::Relay>,
}

impl AppState {
    /// Whether a user needs a Unix name of their own to submit: jobs on
    /// Slurm run as it, and so do jobs of a root server that has no default
    /// account (`--default-unix-name`).
    pub fn jobs_need_unix_name(&self) -> bool {
        self.slurm_cluster.is_some()
            || (self.confinement.mode == aisc_engine::confine::Mode::Accounts
                && self.confinement.default_unix_name.is_none())
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A file or directory could not be prepared.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Another server holds the data directory.
    #[error("another aisc server is using {0} (its lock file is held)")]
    Locked(String),
    /// The data directory holds another database's jobs and files.
    #[error(
        "{dir} belongs to the database with instance id {found}, not to this one ({instance}): give each database its own data directory"
    )]
    OtherDatabase {
        /// The data directory.
        dir: String,
        /// The instance id it names.
        found: String,
        /// This database's.
        instance: String,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The HTTP client (for passing requests on to the leader) could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
    /// The Slurm engine could not be set up.
    #[error("slurm: {0}")]
    Slurm(String),
    /// The TLS certificate or key could not be used.
    #[error("--tls-cert {cert} / --tls-key {key}: {source}")]
    Tls {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The job launcher (this program) could not be found.
    #[error("cannot find this program to launch jobs with: {0}")]
    Launcher(String),
    /// The master keys could not be loaded (the cause follows in the error's chain).
    #[error("master key")]
    Keys(#[from] aisc_vault::VaultError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ServerError {
    let path = path.display().to_string();
    move |source| ServerError::Io { what, path, source }
}

/// Starts the centre on this host and serves until `shutdown` completes.
/// Running jobs are left running at shutdown; the next start re-adopts them.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .map_err(io_err("cannot create data directory", &config.data_dir))?;
    // Absolute, so that job directories and log paths stay valid whatever the jobs' working directories.
    let dir = &fs::canonicalize(&config.data_dir)
        .map_err(io_err("cannot resolve data directory", &config.data_dir))?;
    // On SQLite the data directory's lock keeps any other server off it; servers
    // on one PostgreSQL database share the directory (job directories, files),
    // so they take it shared, and the leader's lock decides who runs jobs.
    let shared_dir = matches!(&config.database, Some(aisc_store::Database::Postgres(_)));
    let _lock = lock_data_dir(dir, !shared_dir)?;
    // Read before anything starts, so that a bad certificate stops the start at once.
    let tls = match &config.tls {
        Some(t) => {
            aisc_engine::install_crypto_provider();
            let loaded = axum_server::tls_rustls::RustlsConfig::from_pem_file(&t.cert, &t.key)
                .await
                .map_err(|source| ServerError::Tls {
                    cert: t.cert.display().to_string(),
                    key: t.key.display().to_string(),
                    source,
                })?;
            Some(loaded)
        }
        None => None,
    };

    let masters = load_master_keys(config.master_keys.clone(), dir)?;
    let relay = relay_for(&config, &masters)?;
    let database = config
        .database
        .clone()
        .unwrap_or_else(|| aisc_store::Database::Sqlite(dir.join("aisc.db")));
    let store = Store::connect(&database, config.durability, masters).await?;
    tracing::info!(
        backend = store.backend().name(),
        database = %database.display(),
        "store open"
    );
    check_instance(dir, &store.instance_id().await?)?;
    let confinement = confinement(&config, dir)?;
    // Neither a job nor anyone else of this user may read this process's memory or environment.
    let _ = nix::sys::prctl::set_dumpable(false);
    if bootstrap::admin(&store, dir).await? {
        bootstrap::admin_unix_name(&store, &confinement).await?;
    }
    bootstrap::tenancy(&store).await?;

    let host = aisc_engine::discover(config.fake_gpus.as_ref());
    bootstrap::open_grant(&store, &host).await?;
    if matches!(config.engine, EngineChoice::Slurm(_)) {
        // The GPUs that matter are Slurm's, reported below.
    } else if host.gpus.is_empty() {
        eprintln!(
            "aisc: {}; jobs that ask for GPUs will be refused (use --fake-gpus N to test)",
            host.gpu_source
        );
    } else {
        eprintln!("aisc: {}", host.gpu_source);
    }
    let node = Node {
        name: host.hostname.clone(),
        capacity: Resources {
            gpus: host.gpus.len() as u32,
            cpus: host.cpus,
            mem_mb: host.mem_mb,
        },
        gpu_type: host.gpu_type(),
        // One pool: every job's grant is served by this host.
        class: None,
        group: 0,
        state: aisc_sched::NodeState::Up,
    };

    let mut slurm_cluster = None;
    let mut api_node = node.clone();
    let mut slurm = None;
    if let EngineChoice::Slurm(choice) = &config.engine {
        let client = aisc_engine::slurm::SlurmClient::new(&choice.client)
            .map_err(|e| ServerError::Slurm(e.to_string()))?;
        let nodes = slurm_nodes(&client, dir).await;
        if let Some(biggest) = nodes
            .iter()
            .max_by_key(|n| (n.capacity.gpus, n.capacity.cpus))
        {
            api_node = biggest.clone();
        }
        eprintln!(
            "aisc: engine slurm at {} ({} nodes, {} GPUs)",
            choice.client.url,
            nodes.len(),
            nodes.iter().map(|n| n.capacity.gpus).sum::<u32>()
        );
        slurm_cluster = Some(choice.cluster.clone());
        slurm = Some((client, nodes, choice.clone()));
    }
    let (control_tx, control_rx) = mpsc::channel(16_384);
    let state = AppState {
        store: store.clone(),
        tokens: Arc::new(TokenCache::default()),
        logins: Arc::new(auth::LoginLimiter::default()),
        charging: Arc::new(api::charging::ChargingCache::default()),
        control: control_tx,
        host: Arc::new(host),
        node: Arc::new(api_node),
        auditors_read_content: config.auditors_read_content,
        confinement: Arc::new(confinement.clone()),
        slurm_cluster,
        public_https: tls.is_some()
            || config
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
        audit_chain: Arc::default(),
        limits: Arc::new(limits::Limits::new(config.limits)),
        data_dir: Arc::new(dir.to_path_buf()),
        data_quota_bytes: config.data_quota_bytes,
        key_rotation: Arc::default(),
        role: standby::role(),
        http: aisc_engine::http_client(|| {
            reqwest::Client::builder().timeout(Duration::from_secs(30))
        })
        .map_err(|e| ServerError::Http(e.to_string()))?,
        relay: Arc::new(relay),
    };
    let leader = Leader {
        state: state.clone(),
        node,
        host_fake: state.host.gpus_fake(),
        slurm,
        kill_grace: config.kill_grace,
        policy: config.policy,
    };
    let role = state.role.clone();
    let shared = store.backend() == aisc_store::Backend::Postgres;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;
    // A server that leads at once (always on SQLite) recovers and sweeps before
    // it answers anything. One that must wait answers as a standby meanwhile.
    let alone = match store.try_lead(&holder(), &addr.to_string()).await? {
        Some(lead) => {
            watch_lead(lead);
            role.lead();
            Ok(leader.start(control_rx, shared).await?)
        }
        None => Err((leader, control_rx)),
    };
    let control_task = match alone {
        Ok(control) => tokio::spawn(control),
        Err((leader, control_rx)) => tokio::spawn(leader.run(control_rx, addr)),
    };
    if !matches!(config.engine, EngineChoice::Slurm(_)) {
        eprintln!("aisc: {}", confinement.describe());
        if confinement.mode == aisc_engine::confine::Mode::Accounts
            && let Some(closed) = closed_ancestor(dir)
        {
            eprintln!(
                "aisc: warning: {} is not searchable by other users, so jobs cannot reach their own directory under {}: chmod o+x it",
                closed.display(),
                dir.display()
            );
        }
    }
    state
        .relay
        .set_url(config.relay_url.clone().unwrap_or_else(|| {
            let scheme = if tls.is_some() { "https" } else { "http" };
            let ip = match addr.ip() {
                ip if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
                ip => ip,
            };
            format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))
        }));
    eprintln!(
        "aisc: listening on {}://{addr} (data in {})",
        if tls.is_some() { "https" } else { "http" },
        dir.display()
    );
    let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = match tls {
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopper.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            let std_listener = listener
                .into_std()
                .map_err(|source| ServerError::Bind { addr, source })?;
            axum_server::from_tcp_rustls(std_listener, tls)
                .map_err(|source| ServerError::Bind { addr, source })?
                .handle(handle)
                .serve(app)
                .await
        }
    };
    // The router (and with it every sender) is gone: the control loop drains
    // and stops. A standby's waiting task holds a sender of its own: stop it.
    if !role.leading() {
        control_task.abort();
    }
    let _ = control_task.await;
    store.close().await;
    served.map_err(|source| ServerError::Bind { addr, source })
}

/// Who this server is, as the lease names its holder: host and process.
fn holder() -> String {
    format!(
        "{}:{}",
        fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default(),
        std::process::id()
    )
}

/// Says that this server leads and, on PostgreSQL, stops it the moment it
/// loses the lead: another server may take over at once.
fn watch_lead(lead: aisc_store::Leadership) {
    if lead.epoch == 0 {
        return;
    }
    tracing::info!(
        epoch = lead.epoch,
        "leading: this server runs the scheduler and the engine"
    );
    tokio::spawn(async move {
        let e = lead.lost().await;
        tracing::error!(error = %e, "lost the lead; stopping");
        std::process::exit(75);
    });
}

/// What a server needs to take the lead: to build and run the control loop.
struct Leader {
    state: AppState,
    node: Node,
    host_fake: bool,
    slurm: Option<(aisc_engine::slurm::SlurmClient, Vec<Node>, Box<SlurmChoice>)>,
    kill_grace: Duration,
    policy: aisc_sched::Policy,
}

impl Leader {
    /// On PostgreSQL, while another server leads: answers as a standby until
    /// this one leads, then runs the control loop until every sender is gone.
    async fn run(self, control_rx: mpsc::Receiver<Command>, addr: SocketAddr) {
        let store = self.state.store.clone();
        tracing::info!("standby: answering the API; waiting to lead");
        let url = addr.to_string();
        let holder = holder();
        let Some((control_rx, lead)) =
            standby::until_leading(control_rx, store.lead(&holder, &url)).await
        else {
            return;
        };
        match lead {
            Ok(lead) => watch_lead(lead),
            Err(e) => {
                tracing::error!(error = %e, "could not take the lead; stopping");
                std::process::exit(75);
            }
        }
        self.state.role.lead();
        match self.start(control_rx, true).await {
            Ok(control) => control.await,
            Err(e) => {
                tracing::error!(error = %e, "the control loop could not start; stopping");
                std::process::exit(75);
            }
        }
    }

    /// Builds the control loop, recovers the jobs the last leader left and
    /// sweeps stray files; returns the loop, to be run.
    async fn start(
        self,
        control_rx: mpsc::Receiver<Command>,
        shared: bool,
    ) -> Result<impl Future<Output = ()> + Send + 'static, ServerError> {
        let store = self.state.store.clone();
        let dir = self.state.data_dir.as_ref().clone();
        // One engine runs every job: Slurm's cluster when one is configured, else this host.
        let (engine, nodes): (Box<dyn aisc_engine::Engine>, Vec<Node>) = match self.slurm {
            Some((client, nodes, choice)) => {
                let instance = store.instance_id().await?;
                let mut settings = choice.settings.clone();
                let gpus: usize = nodes.iter().map(|n| n.capacity.gpus as usize).sum();
                settings.queue_depth = choice.queue_depth.unwrap_or((2 * gpus).max(256));
                let engine =
                    aisc_engine::slurm::Slurm::start(client, choice.poll, &instance, settings);
                if let Some(every) = choice.sync_every {
                    tokio::spawn(slurm_sync::run_loop(
                        store.clone(),
                        choice.cluster.clone(),
                        every,
                    ));
                }
                (Box::new(engine), nodes)
            }
            None => {
                let engine = Local::new(
                    (*self.state.confinement).clone(),
                    self.node.name.clone(),
                    dir.clone(),
                )
                .fake_gpus(self.host_fake)
                .grace_ms(u64::try_from(self.kill_grace.as_millis()).unwrap_or(u64::MAX));
                (Box::new(engine), vec![self.node])
            }
        };
        let mut controller = Controller::new(
            store.clone(),
            engine,
            nodes,
            dir,
            self.kill_grace,
            self.policy,
        );
        if shared {
            controller.share_database();
        }
        controller.relay(self.state.relay.clone());
        controller.recover().await?;
        controller.load_drains().await?;
        sealed::sweep_objects(&self.state).await;
        tokio::spawn(sealed::seal_leftover_logs(self.state.clone()));
        drop(self.state);
        Ok(controller.run(control_rx))
    }
}

/// Slurm's nodes as the scheduler sees them. Read from slurmctld; kept in
/// `<data-dir>/slurm-nodes.json` so that a start while Slurm is down still
/// knows the cluster (jobs then wait with `EngineUnavailable`).
async fn slurm_nodes(client: &aisc_engine::slurm::SlurmClient, dir: &Path) -> Vec<Node> {
    let cache = dir.join("slurm-nodes.json");
    let nodes = match client.nodes().await {
        Ok(n) => {
            if let Ok(text) = serde_json::to_string(&n)
                && let Err(e) = fs::write(&cache, text)
            {
                tracing::warn!(error = %e, "could not keep Slurm's nodes");
            }
            n
        }
        Err(e) => {
            tracing::warn!(error = %e, "Slurm's nodes unknown now; using the last ones seen");
            fs::read(&cache)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default()
        }
    };
    nodes
        .into_iter()
        .map(|n| {
            let (gpus, model) = n.gpus();
            let down = ["down", "drain", "drained", "fail", "future"]
                .iter()
                .any(|s| n.state.to_lowercase().contains(s));
            Node {
                name: n.name,
                capacity: Resources {
                    gpus,
                    cpus: n.cpus,
                    mem_mb: n.real_memory,
                },
                gpu_type: model,
                class: None,
                group: 0,
                state: if down {
                    aisc_sched::NodeState::Down
                } else {
                    aisc_sched::NodeState::Up
                },
            }
        })
        .collect()
}

/// The master keys: from the configured source, or `<data-dir>/master.key`
/// (made on first start). Says where they came from, and warns when the key
/// sits beside the data it protects.
fn load_master_keys(
    source: Option<aisc_vault::KeySource>,
    dir: &Path,
) -> Result<aisc_vault::MasterKeys, ServerError> {
    let source = source.unwrap_or_else(|| aisc_vault::KeySource::File(dir.join("master.key")));
    let masters = aisc_vault::MasterKeys::load(source.clone(), true)?;
    eprintln!(
        "aisc: master key {} from {} ({} loaded)",
        masters.current().kid(),
        source.describe(),
        masters.all().len()
    );
    if let aisc_vault::KeySource::File(path) = &source {
        let beside = fs::canonicalize(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .is_some_and(|parent| parent.starts_with(dir));
        if beside {
            tracing::warn!(
                path = %path.display(),
                "the master key is in the data directory: a copy of that disk (or of its file-system backups) holds both; \
                 keep it elsewhere (--master-key-file or AISC_MASTER_KEY, see SECURITY.md)"
            );
        }
    }
    Ok(masters)
}

/// Holds an exclusive lock on `<data-dir>/lock` for as long as the server runs.
fn lock_data_dir(dir: &Path, exclusive: bool) -> Result<Flock<fs::File>, ServerError> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_err("cannot open lock file", &path))?;
    let how = if exclusive {
        FlockArg::LockExclusiveNonblock
    } else {
        FlockArg::LockSharedNonblock
    };
    Flock::lock(file, how).map_err(|_| ServerError::Locked(dir.display().to_string()))
}

/// A data directory serves one database: its job directories and files are
/// that database's. The first start writes the database's instance id in
/// `<data-dir>/instance`; a start on another database is refused.
fn check_instance(dir: &Path, instance: &str) -> Result<(), ServerError> {
    let path = dir.join("instance");
    match fs::read_to_string(&path) {
        Ok(found) if found.trim() == instance => Ok(()),
        Ok(found) => Err(ServerError::OtherDatabase {
            dir: dir.display().to_string(),
            found: found.trim().to_string(),
            instance: instance.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::write(&path, format!("{instance}\n")).map_err(io_err("cannot write", &path))
        }
        Err(e) => Err(io_err("cannot read", &path)(e)),
    }
}
