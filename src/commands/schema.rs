//! `mpctl schema`: print or write the JSON Schemas (the manifest's, and the JSON plan output's).

use super::Exit;
use crate::cli::SchemaArgs;
use crate::printer::Printer;

/// File name of the manifest schema in the `--write` directory.
pub const MANIFEST_SCHEMA_FILE: &str = "mpctl.schema.json";

pub fn run(args: &SchemaArgs, printer: &Printer) -> miette::Result<Exit> {
    if args.plan {
        miette::bail!(miette::miette!(
            code = "mpctl::schema::plan_unavailable",
            help = "use `mpctl schema` for the manifest's schema",
            "the plan output's schema is not available in this build"
        ));
    }
    let text = crate::schema::manifest_schema_text();
    match &args.write {
        None => printer.out(&text),
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                miette::miette!(
                    help = "check that the directory can be created and written",
                    "cannot create {}: {e}",
                    dir.display()
                )
            })?;
            let path = dir.join(MANIFEST_SCHEMA_FILE);
            std::fs::write(&path, text).map_err(|e| {
                miette::miette!(
                    help = "check that the directory is writable",
                    "cannot write {}: {e}",
                    path.display()
                )
            })?;
            printer.status(&format!("wrote {}", path.display()));
        }
    }
    Ok(Exit::Success)
}
