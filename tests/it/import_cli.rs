//! `mpctl import` through the binary on the `local` environment: values equal to the API's
//! defaults left out (kept with `--full`), the schema header, and `--scope` / `--client` for one
//! resource to paste into an existing manifest.

use crate::support::{TestContext, output_text};

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

/// A working directory with `m.yaml` applied to the `local` environment.
fn applied() -> TestContext {
    let ctx = TestContext::new();
    ctx.write("m.yaml", MANIFEST);
    ctx.run_expecting(&["apply", "m.yaml", "--yes"], 0);
    ctx
}

fn import(ctx: &TestContext, extra: &[&str]) -> String {
    let mut args = vec!["import", "--env", "local", "--org", "910753282"];
    args.extend_from_slice(extra);
    let out = ctx.run_expecting(&args, 0);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn defaults_are_left_out_unless_full_and_the_result_plans_no_changes() {
    let ctx = applied();
    let d = ctx.path();
    let yaml = import(&ctx, &[]);
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
    ctx.run_expecting(&["plan", "imported.yaml", "--detailed-exitcode"], 0);

    let full = import(&ctx, &["--full"]);
    for value in [
        "visibility: PUBLIC",
        "token_type: SELF_CONTAINED",
        "at_max_age: 120",
        "accessible_for_all: false",
    ] {
        assert!(full.contains(value), "--full keeps {value}: {full}");
    }
    std::fs::write(d.join("full.yaml"), &full).unwrap();
    ctx.run_expecting(&["plan", "full.yaml", "--detailed-exitcode"], 0);
}

#[test]
fn one_scope_or_client_imports_as_yaml_to_paste() {
    let ctx = applied();
    let d = ctx.path();
    let yaml = import(&ctx, &["--scope", "acme:orders.write", "--client", "sync"]);
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
    let plan = ctx.run(&["plan", "pasted.yaml", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{pasted}\n{}",
        output_text(&plan)
    );

    let out = ctx.run(&[
        "import",
        "--env",
        "local",
        "--org",
        "910753282",
        "--scope",
        "acme:nosuch",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = output_text(&out);
    assert!(
        text.contains("no active scope named `acme:nosuch` in local; the scopes there are:")
            && text.contains("acme:orders.write"),
        "{text}"
    );
}
