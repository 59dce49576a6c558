//! The GitOps loop end to end on the emulator: this repository's own workflows
//! (.github/workflows/plan.yml, apply.yml, drift.yml, which run the same shell steps as the
//! copies users take) executed step by step against the `local` environment of
//! examples/gitops, with a fake `gh` standing in for GitHub.
//!
//! Pull request → plan comment (exit 2, marker first, table, <details>, under the comment
//! limit) → merge → apply → plan again (exit 0, the same comment updated) → drift clean (exit 0,
//! issue closed) → a change behind mpctl's back → drift (exit 2, issue opened with the report).

mod gitops_support;

use std::fs;
use std::process::Command;

use gitops_support::{JobRun, Runner, mpctl_bin};
use serde_json::json;

const MARKER: &str = "<!-- mpctl-plan -->";
const EXAMPLE: &str = "examples/gitops";
const MANIFEST: &str = "examples/gitops/manifests/mpctl.yaml";

fn runner_with_example() -> Runner {
    let runner = Runner::new();
    runner.copy_into_workspace(EXAMPLE);
    runner
}

/// The checks every markdown plan meets as a pull-request comment.
fn assert_comment_markdown(markdown: &str) {
    assert_eq!(markdown.lines().next(), Some(MARKER), "{markdown}");
    assert!(
        markdown.lines().any(|l| l.trim_start().starts_with('|')),
        "a summary table: {markdown}"
    );
    assert!(markdown.chars().count() < 65_536);
}

fn read_output(job: &JobRun, step: &str) -> String {
    let file = &job.step(step).outputs["plan-markdown-file"];
    fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Runs the binary in the example's directory of the workspace (sharing the emulator's state).
fn mpctl(runner: &Runner, args: &[&str]) -> std::process::Output {
    Command::new(mpctl_bin())
        .args(args)
        .current_dir(runner.workspace.join(EXAMPLE))
        .env("NO_COLOR", "1")
        .output()
        .expect("run mpctl")
}

#[test]
fn pull_request_plan_merge_apply_then_no_changes_and_no_drift() {
    let mut runner = runner_with_example();

    // A pull request against an emulator where nothing is applied yet.
    let job = runner.run_job(".github/workflows/plan.yml", "plan");
    assert!(job.succeeded, "{}", job.describe());
    let plan = job.step("plan");
    assert_eq!(plan.outputs["exit-code"], "2", "{}", job.describe());
    assert_eq!(plan.outputs["has-changes"], "true");
    let markdown = read_output(&job, "plan");
    assert_comment_markdown(&markdown);
    assert!(markdown.contains("<details>"), "{markdown}");
    assert!(markdown.contains("acme:orders.read"), "{markdown}");
    assert!(
        job.summary.contains(markdown.trim()),
        "the plan is in the job summary"
    );
    let calls = runner.take_gh_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[1].args.contains("--method POST"), "{calls:?}");
    let posted: serde_json::Value =
        serde_json::from_str(calls[1].input.as_deref().expect("request")).expect("json");
    let posted = posted["body"].as_str().expect("body").to_string();
    assert_eq!(posted, markdown, "the comment is the plan as rendered");

    // Merged: apply.
    let job = runner.run_job(".github/workflows/apply.yml", "local");
    assert!(job.succeeded, "{}", job.describe());
    assert_eq!(job.step("apply").outputs["exit-code"], "0");
    assert!(
        !job.summary.trim().is_empty(),
        "the result is in the job summary"
    );
    // The emulator keeps its state where the workflows cache it between runs.
    let apply = gitops_support::workflow(".github/workflows/apply.yml");
    let save = apply.jobs["local"]
        .steps
        .iter()
        .find(|s| s.uses.as_deref() == Some("actions/cache/save@v4"))
        .expect("the state is saved");
    assert!(runner.workspace.join(&save.with["path"]).is_dir());

    // The next push: no changes, and the same comment is updated.
    runner.set_comments(&json!([{"id": 5, "user": {"type": "Bot"}, "body": posted}]));
    let job = runner.run_job(".github/workflows/plan.yml", "plan");
    assert!(job.succeeded, "{}", job.describe());
    assert_eq!(
        job.step("plan").outputs["exit-code"],
        "0",
        "{}",
        job.describe()
    );
    assert_eq!(job.step("plan").outputs["has-changes"], "false");
    let markdown = read_output(&job, "plan");
    assert_comment_markdown(&markdown);
    let calls = runner.take_gh_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls[1]
            .args
            .contains("--method PATCH repos/acme/maskinporten-config/issues/comments/5"),
        "{calls:?}"
    );

    // The scheduled drift check: clean, so an open drift issue is closed.
    runner.set_open_issues(&json!([{"number": 3}]));
    let job = runner.run_job(".github/workflows/drift.yml", "drift");
    assert!(job.succeeded, "{}", job.describe());
    assert_eq!(
        job.step("drift").outputs["exit-code"],
        "0",
        "{}",
        job.describe()
    );
    let calls = runner.take_gh_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[1].args.starts_with("issue close 3 "), "{calls:?}");
}

