//! `mpctl validate` end to end: exit codes, the summary line, JSON output, GitHub annotations,
//! and the loading API (`mpctl::manifest::load`) on multi-file manifests.

use std::path::{Path, PathBuf};

use crate::support::OutputExt;

/// Runs the binary in the package root without colour; with `github`, as in a GitHub Actions
/// job (annotations on): (exit code, standard output).
fn run(args: &[&str], github: bool) -> (i32, String) {
    let mut cmd = crate::support::mpctl(&["--color", "never"]);
    cmd.args(args);
    if github {
        cmd.env("GITHUB_ACTIONS", "true");
    }
    let out = cmd.output().expect("run mpctl");
    (out.code(), out.stdout_text())
}

const CHECK_DIGIT: &str = "tests/fixtures/invalid/orgno-check-digit.yaml";

#[test]
fn a_valid_manifest_exits_0_with_a_summary() {
    let (code, out) = run(&["validate", "examples/quickstart.yaml"], false);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "examples/quickstart.yaml: 1 file valid\n");
}

#[test]
fn an_invalid_manifest_exits_1_with_diagnostics_and_a_count() {
    let (code, out) = run(&["validate", CHECK_DIGIT], false);
    assert_eq!(code, 1);
    assert!(out.contains("orgno-check-digit.yaml:11:27"), "{out}");
    assert!(out.contains("help: check the number for a typo"), "{out}");
    assert!(out.ends_with("1 error in 1 file\n"), "{out}");
}

#[test]
fn json_output_is_one_array_of_located_diagnostics() {
    let (code, out) = run(&["validate", "--format", "json", CHECK_DIGIT], true);
    assert_eq!(code, 1);
    let value: serde_json::Value = serde_json::from_str(&out).expect("only JSON on stdout");
    assert_eq!(
        value,
        serde_json::json!([{
            "severity": "error",
            "code": "mpctl::orgno::check_digit",
            "message": "invalid organisation number: `974760674` fails the mod-11 check: its last digit should be 3",
            "help": "check the number for a typo (look it up in Enhetsregisteret, brreg.no): the last digit is a mod-11 check digit over the first eight (weights 3, 2, 7, 6, 5, 4, 3, 2)",
            "file": CHECK_DIGIT,
            "line": 11,
            "column": 27,
            "end_line": 11,
            "end_column": 38
        }])
    );
}

#[test]
fn json_output_of_a_valid_manifest_is_an_empty_array() {
    let (code, out) = run(
        &["validate", "--format", "json", "examples/quickstart.yaml"],
        false,
    );
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "[]");
}

#[test]
fn github_actions_get_annotation_lines() {
    let (code, out) = run(&["validate", CHECK_DIGIT], true);
    assert_eq!(code, 1);
    let annotation = out
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no annotation in {out}"));
    assert!(
        annotation.starts_with(&format!(
            "::error file={CHECK_DIGIT},line=11,col=27,endLine=11,endColumn=38,title=mpctl%3A%3Aorgno%3A%3Acheck_digit::invalid organisation number"
        )),
        "{annotation}"
    );
    let (_, plain) = run(&["validate", CHECK_DIGIT], false);
    assert!(!plain.contains("::error"), "{plain}");
}

#[test]
fn several_paths_and_missing_paths() {
    let (code, out) = run(
        &[
            "validate",
            "examples/quickstart.yaml",
            "does/not/exist.yaml",
        ],
        false,
    );
    assert_eq!(code, 1);
    assert!(out.contains("does/not/exist.yaml does not exist"), "{out}");
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

#[test]
fn parts_in_subdirectories_merge_into_their_manifest() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "mpctl.yaml",
        "version: 1\norganization: \"910753282\"\nprefixes: [acme]\nenvironments: { test: {} }\nscopes:\n  - name: acme:a\n    description: A\n    grants: [\"910753282\"]\n",
    );
    write(
        dir.path(),
        "clients/sync.yaml",
        "clients:\n  - name: sync\n    scopes: [acme:a]\n",
    );
    let loaded = mpctl::manifest::load(&[dir.path().to_path_buf()])
        .unwrap_or_else(|d| panic!("{}", d.render(false, 100)));
    assert_eq!(loaded.manifest.clients[0].name, "sync");
    assert_eq!(loaded.files.len(), 2);
    assert!(loaded.files[0].ends_with("mpctl.yaml"), "root first");
    // The digest is stable across loads and changes with the manifest.
    let again = mpctl::manifest::load(&[dir.path().to_path_buf()]).expect("loads again");
    assert_eq!(loaded.digest, again.digest);
    write(
        dir.path(),
        "clients/sync.yaml",
        "clients:\n  - name: sync2\n    scopes: [acme:a]\n",
    );
    let changed = mpctl::manifest::load(&[dir.path().to_path_buf()]).expect("loads");
    assert_ne!(loaded.digest, changed.digest);
}

#[test]
fn key_paths_resolve_against_the_declaring_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "mpctl.yaml",
        "version: 1\norganization: \"910753282\"\nenvironments: { test: {} }\n",
    );
    write(
        dir.path(),
        "clients/sync.yaml",
        "clients:\n  - name: sync\n    keys: [keys/sync.jwk.json]\n",
    );
    let problems = mpctl::manifest::load(&[dir.path().to_path_buf()]).expect_err("no key file");
    let d = problems
        .iter()
        .find(|d| d.code == "mpctl::keys::not_found")
        .expect("a not-found diagnostic");
    assert_eq!(
        d.message,
        "key file `keys/sync.jwk.json` does not exist (looked for clients/keys/sync.jwk.json in the manifest's directory)"
    );
    let pos = d.position().expect("located");
    assert!(pos.file.ends_with("clients/sync.yaml"));
    assert_eq!(pos.line, 3);
}

