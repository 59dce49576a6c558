//! Organisation names beside numbers: from the manifest's `organizations` map and from the
//! names the API gives grants, in plan, apply and drift output and in `import`; and the map's
//! validation (numbers checked, names merged across files).

use std::path::Path;

use crate::support::{TestContext, output_text};
use mpctl::emulator::{Emulator, EmulatorConfig};
use mpctl::manifest::orgno::OrgNo;

const MANIFEST: &str = r#"version: 1
organization: "910753282"
prefixes: [acme]
environments:
  local: {}
organizations:
  "942110464": Trondheim kommune
scopes:
  - name: acme:orders.read
    description: Read orders
    grants: ["910753282", "942110464", "974760673"]
"#;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn plan_apply_and_json_name_the_organisations_the_manifest_names() {
    let ctx = TestContext::new();
    let d = ctx.path();
    write(d, "m.yaml", MANIFEST);

    let plan = ctx.run(&["plan", "m.yaml"]);
    let text = output_text(&plan);
    assert!(
        text.contains("+ grant acme:orders.read to 942110464 (Trondheim kommune)"),
        "{text}"
    );
    assert!(
        text.contains("+ grant acme:orders.read to 974760673\n"),
        "{text}"
    );

    let markdown = output_text(&ctx.run(&["plan", "m.yaml", "--format", "markdown"]));
    assert!(
        markdown.contains("grant acme:orders.read to 942110464 (Trondheim kommune)"),
        "{markdown}"
    );

    let json = ctx.run(&["plan", "m.yaml", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let grants: Vec<&serde_json::Value> = doc["environments"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "grant")
        .map(|c| &c["resource"])
        .collect();
    let named = grants
        .iter()
        .find(|r| r["consumer"] == "942110464")
        .unwrap();
    assert_eq!(named["consumer_name"], "Trondheim kommune");
    let unnamed = grants
        .iter()
        .find(|r| r["consumer"] == "974760673")
        .unwrap();
    assert!(unnamed.get("consumer_name").is_none(), "{unnamed}");

    let apply = ctx.run_expecting(&["apply", "m.yaml", "--yes"], 0);
    assert!(
        output_text(&apply).contains("grant acme:orders.read to 942110464 (Trondheim kommune)"),
        "{}",
        output_text(&apply)
    );
}

/// Names an organisation in the persisted state of the `local` environment, as Digdir's API
/// knows the names of organisations the manifest does not name.
fn name_in_local_emulator(dir: &Path, org: &str, name: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let emulator = Emulator::start(EmulatorConfig {
            state_file: Some(dir.join(".mpctl/emulator/state.json")),
            contacts_extension: true,
            ..EmulatorConfig::default()
        })
        .await
        .unwrap();
        emulator
            .set_org_name(&OrgNo::parse(org).unwrap(), name)
            .await
            .unwrap();
        emulator.shutdown().await.unwrap();
    });
}

#[test]
fn names_the_api_gives_show_in_drift_and_plan_and_import_writes_them() {
    let ctx = TestContext::new();
    let d = ctx.path();
    write(d, "m.yaml", MANIFEST);
    ctx.run_expecting(&["apply", "m.yaml", "--yes"], 0);
    name_in_local_emulator(d, "974760673", "Brønnøysundregistrene");

    // Someone removes the grant from the manifest: the revoke names the consumer.
    write(d, "m.yaml", &MANIFEST.replace(r#", "974760673"]"#, "]"));
    let plan = output_text(&ctx.run(&["plan", "m.yaml"]));
    assert!(
        plan.contains("- revoke acme:orders.read to 974760673 (Brønnøysundregistrene)"),
        "{plan}"
    );
    let drift = output_text(&ctx.run(&["drift", "m.yaml"]));
    assert!(
        drift.contains("974760673 (Brønnøysundregistrene)"),
        "{drift}"
    );

    // import writes the names the API gives the organisations granted access.
    let import = ctx.run_expecting(&["import", "--env", "local", "--org", "910753282"], 0);
    let yaml = String::from_utf8_lossy(&import.stdout);
    assert!(
        yaml.contains("organizations:\n  '974760673': Brønnøysundregistrene\n")
            || yaml.contains("organizations:\n  \"974760673\": Brønnøysundregistrene\n"),
        "{yaml}"
    );
    assert!(
        !yaml.contains("942110464':"),
        "only names the API gave: {yaml}"
    );
}

#[test]
fn the_map_is_validated_and_merged_across_files() {
    let ctx = TestContext::new();
    let d = ctx.path();
    std::fs::create_dir(d.join("m")).unwrap();
    write(
        &d.join("m"),
        "main.yaml",
        &MANIFEST.replace(
            "  \"942110464\": Trondheim kommune\n",
            "  \"942110464\": Trondheim kommune\n  \"942110465\": Typo kommune\n",
        ),
    );
    let out = ctx.run(&["validate", "m"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("`942110465` fails the mod-11 check") && text.contains("main.yaml:8"),
        "{text}"
    );

    write(&d.join("m"), "main.yaml", MANIFEST);
    write(
        &d.join("m"),
        "more.yaml",
        "organizations:\n  \"942110464\": Trondheim kommune\n  \"974760673\": Brreg\n",
    );
    ctx.run_expecting(&["validate", "m"], 0);

    write(
        &d.join("m"),
        "more.yaml",
        "organizations:\n  \"942110464\": Trondheim\n",
    );
    let out = ctx.run(&["validate", "m"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "organisation 942110464 is named \"Trondheim\" here but \"Trondheim kommune\""
        ),
        "{text}"
    );
}

#[test]
fn a_number_of_the_wrong_length_says_what_is_wrong() {
    let ctx = TestContext::new();
    let d = ctx.path();
    write(
        d,
        "m.yaml",
        &MANIFEST.replace(r#""974760673"]"#, r#""94211046"]"#),
    );
    let out = ctx.run(&["validate", "m.yaml"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("an organisation number has exactly 9 digits, `94211046` has 8"),
        "{text}"
    );
    assert!(!text.contains("does not have the form"), "{text}");
}
