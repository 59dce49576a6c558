//! `mpctl completions SHELL`.

use clap::CommandFactory;

use super::Exit;
use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: &CompletionsArgs) -> miette::Result<Exit> {
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "mpctl",
        &mut std::io::stdout(),
    );
    Ok(Exit::Success)
}
