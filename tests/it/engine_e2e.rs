//! End to end: the real `mpctl` binary against an in-process emulator (environment `emu`,
//! pointed at it by URL, with the organisation's bootstrap admin credentials in `MPCTL_EMU_*`),
//! checking what users rely on: apply then plan shows nothing, exit codes of plan/apply/drift,
//! saved plans refused when stale, protected resources, the mass-destroy threshold, and an
//! apply interrupted by faults that converges when run again.

use std::time::Duration;

use mpctl::api::SelfService;
use mpctl::api::connect::connect_with;
use mpctl::api::credentials::Credentials;
use mpctl::apply::{Progress, execute};
use mpctl::emulator::{EmulatorConfig, FaultConfig};
use mpctl::manifest::orgno::OrgNo;
use mpctl::plan::diff::diff_for_org;
use mpctl::plan::{Change, Phase};
use mpctl::state::resolve::resolve;
use serde_json::json;

use crate::support::emulator as emulator_support;
use crate::support::{ORG, OutputExt, TestContext};

const MANIFEST: &str = r#"
version: 1
organization: "910753282"
prefixes: [acme]
environments:
  ENVIRONMENTS
contacts:
  notifications: [drift@acme.example.no]
scopes:
  - name: acme:orders.read
    description: Read orders
    grants: ["910753282", "974760673"]
  - name: acme:orders.write
    description: Write orders
    grants: ["910753282"]
clients:
  - name: order-sync
    description: Nightly order sync
    scopes: [acme:orders.read, acme:orders.write]
"#;

/// The `emu` environment's emulator, with the contacts extension, and a working directory.
fn start() -> TestContext {
    TestContext::new().with_emulator_config(
        "emu",
        EmulatorConfig {
            contacts_extension: true,
            ..EmulatorConfig::default()
        },
    )
}

#[test]
fn apply_then_plan_shows_no_changes_and_exit_codes_follow() {
    let h = start();
    h.write("mpctl.yaml", MANIFEST);

    let plan = h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 2);
    assert!(
        plan.text().contains("+ create scope acme:orders.read"),
        "{}",
        plan.text()
    );
    h.run_expecting(&["plan", "mpctl.yaml"], 0);

    let apply = h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    assert!(apply.text().contains("Applied emu"), "{}", apply.text());

    let again = h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 0);
    assert!(again.text().contains("No changes"), "{}", again.text());

    let drift = h.run_expecting(&["drift", "mpctl.yaml"], 0);
    assert!(drift.text().contains("No drift"), "{}", drift.text());

    // Nothing to do: apply succeeds without touching anything.
    let noop = h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    assert!(noop.text().contains("Nothing to apply"), "{}", noop.text());

    // The manifest moves on: drift reports it (exit 2) in Markdown for an issue.
    h.write(
        "mpctl.yaml",
        &MANIFEST.replace("Write orders", "Create and change orders"),
    );
    let drift = h.run_expecting(&["drift", "mpctl.yaml", "--format", "markdown"], 2);
    let out = String::from_utf8_lossy(&drift.stdout);
    assert!(out.starts_with("<!-- mpctl-plan -->"), "{out}");
    assert!(
        out.contains("scope acme:orders.write was changed outside mpctl"),
        "{out}"
    );

    let json = h.run_expecting(&["plan", "mpctl.yaml", "--format", "json"], 0);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["environments"][0]["env"], "emu");
    assert_eq!(value["environments"][0]["changes"][0]["kind"], "update");
}

