//! The GitHub workflows and the action, checked without the emulator: their structure (triggers,
//! permissions, ordering, concurrency, protection), that secrets reach only the environment,
//! that this repository's copies run the same shell as the copies users take, and the shared
//! shell steps (action exit-code handling, credentials, comment body, drift issue) run as on a
//! runner against a fake `gh` and a fake mpctl.

use crate::support::gitops as gitops_support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use gitops_support::{Runner, action, read, step, workflow, workflow_value};
use serde_json::json;
use serde_yaml_ng::Value;

const USER_WORKFLOWS: &[&str] = &[
    "examples/github/plan.yml",
    "examples/github/apply.yml",
    "examples/github/drift.yml",
];
const REPO_WORKFLOWS: &[&str] = &[
    ".github/workflows/plan.yml",
    ".github/workflows/apply.yml",
    ".github/workflows/drift.yml",
];

fn get<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    let mut v = value;
    for key in path {
        v = v
            .get(*key)
            .unwrap_or_else(|| panic!("missing {key} in {path:?}"));
    }
    v
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    get(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string"))
}

/// Every `${{ secrets.X }}` a text refers to.
fn secret_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("secrets.") {
        let tail = &rest[i + "secrets.".len()..];
        let name: String = tail
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        names.push(name);
        rest = tail;
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn plan_runs_on_pull_requests_and_may_comment() {
    for file in ["examples/github/plan.yml", ".github/workflows/plan.yml"] {
        let wf = workflow_value(file);
        // Every pull request, so that the check can be required: no `paths` filter (a required
        // check whose workflow does not run waits forever); the first step decides.
        let trigger = get(&wf, &["on", "pull_request"]);
        assert!(
            trigger.is_null() || trigger.get("paths").is_none(),
            "{file}"
        );
        assert!(trigger.get("paths-ignore").is_none(), "{file}");
        assert_eq!(
            str_at(&wf, &["permissions", "pull-requests"]),
            "write",
            "{file}"
        );
        assert_eq!(str_at(&wf, &["permissions", "contents"]), "read", "{file}");
        let plan = workflow(file);
        let job = &plan.jobs["plan"];
        assert_eq!(
            step(job, "validate").with["command"],
            "validate manifests",
            "{file}"
        );
        assert_eq!(
            step(job, "plan").with["command"],
            "plan manifests --format markdown --detailed-exitcode --out ${{ runner.temp }}/mpctl-plan.json",
            "{file}"
        );
        assert_eq!(step(job, "plan").with["step-summary"], "true", "{file}");
        // The saved plan is kept for the apply workflow under the name it downloads.
        let upload = job
            .steps
            .iter()
            .find(|s| s.uses.as_deref() == Some("actions/upload-artifact@v4"))
            .expect("the plan is uploaded");
        assert_eq!(upload.with["name"], "mpctl-plan", "{file}");
        assert_eq!(upload.with["path"], "${{ runner.temp }}/mpctl-plan.json");
        // The pull request's head is planned: the commit the comment names.
        let checkout = job
            .steps
            .iter()
            .find(|s| s.uses.as_deref() == Some("actions/checkout@v4"))
            .expect("checkout");
        assert_eq!(
            checkout.with["ref"], "${{ github.event.pull_request.head.sha }}",
            "{file}"
        );
        // With the base branch's history too: plan compares the contacts with the manifest at
        // `origin/$GITHUB_BASE_REF`, and a shallow checkout has no such ref (every manual step
        // would be shown again, with a warning).
        assert_eq!(checkout.with["fetch-depth"], "0", "{file}");
        // The comment is written whatever happened, except when the run was cancelled.
        for id in ["comment-body", "comment"] {
            let condition = step(job, id).condition.as_deref().unwrap_or_default();
            assert!(condition.starts_with("${{ !cancelled() &&"), "{file} {id}");
        }
        let ids: Vec<_> = job.steps.iter().filter_map(|s| s.id.as_deref()).collect();
        let position = |id: &str| ids.iter().position(|i| *i == id).expect(id);
        assert!(position("changes") < position("validate"), "{file}");
        assert!(position("validate") < position("plan"), "{file}");
        assert!(position("plan") < position("comment-body"), "{file}");
        assert!(position("comment-body") < position("comment"), "{file}");
    }
}

#[test]
fn apply_runs_on_main_one_at_a_time_with_prod_after_test() {
    let wf = workflow_value("examples/github/apply.yml");
    let branches = get(&wf, &["on", "push", "branches"]);
    assert_eq!(branches.as_sequence().map(Vec::len), Some(1));
    assert_eq!(branches[0].as_str(), Some("main"));
    assert_eq!(str_at(&wf, &["concurrency", "group"]), "mpctl-apply");
    assert_eq!(
        get(&wf, &["concurrency", "cancel-in-progress"]).as_bool(),
        Some(false),
        "a running apply must never be cancelled half-way"
    );
    // Downloads the plan artifact of the pull request's run, and reports on the pull request.
    assert_eq!(str_at(&wf, &["permissions", "actions"]), "read");
    assert_eq!(str_at(&wf, &["permissions", "pull-requests"]), "write");
    assert_eq!(str_at(&wf, &["permissions", "contents"]), "read");
    let apply = workflow("examples/github/apply.yml");
    let test = &apply.jobs["test"];
    let prod = &apply.jobs["prod"];
    assert_eq!(
        test.environment.as_ref().and_then(Value::as_str),
        Some("test")
    );
    assert_eq!(
        prod.environment.as_ref().and_then(Value::as_str),
        Some("prod")
    );
    assert_eq!(prod.needs.as_ref().and_then(Value::as_str), Some("test"));
    assert!(test.needs.is_none());
    assert_eq!(
        step(test, "apply").with["command"],
        "apply ${{ steps.reviewed.outputs.source }} --env test --format markdown"
    );
    assert_eq!(
        step(prod, "apply").with["command"],
        "apply ${{ steps.reviewed.outputs.source }} --env prod --format markdown"
    );
    for job in [test, prod] {
        let ids: Vec<_> = job.steps.iter().filter_map(|s| s.id.as_deref()).collect();
        assert_eq!(
            ids,
            ["reviewed", "credentials", "apply", "report"],
            "the reviewed plan is found before credentials are written"
        );
        assert_eq!(
            step(job, "report").condition.as_deref(),
            Some("${{ !cancelled() }}")
        );
        // Both jobs find the reviewed plan and report the same way.
        assert_eq!(step(job, "reviewed").run, step(test, "reviewed").run);
        assert_eq!(step(job, "report").run, step(test, "report").run);
    }

    let own = workflow_value(".github/workflows/apply.yml");
    assert_eq!(
        get(&own, &["concurrency", "cancel-in-progress"]).as_bool(),
        Some(false)
    );
    assert_eq!(
        get(&own, &["on", "push", "branches"])[0].as_str(),
        Some("main")
    );
    let own = workflow(".github/workflows/apply.yml");
    assert_eq!(
        step(&own.jobs["local"], "apply").with["command"],
        "apply ${{ steps.reviewed.outputs.source }} --env local --format markdown"
    );
}

#[test]
fn drift_runs_on_a_schedule_and_by_hand_and_may_write_issues() {
    for file in ["examples/github/drift.yml", ".github/workflows/drift.yml"] {
        let wf = workflow_value(file);
        let cron = str_at(&get(&wf, &["on", "schedule"])[0], &["cron"]);
        assert_eq!(cron.split_whitespace().count(), 5, "{file}: {cron}");
        assert!(
            get(&wf, &["on"]).get("workflow_dispatch").is_some(),
            "{file}"
        );
        assert_eq!(str_at(&wf, &["permissions", "issues"]), "write", "{file}");
        let drift = workflow(file);
        assert_eq!(
            step(&drift.jobs["drift"], "drift").with["command"],
            "drift manifests --format markdown",
            "{file}"
        );
    }
}

#[test]
fn secrets_reach_only_environment_variables_and_this_repository_needs_none() {
    for file in USER_WORKFLOWS.iter().chain(REPO_WORKFLOWS) {
        let wf = workflow(file);
        for (job_id, job) in &wf.jobs {
            for s in &job.steps {
                if let Some(run) = &s.run {
                    assert!(
                        !run.contains("${{"),
                        "{file} {job_id}: a run script must take values from env, not ${{{{ }}}} (injection, leaks)"
                    );
                    assert!(
                        !run.contains("set -x"),
                        "{file}: tracing would print secrets"
                    );
                }
                for value in s.with.values() {
                    assert!(
                        secret_names(value).is_empty(),
                        "{file}: secrets must not be action inputs"
                    );
                }
            }
        }
    }
    for file in REPO_WORKFLOWS {
        assert_eq!(
            secret_names(&read(file)),
            Vec::<String>::new(),
            "{file} runs on the emulator and needs no secret"
        );
    }
    // Every MPCTL_* variable a user workflow sets comes from a secret of the same name (or is
    // a key path written by the credentials step).
    for file in USER_WORKFLOWS {
        let wf = workflow(file);
        for job in wf.jobs.values() {
            let envs = job
                .env
                .iter()
                .chain(job.steps.iter().flat_map(|s| s.env.iter()));
            for (name, value) in envs {
                if name.starts_with("MPCTL_") {
                    assert_eq!(value, &format!("${{{{ secrets.{name} }}}}"), "{file}");
                }
            }
        }
    }
}

#[test]
fn this_repository_runs_the_same_shell_steps_as_the_user_workflows() {
    for (user, own) in USER_WORKFLOWS.iter().zip(REPO_WORKFLOWS) {
        let user_wf = workflow(user);
        let own_wf = workflow(own);
        let user_steps: BTreeMap<_, _> = user_wf
            .jobs
            .values()
            .flat_map(|j| j.steps.iter())
            .filter_map(|s| s.id.clone().map(|id| (id, s)))
            .collect();
        let mut compared = 0;
        for own_step in own_wf.jobs.values().flat_map(|j| j.steps.iter()) {
            let Some(id) = &own_step.id else { continue };
            let user_step = user_steps
                .get(id)
                .unwrap_or_else(|| panic!("{own}: step {id} has no counterpart in {user}"));
            assert_eq!(own_step.run, user_step.run, "{own} vs {user}: step {id}");
            assert_eq!(
                own_step.with.get("command").cloned(),
                user_step.with.get("command").map(|c| c
                    .replace("--env test", "--env local")
                    .replace("--env prod", "--env local")),
                "{own} vs {user}: step {id}"
            );
            if own_step.run.is_some() {
                assert_eq!(
                    own_step.env.keys().collect::<Vec<_>>(),
                    user_step.env.keys().collect::<Vec<_>>(),
                    "{own} vs {user}: step {id}"
                );
            }
            if own_step.uses.is_some() {
                assert_eq!(own_step.uses.as_deref(), Some("./"), "{own}: step {id}");
                assert_eq!(
                    user_step.uses.as_deref(),
                    Some(gitops_support::PUBLISHED_ACTION),
                    "{user}: step {id}"
                );
            }
            compared += 1;
        }
        assert!(compared >= 1, "{own}: only {compared} steps compared");
    }
}

#[test]
fn every_credentials_step_is_the_same_script() {
    let mut scripts = Vec::new();
    for file in USER_WORKFLOWS {
        for job in workflow(file).jobs.values() {
            let run = step(job, "credentials").run.clone().expect("script");
            let (body, calls) = run.split_once("}\n").expect("a function and its calls");
            scripts.push(body.to_string());
            for call in calls.lines().filter(|l| !l.is_empty()) {
                let env = call
                    .strip_prefix("write_credentials ")
                    .and_then(|c| c.split_whitespace().next())
                    .unwrap_or_else(|| panic!("{file}: unexpected line {call}"));
                assert_eq!(
                    call,
                    format!("write_credentials {env} \"${env}_KEY\" \"${env}_KEYSTORE\""),
                    "{file}"
                );
            }
        }
    }
    assert_eq!(scripts.len(), 4);
    assert!(scripts.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn action_declares_its_contract() {
    let action = action();
    assert_eq!(action.runs.using, "composite");
    for input in [
        "command",
        "version",
        "release-url",
        "mpctl-path",
        "working-directory",
        "step-summary",
    ] {
        assert!(action.inputs.contains_key(input), "input {input}");
    }
    assert!(action.inputs["command"].required);
    for output in [
        "exit-code",
        "has-changes",
        "plan-markdown-file",
        "error-file",
    ] {
        assert!(
            action.outputs[output].value.contains("steps.run.outputs."),
            "output {output}"
        );
    }
    let install = action
        .runs
        .steps
        .iter()
        .find(|s| s.id.as_deref() == Some("install"))
        .expect("install step");
    let script = install.run.as_deref().expect("script");
    assert!(script.contains("cargo install --locked"));
    assert!(script.contains("--path \"$GITHUB_ACTION_PATH\""));
    assert_eq!(
        install.condition.as_deref(),
        Some("inputs.mpctl-path == '' && steps.download.outputs.path == ''")
    );
    let cache = action
        .runs
        .steps
        .iter()
        .find(|s| s.uses.as_deref() == Some("actions/cache@v4"))
        .expect("cache step");
    assert!(cache.with["path"].contains("~/.cargo/registry"));
    assert!(cache.with["path"].contains("~/.cache/mpctl-action"));
}

/// A stand-in mpctl that prints the arguments it got and exits with `FAKE_MPCTL_EXIT`.
fn fake_mpctl(runner: &Runner) -> String {
    let path = runner.root.path().join("fake-mpctl");
    fs::write(
        &path,
        "#!/usr/bin/env bash\nprintf 'arg:%s\\n' \"$@\"\necho '::warning::from the output'\necho '::error file=manifests/a.yaml,line=3::bad'\nexit \"${FAKE_MPCTL_EXIT:-0}\"\n",
    )
    .expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_string_lossy().into_owned()
}

/// What the action's `run` step did when run alone.
struct ActionStepRun {
    status: i32,
    stdout: String,
    outputs: BTreeMap<String, String>,
    summary: String,
}

/// Runs the action's `run` step alone, with a fake mpctl that exits with `exit`.
fn run_action_step(
    runner: &Runner,
    command: &str,
    exit: i32,
    working_directory: &str,
) -> ActionStepRun {
    let script = action()
        .runs
        .steps
        .iter()
        .find(|s| s.id.as_deref() == Some("run"))
        .and_then(|s| s.run.clone())
        .expect("run step");
    let bin = fake_mpctl(runner);
    let summary = runner.root.path().join("summary.md");
    let output = runner.root.path().join("output");
    fs::write(&summary, "").expect("write");
    fs::write(&output, "").expect("write");
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
        .current_dir(&runner.workspace)
        .env("MPCTL_BIN", bin)
        .env("MPCTL_COMMAND", command)
        .env("MPCTL_STEP_SUMMARY", "true")
        .env("MPCTL_WORKING_DIRECTORY", working_directory)
        .env("FAKE_MPCTL_EXIT", exit.to_string())
        .env("RUNNER_TEMP", &runner.runner_temp)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .expect("bash");
    ActionStepRun {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        outputs: fs::read_to_string(&output)
            .expect("read")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        summary: fs::read_to_string(&summary).expect("read"),
    }
}

#[test]
fn action_maps_exit_codes_to_outputs_and_only_fails_on_errors() {
    let runner = Runner::new();
    for (exit, status, changes) in [
        (0, 0, "false"),
        (2, 0, "true"),
        (1, 1, "false"),
        (3, 3, "false"),
        // A usage error (unknown flag) is a failure, never "changes".
        (64, 64, "false"),
    ] {
        let run = run_action_step(&runner, "plan  manifests\n --format markdown", exit, ".");
        let (stdout, outputs) = (&run.stdout, &run.outputs);
        assert_eq!(run.status, status, "mpctl exit {exit}: {stdout}");
        assert_eq!(outputs["exit-code"], exit.to_string());
        assert_eq!(outputs["has-changes"], changes);
        let file = &outputs["plan-markdown-file"];
        let captured = fs::read_to_string(file).expect("captured output");
        assert_eq!(
            captured.lines().take(4).collect::<Vec<_>>(),
            ["arg:plan", "arg:manifests", "arg:--format", "arg:markdown"],
            "arguments split on spaces and newlines"
        );
        assert_eq!(run.summary, captured, "the output is the job summary");
        // The output is shown, but a plan's text can never issue workflow commands.
        let stop = stdout.find("::stop-commands::").expect("commands stopped");
        let shown = stdout
            .find("::warning::from the output")
            .expect("output shown");
        assert!(stop < shown);
        assert_eq!(stdout.contains("::error title=mpctl"), status != 0);
    }
}

#[test]
fn action_lets_validate_annotate_the_diff() {
    let runner = Runner::new();
    let run = run_action_step(&runner, "validate manifests", 1, "examples/gitops/");
    let stdout = &run.stdout;
    assert_eq!(run.status, 1);
    assert!(!stdout.contains("::stop-commands::"), "{stdout}");
    assert!(stdout.contains("::warning::from the output"));
    // Annotation paths are relative to the repository, not to the working directory.
    assert!(
        stdout.contains("\n::error file=examples/gitops/manifests/a.yaml,line=3::bad\n"),
        "{stdout}"
    );
}

#[test]
fn credentials_become_private_files_and_are_never_printed() {
    let runner = Runner::new();
    let pem =
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----";
    let keystore_bytes = b"\x30\x82pkcs12-secret-bytes";
    let keystore = base64_encode(keystore_bytes);
    // Only the credentials step: the plan needs an environment this test does not set up.
    let wf = workflow("examples/github/plan.yml");
    let credentials = step(&wf.jobs["plan"], "credentials")
        .run
        .clone()
        .expect("script");
    let env_file = runner.root.path().join("github-env");
    fs::write(&env_file, "").expect("write");
    let out = std::process::Command::new("bash")
        .args([
            "--noprofile",
            "--norc",
            "-eo",
            "pipefail",
            "-c",
            &credentials,
        ])
        .env("RUNNER_TEMP", &runner.runner_temp)
        .env("GITHUB_ENV", &env_file)
        .env("TEST_KEY", pem)
        .env("TEST_KEYSTORE", "")
        .env("PROD_KEY", "")
        .env("PROD_KEYSTORE", &keystore)
        .output()
        .expect("bash");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!printed.contains("c2VjcmV0"), "the key was printed");
    let env = fs::read_to_string(&env_file).expect("read");
    assert!(!env.contains("c2VjcmV0") && !env.contains(&keystore));
    let vars: BTreeMap<_, _> = env.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(vars.len(), 2, "{env}");
    let key_file = vars["MPCTL_TEST_KEY_FILE"];
    assert_eq!(
        fs::read_to_string(key_file).expect("key"),
        format!("{pem}\n")
    );
    let mode = fs::metadata(key_file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key file is private");
    let p12 = vars["MPCTL_PROD_KEYSTORE"];
    assert_eq!(fs::read(p12).expect("p12"), keystore_bytes);
    assert_eq!(
        fs::metadata(p12).expect("meta").permissions().mode() & 0o777,
        0o600
    );
    assert!(!vars.contains_key("MPCTL_PROD_KEY_FILE"));
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Runs one shell step of a workflow with the given environment.
fn run_step(
    runner: &Runner,
    file: &str,
    job: &str,
    id: &str,
    env: &[(&str, String)],
) -> (i32, String, BTreeMap<String, String>) {
    let wf = workflow(file);
    let s = step(&wf.jobs[job], id);
    let declared: Vec<_> = s.env.keys().map(String::as_str).collect();
    let given: Vec<_> = {
        let mut g: Vec<_> = env.iter().map(|(k, _)| *k).collect();
        g.sort();
        g
    };
    assert_eq!(
        declared, given,
        "{file} {id}: the test gives the step's env"
    );
    let output = runner.root.path().join(format!("output-{id}"));
    fs::write(&output, "").expect("write");
    let mut command = std::process::Command::new("bash");
    command
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(s.run.as_deref().expect("script"))
        .current_dir(&runner.workspace)
        .env(
            "PATH",
            format!(
                "{}:{}",
                runner.root.path().join("bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("GITHUB_REPOSITORY", "acme/maskinporten-config")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", runner.root.path().join("summary.md"))
        .env("RUNNER_TEMP", &runner.runner_temp)
        .env("FAKE_GH_DIR", &runner.gh_dir);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("bash");
    let outputs = fs::read_to_string(&output)
        .expect("read")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text, outputs)
}

#[test]
fn comment_body_names_the_commit_and_shows_the_plan_or_the_errors() {
    let runner = Runner::new();
    let dir = runner.runner_temp.join("plan");
    fs::create_dir_all(&dir).expect("dir");
    let plan = dir.join("output.md");
    let plan_errors = dir.join("plan-errors.txt");
    let validate_out = dir.join("validate.md");
    let validate_errors = dir.join("validate-errors.txt");
    let run_url = "https://github.com/acme/x/actions/runs/1";
    let sha = "feedc0de00000000000000000000000000000017";
    let body_for = |validate_exit: &str, plan_exit: &str| -> String {
        let env = [
            ("VALIDATE_EXIT", validate_exit.to_string()),
            ("VALIDATE_OUTPUT", validate_out.display().to_string()),
            ("VALIDATE_ERRORS", validate_errors.display().to_string()),
            ("PLAN_EXIT", plan_exit.to_string()),
            ("PLAN_FILE", plan.display().to_string()),
            ("PLAN_ERRORS", plan_errors.display().to_string()),
            ("HEAD_SHA", sha.to_string()),
            ("RUN_URL", run_url.to_string()),
        ];
        for file in ["examples/github/plan.yml", ".github/workflows/plan.yml"] {
            let (code, out, outputs) = run_step(&runner, file, "plan", "comment-body", &env);
            assert_eq!(code, 0, "{out}");
            let body = fs::read_to_string(&outputs["file"]).expect("body");
            if file.starts_with(".github") {
                return body;
            }
        }
        unreachable!()
    };
    let stamp = format!("Plan of commit {sha} ([run]({run_url})).\n\n");

    // A plan: the marker, the commit and the run, then the plan without its own marker.
    let text = "<!-- mpctl-plan -->\n## Plan\n\n| env | add |\n|---|---|\n| local | 1 |\n";
    fs::write(&plan, text).expect("write");
    for exit in ["0", "2"] {
        assert_eq!(
            body_for("0", exit),
            format!(
                "<!-- mpctl-plan -->\n{stamp}## Plan\n\n| env | add |\n|---|---|\n| local | 1 |\n"
            )
        );
    }
    // Output without the marker (an unexpected one) still gets it, so the comment is found again.
    fs::write(&plan, "Error: something\n").expect("write");
    assert_eq!(
        body_for("0", "0"),
        format!("<!-- mpctl-plan -->\n{stamp}Error: something\n")
    );

    // Oversized output is cut below GitHub's limit and points to the job summary.
    let huge = format!("<!-- mpctl-plan -->\n{}", "| a | b |\n".repeat(10_000));
    fs::write(&plan, huge).expect("write");
    let body = body_for("0", "2");
    assert!(body.chars().count() < 65_536, "{}", body.len());
    assert!(body.starts_with("<!-- mpctl-plan -->\n"));
    assert!(body.ends_with(&format!("summary of [this run]({run_url}).**\n")));

    // Invalid manifests: the problems, not the last plan; annotations are left out and no
    // backtick run can close the block early.
    fs::write(
        &validate_out,
        "  x invalid organisation number\n::error file=manifests/a.yaml,line=2::invalid\n`````\n1 error in 1 file\n",
    )
    .expect("write");
    fs::write(&validate_errors, "").expect("write");
    let body = body_for("1", "");
    assert!(
        body.starts_with(&format!(
            "<!-- mpctl-plan -->\n## :x: The manifests are invalid\n\nCommit {sha} ([run]({run_url}))"
        )),
        "{body}"
    );
    assert!(
        body.contains(
            "`````text\n  x invalid organisation number\n````\n1 error in 1 file\n`````\n"
        ),
        "{body}"
    );
    assert!(!body.contains("::error"), "{body}");
    assert!(!body.contains("## Plan"), "{body}");

    // Planning failed (an API error, a usage error): the errors.
    fs::write(&plan, "").expect("write");
    fs::write(&plan_errors, "  x cannot reach the API of `test`\n").expect("write");
    for exit in ["1", "64"] {
        let body = body_for("0", exit);
        assert!(
            body.starts_with("<!-- mpctl-plan -->\n## :x: Planning failed\n"),
            "{body}"
        );
        assert!(body.contains(sha), "{body}");
        assert!(
            body.contains("`````text\n  x cannot reach the API of `test`\n`````"),
            "{body}"
        );
    }

    // Nothing ran (an earlier step failed): say so rather than keep the last plan.
    let body = body_for("", "");
    assert!(
        body.starts_with("<!-- mpctl-plan -->\n## :x: No plan\n"),
        "{body}"
    );
    assert!(body.contains(run_url), "{body}");
}

#[test]
fn plan_comment_is_posted_once_then_updated_in_place() {
    let runner = Runner::new();
    let body = runner.runner_temp.join("comment.md");
    fs::write(&body, "<!-- mpctl-plan -->\nfirst\n").expect("write");
    let env = |runner: &Runner| {
        let _ = runner;
        vec![
            ("GH_TOKEN", "ghs_token".to_string()),
            ("BODY_FILE", body.display().to_string()),
            ("PR_NUMBER", "17".to_string()),
        ]
    };
    for file in ["examples/github/plan.yml", ".github/workflows/plan.yml"] {
        // No comment yet (a person quoting the marker does not count): post one.
        runner.set_comments(&json!([
            {"id": 1, "user": {"type": "User"}, "body": "<!-- mpctl-plan -->\nquoted by a person"}
        ]));
        let (code, out, _) = run_step(&runner, file, "plan", "comment", &env(&runner));
        assert_eq!(code, 0, "{out}");
        let calls = runner.take_gh_calls();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(
            calls[0].args,
            "api --paginate repos/acme/maskinporten-config/issues/17/comments"
        );
        assert_eq!(
            calls[1].args,
            "api --method POST repos/acme/maskinporten-config/issues/17/comments --input -"
        );
        let request: serde_json::Value =
            serde_json::from_str(calls[1].input.as_deref().expect("request")).expect("json");
        assert_eq!(request, json!({"body": "<!-- mpctl-plan -->\nfirst\n"}));

        // The bot's comment exists (on the second page): update it, post nothing new.
        fs::write(&body, "<!-- mpctl-plan -->\nsecond\n").expect("write");
        fs::write(
            runner.gh_dir.join("comments.json"),
            concat!(
                r#"[{"id": 1, "user": {"type": "User"}, "body": "hello"}]"#,
                "\n",
                r#"[{"id": 99, "user": {"type": "Bot"}, "body": "<!-- mpctl-plan -->\nfirst\n"}]"#
            ),
        )
        .expect("write");
        let (code, out, _) = run_step(&runner, file, "plan", "comment", &env(&runner));
        assert_eq!(code, 0, "{out}");
        let calls = runner.take_gh_calls();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(
            calls[1].args,
            "api --method PATCH repos/acme/maskinporten-config/issues/comments/99 --input -"
        );
        let request: serde_json::Value =
            serde_json::from_str(calls[1].input.as_deref().expect("request")).expect("json");
        assert_eq!(request["body"], "<!-- mpctl-plan -->\nsecond\n");
        fs::write(&body, "<!-- mpctl-plan -->\nfirst\n").expect("write");
    }
}

#[test]
fn drift_issue_is_opened_updated_closed_or_the_run_fails() {
    let runner = Runner::new();
    let report = runner.runner_temp.join("output.md");
    fs::write(
        &report,
        "# Drift\n\n| env | drift |\n|---|---|\n| local | 1 |\n",
    )
    .expect("write");
    let env = |exit: &str| {
        vec![
            ("GH_TOKEN", "ghs_token".to_string()),
            ("DRIFT_EXIT", exit.to_string()),
            ("REPORT_FILE", report.display().to_string()),
            (
                "RUN_URL",
                "https://github.com/acme/x/actions/runs/7".to_string(),
            ),
        ]
    };
    for file in ["examples/github/drift.yml", ".github/workflows/drift.yml"] {
        // Drift and no open issue: label it and open one with the report.
        runner.set_open_issues(&json!([]));
        let (code, out, _) = run_step(&runner, file, "drift", "drift-issue", &env("2"));
        assert_eq!(code, 0, "{out}");
        let calls = runner.take_gh_calls();
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert!(
            calls[0].args.starts_with(
                "issue list --repo acme/maskinporten-config --label drift --state open"
            )
        );
        assert!(calls[1].args.starts_with("label create drift"));
        assert!(
            calls[2]
                .args
                .starts_with("issue create --repo acme/maskinporten-config --label drift")
        );
        let body = calls[2].body_file.as_deref().expect("body");
        assert!(body.starts_with("# Drift\n"), "{body}");
        assert!(body.contains("https://github.com/acme/x/actions/runs/7"));

        // Drift and an open issue: update that one.
        runner.set_open_issues(&json!([{"number": 31}]));
        let (code, out, _) = run_step(&runner, file, "drift", "drift-issue", &env("2"));
        assert_eq!(code, 0, "{out}");
        let calls = runner.take_gh_calls();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert!(calls[1].args.starts_with("issue edit 31 "), "{calls:?}");
        assert!(
            calls[1]
                .body_file
                .as_deref()
                .expect("body")
                .starts_with("# Drift\n")
        );

        // No drift: close the open issue.
        let (code, out, _) = run_step(&runner, file, "drift", "drift-issue", &env("0"));
        assert_eq!(code, 0, "{out}");
        let calls = runner.take_gh_calls();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert!(calls[1].args.starts_with("issue close 31 "), "{calls:?}");

        // No drift and nothing open: nothing to do.
        runner.set_open_issues(&json!([]));
        let (code, _, _) = run_step(&runner, file, "drift", "drift-issue", &env("0"));
        assert_eq!(code, 0);
        assert_eq!(runner.take_gh_calls().len(), 1);

        // mpctl could not check: the run fails and no issue is touched.
        let (code, out, _) = run_step(&runner, file, "drift", "drift-issue", &env("1"));
        assert_eq!(code, 1);
        assert!(out.contains("::error"), "{out}");
        assert!(runner.take_gh_calls().is_empty());
    }
}

#[test]
fn the_ready_workflows_beside_manifests_are_not_read_as_manifests() {
    let root = gitops_support::repo_root();
    let found = mpctl::manifest::load::discover(&[root.join("examples")]).expect("examples");
    assert!(
        found
            .iter()
            .all(|f| !f.starts_with(root.join("examples/github"))),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.ends_with("examples/gitops/manifests/mpctl.yaml")),
        "{found:?}"
    );
}

/// Runs the action's source-fingerprint step on a directory.
fn fingerprint(dir: &std::path::Path) -> String {
    let script = action()
        .runs
        .steps
        .iter()
        .find(|s| s.id.as_deref() == Some("source"))
        .and_then(|s| s.run.clone())
        .expect("source step");
    let output = dir.join("github-output");
    fs::write(&output, "").expect("write");
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
        .env("GITHUB_ACTION_PATH", dir)
        .env("GITHUB_OUTPUT", &output)
        .output()
        .expect("bash");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = fs::read_to_string(&output).expect("read");
    let hash = text.trim().strip_prefix("hash=").expect("hash output");
    assert_eq!(hash.len(), 24);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    hash.to_string()
}

#[test]
fn the_build_cache_key_follows_the_source() {
    let root = gitops_support::repo_root();
    let copy = tempfile::tempdir().expect("temp dir");
    gitops_support::copy_dir(&root.join("src"), &copy.path().join("src"));
    for file in ["Cargo.toml", "Cargo.lock"] {
        fs::copy(root.join(file), copy.path().join(file)).expect("copy");
    }
    let before = fingerprint(copy.path());
    assert_eq!(fingerprint(copy.path()), before, "stable");
    fs::write(copy.path().join("README.md"), "not source").expect("write");
    assert_eq!(fingerprint(copy.path()), before, "only the source counts");
    let main = copy.path().join("src/main.rs");
    let text = fs::read_to_string(&main).expect("read");
    fs::write(&main, format!("{text}\n// changed\n")).expect("write");
    assert_ne!(fingerprint(copy.path()), before, "a source change rebuilds");
}

#[test]
fn apply_finds_the_reviewed_plan_of_the_merged_pull_request_and_its_mass_destroy_label() {
    let env = |event: &str| {
        vec![
            ("GH_TOKEN", "ghs_token".to_string()),
            ("EVENT", event.to_string()),
            ("SHA", "0123456789abcdef".to_string()),
            ("PLAN_WORKFLOW", "plan.yml".to_string()),
            ("MASS_DESTROY_LABEL", "mpctl-allow-mass-destroy".to_string()),
        ]
    };
    let label = json!([{"name": "mpctl-allow-mass-destroy"}]);
    let pulls = |labels: &serde_json::Value| {
        json!([
            // An open pull request with the same commit and the label does not count.
            {"number": 3, "merged_at": null, "head": {"sha": "aaa"}, "labels": label},
            {"number": 17, "merged_at": "2026-11-26T09:00:00Z", "head": {"sha": "bbb"}, "labels": labels},
        ])
    };
    for file in ["examples/github/apply.yml", ".github/workflows/apply.yml"] {
        let job = if file.starts_with("examples") {
            "test"
        } else {
            "local"
        };
        // The plan run's artifact is missing (expired): nothing is applied.
        let runner = Runner::new();
        runner.set_pulls(&pulls(&json!([])));
        let (code, out, outputs) = run_step(&runner, file, job, "reviewed", &env("push"));
        assert_eq!(code, 1, "{out}");
        assert!(
            outputs["why"].contains("cannot download the plan"),
            "{outputs:?}"
        );
        assert!(out.contains("::error title=mpctl apply::"), "{out}");

        let plan = runner.root.path().join("plan.json");
        fs::write(&plan, "{}").expect("write");
        runner.set_artifact_file("mpctl-plan.json", &plan);
        let (code, out, outputs) = run_step(&runner, file, job, "reviewed", &env("push"));
        assert_eq!(code, 0, "{out}");
        assert_eq!(outputs["pr"], "17");
        assert_eq!(outputs["head"], "bbb");
        let saved = runner.runner_temp.join("mpctl-reviewed/mpctl-plan.json");
        assert_eq!(
            outputs["source"],
            format!("{} --replan-if-same ", saved.display())
        );
        let calls = runner.take_gh_calls();
        assert!(
            calls[1].args.ends_with(
                "actions/workflows/plan.yml/runs?event=pull_request&status=success&head_sha=bbb"
            ),
            "{calls:?}"
        );
        assert_eq!(
            calls[2].args,
            format!(
                "run download 4242 --repo acme/maskinporten-config --name mpctl-plan --dir {}",
                runner.runner_temp.join("mpctl-reviewed").display()
            )
        );

        // The merged pull request carries the label: a mass destroy is allowed.
        runner.set_pulls(&pulls(&label));
        let (code, out, outputs) = run_step(&runner, file, job, "reviewed", &env("push"));
        assert_eq!(code, 0, "{out}");
        assert!(
            outputs["source"].ends_with(" --replan-if-same --allow-mass-destroy"),
            "{outputs:?}"
        );

        // No successful plan run for the head: nothing reviewed, nothing applied.
        runner.set_runs(&json!({"workflow_runs": []}));
        let (code, _, outputs) = run_step(&runner, file, job, "reviewed", &env("push"));
        assert_eq!(code, 1);
        assert!(
            outputs["why"].contains("no successful plan run for commit bbb"),
            "{outputs:?}"
        );
        assert!(!outputs.contains_key("source"));

        // A push that did not come from a merged pull request.
        runner.set_pulls(&json!([]));
        let (code, _, outputs) = run_step(&runner, file, job, "reviewed", &env("push"));
        assert_eq!(code, 1);
        assert!(
            outputs["why"].contains("did not come from a merged pull request"),
            "{outputs:?}"
        );
        runner.take_gh_calls();

        // Run by hand: the manifests as they are, without asking GitHub anything.
        let (code, _, outputs) =
            run_step(&runner, file, job, "reviewed", &env("workflow_dispatch"));
        assert_eq!(code, 0);
        assert_eq!(outputs["source"], "manifests --yes");
        assert!(runner.take_gh_calls().is_empty());
    }
}

/// A release directory as the release workflow publishes it, holding a stand-in binary.
fn fake_release(root: &std::path::Path, version: &str, target: &str) -> std::path::PathBuf {
    let release = root.join(format!("v{version}"));
    let stage = root.join("stage");
    fs::create_dir_all(&release).expect("dir");
    fs::create_dir_all(&stage).expect("dir");
    let bin = stage.join("mpctl");
    fs::write(&bin, format!("#!/bin/sh\necho \"mpctl {version}\"\n")).expect("write");
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).expect("chmod");
    let asset = format!("mpctl-{version}-{target}.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(release.join(&asset))
        .arg("-C")
        .arg(&stage)
        .arg("mpctl")
        .status()
        .expect("tar");
    assert!(status.success());
    let sums = std::process::Command::new("sha256sum")
        .arg(&asset)
        .current_dir(&release)
        .output()
        .expect("sha256sum");
    fs::write(release.join("SHA256SUMS"), &sums.stdout).expect("write");
    release
}

/// Runs the action's download step for a runner platform.
fn run_download(
    runner: &Runner,
    version: &str,
    url: &str,
    os: &str,
    arch: &str,
) -> (i32, String, String) {
    let script = action()
        .runs
        .steps
        .iter()
        .find(|s| s.id.as_deref() == Some("download"))
        .and_then(|s| s.run.clone())
        .expect("download step");
    let output = runner.root.path().join("download-output");
    let path = runner.root.path().join("download-path");
    fs::write(&output, "").expect("write");
    fs::write(&path, "").expect("write");
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
        .current_dir(&runner.workspace)
        .env("MPCTL_VERSION", version)
        .env("MPCTL_RELEASE_URL", url)
        .env("RUNNER_OS", os)
        .env("RUNNER_ARCH", arch)
        .env("RUNNER_TEMP", &runner.runner_temp)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_PATH", &path)
        .output()
        .expect("bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap_or(-1),
        text,
        fs::read_to_string(&output).expect("read"),
    )
}

#[test]
fn action_downloads_a_release_binary_only_when_its_checksum_matches() {
    let runner = Runner::new();
    let releases = runner.root.path().join("releases");
    let release = fake_release(&releases, "9.9.9", "x86_64-unknown-linux-musl");
    let url = format!("file://{}", releases.display());

    let (code, out, outputs) = run_download(&runner, "v9.9.9", &url, "Linux", "X64");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("mpctl 9.9.9"), "the binary ran: {out}");
    let path = outputs.strip_prefix("path=").expect("a path output").trim();
    assert!(path.ends_with("/mpctl"), "{path}");
    let version = std::process::Command::new(path).output().expect("run");
    assert_eq!(String::from_utf8_lossy(&version.stdout), "mpctl 9.9.9\n");

    // A platform the release has no binary for: no path, so the action builds from source.
    let (code, out, outputs) = run_download(&runner, "9.9.9", &url, "Windows", "X64");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("building mpctl from source"), "{out}");
    assert_eq!(outputs, "");

    // A release that does not exist fails the step (no silent fallback).
    let (code, out, outputs) = run_download(&runner, "9.9.8", &url, "Linux", "X64");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is 9.9.8 an mpctl release?"), "{out}");
    assert_eq!(outputs, "");

    // A binary that does not match its published sum never runs.
    let sums = release.join("SHA256SUMS");
    let good = fs::read_to_string(&sums).expect("sums");
    let tampered = format!("{}{}", "0".repeat(64), &good[64..]);
    fs::write(&sums, tampered).expect("write");
    let (code, out, outputs) = run_download(&runner, "9.9.9", &url, "Linux", "X64");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not match the SHA-256 sum"), "{out}");
    assert!(!out.contains("mpctl 9.9.9"), "{out}");
    assert_eq!(outputs, "");

    // Nor one missing from the sums.
    fs::write(&sums, good.replace("x86_64-unknown-linux-musl", "other")).expect("write");
    let (code, out, _) = run_download(&runner, "9.9.9", &url, "Linux", "X64");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not match the SHA-256 sum"), "{out}");
}

#[test]
fn the_action_downloads_what_the_release_workflow_publishes() {
    let release = workflow_value(".github/workflows/release.yml");
    let tags = get(&release, &["on", "push", "tags"]);
    assert_eq!(tags[0].as_str(), Some("v*.*.*"));
    let targets: Vec<&str> = get(
        &release,
        &["jobs", "build", "strategy", "matrix", "include"],
    )
    .as_sequence()
    .expect("matrix")
    .iter()
    .map(|entry| entry["target"].as_str().expect("target"))
    .collect();
    assert_eq!(
        targets,
        [
            "x86_64-unknown-linux-musl",
            "aarch64-unknown-linux-musl",
            "x86_64-apple-darwin",
            "aarch64-apple-darwin"
        ]
    );
    let download = action()
        .runs
        .steps
        .into_iter()
        .find(|s| s.id.as_deref() == Some("download"))
        .and_then(|s| s.run)
        .expect("download step");
    for target in &targets {
        assert!(
            download.contains(&format!(") target={target} ;;")),
            "the action downloads {target}"
        );
    }
    // The same file names: the archive, and the sums it is checked against.
    let text = read(".github/workflows/release.yml");
    assert!(text.contains(r#"asset="mpctl-${GITHUB_REF_NAME#v}-$TARGET.tar.gz""#));
    assert!(text.contains("sha256sum mpctl-*.tar.gz > SHA256SUMS"));
    assert!(download.contains(r#"asset="mpctl-$version-$target.tar.gz""#));
    assert!(download.contains("for file in SHA256SUMS \"$asset\"; do"));
    // The release's provenance is signed by the workflow's identity.
    assert_eq!(
        str_at(&release, &["jobs", "provenance", "permissions", "id-token"]),
        "write"
    );
}
