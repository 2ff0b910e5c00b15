//! Sealed values and sealed files as read back from disk: any bytes (a torn,
//! truncated or tampered file, or another format) are refused, never a panic,
//! and never opened as something they are not.
#![no_main]

use aisc_vault::stream::{self, Header};
use aisc_vault::{DataKey, open, sealed_key_id};
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let key = DataKey::generate();
    let _ = sealed_key_id(data);
    // Random bytes never authenticate under a fresh key.
    assert!(open(&key, b"job:1", data).is_err());
    let mut c = Cursor::new(data);
    if let Ok(h) = Header::read_from(&mut c) {
        let len = data.len() as u64;
        assert!(stream::read_range(&mut c, &h, &key, b"data:1", len, 0, 1 << 20).is_err());
        let _ = stream::repair(&mut c, &h, &key, b"data:1", len);
        let offset = u64::from(data.first().copied().unwrap_or(0)) * 1000;
        assert!(stream::read_range(&mut c, &h, &key, b"data:1", len, offset, 17).is_err());
    }
});