#[test]
fn apply_off_a_terminal_without_yes_is_refused() {
    let h = start();
    h.write("mpctl.yaml", MANIFEST);
    let apply = h.run_expecting(&["apply", "mpctl.yaml"], 1);
    assert!(apply.text().contains("--yes"), "{}", apply.text());
    let plan = h.run(&["plan", "mpctl.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code(), 2, "nothing was applied: {}", plan.text());
}

#[test]
fn a_saved_plan_applies_while_fresh_and_is_refused_when_stale() {
    let h = start();
    h.write("mpctl.yaml", MANIFEST);
    h.run_expecting(&["plan", "mpctl.yaml", "--out", "plan.json"], 0);
    let file = std::fs::read_to_string(h.path().join("plan.json")).unwrap();
    assert!(!file.contains("PRIVATE KEY"), "no secrets in a saved plan");

    // Live changes behind the plan's back: a different apply creates the scopes first.
    let other = MANIFEST.replace("\"974760673\"", "\"991825827\"");
    h.write("mpctl.yaml", &other);
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    h.write("mpctl.yaml", MANIFEST);
    let stale = h.run_expecting(&["apply", "plan.json"], 1);
    assert!(stale.text().contains("stale"), "{}", stale.text());
    assert!(
        stale.text().contains("mpctl::plan::stale"),
        "{}",
        stale.text()
    );
    assert!(
        stale.text().contains("no longer needed"),
        "{}",
        stale.text()
    );

    // A fresh saved plan applies without --yes.
    h.run_expecting(&["plan", "mpctl.yaml", "--out", "plan.json"], 0);
    h.run_expecting(&["apply", "plan.json"], 0);
    h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 0);

    // The manifest changes after saving: refused too.
    h.run_expecting(&["plan", "mpctl.yaml", "--out", "plan.json"], 0);
    h.write(
        "mpctl.yaml",
        &MANIFEST.replace("Read orders", "Read all orders"),
    );
    let refused = h.run_expecting(&["apply", "plan.json"], 1);
    assert!(refused.text().contains("manifest"), "{}", refused.text());
}

#[test]
fn a_reviewed_plan_applies_after_a_merge_only_while_it_makes_the_same_changes() {
    let h = start();
    h.write("mpctl.yaml", MANIFEST);
    h.run_expecting(&["plan", "mpctl.yaml", "--out", "plan.json"], 0);

    // The merge moved the manifest on (another change to main), without changing what to do.
    h.write(
        "mpctl.yaml",
        &format!("{MANIFEST}settings:\n  warn_expiry_days: 10\n"),
    );
    let stale = h.run_expecting(&["apply", "plan.json"], 1);
    assert!(stale.text().contains("pass --replan-"), "{}", stale.text());
    let no_plan = h.run_expecting(&["apply", "mpctl.yaml", "--replan-if-same", "--yes"], 64);
    assert!(
        no_plan.text().contains("no saved plan"),
        "{}",
        no_plan.text()
    );
    let missing = h.run_expecting(&["apply", "gone.json", "--replan-if-same", "--yes"], 64);
    assert!(
        missing.text().contains("gone.json does not exist"),
        "{}",
        missing.text()
    );
    let unknown = h.run_expecting(
        &["apply", "plan.json", "--replan-if-same", "--env", "prod"],
        64,
    );
    assert!(
        unknown.text().contains("no environment `prod`"),
        "{}",
        unknown.text()
    );
    let applied = h.run_expecting(
        &["apply", "plan.json", "--replan-if-same", "--env", "emu"],
        0,
    );
    assert!(
        applied
            .text()
            .contains("the changes to make are the same ones"),
        "{}",
        applied.text()
    );
    h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 0);

    // Reviewed: one description; merged: another. The fresh plan is not the reviewed one.
    h.write(
        "mpctl.yaml",
        &MANIFEST.replace("Read orders", "Read the orders"),
    );
    h.run_expecting(&["plan", "mpctl.yaml", "--out", "plan.json"], 0);
    h.write(
        "mpctl.yaml",
        &MANIFEST.replace("Read orders", "Read all orders"),
    );
    let refused = h.run_expecting(&["apply", "plan.json", "--replan-if-same"], 1);
    let refusal = refused.text();
    assert!(refusal.contains("not the ones reviewed"), "{refusal}");
    assert!(refusal.contains("nothing was applied"), "{refusal}");
    assert!(refusal.contains("\"Read the orders\""), "{refusal}");
    assert!(refusal.contains("\"Read all orders\""), "{refusal}");
    let plan = h.run(&["plan", "mpctl.yaml", "--format", "json"]);
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("\"Read orders\""),
        "nothing was applied: {}",
        plan.text()
    );

    // Live state moved behind the plan's back so that the reviewed change is already done.
    h.write(
        "mpctl.yaml",
        &MANIFEST.replace("Read orders", "Read the orders"),
    );
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    let refused = h.run_expecting(&["apply", "plan.json", "--replan-if-same"], 1);
    assert!(
        refused.text().contains("reviewed, no longer planned"),
        "{}",
        refused.text()
    );
}

