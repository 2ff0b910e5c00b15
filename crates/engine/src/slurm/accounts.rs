//! Slurm's accounts kept in step with aisc's tenancy and grants: one account
//! per organisation (under `root`), one per project under its organisation's,
//! an association per member with a Unix name, and on each project's account
//! `GrpTRESMins=gres/gpu=<the GPU-minutes its grants have left>`.
//!
//! [`plan`] compares what should be with what is and lists the changes (pure,
//! so `aisc slurm sync --dry-run` prints exactly what a run would do); [`apply`]
//! makes them with `sacctmgr`. Running it twice changes nothing the second
//! time. Accounts aisc made carry the organisation `aisc` and a description
//! starting `aisc `; an account of the same name that lacks that mark is
//! reported as a conflict and never touched.
//!
//! The limit and Slurm's usage: setting a new limit also resets the account's
//! raw usage (`RawUsage=0`), because the limit already has the GPU time aisc
//! billed taken off. Usage Slurm counts after that (jobs running meanwhile,
//! jobs submitted to Slurm directly) counts against the limit until the next
//! change.

use super::SlurmError;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use tokio::process::Command;

/// The organisation field of the accounts aisc makes.
pub const MARK: &str = "aisc";

/// What Slurm's accounts should be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    /// Organisation accounts.
    pub orgs: Vec<String>,
    /// Project accounts.
    pub projects: Vec<DesiredProject>,
}

/// One project's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredProject {
    /// Account name (the project's name).
    pub name: String,
    /// Parent account (the organisation's name).
    pub org: String,
    /// Unix names of its members.
    pub users: Vec<String>,
    /// GPU-minutes its grants have left (0 when none is active).
    pub gpu_minutes: i64,
    /// The most GPUs its jobs may hold at once (`GrpTRES`), if its grants cap it.
    pub gpu_cap: Option<i64>,
    /// Members with no Unix name (reported, not associated).
    pub unmapped: Vec<String>,
}

/// What Slurm's accounts are (those that matter here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Current {
    /// Accounts by name: (organisation field, description).
    pub accounts: BTreeMap<String, (String, String)>,
    /// (account, user) associations.
    pub users: BTreeSet<(String, String)>,
    /// Accounts' `GrpTRESMins` on `gres/gpu`, where set.
    pub gpu_minutes: BTreeMap<String, i64>,
    /// Accounts' `GrpTRES` on `gres/gpu`, where set.
    pub gpu_caps: BTreeMap<String, i64>,
}

/// One change to Slurm's accounts (or a finding that needs a person).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create an account.
    AddAccount {
        /// Name.
        name: String,
        /// Parent.
        parent: String,
        /// Description.
        description: String,
    },
    /// Associate a user with an account.
    AddUser {
        /// Unix name.
        user: String,
        /// Account.
        account: String,
    },
    /// Remove a user's association with an account aisc made.
    RemoveUser {
        /// Unix name.
        user: String,
        /// Account.
        account: String,
    },
    /// Set an account's GPU-minutes limit (and reset its raw usage).
    SetGpuMinutes {
        /// Account.
        account: String,
        /// The limit now, if any.
        from: Option<i64>,
        /// The new limit.
        to: i64,
    },
    /// Set (or with `None` clear) an account's cap on GPUs held at once.
    SetGpuCap {
        /// Account.
        account: String,
        /// The cap now, if any.
        from: Option<i64>,
        /// The new cap, if any.
        to: Option<i64>,
    },
    /// Something aisc will not change by itself.
    Conflict {
        /// Account.
        account: String,
        /// Why.
        why: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::AddAccount { name, parent, .. } => {
                write!(f, "add account {name} (parent {parent})")
            }
            Change::AddUser { user, account } => write!(f, "add user {user} to account {account}"),
            Change::RemoveUser { user, account } => {
                write!(f, "remove user {user} from account {account}")
            }
            Change::SetGpuMinutes { account, from, to } => match from {
                Some(old) => write!(
                    f,
                    "set account {account} GrpTRESMins gres/gpu from {old} to {to} (raw usage reset)"
                ),
                None => write!(
                    f,
                    "set account {account} GrpTRESMins gres/gpu to {to} (raw usage reset)"
                ),
            },
            Change::SetGpuCap { account, from, to } => {
                let show = |v: &Option<i64>| v.map_or("none".to_string(), |n| n.to_string());
                write!(
                    f,
                    "set account {account} GrpTRES gres/gpu from {} to {}",
                    show(from),
                    show(to)
                )
            }
            Change::Conflict { account, why } => write!(f, "conflict on account {account}: {why}"),
        }
    }
}

