//! What a new centre gets on its first start, so that it needs no set-up:
//! the `admin` account and its token, the organisation `local` with the
//! project `default` (admin as PI), and an open grant for it. Each step runs
//! only when what it makes does not exist yet, and goes through the same
//! store operations (and audit trail) as the real workflow.

use crate::{ServerError, auth, clock, io_err};
use aisc_billing::ledger::{approval, funding};
use aisc_billing::money::{BasisPoints, Cents};
use aisc_engine::HostInfo;
use aisc_model::inventory::{Peak, ResourceClass};
use aisc_model::scheme::{Criterion, Scheme};
use aisc_model::tenancy::ORG_KINDS;
use aisc_model::{GrantId, SchemeId};
use aisc_store::{Decision, InventoryChange, NewApplication, NewAudit, NewGrant, NewToken, Store};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The list price of the `local` class, per GPU-hour, until an administrator sets another.
pub const LOCAL_PRICE_CENTS: i64 = 1_000;
/// GPU-hours of the open grant.
pub const OPEN_GRANT_GPU_HOURS: i64 = 1_000_000;

fn system(action: &str, target: &str, summary: &str) -> NewAudit {
    NewAudit {
        at_ms: clock::now_ms(),
        actor: "system".into(),
        action: action.into(),
        target: target.into(),
        summary: summary.into(),
        source: "local".into(),
    }
}

/// On an empty database: creates the `admin` account and writes its token to
/// `<data-dir>/admin-token` (mode 0600). The token itself is never logged.
///
/// Crash-safe: the token goes to `admin-token.tmp` first, the account and the
/// token's hash commit together, and only then is the file renamed into place;
/// a start that finds the temporary file beside a committed account finishes
/// the rename.
/// Returns whether it made the account (this is the centre's first start).
pub(crate) async fn admin(store: &Store, dir: &Path) -> Result<bool, ServerError> {
    let path = dir.join("admin-token");
    let tmp = dir.join("admin-token.tmp");
    if store.user_count().await? > 0 {
        if tmp.exists() && !path.exists() {
            fs::rename(&tmp, &path).map_err(io_err("cannot write", &path))?;
        }
        return Ok(false);
    }
    let now = clock::now_ms();
    let token = auth::new_token();
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err("cannot write", &tmp))?;
    writeln!(f, "{token}")
        .and_then(|()| f.sync_all())
        .map_err(io_err("cannot write", &tmp))?;
    let hash = auth::hash_token(&token);
    let first = NewToken {
        user: aisc_model::UserId(0),
        token_hash: hash,
        label: "admin (first start)".into(),
        scope: "full".into(),
        created_ms: now,
        expires_ms: None,
    };
    let audit = aisc_store::NewAudit {
        at_ms: now,
        actor: "system".into(),
        action: "user.create".into(),
        target: "user:admin".into(),
        summary: "first start: created the admin account and its first API token".into(),
        source: "local".into(),
    };
    store
        .create_user_with_token(
            aisc_store::NewUser {
                name: "admin".into(),
                role: "admin".into(),
                password_hash: None,
                created_ms: now,
            },
            first,
            audit,
        )
        .await?;
    fs::rename(&tmp, &path).map_err(io_err("cannot write", &path))?;
    eprintln!(
        "aisc: created the admin account; its API token is in {} (mode 0600)",
        path.display()
    );
    Ok(true)
}

/// On a root server's first start, the admin's jobs need a Unix account
/// (jobs never run as root): the account of whoever ran `sudo`, if it is an
/// ordinary one; otherwise the unprivileged local account `aisc-admin`
/// (made, without a home or a login shell, if missing). Not when the centre
/// gave `--default-unix-name`, or the admin already has one.
pub(crate) async fn admin_unix_name(
    store: &Store,
    confinement: &aisc_engine::confine::Confinement,
) -> Result<(), ServerError> {
    if confinement.mode != aisc_engine::confine::Mode::Accounts
        || confinement.default_unix_name.is_some()
    {
        return Ok(());
    }
    let Some(admin) = store
        .users()
        .await?
        .into_iter()
        .find(|u| u.name == "admin" && u.unix_name.is_none())
    else {
        return Ok(());
    };
    let ordinary = |name: &str| {
        nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .is_some_and(|u| u.uid.as_raw() >= confinement.min_uid)
    };
    let name = match std::env::var("SUDO_USER") {
        Ok(u) if ordinary(&u) => u,
        _ => {
            const LOCAL: &str = "aisc-admin";
            if nix::unistd::User::from_name(LOCAL).ok().flatten().is_none() {
                let made = std::process::Command::new("useradd")
                    .args([
                        "--user-group",
                        "--no-create-home",
                        "--shell",
                        "/usr/sbin/nologin",
                        LOCAL,
                    ])
                    .status();
                if !made.is_ok_and(|s| s.success()) {
                    eprintln!(
                        "aisc: warning: could not make the Unix account {LOCAL} for the admin's jobs; set one (aisc user set-unix-name admin NAME)"
                    );
                    return Ok(());
                }
            }
            if !ordinary(LOCAL) {
                eprintln!(
                    "aisc: warning: {LOCAL} is a system account; give the admin an ordinary one (aisc user set-unix-name admin NAME)"
                );
                return Ok(());
            }
            LOCAL.to_string()
        }
    };
    store
        .set_unix_name(
            admin.id,
            Some(name.clone()),
            system(
                "user.unix_name",
                "user:admin",
                &format!("first start as root: the admin's jobs run as {name}"),
            ),
        )
        .await?;
    eprintln!(
        "aisc: the admin's jobs run as the Unix account {name} (aisc user set-unix-name changes it)"
    );
    Ok(())
}

