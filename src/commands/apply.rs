//! `mpctl apply`.

use super::Exit;
use crate::cli::ApplyArgs;
use crate::printer::Printer;

pub fn run(_args: &ApplyArgs, _printer: &Printer) -> miette::Result<Exit> {
    miette::bail!("`mpctl apply` is not available in this build")
}
