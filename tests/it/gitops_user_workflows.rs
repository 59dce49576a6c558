//! The ready workflows users copy (examples/github/plan.yml, apply.yml, drift.yml), run step by
//! step as on GitHub against two emulators served over HTTP standing in for Digdir's `test` and
//! `prod`: credentials come only from secrets (a PEM key written to a private file), the plan is
//! commented once and updated, apply runs test then prod, drift opens and closes its issue, and
//! no secret ever appears in the output, the job summaries or what is sent to GitHub.

use crate::support::gitops as gitops_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use gitops_support::{JobRun, Runner};
use serde_json::json;

/// An `mpctl emulator serve` process on a free loopback port, stopped when dropped.
struct ServedEmulator {
    child: Child,
    base_url: String,
    client_id: String,
    key_id: String,
    private_key_pem: String,
}

impl ServedEmulator {
    fn start(dir: &Path) -> Self {
        fs::create_dir_all(dir).expect("dir");
        let log = dir.join("serve.out");
        let child =
            crate::support::mpctl(&["emulator", "serve", "--listen", "127.0.0.1:0", "--state"])
                .arg(dir.join("state.json"))
                .args(["--bootstrap", "910753282:acme", "--contacts-extension"])
                .stdout(Stdio::from(fs::File::create(&log).expect("log")))
                .stderr(Stdio::null())
                .spawn()
                .expect("start the emulator");
        let mut emulator = ServedEmulator {
            child,
            base_url: String::new(),
            client_id: String::new(),
            key_id: String::new(),
            private_key_pem: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        let text = loop {
            let text = fs::read_to_string(&log).unwrap_or_default();
            if text.contains("  business certificate:") {
                break text;
            }
            assert!(
                Instant::now() < deadline,
                "the emulator did not start: {text}"
            );
            if let Ok(Some(status)) = emulator.child.try_wait() {
                panic!("the emulator exited ({status}): {text}");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let value = |label: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(label))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("no {label} in {text}"))
        };
        emulator.base_url = value("mpctl emulator listening on")
            .trim_end_matches('/')
            .to_string();
        emulator.client_id = value("admin client id:");
        emulator.key_id = value("key id (kid):");
        let key_path = value("private key:");
        let key_path = PathBuf::from(key_path.split(" (").next().expect("path"));
        emulator.private_key_pem = fs::read_to_string(&key_path).expect("admin key");
        emulator
    }

    fn environment_yaml(&self) -> String {
        format!(
            "    api_url: {0}/api/v1\n    token_url: {0}/token\n    audience: {0}/\n",
            self.base_url
        )
    }
}

impl Drop for ServedEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The manifest of the example repository, for two served environments.
fn manifest(test: &ServedEmulator, prod: &ServedEmulator, write_description: &str) -> String {
    format!(
        r#"version: 1
organization: "910753282"
prefixes: [acme]
environments:
  test:
{test_env}  prod:
{prod_env}scopes:
  - name: acme:orders.read
    description: Read the orders of your organisation
    grants: ["974760673"]
  - name: acme:orders.write
    description: {write_description}
    grants: ["974760673"]
clients:
  - name: order-sync
    description: Nightly synchronisation of orders
"#,
        test_env = test.environment_yaml(),
        prod_env = prod.environment_yaml(),
    )
}

/// The body lines of a PEM key: what must never be printed.
fn secret_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
        .map(str::to_string)
        .collect()
}

fn assert_no_secret(runner: &Runner, job: &JobRun, secrets: &[String]) {
    let mut sent = String::new();
    for entry in fs::read_dir(&runner.gh_dir).expect("gh dir").flatten() {
        sent.push_str(&fs::read_to_string(entry.path()).unwrap_or_default());
    }
    let all = format!("{}{sent}", job.all_output());
    for secret in secrets {
        assert!(!all.contains(secret.as_str()), "a secret was printed");
    }
    assert!(
        !runner.runner_temp.join("mpctl-credentials").exists(),
        "the key files are removed at the end of the job"
    );
}