#[test]
fn protected_scopes_refuse_revocation() {
    let protected = MANIFEST.replace(
        "    description: Read orders\n",
        "    description: Read orders\n    protected: true\n",
    );
    let h = start();
    h.write("mpctl.yaml", &protected);
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    h.write("mpctl.yaml", &protected.replace(", \"974760673\"", ""));
    let plan = h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 1);
    assert!(
        plan.text().contains("protected scope `acme:orders.read`"),
        "{}",
        plan.text()
    );
    let apply = h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 1);
    assert!(
        apply.text().contains("nothing was applied"),
        "{}",
        apply.text()
    );
}

#[test]
fn mass_destruction_needs_the_flag() {
    let h = start();
    h.write("mpctl.yaml", MANIFEST);
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    let gone = "version: 1\norganization: \"910753282\"\nprefixes: [acme]\nenvironments:\n  ENVIRONMENTS\nsettings:\n  prune: true\n";
    h.write("mpctl.yaml", gone);
    let refused = h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 1);
    assert!(
        refused.text().contains("--allow-mass-destroy"),
        "{}",
        refused.text()
    );
    assert!(
        refused.text().contains("mpctl::apply::mass_destroy"),
        "the refusal names its code: {}",
        refused.text()
    );
    let plan = h.run(&["plan", "mpctl.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code(), 2, "nothing was deactivated: {}", plan.text());

    h.run_expecting(&["apply", "mpctl.yaml", "--yes", "--allow-mass-destroy"], 0);
    h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 0);
}

#[test]
fn apply_in_json_prints_one_document_whether_it_applies_refuses_or_has_nothing_to_do() {
    let h = start();
    h.write("mpctl.yaml", MANIFEST);
    let json = |out: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.text()))
    };

    let applied = h.run_expecting(&["apply", "mpctl.yaml", "--yes", "--format", "json"], 0);
    let doc = json(&applied);
    assert_eq!(doc["refused"], serde_json::Value::Null);
    assert_eq!(doc["applied"][0]["env"], "emu");
    assert_eq!(doc["applied"][0]["succeeded"], true);
    assert_eq!(doc["plan"]["version"], 1);

    let noop = h.run_expecting(&["apply", "mpctl.yaml", "--yes", "--format", "json"], 0);
    let doc = json(&noop);
    assert_eq!(doc["applied"], serde_json::json!([]));
    assert_eq!(doc["refused"], serde_json::Value::Null);
    assert_eq!(
        doc["plan"]["environments"][0]["changes"],
        serde_json::json!([])
    );

    // Refused by the mass-destroy guard: the plan that was refused, and why.
    h.write("mpctl.yaml", "version: 1\norganization: \"910753282\"\nprefixes: [acme]\nenvironments:\n  ENVIRONMENTS\nsettings:\n  prune: true\n");
    let refused = h.run_expecting(&["apply", "mpctl.yaml", "--yes", "--format", "json"], 1);
    let doc = json(&refused);
    assert_eq!(doc["applied"], serde_json::json!([]));
    let why = doc["refused"].as_str().unwrap_or_default();
    assert!(why.contains("nothing was applied"), "{why}");
    assert!(
        !doc["plan"]["environments"][0]["changes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn plan_drift_and_apply_exit_1_on_an_invalid_manifest() {
    let h = start();
    h.write(
        "mpctl.yaml",
        "version: 1\norganization: \"123\"\nenvironments:\n  ENVIRONMENTS\n",
    );
    for args in [
        vec!["plan", "mpctl.yaml"],
        vec!["drift", "mpctl.yaml"],
        vec!["apply", "mpctl.yaml", "--yes"],
    ] {
        let out = h.run(&args);
        assert_eq!(out.code(), 1, "{args:?}: {}", out.text());
    }
}

/// Turns every request into a 503 from the moment a given phase starts.
struct FaultsFrom<'a> {
    emulator: &'a mpctl::emulator::Emulator,
    phase: Phase,
}