#[test]
fn drift_behind_mpctls_back_opens_an_issue_and_reapplying_closes_it() {
    let mut runner = runner_with_example();
    let job = runner.run_job(".github/workflows/apply.yml", "local");
    assert!(job.succeeded, "{}", job.describe());

    // Someone changes a scope outside the manifests on main: here, by applying an edited copy.
    let manifest = runner.workspace.join(MANIFEST);
    let original = fs::read_to_string(&manifest).expect("manifest");
    let edited = original.replace(
        "description: Create and change orders",
        "description: Changed by hand in the portal",
    );
    assert_ne!(edited, original);
    fs::write(&manifest, &edited).expect("write");
    let out = mpctl(&runner, &["apply", "manifests", "--env", "local", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    fs::write(&manifest, &original).expect("write");

    let job = runner.run_job(".github/workflows/drift.yml", "drift");
    assert!(
        job.succeeded,
        "drift is reported, not failed: {}",
        job.describe()
    );
    assert_eq!(
        job.step("drift").outputs["exit-code"],
        "2",
        "{}",
        job.describe()
    );
    assert_eq!(job.step("drift").outputs["has-changes"], "true");
    let report = read_output(&job, "drift");
    assert!(report.contains("acme:orders.write"), "{report}");
    assert!(report.chars().count() < 65_536);
    assert!(job.summary.contains(report.trim()));
    let calls = runner.take_gh_calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    let issue = calls[2].body_file.as_deref().expect("issue body");
    assert!(calls[2].args.contains("--label drift"), "{calls:?}");
    assert!(issue.starts_with(report.trim_end()), "{issue}");

    // The next run finds the same drift: the open issue is updated, no second one.
    runner.set_open_issues(&json!([{"number": 8}]));
    let job = runner.run_job(".github/workflows/drift.yml", "drift");
    assert_eq!(job.step("drift").outputs["exit-code"], "2");
    let calls = runner.take_gh_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[1].args.starts_with("issue edit 8 "), "{calls:?}");

    // Re-applying the manifest removes the drift; the issue is closed.
    let job = runner.run_job(".github/workflows/apply.yml", "local");
    assert!(job.succeeded, "{}", job.describe());
    let job = runner.run_job(".github/workflows/drift.yml", "drift");
    assert_eq!(
        job.step("drift").outputs["exit-code"],
        "0",
        "{}",
        job.describe()
    );
    let calls = runner.take_gh_calls();
    assert!(calls[1].args.starts_with("issue close 8 "), "{calls:?}");
}

#[test]
fn invalid_manifest_fails_the_plan_check_with_annotations_and_no_comment() {
    let mut runner = runner_with_example();
    let manifest = runner.workspace.join(MANIFEST);
    let text = fs::read_to_string(&manifest).expect("manifest");
    fs::write(&manifest, text.replace("\"974760673\"", "\"974760674\"")).expect("write");

    let job = runner.run_job(".github/workflows/plan.yml", "plan");
    assert!(!job.succeeded);
    let validate = job.step("validate");
    assert_eq!(validate.status, 1, "{}", job.describe());
    assert_eq!(validate.outputs["exit-code"], "1");
    let shown = format!("{}{}", validate.stdout, validate.stderr);
    assert!(
        shown.contains("::error"),
        "annotations for the diff: {shown}"
    );
    for skipped in ["plan", "comment-body", "comment"] {
        assert!(job.step(skipped).skipped, "{skipped} ran");
    }
    assert!(runner.take_gh_calls().is_empty());
}

#[test]
fn drift_that_cannot_be_checked_fails_the_run_and_leaves_the_issue_alone() {
    let mut runner = runner_with_example();
    let manifest = runner.workspace.join(MANIFEST);
    fs::write(&manifest, "version: 1\norganization: \"123\"\n").expect("write");
    runner.set_open_issues(&json!([{"number": 3}]));

    let job = runner.run_job(".github/workflows/drift.yml", "drift");
    assert!(!job.succeeded);
    assert_eq!(
        job.step("drift").outputs["exit-code"],
        "1",
        "{}",
        job.describe()
    );
    assert!(job.step("drift-issue").skipped);
    assert!(runner.take_gh_calls().is_empty());
}
