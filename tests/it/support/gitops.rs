//! A small runner for this repository's GitHub workflows and its composite action, so that the
//! tests execute exactly the shell steps the workflows run on GitHub.
//!
//! It reads a workflow file, walks one job's steps in order, evaluates the `${{ … }}`
//! expressions the workflows use (contexts `github`, `secrets`, `steps`, `inputs`, `runner`,
//! and `||`), honours `if:` (`always()`, `!cancelled()`, `==`, `!=`, `&&`, and the implicit
//! "previous steps succeeded"),
//! runs `run:` steps with GitHub's bash invocation (`bash --noprofile --norc -eo pipefail`),
//! and runs the mpctl action (`uses: ./` or the published name) through action.yml's own steps.
//! GitHub's file commands (`GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_PATH`, `GITHUB_STEP_SUMMARY`)
//! behave as on a runner. Third-party actions (checkout, cache) are skipped: the test prepares
//! the workspace itself. `gh` is a fake that records its calls and answers from files.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The head commit of the simulated pull request.
pub const PR_HEAD_SHA: &str = "feedc0de00000000000000000000000000000017";

/// The name the user workflows use for the action.
pub const PUBLISHED_ACTION: &str = "mpctl-dev/mpctl@v0";

/// Third-party actions the runner skips (the test sets up what they would).
const SKIPPED_ACTIONS: &[&str] = &[
    "actions/checkout@v4",
    "actions/cache@v4",
    "actions/cache/restore@v4",
    "actions/cache/save@v4",
    "actions/upload-artifact@v4",
];

/// A workflow file, as far as the runner needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct Workflow {
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub jobs: BTreeMap<String, Job>,
}

/// One job of a workflow.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Job {
    #[serde(rename = "if")]
    pub condition: Option<String>,
    pub needs: Option<serde_yaml_ng::Value>,
    pub environment: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub steps: Vec<Step>,
}

/// One step of a job or of the composite action.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Step {
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "if")]
    pub condition: Option<String>,
    pub uses: Option<String>,
    pub run: Option<String>,
    pub shell: Option<String>,
    pub working_directory: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub with: BTreeMap<String, String>,
}

