//! A client key's whole life, through the real binary against an in-process emulator: apply a
//! client with key A → a token obtained with A verifies against the emulator's JWKS → `keys
//! rotate` → apply → tokens with A and with B both work → the clock passes A's `retire_after`
//! → apply → A is refused and B works.
//!
//! mpctl's clock is moved with `MPCTL_NOW` (what `plan` and `apply` use to retire keys); the
//! emulator's own clock stays put, so grants stay fresh.

use crate::support::emulator as emulator_support;

use std::path::{Path, PathBuf};
use std::process::Output;

use emulator_support::{Assertion, Env, KeyRef, ORG_A, post_token};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::{Method, StatusCode};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::Value;

const SCOPE: &str = "acme:orders.read";

struct Scenario {
    env: Env,
    dir: tempfile::TempDir,
    /// Everything every command printed, to check for key material at the end.
    printed: std::sync::Mutex<String>,
}

impl Scenario {
    fn manifest(&self) -> PathBuf {
        self.dir.path().join("mpctl.yaml")
    }

    /// Runs mpctl in the scenario's directory with the admin's credentials; `now` sets
    /// `MPCTL_NOW`.
    async fn mpctl(&self, args: &[&str], now: Option<&str>) -> Output {
        let admin = &self.env.admins[0];
        let key_file = self.dir.path().join("admin.pem");
        if !key_file.exists() {
            std::fs::write(&key_file, admin.private_key_pem.expose()).unwrap();
        }
        let mut cmd = crate::support::mpctl_in(self.dir.path(), args);
        cmd.env("MPCTL_STAGING_CLIENT_ID", &admin.client_id)
            .env("MPCTL_STAGING_KEY_FILE", &key_file)
            .env("MPCTL_STAGING_KEY_ID", &admin.kid);
        if let Some(now) = now {
            cmd.env("MPCTL_NOW", now);
        }
        let out = crate::support::output_off_runtime(cmd).await;
        let mut printed = self.printed.lock().unwrap();
        printed.push_str(&String::from_utf8_lossy(&out.stdout));
        printed.push_str(&String::from_utf8_lossy(&out.stderr));
        out
    }