fn ours(current: &Current, name: &str) -> Option<bool> {
    current.accounts.get(name).map(|(org, _)| org == MARK)
}

/// The changes that bring `current` to `desired`, in the order they must be made.
pub fn plan(desired: &Desired, current: &Current) -> Vec<Change> {
    let mut out = Vec::new();
    let mut blocked = BTreeSet::new();
    for org in &desired.orgs {
        match ours(current, org) {
            None => out.push(Change::AddAccount {
                name: org.clone(),
                parent: "root".into(),
                description: format!("{MARK} organisation {org}"),
            }),
            Some(true) => {}
            Some(false) => {
                blocked.insert(org.clone());
                out.push(Change::Conflict {
                    account: org.clone(),
                    why: format!("organisation {org}'s account exists but was not made by aisc"),
                });
            }
        }
    }
    for p in &desired.projects {
        if blocked.contains(&p.org) {
            continue;
        }
        match ours(current, &p.name) {
            None => out.push(Change::AddAccount {
                name: p.name.clone(),
                parent: p.org.clone(),
                description: format!("{MARK} project {}", p.name),
            }),
            Some(true) => {}
            Some(false) => {
                out.push(Change::Conflict {
                    account: p.name.clone(),
                    why: format!(
                        "project {}'s account exists but was not made by aisc",
                        p.name
                    ),
                });
                continue;
            }
        }
        let want: BTreeSet<&String> = p.users.iter().collect();
        for u in &want {
            if !current.users.contains(&(p.name.clone(), (*u).clone())) {
                out.push(Change::AddUser {
                    user: (*u).clone(),
                    account: p.name.clone(),
                });
            }
        }
        for (acct, u) in current.users.range((p.name.clone(), String::new())..) {
            if acct != &p.name {
                break;
            }
            if !want.contains(u) {
                out.push(Change::RemoveUser {
                    user: u.clone(),
                    account: p.name.clone(),
                });
            }
        }
        let have = current.gpu_minutes.get(&p.name).copied();
        if have != Some(p.gpu_minutes) {
            out.push(Change::SetGpuMinutes {
                account: p.name.clone(),
                from: have,
                to: p.gpu_minutes,
            });
        }
        let cap = current.gpu_caps.get(&p.name).copied();
        if cap != p.gpu_cap {
            out.push(Change::SetGpuCap {
                account: p.name.clone(),
                from: cap,
                to: p.gpu_cap,
            });
        }
        for m in &p.unmapped {
            out.push(Change::Conflict {
                account: p.name.clone(),
                why: format!("member {m} has no Unix name (aisc user set-unix-name {m} NAME)"),
            });
        }
    }
    out
}

