//! Credentials: keys by `kid` (PEM, JWK), business certificates (PKCS#12 and PEM chains) sent
//! as `x5c`, the test/prod certificate check, and that no key material or token ever shows up
//! in Debug output, errors or logs.

use crate::support::client as client_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine;
use client_support::{FakeServer, Reply, TOKEN_SECRET};
use mpctl::api::SelfService;
use mpctl::api::connect::{Access, build_client};
use mpctl::api::credentials::{CredentialError, Credentials, KeyIdentity};
use mpctl::api::endpoints::DigdirEnv;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};

fn key_body_lines() -> Vec<String> {
    client_support::private_key_pem()
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_owned)
        .collect()
}

fn grant_header(server: &FakeServer) -> serde_json::Value {
    let body = server.token_requests().last().unwrap().body.clone();
    let assertion = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("assertion="))
        .unwrap()
        .to_owned();
    let header = assertion.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_pkcs12_business_certificate_sends_its_chain_as_x5c() {
    let (leaf, ca) =
        client_support::certificate_chain("Buypass Class 3 Test4 CA G2 ST Business", "910753282");
    // The keystore lists the CA first: the leaf must still go first in x5c.
    let p12 = client_support::keystore(&[leaf.clone(), ca.clone()], "hemmelig");
    let credentials = Credentials::from_pkcs12("admin".into(), &p12, "hemmelig", "acme.p12", "PW")
        .expect("keystore");
    let KeyIdentity::X5c(chain) = credentials.identity() else {
        panic!("x5c expected")
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(chain[0], b64.encode(&leaf));
    assert_eq!(chain.len(), 2);
    let cert = credentials.certificate().expect("certificate info");
    assert_eq!(cert.issued_for, Some(DigdirEnv::Test));
    assert_eq!(
        cert.organization.as_ref().map(|o| o.as_str()),
        Some("910753282")
    );

    let server = FakeServer::start().await;
    let client = build_client(&server.options(Access::Read), credentials).unwrap();
    client.token().await.unwrap();
    let header = grant_header(&server);
    assert_eq!(header["alg"], "RS256");
    assert!(
        header.get("kid").is_none(),
        "exactly one of kid and x5c: {header}"
    );
    assert_eq!(header["x5c"][0], b64.encode(&leaf));
}

#[test]
fn a_wrong_keystore_password_is_reported_without_the_password() {
    let (leaf, ca) = client_support::certificate_chain("Some CA", "910753282");
    let p12 = client_support::keystore(&[leaf, ca], "right-password");
    let err = Credentials::from_pkcs12(
        "a".into(),
        &p12,
        "wrong-password-123",
        "acme.p12",
        "MPCTL_PROD_KEYSTORE_PASSWORD",
    )
    .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("acme.p12"), "{text}");
    assert!(text.contains("wrong password or damaged file"), "{text}");
    assert!(
        !text.contains("wrong-password-123") && !text.contains("right-password"),
        "{text}"
    );
}