impl Progress for FaultsFrom<'_> {
    fn phase(&self, _env: &str, phase: Phase, _count: usize) {
        if phase == self.phase {
            self.emulator.set_faults(FaultConfig {
                error_rate: 1.0,
                seed: 7,
                ..FaultConfig::default()
            });
        }
    }

    fn finished(&self, _change: &Change, _error: Option<&str>) {}
}

#[test]
fn an_apply_broken_mid_way_stops_before_the_next_phase_and_a_rerun_converges() {
    let h = start();
    let mut manifest = MANIFEST.to_owned();
    for i in 0..6 {
        manifest.push_str(&format!(
            "  - name: worker-{i}\n    description: Worker {i}\n    scopes: [acme:orders.read]\n"
        ));
    }
    h.write("mpctl.yaml", &manifest);
    let loaded = mpctl::manifest::load(&[h.path().join("mpctl.yaml")]).unwrap();
    let org = OrgNo::new_unchecked(ORG);
    let key_file = h.path().join("emu-admin.pem").display().to_string();
    let credentials = Credentials::from_lookup("emu", |var| match var {
        "MPCTL_EMU_CLIENT_ID" => Some(h.emulator("emu").admin.client_id.clone()),
        "MPCTL_EMU_KEY_FILE" => Some(key_file.clone()),
        "MPCTL_EMU_KEY_ID" => Some(h.emulator("emu").admin.kid.clone()),
        _ => None,
    })
    .unwrap();
    let options = emulator_support::connect_options(h.emulator("emu"), &org);
    let report = h.runtime().block_on(async {
        let connection = connect_with(options, credentials, None).await.unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let live = connection.client.fetch().await.unwrap();
        let desired = resolve(&loaded, "emu", now);
        let mut plan = diff_for_org(Some(&org), &desired, &live, &loaded.manifest.settings, now);
        plan.env = "emu".into();
        assert!(plan.errors.is_empty(), "{:#?}", plan.errors);
        let progress = FaultsFrom {
            emulator: &h.emulator("emu").emulator,
            phase: Phase::Grants,
        };
        execute(&plan, &connection.client, 4, &progress).await
    });
    assert!(!report.succeeded());
    assert!(
        report.done.iter().all(|c| c.phase == Phase::Scopes),
        "{report:#?}"
    );
    assert!(
        report
            .failed
            .iter()
            .all(|f| f.change.phase == Phase::Grants),
        "{report:#?}"
    );
    assert!(
        report.not_done.iter().any(|c| c.phase == Phase::Clients),
        "{report:#?}"
    );
    let audit = h.emulator("emu").audit();
    assert!(
        !audit.iter().any(|e| e.operation == "create_client"),
        "{audit:#?}"
    );
    let rendered = mpctl::render::human::render_report(&report, false);
    assert!(rendered.contains("stopped"), "{rendered}");
    assert!(rendered.contains("not done"), "{rendered}");

    h.emulator("emu").set_faults(FaultConfig::default());
    let plan = h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 2);
    assert!(
        !plan.text().contains("create scope"),
        "phase 1 was done: {}",
        plan.text()
    );
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 0);
    let creates = h
        .emulator("emu")
        .audit()
        .into_iter()
        .filter(|e| e.operation == "create_client")
        .count();
    assert_eq!(creates, 7, "every client created once");
}

