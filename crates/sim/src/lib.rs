//! The simulator: replays cluster traces through the production `sched` and
//! `billing` code, faster than real time. Not built yet: this crate holds the
//! boundary (it may depend on `sched`, `billing` and `model`, never on the
//! store, the engine or the server) until the simulator work lands.
