//! `mpctl drift`.

use super::Exit;
use crate::cli::DriftArgs;
use crate::printer::Printer;

pub fn run(_args: &DriftArgs, _printer: &Printer) -> miette::Result<Exit> {
    miette::bail!("`mpctl drift` is not available in this build")
}
