//! Master keys (from a file or a variable) and the data keys they wrap.

use crate::{NONCE, TAG, VaultError, cipher, random, xnonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, Payload};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// How a master key is written: `aisc-mk1:` and 32 bytes in base64.
const PREFIX: &str = "aisc-mk1:";

/// A data key: 32 bytes, wiped from memory when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A new random key.
    pub fn generate() -> DataKey {
        DataKey(random())
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// A master key and its id (the first 8 bytes of a SHA-256 of it, in hex),
/// which is stored beside what it wraps.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    key: [u8; 32],
    #[zeroize(skip)]
    kid: String,
}

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> MasterKey {
        MasterKey::from_bytes(random())
    }

    fn from_bytes(key: [u8; 32]) -> MasterKey {
        let digest = Sha256::new()
            .chain_update(b"aisc master key id")
            .chain_update(key)
            .finalize();
        MasterKey {
            key,
            kid: hex::encode(&digest[..8]),
        }
    }

    /// Its id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A key for another purpose derived from this one (HMAC-SHA-256 of the
    /// purpose's name under it): the same on every server holding this
    /// master key, and telling nothing of it.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(b"aisc derived key:");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// As written in a key file or the variable.
    pub fn encode(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(self.key))
    }

    fn parse(text: &str, origin: &str) -> Result<MasterKey, VaultError> {
        let bad = |reason: &str| VaultError::BadMasterKey {
            origin: origin.to_string(),
            reason: reason.to_string(),
        };
        let body = text.strip_prefix(PREFIX).unwrap_or(text);
        let mut bytes = STANDARD
            .decode(body)
            .map_err(|_| bad("not base64 (expected aisc-mk1: and 32 bytes in base64)"))?;
        let key: Result<[u8; 32], _> = bytes.as_slice().try_into();
        bytes.zeroize();
        key.map(MasterKey::from_bytes)
            .map_err(|_| bad("a master key is 32 bytes"))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.kid)
    }
}

/// Where the master keys come from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A file of one key per line, the current one first (`#` starts a comment).
    File(PathBuf),
    /// The value of an environment variable: keys separated by commas, current first.
    Variable {
        /// The variable's name, for messages.
        name: String,
        /// Its value.
        value: String,
    },
}

/// The loaded master keys: the first wraps new data keys, the others are kept
/// to unwrap what they wrapped until it is re-wrapped.
#[derive(Debug, Clone)]
pub struct MasterKeys {
    keys: Vec<MasterKey>,
    source: KeySource,
}

impl MasterKeys {
    /// Loads the keys. A missing key file is created with one new key (mode
    /// 0600) when `create` is set. A key file others can read is refused.
    pub fn load(source: KeySource, create: bool) -> Result<MasterKeys, VaultError> {
        let keys = match &source {
            KeySource::Variable { name, value } => value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .enumerate()
                .map(|(i, k)| MasterKey::parse(k, &format!("{name} (key {})", i + 1)))
                .collect::<Result<Vec<_>, _>>()?,
            KeySource::File(path) => match std::fs::metadata(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                    let key = MasterKey::generate();
                    write_ring(path, std::slice::from_ref(&key), true)?;
                    vec![key]
                }
                Err(source) => {
                    return Err(VaultError::Io {
                        what: "cannot read master key file",
                        path: path.display().to_string(),
                        source,
                    });
                }
                Ok(meta) => {
                    if meta.permissions().mode() & 0o077 != 0 {
                        return Err(VaultError::BadMasterKey {
                            origin: path.display().to_string(),
                            reason: format!(
                                "others can read it (mode {:o}); chmod 600 it",
                                meta.permissions().mode() & 0o777
                            ),
                        });
                    }
                    read_ring(path)?
                }
            },
        };
        if keys.is_empty() {
            return Err(VaultError::BadMasterKey {
                origin: source.describe(),
                reason: "holds no key".into(),
            });
        }
        Ok(MasterKeys { keys, source })
    }

    /// Keys given directly (tests, benchmarks).
    pub fn from_keys(keys: Vec<MasterKey>) -> MasterKeys {
        MasterKeys {
            keys,
            source: KeySource::Variable {
                name: "(given)".into(),
                value: String::new(),
            },
        }
    }

    /// The key that wraps new data keys.
    pub fn current(&self) -> &MasterKey {
        &self.keys[0]
    }

    /// Every loaded key, current first.
    pub fn all(&self) -> &[MasterKey] {
        &self.keys
    }

    /// The key with this id.
    pub fn get(&self, kid: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Where they came from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// A new ring with a new current key and these keys after it. When the
    /// keys come from a file, the file is replaced first (atomically, mode
    /// 0600), so that the new key is on record before anything is wrapped by it.
    pub fn rotated(&self) -> Result<MasterKeys, VaultError> {
        let mut keys = vec![MasterKey::generate()];
        keys.extend(self.keys.iter().cloned());
        if let KeySource::File(path) = &self.source {
            write_ring(path, &keys, false)?;
        }
        Ok(MasterKeys {
            keys,
            source: self.source.clone(),
        })
    }

    /// A ring without the key `kid` (rewriting the file). The current key cannot be retired.
    pub fn without(&self, kid: &str) -> Result<MasterKeys, VaultError> {
        let keys: Vec<MasterKey> = self.keys.iter().filter(|k| k.kid != kid).cloned().collect();
        if let KeySource::File(path) = &self.source {
            write_ring(path, &keys, false)?;
        }
        Ok(MasterKeys {
            keys,
            source: self.source.clone(),
        })
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(p) => f.debug_tuple("File").field(p).finish(),
            KeySource::Variable { name, .. } => f
                .debug_struct("Variable")
                .field("name", name)
                .finish_non_exhaustive(),
        }
    }
}

