//! Prints the calibration table of SIMULATION.md: the Muri paper's SRTF, SRSF
//! and Tiresias rows beside ours. `cargo run --release -p aisc-sim --example calibrate`
//! (traces from ../shared/traces, or $AISC_TRACES).

fn main() {
    let root = std::env::var("AISC_TRACES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/traces").into());
    let root = std::path::Path::new(&root);
    match aisc_sim::calibration::muri_rows(
        &root.join("published/muri_sigcomm22_sim_fig9_10.csv"),
        &root.join("muri/simulator_trace-data"),
    ) {
        Ok(rows) => print!("{}", aisc_sim::calibration::markdown(&rows)),
        Err(e) => {
            eprintln!("calibrate: {e}");
            std::process::exit(1);
        }
    }
}
