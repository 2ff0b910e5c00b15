//! The job submission body (`POST /api/v1/jobs`): any bytes are refused as
//! JSON, refused by shape, or resolved or refused field by field, never a
//! panic; a resolved job stays within the limits it was checked against.
#![no_main]

use aisc_model::JobRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<JobRequest>(data) else {
        return;
    };
    if let Ok(resolved) = req.resolve() {
        let spec = resolved.spec;
        assert!(spec.time_limit_s > 0, "a job always has a time limit");
        assert!(!spec.workdir.is_empty(), "and a working directory");
    }
});
