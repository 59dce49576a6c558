//! Proof at scale and under faults: a generator of large manifests ([`generate`](mod@generate)),
//! process measurements ([`measure`]), the CPU cost of validate + diff ([`cpu`]), the benchmark
//! of plan and apply against the emulator with injected latency, and the fault-injection soak
//! run.
//! Reached through the hidden `mpctl bench` command; see `docs/performance.md` and
//! `docs/reliability.md` for what they measure and their latest figures.

pub mod cpu;
pub mod generate;
pub mod host;
pub mod measure;
pub mod minimum;
pub mod pipeline;
pub mod run;
pub mod soak;
pub mod state_check;

pub use generate::{Generated, Organisation, Spec, generate};
