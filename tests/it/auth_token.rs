//! `mpctl token`: a client of the manifest gets an access token with its own private key,
//! through the real binary against an in-process emulator. The token verifies against the
//! emulator's published keys; `--decode` shows header and claims without the signature; a
//! wrong key, an unknown kid and a scope the client does not hold are refused with the OAuth2
//! error explained; the private key never appears in any output.

use crate::support::emulator as emulator_support;

use emulator_support::{ORG_A, admin_vars, environment_yaml, fresh_key, new_key, org, run_mpctl};
use mpctl::emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

struct Setup {
    emu: Emulator,
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
    /// The body of the client's private key PEM, which must never be printed.
    key_body: String,
}

async fn setup() -> Setup {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let admin = emu
        .bootstrap_org(&org(ORG_A), &["acme".into()])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (pem, jwk) = new_key("order-sync-2026");
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/order-sync.jwk.json"), jwk.to_string()).unwrap();
    std::fs::write(dir.path().join("order-sync.pem"), &pem).unwrap();
    let manifest = format!(
        "version: 1\norganization: \"{ORG_A}\"\nprefixes: [acme]\nenvironments:\n{}scopes:\n  - name: acme:orders.read\n    description: Read orders\n    grants: [\"{ORG_A}\"]\nclients:\n  - name: order-sync\n    description: Order sync\n    scopes: [acme:orders.read]\n    keys: [keys/order-sync.jwk.json]\n",
        environment_yaml("staging", &emu)
    );
    std::fs::write(dir.path().join("mpctl.yaml"), manifest).unwrap();
    let vars = admin_vars("staging", &admin, dir.path());
    let out = run_mpctl(dir.path(), &["apply", "mpctl.yaml", "--yes"], &vars).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_body = pem
        .lines()
        .find(|l| !l.starts_with("-----"))
        .unwrap()
        .to_owned();
    Setup {
        emu,
        dir,
        vars,
        key_body,
    }
}

impl Setup {
    async fn token(&self, extra: &[&str]) -> (i32, String, String) {
        let mut args = vec!["token", "order-sync", "--env", "staging"];
        args.extend_from_slice(extra);
        args.push("mpctl.yaml");
        let out = run_mpctl(self.dir.path(), &args, &self.vars).await;
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(
            !stdout.contains(&self.key_body) && !stderr.contains(&self.key_body),
            "the private key was printed"
        );
        (out.status.code().unwrap_or(-1), stdout, stderr)
    }
}

/// The text with miette's line wrapping undone.
fn flat(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gets_a_token_that_verifies_and_decodes_without_its_signature() {
    let s = setup().await;
    let (code, out, err) = s.token(&["--key", "order-sync.pem"]).await;
    assert_eq!(code, 0, "{err}");
    let token = out.trim();
    assert_eq!(out.lines().count(), 1, "only the token on stdout: {out}");

    // It verifies against the emulator's published key.
    let jwks: Value = reqwest::get(format!("{}jwk", s.emu.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["scope"], "acme:orders.read");
    assert_eq!(claims["consumer"]["ID"], format!("0192:{ORG_A}"));
    assert_eq!(claims["client_amr"], "private_key_jwt");

    // --decode: header and claims, no signature.
    let (code, out, err) = s.token(&["--key", "order-sync.pem", "--decode"]).await;
    assert_eq!(code, 0, "{err}");
    let decoded: Value = serde_json::from_str(&out).unwrap();
    let mut keys: Vec<&str> = decoded
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["claims", "header"]);
    assert_eq!(decoded["claims"]["scope"], "acme:orders.read");
    assert_eq!(decoded["claims"]["client_id"], claims["client_id"]);
    assert_eq!(decoded["header"]["alg"], "RS256");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!out.contains(signature), "{out}");

    // A business certificate of the client's organisation works too (sent as x5c).
    let cert = s.emu.issue_business_certificate(&org(ORG_A), 30).unwrap();
    std::fs::write(
        s.dir.path().join("business.pem"),
        format!(
            "{}{}{}",
            cert.private_key_pem.expose(),
            cert.certificate_pem,
            s.emu.ca_cert_pem()
        ),
    )
    .unwrap();
    let (code, out, err) = s.token(&["--key", "business.pem", "--decode"]).await;
    assert_eq!(code, 0, "{err}");
    let decoded: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(decoded["claims"]["client_amr"], "virksomhetssertifikat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_explain_the_oauth_error_and_the_propagation_delay() {
    let s = setup().await;
    // Another key under the registered kid: the signature does not verify.
    let (wrong, _) = fresh_key("unused");
    std::fs::write(s.dir.path().join("wrong.pem"), &wrong).unwrap();
    let (code, out, err) = s
        .token(&["--key", "wrong.pem", "--kid", "order-sync-2026"])
        .await;
    assert_eq!(code, 1, "{out}");
    assert!(out.is_empty(), "{out}");
    let err = flat(&err);
    assert!(err.contains("invalid_grant"), "{err}");
    assert!(err.contains("kid `order-sync-2026`"), "{err}");
    assert!(err.contains("two minutes"), "{err}");

    // Without --kid, a key matching none of the client's public keys has no kid to use.
    let (code, _, err) = s.token(&["--key", "wrong.pem"]).await;
    assert_eq!(code, 1);
    let err = flat(&err);
    assert!(err.contains("has no key id"), "{err}");
    assert!(err.contains("--kid"), "{err}");

    // A scope the client does not hold.
    let (code, _, err) = s
        .token(&[
            "--key",
            "order-sync.pem",
            "--scope",
            "acme:orders.read",
            "--scope",
            "acme:orders.write",
        ])
        .await;
    assert_eq!(code, 1);
    let err = flat(&err);
    assert!(err.contains("invalid_scope"), "{err}");
    assert!(err.contains("may not get `acme:orders.write`"), "{err}");
    assert!(!err.contains("`acme:orders.read`"), "{err}");
    assert!(err.contains("two minutes"), "{err}");

    // A client the manifest does not have.
    let (code, _, err) = s.token(&["--key", "order-sync.pem", "--scope", "x"]).await;
    assert_eq!(code, 1, "{err}");
    let out = run_mpctl(
        s.dir.path(),
        &[
            "token",
            "order-sink",
            "--env",
            "staging",
            "--key",
            "order-sync.pem",
            "mpctl.yaml",
        ],
        &s.vars,
    )
    .await;
    let err = flat(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no client `order-sink`"), "{err}");
    assert!(err.contains("order-sync"), "{err}");
}
