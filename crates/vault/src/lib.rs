//! Envelope encryption for what tenants put in aisc.
//!
//! - A **master key** (32 bytes) never touches the database. It comes from a
//!   key file or the `AISC_MASTER_KEY` environment variable ([`MasterKeys`]);
//!   several may be loaded at once (a ring, the first is current), so that a
//!   rotation can re-wrap at leisure.
//! - A **data key** (32 bytes) per project (and one for the centre) encrypts
//!   that project's values and files. It is stored only wrapped by a master key
//!   ([`wrap`], [`unwrap`]). Destroying the wrapped copy destroys every
//!   ciphertext made with it (crypto-shredding).
//! - A **sealed value** ([`seal`], [`open`]) is one AEAD message naming its
//!   data key's id; a **sealed file** ([`stream`]) is a header and 64 KiB
//!   chunks, each its own AEAD message, so that a range can be read without
//!   decrypting the whole file and a truncation is detected.
//!
//! The AEAD is XChaCha20-Poly1305 (random 192-bit nonces are safe to draw at
//! any volume). Every message binds a context (`job:12`, `data:7`, ...) as
//! associated data, so a ciphertext moved to another row or file fails to open.

mod keys;
pub mod stream;

pub use keys::{DataKey, KeySource, MasterKey, MasterKeys, unwrap, wrap};

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::Rng as _;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// A key file could not be read or written (the cause is its source).
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A master key is malformed.
    #[error("{origin}: {reason}")]
    BadMasterKey {
        /// Where it came from (file and line, or the variable).
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// A data key is wrapped by a master key that is not loaded.
    #[error("data key {key_id} is wrapped by master key {kid}, which is not loaded")]
    MissingMasterKey {
        /// The data key.
        key_id: i64,
        /// The master key's id.
        kid: String,
    },
    /// A ciphertext did not authenticate: wrong key, wrong context, or altered.
    #[error("cannot decrypt {what}: wrong key or altered data")]
    Decrypt {
        /// What it was.
        what: &'static str,
    },
    /// A ciphertext is not in a format this version reads.
    #[error("not a sealed {what}: {reason}")]
    Format {
        /// What it should have been.
        what: &'static str,
        /// Why it is not.
        reason: &'static str,
    },
}

const VALUE_VERSION: u8 = 1;
const NONCE: usize = 24;
const TAG: usize = 16;
const VALUE_HEADER: usize = 1 + 8 + NONCE;

pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

pub(crate) fn xnonce(b: &[u8]) -> XNonce {
    let mut n = [0u8; NONCE];
    n.copy_from_slice(&b[..NONCE]);
    n.into()
}

pub(crate) fn cipher(key: &[u8; 32]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.into())
}

/// A new id for a data key: random, so that an id handed out in a transaction
/// that rolled back is never given to a different key.
pub fn new_key_id() -> i64 {
    // Positive, never zero.
    (i64::from_be_bytes(random::<8>()) & i64::MAX).max(1)
}

/// Encrypts `plaintext` under `key` (whose id is `key_id`), bound to `context`.
/// The result names the key: `[1][key id: 8][nonce: 24][ciphertext + tag]`.
pub fn seal(key: &DataKey, key_id: i64, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE] = random();
    let mut out = Vec::with_capacity(VALUE_HEADER + plaintext.len() + TAG);
    out.push(VALUE_VERSION);
    out.extend_from_slice(&key_id.to_be_bytes());
    out.extend_from_slice(&nonce);
    let aad = [&out[..], context].concat();
    let ct = cipher(key.bytes())
        .encrypt(
            &xnonce(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .unwrap_or_default(); // encryption fails only for messages over 256 GiB
    out.extend_from_slice(&ct);
    out
}

/// The id of the data key a sealed value needs.
pub fn sealed_key_id(sealed: &[u8]) -> Result<i64, VaultError> {
    if sealed.len() < VALUE_HEADER + TAG {
        return Err(VaultError::Format {
            what: "value",
            reason: "too short",
        });
    }
    if sealed[0] != VALUE_VERSION {
        return Err(VaultError::Format {
            what: "value",
            reason: "unknown version",
        });
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&sealed[1..9]);
    Ok(i64::from_be_bytes(id))
}

/// Decrypts a value made by [`seal`] with the same key and context.
pub fn open(key: &DataKey, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
    sealed_key_id(sealed)?;
    let (header, ct) = sealed.split_at(VALUE_HEADER);
    let aad = [header, context].concat();
    cipher(key.bytes())
        .decrypt(&xnonce(&header[9..]), Payload { msg: ct, aad: &aad })
        .map_err(|_| VaultError::Decrypt { what: "value" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_value_opens_only_with_its_key_and_context() {
        let key = DataKey::generate();
        let other = DataKey::generate();
        let sealed = seal(&key, 7, b"job:1", b"secret script");
        assert_eq!(sealed_key_id(&sealed).ok(), Some(7));
        assert_eq!(
            open(&key, b"job:1", &sealed).ok().as_deref(),
            Some(&b"secret script"[..])
        );
        assert!(open(&other, b"job:1", &sealed).is_err());
        assert!(open(&key, b"job:2", &sealed).is_err());
        assert!(
            !sealed
                .windows(b"secret".len())
                .any(|w| w == b"secret".as_slice())
        );
    }

    #[test]
    fn a_value_with_its_key_id_changed_does_not_open() {
        let key = DataKey::generate();
        let mut sealed = seal(&key, 7, b"c", b"x");
        sealed[8] ^= 1;
        assert!(open(&key, b"c", &sealed).is_err());
        assert!(sealed_key_id(&[2; 64]).is_err());
        assert!(sealed_key_id(&[1; 10]).is_err());
    }

    #[test]
    fn key_ids_are_positive() {
        for _ in 0..1000 {
            assert!(new_key_id() > 0);
        }
    }

    proptest! {
        #[test]
        fn any_flipped_bit_is_refused(text in proptest::collection::vec(any::<u8>(), 0..200), bit in any::<usize>()) {
            let key = DataKey::generate();
            let mut sealed = seal(&key, 3, b"ctx", &text);
            prop_assert_eq!(open(&key, b"ctx", &sealed).ok(), Some(text));
            let i = bit % (sealed.len() * 8);
            sealed[i / 8] ^= 1 << (i % 8);
            prop_assert!(open(&key, b"ctx", &sealed).is_err());
        }
    }
}
