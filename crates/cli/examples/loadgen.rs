//! Load generator for the aisc API: durable submissions per second, and the
//! latency of listing and showing jobs. Bounded in count and time; talks only
//! to the URL it is given (a server on this machine).
//!
//! ```text
//! loadgen submit URL TOKEN CLIENTS COUNT   # held jobs, as Slurm's "kept pending" figure
//! loadgen list   URL TOKEN REQUESTS        # GET /api/v1/jobs?limit=100
//! loadgen show   URL TOKEN REQUESTS MAX_ID # GET /api/v1/jobs/{random id}
//! loadgen whoami URL TOKEN REQUESTS        # an authenticated request that writes nothing (baseline)
//! loadgen run    URL TOKEN CLIENTS COUNT   # jobs of 1 GPU running `true` (not held: they run and are charged)
//! loadgen page   URL TOKEN REQUESTS PATH   # a portal page (PATH, e.g. /), signed in with a session made from TOKEN
//! ```

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: loadgen submit|run URL TOKEN CLIENTS COUNT | list|whoami URL TOKEN REQUESTS | show URL TOKEN REQUESTS MAX_ID | page URL TOKEN REQUESTS PATH";
    if args.len() < 5 {
        return Err(usage.into());
    }
    let (mode, url, token) = (args[1].as_str(), args[2].clone(), args[3].clone());
    let n = |i: usize| -> Result<u64, Box<dyn std::error::Error>> {
        Ok(args.get(i).ok_or(usage)?.parse()?)
    };
    let http = aisc_engine::http_client(|| reqwest::Client::builder().pool_max_idle_per_host(64))?;
    match mode {
        "submit" => submit(http, url, token, n(4)?, n(5)?, true).await,
        "run" => submit(http, url, token, n(4)?, n(5)?, false).await,
        "page" => {
            let path = args.get(5).ok_or(usage)?.clone();
            // A portal session is an API token in a cookie: `aisc_session=ID:SECRET`.
            let issued: serde_json::Value = http
                .post(format!("{url}/api/v1/tokens"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"label": "loadgen portal session", "expires": "1h"}))
                .send()
                .await?
                .json()
                .await?;
            let cookie = format!(
                "aisc_session={}:{}",
                issued["id"],
                issued["token"].as_str().ok_or("no token issued")?
            );
            let target = format!("{url}{path}");
            let auth = ("cookie", cookie);
            latency(http, target, auth, n(4)?, None, &format!("page {path}")).await
        }
        "whoami" => {
            latency(
                http,
                format!("{url}/api/v1/whoami"),
                bearer(&token),
                n(4)?,
                None,
                "whoami",
            )
            .await
        }
        "list" => {
            latency(
                http,
                format!("{url}/api/v1/jobs?limit=100"),
                bearer(&token),
                n(4)?,
                None,
                "list newest 100",
            )
            .await
        }
        "show" => {
            latency(
                http,
                format!("{url}/api/v1/jobs/"),
                bearer(&token),
                n(4)?,
                Some(n(5)?),
                "show",
            )
            .await
        }
        _ => Err(usage.into()),
    }
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

async fn submit(
    http: reqwest::Client,
    url: String,
    token: String,
    clients: u64,
    count: u64,
    hold: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let body = if hold {
        serde_json::json!({"command": ["true"], "chdir": "/tmp", "hold": true, "name": "bench"})
    } else {
        serde_json::json!({"command": ["true"], "chdir": "/tmp", "name": "bench", "gpus": "1", "time": "10m"})
    }
    .to_string();
    let per = count / clients;
    let deadline = Instant::now() + Duration::from_secs(300);
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (http, url, token, body) = (http.clone(), url.clone(), token.clone(), body.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per as usize);
                for _ in 0..per {
                    if Instant::now() > deadline {
                        break;
                    }
                    let t = Instant::now();
                    let res = http
                        .post(format!("{url}/api/v1/jobs"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if res.status().as_u16() != 201 {
                        return Err(format!("submit answered {}", res.status()));
                    }
                    res.bytes().await.map_err(|e| e.to_string())?;
                    lat.push(t.elapsed());
                }
                Ok::<_, String>(lat)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    let what = if hold { "submit" } else { "run" };
    report(&format!("{what} clients={clients}"), all, secs);
    Ok(())
}

async fn latency(
    http: reqwest::Client,
    url: String,
    auth: (&'static str, String),
    requests: u64,
    max_id: Option<u64>,
    what: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut lat = Vec::with_capacity(requests as usize);
    let start = Instant::now();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..requests {
        let target = match max_id {
            Some(max) => {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("{url}{}", 1 + x % max)
            }
            None => url.clone(),
        };
        let t = Instant::now();
        let res = http.get(&target).header(auth.0, &auth.1).send().await?;
        if !res.status().is_success() {
            return Err(format!("{target} answered {}", res.status()).into());
        }
        res.bytes().await?;
        lat.push(t.elapsed());
    }
    report(what, lat, start.elapsed().as_secs_f64());
    Ok(())
}

fn report(what: &str, mut lat: Vec<Duration>, secs: f64) {
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{what}: {} requests in {secs:.2} s = {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        lat.len() as f64 / secs,
        pct(0.50),
        pct(0.99)
    );
}
