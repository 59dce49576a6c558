//! `mpctl validate`: check manifests without touching any API and report every problem.
//!
//! Human output goes to stdout: each diagnostic with its file, line and column and the YAML
//! underlined, then a summary line. `--format json` prints one JSON array instead. Under GitHub
//! Actions (`GITHUB_ACTIONS=true`) the human format also prints workflow annotation lines, so
//! problems show on the pull request's diff (not with `--format json`, which must stay parseable).

use std::path::PathBuf;

use super::Exit;
use crate::cli::{DiagnosticFormat, ValidateArgs};
use crate::diagnostic_code::Code;
use crate::manifest::diagnostics::{Diagnostics, count_phrase};
use crate::manifest::load::{self, Checked};
use crate::printer::{Printer, RENDER_WIDTH};

/// Checks every manifest under the given paths and prints the problems; exit 1 on any error.
pub fn run(args: &ValidateArgs, printer: &Printer) -> miette::Result<Exit> {
    let mut checked = load::check_paths(&args.manifest.paths, crate::clock::now_unix()?);
    checked.diagnostics.sort();
    let diagnostics = &checked.diagnostics;
    match args.format {
        DiagnosticFormat::Json => {
            let json = serde_json::to_string_pretty(&diagnostics.to_json())
                .map_err(|e| miette::miette!(code = Code::InternalBug, "cannot write JSON: {e}"))?;
            printer.out(&json);
        }
        DiagnosticFormat::Human => {
            if !diagnostics.is_empty() {
                printer.out(&diagnostics.render(printer.color, RENDER_WIDTH));
            }
            if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
                printer.out(&diagnostics.github_annotations());
            }
            printer.out(&summary(&args.manifest.paths, &checked));
        }
    }
    Ok(if diagnostics.has_errors() {
        Exit::Failure
    } else {
        Exit::Success
    })
}

/// "2 errors in 1 file" or "examples/: 4 files valid".
fn summary(paths: &[PathBuf], checked: &Checked) -> String {
    let d: &Diagnostics = &checked.diagnostics;
    if d.has_errors() {
        d.error_summary()
    } else {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let n = checked.files.len();
        let warnings = match d.warning_count() {
            0 => String::new(),
            w => format!(" ({})", count_phrase(0, w)),
        };
        format!(
            "{}: {n} file{} valid{warnings}",
            shown.join(", "),
            if n == 1 { "" } else { "s" }
        )
    }
}
