//! `mpctl keys list` and `mpctl keys rotate`.

use super::Exit;
use crate::cli::{KeysListArgs, KeysRotateArgs};
use crate::printer::Printer;

pub fn list(_args: &KeysListArgs, _printer: &Printer) -> miette::Result<Exit> {
    miette::bail!("`mpctl keys list` is not available in this build")
}

pub fn rotate(_args: &KeysRotateArgs, _printer: &Printer) -> miette::Result<Exit> {
    miette::bail!("`mpctl keys rotate` is not available in this build")
}
