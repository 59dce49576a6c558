//! What CI and reviewers rely on, with the real binary against one emulator per environment:
//! environments in the manifest's order, apply stopping at the first failing one; drift told
//! from the live side and exiting 2 also for drift apply would refuse to correct; saved plans
//! recognised by content; `--quiet` and the progress lines of runs without a terminal.

use crate::support::{OutputExt, TestContext};
use mpctl::emulator::{EmulatorConfig, FaultConfig};

/// Lists `test` before `prod`: the opposite of the alphabet.
const MANIFEST: &str = r#"
version: 1
organization: "910753282"
prefixes: [acme]
environments:
  ENVIRONMENTS
scopes:
  - name: acme:orders.read
    description: Read orders
    grants: ["910753282", "974760673"]
  - name: acme:orders.write
    description: Write orders
    grants: ["910753282"]
"#;

fn position(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in:\n{haystack}"))
}

#[test]
fn environments_are_planned_applied_and_reported_in_the_manifests_order() {
    let h = TestContext::new()
        .with_emulator("test")
        .with_emulator("prod");
    h.write("mpctl.yaml", MANIFEST);

    let plan = h.run_expecting(&["plan", "mpctl.yaml"], 0);
    let out = plan.stdout_text();
    assert!(position(&out, "Environment test") < position(&out, "Environment prod"));

    let json = h.run(&["plan", "mpctl.yaml", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["environments"][0]["env"], "test");
    assert_eq!(value["environments"][1]["env"], "prod");

    let markdown = h
        .run(&["drift", "mpctl.yaml", "--format", "markdown"])
        .stdout_text();
    assert!(position(&markdown, "| test |") < position(&markdown, "| prod |"));

    // `--env` in another order does not change it either.
    let narrowed = h.run(&["plan", "mpctl.yaml", "--env", "prod", "--env", "test"]);
    let out = narrowed.stdout_text();
    assert!(position(&out, "Environment test") < position(&out, "Environment prod"));

    let apply = h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    let out = apply.stdout_text();
    assert!(position(&out, "Applied test") < position(&out, "Applied prod"));
}

#[test]
fn apply_stops_at_the_first_failing_environment_and_names_those_not_attempted() {
    // `test` does not own the prefix `beta`: creating its scope fails there.
    let h = TestContext::new()
        .with_emulator("test")
        .with_emulator_owning("prod", EmulatorConfig::default(), &["acme", "beta"]);
    let manifest = MANIFEST.replace("prefixes: [acme]", "prefixes: [acme, beta]")
        + "  - name: beta:thing\n    description: Beta\n";
    h.write("mpctl.yaml", &manifest);

    let apply = h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 1);
    let out = apply.stdout_text();
    assert!(out.contains("Apply of test stopped"), "{}", apply.text());
    assert!(!out.contains("Applied prod"), "{}", apply.text());
    assert!(
        out.contains("Not attempted, because applying test failed: prod."),
        "{}",
        apply.text()
    );
    let prod = h.run(&["plan", "mpctl.yaml", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(prod.code(), 2, "prod was left alone: {}", prod.text());

    let json = h.run_expecting(&["apply", "mpctl.yaml", "--yes", "--format", "json"], 1);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["applied"][0]["env"], "test");
    assert_eq!(doc["not_attempted"], serde_json::json!(["prod"]));
}

#[test]
fn drift_is_told_from_the_live_side_in_every_format() {
    let h = TestContext::new().with_emulator("test");
    h.write("mpctl.yaml", MANIFEST);
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    // Revoked "in the portal": applied from another manifest.
    h.write("portal.yaml", &MANIFEST.replace(", \"974760673\"", ""));
    h.run_expecting(&["apply", "portal.yaml", "--yes"], 0);

    let wording =
        "grant of acme:orders.read to 974760673 was removed outside mpctl; apply adds it back";
    let human = h.run_expecting(&["drift", "mpctl.yaml"], 2);
    assert!(
        human.stdout_text().contains(&format!("- {wording}")),
        "{}",
        human.text()
    );
    assert!(!human.stdout_text().contains("Phase 2"), "{}", human.text());
    let markdown = h.run(&["drift", "mpctl.yaml", "--format", "markdown"]);
    assert_eq!(markdown.code(), 2);
    assert!(
        markdown.stdout_text().contains(wording),
        "{}",
        markdown.text()
    );
    let json = h.run(&["drift", "mpctl.yaml", "--format", "json"]);
    assert_eq!(json.code(), 2);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["environments"][0]["changes"][0]["drift"], wording);
    // A plan keeps the plan's wording.
    let plan = h.run(&["plan", "mpctl.yaml"]).stdout_text();
    assert!(
        plan.contains("+ grant acme:orders.read to 974760673"),
        "{plan}"
    );
}

