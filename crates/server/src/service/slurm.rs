//! Slurm's side of the centre: users' Unix names, and the accounts sync.

use super::{Found, ServiceError};
use crate::AppState;
use crate::auth::Caller;
use crate::policy::{Access, Resource, authorize};
use aisc_api::identity::UserView;
use aisc_api::slurm::{SyncReport, SyncRequest, UnixNameRequest};

/// Checks a Unix user name: a POSIX name, not root, and (where this host
/// has such an account) not a system account: uid at or above `min_uid`.
pub fn check_unix_account(name: &str, min_uid: u32) -> Result<(), ServiceError> {
    check_unix_name(name)?;
    let refuse = |why: String| {
        Err(ServiceError::invalid(
            "unix_name",
            why,
            Some(format!(
                "an ordinary account: not root, uid {min_uid} or above"
            )),
        ))
    };
    if name == "root" {
        return refuse("root never runs jobs".into());
    }
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) if u.uid.is_root() => refuse(format!("{name} is uid 0: no job runs as root")),
        Ok(Some(u)) if u.uid.as_raw() < min_uid => refuse(format!(
            "{name} is a system account (uid {} is below {min_uid})",
            u.uid
        )),
        _ => Ok(()),
    }
}

/// Checks a POSIX user name.
pub fn check_unix_name(name: &str) -> Result<(), ServiceError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "unix_name",
            format!("{name:?} is not a Unix user name"),
            Some("1 to 32 of a-z, 0-9, '_', '-', starting with a letter or '_'".into()),
        ))
    }
}

/// Sets or clears the Unix account a user's jobs run as (centre administrators).
pub async fn set_unix_name(
    state: &AppState,
    caller: &Caller,
    name: &str,
    req: UnixNameRequest,
) -> Result<UserView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    if let Some(u) = &req.unix_name {
        check_unix_account(u, state.confinement.min_uid)?;
    }
    let id = state
        .store
        .user_id(name)
        .await
        .or_404(|| format!("user {name}"))?;
    let summary = match &req.unix_name {
        Some(u) => format!("Unix name set to {u}"),
        None => "Unix name cleared".into(),
    };
    let audit = caller.audit("user.unix_name", format!("user:{name}"), summary);
    state.store.set_unix_name(id, req.unix_name, audit).await?;
    crate::service::identity::user_view(state, id).await
}

/// Brings Slurm's accounts and associations in line with aisc's projects
/// and members; with `dry_run`, only says what it would change.
pub async fn sync(
    state: &AppState,
    caller: &Caller,
    req: SyncRequest,
) -> Result<SyncReport, ServiceError> {
    let access = if req.dry_run {
        Access::Read
    } else {
        Access::Manage
    };
    authorize(caller, access, Resource::Centre)?;
    let Some(cluster) = state.slurm_cluster.as_deref() else {
        return Err(ServiceError::Conflict(
            "this server runs jobs on its local engine, not Slurm (aisc serve --engine slurm)"
                .into(),
        ));
    };
    let changes = crate::slurm_sync::sync(&state.store, cluster, req.dry_run)
        .await
        .map_err(|e| match e {
            crate::slurm_sync::SyncError::Store(s) => ServiceError::from(s),
            crate::slurm_sync::SyncError::Slurm(s) => ServiceError::Unavailable(s.to_string()),
        })?;
    if !req.dry_run {
        let audit = caller.audit(
            "slurm.sync",
            "slurm".into(),
            format!("{} changes to Slurm's accounts", changes.len()),
        );
        state.store.record_audit(audit).await?;
    }
    Ok(SyncReport {
        applied: !req.dry_run,
        changes: changes.iter().map(ToString::to_string).collect(),
    })
}
