//! Admin clients as organisations really have them: one holding only the provider scopes
//! (`idporten:scopes.*`) plans and applies a provider-only manifest, one holding only the
//! consumer scopes (`idporten:dcr.*`) a consumer-only manifest, and a manifest needing a scope
//! the admin client lacks fails before any change, naming the scope. Through the real binary
//! against an in-process emulator whose admin clients hold only those scopes.

use crate::support::emulator as emulator_support;

use emulator_support::{ORG_A, ORG_B, admin_vars, environment_yaml, org, run_mpctl};
use mpctl::emulator::{AdminIdentity, Emulator, EmulatorConfig};

const PROVIDER: &[&str] = &["idporten:scopes.read", "idporten:scopes.write"];
const CONSUMER: &[&str] = &[
    "idporten:dcr.read",
    "idporten:dcr.write",
    "idporten:dcr.modify",
];

struct Setup {
    emu: Emulator,
    /// Organisation A (prefix `acme`), provider-only admin.
    provider: AdminIdentity,
    /// Organisation B, consumer-only admin.
    consumer: AdminIdentity,
    dir: tempfile::TempDir,
}

/// The text with miette's line wrapping undone.
fn flat(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

fn owned(scopes: &[&str]) -> Vec<String> {
    scopes.iter().map(|s| (*s).to_owned()).collect()
}

async fn setup() -> Setup {
    let emu = Emulator::start(EmulatorConfig {
        contacts_extension: true,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let provider = emu
        .bootstrap_org_with_scopes(&org(ORG_A), &["acme".into()], &owned(PROVIDER))
        .await
        .unwrap();
    let consumer = emu
        .bootstrap_org_with_scopes(&org(ORG_B), &[], &owned(CONSUMER))
        .await
        .unwrap();
    Setup {
        emu,
        provider,
        consumer,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Setup {
    fn write(&self, file: &str, org: &str, body: &str) {
        let yaml = format!(
            "version: 1\norganization: \"{org}\"\nenvironments:\n{}{body}",
            environment_yaml("staging", &self.emu)
        );
        std::fs::write(self.dir.path().join(file), yaml).unwrap();
    }

    async fn mpctl(
        &self,
        admin: &AdminIdentity,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> (i32, String, String) {
        let mut vars = admin_vars("staging", admin, self.dir.path());
        vars.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let out = run_mpctl(self.dir.path(), args, &vars).await;
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Mutations the emulator acknowledged for organisation `org`.
    fn changes_by(&self, org: &str) -> usize {
        self.emu.audit().iter().filter(|e| e.org == org).count()
    }
}

const PROVIDER_MANIFEST: &str = "prefixes: [acme]\nscopes:\n  - name: acme:orders.read\n    description: Read orders\n    grants: [\"991825827\"]\n";
const CONSUMER_MANIFEST: &str = "clients:\n  - name: order-sync\n    description: Order sync\n    scopes: [acme:orders.read]\n    contacts: { notifications: [integrasjon@beta.no] }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_only_and_consumer_only_admins_plan_and_apply_their_manifests() {
    let s = setup().await;
    s.write("provider.yaml", ORG_A, PROVIDER_MANIFEST);
    let (code, out, err) = s.mpctl(&s.provider, &["plan", "provider.yaml"], &[]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("create scope acme:orders.read"), "{out}");
    // The consumer side was not read, and the plan says so.
    assert!(out.contains("Not read:"), "{out}");
    assert!(
        out.contains("clients and keys were not read") && out.contains("idporten:dcr.read"),
        "{out}"
    );
    assert!(!out.contains("scopes and grants were not read"), "{out}");
    let (code, out, err) = s
        .mpctl(&s.provider, &["apply", "provider.yaml", "--yes"], &[])
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = s.mpctl(&s.provider, &["plan", "provider.yaml"], &[]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("No changes"), "{out}");
    let (code, out, err) = s
        .mpctl(
            &s.provider,
            &["plan", "provider.yaml", "--format", "markdown"],
            &[],
        )
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("No changes"), "{out}");
    assert!(out.contains("**Not read**"), "{out}");
    let (code, out, err) = s
        .mpctl(
            &s.provider,
            &["plan", "provider.yaml", "--format", "json"],
            &[],
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["environments"][0]["not_read"][0]["side"], "clients");

    // Organisation B, granted acme:orders.read, manages a client with a consumer-only admin.
    s.write("consumer.yaml", ORG_B, CONSUMER_MANIFEST);
    let (code, out, err) = s
        .mpctl(&s.consumer, &["apply", "consumer.yaml", "--yes"], &[])
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("create client order-sync"), "{out}");
    assert!(out.contains("scopes and grants were not read"), "{out}");
    // The emulator's contacts extension is found without the provider scopes: the client's
    // contacts are applied, not left as a manual step.
    assert!(!out.contains("Manual steps"), "{out}");
    let (code, out, err) = s.mpctl(&s.consumer, &["drift", "consumer.yaml"], &[]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    // `keys list` asks only for the consumer side.
    let (code, out, err) = s
        .mpctl(&s.consumer, &["keys", "list", "consumer.yaml"], &[])
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    // No request needed the scopes the admin clients do not hold: the emulator would have
    // answered 403, and the commands would have failed.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_needing_a_scope_the_admin_lacks_fails_before_any_change_naming_it() {
    let s = setup().await;
    // Provider content and a client: the provider-only admin lacks `idporten:dcr.*`.
    s.write(
        "both.yaml",
        ORG_A,
        &format!("{PROVIDER_MANIFEST}clients:\n  - name: reporting\n    description: Reporting\n"),
    );
    let before = s.changes_by(ORG_A);
    let (code, out, err) = s
        .mpctl(&s.provider, &["apply", "both.yaml", "--yes"], &[])
        .await;
    assert_eq!(code, 1, "{out}\n{err}");
    let err = flat(&err);
    assert!(err.contains("does not hold `idporten:dcr.read`"), "{err}");
    assert!(err.contains("`idporten:dcr.write`"), "{err}");
    assert!(!err.contains("`idporten:scopes.read`"), "{err}");
    assert!(err.contains("Samarbeidsportalen"), "{err}");
    assert!(err.contains("invalid_scope"), "{err}");
    assert_eq!(s.changes_by(ORG_A), before, "nothing may change");

    // Declared: the same manifest is refused before any request, naming the scope.
    let (code, out, err) = s
        .mpctl(
            &s.provider,
            &["plan", "both.yaml"],
            &[(
                "MPCTL_STAGING_SCOPES",
                "idporten:scopes.read idporten:scopes.write",
            )],
        )
        .await;
    assert_eq!(code, 1, "{out}\n{err}");
    let err = flat(&err);
    assert!(err.contains("`idporten:dcr.read`"), "{err}");
    assert!(err.contains("MPCTL_STAGING_SCOPES"), "{err}");

    // Declared read-only: plan works; apply refuses before changing anything, naming the
    // write scope the plan needs.
    s.write("provider.yaml", ORG_A, PROVIDER_MANIFEST);
    let read_only = [("MPCTL_STAGING_SCOPES", "idporten:scopes.read")];
    let (code, out, err) = s
        .mpctl(&s.provider, &["plan", "provider.yaml"], &read_only)
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = s
        .mpctl(
            &s.provider,
            &["apply", "provider.yaml", "--yes"],
            &read_only,
        )
        .await;
    assert_eq!(code, 1, "{out}\n{err}");
    let err = flat(&err);
    assert!(
        err.contains("declared not to hold `idporten:scopes.write`"),
        "{err}"
    );
    assert!(err.contains("create scope acme:orders.read"), "{err}");
    assert_eq!(s.changes_by(ORG_A), before, "nothing may change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_read_scope_reports_the_side_the_manifest_does_not_manage() {
    let s = setup().await;
    let full = s
        .emu
        .bootstrap_org_with_scopes(
            &org(ORG_A),
            &["acme".into()],
            &owned(&[PROVIDER, &["idporten:dcr.read"]].concat()),
        )
        .await
        .unwrap();
    // The environment declares that its admin client also holds `idporten:dcr.read`.
    let yaml = format!(
        "version: 1\norganization: \"{ORG_A}\"\nenvironments:\n{}    admin_scopes: [idporten:scopes.read, idporten:scopes.write, idporten:dcr.read]\n{PROVIDER_MANIFEST}",
        environment_yaml("staging", &s.emu)
    );
    std::fs::write(s.dir.path().join("provider.yaml"), yaml).unwrap();
    let (code, out, err) = s.mpctl(&full, &["plan", "provider.yaml"], &[]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("Not read:"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_enforces_the_admin_clients_scopes_at_the_token_endpoint_and_per_endpoint() {
    use emulator_support::{Assertion, KeyRef, post_token};
    let s = setup().await;
    let http = reqwest::Client::new();
    let token = |scope: &str| {
        Assertion::new(
            &s.provider.client_id,
            &s.emu.issuer(),
            scope,
            s.emu.clock().now_unix(),
        )
        .sign(
            KeyRef::Kid(&s.provider.kid),
            s.provider.private_key_pem.expose(),
        )
    };
    let (status, body) = post_token(
        &http,
        &s.emu.token_url(),
        &token("idporten:scopes.read idporten:dcr.read"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_scope");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("idporten:dcr.read"),
        "{body}"
    );
    let (status, body) =
        post_token(&http, &s.emu.token_url(), &token("idporten:scopes.read")).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap();
    let answer = http
        .get(format!("{}/clients", s.emu.api_url()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
    let answer = http
        .get(format!("{}/scopes", s.emu.api_url()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    // Bootstrapping again with all scopes gives them back.
    s.emu
        .bootstrap_org(&org(ORG_A), &["acme".into()])
        .await
        .unwrap();
    let (status, body) = post_token(
        &http,
        &s.emu.token_url(),
        &token("idporten:scopes.read idporten:dcr.read"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_init_bootstraps_admin_clients_with_the_scopes_given() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_mpctl(
        dir.path(),
        &[
            "emulator",
            "init",
            "--bootstrap",
            "974760673:acme",
            "--admin-scopes",
            "idporten:scopes.write,idporten:scopes.read",
        ],
        &[],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("admin scopes:    idporten:scopes.read idporten:scopes.write"),
        "{stdout}"
    );
    let out = run_mpctl(
        dir.path(),
        &[
            "emulator",
            "init",
            "--bootstrap",
            "974760673:acme",
            "--admin-scopes",
            "idporten:scopes.reed",
        ],
        &[],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "a usage error: {stderr}");
    assert!(
        stderr.contains("`idporten:scopes.reed` is not a self-service scope"),
        "{stderr}"
    );
}
