//! Keys: the use cases the portal and the API share.

use super::ServiceError;
use crate::AppState;
use crate::auth::Caller;
use crate::policy::{Access, Resource, authorize};
use aisc_api::keys::*;
use aisc_api::keys::{KeysView, RetireRequest};
use aisc_vault::KeySource;

pub(crate) async fn view(
    state: &AppState,
    rewrapped: Option<i64>,
) -> Result<KeysView, ServiceError> {
    let masters = state.store.master_keys();
    let report = state.store.key_report().await?;
    let count = |kid: &str| {
        report
            .wrapped_by
            .iter()
            .find(|(k, _)| k == kid)
            .map_or(0, |(_, n)| *n)
    };
    Ok(KeysView {
        source: match masters.source() {
            KeySource::File(p) => format!("file {}", p.display()),
            KeySource::Variable { name, .. } => format!("variable {name}"),
        },
        masters: masters
            .all()
            .iter()
            .enumerate()
            .map(|(i, k)| MasterKeyView {
                kid: k.kid().to_string(),
                current: i == 0,
                data_keys: count(k.kid()),
            })
            .collect(),
        destroyed_data_keys: report.destroyed,
        rewrapped,
    })
}

/// The master keys loaded and how many data keys each wraps.
pub async fn list(state: &AppState, caller: &Caller) -> Result<KeysView, ServiceError> {
    authorize(caller, Access::Read, Resource::Centre)?;
    view(state, None).await
}

/// Rotate the master key: with a key file, a new key is written to it first (the old ones stay
/// after it); then every data key is re-wrapped under the current key in one transaction. Jobs,
/// files and logs stay readable throughout. With `AISC_MASTER_KEY`, put the new key first in
/// the variable and restart; this then re-wraps under it.
pub async fn rotate(state: &AppState, caller: &Caller) -> Result<KeysView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    let _one = state.key_rotation.lock().await;
    let masters = state.store.master_keys();
    let next = match masters.source() {
        KeySource::File(_) => masters.rotated().map_err(ServiceError::internal)?,
        KeySource::Variable { .. } => masters,
    };
    let audit = caller.audit(
        "keys.rotate",
        "keys".into(),
        format!("current master key {}", next.current().kid()),
    );
    let n = state.store.rewrap_keys(next, audit).await?;
    view(state, Some(n)).await
}

/// Retire a master key that wraps no data key any more (after a rotation). With a key file it is
/// removed from the file; with `AISC_MASTER_KEY`, remove it from the variable instead.
pub async fn retire(
    state: &AppState,
    caller: &Caller,
    req: RetireRequest,
) -> Result<KeysView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    let _one = state.key_rotation.lock().await;
    let masters = state.store.master_keys();
    if masters.get(&req.kid).is_none() {
        return Err(ServiceError::invalid(
            "kid",
            format!("{:?} is not a loaded master key", req.kid),
            Some("an id from aisc keys list".into()),
        ));
    }
    if masters.current().kid() == req.kid {
        return Err(ServiceError::Conflict(
            "the current master key cannot be retired; rotate first".into(),
        ));
    }
    let report = state.store.key_report().await?;
    if let Some((_, n)) = report.wrapped_by.iter().find(|(k, _)| *k == req.kid) {
        return Err(ServiceError::Conflict(format!(
            "master key {} still wraps {n} data keys; rotate first",
            req.kid
        )));
    }
    if let KeySource::Variable { name, .. } = masters.source() {
        return Err(ServiceError::Conflict(format!(
            "the master keys come from {name}: remove the key from it and restart"
        )));
    }
    let next = masters.without(&req.kid).map_err(ServiceError::internal)?;
    state.store.set_master_keys(next);
    let audit = caller.audit(
        "keys.retire",
        "keys".into(),
        format!("retired master key {}", req.kid),
    );
    state.store.record_audit(audit).await?;
    view(state, None).await
}
