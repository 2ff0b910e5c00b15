//! The ledger in the store: how fast usage records are rated and posted
//! durably (a lien and a settlement each, through the store's writer, 8
//! concurrent posters), and how long a monthly statement takes for one
//! project among 1,000.
//!
//! `cargo run --release -p aisc-server --example ledger_bench -- [RECORDS] [PROJECTS] [JOBS_PER_PROJECT] [BULK_RECORDS]`

use aisc_billing::ledger::{holding, settlement};
use aisc_billing::money::{BasisPoints, Cents};
use aisc_billing::rating::{Price, charge, lien};
use aisc_model::{GrantId, JobCommand, JobId, JobSpec, ProjectId, Resources, UserId};
use aisc_server::money::to_store;
use aisc_store::{Durability, NewAudit, NewJob, NewUser, Store, TenancyChange};
use std::time::Instant;

fn audit() -> NewAudit {
    NewAudit {
        at_ms: 0,
        actor: "bench".into(),
        action: "bench".into(),
        target: String::new(),
        summary: String::new(),
        source: "bench".into(),
    }
}

fn spec() -> JobSpec {
    let resources = Resources {
        gpus: 8,
        cpus: 8,
        mem_mb: 1024,
    };
    let command = JobCommand::Argv(vec!["true".into()]);
    JobSpec {
        hold: true,
        ..JobSpec::new("bench", command, "/tmp", resources, 3600)
    }
}

