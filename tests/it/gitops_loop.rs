//! The GitOps loop end to end on the emulator: this repository's own workflows
//! (.github/workflows/plan.yml, apply.yml, drift.yml, which run the same shell steps as the
//! copies users take) executed step by step against the `local` environment of
//! examples/gitops, with a fake `gh` standing in for GitHub.
//!
//! Pull request → plan comment (exit 2, marker first, the commit and the run, table, <details>,
//! under the comment limit) and the saved plan → merge → apply of that reviewed plan, reported on
//! the pull request → plan again (exit 0, the same comment updated) → drift clean (exit 0, issue
//! closed) → a change behind mpctl's back → drift (exit 2, issue opened with the report). Also:
//! a merge that changes what was reviewed is not applied, errors replace the plan comment, and a
//! pull request that does not touch the manifests passes at once.

use crate::support::gitops as gitops_support;

use std::fs;

use gitops_support::{GhCall, JobRun, PR_HEAD_SHA, Runner};
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

/// The body of the comment a `gh api … --input -` call posted or updated.
fn posted_body(call: &GhCall) -> String {
    let request: serde_json::Value =
        serde_json::from_str(call.input.as_deref().expect("request")).expect("json");
    request["body"].as_str().expect("body").to_string()
}

/// Hands the plan the plan job saved to the fake `gh run download`, as the artifact of run 4242.
fn keep_saved_plan(runner: &Runner) {
    runner.set_artifact_file(
        "mpctl-plan.json",
        &runner.runner_temp.join("mpctl-plan.json"),
    );
}

fn read_output(job: &JobRun, step: &str) -> String {
    let file = &job.step(step).outputs["plan-markdown-file"];
    fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Runs the binary in the example's directory of the workspace (sharing the emulator's state).
