//! The README's main command: `mpctl apply examples/quickstart.yaml --yes` on the `local`
//! environment (the embedded emulator, started by the binary, state under `.mpctl/`), then
//! `mpctl plan` shows no changes and `mpctl drift` finds none — also in a second run, from the
//! persisted state.

use std::path::Path;
use std::process::Output;

fn mpctl(dir: &Path, args: &[&str]) -> Output {
    crate::support::mpctl_in(dir, args)
        .output()
        .expect("run mpctl")
}

fn text(output: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn quickstart_applies_on_local_then_plans_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    std::fs::create_dir_all(dir.path().join("examples")).unwrap();
    std::fs::copy(
        examples.join("quickstart.yaml"),
        dir.path().join("examples/quickstart.yaml"),
    )
    .unwrap();
    let d = dir.path();

    let plan = mpctl(
        d,
        &["plan", "examples/quickstart.yaml", "--detailed-exitcode"],
    );
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    let apply = mpctl(d, &["apply", "examples/quickstart.yaml", "--yes"]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply));
    assert!(text(&apply).contains("Applied local"), "{}", text(&apply));
    assert!(
        d.join(".mpctl/emulator").is_dir(),
        "the emulator keeps its state under .mpctl"
    );

    let plan = mpctl(
        d,
        &["plan", "examples/quickstart.yaml", "--detailed-exitcode"],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert!(
        text(&plan).contains("No changes. local matches the manifest."),
        "{}",
        text(&plan)
    );
    let drift = mpctl(d, &["drift", "examples/quickstart.yaml"]);
    assert_eq!(drift.status.code(), Some(0), "{}", text(&drift));
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
        let dir = tempfile::tempdir().unwrap();
        let target = path.display().to_string();
        let apply = mpctl(dir.path(), &["apply", &target, "--env", "local", "--yes"]);
        assert_eq!(apply.status.code(), Some(0), "{example}: {}", text(&apply));
        let plan = mpctl(
            dir.path(),
            &["plan", &target, "--env", "local", "--detailed-exitcode"],
        );
        assert_eq!(plan.status.code(), Some(0), "{example}: {}", text(&plan));
    }
    assert!(tried >= 3, "only {tried} examples have a local environment");
}