#[test]
fn load_refuses_several_manifests_at_once() {
    let problems =
        mpctl::manifest::load(&[PathBuf::from("examples")]).expect_err("several manifests");
    let codes: Vec<&str> = problems.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["mpctl::load::several_manifests"]);
    assert!(problems.has_errors());
}

#[test]
fn diagnostics_render_through_miette() {
    let problems = mpctl::manifest::load(&[PathBuf::from(CHECK_DIGIT)]).expect_err("invalid");
    let report = miette::Report::new(problems);
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
    let mut out = String::new();
    handler
        .render_report(&mut out, report.as_ref())
        .expect("renders");
    assert!(out.contains("the manifest is invalid: 1 error"), "{out}");
    assert!(out.contains("orgno-check-digit.yaml:11:27"), "{out}");
}

#[test]
fn warnings_alone_do_not_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "mpctl.yaml",
        "version: 1\norganization: \"910753282\"\nenvironments: { test: {}, prod: {} }\nclients:\n  - name: sync\n    environments: [test]\n    client_ids: { prod: abc }\n",
    );
    let path = dir.path().join("mpctl.yaml").display().to_string();
    let (code, out) = run(&["validate", &path], false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("mpctl::env::unused"), "{out}");
    assert!(
        out.trim_end().ends_with("1 file valid (1 warning)"),
        "{out}"
    );
    let (loaded, warnings) =
        mpctl::manifest::load_with_warnings(&[dir.path().to_path_buf()]).expect("valid");
    assert_eq!(loaded.manifest.clients.len(), 1);
    assert_eq!(warnings.warning_count(), 1);
    assert!(!warnings.has_errors());
}

const MANIFEST_WITH_TWO_KEYS: &str = "version: 1\norganization: \"910753282\"\nenvironments: { test: {} }\nclients:\n  - name: sync\n    keys:\n      - keys/a.jwk.json\n      - keys/b.jwk.json\n";

#[test]
fn a_private_key_is_an_error_naming_the_file_without_quoting_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "mpctl.yaml", MANIFEST_WITH_TWO_KEYS);
    let public = std::fs::read_to_string("examples/multi-env/keys/order-sync-2026.jwk.json")
        .expect("example key");
    write(dir.path(), "keys/a.jwk.json", &public);
    // A JWK with a private member: not real key material, but exactly what must be refused.
    let mut private: serde_json::Value = serde_json::from_str(&public).expect("JWK");
    private["kid"] = "other".into();
    private["d"] = "c2VjcmV0LXNlY3JldC1zZWNyZXQ".into();
    write(dir.path(), "keys/b.jwk.json", &private.to_string());
    let path = dir.path().join("mpctl.yaml").display().to_string();
    let (code, out) = run(&["validate", "--format", "json", &path], false);
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("c2VjcmV0LXNlY3JldC1zZWNyZXQ"), "{out}");
    let diagnostics: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let d = diagnostics
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["code"] == "mpctl::keys::file" && d["severity"] == "error")
        .unwrap_or_else(|| panic!("no key-file error in {out}"));
    assert!(
        d["message"]
            .as_str()
            .unwrap_or_default()
            .contains("b.jwk.json"),
        "{d}"
    );
    assert_eq!(d["file"], path.as_str());
    assert_eq!(d["line"], 8);
}

#[test]
fn two_key_files_with_the_same_kid_are_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "mpctl.yaml", MANIFEST_WITH_TWO_KEYS);
    let public = std::fs::read_to_string("examples/multi-env/keys/order-sync-2026.jwk.json")
        .expect("example key");
    write(dir.path(), "keys/a.jwk.json", &public);
    write(dir.path(), "keys/b.jwk.json", &public);
    let problems = mpctl::manifest::load(&[dir.path().to_path_buf()]).expect_err("same kid");
    let d = problems
        .iter()
        .find(|d| d.code == "mpctl::keys::duplicate_kid")
        .unwrap_or_else(|| panic!("{}", problems.render(false, 100)));
    assert_eq!(d.position().map(|p| p.line), Some(8));
    assert_eq!(d.labels.len(), 2, "points at both references");
}

#[test]
fn loaded_keys_are_keyed_by_resolved_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "mpctl.yaml", MANIFEST_WITH_TWO_KEYS);
    for (name, source) in [
        ("a", "examples/multi-env/keys/order-sync-2026.jwk.json"),
        ("b", "examples/multi-env/keys/order-sync-2027.jwk.json"),
    ] {
        let text = std::fs::read_to_string(source).expect("example key");
        write(dir.path(), &format!("keys/{name}.jwk.json"), &text);
    }
    let loaded = mpctl::manifest::load(&[dir.path().join("mpctl.yaml")])
        .unwrap_or_else(|d| panic!("{}", d.render(false, 100)));
    // By the path from the manifest's root directory (outside Git), not from the working one.
    let keys = loaded.keys.get("keys/a.jwk.json").expect("keys of a");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid, "acme-order-sync-2026");
}
