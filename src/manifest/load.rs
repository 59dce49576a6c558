//! Loading manifests from disk: finding the files, reading them safely (size bound, UTF-8),
//! parsing them with positions, checking each against the schema, merging a manifest's files
//! into one, validating the result, and reading every key file it names.
//!
//! Files and manifests: a file with a top-level `version` starts a manifest; a file without it
//! is a *part* that joins the manifest of the nearest directory at or above it that has one.
//! `mpctl validate examples/` thereby checks several independent manifests at once, while
//! [`load`] (used by plan, apply and drift) wants exactly one.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use miette::SourceSpan;
use serde_json::{Map, Value};

use super::diagnostics::{Diagnostic, Diagnostics, FileSpans, Locator, SourceFile, first_line};
use super::key_path;
use super::keys::{self, load_key_file_named};
use super::model::{KeyRef, Manifest, key_refs, key_suffix};
use super::yaml;
use super::{LoadedManifest, validate};
use crate::diagnostic_code::Code;
use crate::manifest::schema;

mod merge;
mod read;

use merge::merge;
pub use read::discover;
use read::{ReadFile, parse_source, read_file};

/// Files larger than this are refused (a manifest is a few kilobytes; this bounds memory).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Loads one manifest from files and directories; warnings are dropped (see
/// [`load_with_warnings`]). `Err` holds every problem found, errors and warnings.
pub fn load(paths: &[PathBuf]) -> Result<LoadedManifest, Diagnostics> {
    load_with_warnings(paths).map(|(loaded, _)| loaded)
}

/// Loads one manifest and also returns its warnings (e.g. keys close to expiry), which do not
/// make it invalid.
pub fn load_with_warnings(paths: &[PathBuf]) -> Result<(LoadedManifest, Diagnostics), Diagnostics> {
    // A command reads the clock before it loads and refuses an unparsable `MPCTL_NOW`, so the
    // real time here only serves library callers that set none.
    load_at(
        paths,
        crate::clock::now_unix().unwrap_or_else(|_| crate::clock::system_now()),
    )
}

/// [`load_with_warnings`] at a given time (Unix seconds), for key-expiry checks.
pub fn load_at(
    paths: &[PathBuf],
    now_unix: i64,
) -> Result<(LoadedManifest, Diagnostics), Diagnostics> {
    let files = discover(paths)?;
    let mut problems = Diagnostics::new();
    let read: Vec<ReadFile> = files
        .iter()
        .filter_map(|f| match read_file(f) {
            Ok(r) => Some(r),
            Err(d) => {
                problems.extend(d);
                None
            }
        })
        .collect();
    let groups = group(read, &mut problems);
    if groups.len() > 1 {
        let roots: Vec<String> = groups
            .iter()
            .filter_map(|g| g.first().map(|f| f.source.name().to_owned()))
            .collect();
        let mut d = Diagnostic::error(
            Code::LoadSeveralManifests,
            format!(
                "these paths hold {} separate manifests (each file with `version` starts one): {}",
                groups.len(),
                roots.join(", ")
            ),
        )
        .with_help("name one manifest: its file, or a directory holding only it and its parts");
        for g in &groups {
            if let Some(root) = g.first() {
                let span = root
                    .parsed
                    .spans
                    .key_or_value("/version")
                    .unwrap_or(SourceSpan::new(0.into(), 0));
                d = d.at(&root.source, span, "a manifest starts here");
            }
        }
        problems.push(d);
        return Err(problems);
    }
    let group = groups.into_iter().next().unwrap_or_default();
    let (loaded, diagnostics) = assemble(group, now_unix);
    problems.extend(diagnostics);
    match loaded {
        Some(loaded) if !problems.has_errors() => Ok((loaded, problems)),
        _ => Err(problems),
    }
}

/// The outcome of checking every manifest under some paths (`mpctl validate`).
#[derive(Debug, Default)]
pub struct Checked {
    /// The files read, in order.
    pub files: Vec<PathBuf>,
    /// How many manifests they formed.
    pub manifests: usize,
    /// Every problem, errors and warnings.
    pub diagnostics: Diagnostics,
}

