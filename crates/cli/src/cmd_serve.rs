//! `aisc serve`.

use aisc_engine::FakeGpus;
use aisc_engine::slurm::SlurmConfig;
use aisc_server::control::SlurmSettings;
use aisc_server::{Config, EngineChoice, SlurmChoice};
use aisc_store::Durability;
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the database (aisc.db), job directories and the admin token live.
    #[arg(long, env = "AISC_DATA_DIR", default_value = "./aisc-data")]
    data_dir: PathBuf,
    /// The database: a `postgres://` URL (several servers may share it), or an SQLite
    /// file. Default: `<data-dir>/aisc.db`. Chosen once at start; migrations run then.
    /// Give a URL with a password through the variable, not the command line.
    #[arg(long, env = "AISC_DATABASE", value_name = "URL|PATH", value_parser = parse_database)]
    database: Option<aisc_store::Database>,
    /// Address and port to listen on (port 0 picks a free one).
    #[arg(long, env = "AISC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The address users reach the portal at, when it differs from --listen (e.g.
    /// `https://aisc.example.org` behind a TLS proxy: session cookies are then `Secure`).
    #[arg(long, env = "AISC_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// Serve https with this certificate chain (PEM, leaf first); needs --tls-key. Session
    /// cookies are then `Secure` and every answer carries HSTS.
    #[arg(long, env = "AISC_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1); needs --tls-cert.
    #[arg(long, env = "AISC_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The master key file: one key per line, the current first (made, mode 0600, if
    /// missing). Default: <data-dir>/master.key. Keep it off the data disk in production;
    /// or give the keys in AISC_MASTER_KEY instead (comma-separated, current first).
    #[arg(long, env = "AISC_MASTER_KEY_FILE", value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// Bytes of files a project may keep in aisc (`aisc data put`) unless an
    /// administrator sets its own quota (e.g. 500G, 2T).
    #[arg(long, default_value = "100G", value_name = "SIZE")]
    data_quota: String,
    /// Requests per second one API token or portal session may make (bursts of twice
    /// that); more are answered 429 with Retry-After. 0: no limit.
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    rate_limit_token: u32,
    /// Requests per second from one client address, signed in or not (bursts of twice
    /// that). 0: no limit.
    #[arg(long, default_value_t = 2_000, value_name = "N")]
    rate_limit_address: u32,
    /// Jobs one user may have waiting (pending or held) at once; more are refused with 429. 0: no limit.
    #[arg(long, default_value_t = 10_000, value_name = "JOBS")]
    max_queued_per_user: u32,
    /// The largest job array: task ids run from 0 to one less (Slurm's MaxArraySize; at most 4000001).
    #[arg(long, default_value_t = aisc_model::array::DEFAULT_MAX_ARRAY_SIZE, value_name = "TASKS",
        value_parser = clap::value_parser!(u32).range(1..=i64::from(aisc_model::array::HARD_MAX_ARRAY_SIZE)))]
    max_array_size: u32,
    /// Declare N fake GPUs (or TYPE:N, e.g. h100:8) instead of asking NVML; for testing.
    #[arg(long, value_name = "[TYPE:]N")]
    fake_gpus: Option<String>,
    /// Time between SIGTERM and SIGKILL when a job is cancelled or runs out of time.
    #[arg(long, default_value = "10s", value_name = "TIME")]
    kill_grace: String,
    /// `full`: every reply waits for its commit to reach the disk; `normal`: survives an aisc crash, not a power cut.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Full)]
    durability: DurabilityArg,
    #[command(flatten)]
    policy: crate::policy_args::PolicyArgs,
    /// Read settings from a TOML file (keys are these flags' names; `[slurm]` holds
    /// the `--slurm-*` ones, `[slurm.partitions]` maps classes to partitions). Flags win.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where jobs run: `local` (processes on this host, as the server's own OS user) or
    /// `slurm` (a Slurm cluster through slurmrestd, as each user's Unix name).
    #[arg(long, env = "AISC_ENGINE", value_enum, default_value_t = EngineArg::Local)]
    engine: EngineArg,
    /// slurmrestd's address (engine slurm).
    #[arg(long, env = "AISC_SLURM_URL", value_name = "URL")]
    slurm_url: Option<String>,
    /// The file holding Slurm's JWT key (slurm.conf `AuthAltParameters=jwt_key=`).
    #[arg(long, env = "AISC_SLURM_JWT_KEY", value_name = "FILE")]
    slurm_jwt_key: Option<PathBuf>,
    /// The Slurm user the tokens are minted for (Slurm's SlurmUser).
    #[arg(
        long,
        env = "AISC_SLURM_USER",
        default_value = "slurm",
        value_name = "NAME"
    )]
    slurm_user: String,
    /// Slurm's cluster name, for accounts (default: ClusterName in /etc/slurm/slurm.conf).
    #[arg(long, env = "AISC_SLURM_CLUSTER", value_name = "NAME")]
    slurm_cluster: Option<String>,
    /// A resource class's partition, CLASS=PARTITION (repeat, or comma-separate).
    #[arg(
        long,
        env = "AISC_SLURM_PARTITION",
        value_name = "CLASS=PARTITION",
        value_delimiter = ','
    )]
    slurm_partition: Vec<String>,
    /// The partition of classes not mapped (default: Slurm's default partition).
    #[arg(long, env = "AISC_SLURM_DEFAULT_PARTITION", value_name = "PARTITION")]
    slurm_default_partition: Option<String>,
    /// How many admitted jobs may wait in Slurm's own queue, so that Slurm starts the
    /// next the moment one ends (default: twice the cluster's GPU count, at least 256).
    #[arg(long, value_name = "JOBS")]
    slurm_queue_depth: Option<usize>,
    /// How often Slurm's job states are polled, milliseconds.
    #[arg(long, default_value_t = 250, value_name = "MS")]
    slurm_poll_ms: u64,
    /// How often Slurm's accounts are reconciled with grants, seconds (0: only by `aisc slurm sync`).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    slurm_sync_interval: u64,
    /// A directory where jobs may write their output files (`--output`, `--error`) besides
    /// their working directory (repeat, or comma-separate); never the data directory.
    #[arg(long, env = "AISC_JOB_ROOT", value_name = "DIR", value_delimiter = ',')]
    job_root: Vec<PathBuf>,
    /// The lowest uid a job may run as when the server is root: accounts below it are
    /// system accounts (uid 0 never runs a job).
    #[arg(long, default_value_t = 1000, value_name = "UID")]
    min_job_uid: u32,
    /// When the server is root, the Unix account that runs the jobs of users who have no
    /// Unix name of their own (`aisc user set-unix-name`); without it their jobs are refused.
    #[arg(long, env = "AISC_DEFAULT_UNIX_NAME", value_name = "NAME")]
    default_unix_name: Option<String>,
    /// Let auditors read jobs' content (commands, scripts, environment, logs) as well as
    /// their metadata; each such read is an audit event.
    #[arg(long)]
    auditors_read_content: bool,
    /// Where interactive jobs (`aisc run`, `aisc alloc`) reach this server from the nodes
    /// they run on, e.g. https://aisc.example:8443 (default: the address it listens on,
    /// loopback when it listens on all).
    #[arg(long, value_name = "URL")]
    relay_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EngineArg {
    Local,
    Slurm,
}

