//! The committed manifest schema (`schema/mpctl.schema.json`) is what editors use: it must be
//! exactly what the code generates, and a usable JSON Schema.

use crate::support::mpctl;

#[test]
fn committed_schema_is_up_to_date() {
    let committed = std::fs::read_to_string("schema/mpctl.schema.json").unwrap_or_default();
    let generated = mpctl::manifest::schema::manifest_schema_text();
    assert!(
        committed == generated,
        "schema/mpctl.schema.json is stale: regenerate it with `cargo run -- schema --write schema/` and commit it"
    );
}

#[test]
fn committed_schema_compiles_and_accepts_the_quickstart() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("schema/mpctl.schema.json").expect("schema file"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let text = std::fs::read_to_string("examples/quickstart.yaml").expect("example");
    let parsed = mpctl::manifest::yaml::parse(&text).expect("valid YAML");
    assert!(validator.is_valid(&parsed.value));
    let broken = serde_json::json!({"version": 1, "organization": "910753282", "scopes": {}});
    assert!(!validator.is_valid(&broken));
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = mpctl(&["schema"]).output().expect("run mpctl");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        mpctl::manifest::schema::manifest_schema_text()
    );
}

#[test]
fn schema_command_writes_into_a_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = mpctl(&["schema", "--write"])
        .arg(dir.path())
        .output()
        .expect("run mpctl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(dir.path().join("mpctl.schema.json")).expect("written");
    assert_eq!(written, mpctl::manifest::schema::manifest_schema_text());
    // Both schemas are written, so that the committed directory can be regenerated at once.
    let plan = std::fs::read_to_string(dir.path().join("plan.schema.json")).expect("written");
    let committed = std::fs::read_to_string("schema/plan.schema.json").expect("committed");
    assert_eq!(plan, committed);
}

#[test]
fn schema_command_prints_the_plan_schema_with_plan() {
    let out = mpctl(&["schema", "--plan"]).output().expect("run mpctl");
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(printed, mpctl::plan::json_schema());
}

#[test]
fn committed_part_schema_is_up_to_date_and_needs_no_version() {
    let committed = std::fs::read_to_string("schema/mpctl-part.schema.json").unwrap_or_default();
    assert!(
        committed == mpctl::manifest::schema::part_schema_text(),
        "schema/mpctl-part.schema.json is stale: regenerate it with `cargo run -- schema --write schema/` and commit it"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    assert!(validator.is_valid(&serde_json::json!({"clients": [{"name": "sync"}]})));
    assert!(!validator.is_valid(&serde_json::json!({"clients": [{"nam": "sync"}]})));
}

/// Every example file names its schema in a `yaml-language-server` header, and passes it when
/// checked as an editor would: YAML read by another parser (serde_yaml_ng), the committed schema
/// file the header points at, and a JSON Schema validator — not mpctl's loader.
#[test]
fn every_example_file_passes_the_schema_its_header_names() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                // GitHub workflows are not manifests.
                if path.file_name().is_some_and(|n| n != "github") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(std::path::Path::new("examples"), &mut files);
    assert!(files.len() >= 6, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("example");
        let header = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# yaml-language-server: $schema="))
            .unwrap_or_else(|| panic!("{} has no schema header", file.display()));
        let schema_path = file.parent().unwrap().join(header.trim());
        let schema: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&schema_path)
                .unwrap_or_else(|e| panic!("{}: {}: {e}", file.display(), schema_path.display())),
        )
        .expect("schema is JSON");
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let document: serde_json::Value = serde_yaml_ng::from_str(&text).expect("YAML");
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
}
