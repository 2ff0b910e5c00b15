//! Where jobs really run, behind one trait, [`Engine`]: the local engine
//! ([`Local`] over [`LocalEngine`]), which runs each job as a process group
//! on this host, the Slurm engine ([`slurm::Slurm`]), which hands admitted
//! jobs to a Slurm cluster through slurmrestd, and a fake one for tests
//! ([`fake::FakeEngine`]).
//!
//! Guarantees of the local engine:
//! - each job runs in its own process group, in its working directory, with
//!   the environment it asked for plus `AISC_JOB_ID`, `SLURM_JOB_ID`-style
//!   variables and `CUDA_VISIBLE_DEVICES` (its GPU indices, PCI bus order);
//! - it starts through the launcher ([`confine`]), which writes its own pid
//!   (the process group's leader) to `<job dir>/pid` before the job starts
//!   and the job's exit status to `<job dir>/exit` after it ends, so a job
//!   whose server was restarted can be re-adopted and still report how it
//!   ended;
//! - the launcher, not the server, opens the paths a user chose, runs the
//!   job as its user (root server) or under Landlock (unprivileged server),
//!   hides the server's files from it and stops it at its time limit even
//!   when the control loop does not;
//! - every exit is reported once on the events channel.
//!
//! Caveat: with an unprivileged server there are no cgroups, so a process
//! that leaves its process group (`setsid`) escapes cancellation there.

pub mod confine;
mod engine;
pub mod fake;
mod host;
mod local;
mod on_host;
mod procfs;
pub mod slurm;

pub use engine::{
    Accounts, Admission, Alloc, End, Engine, EngineEvent, Events, How, Measured, Ran, RecoverJob,
    Recovered, StartJob, Started, Verdict, expand_pattern, verdict_of,
};
pub use on_host::Local;

pub use host::{FakeGpus, GpuInfo, HostInfo, discover};

/// Makes ring the process's TLS crypto provider (rustls), which every HTTP
/// client and the https server need before they are built; the first call
/// wins and later ones do nothing. aisc builds only ring, so that no second
/// C library is needed.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds an HTTP client from `builder` (called again if needed): with the
/// system's CA roots where the host has them; on a host without any, with
/// only the roots `builder` adds, so that plain http still works and https
/// needs those.
pub fn http_client(
    builder: impl Fn() -> reqwest::ClientBuilder,
) -> reqwest::Result<reqwest::Client> {
    install_crypto_provider();
    builder()
        .build()
        .or_else(|_| builder().tls_certs_only(Vec::new()).build())
}
pub use local::{LaunchSpec, Launched, LocalEngine, LocalEvent, Outcome, Recovery, SRUN};

/// What can go wrong starting or watching a job.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A file or directory the job needs could not be prepared.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path involved.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The process could not be started.
    #[error("could not start the job's process: {0}")]
    Spawn(#[source] std::io::Error),
}