    async fn ok(&self, args: &[&str], now: Option<&str>) -> String {
        let out = self.mpctl(args, now).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "mpctl {args:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn client_id(&self, name: &str) -> String {
        let (status, body) = self.env.call(0, Method::GET, "/clients", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body.as_array()
            .unwrap()
            .iter()
            .find(|c| c["client_name"] == name)
            .and_then(|c| c["client_id"].as_str())
            .unwrap_or_else(|| panic!("no client {name} in {body}"))
            .to_owned()
    }

    /// Asks for a token as `client_id` with the key `kid` (PEM `pem`): the access token, or the
    /// error body.
    async fn token(&self, client_id: &str, kid: &str, pem: &str) -> Result<String, Value> {
        let emu = &self.env.emu;
        let assertion = Assertion::new(client_id, &emu.issuer(), SCOPE, emu.clock().now_unix())
            .sign(KeyRef::Kid(kid), pem);
        let (status, body) = post_token(&self.env.http, &emu.token_url(), &assertion).await;
        if status == StatusCode::OK {
            Ok(body["access_token"].as_str().unwrap().to_owned())
        } else {
            Err(body)
        }
    }

    /// Verifies an access token against the emulator's published JWKS.
    async fn verify(&self, access_token: &str, client_id: &str) {
        let jwks: jsonwebtoken::jwk::JwkSet = self
            .env
            .get_json(&format!("{}jwk", self.env.emu.issuer()))
            .await;
        let header = jsonwebtoken::decode_header(access_token).unwrap();
        let kid = header.kid.expect("the access token names its signing key");
        let jwk = jwks.find(&kid).expect("the signing key is published");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Value>(
            access_token,
            &DecodingKey::from_jwk(jwk).unwrap(),
            &validation,
        )
        .expect("the access token verifies against the emulator's JWKS")
        .claims;
        assert_eq!(claims["client_id"], client_id);
        assert_eq!(claims["scope"], SCOPE);
        assert_eq!(claims["consumer"]["ID"], format!("0192:{ORG_A}"));
    }
}

/// A new RSA-2048 key: (private PKCS#8 PEM, public JWK with its thumbprint `kid`).
fn key_pair() -> (String, serde_json::Map<String, Value>) {
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let jwk = mpctl::manifest::keys::public_jwk(&private.to_public_key(), None);
    let pem = private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    (pem, jwk)
}

fn write_manifest(dir: &Path, env: &Env) {
    let manifest = format!(
        r#"version: 1
organization: "{ORG_A}"
prefixes: [acme]
environments:
  staging:
    api_url: {api}
    token_url: {token}
    audience: {aud}

scopes:
  - name: {SCOPE}
    description: Read orders
    grants: ["{ORG_A}"]

clients:
  # The nightly order sync.
  - name: sync
    description: Nightly order sync
    scopes: [{SCOPE}]
    keys:
      - keys/a.jwk.json   # key A
"#,
        api = env.emu.api_url(),
        token = env.emu.token_url(),
        aud = env.emu.issuer(),
    );
    std::fs::write(dir.join("mpctl.yaml"), manifest).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_rotated_in_and_retired_out() {
    let scenario = Scenario {
        env: Env::start().await,
        dir: tempfile::tempdir().unwrap(),
        printed: std::sync::Mutex::new(String::new()),
    };
    let dir = scenario.dir.path();
    std::fs::create_dir(dir.join("keys")).unwrap();
    let (pem_a, jwk_a) = key_pair();
    let kid_a = jwk_a["kid"].as_str().unwrap().to_owned();
    std::fs::write(
        dir.join("keys/a.jwk.json"),
        serde_json::to_string_pretty(&jwk_a).unwrap(),
    )
    .unwrap();
    write_manifest(dir, &scenario.env);

    // 1. Apply the client with key A; a token obtained with A verifies.
    scenario.ok(&["-v", "apply", "--yes"], None).await;
    let client_id = scenario.client_id("sync").await;
    let token = scenario.token(&client_id, &kid_a, &pem_a).await.unwrap();
    scenario.verify(&token, &client_id).await;

    // 2. Rotate: key B is generated, written and added; A gets `retire_after`.
    let rotate = scenario
        .ok(
            &[
                "keys",
                "rotate",
                "sync",
                "--env",
                "staging",
                "--private-key-out",
                "b.pem",
            ],
            None,
        )
        .await;
    assert!(rotate.contains("+        retire_after: "), "{rotate}");
    let pem_b = std::fs::read_to_string(dir.join("b.pem")).unwrap();
    let manifest = std::fs::read_to_string(scenario.manifest()).unwrap();
    assert!(manifest.contains("  # The nightly order sync.\n"));
    let entry_b = manifest
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("- keys/sync-"))
        .map(|rest| format!("keys/sync-{rest}"))
        .expect("the new key is listed");
    let jwk_b: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(&entry_b)).unwrap()).unwrap();
    let kid_b = jwk_b["kid"].as_str().unwrap().to_owned();
    assert_ne!(kid_a, kid_b);
    let retire_after = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("retire_after: "))
        .expect("key A has retire_after")
        .to_owned();

    // 3. The plan adds B; apply registers it; A and B both work.
    let plan = scenario.ok(&["plan"], None).await;
    assert!(plan.contains("add key") && plan.contains(&kid_b), "{plan}");
    assert!(!plan.contains("remove key"), "{plan}");
    scenario.ok(&["apply", "--yes"], None).await;
    let token_a = scenario.token(&client_id, &kid_a, &pem_a).await.unwrap();
    scenario.verify(&token_a, &client_id).await;
    let token_b = scenario.token(&client_id, &kid_b, &pem_b).await.unwrap();
    scenario.verify(&token_b, &client_id).await;

    // 4. On A's retire_after day nothing changes yet; the day after, the plan removes A.
    let on_the_day = format!("{retire_after}T23:00:00Z");
    let plan = scenario.ok(&["plan"], Some(&on_the_day)).await;
    assert!(!plan.contains("remove key"), "{plan}");
    let date = time::Date::parse(
        &retire_after,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    let day_after = format!("{}T12:00:00Z", date.next_day().unwrap());
    let plan = scenario.ok(&["plan"], Some(&day_after)).await;
    assert!(
        plan.contains("remove key") && plan.contains(&kid_a),
        "{plan}"
    );
    scenario.ok(&["apply", "--yes"], Some(&day_after)).await;

    // 5. A is refused; B still works.
    let refused = scenario
        .token(&client_id, &kid_a, &pem_a)
        .await
        .unwrap_err();
    assert_eq!(refused["error"], "invalid_grant", "{refused}");
    let token_b = scenario.token(&client_id, &kid_b, &pem_b).await.unwrap();
    scenario.verify(&token_b, &client_id).await;

    // And the environment has converged.
    let plan = scenario.ok(&["plan"], Some(&day_after)).await;
    assert!(
        !plan.contains("add key") && !plan.contains("remove key"),
        "{plan}"
    );
}