/// Checks every manifest found under `paths` and returns all their problems.
pub fn check_paths(paths: &[PathBuf], now_unix: i64) -> Checked {
    let files = match discover(paths) {
        Ok(files) => files,
        Err(diagnostics) => {
            return Checked {
                diagnostics,
                ..Checked::default()
            };
        }
    };
    let mut diagnostics = Diagnostics::new();
    let read: Vec<ReadFile> = files
        .iter()
        .filter_map(|f| match read_file(f) {
            Ok(r) => Some(r),
            Err(d) => {
                diagnostics.extend(d);
                None
            }
        })
        .collect();
    let groups = group(read, &mut diagnostics);
    let manifests = groups.len();
    for g in groups {
        diagnostics.extend(assemble(g, now_unix).1);
    }
    Checked {
        files,
        manifests,
        diagnostics,
    }
}

/// Checks one manifest given as text, as if read from `path` (key paths resolve against its
/// directory). For tools that hold a file's unsaved text, and for tests.
pub fn check_source(path: &Path, text: String, now_unix: i64) -> Diagnostics {
    match parse_source(path, text) {
        Ok(file) => assemble(vec![file], now_unix).1,
        Err(problems) => problems,
    }
}

/// Splits files into manifests: each root with the parts that belong to it (root first).
fn group(files: Vec<ReadFile>, problems: &mut Diagnostics) -> Vec<Vec<ReadFile>> {
    let root_dirs: Vec<PathBuf> = files
        .iter()
        .filter(|f| f.root)
        .map(|f| parent_dir(f.source.path()))
        .collect();
    if root_dirs.len() <= 1 {
        if files.is_empty() {
            return Vec::new();
        }
        let mut files = files;
        if let Some(i) = files.iter().position(|f| f.root) {
            let root = files.remove(i);
            files.insert(0, root);
        }
        return vec![files];
    }
    let (roots, parts): (Vec<ReadFile>, Vec<ReadFile>) = files.into_iter().partition(|f| f.root);
    let mut groups: Vec<Vec<ReadFile>> = roots.into_iter().map(|r| vec![r]).collect();
    for part in parts {
        let dir = parent_dir(part.source.path());
        let owners: Vec<usize> = dir
            .ancestors()
            .map(|a| {
                root_dirs
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.as_path() == a)
                    .map(|(i, _)| i)
                    .collect::<Vec<_>>()
            })
            .find(|found| !found.is_empty())
            .unwrap_or_default();
        let span = first_key(&part);
        match owners.as_slice() {
            [owner] => groups[*owner].push(part),
            [] => problems.push(
                Diagnostic::error(
                    Code::LoadOrphanPart,
                    "this file has no `version`, so it is part of a manifest, but no manifest file is in its directory or above",
                )
                .with_help("add `version: 1` (and `organization`) to make it a manifest of its own, or move it next to its manifest")
                .at(&part.source, span, ""),
            ),
            _ => {
                let names: Vec<String> = owners
                    .iter()
                    .filter_map(|&i| groups[i].first().map(|r| r.source.name().to_owned()))
                    .collect();
                problems.push(
                    Diagnostic::error(
                        Code::LoadAmbiguousPart,
                        format!(
                            "this file has no `version`, so it is part of a manifest, but its directory has several: {}",
                            names.join(", ")
                        ),
                    )
                    .with_help("put each multi-file manifest in its own directory")
                    .at(&part.source, span, ""),
                );
            }
        }
    }
    groups
}

fn whole_file(file: &Arc<SourceFile>) -> SourceSpan {
    SourceSpan::new(
        0.into(),
        file.text().find('\n').unwrap_or(file.text().len()),
    )
}

/// The span of a file's first top-level key (else its first line).
fn first_key(file: &ReadFile) -> SourceSpan {
    file.parsed
        .value
        .as_object()
        .and_then(|m| m.keys().next())
        .and_then(|k| {
            file.parsed
                .spans
                .get(&format!("/{}", yaml::escape_pointer_segment(k)))
        })
        .and_then(|s| s.key)
        .unwrap_or_else(|| whole_file(&file.source))
}

fn parent_dir(path: &Path) -> PathBuf {
    normalize(path.parent().unwrap_or(Path::new("")))
}