/// action.yml, as far as the runner needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct Action {
    pub inputs: BTreeMap<String, ActionInput>,
    pub outputs: BTreeMap<String, ActionOutput>,
    pub runs: ActionRuns,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ActionInput {
    pub description: String,
    #[serde(default)]
    pub required: bool,
    pub default: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ActionOutput {
    pub description: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ActionRuns {
    pub using: String,
    pub steps: Vec<Step>,
}

/// Parses a workflow file of the repository (path relative to the root).
pub fn workflow(relative: &str) -> Workflow {
    let text = read(relative);
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Parses a workflow file as a YAML value, for structural checks.
pub fn workflow_value(relative: &str) -> serde_yaml_ng::Value {
    let text = read(relative);
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Parses action.yml.
pub fn action() -> Action {
    let text = read("action.yml");
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("action.yml: {e}"))
}

/// Reads a repository file.
pub fn read(relative: &str) -> String {
    fs::read_to_string(repo_root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Finds a step by id in a job.
pub fn step<'a>(job: &'a Job, id: &str) -> &'a Step {
    job.steps
        .iter()
        .find(|s| s.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no step with id {id}"))
}

/// What one executed (or skipped) step did.
#[derive(Debug, Clone, Default)]
pub struct StepRun {
    pub id: Option<String>,
    pub name: String,
    pub skipped: bool,
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub outputs: BTreeMap<String, String>,
}

/// What one job did.
#[derive(Debug, Clone, Default)]
pub struct JobRun {
    pub steps: Vec<StepRun>,
    pub summary: String,
    pub succeeded: bool,
}

impl JobRun {
    /// The run of the step with this id (panics when it was not part of the job).
    pub fn step(&self, id: &str) -> &StepRun {
        self.steps
            .iter()
            .find(|s| s.id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no step {id} in {:#?}", self.steps))
    }

    /// Each step with its status and output, for assertion messages.
    pub fn describe(&self) -> String {
        self.steps
            .iter()
            .map(|s| {
                format!(
                    "--- {} (skipped: {}, status {})\n{}\n{}",
                    s.name, s.skipped, s.status, s.stdout, s.stderr
                )
            })
            .collect()
    }

    /// Every byte the job printed or wrote to its summary, for secret-leak checks.
    pub fn all_output(&self) -> String {
        let mut all = self.summary.clone();
        for step in &self.steps {
            all.push_str(&step.stdout);
            all.push_str(&step.stderr);
            for value in step.outputs.values() {
                all.push_str(value);
            }
        }
        all
    }
}

/// A simulated runner: a workspace, a temp dir, the github context, secrets and a fake `gh`.
pub struct Runner {
    pub root: tempfile::TempDir,
    pub workspace: PathBuf,
    pub runner_temp: PathBuf,
    pub gh_dir: PathBuf,
    pub secrets: BTreeMap<String, String>,
    pub github: BTreeMap<String, String>,
    /// Extra process environment for every step (e.g. `MPCTL_EMULATOR_NOW`).
    pub extra_env: BTreeMap<String, String>,
    counter: usize,
}

impl Runner {
    /// A runner with an empty workspace and a pull-request event from the repository itself.
    pub fn new() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let workspace = root.path().join("workspace");
        let runner_temp = root.path().join("runner-temp");
        let gh_dir = root.path().join("gh");
        let bin_dir = root.path().join("bin");
        for dir in [&workspace, &runner_temp, &gh_dir, &bin_dir] {
            fs::create_dir_all(dir).expect("create dir");
        }
        fs::write(gh_dir.join("comments.json"), "[]").expect("write");
        fs::write(gh_dir.join("issues.json"), "[]").expect("write");
        // The pull request changes the manifests, of users and of this repository's example.
        fs::write(
            gh_dir.join("files.json"),
            r#"[{"filename": "manifests/mpctl.yaml"}, {"filename": "examples/gitops/manifests/mpctl.yaml"}]"#,
        )
        .expect("write");
        // The pushed commit is the merge of pull request 17, planned by run 4242.
        fs::write(
            gh_dir.join("pulls.json"),
            format!(r#"[{{"number": 17, "merged_at": "2026-11-26T09:00:00Z", "head": {{"sha": "{PR_HEAD_SHA}"}}, "labels": []}}]"#),
        )
        .expect("write");
        fs::write(
            gh_dir.join("runs.json"),
            r#"{"workflow_runs": [{"id": 4242}]}"#,
        )
        .expect("write");
        fs::create_dir_all(gh_dir.join("artifact")).expect("create dir");
        let gh = bin_dir.join("gh");
        fs::write(&gh, FAKE_GH).expect("write fake gh");
        fs::set_permissions(&gh, fs::Permissions::from_mode(0o755)).expect("chmod");
        let repository = "acme/maskinporten-config".to_string();
        let github = BTreeMap::from([
            ("github.token".into(), "ghs_fake_token_for_tests".into()),
            ("github.server_url".into(), "https://github.com".into()),
            ("github.repository".into(), repository.clone()),
            ("github.run_id".into(), "4242".into()),
            ("github.run_attempt".into(), "1".into()),
            ("github.sha".into(), "0123456789abcdef".into()),
            ("github.event_name".into(), "pull_request".into()),
            ("github.event.pull_request.number".into(), "17".into()),
            (
                "github.event.pull_request.head.sha".into(),
                PR_HEAD_SHA.into(),
            ),
            (
                "github.event.pull_request.head.repo.full_name".into(),
                repository,
            ),
            ("runner.os".into(), "Linux".into()),
            ("runner.arch".into(), "X64".into()),
            (
                "runner.temp".into(),
                runner_temp.to_string_lossy().into_owned(),
            ),
        ]);
        Runner {
            root,
            workspace,
            runner_temp,
            gh_dir,
            secrets: BTreeMap::new(),
            github,
            extra_env: BTreeMap::new(),
            counter: 0,
        }
    }

    /// Copies a repository directory (relative) into the workspace at the same place.
    pub fn copy_into_workspace(&self, relative: &str) {
        copy_dir(&repo_root().join(relative), &self.workspace.join(relative));
    }

    /// Sets the fake `gh`'s answer to listing a pull request's comments.
    pub fn set_comments(&self, json: &serde_json::Value) {
        fs::write(self.gh_dir.join("comments.json"), json.to_string()).expect("write");
    }

    /// Sets the fake `gh`'s answer to `gh issue list`.
    pub fn set_open_issues(&self, json: &serde_json::Value) {
        fs::write(self.gh_dir.join("issues.json"), json.to_string()).expect("write");
    }

    /// Sets the fake `gh`'s answer to listing a pull request's changed files.
    pub fn set_changed_files(&self, names: &[&str]) {
        let files: Vec<serde_json::Value> = names
            .iter()
            .map(|n| serde_json::json!({ "filename": n }))
            .collect();
        fs::write(
            self.gh_dir.join("files.json"),
            serde_json::Value::Array(files).to_string(),
        )
        .expect("write");
    }

    /// Sets the fake `gh`'s answer to the pull requests of a commit.
    pub fn set_pulls(&self, json: &serde_json::Value) {
        fs::write(self.gh_dir.join("pulls.json"), json.to_string()).expect("write");
    }

    /// Sets the fake `gh`'s answer to listing the plan workflow's runs.
    pub fn set_runs(&self, json: &serde_json::Value) {
        fs::write(self.gh_dir.join("runs.json"), json.to_string()).expect("write");
    }

    /// Puts a file into the artifact `gh run download` gives (the plan run's saved plan).
    pub fn set_artifact_file(&self, name: &str, from: &Path) {
        fs::copy(from, self.gh_dir.join("artifact").join(name)).expect("copy artifact");
    }

    /// The `gh` calls made so far, one line of arguments each, and forgets them.
    pub fn take_gh_calls(&self) -> Vec<GhCall> {
        let log = self.gh_dir.join("calls");
        let text = fs::read_to_string(&log).unwrap_or_default();
        let _ = fs::remove_file(&log);
        text.lines()
            .map(|line| {
                let (n, args) = line.split_once(' ').unwrap_or((line, ""));
                let n: usize = n.parse().expect("call number");
                let read_opt = |name: String| fs::read_to_string(self.gh_dir.join(name)).ok();
                GhCall {
                    args: args.to_string(),
                    input: read_opt(format!("input-{n}")),
                    body_file: read_opt(format!("body-{n}")),
                }
            })
            .collect()
    }

    /// Runs one job of a workflow file (relative to the repository root).
    pub fn run_job(&mut self, workflow_file: &str, job_id: &str) -> JobRun {
        let wf = workflow(workflow_file);
        let job = wf
            .jobs
            .get(job_id)
            .unwrap_or_else(|| panic!("{workflow_file}: no job {job_id}"));
        let mut job_env: BTreeMap<String, String> = BTreeMap::new();
        let mut scope = Scope::default();
        for (k, v) in wf.env.iter().chain(job.env.iter()) {
            job_env.insert(k.clone(), self.eval_template(v, &scope));
        }
        let mut run = JobRun {
            succeeded: true,
            ..Default::default()
        };
        let mut path_additions: Vec<String> = Vec::new();
        for step in &job.steps {
            let name = step_label(step);
            if !self.should_run(step.condition.as_deref(), run.succeeded, &scope) {
                run.steps.push(StepRun {
                    id: step.id.clone(),
                    name,
                    skipped: true,
                    ..Default::default()
                });
                continue;
            }
            let result = if let Some(uses) = &step.uses {
                if uses == "./" || uses == PUBLISHED_ACTION {
                    self.run_action(step, &job_env, &scope, &mut path_additions, &mut run)
                } else {
                    assert!(
                        SKIPPED_ACTIONS.contains(&uses.as_str()),
                        "{workflow_file}: the runner does not know the action {uses}"
                    );
                    StepRun {
                        id: step.id.clone(),
                        name,
                        skipped: true,
                        ..Default::default()
                    }
                }
            } else {
                let mut env = job_env.clone();
                for (k, v) in &step.env {
                    env.insert(k.clone(), self.eval_template(v, &scope));
                }
                let dir = step
                    .working_directory
                    .as_deref()
                    .map(|d| self.eval_template(d, &scope));
                let script = step.run.as_deref().expect("a step runs or uses something");
                let mut r = self.run_shell(
                    script,
                    &env,
                    dir.as_deref(),
                    &mut job_env,
                    &mut path_additions,
                    &mut run,
                );
                r.id = step.id.clone();
                r.name = name;
                r
            };
            if result.status != 0 {
                run.succeeded = false;
            }
            if let Some(id) = &step.id {
                scope.steps.insert(id.clone(), result.outputs.clone());
            }
            run.steps.push(result);
        }
        run
    }

    /// Runs the composite action for a workflow step, with `mpctl-path` set to the test binary.
    fn run_action(
        &mut self,
        step: &Step,
        job_env: &BTreeMap<String, String>,
        caller_scope: &Scope,
        path_additions: &mut Vec<String>,
        run: &mut JobRun,
    ) -> StepRun {
        let action = action();
        let mut inputs = BTreeMap::new();
        for (name, input) in &action.inputs {
            let value = match step.with.get(name) {
                Some(v) => self.eval_template(v, caller_scope),
                None => input.default.clone().unwrap_or_default(),
            };
            inputs.insert(name.clone(), value);
        }
        for name in step.with.keys() {
            assert!(
                action.inputs.contains_key(name),
                "the action has no input {name}"
            );
        }
        // The prebuilt-binary input: the tests run the binary cargo built for them.
        inputs.insert(
            "mpctl-path".into(),
            super::bin().to_string_lossy().into_owned(),
        );
        let mut caller_env = job_env.clone();
        for (k, v) in &step.env {
            caller_env.insert(k.clone(), self.eval_template(v, caller_scope));
        }
        let mut scope = Scope {
            inputs,
            ..Default::default()
        };
        let mut result = StepRun {
            id: step.id.clone(),
            name: step_label(step),
            ..Default::default()
        };
        let mut ok = true;
        let mut env_after = caller_env.clone();
        for inner in &action.runs.steps {
            if !self.should_run(inner.condition.as_deref(), ok, &scope) {
                continue;
            }
            assert!(
                inner.uses.is_none(),
                "action step {:?} uses an action although mpctl-path is given",
                inner.name
            );
            let mut env = caller_env.clone();
            for (k, v) in &inner.env {
                env.insert(k.clone(), self.eval_template(v, &scope));
            }
            let dir = inner
                .working_directory
                .as_deref()
                .map(|d| self.eval_template(d, &scope));
            let script = inner.run.as_deref().expect("composite steps run scripts");
            let r = self.run_shell(
                script,
                &env,
                dir.as_deref(),
                &mut env_after,
                path_additions,
                run,
            );
            result.stdout.push_str(&r.stdout);
            result.stderr.push_str(&r.stderr);
            if r.status != 0 {
                ok = false;
                result.status = r.status;
            }
            if let Some(id) = &inner.id {
                scope.steps.insert(id.clone(), r.outputs);
            }
        }
        for (name, output) in &action.outputs {
            result
                .outputs
                .insert(name.clone(), self.eval_template(&output.value, &scope));
        }
        result
    }

    /// Runs a script as GitHub runs `shell: bash`, with the file commands of a runner.
    fn run_shell(
        &mut self,
        script: &str,
        env: &BTreeMap<String, String>,
        working_directory: Option<&str>,
        job_env: &mut BTreeMap<String, String>,
        path_additions: &mut Vec<String>,
        run: &mut JobRun,
    ) -> StepRun {
        self.counter += 1;
        let n = self.counter;
        let files = self.root.path().join(format!("step-{n}"));
        fs::create_dir_all(&files).expect("step dir");
        let script_file = files.join("script.sh");
        fs::write(&script_file, script).expect("write script");
        let output_file = files.join("output");
        let env_file = files.join("env");
        let path_file = files.join("path");
        let summary_file = files.join("summary");
        for f in [&output_file, &env_file, &path_file, &summary_file] {
            fs::write(f, "").expect("touch");
        }
        let mut path: Vec<String> = path_additions.iter().rev().cloned().collect();
        path.push(self.root.path().join("bin").to_string_lossy().into_owned());
        path.push(std::env::var("PATH").unwrap_or_default());
        let dir = match working_directory {
            Some(d) => self.workspace.join(d),
            None => self.workspace.clone(),
        };
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_file)
            .current_dir(&dir)
            .env_clear()
            .env("PATH", path.join(":"))
            .env("HOME", self.root.path())
            .env("LANG", "C.UTF-8")
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", &self.workspace)
            .env("GITHUB_REPOSITORY", &self.github["github.repository"])
            .env("GITHUB_RUN_ID", &self.github["github.run_id"])
            .env("GITHUB_ACTION_PATH", repo_root())
            .env("RUNNER_TEMP", &self.runner_temp)
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_ENV", &env_file)
            .env("GITHUB_PATH", &path_file)
            .env("GITHUB_STEP_SUMMARY", &summary_file)
            .env("FAKE_GH_DIR", &self.gh_dir)
            .envs(&self.extra_env)
            .envs(env);
        let out = command.output().expect("run bash");
        for line in fs::read_to_string(&env_file).expect("read env").lines() {
            if let Some((k, v)) = line.split_once('=') {
                job_env.insert(k.to_string(), v.to_string());
            }
        }
        for line in fs::read_to_string(&path_file).expect("read path").lines() {
            path_additions.push(line.to_string());
        }
        run.summary
            .push_str(&fs::read_to_string(&summary_file).expect("read summary"));
        let mut outputs = BTreeMap::new();
        for line in fs::read_to_string(&output_file)
            .expect("read output")
            .lines()
        {
            if let Some((k, v)) = line.split_once('=') {
                outputs.insert(k.to_string(), v.to_string());
            }
        }
        StepRun {
            id: None,
            name: String::new(),
            skipped: false,
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            outputs,
        }
    }

    /// Whether a step runs: the `&&` of its terms (`always()`, `!cancelled()`, `success()`,
    /// `failure()`, `a == b`, `a != b`), with the implicit `success()` when no term is a status
    /// function. Nothing is ever cancelled here.
    fn should_run(&self, condition: Option<&str>, succeeded: bool, scope: &Scope) -> bool {
        let Some(condition) = condition else {
            return succeeded;
        };
        let condition = condition.trim();
        let condition = condition
            .strip_prefix("${{")
            .and_then(|c| c.strip_suffix("}}"))
            .unwrap_or(condition);
        let mut status_checked = false;
        let mut holds = true;
        for term in condition.split("&&").map(str::trim) {
            holds &= match term {
                "always()" | "!cancelled()" => {
                    status_checked = true;
                    true
                }
                "success()" => {
                    status_checked = true;
                    succeeded
                }
                "failure()" => {
                    status_checked = true;
                    !succeeded
                }
                _ => {
                    if let Some((left, right)) = term.split_once("!=") {
                        self.eval_expression(left.trim(), scope)
                            != self.eval_expression(right.trim(), scope)
                    } else if let Some((left, right)) = term.split_once("==") {
                        self.eval_expression(left.trim(), scope)
                            == self.eval_expression(right.trim(), scope)
                    } else {
                        panic!("the runner cannot evaluate the condition {condition:?}")
                    }
                }
            };
        }
        holds && (status_checked || succeeded)
    }

    /// Replaces every `${{ … }}` in a string.
    fn eval_template(&self, template: &str, scope: &Scope) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 3..];
            let end = after.find("}}").expect("unterminated expression");
            out.push_str(&self.eval_expression(after[..end].trim(), scope));
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// Evaluates a context path, a quoted literal, or `a || b`.
    fn eval_expression(&self, expression: &str, scope: &Scope) -> String {
        if expression.contains("||") {
            return expression
                .split("||")
                .map(|part| self.eval_expression(part.trim(), scope))
                .find(|v| !v.is_empty())
                .unwrap_or_default();
        }
        if let Some(literal) = expression
            .strip_prefix('\'')
            .and_then(|e| e.strip_suffix('\''))
        {
            return literal.to_string();
        }
        if let Some(name) = expression.strip_prefix("secrets.") {
            return self.secrets.get(name).cloned().unwrap_or_default();
        }
        if let Some(name) = expression.strip_prefix("inputs.") {
            return scope
                .inputs
                .get(name)
                .cloned()
                .unwrap_or_else(|| panic!("unknown input {name}"));
        }
        if let Some(rest) = expression.strip_prefix("steps.") {
            let (id, output) = rest
                .split_once(".outputs.")
                .unwrap_or_else(|| panic!("cannot evaluate {expression}"));
            return scope
                .steps
                .get(id)
                .and_then(|o| o.get(output))
                .cloned()
                .unwrap_or_default();
        }
        self.github
            .get(expression)
            .cloned()
            .unwrap_or_else(|| panic!("the runner has no value for {expression}"))
    }
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

/// The expression scope of a job or of the composite action.
#[derive(Debug, Default)]
struct Scope {
    inputs: BTreeMap<String, String>,
    steps: BTreeMap<String, BTreeMap<String, String>>,
}

/// One call of the fake `gh`.
#[derive(Debug, Clone)]
pub struct GhCall {
    /// The arguments, joined by spaces.
    pub args: String,
    /// What was piped to it (`--input -`).
    pub input: Option<String>,
    /// The content of its `--body-file`.
    pub body_file: Option<String>,
}

fn step_label(step: &Step) -> String {
    step.name
        .clone()
        .or_else(|| step.id.clone())
        .or_else(|| step.uses.clone())
        .unwrap_or_default()
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create dir");
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The fake `gh`: logs each call (numbered), keeps what was piped in and each `--body-file`,
/// answers listings from `comments.json`, `issues.json`, `files.json`, `pulls.json` and
/// `runs.json`, downloads the artifact from `artifact/`, and insists on a token.
const FAKE_GH: &str = r#"#!/usr/bin/env bash
set -eu
dir="$FAKE_GH_DIR"
[ -n "${GH_TOKEN:-}" ] || { echo "gh: no GH_TOKEN" >&2; exit 4; }
n=$(( $(cat "$dir/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$dir/count"
printf '%s %s\n' "$n" "$*" >> "$dir/calls"
prev=""
for arg in "$@"; do
  if [ "$prev" = "--body-file" ]; then cp "$arg" "$dir/body-$n"; fi
  if [ "$prev" = "--input" ] && [ "$arg" = "-" ]; then cat > "$dir/input-$n"; fi
  prev="$arg"
done
if [ "$1" = api ]; then
  case "$*" in
    "api --paginate "*/files) cat "$dir/files.json" ;;
    "api --paginate "*) cat "$dir/comments.json" ;;
    *"/commits/"*"/pulls") cat "$dir/pulls.json" ;;
    *"/actions/workflows/"*"/runs?"*) cat "$dir/runs.json" ;;
  esac
fi
if [ "$1" = issue ] && [ "${2:-}" = list ]; then cat "$dir/issues.json"; fi
if [ "$1" = run ] && [ "${2:-}" = download ]; then
  prev=""
  for arg in "$@"; do
    if [ "$prev" = "--dir" ]; then mkdir -p "$arg" && cp -R "$dir/artifact/." "$arg"; fi
    prev="$arg"
  done
fi
exit 0
"#;
