//! The shared test context itself: the binary runs with a clean environment in the context's
//! directory, with an emulator's credentials, and its filters take out what changes per run.

use crate::support::{ORG, OutputExt, TestContext, mpctl};
use mpctl::emulator::EmulatorConfig;

#[test]
fn the_binary_runs_without_inherited_mpctl_or_github_variables() {
    let command = mpctl(&["--version"]);
    let removed: Vec<String> = command
        .get_envs()
        .filter(|(_, value)| value.is_none())
        .map(|(key, _)| key.to_string_lossy().into_owned())
        .collect();
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("MPCTL_") || key.starts_with("GITHUB_") {
            assert!(removed.contains(&key), "{key} is passed on");
        }
    }
    let set: Vec<(String, Option<String>)> = command
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                Some(v.to_string_lossy().into_owned()),
            )
        })
        .collect();
    assert_eq!(set, [("NO_COLOR".to_owned(), Some("1".to_owned()))]);
    let output = mpctl(&["--version"]).output().expect("run mpctl");
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("mpctl "));
}

#[test]
fn filters_take_out_the_directory_ports_and_times() {
    let ctx = TestContext::new();
    let text = format!(
        "{}/mpctl.yaml at http://127.0.0.1:41234/api, 2026-11-26T10:59:32.123Z, duration_ms=17",
        ctx.path().display()
    );
    assert_eq!(
        ctx.filter(&text),
        "[TEMP]/mpctl.yaml at http://127.0.0.1:[PORT]/api, [TIME], duration_ms=[MS]"
    );
}

#[test]
fn a_context_with_an_emulator_applies_and_plans_no_changes() {
    let ctx = TestContext::new().with_emulator("staging");
    ctx.write(
        "mpctl.yaml",
        &format!(
            "version: 1\norganization: \"{ORG}\"\nprefixes: [acme]\nenvironments:\n  ENVIRONMENTS\nscopes:\n  - name: acme:orders.read\n    description: Read orders\n"
        ),
    );
    let apply = ctx.run(&["apply", "--env", "staging", "--yes"]);
    assert!(apply.status.success(), "{}", ctx.output(&apply));
    let plan = ctx.run(&["plan", "--env", "staging"]);
    assert!(plan.status.success(), "{}", ctx.output(&plan));
    let text = ctx.output(&plan);
    assert!(text.contains("No changes"), "{text}");
    assert!(!text.contains(&ctx.path().display().to_string()), "{text}");
}

#[test]
#[should_panic(expected = "unrecognized subcommand 'no-such-command'")]
fn an_unexpected_exit_code_fails_with_the_output() {
    TestContext::new().run_expecting(&["no-such-command"], 0);
}

#[test]
fn several_named_emulators_each_get_their_own_prefixes_and_credentials() {
    let ctx = TestContext::new()
        .with_emulator("test")
        .with_emulator_owning("prod", EmulatorConfig::default(), &["acme", "beta"]);
    ctx.write(
        "mpctl.yaml",
        &format!(
            "version: 1\norganization: \"{ORG}\"\nprefixes: [acme, beta]\nenvironments:\n  ENVIRONMENTS\nscopes:\n  - name: beta:orders.read\n    description: Read orders\n    environments: [prod]\n"
        ),
    );
    assert_ne!(
        ctx.emulator("test").admin.client_id,
        ctx.emulator("prod").admin.client_id
    );
    ctx.run_expecting(&["apply", "--env", "prod", "--yes"], 0);
    let plan = ctx.run_expecting(&["plan", "--detailed-exitcode"], 0);
    assert!(plan.text().contains("No changes"), "{}", plan.text());
}
