//! Manual steps (contacts: Digdir has no API for them) only when they are new: compared with
//! the manifest at a base git revision (`--base REF`, or a GitHub pull request's base), never
//! in drift, and without a base shown with a note on how to stop seeing them.

use std::path::Path;
use std::process::Command;

use crate::support::{TestContext, output_text};
use mpctl::emulator::EmulatorConfig;

/// An emulator without the contacts extension, like Digdir's environments, in which the
/// organisation owns no prefix; the working directory is a git repository.
fn start() -> TestContext {
    let ctx = TestContext::new().with_emulator_owning("emu", EmulatorConfig::default(), &[]);
    git(ctx.path(), &["init", "-q", "-b", "main"]);
    ctx.write(".gitignore", "emu-admin.pem\n.mpctl/\n");
    ctx
}

fn write_manifest(ctx: &TestContext, client_contact: &str) {
    ctx.write(
        "m/mpctl.yaml",
        &format!(
            "version: 1\norganization: \"910753282\"\nenvironments:\n  ENVIRONMENTS\ncontacts:\n  notifications: [drift@acme.no]\nclients:\n  - name: sync\n    contacts: {{ notifications: [{client_contact}] }}\n"
        ),
    );
}

/// Runs the binary, which must exit 0 or 2, and returns its output.
fn run(ctx: &TestContext, args: &[&str], extra: &[(&str, &str)]) -> String {
    let out = ctx.run_with(args, extra);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{}",
        output_text(&out)
    );
    output_text(&out)
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

const PROVIDER_STEP: &str = "set contacts of the API-provider integration";
const CLIENT_STEP: &str = "set contacts of client sync";

#[test]
fn manual_steps_show_once_without_a_base_and_then_only_when_changed() {
    let s = start();
    write_manifest(&s, "sync@acme.no");
    git(s.path(), &["add", "-A"]);
    git(s.path(), &["commit", "-qm", "base"]);

    // No base: every step, with the note saying how to see only new ones.
    let plan = run(&s, &["plan", "m"], &[]);
    assert!(
        plan.contains(PROVIDER_STEP) && plan.contains(CLIENT_STEP),
        "{plan}"
    );
    assert!(plan.contains("pass `--base REF`"), "{plan}");

    // Against the committed manifest nothing changed: no steps, no note.
    let plan = run(&s, &["plan", "m", "--base", "HEAD"], &[]);
    assert!(!plan.contains("Manual steps"), "{plan}");
    assert!(!plan.contains("--base"), "{plan}");

    // This change edits the client's contacts: only its step shows.
    write_manifest(&s, "sync-new@acme.no");
    let plan = run(&s, &["plan", "m", "--base", "HEAD"], &[]);
    assert!(plan.contains(CLIENT_STEP), "{plan}");
    assert!(!plan.contains(PROVIDER_STEP), "{plan}");

    // In a GitHub pull request the base comes from GITHUB_BASE_REF (as origin/<branch>).
    git(
        s.path(),
        &["update-ref", "refs/remotes/origin/main", "HEAD"],
    );
    let plan = run(
        &s,
        &["plan", "m", "--format", "json"],
        &[("GITHUB_BASE_REF", "main")],
    );
    let doc: serde_json::Value = serde_json::from_str(
        plan.split("--- stderr")
            .next()
            .unwrap()
            .trim_start_matches("--- stdout\n"),
    )
    .unwrap();
    let steps = doc["environments"][0]["manual_steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{doc}");
    assert_eq!(steps[0]["resource"]["name"], "sync");
    assert!(doc["environments"][0].get("manual_steps_note").is_none());

    // Drift never reports them: they cannot be read back.
    let drift = run(&s, &["drift", "m"], &[]);
    assert!(
        !drift.contains("Manual steps") && !drift.contains("set contacts"),
        "{drift}"
    );
}

#[test]
fn a_base_git_cannot_read_is_an_error_when_asked_for_and_a_warning_when_found() {
    let s = start();
    write_manifest(&s, "sync@acme.no");
    git(s.path(), &["add", "-A"]);
    git(s.path(), &["commit", "-qm", "base"]);
    let out = s.run(&["plan", "m", "--base", "nosuch"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("cannot read the manifest at --base nosuch"),
        "{}",
        output_text(&out)
    );

    let out = s.run_with(&["plan", "m"], &[("GITHUB_BASE_REF", "main")]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("warning: cannot read the manifest at the pull request's base origin/main"),
        "{text}"
    );
    assert!(
        text.contains(CLIENT_STEP) && text.contains("pass `--base REF`"),
        "{text}"
    );
}