/// Rates and posts one job's usage: its lien, then its settlement.
async fn post_usage(
    store: &Store,
    job: i64,
    project: i64,
    at_ms: i64,
) -> Result<(), Box<dyn std::error::Error>> {
    let price = Price {
        per_gpu_hour: Cents(2_500),
    };
    let held = lien(8, 3600, price);
    let used = charge(8 * 1_800_000 + (job as u64 % 1000) * 1000, price).min(held);
    let e = holding(GrantId(project), JobId(job), held);
    store
        .post(to_store(&e, None, at_ms, String::new()), None)
        .await?;
    let rate = BasisPoints::new(7000).unwrap_or(BasisPoints::FULL);
    let (s, _) = settlement(
        GrantId(project),
        JobId(job),
        held,
        used,
        rate,
        Cents(i64::MAX / 4),
        ProjectId(project),
    );
    store
        .post(to_store(&s, None, at_ms, String::new()), None)
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let records = *args.first().unwrap_or(&100_000);
    let projects = *args.get(1).unwrap_or(&1_000) as i64;
    let per_project = *args.get(2).unwrap_or(&50) as i64;
    let dir = tempfile::tempdir()?;
    let store = Store::open(
        &dir.path().join("aisc.db"),
        Durability::Full,
        aisc_vault::MasterKeys::load(
            aisc_vault::KeySource::File(dir.path().join("master.key")),
            true,
        )?,
    )
    .await?;
    let user = store
        .create_user(
            NewUser {
                name: "u".into(),
                role: "user".into(),
                password_hash: None,
                created_ms: 0,
            },
            None,
        )
        .await?;
    let org = store
        .tenancy(
            TenancyChange::CreateOrg {
                name: "o".into(),
                kind: "university".into(),
                at_ms: 0,
            },
            None,
        )
        .await?;
    for p in 0..projects {
        let c = TenancyChange::CreateProject {
            org: aisc_model::OrgId(org),
            name: format!("p{p}"),
            title: "p".into(),
            pi: user,
            at_ms: 0,
        };
        store.tenancy(c, None).await?;
    }
    // Jobs: `per_project` for each project, submitted held (they never run here).
    let t = Instant::now();
    let mut ids = Vec::new();
    for p in 0..projects {
        let mut tasks = Vec::new();
        for _ in 0..per_project {
            let store = store.clone();
            let job = NewJob {
                owner: UserId(user.0),
                spec: spec(),
                reason: "Held".into(),
                submit_ms: 0,
                project: Some(ProjectId(p + 1)),
                // The ledger entries below name grant `p + 1`; no grant rows are needed to post or query them.
                charging: None,
                array_waiting: None,
            };
            tasks.push(tokio::spawn(
                async move { store.submit(job, audit()).await },
            ));
        }
        for t in tasks {
            ids.push((t.await??.0, p + 1));
        }
    }
    // A funded scheme and an approved grant for each project.
    let fund = aisc_billing::ledger::funding(aisc_model::SchemeId(1), Cents(i64::MAX / 4));
    store
        .post(to_store(&fund, Some(1), 0, String::new()), None)
        .await?;
    for p in 1..=projects {
        let rate = BasisPoints::new(7000).unwrap_or(BasisPoints::FULL);
        let a = aisc_billing::ledger::approval(
            aisc_model::SchemeId(1),
            GrantId(p),
            Cents(1_000_000_000_000),
            rate,
        );
        store
            .post(to_store(&a, Some(1), 0, String::new()), None)
            .await?;
    }
    println!(
        "seeded {} jobs in {} projects in {:.1} s",
        ids.len(),
        projects,
        t.elapsed().as_secs_f64()
    );

    // Rating and posting: each record is a lien and a settlement (two durable entries).
    let (month_start, _) = aisc_model::calendar::parse_month("2026-11")?;
    let t = Instant::now();
    let n = records.min(ids.len() as u64) as usize;
    let chunks: Vec<Vec<(i64, i64)>> = ids[..n]
        .chunks(n.div_ceil(8).max(1))
        .map(<[_]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for (i, (job, project)) in chunk.into_iter().enumerate() {
                post_usage(&store, job, project, month_start + i as i64 * 1000)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "rated and posted {n} usage records (lien + settlement each) in {secs:.2} s = {:.0} records/s",
        n as f64 / secs
    );
    println!(
        "ledger total {} (0 = balanced)",
        store.ledger_total().await?
    );

    // The bulk path: usage rated and posted in batches of 1,000 records (a lien
    // and a settlement each, 2,000 entries), as usage read back from accounting would be.
    let bulk = *args.get(3).unwrap_or(&200_000) as i64;
    let t = Instant::now();
    let price = Price {
        per_gpu_hour: Cents(2_500),
    };
    let rate = BasisPoints::new(7000).unwrap_or(BasisPoints::FULL);
    let mut done = 0;
    while done < bulk {
        let mut entries = Vec::with_capacity(2_000);
        for k in done..(done + 1_000).min(bulk) {
            let job = 10_000_000 + k;
            let grant = 1 + k % projects;
            let held = lien(8, 3600, price);
            let used = charge(8 * 1_800_000 + (k as u64 % 1000) * 1000, price).min(held);
            entries.push(to_store(
                &holding(GrantId(grant), JobId(job), held),
                None,
                month_start,
                String::new(),
            ));
            let (s, _) = settlement(
                GrantId(grant),
                JobId(job),
                held,
                used,
                rate,
                Cents(i64::MAX / 4),
                ProjectId(grant),
            );
            entries.push(to_store(&s, None, month_start, String::new()));
        }
        store.post_batch(entries, None).await?;
        done = (done + 1_000).min(bulk);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "bulk: rated and posted {bulk} usage records in batches of 1,000 in {secs:.2} s = {:.0} records/s",
        bulk as f64 / secs
    );
    println!(
        "ledger total {} (0 = balanced)",
        store.ledger_total().await?
    );

    // A monthly statement for one project among `projects`.
    let (from, to) = aisc_model::calendar::parse_month("2026-11")?;
    let mut lat = Vec::new();
    for i in 0..200 {
        let p = 1 + (i * 37) % projects;
        let t = Instant::now();
        let lines = store.statement(p, from, to).await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(!lines.is_empty() || n < ids.len());
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "monthly statement of one project among {projects} ({per_project} charged jobs each): p50 {:.2} ms, p99 {:.2} ms",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100]
    );
    store.close().await;
    Ok(())
}
