//! Slurm's time-limit and memory formats: parsed or refused, never a panic;
//! a parsed time limit formats back to one that parses to the same seconds.
#![no_main]

use aisc_model::units::{format_duration, parse_mem_mb, parse_time_limit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(secs) = parse_time_limit(text) {
        let again = format_duration(secs);
        assert_eq!(parse_time_limit(&again).ok(), Some(secs), "{text:?} -> {again:?}");
    }
    let _ = parse_mem_mb(text);
});
