//! The README's main command: `mpctl apply examples/quickstart.yaml --yes` on the `local`
//! environment (the embedded emulator, started by the binary, state under `.mpctl/`), then
//! `mpctl plan` shows no changes and `mpctl drift` finds none — also in a second run, from the
//! persisted state.

use std::path::Path;

use crate::support::{OutputExt, TestContext};

#[test]
fn quickstart_applies_on_local_then_plans_no_changes() {
    let ctx = TestContext::new();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    std::fs::create_dir_all(ctx.path().join("examples")).unwrap();
    std::fs::copy(
        examples.join("quickstart.yaml"),
        ctx.path().join("examples/quickstart.yaml"),
    )
    .unwrap();
    let d = ctx.path();

    ctx.run_expecting(
        &["plan", "examples/quickstart.yaml", "--detailed-exitcode"],
        2,
    );
    let apply = ctx.run_expecting(&["apply", "examples/quickstart.yaml", "--yes"], 0);
    assert!(apply.text().contains("Applied local"), "{}", apply.text());
    assert!(
        d.join(".mpctl/emulator").is_dir(),
        "the emulator keeps its state under .mpctl"
    );

    let plan = ctx.run_expecting(
        &["plan", "examples/quickstart.yaml", "--detailed-exitcode"],
        0,
    );
    assert!(
        plan.text()
            .contains("No changes. local matches the manifest."),
        "{}",
        plan.text()
    );
    ctx.run_expecting(&["drift", "examples/quickstart.yaml"], 0);
}

#[test]
fn every_example_with_a_local_environment_applies_and_then_plans_no_changes() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut tried = 0;
    for example in [
        "quickstart.yaml",
        "provider-only.yaml",
        "consumer-only.yaml",
        "multi-env",
        "gitops/manifests",
    ] {
        let path = examples.join(example);
        let loaded = mpctl::manifest::load(std::slice::from_ref(&path))
            .unwrap_or_else(|e| panic!("{example}: {e:?}"));
        if !loaded.manifest.environments.contains_key("local") {
            continue;
        }
        tried += 1;
        // A fresh emulator state for each example.
        let ctx = TestContext::new();
        let target = path.display().to_string();
        let apply = ctx.run(&["apply", &target, "--env", "local", "--yes"]);
        assert_eq!(apply.status.code(), Some(0), "{example}: {}", apply.text());
        let plan = ctx.run(&["plan", &target, "--env", "local", "--detailed-exitcode"]);
        assert_eq!(plan.status.code(), Some(0), "{example}: {}", plan.text());
    }
    assert!(tried >= 3, "only {tried} examples have a local environment");
}
