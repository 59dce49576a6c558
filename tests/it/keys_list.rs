//! `mpctl keys list` through the real binary against two in-process emulators standing in for
//! two environments: desired and live keys of managed and unmanaged clients, both expiries with
//! days left, flags at the window's edge, sorted by the nearest expiry.

use crate::support::emulator as emulator_support;

use emulator_support::{Env, ORG_A, admin_vars, new_key, run_mpctl};
use reqwest::{Method, StatusCode};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde_json::{Value, json};

const DAY: i64 = 86_400;

/// Creates a client of organisation A named `name` and registers `keys` on it; returns its id.
async fn client_with_keys(env: &Env, name: &str, keys: Vec<Value>) -> String {
    let (status, body) = env
        .call(
            0,
            Method::POST,
            "/clients",
            Some(json!({
                "client_name": name, "description": name,
                "integration_type": "maskinporten", "application_type": "web",
                "token_endpoint_auth_method": "private_key_jwt",
                "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
                "scopes": [],
            })),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let id = body["client_id"].as_str().unwrap().to_owned();
    let (status, body) = env
        .call(
            0,
            Method::POST,
            &format!("/clients/{id}/jwks"),
            Some(json!({ "keys": keys })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

/// A JWK for a certificate of `pem`'s key that is valid until `not_after`.
fn certificate_jwk(pem: &str, kid: &str, not_after: i64) -> Value {
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
    let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    let pair =
        rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["reporting.example".into()]).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
    let der = params.self_signed(&pair).unwrap().der().to_vec();
    let (_, mut jwk) = new_key(kid);
    use base64::Engine;
    jwk["x5c"] = json!([base64::engine::general_purpose::STANDARD.encode(der)]);
    jwk
}

fn environment_yaml(name: &str, env: &Env) -> String {
    format!(
        "  {name}:\n    api_url: {}\n    token_url: {}\n    audience: {}\n",
        env.emu.api_url(),
        env.emu.token_url(),
        env.emu.issuer()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_list_spans_two_environments_with_expiries_and_flags() {
    let staging = Env::start().await;
    let qa = Env::start().await;
    let now = staging.emu.clock().now_unix();

    // The manifest's key, registered in staging with an `exp` inside the 30-day window.
    let (_, mut managed) = new_key("order-sync-2026");
    managed["exp"] = json!(now + 20 * DAY + 3600);
    client_with_keys(&staging, "order-sync", vec![managed.clone()]).await;
    // An unmanaged client in staging whose key is fine.
    let (_, legacy) = new_key("legacy-key");
    client_with_keys(&staging, "legacy", vec![legacy]).await;
    // In qa the managed client has only a stray key (not in the manifest), with a certificate
    // expiring in 10 days; the manifest's key is not registered there yet.
    let (pem, _) = new_key("unused");
    let stray = certificate_jwk(&pem, "qa-stray", now + 10 * DAY + 3600);
    client_with_keys(&qa, "order-sync", vec![stray]).await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    let mut public = managed.clone();
    public.as_object_mut().unwrap().remove("exp");
    std::fs::write(
        dir.path().join("keys/order-sync.jwk.json"),
        public.to_string(),
    )
    .unwrap();
    let manifest = format!(
        "version: 1\norganization: \"{ORG_A}\"\nprefixes: [acme]\nenvironments:\n{}{}clients:\n  - name: order-sync\n    description: order-sync\n    keys: [keys/order-sync.jwk.json]\n",
        environment_yaml("staging", &staging),
        environment_yaml("qa", &qa),
    );
    std::fs::write(dir.path().join("mpctl.yaml"), manifest).unwrap();

    let mut vars = admin_vars("staging", &staging.admins[0], dir.path());
    vars.extend(admin_vars("qa", &qa.admins[0], dir.path()));
    let run = async |args: Vec<&'static str>| run_mpctl(dir.path(), &args, &vars).await;

    let out = run(vec!["keys", "list", "--format", "json"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<(String, String, String, bool, bool, bool)> = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["environment"].as_str().unwrap().to_owned(),
                k["kid"].as_str().unwrap().to_owned(),
                k["status"].as_str().unwrap().to_owned(),
                k["managed"].as_bool().unwrap(),
                k["in_manifest"].as_bool().unwrap(),
                k["registered"].as_bool().unwrap(),
            )
        })
        .collect();
    let row = |env: &str, kid: &str, status: &str, managed: bool, want: bool, have: bool| {
        (
            env.to_owned(),
            kid.to_owned(),
            status.to_owned(),
            managed,
            want,
            have,
        )
    };
    assert_eq!(
        rows,
        [
            row("qa", "qa-stray", "expiring", true, false, true),
            row("staging", "order-sync-2026", "expiring", true, true, true),
            row("staging", "legacy-key", "ok", false, false, true),
            row("qa", "order-sync-2026", "unknown", true, true, false),
        ],
        "{json:#}"
    );
    let keys = json["keys"].as_array().unwrap();
    assert_eq!(keys[0]["cert_not_after"]["days_left"], 10);
    assert_eq!(keys[1]["exp"]["days_left"], 20);
    // One year after registration; a second may have passed since.
    let legacy_days = keys[2]["exp"]["days_left"].as_i64().unwrap();
    assert!((364..=365).contains(&legacy_days), "{legacy_days}");
    assert_eq!(json["summary"]["expiring"], 2);
    assert_eq!(json["summary"]["total"], 4);

    // A window of 15 days flags only the certificate; one environment lists only its keys.
    let out = run(vec![
        "keys",
        "list",
        "--env",
        "staging",
        "--warn-expiry-days",
        "15",
        "--format",
        "markdown",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0));
    let markdown = String::from_utf8_lossy(&out.stdout);
    assert!(markdown.contains("| staging | order-sync | `order-sync-2026` |"));
    assert!(!markdown.contains("| qa |"), "{markdown}");
    assert!(
        markdown.contains("none expired or expiring within 15 days"),
        "{markdown}"
    );

    let out = run(vec!["keys", "list"]).await;
    assert_eq!(out.status.code(), Some(0));
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(human.contains("expires in 10 days"), "{human}");
    assert!(human.contains("unmanaged client"), "{human}");
    assert!(human.contains("not registered yet"), "{human}");

    // No output of the command carries the admin's private key.
    let body: Vec<&str> = staging.admins[0]
        .private_key_pem
        .expose()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for text in [&human, &markdown, &stderr] {
        for line in &body {
            assert!(!text.contains(line));
        }
    }

    // An environment that cannot be read (no credentials) is reported; the rest is listed.
    let manifest = std::fs::read_to_string(dir.path().join("mpctl.yaml")).unwrap();
    let broken = environment_yaml("broken", &qa);
    std::fs::write(
        dir.path().join("mpctl.yaml"),
        manifest.replace("clients:\n", &format!("{broken}clients:\n")),
    )
    .unwrap();
    let out = run(vec!["keys", "list", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["unreadable_environments"], json!(["broken"]));
    assert_eq!(json["summary"]["total"], 4);
    assert!(String::from_utf8_lossy(&out.stderr).contains("MPCTL_BROKEN_CLIENT_ID"));

    let out = run(vec!["keys", "list", "--env", "nowhere"]).await;
    assert_eq!(out.status.code(), Some(64), "a usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown environment `nowhere`"), "{stderr}");
    assert!(stderr.contains("mpctl::env::unknown"), "{stderr}");
}