/// Keystores written by the `openssl` CLI (a throwaway self-signed key, password
/// `fixture-password`): OpenSSL 3's defaults (PBES2 with AES-256-CBC, HMAC-SHA256 MAC) and
/// `-legacy` (3DES key bag, RC2-40 certificate bag, HMAC-SHA1 MAC) both load; a wrong password
/// is told as such.
#[test]
fn keystores_written_by_openssl_load_in_current_and_legacy_encryption() {
    for name in ["openssl3-default.p12", "openssl-legacy.p12"] {
        let bytes = std::fs::read(format!("tests/fixtures/keystores/{name}")).expect(name);
        let credentials =
            Credentials::from_pkcs12("c".into(), &bytes, "fixture-password", name, "PW")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        let KeyIdentity::X5c(chain) = credentials.identity() else {
            panic!("{name}: the chain is not sent as x5c");
        };
        assert_eq!(chain.len(), 1, "{name}");
        let cert = credentials.certificate().expect("certificate");
        assert_eq!(
            cert.organization.as_ref().map(|o| o.as_str()),
            Some("910753282"),
            "{name}"
        );
        let err = Credentials::from_pkcs12("c".into(), &bytes, "not-it", name, "PW").unwrap_err();
        assert!(
            err.to_string().contains("wrong password or damaged file"),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_test_certificate_against_prod_and_the_reverse_are_refused() {
    let (leaf, ca) =
        client_support::certificate_chain("Buypass Class 3 Test4 CA G2 ST Business", "910753282");
    let test_cert = Credentials::from_pkcs12(
        "a".into(),
        &client_support::keystore(&[leaf, ca], "p"),
        "p",
        "t.p12",
        "PW",
    )
    .unwrap();
    let err = test_cert
        .check_environment("prod", Some(DigdirEnv::Prod))
        .unwrap_err();
    assert!(matches!(err, CredentialError::WrongEnvironment { .. }));
    let text = err.to_string();
    assert!(
        text.contains("test") && text.contains("prod") && text.contains("Buypass"),
        "{text}"
    );
    test_cert
        .check_environment("test", Some(DigdirEnv::Test))
        .unwrap();
    test_cert.check_environment("local", None).unwrap();

    let (leaf, ca) =
        client_support::certificate_chain("Buypass Class 3 CA G2 HT Business", "910753282");
    let prod_cert = Credentials::from_pkcs12(
        "a".into(),
        &client_support::keystore(&[leaf, ca], "p"),
        "p",
        "p.p12",
        "PW",
    )
    .unwrap();
    assert!(
        prod_cert
            .check_environment("test", Some(DigdirEnv::Test))
            .is_err()
    );
    prod_cert
        .check_environment("prod", Some(DigdirEnv::Prod))
        .unwrap();
}

#[test]
fn a_pem_file_with_key_and_certificates_uses_x5c_unless_a_kid_is_given() {
    let (leaf, ca) = client_support::certificate_chain("Private CA", "910753282");
    let pem = |label: &str, der: &[u8]| {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        )
    };
    let text = format!(
        "{}{}{}",
        pem("CERTIFICATE", &ca),
        client_support::private_key_pem(),
        pem("CERTIFICATE", &leaf)
    );
    let creds =
        Credentials::from_private_key("a".into(), &text, None, "bundle.pem", "KID").unwrap();
    assert!(matches!(creds.identity(), KeyIdentity::X5c(chain) if chain.len() == 2));
    let creds =
        Credentials::from_private_key("a".into(), &text, Some("k9"), "bundle.pem", "KID").unwrap();
    assert_eq!(creds.identity(), &KeyIdentity::Kid("k9".into()));
}

#[test]
fn keys_come_as_pkcs1_pkcs8_or_jwk_and_a_kid_is_needed() {
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(client_support::private_key_pem()).unwrap();
    let pkcs1 = key
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let c = Credentials::from_private_key("a".into(), &pkcs1, Some("k"), "k.pem", "KID").unwrap();
    assert_eq!(c.identity(), &KeyIdentity::Kid("k".into()));

    let b64 =
        |n: &rsa::BigUint| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n.to_bytes_be());
    let jwk = serde_json::json!({
        "kty": "RSA", "kid": "from-jwk", "n": b64(key.n()), "e": b64(key.e()), "d": b64(key.d()),
        "p": b64(&key.primes()[0]), "q": b64(&key.primes()[1])
    });
    let c =
        Credentials::from_private_key("a".into(), &jwk.to_string(), None, "k.jwk", "KID").unwrap();
    assert_eq!(c.identity(), &KeyIdentity::Kid("from-jwk".into()));
    let c = Credentials::from_private_key(
        "a".into(),
        &jwk.to_string(),
        Some("env-kid"),
        "k.jwk",
        "KID",
    )
    .unwrap();
    assert_eq!(
        c.identity(),
        &KeyIdentity::Kid("env-kid".into()),
        "the variable wins"
    );

    let err = Credentials::from_private_key(
        "a".into(),
        client_support::private_key_pem(),
        None,
        "k.pem",
        "MPCTL_PROD_KEY_ID",
    )
    .unwrap_err();
    assert!(err.to_string().contains("no key id"));
    assert!(format!("{:?}", miette::Report::new(err)).contains("MPCTL_PROD_KEY_ID"));

    let public =
        serde_json::json!({"kty": "RSA", "kid": "x", "n": b64(key.n()), "e": b64(key.e())});
    let err =
        Credentials::from_private_key("a".into(), &public.to_string(), None, "pub.jwk", "KID")
            .unwrap_err();
    assert!(err.to_string().contains("public key"), "{err}");
}

#[test]
fn credentials_are_read_from_the_documented_variables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.pem");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(client_support::private_key_pem().as_bytes())
        .unwrap();
    let vars = [
        ("MPCTL_MY_TEST_CLIENT_ID", "client-123".to_owned()),
        ("MPCTL_MY_TEST_KEY_FILE", path.display().to_string()),
        ("MPCTL_MY_TEST_KEY_ID", "kid-7".to_owned()),
    ];
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    let creds = Credentials::from_lookup("my-test", lookup).unwrap();
    assert_eq!(creds.client_id, "client-123");
    assert_eq!(creds.identity(), &KeyIdentity::Kid("kid-7".into()));

    let missing = Credentials::from_lookup("my-test", |name| {
        (name == "MPCTL_MY_TEST_CLIENT_ID")
            .then(|| "c".to_owned())
            .or_else(|| {
                (name == "MPCTL_MY_TEST_KEY_FILE").then(|| "/nonexistent/key.pem".to_owned())
            })
    })
    .unwrap_err();
    assert!(missing.to_string().contains("/nonexistent/key.pem"));
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_key_material_or_token_appears_in_logs_debug_output_or_errors() {
    let captured = Captured::default();
    // Other tests of this process hit the same callsites on other threads. While a single
    // dispatcher is registered, tracing caches a callsite's interest from the default of the
    // thread that hits it first (none there), so this subscriber would miss its events; with a
    // second one registered, every callsite asks all of them.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = FakeServer::start().await;
    let (leaf, ca) = client_support::certificate_chain("Private CA", "910753282");
    let p12 = client_support::keystore(&[leaf, ca], "keystore-password-xyz");
    let p12_creds =
        Credentials::from_pkcs12("admin".into(), &p12, "keystore-password-xyz", "a.p12", "PW")
            .unwrap();
    let kid_creds = client_support::kid_credentials("kid-1");
    let mut shown = format!("{kid_creds:?}\n{p12_creds:?}\n");

    let client = build_client(&server.options(Access::Write), kid_creds).unwrap();
    shown.push_str(&format!("{client:?}\n"));
    let token = client.token().await.unwrap();
    shown.push_str(&format!("{token:?}\n"));
    client.list_scopes().await.unwrap();
    server.push(Reply::Drop);
    server.push(Reply::json(500, serde_json::json!({"message": "boom"})));
    server.push(Reply::json(200, serde_json::json!([])));
    client.list_clients().await.unwrap();
    server.push(Reply::json(400, serde_json::json!({"message": "bad"})));
    if let Err(e) = client.deactivate_client("c-1").await {
        shown.push_str(&format!("{e} {e:?}\n"));
        shown.push_str(&format!("{:?}\n", miette::Report::new(e)));
    }
    server.push_token_reply(Reply::json(
        401,
        serde_json::json!({"error": "invalid_client"}),
    ));
    let other = build_client(&server.options(Access::Read), p12_creds).unwrap();
    if let Err(e) = other.fetch().await {
        shown.push_str(&format!("{e} {e:?}\n"));
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("GET /clients"), "requests are traced: {logs}");
    let everything = format!("{logs}\n{shown}");
    let grants: Vec<String> = server
        .token_requests()
        .iter()
        .filter_map(|r| r.body.split("assertion=").nth(1).map(str::to_owned))
        .collect();
    assert!(!grants.is_empty());
    for grant in &grants {
        let signature = grant.rsplit('.').next().unwrap();
        assert!(!everything.contains(signature), "a grant leaked");
    }
    assert!(!everything.contains(TOKEN_SECRET), "a token leaked");
    assert!(
        !everything.contains("keystore-password-xyz"),
        "a password leaked"
    );
    for line in key_body_lines() {
        assert!(!everything.contains(&line), "key material leaked");
    }
}

#[test]
fn a_certificate_of_another_organisation_is_refused_before_any_request() {
    let (leaf, ca) = client_support::certificate_chain("Private CA", "974760673");
    let creds = Credentials::from_pkcs12(
        "a".into(),
        &client_support::keystore(&[leaf, ca], "p"),
        "p",
        "other.p12",
        "PW",
    )
    .unwrap();
    let manifest_org = mpctl::manifest::orgno::OrgNo::new_unchecked("910753282");
    let err = creds.check_organization("prod", &manifest_org).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("974760673") && text.contains("910753282"),
        "{text}"
    );
    creds
        .check_organization(
            "prod",
            &mpctl::manifest::orgno::OrgNo::new_unchecked("974760673"),
        )
        .unwrap();
    // A key without a certificate cannot be judged here (the token is checked instead).
    client_support::kid_credentials("k")
        .check_organization("prod", &manifest_org)
        .unwrap();
}
