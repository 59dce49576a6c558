//! Applies to one environment never run at once: the self-service API has no lock, and two
//! applies racing each other can create a client twice. Every ready workflow (and the
//! repository's own) that applies holds one fixed concurrency group for all its runs and never
//! cancels a running apply; the docs say why.

use crate::support::gitops as gitops_support;

use gitops_support::{read, repo_root};
use serde_yaml_ng::Value;

/// Whether a workflow runs `mpctl apply` (through the action or on the command line).
fn applies(workflow: &Value) -> bool {
    let Some(jobs) = workflow.get("jobs").and_then(Value::as_mapping) else {
        return false;
    };
    jobs.values()
        .filter_map(|job| job.get("steps").and_then(Value::as_sequence))
        .flatten()
        .any(|step| {
            let command = step
                .get("with")
                .and_then(|w| w.get("command"))
                .and_then(Value::as_str)
                .is_some_and(|c| c.trim_start().starts_with("apply"));
            let run = step
                .get("run")
                .and_then(Value::as_str)
                .is_some_and(|r| r.contains("mpctl apply"));
            command || run
        })
}

fn workflows() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["examples/github", ".github/workflows"] {
        for entry in std::fs::read_dir(repo_root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                out.push(format!(
                    "{dir}/{}",
                    path.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_workflow_that_applies_runs_one_apply_at_a_time() {
    let mut applying = Vec::new();
    for file in workflows() {
        let workflow: Value = serde_yaml_ng::from_str(&read(&file)).unwrap();
        if !applies(&workflow) {
            continue;
        }
        applying.push(file.clone());
        let concurrency = workflow.get("concurrency").unwrap_or_else(|| {
            panic!("{file}: applies without a workflow-level concurrency group")
        });
        let group = concurrency
            .get("group")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{file}: the concurrency has no group"));
        // One group for every run: an expression of the run, commit or ref would let two
        // applies of the same environments run at once.
        for per_run in [
            "github.run",
            "github.sha",
            "github.ref",
            "github.event",
            "github.head_ref",
        ] {
            assert!(
                !group.contains(per_run),
                "{file}: group `{group}` varies per run"
            );
        }
        assert_eq!(
            concurrency
                .get("cancel-in-progress")
                .and_then(Value::as_bool),
            Some(false),
            "{file}: a running apply must wait, never be cancelled half-way"
        );
    }
    assert!(
        applying.contains(&"examples/github/apply.yml".to_owned())
            && applying.contains(&".github/workflows/apply.yml".to_owned()),
        "the apply workflows are recognised: {applying:?}"
    );
}

#[test]
fn the_docs_say_applies_to_one_environment_must_be_serialised() {
    for doc in ["docs/gitops.md", "docs/plan-and-apply.md"] {
        let text = read(doc);
        assert!(
            text.contains("one apply per environment at a time"),
            "{doc} says to serialise applies"
        );
    }
}