/// Lexically normalises a path: drops `.`, folds `dir/..`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Schema-checks, merges, validates and reads the keys of one manifest's files (root first).
fn assemble(files: Vec<ReadFile>, now_unix: i64) -> (Option<LoadedManifest>, Diagnostics) {
    let mut problems = Diagnostics::new();
    // Without any file that has `version`, every file is checked as a whole manifest, so that
    // the missing `version` is reported.
    let has_root = files.iter().any(|f| f.root);
    // Fields the schema rejects are taken out of a copy of each file, so that the semantic
    // rules still run on the rest: a schema error must not hide other problems.
    let mut pruned: Vec<Value> = Vec::with_capacity(files.len());
    for f in &files {
        let found = schema::check(&f.parsed.value, has_root && !f.root);
        let mut value = None;
        for p in &found {
            if !prunable(p.code) {
                continue;
            }
            let value = value.get_or_insert_with(|| f.parsed.value.clone());
            remove_field(value, &p.pointer);
        }
        pruned.push(value.unwrap_or(Value::Null));
        for p in found {
            let span = if p.at_key {
                f.parsed.spans.key_or_value(&p.pointer)
            } else {
                f.parsed.spans.value(&p.pointer)
            }
            .map(|s| first_line(&f.source, s))
            .unwrap_or_else(|| whole_file(&f.source));
            let label = match p.code {
                Code::SchemaUnknownField => "unknown field",
                Code::SchemaMissingField => "missing a field",
                Code::SchemaType => "wrong type",
                Code::SchemaEnum => "not an allowed value",
                Code::SchemaRange => "out of range",
                Code::SchemaPattern => "wrong form",
                Code::OrgnoFormat => "not a valid organisation number",
                _ => "",
            };
            problems.push(
                Diagnostic::error(p.code, p.message)
                    .with_help(p.help)
                    .at(&f.source, span, label),
            );
        }
    }
    if files.is_empty() {
        return (None, problems);
    }
    let schema_failed = problems.has_errors();
    let mut files = files;
    let values: Vec<Value> = files
        .iter_mut()
        .zip(pruned)
        .map(|(f, pruned)| {
            let value = std::mem::take(&mut f.parsed.value);
            if pruned.is_null() { value } else { pruned }
        })
        .collect();
    let (merged, mut locator) = merge(&files, values, &mut problems);
    if problems.has_errors() && !schema_failed {
        return (None, problems);
    }
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|f| f.source.path().to_path_buf())
        .collect();
    locator.files = files
        .into_iter()
        .map(|f| FileSpans {
            source: f.source,
            spans: f.parsed.spans,
        })
        .collect();
    let mut manifest: Manifest = match serde_json::from_value(merged) {
        Ok(m) => m,
        // What the schema rejected may leave a shape the model cannot read: the schema's
        // problems are then the report.
        Err(_) if schema_failed => return (None, problems),
        Err(e) => {
            let d = Diagnostic::error(
                Code::SchemaInvalid,
                format!("the manifest does not have the expected shape: {e}"),
            )
            .with_help("see the manifest reference in docs/manifest.md");
            let d = match locator.value("") {
                Some((file, span)) => d.at(&file, span, ""),
                None => d,
            };
            problems.push(d);
            return (None, problems);
        }
    };
    let resolved = resolve_key_paths(&mut manifest, &locator, &mut problems);
    let keys = read_keys(&manifest, &resolved, &locator, now_unix, &mut problems);
    problems.extend(validate::check(&manifest, &keys, &locator));
    if schema_failed {
        // A value both the schema and a rule reject is reported once.
        problems.dedup_same();
        return (None, problems);
    }
    let digest = digest(&manifest, &keys);
    let loaded = LoadedManifest {
        manifest,
        keys,
        files: paths,
        digest,
    };
    (Some(loaded), problems)
}

/// Whether a schema problem's node can be taken out of the document without changing what the
/// rest means: a field (not a list item, whose removal would renumber its siblings, and not a
/// missing field, reported on its parent).
fn prunable(code: Code) -> bool {
    matches!(
        code,
        Code::SchemaUnknownField
            | Code::SchemaType
            | Code::SchemaEnum
            | Code::SchemaRange
            | Code::SchemaPattern
            | Code::OrgnoFormat
    )
}

/// Removes the object field at `pointer` (nothing when it ends in a list index).
fn remove_field(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    if last.is_empty() || last.bytes().all(|b| b.is_ascii_digit()) {
        return;
    }
    let key = last.replace("~1", "/").replace("~0", "~");
    if let Some(Value::Object(map)) = value.pointer_mut(parent) {
        map.remove(&key);
    }
}