fn parse_database(s: &str) -> Result<aisc_store::Database, String> {
    aisc_store::Database::parse(s)
}

/// The arguments with a `--config` file's settings added for every flag not
/// given on the command line (so flags win over the file).
pub fn with_config_file(args: Vec<String>) -> Result<Vec<String>> {
    if args.get(1).map(String::as_str) != Some("serve") {
        return Ok(args);
    }
    let path = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--config=").map(str::to_string).or_else(|| {
            (a == "--config")
                .then(|| args.get(i + 1).cloned())
                .flatten()
        })
    });
    let Some(path) = path else { return Ok(args) };
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("--config {path}: {e}"))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("--config {path}: {e}"))?;
    let mut flags: Vec<(String, String)> = Vec::new();
    flatten(&table, "", &mut flags).map_err(|e| anyhow::anyhow!("--config {path}: {e}"))?;
    let mut out = args.clone();
    for (flag, value) in flags {
        let given = args
            .iter()
            .any(|a| a == &flag || a.starts_with(&format!("{flag}=")));
        if !given {
            out.push(flag);
            out.push(value);
        }
    }
    Ok(out)
}

fn flatten(table: &toml::Table, prefix: &str, out: &mut Vec<(String, String)>) -> Result<()> {
    for (key, value) in table {
        let name = format!("{prefix}{}", key.replace('_', "-"));
        match value {
            toml::Value::Table(t) if name == "slurm-partitions" => {
                let pairs: Vec<String> = t
                    .iter()
                    .map(|(class, p)| match p {
                        toml::Value::String(p) => Ok(format!("{class}={p}")),
                        _ => Err(anyhow::anyhow!(
                            "slurm.partitions.{class}: expected a partition name"
                        )),
                    })
                    .collect::<Result<_>>()?;
                out.push(("--slurm-partition".into(), pairs.join(",")));
            }
            toml::Value::Table(t) => flatten(t, &format!("{name}-"), out)?,
            toml::Value::String(s) => out.push((format!("--{name}"), s.clone())),
            toml::Value::Integer(i) => out.push((format!("--{name}"), i.to_string())),
            toml::Value::Float(f) => out.push((format!("--{name}"), f.to_string())),
            toml::Value::Boolean(b) => out.push((format!("--{name}"), b.to_string())),
            _ => bail!("{name}: expected a string, number or boolean"),
        }
    }
    Ok(())
}

