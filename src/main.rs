//! The `mpctl` binary: parse the command line, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use mpctl::cli::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse_checked_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(error) => return mpctl::cli::usage_error(&error),
    };
    let printer = mpctl::printer::Printer::new(&cli.global);
    mpctl::printer::install_miette_handler(&printer);
    printer.init_tracing(cli.global.verbose);
    match mpctl::commands::run(cli.command, &printer) {
        Ok(exit) => exit.into(),
        Err(report) => {
            printer.report(&report);
            mpctl::commands::Exit::of_error(&report).into()
        }
    }
}
