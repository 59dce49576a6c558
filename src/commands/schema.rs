//! `mpctl schema`: print or write the JSON Schemas — the manifest's (for editors and
//! validation) and the JSON plan output's (for programs reading `plan --format json`).

use std::path::Path;

use super::Exit;
use crate::cli::SchemaArgs;
use crate::diagnostic_code::Code;
use crate::printer::Printer;

/// File name of the manifest schema in the `--write` directory.
pub const MANIFEST_SCHEMA_FILE: &str = "mpctl.schema.json";

/// File name of the schema of manifest parts (files without `version`).
pub const PART_SCHEMA_FILE: &str = "mpctl-part.schema.json";

/// File name of the plan schema in the `--write` directory.
pub const PLAN_SCHEMA_FILE: &str = "plan.schema.json";

/// The plan output's schema as committed: pretty-printed, newline-terminated.
fn plan_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&crate::plan::json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// Prints one schema, or writes all of them into `--write DIR`.
pub fn run(args: &SchemaArgs, printer: &Printer) -> miette::Result<Exit> {
    match &args.write {
        None if args.plan => printer.out(&plan_schema_text()),
        None => printer.out(&crate::manifest::schema::manifest_schema_text()),
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                miette::miette!(
                    code = Code::IoWrite,
                    help = "check that the directory can be created and written",
                    "cannot create {}: {e}",
                    dir.display()
                )
            })?;
            // `--write` writes every schema, so that one command keeps `schema/` in sync.
            write(
                dir,
                MANIFEST_SCHEMA_FILE,
                &crate::manifest::schema::manifest_schema_text(),
                printer,
            )?;
            write(
                dir,
                PART_SCHEMA_FILE,
                &crate::manifest::schema::part_schema_text(),
                printer,
            )?;
            write(dir, PLAN_SCHEMA_FILE, &plan_schema_text(), printer)?;
        }
    }
    Ok(Exit::Success)
}

fn write(dir: &Path, name: &str, text: &str, printer: &Printer) -> miette::Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| {
        miette::miette!(
            code = Code::IoWrite,
            help = "check that the directory is writable",
            "cannot write {}: {e}",
            path.display()
        )
    })?;
    printer.status(&format!("wrote {}", path.display()));
    Ok(())
}
