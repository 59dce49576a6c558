//! Finding a manifest's files and reading them safely: the size bound, UTF-8, files that are
//! not manifests (refused without quoting them), and parsing with positions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::SourceSpan;
use serde_json::Value;

use super::MAX_FILE_BYTES;
use crate::diagnostic_code::Code;
use crate::manifest::diagnostics::{Diagnostic, Diagnostics, SourceFile};
use crate::manifest::schema;
use crate::manifest::{sniff, yaml};

/// The manifest files under `paths`: files as given, directories searched recursively for
/// `*.yaml` / `*.yml` (skipping hidden directories and GitHub Actions workflows), each
/// directory's files in name order.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostics> {
    let mut files = Vec::new();
    let mut problems = Diagnostics::new();
    for path in paths {
        if path.is_dir() {
            let before = files.len();
            walk(path, &mut files, &mut problems);
            if files.len() == before {
                problems.push(
                    Diagnostic::error(
                        Code::LoadNoFiles,
                        format!("no manifest files (*.yaml, *.yml) in {}", path.display()),
                    )
                    .with_help("point mpctl at a manifest file or a directory that holds one"),
                );
            }
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            problems.push(
                Diagnostic::error(
                    Code::LoadNotFound,
                    format!("{} does not exist", path.display()),
                )
                .with_help("check the path; relative paths start at the current directory"),
            );
        }
    }
    let mut seen = BTreeSet::new();
    files.retain(|f| seen.insert(f.clone()));
    if problems.has_errors() {
        Err(problems)
    } else {
        Ok(files)
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, problems: &mut Diagnostics) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(
                Diagnostic::error(
                    Code::LoadRead,
                    format!("cannot read directory {}: {e}", dir.display()),
                )
                .with_help("check that the directory exists and is readable"),
            );
            return;
        }
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    let (dirs, plain): (Vec<PathBuf>, Vec<PathBuf>) = entries.into_iter().partition(|p| p.is_dir());
    for p in plain {
        if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
            && !is_github_workflow(&p)
        {
            files.push(p);
        }
    }
    for d in dirs {
        let hidden = d
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if !hidden {
            walk(&d, files, problems);
        }
    }
}

/// Whether a file found in a directory is a GitHub Actions workflow (top-level `on:` and
/// `jobs:`) rather than a manifest part: a repository keeps workflows beside its manifests (the
/// ready workflows of `examples/github/`), and no manifest has these fields.
fn is_github_workflow(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let top_level = |key: &str| text.lines().any(|line| line.starts_with(key));
    top_level("on:") && top_level("jobs:")
}

/// A file read and parsed, with its positions.
pub(super) struct ReadFile {
    pub(super) source: Arc<SourceFile>,
    pub(super) parsed: yaml::Parsed,
    /// Whether the file has a top-level `version` (starts a manifest).
    pub(super) root: bool,
}

pub(super) fn read_file(path: &Path) -> Result<ReadFile, Diagnostics> {
    let empty = || SourceFile::new(path, String::new());
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        let file = empty();
        return Err(Diagnostic::error(
            Code::FileTooLarge,
            format!(
                "{} is {size} bytes; manifest files may be at most {MAX_FILE_BYTES} bytes",
                path.display()
            ),
        )
        .with_help(
            "split the manifest into several files in one directory; they merge into one manifest",
        )
        .at(&file, SourceSpan::new(0.into(), 0), "")
        .into());
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return Err(Diagnostic::error(
                Code::FileRead,
                format!("cannot read {}: {e}", path.display()),
            )
            .with_help("check that the file exists and is readable")
            .at(&empty(), SourceSpan::new(0.into(), 0), "")
            .into());
        }
    };
    if let Some(kind) = sniff::sniff(&bytes) {
        return Err(not_a_manifest(path, kind.message(), kind.help()).into());
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            // Only the position is shown: a file that is not UTF-8 may be anything.
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            let column = valid
                .rsplit(|&b| b == b'\n')
                .next()
                .map_or(0, |l| String::from_utf8_lossy(l).chars().count())
                + 1;
            return Err(Diagnostic::error(
                Code::FileNotUtf8,
                format!("{} is not valid UTF-8", path.display()),
            )
            .with_help("save the file as UTF-8 (YAML files must be UTF-8 here)")
            .at(
                // Blank lines up to the position: located, with none of the text.
                &SourceFile::new(
                    path,
                    format!("{}{} ", "\n".repeat(line - 1), " ".repeat(column - 1)),
                ),
                SourceSpan::new((line - 1 + column - 1).into(), 1),
                "not UTF-8",
            )
            .into());
        }
    };
    let read = parse_source(path, text)?;
    if let Some(problem) = not_a_manifest_shape(&read) {
        return Err(problem.into());
    }
    Ok(read)
}

/// A diagnostic about a file that is not a manifest: located at the file, with none of its text
/// (the diagnostic's source is empty, so no report format can show a line of it).
fn not_a_manifest(path: &Path, message: &str, help: &str) -> Diagnostic {
    Diagnostic::error(Code::FileNotAManifest, message)
        .with_help(help)
        .at(
            &SourceFile::new(path, String::new()),
            SourceSpan::new(0.into(), 0),
            "not a manifest",
        )
}

/// A parsed file whose top level cannot be a manifest's: a scalar or a list, or a mapping with
/// none of a manifest's fields (a workflow, a kubeconfig, a credentials file). Such a file is
/// refused without quoting it; an empty file or mapping is left to the schema check, which says
/// what a manifest starts with.
fn not_a_manifest_shape(file: &ReadFile) -> Option<Diagnostic> {
    let what = match &file.parsed.value {
        Value::Null => return None,
        Value::Object(map)
            if map.is_empty() || map.keys().any(|k| schema::is_manifest_field(k)) =>
        {
            return None;
        }
        Value::Object(_) => "a mapping without any manifest field",
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
    };
    Some(not_a_manifest(
        file.source.path(),
        &format!("this is not a manifest: its top level is {what}; its content is not shown"),
        "a manifest is a YAML mapping starting with `version: 1` and `organization:` (a part of a multi-file manifest has `scopes:`, `clients:` or other manifest fields); see docs/manifest.md",
    ))
}

pub(super) fn parse_source(path: &Path, text: String) -> Result<ReadFile, Diagnostics> {
    let text = text
        .strip_prefix('\u{feff}')
        .map(str::to_owned)
        .unwrap_or(text);
    let source = SourceFile::new(path, text);
    match yaml::parse(source.text()) {
        Ok(parsed) => {
            let root = parsed.value.get("version").is_some();
            Ok(ReadFile {
                source,
                parsed,
                root,
            })
        }
        Err(problems) => {
            let mut out = Diagnostics::new();
            for p in problems {
                let mut d = Diagnostic::error(p.code, p.message)
                    .with_help(p.help)
                    .at(&source, p.span, p.label);
                if let Some((span, label)) = p.other {
                    d = d.at(&source, span, label);
                }
                out.push(d);
            }
            Err(out)
        }
    }
}