/// Resolves every key path against the directory of the file that declared it (see
/// [`key_path`]) and rewrites it as shown from the repository's top level. Returns, by that
/// path, the file to read, or `None` for a path already refused here (with its diagnostic).
fn resolve_key_paths(
    manifest: &mut Manifest,
    locator: &Locator,
    problems: &mut Diagnostics,
) -> BTreeMap<String, Option<PathBuf>> {
    let mut resolved = BTreeMap::new();
    let Some(root) = locator.files.first() else {
        return resolved;
    };
    let boundary = key_path::Boundary::of_manifest(root.source.path());
    let mut dirs: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut resolve = |pointer: &str, k: &mut KeyRef| {
        let written = k.path().to_owned();
        let Some(file) = locator.file(pointer) else {
            return;
        };
        let dir = dirs
            .entry(file.path().to_path_buf())
            .or_insert_with(|| key_path::absolute_dir(file.path()));
        let (shown, readable) = match key_path::resolve_in(&written, dir, &boundary) {
            Ok(key) => (key.shown, Some(key.absolute)),
            Err((error, key)) => {
                let shown = key.map_or_else(|| written.clone(), |k| k.shown);
                // A path listed twice is reported once (and as a duplicate by validation).
                if !resolved.contains_key(&shown) {
                    let code = match error {
                        key_path::KeyPathError::Missing => Code::KeysNotFound,
                        _ => Code::KeysPath,
                    };
                    let mut message = error.message(&written, &boundary);
                    if matches!(error, key_path::KeyPathError::Missing) && shown != written {
                        message.push_str(&format!(" (looked for {shown} in {})", boundary.what));
                    }
                    let mut d = Diagnostic::error(code, message).with_help(error.help());
                    if let Some((file, span)) = locator.value(pointer) {
                        d = d.at(&file, span, error.label(&boundary));
                    }
                    problems.push(d);
                }
                (shown, None)
            }
        };
        resolved.entry(shown.clone()).or_insert(readable);
        match k {
            KeyRef::Path(p) => *p = shown,
            KeyRef::Detailed(d) => d.path = shown,
        }
    };
    for (ci, client) in manifest.clients.iter_mut().enumerate() {
        for (ki, k) in client.attributes.keys.iter_mut().flatten().enumerate() {
            let pointer = format!("/clients/{ci}/keys/{ki}{}", key_suffix(k));
            resolve(&pointer, k);
        }
        for (env, o) in &mut client.overrides {
            for (ki, k) in o.attributes.keys.iter_mut().flatten().enumerate() {
                let pointer = format!(
                    "/clients/{ci}/overrides/{}/keys/{ki}{}",
                    yaml::escape_pointer_segment(env),
                    key_suffix(k)
                );
                resolve(&pointer, k);
            }
        }
    }
    resolved
}

fn read_keys(
    manifest: &Manifest,
    resolved: &BTreeMap<String, Option<PathBuf>>,
    locator: &Locator,
    now_unix: i64,
    problems: &mut Diagnostics,
) -> BTreeMap<String, Vec<crate::manifest::keys::KeyState>> {
    let mut keys = BTreeMap::new();
    for (path, pointer) in key_refs(manifest) {
        if keys.contains_key(&path) {
            continue;
        }
        let Some(Some(absolute)) = resolved.get(&path) else {
            // Refused when resolved, with its diagnostic.
            keys.insert(path, Vec::new());
            continue;
        };
        let (found, file_problems) = load_key_file_named(
            absolute,
            &path,
            now_unix,
            manifest.settings.warn_expiry_days,
        );
        for p in file_problems {
            let mut d = match p.severity {
                keys::Severity::Error => Diagnostic::error(Code::KeysFile, p.message),
                keys::Severity::Warning => Diagnostic::warning(Code::KeysFile, p.message),
            };
            if let Some(help) = p.help {
                d = d.with_help(help);
            } else {
                d = d.with_help(
                    "a key file holds a public JWK, a JWKS, a PEM public key or a PEM certificate",
                );
            }
            if let Some((file, span)) = locator.value(&pointer) {
                d = d.at(&file, span, "key file");
            }
            problems.push(d);
        }
        keys.insert(path, found);
    }
    keys
}

/// SHA-256 over the merged manifest and the public keys it names.
fn digest(
    manifest: &Manifest,
    keys: &BTreeMap<String, Vec<crate::manifest::keys::KeyState>>,
) -> String {
    crate::digest::JsonDigest::new()
        .json(manifest)
        .bytes(&[0])
        .json(keys)
        .hex()
}

#[cfg(test)]
mod tests;