fn mpctl(runner: &Runner, args: &[&str]) -> std::process::Output {
    crate::support::mpctl_in(&runner.workspace.join(EXAMPLE), args)
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
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls[0].args.ends_with("/pulls/17/files"), "{calls:?}");
    assert!(calls[2].args.contains("--method POST"), "{calls:?}");
    let posted = posted_body(&calls[2]);
    let (head, plan_part) = posted
        .split_once("\n\n")
        .expect("a line naming the commit, then the plan");
    assert_eq!(
        head,
        format!(
            "{MARKER}\nPlan of commit {PR_HEAD_SHA} ([run](https://github.com/acme/maskinporten-config/actions/runs/4242))."
        )
    );
    assert_eq!(
        plan_part,
        markdown.strip_prefix(&format!("{MARKER}\n")).unwrap(),
        "the comment is the plan as rendered"
    );
    assert!(posted.chars().count() < 65_536);

    // Merged: apply the saved plan, and say so on the pull request.
    keep_saved_plan(&runner);
    runner
        .github
        .insert("github.event_name".into(), "push".into());
    let job = runner.run_job(".github/workflows/apply.yml", "local");
    assert!(job.succeeded, "{}", job.describe());
    assert_eq!(job.step("apply").outputs["exit-code"], "0");
    let reviewed = &job.step("reviewed").outputs;
    assert!(
        reviewed["source"].ends_with("mpctl-reviewed/mpctl-plan.json --replan-if-same "),
        "{reviewed:?}"
    );
    let calls = runner.take_gh_calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(
        calls[0].args,
        "api repos/acme/maskinporten-config/commits/0123456789abcdef/pulls"
    );
    assert!(
        calls[1].args.contains(&format!(
            "/actions/workflows/plan.yml/runs?event=pull_request&status=success&head_sha={PR_HEAD_SHA}"
        )),
        "{calls:?}"
    );
    assert!(calls[2].args.starts_with("run download 4242 "), "{calls:?}");
    assert_eq!(
        calls[3].args,
        "api --method POST repos/acme/maskinporten-config/issues/17/comments --input -"
    );
    let report = posted_body(&calls[3]);
    assert!(
        report.starts_with("## mpctl: :white_check_mark: applied to `local`\n"),
        "{report}"
    );
    assert!(
        report.contains(&format!("plan reviewed on commit {PR_HEAD_SHA}")),
        "{report}"
    );
    assert!(report.contains("acme:orders.read"), "{report}");
    assert!(
        job.summary.contains(report.trim()),
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
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(
        calls[2]
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
    // Applied by hand (workflow_dispatch): the manifests as they are.
    runner
        .github
        .insert("github.event_name".into(), "workflow_dispatch".into());
    let job = runner.run_job(".github/workflows/apply.yml", "local");
    assert_eq!(job.step("reviewed").outputs["source"], "manifests --yes");
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
fn invalid_manifest_fails_the_plan_check_and_the_comment_shows_the_errors_not_the_last_plan() {
    let mut runner = runner_with_example();
    let manifest = runner.workspace.join(MANIFEST);
    let text = fs::read_to_string(&manifest).expect("manifest");
    fs::write(&manifest, text.replace("\"974760673\"", "\"974760674\"")).expect("write");
    // The last push was planned fine: its comment is there.
    runner.set_comments(&json!([
        {"id": 5, "user": {"type": "Bot"}, "body": format!("{MARKER}\nPlan of commit 1111111")}
    ]));

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
    assert!(job.step("plan").skipped, "nothing is planned");
    let calls = runner.take_gh_calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(
        calls[2].args.contains("--method PATCH") && calls[2].args.ends_with("comments/5 --input -"),
        "the plan comment is replaced: {calls:?}"
    );
    let body = posted_body(&calls[2]);
    assert!(
        body.starts_with(&format!("{MARKER}\n## :x: The manifests are invalid\n")),
        "{body}"
    );
    assert!(body.contains(PR_HEAD_SHA), "names the commit: {body}");
    assert!(body.contains("actions/runs/4242"), "links the run: {body}");
    assert!(body.contains("974760674"), "shows the problem: {body}");
    assert!(body.contains("mod-11"), "{body}");
    assert!(!body.contains("Plan of commit"), "{body}");
}

#[test]
fn planning_that_fails_replaces_the_comment_with_the_errors() {
    let mut runner = runner_with_example();
    // A manifest that validates, but whose second environment cannot be reached.
    let manifest = runner.workspace.join(MANIFEST);
    let text = fs::read_to_string(&manifest).expect("manifest");
    let unreachable = text.replace(
        "  local: {}",
        "  local: {}\n  test: { api_url: \"http://127.0.0.1:9\", token_url: \"http://127.0.0.1:9/token\", audience: \"http://127.0.0.1:9\" }",
    );
    assert_ne!(unreachable, text);
    fs::write(&manifest, unreachable).expect("write");

    let job = runner.run_job(".github/workflows/plan.yml", "plan");
    assert!(!job.succeeded, "{}", job.describe());
    assert_eq!(
        job.step("validate").outputs["exit-code"],
        "0",
        "{}",
        job.describe()
    );
    assert_eq!(
        job.step("plan").outputs["exit-code"],
        "1",
        "{}",
        job.describe()
    );
    let calls = runner.take_gh_calls();
    let body = posted_body(calls.last().expect("a comment"));
    assert!(
        body.starts_with(&format!("{MARKER}\n## :x: Planning failed\n")),
        "{body}"
    );
    assert!(body.contains(PR_HEAD_SHA), "{body}");
    assert!(body.contains("`````text\n"), "the errors: {body}");
}

#[test]
fn a_pull_request_that_does_not_touch_the_manifests_passes_at_once() {
    let mut runner = runner_with_example();
    runner.set_changed_files(&["README.md", "docs/gitops.md"]);
    let job = runner.run_job(".github/workflows/plan.yml", "plan");
    assert!(job.succeeded, "{}", job.describe());
    assert_eq!(job.step("changes").outputs["manifests"], "false");
    for skipped in ["validate", "plan", "comment-body", "comment"] {
        assert!(job.step(skipped).skipped, "{skipped} ran");
    }
    assert_eq!(runner.take_gh_calls().len(), 1, "only the file listing");
}

#[test]
fn a_merge_that_changes_what_was_reviewed_is_not_applied_and_the_pull_request_is_told() {
    let mut runner = runner_with_example();
    let job = runner.run_job(".github/workflows/plan.yml", "plan");
    assert_eq!(
        job.step("plan").outputs["exit-code"],
        "2",
        "{}",
        job.describe()
    );
    keep_saved_plan(&runner);
    runner.take_gh_calls();

    // Main moved on while the pull request waited: the merge result plans differently.
    let manifest = runner.workspace.join(MANIFEST);
    let text = fs::read_to_string(&manifest).expect("manifest");
    let merged = text.replace(
        "description: Create and change orders",
        "description: Changed on main meanwhile",
    );
    assert_ne!(merged, text);
    fs::write(&manifest, &merged).expect("write");
    runner
        .github
        .insert("github.event_name".into(), "push".into());
    let job = runner.run_job(".github/workflows/apply.yml", "local");
    assert!(!job.succeeded, "{}", job.describe());
    assert_eq!(job.step("apply").outputs["exit-code"], "1");
    let calls = runner.take_gh_calls();
    let last = calls.last().expect("a report");
    assert!(last.args.contains("issues/17/comments"), "{calls:?}");
    let report = posted_body(last);
    assert!(
        report.starts_with("## mpctl: :x: apply to `local` failed or was refused\n"),
        "{report}"
    );
    assert!(report.contains("not the ones reviewed"), "{report}");
    assert!(report.contains("Changed on main meanwhile"), "{report}");
    assert!(
        job.summary.contains("not the ones reviewed"),
        "{}",
        job.summary
    );
    let plan = mpctl(&runner, &["plan", "manifests", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "nothing was applied: {plan:?}");

    // The same changes as reviewed, though main moved on elsewhere in the manifest: applied.
    fs::write(
        &manifest,
        format!("{text}\nsettings:\n  warn_expiry_days: 10\n"),
    )
    .expect("write");
    let job = runner.run_job(".github/workflows/apply.yml", "local");
    assert!(job.succeeded, "{}", job.describe());
    let report = posted_body(runner.take_gh_calls().last().expect("a report"));
    assert!(report.contains(":white_check_mark: applied"), "{report}");
}

#[test]
fn a_push_without_a_pull_request_applies_nothing_and_says_why() {
    let mut runner = runner_with_example();
    runner
        .github
        .insert("github.event_name".into(), "push".into());
    runner.set_pulls(&json!([]));
    let job = runner.run_job(".github/workflows/apply.yml", "local");
    assert!(!job.succeeded);
    assert!(job.step("apply").skipped);
    assert!(
        job.summary
            .contains("did not come from a merged pull request"),
        "{}",
        job.summary
    );
    let plan = mpctl(&runner, &["plan", "manifests", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "nothing was applied: {plan:?}");
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
