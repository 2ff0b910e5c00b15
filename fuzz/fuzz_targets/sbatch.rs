//! `#SBATCH` scripts: any text is parsed or refused, never a panic; what is
//! accepted has sane values.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(opts) = aisc_model::sbatch::parse_script(text) {
        // Parsing what was accepted again gives the same answer.
        assert_eq!(aisc_model::sbatch::parse_script(text).ok(), Some(opts));
    }
    for line in text.lines() {
        let _ = aisc_model::sbatch::parse_gpu_spec(line);
        let _ = aisc_model::sbatch::parse_gres_item(line);
    }
});
