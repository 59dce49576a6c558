//! `apply` with a saved plan: in `--format json` every refusal prints the one JSON document
//! (the plan, `refused` saying why), and `--base`, which a saved plan has already applied when
//! it was planned, is a usage error.

use std::process::Output;

use crate::support::{TestContext, output_text};

const MANIFEST: &str = "version: 1\norganization: \"910753282\"\nprefixes: [acme]\nenvironments:\n  ENVIRONMENTS\nscopes:\n  - name: acme:orders.read\n    description: Read orders\n";

/// A context with an emulator for `test`, the manifest, and a plan saved from it in `plan.json`.
fn saved_plan() -> TestContext {
    let ctx = TestContext::new().with_emulator("test");
    ctx.write("mpctl.yaml", MANIFEST);
    let out = ctx.run(&["plan", "mpctl.yaml", "--out", "plan.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    ctx
}

/// The one JSON document on stdout of a refused apply (exit 1).
fn refusal(out: &Output) -> serde_json::Value {
    refusal_with(out, 1)
}

/// [`refusal`] with the exit status expected: 64 for a usage error.
fn refusal_with(out: &Output, status: i32) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(status), "{}", output_text(out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {}", output_text(out)));
    assert_eq!(doc["applied"], serde_json::json!([]), "{doc}");
    assert_eq!(doc["not_attempted"], serde_json::json!([]), "{doc}");
    doc
}

fn nothing_applied(ctx: &TestContext) {
    let plan = ctx.run(&["plan", "mpctl.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", output_text(&plan));
}

#[test]
fn a_saved_plan_refused_in_json_prints_the_document() {
    let ctx = saved_plan();

    // The manifest changed since the plan was saved.
    ctx.write(
        "mpctl.yaml",
        &MANIFEST.replace("Read orders", "Read all orders"),
    );
    let doc = refusal(&ctx.run(&["apply", "plan.json", "--format", "json"]));
    let why = doc["refused"].as_str().unwrap_or_default();
    assert!(why.contains("stale"), "{why}");
    assert_eq!(doc["plan"]["version"], 1, "the saved plan: {doc}");
    assert_eq!(
        doc["plan"]["environments"][0]["changes"][0]["resource"]["name"],
        "acme:orders.read"
    );
    ctx.write("mpctl.yaml", MANIFEST);

    // The plan names a manifest outside the directory it is applied from.
    let mut edited: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ctx.path().join("plan.json")).unwrap())
            .unwrap();
    edited["manifest_paths"] = serde_json::json!(["../mpctl.yaml"]);
    ctx.write("edited.json", &edited.to_string());
    let doc = refusal(&ctx.run(&["apply", "edited.json", "--format", "json"]));
    let why = doc["refused"].as_str().unwrap_or_default();
    assert!(why.contains("climbs with `..`"), "{why}");
    assert!(why.contains("nothing was applied"), "{why}");

    // The saved plan has no such environment: a usage error, with the document all the same.
    let out = ctx.run(&["apply", "plan.json", "--env", "prod", "--format", "json"]);
    let doc = refusal_with(&out, 64);
    let why = doc["refused"].as_str().unwrap_or_default();
    assert!(why.contains("no environment `prod`"), "{why}");

    // Without a saved plan, a refusal before planning has no plan to show.
    let doc = refusal(&ctx.run(&["apply", "mpctl.yaml", "--format", "json"]));
    assert_eq!(doc["plan"], serde_json::Value::Null, "{doc}");
    let why = doc["refused"].as_str().unwrap_or_default();
    assert!(why.contains("needs confirmation"), "{why}");

    nothing_applied(&ctx);
    // The untouched plan still applies, and its document has no refusal.
    let out = ctx.run(&["apply", "plan.json", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["refused"], serde_json::Value::Null);
}

#[test]
fn base_with_a_saved_plan_is_a_usage_error() {
    let ctx = saved_plan();
    let out = ctx.run(&["apply", "plan.json", "--base", "HEAD~1"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(64), "{text}");
    assert!(
        text.contains("error: the argument '--base <REF>' cannot be used with a saved plan"),
        "{text}"
    );
    assert!(text.contains("Usage: mpctl apply"), "{text}");
    nothing_applied(&ctx);

    let help = ctx.run(&["apply", "--help"]);
    let words = String::from_utf8_lossy(&help.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(words.contains("Not with a saved plan"), "{words}");
}

#[test]
fn refusals_name_their_code() {
    let ctx = saved_plan();
    let mut edited: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ctx.path().join("plan.json")).unwrap())
            .unwrap();
    edited["manifest_paths"] = serde_json::json!(["/etc/passwd"]);
    ctx.write("edited.json", &edited.to_string());
    for (args, code, status) in [
        (
            &["apply", "mpctl.yaml"][..],
            "mpctl::apply::needs_confirmation",
            1,
        ),
        (
            &["apply", "mpctl.yaml", "--replan-if-same"],
            "mpctl::apply::no_saved_plan",
            64,
        ),
        (
            &["apply", "plan.json", "--env", "prod"],
            "mpctl::plan::environment",
            64,
        ),
        (&["apply", "edited.json"], "mpctl::plan::paths", 1),
    ] {
        let out = ctx.run(args);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(status), "{args:?}: {text}");
        assert!(text.contains(code), "{args:?}: {text}");
    }
    nothing_applied(&ctx);
}
