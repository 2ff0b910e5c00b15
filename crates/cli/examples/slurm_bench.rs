//! Short jobs run to completion on a Slurm cluster, three ways, for
//! `scripts/bench-slurm.sh`: submitted straight with `sbatch`, straight through
//! slurmrestd, and through aisc (`aisc serve --engine slurm`). Each job asks
//! for 1 GPU, 1 CPU and 1 GiB for 5 minutes and runs `true`. Prints the time
//! to submit, the time until the last job ended, and jobs per second end to end.
//!
//! ```text
//! slurm_bench sbatch SLURM_URL KEY_FILE USER ACCOUNT NAME COUNT
//! slurm_bench rest   SLURM_URL KEY_FILE USER ACCOUNT NAME COUNT CLIENTS
//! slurm_bench aisc   AISC_URL TOKEN NAME COUNT CLIENTS
//! ```

use aisc_engine::slurm::{JobDesc, Phase, SlurmClient, SlurmConfig, Submission, phase};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const DEADLINE: Duration = Duration::from_secs(600);
/// How often the end is looked for (the same for the three ways).
const POLL: Duration = Duration::from_millis(250);

#[tokio::main]
async fn main() -> Res<()> {
    let a: Vec<String> = std::env::args().collect();
    let arg = |i: usize| -> Res<String> {
        a.get(i)
            .cloned()
            .ok_or_else(|| "missing argument (see the file's header)".into())
    };
    match a.get(1).map(String::as_str) {
        Some("sbatch") => {
            let slurm = client(&arg(2)?, &arg(3)?)?;
            let (user, account, name) = (arg(4)?, arg(5)?, arg(6)?);
            let count: usize = arg(7)?.parse()?;
            let start = Instant::now();
            let script = format!(
                "for i in $(seq {count}); do sbatch --parsable -A {account} -p h100 -G 1 -c 1 --mem 1G -t 5 -J {name} -o /dev/null --wrap true >/dev/null || exit 1; done"
            );
            let st = tokio::process::Command::new("su")
                .args(["-s", "/bin/sh", &user, "-c", &script])
                .current_dir("/tmp")
                .status()
                .await?;
            if !st.success() {
                return Err("sbatch failed".into());
            }
            let submitted = start.elapsed();
            wait_slurm(&slurm, &name, count, start).await?;
            report("sbatch, 1 client", count, submitted, start.elapsed());
        }
        Some("rest") => {
            let slurm = client(&arg(2)?, &arg(3)?)?;
            let (user, account, name) = (arg(4)?, arg(5)?, arg(6)?);
            let count: usize = arg(7)?.parse()?;
            let clients: usize = arg(8)?.parse()?;
            let job = Submission {
                script: "#!/bin/sh\ntrue\n".into(),
                job: JobDesc {
                    account,
                    partition: Some("h100".into()),
                    name: name.clone(),
                    comment: String::new(),
                    current_working_directory: "/tmp".into(),
                    environment: BTreeMap::from([("PATH".into(), "/usr/bin:/bin".into())]),
                    time_limit: 5,
                    gpus: Some("1".into()),
                    gpus_per_node: None,
                    gpus_per_task: None,
                    cpus_per_task: 1,
                    memory_per_node: 1024,
                    tasks: 1,
                    tasks_per_node: None,
                    nodes: "1".into(),
                    standard_output: "/dev/null".into(),
                    standard_error: "/dev/null".into(),
                    requeue: false,
                    signal: None,
                    constraints: None,
                    exclusive: None,
                    open_mode: None,
                },
            };
            let start = Instant::now();
            let tasks: Vec<_> = (0..clients)
                .map(|c| {
                    let (slurm, job, user) = (slurm.clone(), job.clone(), user.clone());
                    let n = count / clients + usize::from(c < count % clients);
                    tokio::spawn(async move {
                        for _ in 0..n {
                            slurm.submit(&user, &job).await?;
                        }
                        Ok::<_, aisc_engine::slurm::SlurmError>(())
                    })
                })
                .collect();
            for t in tasks {
                t.await??;
            }
            let submitted = start.elapsed();
            wait_slurm(&slurm, &name, count, start).await?;
            report(
                &format!("slurmrestd, {clients} clients"),
                count,
                submitted,
                start.elapsed(),
            );
        }
        Some("aisc") => {
            let (url, token, name) = (arg(2)?, arg(3)?, arg(4)?);
            let count: usize = arg(5)?.parse()?;
            let clients: usize = arg(6)?.parse()?;
            let http = aisc_engine::http_client(reqwest::Client::builder)?;
            // A job's output goes under its working directory (aisc refuses
            // other paths, /dev/null included): one small file per job.
            let body = serde_json::json!({"command": ["true"], "chdir": "/tmp", "name": name, "gpus": "1",
                "cpus": 1, "mem": "1G", "time": "5", "output": "aisc-bench-%j.out"});
            let start = Instant::now();
            let tasks: Vec<_> = (0..clients)
                .map(|c| {
                    let (http, body, url, token) =
                        (http.clone(), body.clone(), url.clone(), token.clone());
                    let n = count / clients + usize::from(c < count % clients);
                    tokio::spawn(async move {
                        for _ in 0..n {
                            let r = http
                                .post(format!("{url}/api/v1/jobs"))
                                .bearer_auth(&token)
                                .json(&body)
                                .send()
                                .await?;
                            if r.status() != reqwest::StatusCode::CREATED {
                                return Err(format!(
                                    "submit: HTTP {}: {}",
                                    r.status(),
                                    r.text().await.unwrap_or_default()
                                )
                                .into());
                            }
                        }
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                    })
                })
                .collect();
            for t in tasks {
                t.await?.map_err(|e| e.to_string())?;
            }
            let submitted = start.elapsed();
            loop {
                let left = aisc_left(&http, &url, &token).await?;
                if left == 0 {
                    break;
                }
                if start.elapsed() > DEADLINE {
                    return Err(format!("{left} of {count} had not ended in time").into());
                }
                tokio::time::sleep(POLL).await;
            }
            report(
                &format!("through aisc, {clients} clients"),
                count,
                submitted,
                start.elapsed(),
            );
        }
        _ => return Err("usage: slurm_bench sbatch|rest|aisc ... (see the file's header)".into()),
    }
    Ok(())
}