impl KeySource {
    /// For messages: the file's path or the variable's name.
    pub fn describe(&self) -> String {
        match self {
            KeySource::File(p) => p.display().to_string(),
            KeySource::Variable { name, .. } => name.clone(),
        }
    }
}

fn read_ring(path: &Path) -> Result<Vec<MasterKey>, VaultError> {
    let text = std::fs::read_to_string(path).map_err(|source| VaultError::Io {
        what: "cannot read master key file",
        path: path.display().to_string(),
        source,
    })?;
    text.lines()
        .enumerate()
        .map(|(i, l)| (i, l.split('#').next().unwrap_or("").trim()))
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| MasterKey::parse(l, &format!("{} line {}", path.display(), i + 1)))
        .collect()
}

/// Writes the ring to a new file beside `path` and renames it over `path`
/// (or, with `create_new`, creates `path` and fails if it exists).
fn write_ring(path: &Path, keys: &[MasterKey], create_new: bool) -> Result<(), VaultError> {
    let io = |what: &'static str, p: &Path| {
        let path = p.display().to_string();
        move |source| VaultError::Io { what, path, source }
    };
    let mut text = String::from(
        "# aisc master keys, current first. Keep this file off the data disk and out of backups of it.\n",
    );
    for k in keys {
        text.push_str(&k.encode());
        text.push_str(&format!("  # {}\n", k.kid));
    }
    let target = if create_new {
        path.to_path_buf()
    } else {
        path.with_extension("new")
    };
    let mut open = std::fs::OpenOptions::new();
    open.write(true).mode(0o600);
    if create_new {
        open.create_new(true);
    } else {
        open.create(true).truncate(true);
    }
    let mut file = open
        .open(&target)
        .map_err(io("cannot write master key file", &target))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io("cannot write master key file", &target))?;
    text.zeroize();
    if !create_new {
        std::fs::rename(&target, path).map_err(io("cannot replace master key file", path))?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("cannot sync directory", dir))?;
    }
    Ok(())
}

fn wrap_aad(key_id: i64, scope: &str) -> Vec<u8> {
    format!("aisc data key {key_id} {scope}").into_bytes()
}

/// Wraps a data key (`key_id`, for `scope`) under a master key: `[nonce: 24][ciphertext + tag]`.
pub fn wrap(master: &MasterKey, key: &DataKey, key_id: i64, scope: &str) -> Vec<u8> {
    let nonce: [u8; NONCE] = random();
    let ct = cipher(&master.key)
        .encrypt(
            &xnonce(&nonce),
            Payload {
                msg: key.bytes(),
                aad: &wrap_aad(key_id, scope),
            },
        )
        .unwrap_or_default();
    [&nonce[..], &ct].concat()
}