async fn sacctmgr(args: &[&str]) -> Result<String, SlurmError> {
    let out = Command::new("sacctmgr")
        .args(args)
        .output()
        .await
        .map_err(|e| SlurmError::Unavailable(format!("cannot run sacctmgr: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let msg = format!(
            "sacctmgr {}: {}{}",
            args.join(" "),
            err.trim(),
            stdout.trim()
        );
        if err.contains("Connection refused") || err.contains("persistent connection") {
            Err(SlurmError::Unavailable(msg))
        } else {
            Err(SlurmError::Refused(msg))
        }
    }
}

/// `gres/gpu=N` from a TRES string such as `cpu=10,gres/gpu=120`.
pub fn gpu_minutes_of(tres: &str) -> Option<i64> {
    super::tres(tres, "gres/gpu")
}

/// `sacctmgr -i modify account where name=ACCOUNT cluster=CLUSTER set SETTING`.
async fn set_on_account(account: &str, cluster_arg: &str, setting: &str) -> Result<(), SlurmError> {
    let name = format!("name={account}");
    sacctmgr(&[
        "-i",
        "modify",
        "account",
        "where",
        &name,
        cluster_arg,
        "set",
        setting,
    ])
    .await
    .map(|_| ())
}

/// Reads the accounts, associations and GPU-minute limits of `cluster`.
pub async fn read_current(cluster: &str) -> Result<Current, SlurmError> {
    let cluster_arg = format!("cluster={cluster}");
    let accounts = sacctmgr(&["-n", "-P", "list", "account", "format=account,org,descr"]).await?;
    let assocs = sacctmgr(&[
        "-n",
        "-P",
        "list",
        "assoc",
        &cluster_arg,
        "format=account,user,grptresmins,grptres",
    ])
    .await?;
    let mut cur = Current::default();
    for line in accounts.lines() {
        let f: Vec<&str> = line.split('|').collect();
        if let [name, org, descr, ..] = f.as_slice() {
            cur.accounts.insert(
                (*name).to_string(),
                ((*org).to_string(), (*descr).to_string()),
            );
        }
    }
    for line in assocs.lines() {
        let f: Vec<&str> = line.split('|').collect();
        if let [account, user, tres, cap, ..] = f.as_slice() {
            if user.is_empty() {
                if let Some(m) = gpu_minutes_of(tres) {
                    cur.gpu_minutes.insert((*account).to_string(), m);
                }
                if let Some(c) = gpu_minutes_of(cap) {
                    cur.gpu_caps.insert((*account).to_string(), c);
                }
            } else {
                cur.users
                    .insert(((*account).to_string(), (*user).to_string()));
            }
        }
    }
    Ok(cur)
}

/// Makes the changes (conflicts are skipped: they need a person).
pub async fn apply(cluster: &str, changes: &[Change]) -> Result<(), SlurmError> {
    let cluster_arg = format!("cluster={cluster}");
    for c in changes {
        match c {
            Change::AddAccount {
                name,
                parent,
                description,
            } => {
                let parent = format!("parent={parent}");
                let descr = format!("description={description}");
                let org = format!("organization={MARK}");
                sacctmgr(&[
                    "-i",
                    "add",
                    "account",
                    name,
                    &cluster_arg,
                    &parent,
                    &descr,
                    &org,
                ])
                .await?;
            }
            Change::AddUser { user, account } => {
                let acct = format!("account={account}");
                sacctmgr(&["-i", "add", "user", user, &cluster_arg, &acct]).await?;
            }
            Change::RemoveUser { user, account } => {
                let acct = format!("account={account}");
                sacctmgr(&["-i", "remove", "user", user, &cluster_arg, &acct]).await?;
            }
            Change::SetGpuMinutes { account, to, .. } => {
                // Two commands: sacctmgr silently ignores a modify that sets both at once.
                let limit = format!("GrpTRESMins=gres/gpu={to}");
                set_on_account(account, &cluster_arg, &limit).await?;
                set_on_account(account, &cluster_arg, "RawUsage=0").await?;
            }
            Change::SetGpuCap { account, to, .. } => {
                let cap = format!("GrpTRES=gres/gpu={}", to.unwrap_or(-1));
                set_on_account(account, &cluster_arg, &cap).await?;
            }
            Change::Conflict { .. } => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> Desired {
        Desired {
            orgs: vec!["hku".into()],
            projects: vec![DesiredProject {
                name: "llm".into(),
                org: "hku".into(),
                users: vec!["ann".into(), "bob".into()],
                gpu_minutes: 600,
                gpu_cap: None,
                unmapped: vec![],
            }],
        }
    }

    #[test]
    fn an_empty_slurm_gets_everything_in_order() {
        let changes = plan(&desired(), &Current::default());
        let text: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "add account hku (parent root)",
                "add account llm (parent hku)",
                "add user ann to account llm",
                "add user bob to account llm",
                "set account llm GrpTRESMins gres/gpu to 600 (raw usage reset)",
            ]
        );
    }

    #[test]
    fn a_second_run_changes_nothing() {
        let d = desired();
        let mut cur = Current::default();
        for c in plan(&d, &cur) {
            match c {
                Change::AddAccount {
                    name, description, ..
                } => {
                    cur.accounts.insert(name, (MARK.into(), description));
                }
                Change::AddUser { user, account } => {
                    cur.users.insert((account, user));
                }
                Change::SetGpuMinutes { account, to, .. } => {
                    cur.gpu_minutes.insert(account, to);
                }
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(plan(&d, &cur), vec![]);
    }

    #[test]
    fn accounts_aisc_did_not_make_are_never_touched() {
        let mut cur = Current::default();
        cur.accounts
            .insert("llm".into(), ("physics".into(), "theirs".into()));
        cur.users.insert(("llm".into(), "zed".into()));
        let changes = plan(&desired(), &cur);
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, Change::Conflict { account, .. } if account == "llm"))
        );
        assert!(!changes.iter().any(|c| match c {
            Change::AddUser { account, .. }
            | Change::RemoveUser { account, .. }
            | Change::SetGpuMinutes { account, .. } => account == "llm",
            _ => false,
        }));
    }

    #[test]
    fn members_who_left_lose_their_association_and_limits_follow_grants() {
        let mut cur = Current::default();
        cur.accounts
            .insert("hku".into(), (MARK.into(), String::new()));
        cur.accounts
            .insert("llm".into(), (MARK.into(), String::new()));
        for u in ["ann", "bob", "cat"] {
            cur.users.insert(("llm".into(), u.into()));
        }
        cur.gpu_minutes.insert("llm".into(), 900);
        let changes = plan(&desired(), &cur);
        assert_eq!(
            changes,
            vec![
                Change::RemoveUser {
                    user: "cat".into(),
                    account: "llm".into()
                },
                Change::SetGpuMinutes {
                    account: "llm".into(),
                    from: Some(900),
                    to: 600
                },
            ]
        );
    }

    #[test]
    fn grants_gpu_caps_become_grptres_and_are_cleared_when_lifted() {
        let mut d = desired();
        d.projects[0].gpu_cap = Some(16);
        let mut cur = Current::default();
        cur.accounts
            .insert("hku".into(), (MARK.into(), String::new()));
        cur.accounts
            .insert("llm".into(), (MARK.into(), String::new()));
        for u in ["ann", "bob"] {
            cur.users.insert(("llm".into(), u.into()));
        }
        cur.gpu_minutes.insert("llm".into(), 600);
        let set = Change::SetGpuCap {
            account: "llm".into(),
            from: None,
            to: Some(16),
        };
        assert_eq!(plan(&d, &cur), vec![set.clone()]);
        assert_eq!(
            set.to_string(),
            "set account llm GrpTRES gres/gpu from none to 16"
        );
        cur.gpu_caps.insert("llm".into(), 16);
        assert_eq!(plan(&d, &cur), vec![]);
        d.projects[0].gpu_cap = None;
        assert_eq!(
            plan(&d, &cur),
            vec![Change::SetGpuCap {
                account: "llm".into(),
                from: Some(16),
                to: None
            }]
        );
    }

    #[test]
    fn tres_strings_give_gpu_minutes() {
        assert_eq!(gpu_minutes_of("cpu=10,gres/gpu=120"), Some(120));
        assert_eq!(gpu_minutes_of("gres/gpu=0"), Some(0));
        assert_eq!(gpu_minutes_of("cpu=10"), None);
        assert_eq!(gpu_minutes_of(""), None);
    }
}