#[test]
fn apply_survives_random_faults_without_duplicates_and_converges() {
    let h = start();
    h.write("mpctl.yaml", MANIFEST);
    // Faults after the token: the first requests succeed, then a share fails or loses its
    // answer after the change was made; retries and re-reads must not create twice.
    h.emulator("emu").set_faults(FaultConfig {
        error_rate: 0.2,
        drop_after_rate: 0.2,
        seed: 11,
        ..FaultConfig::default()
    });
    let first = h.run(&["apply", "mpctl.yaml", "--yes"]);
    assert!(matches!(first.code(), 0 | 1), "{}", first.text());
    h.emulator("emu").set_faults(FaultConfig::default());
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 0);
    let creates = h
        .emulator("emu")
        .audit()
        .into_iter()
        .filter(|e| e.operation == "create_client")
        .count();
    assert_eq!(creates, 1, "the client was created once");
}

/// A public JWK of a fresh RSA-2048 key, as a client key file holds it.
fn public_jwk(kid: &str) -> String {
    use base64::Engine as _;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    serde_json::json!({
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
        "n": b64(key.n().to_bytes_be()),
        "e": b64(key.e().to_bytes_be()),
    })
    .to_string()
}

#[test]
fn key_expiry_is_reported_at_the_right_thresholds_and_refreshed_by_apply() {
    let h = start();
    std::fs::create_dir_all(h.path().join("keys")).unwrap();
    std::fs::write(
        h.path().join("keys/sync.jwk.json"),
        public_jwk("sync-key-1"),
    )
    .unwrap();
    h.write(
        "mpctl.yaml",
        &format!(
            "{MANIFEST}  - name: sync\n    description: Sync\n    keys: [keys/sync.jwk.json]\n"
        ),
    );
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    let now = |h: &TestContext| {
        h.emulator("emu")
            .clock()
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let drift = h.run_with(&["drift", "mpctl.yaml"], &[("MPCTL_NOW", now(&h))]);
    assert_eq!(drift.code(), 0, "{}", drift.text());
    assert!(
        drift.text().contains("sync / sync-key-1: JWK exp"),
        "{}",
        drift.text()
    );

    // 340 days on, the key (registered for a year) has under 30 days left.
    h.emulator("emu")
        .clock()
        .advance(Duration::from_secs(340 * 86_400));
    let at = [("MPCTL_NOW", now(&h))];
    let drift = h.run_with(&["drift", "mpctl.yaml"], &at);
    assert_eq!(drift.code(), 2, "{}", drift.text());
    assert!(drift.text().contains("EXPIRING"), "{}", drift.text());
    assert!(
        drift
            .text()
            .contains("key sync-key-1 of client sync is close to its expiry"),
        "{}",
        drift.text()
    );

    let json = |extra: &[&str]| {
        let mut args = vec!["plan", "mpctl.yaml", "--format", "json"];
        args.extend_from_slice(extra);
        let out = h.run_with(&args, &at);
        assert_eq!(out.code(), 0, "{}", out.text());
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        value["environments"][0]["key_expiries"][0].clone()
    };
    let key = json(&[]);
    assert_eq!(key["status"], "expiring", "{key}");
    assert!(
        matches!(key["jwk_exp_days_left"].as_i64(), Some(24 | 25)),
        "{key}"
    );
    assert_eq!(json(&["--warn-expiry-days", "10"])["status"], "ok");

    let markdown = h.run_with(&["drift", "mpctl.yaml", "--format", "markdown"], &at);
    assert_eq!(markdown.code(), 2, "{}", markdown.text());
    assert!(
        markdown.text().contains("⚠️ EXPIRING"),
        "{}",
        markdown.text()
    );

    // Apply registers the key again, which moves its expiry a year ahead: no drift left.
    let apply = h.run_with(&["apply", "mpctl.yaml", "--yes"], &at);
    assert_eq!(apply.code(), 0, "{}", apply.text());
    let drift = h.run_with(&["drift", "mpctl.yaml"], &at);
    assert_eq!(drift.code(), 0, "{}", drift.text());

    // Past its expiry without a refresh, the key is expired.
    h.emulator("emu")
        .clock()
        .advance(Duration::from_secs(366 * 86_400));
    let drift = h.run_with(&["drift", "mpctl.yaml"], &[("MPCTL_NOW", now(&h))]);
    assert_eq!(drift.code(), 2, "{}", drift.text());
    assert!(drift.text().contains("EXPIRED"), "{}", drift.text());
}

/// A request to the emulator's API by hand, as the organisation's admin: (status, JSON answer).
fn by_hand(
    h: &TestContext,
    method: reqwest::Method,
    path_and_query: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let admin = h.emulator("emu").admin.clone();
    h.runtime().block_on(async {
        let http = reqwest::Client::new();
        let token = emulator_support::admin_token(
            &h.emulator("emu").emulator,
            &http,
            &admin,
            emulator_support::ADMIN_SCOPES,
        )
        .await;
        let mut request = http
            .request(
                method,
                format!("{}{path_and_query}", h.emulator("emu").api_url()),
            )
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_default())
    })
}