/// Unwraps a data key wrapped by [`wrap`] under the master key `kid`.
pub fn unwrap(
    masters: &MasterKeys,
    kid: &str,
    wrapped: &[u8],
    key_id: i64,
    scope: &str,
) -> Result<DataKey, VaultError> {
    let master = masters
        .get(kid)
        .ok_or_else(|| VaultError::MissingMasterKey {
            key_id,
            kid: kid.to_string(),
        })?;
    if wrapped.len() != NONCE + 32 + TAG {
        return Err(VaultError::Format {
            what: "data key",
            reason: "wrong length",
        });
    }
    let (nonce, ct) = wrapped.split_at(NONCE);
    let mut plain = cipher(&master.key)
        .decrypt(
            &xnonce(nonce),
            Payload {
                msg: ct,
                aad: &wrap_aad(key_id, scope),
            },
        )
        .map_err(|_| VaultError::Decrypt { what: "data key" })?;
    let key: Result<[u8; 32], _> = plain.as_slice().try_into();
    plain.zeroize();
    key.map(DataKey).map_err(|_| VaultError::Format {
        what: "data key",
        reason: "wrong length",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_key_unwraps_only_with_its_master_id_and_scope() {
        let ring = MasterKeys::from_keys(vec![MasterKey::generate()]);
        let dk = DataKey::generate();
        let w = wrap(ring.current(), &dk, 5, "project:1");
        let kid = ring.current().kid().to_string();
        let back = unwrap(&ring, &kid, &w, 5, "project:1").expect("unwraps");
        assert_eq!(back.bytes(), dk.bytes());
        assert!(unwrap(&ring, &kid, &w, 6, "project:1").is_err());
        assert!(unwrap(&ring, &kid, &w, 5, "project:2").is_err());
        assert!(matches!(
            unwrap(&ring, "0000", &w, 5, "project:1"),
            Err(VaultError::MissingMasterKey { .. })
        ));
    }

    #[test]
    fn a_key_file_is_created_private_read_back_and_rotated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        let ring = MasterKeys::load(KeySource::File(path.clone()), true).expect("created");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = MasterKeys::load(KeySource::File(path.clone()), false).expect("read");
        assert_eq!(again.current().kid(), ring.current().kid());

        let rotated = again.rotated().expect("rotated");
        assert_eq!(rotated.all().len(), 2);
        assert_eq!(rotated.all()[1].kid(), ring.current().kid());
        let reread = MasterKeys::load(KeySource::File(path.clone()), false).expect("read");
        assert_eq!(reread.current().kid(), rotated.current().kid());
        assert_eq!(reread.all().len(), 2);

        let retired = reread.without(ring.current().kid()).expect("retired");
        assert_eq!(retired.all().len(), 1);
        assert_eq!(
            MasterKeys::load(KeySource::File(path.clone()), false)
                .expect("read")
                .all()
                .len(),
            1
        );
    }

    #[test]
    fn bad_key_files_and_values_are_refused_with_their_origin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        std::fs::write(&path, "aisc-mk1:AAAA\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let err = MasterKeys::load(KeySource::File(path.clone()), false).expect_err("short");
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(err.to_string().contains("32 bytes"), "{err}");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = MasterKeys::load(KeySource::File(path.clone()), false).expect_err("open");
        assert!(err.to_string().contains("chmod 600"), "{err}");

        let missing = dir.path().join("none");
        assert!(MasterKeys::load(KeySource::File(missing), false).is_err());

        let var = |value: &str| KeySource::Variable {
            name: "AISC_MASTER_KEY".into(),
            value: value.into(),
        };
        let err = MasterKeys::load(var("not base64!"), false).expect_err("bad");
        assert!(err.to_string().contains("AISC_MASTER_KEY"), "{err}");
        assert!(MasterKeys::load(var(" , "), false).is_err());
        let a = MasterKey::generate();
        let b = MasterKey::generate();
        let ring =
            MasterKeys::load(var(&format!("{}, {}", a.encode(), b.encode())), false).expect("two");
        assert_eq!(ring.current().kid(), a.kid());
        assert!(ring.get(b.kid()).is_some());
        assert!(!format!("{ring:?}").contains(&a.encode()[9..]));
    }
}
