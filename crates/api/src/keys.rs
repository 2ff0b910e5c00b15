//! Master keys of the encryption at rest.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A loaded master key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MasterKeyView {
    /// Its id (never the key).
    pub kid: String,
    /// Whether it wraps new data keys.
    pub current: bool,
    /// Data keys it wraps now.
    pub data_keys: i64,
}

/// The master keys and what they wrap.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeysView {
    /// Where they are read from: `file <path>` or `variable <name>`.
    pub source: String,
    /// Loaded keys, current first.
    pub masters: Vec<MasterKeyView>,
    /// Data keys destroyed (crypto-shredded projects).
    pub destroyed_data_keys: i64,
    /// Data keys re-wrapped by this request (rotate only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrapped: Option<i64>,
}

/// A master key to retire.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetireRequest {
    /// Its id.
    pub kid: String,
}
