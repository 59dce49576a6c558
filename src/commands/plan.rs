//! `mpctl plan`.

use super::Exit;
use crate::cli::PlanArgs;
use crate::printer::Printer;

pub fn run(_args: &PlanArgs, _printer: &Printer) -> miette::Result<Exit> {
    miette::bail!("`mpctl plan` is not available in this build")
}
