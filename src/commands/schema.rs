//! `mpctl schema`.

use super::Exit;
use crate::cli::SchemaArgs;
use crate::printer::Printer;

pub fn run(_args: &SchemaArgs, _printer: &Printer) -> miette::Result<Exit> {
    miette::bail!("`mpctl schema` is not available in this build")
}
