//! `mpctl emulator serve` and `mpctl emulator init`.

use super::Exit;
use crate::cli::{EmulatorInitArgs, EmulatorServeArgs};
use crate::printer::Printer;

pub fn serve(_args: &EmulatorServeArgs, _printer: &Printer) -> miette::Result<Exit> {
    miette::bail!("`mpctl emulator serve` is not available in this build")
}

pub fn init(_args: &EmulatorInitArgs, _printer: &Printer) -> miette::Result<Exit> {
    miette::bail!("`mpctl emulator init` is not available in this build")
}