/// ClusterName from /etc/slurm/slurm.conf, if there is one.
fn cluster_from_slurm_conf() -> Option<String> {
    let text = std::fs::read_to_string("/etc/slurm/slurm.conf").ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("ClusterName")
            .then(|| v.trim().to_string())
    })
}

fn engine_choice(a: &ServeArgs) -> Result<EngineChoice> {
    if a.engine == EngineArg::Local {
        return Ok(EngineChoice::Local);
    }
    let url = a
        .slurm_url
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--slurm-url: engine slurm needs slurmrestd's address"))?;
    let key_path = a.slurm_jwt_key.clone().ok_or_else(|| {
        anyhow::anyhow!("--slurm-jwt-key: engine slurm needs the file with Slurm's JWT key")
    })?;
    let jwt_key = std::fs::read(&key_path)
        .map_err(|e| anyhow::anyhow!("--slurm-jwt-key {}: {e}", key_path.display()))?;
    if jwt_key.len() < 16 {
        bail!(
            "--slurm-jwt-key {}: {} bytes is too short for a key (at least 16)",
            key_path.display(),
            jwt_key.len()
        );
    }
    let mut partitions = BTreeMap::new();
    for m in &a.slurm_partition {
        let (class, part) = m
            .split_once('=')
            .filter(|(c, p)| !c.is_empty() && !p.is_empty())
            .ok_or_else(|| anyhow::anyhow!("--slurm-partition {m:?}: expected CLASS=PARTITION"))?;
        partitions.insert(class.to_string(), part.to_string());
    }
    if a.slurm_poll_ms == 0 || a.slurm_poll_ms > 60_000 {
        bail!("--slurm-poll-ms {}: must be 1 to 60000", a.slurm_poll_ms);
    }
    let cluster = a
        .slurm_cluster
        .clone()
        .or_else(cluster_from_slurm_conf)
        .unwrap_or_else(|| "cluster".into());
    Ok(EngineChoice::Slurm(Box::new(SlurmChoice {
        client: SlurmConfig {
            url,
            jwt_key,
            service_user: a.slurm_user.clone(),
            timeout: Duration::from_secs(15),
        },
        settings: SlurmSettings {
            partitions,
            default_partition: a.slurm_default_partition.clone(),
            queue_depth: 0,
        },
        cluster,
        poll: Duration::from_millis(a.slurm_poll_ms),
        queue_depth: a.slurm_queue_depth,
        sync_every: (a.slurm_sync_interval > 0).then(|| Duration::from_secs(a.slurm_sync_interval)),
    })))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DurabilityArg {
    Full,
    Normal,
}

pub async fn run(a: ServeArgs) -> Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let fake_gpus = match a.fake_gpus.as_deref() {
        None => None,
        Some(spec) => {
            let (model, count) = aisc_model::sbatch::parse_gpu_spec(spec)
                .map_err(|e| anyhow::anyhow!("--fake-gpus: {e}"))?;
            if count > 1024 {
                bail!("--fake-gpus: {count} is more than 1024 GPUs on one host");
            }
            Some(FakeGpus {
                count,
                model: model.unwrap_or_else(|| "fake".into()),
            })
        }
    };
    let grace = aisc_model::units::parse_time_limit(&a.kill_grace)
        .map_err(|e| anyhow::anyhow!("--kill-grace: {e}"))?;
    let policy = a.policy.policy()?;
    let engine = engine_choice(&a)?;
    let data_quota_bytes = aisc_model::units::parse_mem_mb(&a.data_quota)
        .map(|mb| (mb as i64).saturating_mul(1 << 20))
        .map_err(|e| anyhow::anyhow!("--data-quota: {e}"))?;
    let master_keys = match (a.master_key_file, std::env::var("AISC_MASTER_KEY")) {
        (Some(path), _) => Some(aisc_vault::KeySource::File(path)),
        (None, Ok(value)) => Some(aisc_vault::KeySource::Variable {
            name: "AISC_MASTER_KEY".into(),
            value,
        }),
        (None, Err(_)) => None,
    };
    let mut hidden: Vec<PathBuf> = a.config.iter().cloned().collect();
    hidden.extend(a.slurm_jwt_key.iter().cloned());
    if a.min_job_uid == 0 {
        bail!("--min-job-uid: 0 would let jobs run as root; give 1 or more (1000 is usual)");
    }
    let jobs = aisc_server::JobSettings {
        roots: a.job_root.clone(),
        min_uid: a.min_job_uid,
        default_unix_name: a.default_unix_name.clone(),
        hidden,
    };
    if let Some(u) = &a.relay_url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        bail!("--relay-url: {u:?} must start with http:// or https://");
    }
    let config = Config {
        auditors_read_content: a.auditors_read_content,
        relay_url: a.relay_url.clone(),
        jobs,
        master_keys,
        data_quota_bytes,
        engine,
        policy,
        data_dir: a.data_dir,
        database: a.database,
        listen: a.listen,
        public_url: a.public_url,
        tls: match (a.tls_cert, a.tls_key) {
            (Some(cert), Some(key)) => Some(aisc_server::TlsFiles { cert, key }),
            _ => None,
        },
        limits: aisc_server::limits::LimitSettings {
            per_token: a.rate_limit_token,
            per_address: a.rate_limit_address,
            max_queued_per_user: a.max_queued_per_user,
            max_array_size: a.max_array_size,
        },
        fake_gpus,
        kill_grace: Duration::from_secs(grace),
        durability: match a.durability {
            DurabilityArg::Full => Durability::Full,
            DurabilityArg::Normal => Durability::Normal,
        },
    };
    aisc_server::run(config, shutdown_signal()).await?;
    eprintln!("aisc: stopped; running jobs keep running and are re-adopted at the next start");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_database_is_a_postgres_url_or_an_sqlite_path_and_anything_else_is_named() {
        assert_eq!(
            parse_database("postgres://u@h/db"),
            Ok(aisc_store::Database::Postgres("postgres://u@h/db".into()))
        );
        assert_eq!(
            parse_database("sqlite:///var/aisc.db"),
            Ok(aisc_store::Database::Sqlite("/var/aisc.db".into()))
        );
        assert_eq!(
            parse_database("./aisc.db"),
            Ok(aisc_store::Database::Sqlite("./aisc.db".into()))
        );
        let e = parse_database("mysql://h/db").expect_err("refused");
        assert!(e.contains("database") && e.contains("mysql"), "{e}");
        assert!(
            parse_database("")
                .expect_err("refused")
                .contains("database")
        );
    }

    #[test]
    fn a_config_file_fills_in_flags_the_command_line_did_not_give() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("aisc.toml");
        std::fs::write(
            &path,
            "engine = \"slurm\"\nlisten = \"127.0.0.1:9000\"\ndatabase = \"postgres://aisc@db:5432/aisc\"\n[slurm]\nurl = \"http://c:6820\"\njwt_key = \"/k\"\n\
             poll_ms = 500\n[slurm.partitions]\nh100 = \"gpu\"\na100 = \"old\"\n",
        )
        .expect("write");
        let p = path.display().to_string();
        let out = with_config_file(args(&[
            "aisc",
            "serve",
            "--config",
            &p,
            "--listen",
            "0.0.0.0:1",
        ]))
        .expect("parses");
        let joined = out.join(" ");
        assert!(joined.contains("--engine slurm"));
        assert!(joined.contains("--database postgres://aisc@db:5432/aisc"));
        assert!(joined.contains("--slurm-url http://c:6820"));
        assert!(joined.contains("--slurm-jwt-key /k"));
        assert!(joined.contains("--slurm-poll-ms 500"));
        assert!(joined.contains("--slurm-partition a100=old,h100=gpu"));
        // The command line wins: the file's listen is not added.
        assert!(!joined.contains("127.0.0.1:9000"));
        // Other commands are left alone.
        let plain = args(&["aisc", "jobs", "--config", "x"]);
        assert_eq!(with_config_file(plain.clone()).expect("untouched"), plain);
    }

    #[test]
    fn a_bad_config_file_is_refused_naming_the_file_and_key() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[slurm.partitions]\nh100 = 3\n").expect("write");
        let p = path.display().to_string();
        let e = with_config_file(args(&["aisc", "serve", "--config", &p]))
            .expect_err("refused")
            .to_string();
        assert!(e.contains(&p) && e.contains("slurm.partitions.h100"), "{e}");
        let e = with_config_file(args(&["aisc", "serve", "--config", "/nonexistent.toml"]))
            .expect_err("refused")
            .to_string();
        assert!(e.contains("/nonexistent.toml"), "{e}");
    }
}
