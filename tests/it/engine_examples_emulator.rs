//! The provider and consumer examples, applied through the real binary to emulators standing in
//! for Digdir's `test` and `prod` (one emulator per environment, reached by URL with each
//! organisation's admin credentials), then planned again: no changes. The provider goes first,
//! as in real life: the consumer's clients can only get scopes that were granted to it.

use std::path::{Path, PathBuf};
use std::process::Output;

use mpctl::emulator::{AdminIdentity, Emulator, EmulatorConfig};
use mpctl::manifest::orgno::OrgNo;

const PROVIDER: &str = "991825827";
const CONSUMER: &str = "974760673";

/// One emulator per environment, with both organisations registered.
struct Environments {
    /// Runs the emulators; they stop when it is dropped.
    _runtime: tokio::runtime::Runtime,
    emulators: Vec<(&'static str, Emulator)>,
    admins: Vec<(&'static str, &'static str, AdminIdentity)>,
    dir: tempfile::TempDir,
}

impl Environments {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut emulators = Vec::new();
        let mut admins = Vec::new();
        for env in ["test", "prod"] {
            let emulator = runtime
                .block_on(Emulator::start(EmulatorConfig {
                    contacts_extension: true,
                    ..EmulatorConfig::default()
                }))
                .unwrap();
            for (org, prefixes) in [(PROVIDER, vec!["weather".to_owned()]), (CONSUMER, vec![])] {
                let admin = runtime
                    .block_on(emulator.bootstrap_org(&OrgNo::new_unchecked(org), &prefixes))
                    .unwrap();
                admins.push((env, org, admin));
            }
            emulators.push((env, emulator));
        }
        Self {
            _runtime: runtime,
            emulators,
            admins,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Copies an example, pointing its `test` and `prod` environments at the emulators.
    fn example(&self, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        let mut text = edit(std::fs::read_to_string(source).unwrap());
        for (env, emulator) in &self.emulators {
            let endpoints = format!(
                "{env}: {{ api_url: \"{}\", token_url: \"{}\", audience: \"{}\" }}",
                emulator.api_url(),
                emulator.token_url(),
                emulator.issuer()
            );
            text = text.replace(&format!("{env}: {{}}"), &endpoints);
        }
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs the binary as `org`, with its admin credentials for both environments.
    fn mpctl(&self, org: &str, args: &[&str]) -> Output {
        let mut command = crate::support::mpctl_in(self.dir.path(), args);
        for (env, admin_org, admin) in &self.admins {
            if *admin_org != org {
                continue;
            }
            let key = self.dir.path().join(format!("{org}-{env}.pem"));
            std::fs::write(&key, admin.private_key_pem.expose()).unwrap();
            let var = |name: &str| format!("MPCTL_{}_{name}", env.to_uppercase());
            command
                .env(var("CLIENT_ID"), &admin.client_id)
                .env(var("KEY_FILE"), &key)
                .env(var("KEY_ID"), &admin.kid);
        }
        command.output().unwrap()
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn apply_then_plan_is_empty(envs: &Environments, org: &str, manifest: &Path) {
    let manifest = manifest.to_str().unwrap();
    let plan = envs.mpctl(org, &["plan", manifest, "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "changes expected:\n{}",
        text(&plan)
    );
    let apply = envs.mpctl(org, &["apply", manifest, "--yes"]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply));
    let again = envs.mpctl(org, &["plan", manifest, "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let drift = envs.mpctl(org, &["drift", manifest]);
    assert_eq!(drift.status.code(), Some(0), "{}", text(&drift));
}

#[test]
fn provider_and_consumer_examples_apply_on_test_and_prod_then_plan_no_changes() {
    let envs = Environments::start();
    let provider = envs.example("provider-only.yaml", |text| text);
    apply_then_plan_is_empty(&envs, PROVIDER, &provider);

    // The example adopts a prod client made in the portal (`client_ids`); a fresh emulator has
    // no such client, so this run lets mpctl create it instead.
    let consumer = envs.example("consumer-only.yaml", |text| {
        text.lines()
            .filter(|line| !line.contains("client_ids:") && !line.contains("prod: 2a4c6e8f"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    apply_then_plan_is_empty(&envs, CONSUMER, &consumer);

    // Each environment got what the manifests ask for there: the test-only scope and client
    // exist in test alone.
    for (env, emulator) in &envs.emulators {
        let operations: Vec<String> = emulator
            .audit()
            .into_iter()
            .map(|entry| format!("{} {}", entry.operation, entry.target))
            .collect();
        let alerts = operations
            .iter()
            .any(|op| op.contains("weather:alerts.write"));
        assert_eq!(alerts, *env == "test", "{env}: {operations:#?}");
    }
}
