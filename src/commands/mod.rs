//! The glue between the command line and the library: one file per command, each turning its
//! arguments into calls of the core and the I/O shell, and its outcome into an [`Exit`].

use std::process::ExitCode;

use crate::cli::{BenchCommand, Command, EmulatorCommand, KeysCommand};
use crate::diagnostic_code::Code;
use crate::printer::Printer;

mod apply;
mod base;
mod bench;
mod completions;
mod drift;
mod emulator;
mod failure;
mod import;
mod keys;
mod plan;
mod schema;
mod token;
mod validate;

/// How a command ended, as the process exit status (Terraform's convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success, nothing (more) to do.
    Success,
    /// 1: an error (invalid manifest, API failure, refused apply).
    Failure,
    /// 2: changes present (`plan --detailed-exitcode`, `drift`).
    Changes,
    /// 64: a usage error the command found (see [`Code::is_usage`]).
    Usage,
}

impl Exit {
    /// The exit of a command that failed with `report`: a usage error or a failure.
    pub fn of_error(report: &miette::Report) -> Exit {
        let code = report.code().map(|c| c.to_string());
        match code.as_deref().and_then(Code::from_code) {
            Some(code) if code.is_usage() => Exit::Usage,
            _ => Exit::Failure,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(match exit {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Changes => 2,
            Exit::Usage => crate::cli::EXIT_USAGE,
        })
    }
}

/// Runs one command.
pub fn run(command: Command, printer: &Printer) -> miette::Result<Exit> {
    match command {
        Command::Validate(args) => validate::run(&args, printer),
        Command::Plan(args) => plan::run(&args, printer),
        Command::Apply(args) => apply::run(&args, printer),
        Command::Drift(args) => drift::run(&args, printer),
        Command::Import(args) => import::run(&args, printer),
        Command::Keys(KeysCommand::List(args)) => keys::list(&args, printer),
        Command::Keys(KeysCommand::Rotate(args)) => keys::rotate(&args, printer),
        Command::Token(args) => token::run(&args, printer),
        Command::Schema(args) => schema::run(&args, printer),
        Command::Emulator(EmulatorCommand::Serve(args)) => emulator::serve(&args, printer),
        Command::Emulator(EmulatorCommand::Init(args)) => emulator::init(&args, printer),
        Command::Completions(args) => completions::run(&args),
        Command::Bench(BenchCommand::Run(args)) => bench::run(&args, printer),
        Command::Bench(BenchCommand::Soak(args)) => bench::soak(&args, printer),
        Command::Bench(BenchCommand::Generate(args)) => bench::generate(&args, printer),
        Command::Bench(BenchCommand::Emulators(args)) => bench::emulators(&args),
    }
}

/// A multi-threaded tokio runtime for commands that talk HTTP.
pub(crate) fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            miette::miette!(
                code = Code::RuntimeStart,
                "cannot start the async runtime: {e}"
            )
        })
}

/// Connects to an environment through the engine, with the command line's concurrency and
/// timeouts.
pub(crate) async fn connect(
    loaded: &crate::manifest::LoadedManifest,
    env: &str,
    access: crate::api::Access,
    requests: &crate::cli::EnvArgs,
) -> miette::Result<crate::api::Connection> {
    let concurrency = usize::from(requests.concurrency);
    crate::engine::connect(loaded, env, access, concurrency, &requests.retry_policy()).await
}

#[cfg(test)]
mod exit_tests {
    use miette::WrapErr;

    use super::*;

    #[test]
    fn a_usage_code_exits_64_even_wrapped_and_anything_else_1() {
        let usage = miette::miette!(code = Code::EnvUnknown, "unknown environment `prdo`");
        assert_eq!(Exit::of_error(&usage), Exit::Usage);
        let wrapped = Err::<(), _>(miette::miette!(code = Code::EmulatorOption, "--listen"))
            .wrap_err("cannot start")
            .unwrap_err();
        assert_eq!(Exit::of_error(&wrapped), Exit::Usage);
        let failure = miette::miette!(code = Code::LiveUnreadable, "cannot read");
        assert_eq!(Exit::of_error(&failure), Exit::Failure);
        assert_eq!(Exit::of_error(&miette::miette!("no code")), Exit::Failure);
        assert_eq!(ExitCode::from(Exit::Usage), ExitCode::from(64));
    }
}
