//! mpctl: Maskinporten self-service configuration as code.
//!
//! The pipeline: manifest files are loaded and validated ([`manifest`]), live state is fetched
//! ([`api`]), desired and live state ([`state`]) are diffed into an ordered plan, rendered, and
//! applied. The core (manifest, state, plan, render) does no I/O beyond reading files; the shell
//! (api, emulator, commands) does the rest. [`engine`] runs the pipeline for the commands and
//! the benchmarks alike.
//!
//! The modules are layered, each using only those below it: the leaves (codes, digests,
//! secrets, [`clock`]), the core (manifest with its schema and state), the emulator, api, plan,
//! then apply, render, import and keys, the engine and the benchmarks, and the command line
//! (cli, printer, commands) on top. A test reads the source and fails on an import that goes up
//! a layer.

pub mod api;
pub mod apply;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod diagnostic_code;
pub mod digest;
pub mod emulator;
pub mod engine;
pub mod import;
pub mod keys;
pub mod manifest;
pub mod plan;
pub mod printer;
pub mod render;
pub mod secret;
pub mod state;
