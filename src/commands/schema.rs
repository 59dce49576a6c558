//! `mpctl schema`: print or write the JSON Schemas (the manifest's, and the JSON plan output's).

use super::Exit;
use crate::cli::SchemaArgs;
use crate::printer::Printer;

/// File name of the manifest schema in the `--write` directory.
pub const MANIFEST_SCHEMA_FILE: &str = "mpctl.schema.json";

/// File name of the plan output's schema in the `--write` directory.
pub const PLAN_SCHEMA_FILE: &str = "plan.schema.json";

pub fn run(args: &SchemaArgs, printer: &Printer) -> miette::Result<Exit> {
    let plan_text =
        serde_json::to_string_pretty(&crate::plan::json_schema()).unwrap_or_default() + "\n";
    if args.plan && args.write.is_none() {
        printer.out(&plan_text);
        return Ok(Exit::Success);
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
            let plan_path = dir.join(PLAN_SCHEMA_FILE);
            std::fs::write(&plan_path, plan_text).map_err(|e| {
                miette::miette!(
                    help = "check that the directory is writable",
                    "cannot write {}: {e}",
                    plan_path.display()
                )
            })?;
            printer.status(&format!("wrote {}", plan_path.display()));
        }
    }
    Ok(Exit::Success)
}
