//! The audit trail's hash chain. Each event's hash covers its own fields and
//! the previous event's hash, so editing, inserting or deleting any event
//! breaks every hash after it; [`verify`] names the first event that does
//! not match.
//!
//! The hash is SHA-256 over the fields, each preceded by its length in bytes
//! (so that no two different events serialise alike), hex-encoded.

use sha2::{Digest, Sha256};

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit event's fields, as hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFields<'a> {
    /// Sequence number, from 1, without gaps.
    pub id: i64,
    /// When (epoch ms).
    pub at_ms: i64,
    /// Who (user name, or `system`).
    pub actor: &'a str,
    /// What (`job.submit`, `job.cancel`, ...).
    pub action: &'a str,
    /// On what (`job:42`, `user:admin`).
    pub target: &'a str,
    /// In words.
    pub summary: &'a str,
    /// From where (client address, or `local`).
    pub source: &'a str,
}

/// The hash of `fields` chained after `prev`.
pub fn chain_hash(prev: &str, f: &AuditFields<'_>) -> String {
    let mut h = Sha256::new();
    for part in [
        prev.as_bytes(),
        &f.id.to_be_bytes(),
        &f.at_ms.to_be_bytes(),
        f.actor.as_bytes(),
        f.action.as_bytes(),
        f.target.as_bytes(),
        f.summary.as_bytes(),
        f.source.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// Why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// An event is missing before this id (deleted, or ids out of order).
    #[error("event {found} follows event {after}: events are missing or out of order")]
    Gap {
        /// The last good id.
        after: i64,
        /// The id found next.
        found: i64,
    },
    /// The event's stored previous hash is not the previous event's hash.
    #[error("event {0} does not follow the previous event's hash")]
    BrokenLink(i64),
    /// The event's stored hash does not match its fields.
    #[error("event {0} was altered: its hash does not match its fields")]
    Altered(i64),
}

/// Checks a chain event by event, in id order, so that a long trail can be
/// read page by page.
#[derive(Debug, Clone)]
pub struct Verifier {
    prev: String,
    last_id: i64,
    checked: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            prev: GENESIS.to_string(),
            last_id: 0,
            checked: 0,
        }
    }
}

impl Verifier {
    /// A verifier at the start of the chain.
    pub fn new() -> Self {
        Verifier::default()
    }

    /// Checks the next event, given with its stored previous hash and hash.
    pub fn push(
        &mut self,
        f: &AuditFields<'_>,
        stored_prev: &str,
        stored_hash: &str,
    ) -> Result<(), ChainError> {
        if f.id != self.last_id + 1 {
            return Err(ChainError::Gap {
                after: self.last_id,
                found: f.id,
            });
        }
        if stored_prev != self.prev {
            return Err(ChainError::BrokenLink(f.id));
        }
        let h = chain_hash(&self.prev, f);
        if h != stored_hash {
            return Err(ChainError::Altered(f.id));
        }
        self.prev = h;
        self.last_id = f.id;
        self.checked += 1;
        Ok(())
    }

    /// The hash of the last event checked (the genesis hash before any).
    pub fn last_hash(&self) -> &str {
        &self.prev
    }

    /// How many events have been checked.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The id of the last event checked (0 before any).
    pub fn last_id(&self) -> i64 {
        self.last_id
    }
}

/// Checks a whole chain given in id order as `(fields, prev_hash, hash)`.
/// Returns how many events were checked, or the first event that is wrong.
pub fn verify<'a>(
    events: impl IntoIterator<Item = (AuditFields<'a>, &'a str, &'a str)>,
) -> Result<u64, ChainError> {
    let mut v = Verifier::new();
    for (f, prev, hash) in events {
        v.push(&f, prev, hash)?;
    }
    Ok(v.checked())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64, summary: &'static str) -> AuditFields<'static> {
        AuditFields {
            id,
            at_ms: 1000 + id,
            actor: "admin",
            action: "job.submit",
            target: "job:1",
            summary,
            source: "127.0.0.1",
        }
    }

    fn chain(summaries: &[&'static str]) -> Vec<(AuditFields<'static>, String, String)> {
        let mut prev = GENESIS.to_string();
        summaries
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let f = ev(i as i64 + 1, s);
                let h = chain_hash(&prev, &f);
                let out = (f, prev.clone(), h.clone());
                prev = h;
                out
            })
            .collect()
    }

    fn check(c: &[(AuditFields<'static>, String, String)]) -> Result<u64, ChainError> {
        verify(
            c.iter()
                .map(|(f, p, h)| (f.clone(), p.as_str(), h.as_str())),
        )
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(check(&chain(&["a", "b", "c"])), Ok(3));
        assert_eq!(check(&[]), Ok(0));
    }

    #[test]
    fn any_edit_is_found_and_named() {
        let mut c = chain(&["a", "b", "c"]);
        c[1].0.summary = "B";
        assert_eq!(check(&c), Err(ChainError::Altered(2)));

        let mut c = chain(&["a", "b", "c"]);
        c.remove(1);
        assert_eq!(check(&c), Err(ChainError::Gap { after: 1, found: 3 }));

        // Rewriting an event and its hash still breaks the next link.
        let mut c = chain(&["a", "b", "c"]);
        c[1].0.summary = "B";
        c[1].2 = chain_hash(&c[1].1, &c[1].0);
        assert_eq!(check(&c), Err(ChainError::BrokenLink(3)));
    }

    #[test]
    fn field_boundaries_matter() {
        let a = AuditFields {
            actor: "ab",
            action: "c",
            ..ev(1, "")
        };
        let b = AuditFields {
            actor: "a",
            action: "bc",
            ..ev(1, "")
        };
        assert_ne!(chain_hash(GENESIS, &a), chain_hash(GENESIS, &b));
    }
}