#[test]
fn user_workflows_plan_apply_test_then_prod_and_watch_drift() {
    let mut runner = Runner::new();
    let test = ServedEmulator::start(&runner.root.path().join("emulator-test"));
    let prod = ServedEmulator::start(&runner.root.path().join("emulator-prod"));
    for (env, emulator) in [("TEST", &test), ("PROD", &prod)] {
        runner
            .secrets
            .insert(format!("MPCTL_{env}_CLIENT_ID"), emulator.client_id.clone());
        runner
            .secrets
            .insert(format!("MPCTL_{env}_KEY_ID"), emulator.key_id.clone());
        runner
            .secrets
            .insert(format!("MPCTL_{env}_KEY"), emulator.private_key_pem.clone());
    }
    let secrets: Vec<String> = secret_lines(&test.private_key_pem)
        .into_iter()
        .chain(secret_lines(&prod.private_key_pem))
        .collect();
    assert!(secrets.len() > 10);
    let manifests = runner.workspace.join("manifests");
    fs::create_dir_all(&manifests).expect("dir");
    let file = manifests.join("mpctl.yaml");
    fs::write(&file, manifest(&test, &prod, "Create and change orders")).expect("write");

    // Pull request: validate, plan both environments, one comment.
    let job = runner.run_job("examples/github/plan.yml", "plan");
    assert!(job.succeeded, "{}", job.describe());
    assert_eq!(
        job.step("plan").outputs["exit-code"],
        "2",
        "{}",
        job.describe()
    );
    let plan = fs::read_to_string(&job.step("plan").outputs["plan-markdown-file"]).expect("plan");
    assert_eq!(plan.lines().next(), Some("<!-- mpctl-plan -->"));
    for env in ["<b>test</b>", "<b>prod</b>"] {
        assert!(plan.contains(env), "{plan}");
    }
    assert_no_secret(&runner, &job, &secrets);
    let calls = runner.take_gh_calls();
    assert!(calls[2].args.contains("--method POST"), "{calls:?}");
    let saved = runner.runner_temp.join("mpctl-plan.json");
    let saved_text = fs::read_to_string(&saved).expect("the plan is saved for apply");
    assert!(
        secrets
            .iter()
            .all(|line| !saved_text.contains(line.as_str())),
        "no secret in the saved plan"
    );
    runner.set_artifact_file("mpctl-plan.json", &saved);

    // Merge: the reviewed plan is applied to test, then to prod, each reported on the pull
    // request.
    runner
        .github
        .insert("github.event_name".into(), "push".into());
    for env in ["test", "prod"] {
        let job = runner.run_job("examples/github/apply.yml", env);
        assert!(job.succeeded, "{env}: {}", job.describe());
        assert_eq!(job.step("apply").outputs["exit-code"], "0");
        assert!(
            job.step("reviewed").outputs["source"].contains("--replan-if-same"),
            "{}",
            job.describe()
        );
        let calls = runner.take_gh_calls();
        let report = calls.last().expect("a report");
        assert!(report.args.contains("issues/17/comments"), "{calls:?}");
        assert!(
            report
                .input
                .as_deref()
                .unwrap_or_default()
                .contains(&format!("applied to `{env}`")),
            "{calls:?}"
        );
        assert!(
            job.summary.contains(&format!("Applied {env}")),
            "{}",
            job.summary
        );
        assert!(!job.summary.contains(if env == "test" {
            "Applied prod"
        } else {
            "Applied test"
        }));
        assert_no_secret(&runner, &job, &secrets);
    }

    // The next push: nothing to do, the comment is updated in place.
    runner.set_comments(&json!([{"id": 41, "user": {"type": "Bot"}, "body": plan}]));
    let job = runner.run_job("examples/github/plan.yml", "plan");
    assert!(job.succeeded, "{}", job.describe());
    assert_eq!(
        job.step("plan").outputs["exit-code"],
        "0",
        "{}",
        job.describe()
    );
    let calls = runner.take_gh_calls();
    assert!(
        calls[2].args.contains("--method PATCH") && calls[2].args.contains("/comments/41"),
        "{calls:?}"
    );

    // Drift: none.
    let job = runner.run_job("examples/github/drift.yml", "drift");
    assert!(job.succeeded, "{}", job.describe());
    assert_eq!(
        job.step("drift").outputs["exit-code"],
        "0",
        "{}",
        job.describe()
    );
    assert_eq!(
        runner.take_gh_calls().len(),
        1,
        "only looked for an open issue"
    );

    // A change in prod behind the manifest's back (an edited copy applied to prod only).
    let edited = runner.root.path().join("edited");
    fs::create_dir_all(&edited).expect("dir");
    fs::write(
        edited.join("mpctl.yaml"),
        manifest(&test, &prod, "Changed by hand in the portal"),
    )
    .expect("write");
    let out = crate::support::mpctl(&["apply"])
        .arg(&edited)
        .args(["--env", "prod", "--yes"])
        .env("MPCTL_PROD_CLIENT_ID", &prod.client_id)
        .env("MPCTL_PROD_KEY_ID", &prod.key_id)
        .env(
            "MPCTL_PROD_KEY_FILE",
            runner.root.path().join("emulator-prod/admin-910753282.pem"),
        )
        .output()
        .expect("apply the edited copy");
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let job = runner.run_job("examples/github/drift.yml", "drift");
    assert!(job.succeeded, "{}", job.describe());
    assert_eq!(
        job.step("drift").outputs["exit-code"],
        "2",
        "{}",
        job.describe()
    );
    let calls = runner.take_gh_calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    let issue = calls[2].body_file.as_deref().expect("issue body");
    assert!(issue.contains("acme:orders.write"), "{issue}");
    assert!(issue.contains("<b>prod</b> — Drift"), "{issue}");
    assert_no_secret(&runner, &job, &secrets);
}
