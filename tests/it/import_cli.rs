//! `mpctl import` through the binary on the `local` environment: values equal to the API's
//! defaults left out (kept with `--full`), the schema header, and `--scope` / `--client` for one
//! resource to paste into an existing manifest.

use crate::support::emulator as emulator_support;

use std::path::Path;

use emulator_support::{mpctl, output_text};

const MANIFEST: &str = r#"version: 1
organization: "910753282"
prefixes: [acme]
environments:
  local: {}
scopes:
  - name: acme:orders.read
    description: Read orders
    at_max_age: 300
    grants: ["910753282", "974760673"]
  - name: acme:orders.write
    description: Write orders
clients:
  - name: sync
    scopes: [acme:orders.read]
"#;

fn applied() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), MANIFEST).unwrap();
    let apply = mpctl(dir.path(), &["apply", "m.yaml", "--yes"]);
    assert_eq!(apply.status.code(), Some(0), "{}", output_text(&apply));
    dir
}

fn import(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["import", "--env", "local", "--org", "910753282"];
    args.extend_from_slice(extra);
    let out = mpctl(dir, &args);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn defaults_are_left_out_unless_full_and_the_result_plans_no_changes() {
    let dir = applied();
    let d = dir.path();
    let yaml = import(d, &[]);
    assert!(
        yaml.starts_with("# yaml-language-server: $schema=https://"),
        "{yaml}"
    );
    assert!(
        yaml.contains("at_max_age: 300"),
        "a value the manifest set: {yaml}"
    );
    for default in [
        "visibility:",
        "token_type:",
        "at_max_age: 120",
        "authorization_max_lifetime:",
        "allowed_integration_types:",
        "accessible_for_all:",
        "access_token_lifetime:",
    ] {
        assert!(
            !yaml.contains(default),
            "{default} is the API's default: {yaml}"
        );
    }
    std::fs::write(d.join("imported.yaml"), &yaml).unwrap();
    let plan = mpctl(d, &["plan", "imported.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", output_text(&plan));

    let full = import(d, &["--full"]);
    for value in [
        "visibility: PUBLIC",
        "token_type: SELF_CONTAINED",
        "at_max_age: 120",
        "accessible_for_all: false",
    ] {
        assert!(full.contains(value), "--full keeps {value}: {full}");
    }
    std::fs::write(d.join("full.yaml"), &full).unwrap();
    let plan = mpctl(d, &["plan", "full.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", output_text(&plan));
}

#[test]
fn one_scope_or_client_imports_as_yaml_to_paste() {
    let dir = applied();
    let d = dir.path();
    let yaml = import(d, &["--scope", "acme:orders.write", "--client", "sync"]);
    let lists: Vec<&str> = yaml.lines().filter(|l| l.starts_with("- name:")).collect();
    assert_eq!(
        lists,
        ["- name: acme:orders.write", "- name: sync"],
        "{yaml}"
    );
    assert!(
        !yaml.contains("version:") && !yaml.contains("acme:orders.read\n  description"),
        "{yaml}"
    );

    // Pasted into the manifest in place of the hand-written entries, it plans no changes.
    let scope_part = yaml
        .split("# under `clients:`")
        .next()
        .unwrap()
        .split("# under `scopes:`\n")
        .nth(1)
        .unwrap();
    let client_part = yaml.split("# under `clients:`\n").nth(1).unwrap();
    let indent = |part: &str| part.lines().map(|l| format!("  {l}\n")).collect::<String>();
    let pasted = MANIFEST
        .replace(
            "  - name: acme:orders.write\n    description: Write orders\n",
            &indent(scope_part),
        )
        .replace(
            "  - name: sync\n    scopes: [acme:orders.read]\n",
            &indent(client_part),
        );
    std::fs::write(d.join("pasted.yaml"), &pasted).unwrap();
    let plan = mpctl(d, &["plan", "pasted.yaml", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{pasted}\n{}",
        output_text(&plan)
    );

    let out = mpctl(
        d,
        &[
            "import",
            "--env",
            "local",
            "--org",
            "910753282",
            "--scope",
            "acme:nosuch",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = output_text(&out);
    assert!(
        text.contains("no active scope named `acme:nosuch` in local; the scopes there are:")
            && text.contains("acme:orders.write"),
        "{text}"
    );
}
