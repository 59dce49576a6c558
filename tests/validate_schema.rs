//! The committed manifest schema (`schema/mpctl.schema.json`) is what editors use: it must be
//! exactly what the code generates, and a usable JSON Schema.

#[test]
fn committed_schema_is_up_to_date() {
    let committed = std::fs::read_to_string("schema/mpctl.schema.json").unwrap_or_default();
    let generated = mpctl::schema::manifest_schema_text();
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
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mpctl"))
        .arg("schema")
        .output()
        .expect("run mpctl");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        mpctl::schema::manifest_schema_text()
    );
}

#[test]
fn schema_command_writes_into_a_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mpctl"))
        .args(["schema", "--write"])
        .arg(dir.path())
        .output()
        .expect("run mpctl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(dir.path().join("mpctl.schema.json")).expect("written");
    assert_eq!(written, mpctl::schema::manifest_schema_text());
    // Both schemas are written, so that the committed directory can be regenerated at once.
    let plan = std::fs::read_to_string(dir.path().join("plan.schema.json")).expect("written");
    let committed = std::fs::read_to_string("schema/plan.schema.json").expect("committed");
    assert_eq!(plan, committed);
}

#[test]
fn schema_command_prints_the_plan_schema_with_plan() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mpctl"))
        .args(["schema", "--plan"])
        .output()
        .expect("run mpctl");
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(printed, mpctl::plan::json_schema());
}