#[test]
fn a_scope_update_keeps_the_fields_the_manifest_does_not_manage() {
    let h = start();
    h.write("mpctl.yaml", MANIFEST);
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    let path = "/scopes?scope=acme%3Aorders.read";
    // Set by hand in the portal, say: fields the manifest leaves alone.
    let (status, mut scope) = by_hand(&h, reqwest::Method::GET, path, None);
    assert_eq!(status, 200, "{scope}");
    for (field, value) in [
        ("long_description", json!("Orders, read-only, for partners")),
        ("delegation_source", json!("https://www.altinn.no")),
        (
            "allowed_integration_types",
            json!(["maskinporten", "api_klient"]),
        ),
        ("visibility", json!("PRIVATE")),
        ("at_max_age", json!(300)),
        ("requires_user_consent", json!(true)),
    ] {
        scope[field] = value;
    }
    let (status, answer) = by_hand(&h, reqwest::Method::PUT, path, Some(scope.clone()));
    assert_eq!(status, 200, "{answer}");
    // The emulator's PUT replaces the whole scope: a partial update would reset these.
    let (_, partial) = by_hand(
        &h,
        reqwest::Method::PUT,
        "/scopes?scope=acme%3Aorders.write",
        Some(
            json!({"prefix": "acme", "subscope": "orders.write", "description": "Write orders", "visibility": "PRIVATE"}),
        ),
    );
    assert_eq!(partial["visibility"], "PRIVATE");

    h.write(
        "mpctl.yaml",
        &MANIFEST.replace("Read orders", "Read all orders"),
    );
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    let (_, after) = by_hand(&h, reqwest::Method::GET, path, None);
    assert_eq!(after["description"], "Read all orders");
    for field in [
        "long_description",
        "delegation_source",
        "allowed_integration_types",
        "visibility",
        "at_max_age",
        "requires_user_consent",
    ] {
        assert_eq!(after[field], scope[field], "{field} was reset: {after}");
    }
    h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 0);
}

/// Active clients of the organisation by name (the bootstrap admin left out).
fn active_clients(h: &TestContext) -> std::collections::BTreeMap<String, Vec<String>> {
    let (_, clients) = by_hand(h, reqwest::Method::GET, "/clients", None);
    let mut by_name: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for c in clients.as_array().unwrap() {
        let id = c["client_id"].as_str().unwrap().to_owned();
        if c["active"] == json!(true) && id != h.emulator("emu").admin.client_id {
            by_name
                .entry(c["client_name"].as_str().unwrap().to_owned())
                .or_default()
                .push(id);
        }
    }
    by_name
}

/// Follows the way out the plan gives for live clients sharing a name: pins the first of
/// each under `client_ids` and turns `prune` on, so the others are deactivated.
fn pin_first_of_each(
    manifest: &str,
    duplicates: &std::collections::BTreeMap<String, Vec<String>>,
) -> String {
    let mut out = manifest.replace(
        "clients:\n",
        "settings: { prune: true, mass_destroy_percent: 100 }\nclients:\n",
    );
    for (name, ids) in duplicates {
        out = out.replace(
            &format!("  - name: {name}\n"),
            &format!("  - name: {name}\n    client_ids: {{ emu: {} }}\n", ids[0]),
        );
    }
    out
}