/// On a store without organisations: creates organisation `local` and project
/// `default` with the `admin` user as its PI, so that a new centre's first
/// `aisc submit` works without any administration.
pub(crate) async fn tenancy(store: &Store) -> Result<(), ServerError> {
    if !store.orgs().await?.is_empty() {
        return Ok(());
    }
    let now = clock::now_ms();
    let org = store
        .tenancy(
            aisc_store::TenancyChange::CreateOrg {
                name: "local".into(),
                kind: "research-institute".into(),
                at_ms: now,
            },
            Some(system(
                "org.create",
                "org:local",
                "first start: the local organisation",
            )),
        )
        .await?;
    let admin = store.user_id("admin").await?;
    store
        .tenancy(
            aisc_store::TenancyChange::CreateProject {
                org: aisc_model::OrgId(org),
                name: "default".into(),
                title: "Default project".into(),
                pi: admin,
                at_ms: now,
            },
            Some(system(
                "project.create",
                "project:default",
                "first start: the default project, admin as PI",
            )),
        )
        .await?;
    Ok(())
}

/// On a store without schemes: the `local` resource class (this host, priced
/// at HK$10.00 per GPU-hour), the `local` scheme, and an approved grant of
/// 1,000,000 GPU-hours for project `default` at the scheme's 70 % subsidy.
pub(crate) async fn open_grant(store: &Store, host: &HostInfo) -> Result<(), ServerError> {
    if !store.schemes().await?.is_empty() {
        return Ok(());
    }
    let Ok(project) = store.project("default").await else {
        return Ok(());
    };
    let now = clock::now_ms();
    if store.class("local").await.is_err() {
        let class = ResourceClass {
            name: "local".into(),
            gpu_model: host.gpu_type().unwrap_or_else(|| "none".into()),
            gpus_per_node: u32::try_from(host.gpus.len()).unwrap_or(1).max(1),
            cpus_per_node: host.cpus.max(1),
            mem_mb_per_node: host.mem_mb.max(1),
            peak: Peak::default(),
            nodes: 1,
        };
        store
            .inventory(
                InventoryChange::CreateClass(class, now),
                system("class.create", "class:local", "first start: this host"),
            )
            .await?;
        let price = InventoryChange::SetPrice {
            class: "local".into(),
            cents_per_gpu_hour: LOCAL_PRICE_CENTS,
            effective_ms: 0,
            at_ms: now,
        };
        store
            .inventory(
                price,
                system(
                    "price.set",
                    "class:local",
                    "first start: HK$10.00 per GPU-hour",
                ),
            )
            .await?;
    }
    let class = store.class("local").await?;
    let price = Cents(LOCAL_PRICE_CENTS);
    let value = Cents(OPEN_GRANT_GPU_HOURS * LOCAL_PRICE_CENTS);
    let pool = Cents(value.0 * 10);
    let scheme = Scheme {
        name: "local".into(),
        title: "Local open scheme".into(),
        pool_cents: pool.0,
        eligible: ORG_KINDS.iter().map(|(_, k)| *k).collect(),
        default_rate_bp: 7_000,
        max_rate_bp: 9_000,
        criteria: vec![Criterion {
            name: "use".into(),
            weight: 100,
        }],
        opens_ms: 0,
        closes_ms: aisc_model::calendar::parse_date("9999-12-31").unwrap_or(i64::MAX),
        scavenger_discount_bp: aisc_model::scheme::DEFAULT_SCAVENGER_DISCOUNT_BP,
        min_reviews: 0,
    };
    let fund: aisc_store::EntryFor = Box::new(move |id| {
        crate::money::to_store(
            &funding(SchemeId(id), pool),
            Some(id),
            now,
            "first start: the local scheme".into(),
        )
    });
    let scheme_id = store
        .create_scheme(
            scheme,
            now,
            fund,
            system("scheme.create", "scheme:local", "first start"),
        )
        .await?;
    let admin = store.user_id("admin").await?;
    let ten_years = 10 * 365 * 86_400_000;
    let application = NewApplication {
        project: project.id,
        scheme: scheme_id,
        class: class.id,
        gpu_hours: OPEN_GRANT_GPU_HOURS,
        starts_ms: now,
        ends_ms: now + ten_years,
        justification: [(
            "use".to_string(),
            "the open grant of a new centre".to_string(),
        )]
        .into(),
        applicant: admin,
        created_ms: now,
    };
    let app = store
        .apply_for(
            application,
            system("application.submit", "project:default", "first start"),
        )
        .await?;
    let rate = BasisPoints::new(7_000).unwrap_or(BasisPoints::FULL);
    let entry = crate::money::to_store(
        &approval(SchemeId(scheme_id), GrantId(app), value, rate),
        Some(scheme_id),
        now,
        format!("grant {app}"),
    );
    let grant = NewGrant {
        gpu_hours: OPEN_GRANT_GPU_HOURS,
        price_cents: price.0,
        value_cents: value.0,
        rate_bp: 7_000,
    };
    let terms = format!("first start: the open grant, {OPEN_GRANT_GPU_HOURS} GPU-hours of local");
    store
        .decide(
            app,
            admin,
            Decision::Approve(grant, Box::new(entry), terms.clone()),
            now,
            system("application.decide", &format!("application:{app}"), &terms),
        )
        .await?;
    Ok(())
}
