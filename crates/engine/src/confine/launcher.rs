//! The launcher process (`aisc __launch JOB_DIR`): see the module above for
//! what it guarantees. It is single-threaded, so forking is safe here.

use super::cgroup::Cgroups;
use super::files::{self, Opened};
use super::{LAUNCH_FAILED, Mode, Plan, Target, hide, names};
use nix::sys::signal::{SigHandler, Signal, kill, killpg};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Gid, Pid, Uid, User};
use std::ffi::{CString, OsStr};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the job's process ended.
enum End {
    Exited(i32),
    Signaled(Signal),
}

/// Runs the launcher for the job directory given as the last argument and
/// exits the way the job did (its status, or its signal).
pub fn main() -> ! {
    let Some(dir) = std::env::args_os().next_back().map(PathBuf::from) else {
        std::process::exit(LAUNCH_FAILED)
    };
    match run(&dir) {
        Ok(End::Exited(code)) => std::process::exit(code),
        Ok(End::Signaled(sig)) => {
            // Die of the same signal, so that whoever waits sees it.
            let _ = set_disposition(sig, SigHandler::SigDfl);
            let _ = kill(Pid::this(), sig);
            std::process::exit(128 + sig as i32)
        }
        Err(why) => {
            let _ = write_atomic(&dir.join(names::LAUNCH_ERROR), why.as_bytes(), 0o600);
            let _ = writeln!(std::io::stderr(), "aisc launcher: {why}");
            std::process::exit(LAUNCH_FAILED)
        }
    }
}

/// SIGTERM and the signals a job may ask to be sent before its limit.
fn job_signals() -> impl Iterator<Item = Signal> {
    aisc_model::signal::NAMES
        .iter()
        .filter_map(|(_, n)| Signal::try_from(*n).ok())
        .chain([Signal::SIGTERM])
}

#[allow(unsafe_code)]
fn set_disposition(sig: Signal, how: SigHandler) -> nix::Result<SigHandler> {
    // SAFETY: only the default and ignore dispositions are set, never a handler.
    unsafe { nix::sys::signal::signal(sig, how) }
}

#[allow(unsafe_code)]
fn fork() -> nix::Result<ForkResult> {
    // SAFETY: the launcher is single-threaded (no runtime, no helper threads),
    // so the child may allocate and do anything before it executes the job.
    unsafe { nix::unistd::fork() }
}

fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    f.write_all(bytes)?;
    fs::rename(&tmp, path)
}

/// The Unix account a job runs as.
struct Account {
    name: String,
    uid: Uid,
    gid: Gid,
    groups: Vec<Gid>,
    home: PathBuf,
    shell: PathBuf,
}

fn account(plan: &Plan) -> Result<Option<Account>, String> {
    if plan.mode != Mode::Accounts {
        return Ok(None);
    }
    let name = plan
        .run_as
        .clone()
        .ok_or("the job's user has no Unix account (aisc user set-unix-name NAME UNIX_NAME)")?;
    let user = User::from_name(&name)
        .map_err(|e| format!("looking up Unix account {name}: {e}"))?
        .ok_or_else(|| format!("there is no Unix account named {name} on this host"))?;
    if user.uid.is_root() {
        return Err(format!("{name} is root: no job runs as root"));
    }
    if user.uid.as_raw() < plan.min_uid {
        return Err(format!(
            "{name} is a system account (uid {} is below the minimum of {})",
            user.uid, plan.min_uid
        ));
    }
    let cname = CString::new(name.as_bytes()).map_err(|_| format!("bad account name {name}"))?;
    let groups = nix::unistd::getgrouplist(&cname, user.gid)
        .map_err(|e| format!("groups of {name}: {e}"))?;
    Ok(Some(Account {
        name,
        uid: user.uid,
        gid: user.gid,
        groups,
        home: user.dir,
        shell: user.shell,
    }))
}

/// Runs `f` with the effective identity of `acct` (root's own afterwards).
fn as_user<T>(acct: Option<&Account>, f: impl FnOnce() -> T) -> Result<T, String> {
    let Some(a) = acct else { return Ok(f()) };
    let saved = nix::unistd::getgroups().map_err(|e| format!("getgroups: {e}"))?;
    nix::unistd::setgroups(&a.groups).map_err(|e| format!("setgroups: {e}"))?;
    nix::unistd::setegid(a.gid).map_err(|e| format!("setegid: {e}"))?;
    nix::unistd::seteuid(a.uid).map_err(|e| format!("seteuid: {e}"))?;
    let out = f();
    nix::unistd::seteuid(Uid::from_raw(0)).map_err(|e| format!("seteuid back: {e}"))?;
    nix::unistd::setegid(Gid::from_raw(0)).map_err(|e| format!("setegid back: {e}"))?;
    nix::unistd::setgroups(&saved).map_err(|e| format!("setgroups back: {e}"))?;
    Ok(out)
}

/// The job's standard output and error, opened.
struct Streams {
    out: File,
    err: File,
    opened: Vec<Opened>,
}