#[test]
fn live_clients_sharing_a_name_are_reported_with_the_way_out_and_never_matched() {
    let h = start();
    h.write("mpctl.yaml", MANIFEST);
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    // A second `order-sync`, as a concurrent apply would leave it.
    let (status, answer) = by_hand(
        &h,
        reqwest::Method::POST,
        "/clients",
        Some(json!({
            "client_name": "order-sync", "description": "Nightly order sync",
            "integration_type": "maskinporten", "application_type": "web",
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "scopes": ["acme:orders.read"]
        })),
    );
    assert!(status < 300, "{answer}");
    let duplicates = active_clients(&h);
    let ids = &duplicates["order-sync"];
    assert_eq!(ids.len(), 2);

    let plan = h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 1);
    let out = plan.text();
    assert!(
        out.contains("2 live clients are named `order-sync`"),
        "{out}"
    );
    for id in ids {
        assert!(out.contains(id.as_str()), "{id} listed: {out}");
    }
    assert!(out.contains("client_ids"), "{out}");
    let before = h.emulator("emu").audit().len();
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 1);
    assert_eq!(
        h.emulator("emu").audit().len(),
        before,
        "nothing changed live"
    );

    // The way out: pin one, prune the other.
    let mut sorted = duplicates.clone();
    sorted.retain(|_, ids| ids.len() > 1);
    h.write("mpctl.yaml", &pin_first_of_each(MANIFEST, &sorted));
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    assert_eq!(active_clients(&h)["order-sync"], vec![ids[0].clone()]);
    h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 0);
}

#[test]
fn two_applies_at_once_leave_no_duplicate_after_a_rerun() {
    let h = start();
    let mut manifest = MANIFEST.to_owned();
    for i in 0..16 {
        manifest.push_str(&format!(
            "  - name: worker-{i:02}\n    description: Worker {i}\n    scopes: [acme:orders.read]\n"
        ));
    }
    // The provider side first (two creates of one scope: the second apply would stop at 409).
    let provider = MANIFEST.split("clients:\n").next().unwrap().to_owned() + "clients: []\n";
    h.write("mpctl.yaml", &provider);
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    h.write("mpctl.yaml", &manifest);
    // Latency, so that the two runs overlap for a while.
    h.emulator("emu").set_faults(FaultConfig {
        latency: Duration::from_millis(15),
        ..FaultConfig::default()
    });
    let (first, second) = std::thread::scope(|s| {
        let a = s.spawn(|| h.run(&["apply", "mpctl.yaml", "--yes"]));
        let b = s.spawn(|| h.run(&["apply", "mpctl.yaml", "--yes"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    h.emulator("emu").set_faults(FaultConfig::default());
    for run in [&first, &second] {
        // Either ran through, or stopped on a client the other one had just created.
        assert!(matches!(run.code(), 0 | 1), "{}", run.text());
        if run.code() == 1 {
            assert!(
                run.text().contains("a live client is named"),
                "{}",
                run.text()
            );
        }
    }
    let plan = h.run(&["plan", "mpctl.yaml", "--detailed-exitcode"]);
    let duplicates: std::collections::BTreeMap<String, Vec<String>> = active_clients(&h)
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .collect();
    if duplicates.is_empty() {
        assert!(matches!(plan.code(), 0 | 2), "{}", plan.text());
    } else {
        // A create raced past the other run's re-read: the plan says so, with the way out,
        // and changes nothing until it is taken.
        assert_eq!(plan.code(), 1, "{}", plan.text());
        for (name, ids) in &duplicates {
            assert!(
                plan.text()
                    .contains(&format!("live clients are named `{name}`")),
                "{}",
                plan.text()
            );
            assert!(plan.text().contains(ids[0].as_str()), "{}", plan.text());
        }
        h.write("mpctl.yaml", &pin_first_of_each(&manifest, &duplicates));
    }
    h.run_expecting(&["apply", "mpctl.yaml", "--yes"], 0);
    h.run_expecting(&["plan", "mpctl.yaml", "--detailed-exitcode"], 0);
    let live = active_clients(&h);
    assert_eq!(live.len(), 17, "{live:#?}");
    assert!(live.values().all(|ids| ids.len() == 1), "{live:#?}");
}
