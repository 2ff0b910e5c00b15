//! `sbatch`'s options that `aisc submit` passes to the server as they are
//! written, to be read as a script's `#SBATCH` lines are (and over them):
//! honoured, or refused with the reason. The server's table
//! (`aisc_model::sbatch::known`) decides; these are spelled here so that
//! `aisc submit --help` lists them.

use clap::Args;

/// One option: its long name and its value, if given.
macro_rules! sbatch_options {
    ($( $(#[$doc:meta])* [$($short:literal)?] $field:ident: $long:literal ),* $(,)?) => {
        /// Options of `sbatch` passed through as written.
        #[derive(Debug, Default, Args)]
        pub struct SbatchArgs {
            $(
                $(#[$doc])*
                #[arg(long = $long, $(short = $short,)? value_name = "VALUE", help_heading = "sbatch options")]
                pub $field: Option<String>,
            )*
        }

        impl SbatchArgs {
            /// The options given, as `--name=value` words.
            pub fn words(&self) -> Vec<String> {
                let mut out = Vec::new();
                $(
                    if let Some(v) = &self.$field {
                        out.push(format!("--{}={v}", $long));
                    }
                )*
                out
            }
        }
    };
}

sbatch_options! {
    /// Nodes: N or MIN-MAX (more than one on the Slurm engine).
    ['N'] nodes: "nodes",
    /// Tasks in all (`srun` in the job runs that many).
    ['n'] ntasks: "ntasks",
    /// Tasks per node.
    [] ntasks_per_node: "ntasks-per-node",
    /// GPUs per node: N or TYPE:N.
    [] gpus_per_node: "gpus-per-node",
    /// GPUs per task: N or TYPE:N.
    [] gpus_per_task: "gpus-per-task",
    /// CPUs per GPU.
    [] cpus_per_gpu: "cpus-per-gpu",
    /// Memory per CPU, e.g. 2G.
    [] mem_per_cpu: "mem-per-cpu",
    /// Memory per GPU, e.g. 40G.
    [] mem_per_gpu: "mem-per-gpu",
    /// Partition: the resource class of the grant to charge.
    ['p'] partition: "partition",
    /// A comment stored with the job.
    [] comment: "comment",
    /// Mail events (stored; no mail is sent yet).
    [] mail_type: "mail-type",
    /// Mail recipient (stored; no mail is sent yet).
    [] mail_user: "mail-user",
    /// A command to run as a `sh` script, instead of a script or a command.
    [] wrap: "wrap",
    /// A job array: task ids 0-15, 1,3,5 or 1-9:2, and %N to run at most N at once (SLURM_ARRAY_TASK_ID; %A and %a in -o/-e).
    ['a'] array: "array",
    /// Dependencies on other jobs: afterok:ID, afterany:ID, singleton, ...
    ['d'] dependency: "dependency",
    /// The earliest start: now+N[unit], YYYY-MM-DD[THH:MM], HH:MM, noon, midnight, ... (Hong Kong time).
    ['b'] begin: "begin",
    /// A signal before the time limit: [R:]SIG[@SECS].
    [] signal: "signal",
    /// Node features the job needs, as Slurm writes them (Slurm engine).
    ['C'] constraint: "constraint",
    /// Nodes the job must run on (a host list: gpu[01-04]); local engine: its one node.
    ['w'] nodelist: "nodelist",
    /// Nodes the job must not run on (a host list).
    ['x'] exclude: "exclude",
    /// A reservation (refused: this centre has none).
    [] reservation: "reservation",
}