fn open_target(
    t: &Target,
    stream: &str,
    plan: &Plan,
    acct: Option<&Account>,
    opened: &mut Vec<Opened>,
) -> Result<File, String> {
    match t {
        Target::Captured(p) => {
            if !p.starts_with(&plan.job_dir) {
                return Err(format!("{} is not in the job's directory", p.display()));
            }
            OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(p)
                .map_err(|e| format!("cannot open {stream} file {}: {e}", p.display()))
        }
        Target::File(p) => {
            let mut allowed = vec![plan.workdir.clone()];
            allowed.extend(plan.roots.iter().cloned());
            let (file, path, id, uid) =
                as_user(acct, || files::open_output(p, &allowed, &plan.hidden))?
                    .map_err(|e| format!("cannot open {stream} file: {e}"))?;
            opened.push(Opened {
                stream: stream.into(),
                path,
                id,
                uid,
            });
            Ok(file)
        }
    }
}

fn streams(plan: &Plan, acct: Option<&Account>) -> Result<Streams, String> {
    let mut opened = Vec::new();
    let out = open_target(&plan.stdout, "output", plan, acct, &mut opened)?;
    let err = match &plan.stderr {
        Some(t) => open_target(t, "error", plan, acct, &mut opened)?,
        None => out
            .try_clone()
            .map_err(|e| format!("cannot share the output file: {e}"))?,
    };
    Ok(Streams { out, err, opened })
}

fn run(dir: &Path) -> Result<End, String> {
    // First of all (the server writes it too, right after the spawn): a server
    // that takes over knows this process is the job's.
    write_atomic(
        &dir.join("pid"),
        format!("{}\n", std::process::id()).as_bytes(),
        0o600,
    )
    .map_err(|e| format!("cannot write the pid file: {e}"))?;
    let plan_path = dir.join(names::PLAN);
    let plan: Plan = serde_json::from_slice(
        &fs::read(&plan_path).map_err(|e| format!("cannot read {}: {e}", plan_path.display()))?,
    )
    .map_err(|e| format!("bad launch plan: {e}"))?;
    let _ = fs::remove_file(&plan_path);
    let acct = account(&plan)?;
    if let Some(a) = &acct {
        // The job reads its own directory (its script, its `srun`) through
        // its group; it writes nothing there.
        let bin = plan.job_dir.join("bin");
        for p in [plan.job_dir.clone(), bin.clone(), bin.join("srun")]
            .into_iter()
            .filter(|p| p == &plan.job_dir || p.exists())
            .chain(
                plan.argv
                    .first()
                    .map(PathBuf::from)
                    .filter(|p| p.starts_with(&plan.job_dir)),
            )
        {
            nix::unistd::chown(&p, Some(Uid::from_raw(0)), Some(a.gid))
                .map_err(|e| format!("chown {}: {e}", p.display()))?;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o750))
                .map_err(|e| format!("chmod {}: {e}", p.display()))?;
        }
    }
    let io = streams(&plan, acct.as_ref())?;
    if !io.opened.is_empty() {
        let json = serde_json::to_vec(&io.opened).map_err(|e| e.to_string())?;
        write_atomic(&dir.join(names::OUTPUTS), &json, 0o600)
            .map_err(|e| format!("cannot record the output files: {e}"))?;
    }
    let cgroups = if acct.is_some() {
        Cgroups::detect()
    } else {
        Cgroups::Unavailable("not root".into())
    };
    if !matches!(cgroups, Cgroups::Unavailable(_)) {
        cgroups
            .create(&plan.cgroup, &plan.limits)
            .map_err(|e| format!("cannot make the job's cgroup: {e}"))?;
    }
    let env = environment(acct.as_ref());
    let (rd, wr) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    // The launcher ignores what the job may be sent (SIGTERM, and the
    // signals `--signal` may name): they are for the job's processes.
    for sig in job_signals() {
        set_disposition(sig, SigHandler::SigIgn).map_err(|e| format!("signal: {e}"))?;
    }
    match fork().map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(rd);
            let Err(why) = child(&plan, acct.as_ref(), &io, &cgroups, &env);
            let mut w = File::from(wr);
            let _ = w.write_all(why.as_bytes());
            std::process::exit(LAUNCH_FAILED)
        }
        ForkResult::Parent { child } => {
            drop(wr);
            drop(io);
            let _ = nix::sys::prctl::set_dumpable(false);
            let mut why = String::new();
            let _ = File::from(rd).read_to_string(&mut why);
            if !why.is_empty() {
                let _ = waitpid(child, None);
                cgroups.remove(&plan.cgroup);
                return Err(why);
            }
            Ok(watch(&plan, child, &cgroups))
        }
    }
}