#[test]
fn drift_apply_would_refuse_to_correct_exits_2_and_says_why() {
    let protected = MANIFEST.replace(
        "    description: Read orders\n",
        "    description: Read orders\n    protected: true\n",
    );
    let h = TestContext::new().with_emulator("test");
    h.write("mpctl.yaml", &protected);
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    // A grant added by hand to the protected scope.
    h.write(
        "portal.yaml",
        &protected.replace("\"974760673\"]", "\"974760673\", \"991825827\"]"),
    );
    h.run_expecting(&["apply", "portal.yaml", "--yes"], 0);

    let drift = h.run_expecting(&["drift", "mpctl.yaml"], 2);
    let out = drift.stdout_text();
    assert!(
        out.contains("grant of acme:orders.read to 991825827 was added outside mpctl"),
        "{out}"
    );
    assert!(
        out.contains("Apply would refuse to correct this drift"),
        "{out}"
    );
    assert!(out.contains("protected scope `acme:orders.read`"), "{out}");
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 1);

    // Enough hand-made grants to trip the mass-destroy guard.
    let guarded = MANIFEST.replace(
        "scopes:\n",
        "settings:\n  mass_destroy_percent: 10\nscopes:\n",
    );
    h.write("mpctl.yaml", &guarded);
    let drift = h.run_expecting(&["drift", "mpctl.yaml", "--format", "markdown"], 2);
    let out = drift.stdout_text();
    assert!(out.contains("--allow-mass-destroy"), "{out}");
    assert!(
        out.contains("Apply would refuse to correct this drift"),
        "{out}"
    );

    // Could not check: 1.
    h.write("broken.yaml", "version: 1\norganization: \"123\"\n");
    h.run_expecting(&["drift", "broken.yaml"], 1);
}

#[test]
fn a_saved_plan_applies_whatever_its_name() {
    let h = TestContext::new().with_emulator("test");
    h.write("mpctl.yaml", MANIFEST);
    h.run_expecting(&["plan", "mpctl.yaml", "--out", "saved.plan"], 0);
    let apply = h.run_expecting(&["apply", "saved.plan"], 0);
    assert!(
        apply.stdout_text().contains("Applied test"),
        "{}",
        apply.text()
    );
    h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 0);
}

#[test]
fn quiet_prints_only_the_one_line_result() {
    let h = TestContext::new()
        .with_emulator("test")
        .with_emulator("prod");
    h.write("mpctl.yaml", MANIFEST);
    let apply = h.run_expecting(&["apply", "mpctl.yaml", "--yes", "-q"], 0);
    assert_eq!(
        apply.stdout_text(),
        "Applied test, prod: 10 changes done.\n",
        "{}",
        apply.text()
    );
    assert_eq!(apply.stderr_text(), "", "{}", apply.text());
    let again = h.run(&["apply", "mpctl.yaml", "--yes", "-q"]);
    assert_eq!(
        again.stdout_text(),
        "Nothing to apply.\n",
        "{}",
        again.text()
    );
    assert_eq!(again.stderr_text(), "", "{}", again.text());
}

#[test]
fn warnings_go_through_the_printer_and_quiet_silences_them() {
    let manifest = (1..=6).fold(MANIFEST.to_owned(), |m, i| {
        m + &format!("  - name: acme:extra{i}\n    description: Extra {i}\n")
    });
    let faults = FaultConfig {
        drop_after_rate: 0.5,
        seed: 11,
        ..FaultConfig::default()
    };
    let mut warned = false;
    for quiet in [false, true] {
        let h = TestContext::new().with_emulator("test");
        h.write("mpctl.yaml", &manifest);
        h.emulator("test").set_faults(faults.clone());
        let mut args = vec!["apply", "mpctl.yaml", "--yes", "--concurrency", "1"];
        if quiet {
            args.push("-q");
        }
        let apply = h.run(&args);
        let err = apply.stderr_text();
        assert!(
            !err.contains(" WARN "),
            "no raw log lines: {}",
            apply.text()
        );
        if quiet {
            assert!(!err.contains("warning:"), "{}", apply.text());
        } else {
            for line in err.lines().filter(|l| l.contains("is unknown")) {
                assert!(line.starts_with("warning: the outcome of"), "{line}");
                warned = true;
            }
        }
    }
    assert!(warned, "the faults made an outcome unknown");
}

#[test]
fn without_a_terminal_long_runs_print_progress_lines() {
    let h = TestContext::new()
        .with_emulator("test")
        .env("MPCTL_PROGRESS_SECONDS", "0.1");
    h.write("mpctl.yaml", MANIFEST);
    h.emulator("test").set_faults(FaultConfig {
        latency: std::time::Duration::from_millis(60),
        ..FaultConfig::default()
    });
    let apply = h.run_expecting(&["apply", "mpctl.yaml", "--yes", "--concurrency", "1"], 0);
    let err = apply.stderr_text();
    assert!(
        err.lines().any(|l| l.starts_with("Reading the live state of test: ")
            && l.contains(" requests, ")),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.contains(" of 5 changes, ") && l.ends_with(" s")),
        "{err}"
    );
    let quiet = h.run(&["plan", "mpctl.yaml", "-q"]);
    assert!(
        !quiet.stderr_text().contains("requests"),
        "{}",
        quiet.text()
    );
}
