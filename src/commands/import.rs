//! `mpctl import`.

use super::Exit;
use crate::cli::ImportArgs;
use crate::printer::Printer;

pub fn run(_args: &ImportArgs, _printer: &Printer) -> miette::Result<Exit> {
    miette::bail!("`mpctl import` is not available in this build")
}
