//! `mpctl validate`.

use super::Exit;
use crate::cli::ValidateArgs;
use crate::printer::Printer;

pub fn run(_args: &ValidateArgs, _printer: &Printer) -> miette::Result<Exit> {
    miette::bail!("`mpctl validate` is not available in this build")
}
