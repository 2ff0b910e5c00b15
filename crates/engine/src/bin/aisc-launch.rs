//! The job launcher (see `aisc_engine::confine`): `aisc-launch JOB_DIR`.

fn main() {
    aisc_engine::confine::launcher::main()
}
