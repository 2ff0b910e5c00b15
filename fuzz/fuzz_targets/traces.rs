//! Trace readers: any bytes, read as each format, give a trace or an error
//! naming the line, never a panic; every job read has GPUs and a duration
//! that are not negative.
#![no_main]

use aisc_sim::trace::{Format, ReadOptions, read_from};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [Format::Philly, Format::Muri, Format::Alibaba, Format::Generic, Format::Sacct] {
        for skip_bad_rows in [false, true] {
            let opts = ReadOptions {
                skip_bad_rows,
                ..ReadOptions::default()
            };
            if let Ok(trace) = read_from(data, "fuzz", format, opts) {
                for job in &trace.jobs {
                    assert!(job.duration >= 0.0 && job.submit.is_finite(), "{job:?}");
                }
            }
        }
    }
});