fn client(url: &str, key: &str) -> Res<SlurmClient> {
    Ok(SlurmClient::new(&SlurmConfig {
        url: url.into(),
        jwt_key: std::fs::read(key)?,
        service_user: "slurm".into(),
        timeout: Duration::from_secs(30),
    })?)
}

/// Waits until `count` jobs named `name` have ended in slurmctld's list.
async fn wait_slurm(slurm: &SlurmClient, name: &str, count: usize, start: Instant) -> Res<()> {
    let mut ended = HashSet::new();
    while ended.len() < count {
        if start.elapsed() > DEADLINE {
            return Err(format!("only {} of {count} ended in time", ended.len()).into());
        }
        for j in slurm.jobs(None).await?.unwrap_or_default() {
            if j.name == name && phase(&j.job_state) == Phase::Ended {
                ended.insert(j.job_id);
            }
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// How many of a fresh server's jobs have not ended yet (what is left shrinks as the run goes).
async fn aisc_left(http: &reqwest::Client, url: &str, token: &str) -> Res<usize> {
    let mut done = 0;
    for state in ["pending", "admitted", "running"] {
        let mut before: Option<i64> = None;
        loop {
            let mut q = format!("{url}/api/v1/jobs?limit=1000&state={state}");
            if let Some(b) = before {
                q.push_str(&format!("&before={b}"));
            }
            let v: serde_json::Value = http.get(q).bearer_auth(token).send().await?.json().await?;
            done += v["jobs"].as_array().map_or(0, Vec::len);
            match v["next_before"].as_i64() {
                Some(b) => before = Some(b),
                None => break,
            }
        }
    }
    Ok(done)
}

fn report(what: &str, count: usize, submitted: Duration, total: Duration) {
    println!(
        "{what}: {count} jobs submitted in {:.2} s, all ended after {:.2} s: {:.1} jobs/s end to end",
        submitted.as_secs_f64(),
        total.as_secs_f64(),
        count as f64 / total.as_secs_f64()
    );
}