/// The job's environment: the launcher's (what the server gave the job),
/// with the account's identity where it runs as one.
fn environment(acct: Option<&Account>) -> Vec<CString> {
    let own = |k: &OsStr| {
        acct.is_some()
            && ["HOME", "USER", "LOGNAME", "SHELL"]
                .iter()
                .any(|n| k == OsStr::new(n))
    };
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| !own(k))
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    if let Some(a) = acct {
        for (k, v) in [
            ("HOME", a.home.display().to_string()),
            ("USER", a.name.clone()),
            ("LOGNAME", a.name.clone()),
            ("SHELL", a.shell.display().to_string()),
        ] {
            if let Ok(c) = CString::new(format!("{k}={v}")) {
                env.push(c);
            }
        }
    }
    env
}

/// In the forked child: confine, become the user, execute. Returns only on failure.
fn child(
    plan: &Plan,
    acct: Option<&Account>,
    io: &Streams,
    cgroups: &Cgroups,
    env: &[CString],
) -> Result<std::convert::Infallible, String> {
    for sig in job_signals() {
        set_disposition(sig, SigHandler::SigDfl).map_err(|e| format!("signal: {e}"))?;
    }
    if !matches!(cgroups, Cgroups::Unavailable(_)) {
        cgroups
            .join(&plan.cgroup, 0)
            .map_err(|e| format!("cannot enter the job's cgroup: {e}"))?;
    }
    match acct {
        Some(a) => {
            hide::private_mounts(&plan.hidden, &plan.job_dir, false)?;
            nix::unistd::setgroups(&a.groups).map_err(|e| format!("setgroups: {e}"))?;
            nix::unistd::setresgid(a.gid, a.gid, a.gid).map_err(|e| format!("setgid: {e}"))?;
            nix::unistd::setresuid(a.uid, a.uid, a.uid).map_err(|e| format!("setuid: {e}"))?;
            if nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
                return Err("could not give up root".into());
            }
        }
        None => {
            let mounts_hide = hide::private_mounts(&plan.hidden, &plan.job_dir, true).is_ok();
            hide::landlock(&plan.hidden, &plan.job_dir, mounts_hide)?;
        }
    }
    nix::unistd::chdir(&plan.workdir)
        .map_err(|e| format!("working directory {}: {e}", plan.workdir.display()))?;
    let null = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("/dev/null: {e}"))?;
    let dup = |e: nix::errno::Errno| format!("dup2: {e}");
    nix::unistd::dup2_stdin(&null).map_err(dup)?;
    nix::unistd::dup2_stdout(&io.out).map_err(dup)?;
    nix::unistd::dup2_stderr(&io.err).map_err(dup)?;
    let argv: Vec<CString> = plan
        .argv
        .iter()
        .map(|a| CString::new(a.as_bytes()).map_err(|_| "an argument holds a NUL byte".to_string()))
        .collect::<Result<_, _>>()?;
    let prog = argv.first().ok_or("nothing to run")?;
    let e = nix::unistd::execvpe(prog, &argv, env).err();
    Err(format!(
        "cannot run {}: {}",
        plan.argv.first().map_or("", String::as_str),
        e.map_or_else(String::new, |e| e.to_string())
    ))
}

/// Waits for the job, stopping it at the watchdog's deadline; records its exit status.
fn watch(plan: &Plan, child: Pid, cgroups: &Cgroups) -> End {
    // The job has been forked: a thread is safe now. It sleeps until the
    // deadline and stops the job; this thread waits for the job to end, and
    // the process exits (ending the watchdog) as soon as it has.
    if plan.watchdog_ms > 0 {
        let (deadline, grace) = (
            Duration::from_millis(plan.watchdog_ms),
            Duration::from_millis(plan.grace_ms),
        );
        let (marker, name, cgroups) = (
            plan.job_dir.join(names::WATCHDOG),
            plan.cgroup.clone(),
            cgroups.clone(),
        );
        let group = nix::unistd::getpgrp();
        std::thread::spawn(move || {
            std::thread::sleep(deadline);
            let _ = write_atomic(
                &marker,
                b"stopped at its time limit by its watchdog\n",
                0o600,
            );
            // The launcher ignores SIGTERM; the job's processes get it.
            let _ = killpg(group, Signal::SIGTERM);
            cgroups.signal(&name, Signal::SIGTERM);
            std::thread::sleep(grace);
            loop {
                kill_group_but_me(group);
                cgroups.signal(&name, Signal::SIGKILL);
                std::thread::sleep(Duration::from_millis(500));
            }
        });
    }
    let end = loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => break End::Exited(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => break End::Signaled(sig),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break End::Exited(LAUNCH_FAILED),
        }
    };
    let code = match &end {
        End::Exited(c) => *c,
        End::Signaled(s) => 128 + *s as i32,
    };
    let _ = write_atomic(
        &plan.job_dir.join("exit"),
        format!("{code}\n").as_bytes(),
        0o600,
    );
    end
}

/// SIGKILL to every process of the launcher's group except the launcher.
fn kill_group_but_me(group: Pid) {
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    for pid in entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i64>().ok()))
    {
        if u32::try_from(pid).is_ok_and(|p| p == me) {
            continue;
        }
        if crate::procfs::stat(pid).is_some_and(|s| s.pgrp == i64::from(group.as_raw()))
            && let Ok(p) = i32::try_from(pid)
        {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
    }
}
