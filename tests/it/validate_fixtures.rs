//! The corpus of invalid manifests under `tests/fixtures/invalid/`: one problem family per
//! fixture (a file, or a directory for problems across files). Each must make `mpctl validate`
//! exit 1 with a diagnostic of the expected code on the expected line, and its rendered output
//! is snapshotted. A fixture file's first line says what to expect:
//! `# expect: <code> @ <line>`; a directory has an `expect.txt` with `<code> @ <file>:<line>`.

use std::path::{Path, PathBuf};

use crate::support::{OutputExt, mpctl};

struct Expectation {
    code: String,
    file: String,
    line: u64,
}

fn fixtures() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir("tests/fixtures/invalid")
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .collect();
    all.sort();
    all
}

fn expectation(fixture: &Path) -> Expectation {
    if fixture.is_dir() {
        let text = std::fs::read_to_string(fixture.join("expect.txt")).expect("expect.txt");
        let (code, at) = text.trim().split_once(" @ ").expect("`code @ file:line`");
        let (file, line) = at.rsplit_once(':').expect("file:line");
        Expectation {
            code: code.into(),
            file: fixture.join(file).display().to_string(),
            line: line.parse().expect("line number"),
        }
    } else {
        let bytes = std::fs::read(fixture).expect("fixture");
        let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let first = String::from_utf8_lossy(first);
        let spec = first
            .strip_prefix("# expect: ")
            .unwrap_or_else(|| panic!("{} lacks `# expect:`", fixture.display()));
        let (code, line) = spec.trim().split_once(" @ ").expect("`code @ line`");
        Expectation {
            code: code.into(),
            file: fixture.display().to_string(),
            line: line.parse().expect("line number"),
        }
    }
}

/// `mpctl validate` with `args` in the package root: (exit code, stdout, stderr).
fn validate(args: &[&str]) -> (i32, String, String) {
    let out = mpctl(&["--color", "never", "validate"])
        .args(args)
        .output()
        .expect("run mpctl");
    (out.code(), out.stdout_text(), out.stderr_text())
}

#[test]
fn the_corpus_is_large_enough() {
    assert!(fixtures().len() >= 30, "only {} fixtures", fixtures().len());
}

#[test]
fn every_fixture_exits_1_with_a_diagnostic_on_the_expected_line() {
    let mut failures = Vec::new();
    for fixture in fixtures() {
        let expected = expectation(&fixture);
        let path = fixture.display().to_string();
        let (code, stdout, stderr) = validate(&["--format", "json", &path]);
        if code != 1 {
            failures.push(format!("{path}: exit {code}, stderr: {stderr}"));
            continue;
        }
        if stderr.contains("panicked") {
            failures.push(format!("{path}: panicked: {stderr}"));
            continue;
        }
        let diagnostics: serde_json::Value = match serde_json::from_str(&stdout) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{path}: output is not JSON ({e}): {stdout}"));
                continue;
            }
        };
        let hit = diagnostics.as_array().into_iter().flatten().any(|d| {
            d["code"] == expected.code.as_str()
                && d["file"] == expected.file.as_str()
                && d["line"] == expected.line
                && d["severity"] == "error"
        });
        if !hit {
            failures.push(format!(
                "{path}: no `{}` at {}:{}; got {}",
                expected.code,
                expected.file,
                expected.line,
                serde_json::to_string_pretty(&diagnostics).unwrap_or_default()
            ));
        }
        for d in diagnostics.as_array().into_iter().flatten() {
            if d["help"].as_str().is_none_or(str::is_empty) {
                failures.push(format!("{path}: `{}` has no help line", d["code"]));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn rendered_diagnostics_match_the_snapshots() {
    for fixture in fixtures() {
        let path = fixture.display().to_string();
        let (code, stdout, stderr) = validate(&[&path]);
        assert_eq!(code, 1, "{path}: {stderr}");
        let name = fixture
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        insta::assert_snapshot!(name, stdout);
    }
}

#[test]
fn truncating_any_fixture_never_panics() {
    // Every prefix of every fixture (on character boundaries) goes through the whole pipeline:
    // broken YAML, half-written mappings and cut strings must all give diagnostics, not panics.
    for fixture in fixtures().into_iter().filter(|f| f.is_file()) {
        let bytes = std::fs::read(&fixture).expect("fixture");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        for (cut, _) in text.char_indices() {
            let _ = mpctl::manifest::load::check_source(&fixture, text[..cut].to_owned(), 0);
        }
    }
}

#[test]
fn files_over_the_size_bound_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.yaml");
    let mut text = String::from("version: 1\norganization: \"910753282\"\n");
    while text.len() as u64 <= mpctl::manifest::load::MAX_FILE_BYTES {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&path, text).expect("write");
    let (code, stdout, _) = validate(&["--format", "json", &path.display().to_string()]);
    assert_eq!(code, 1);
    assert!(stdout.contains("mpctl::file::too_large"), "{stdout}");
}
