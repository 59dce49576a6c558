//! Client key files: JWK, JWKS, PEM public key or PEM X.509 certificate, turned into the public
//! JWK the API wants. Private key material is refused and never echoed.
//!
//! Maskinporten takes only RSA-2048 keys signing with RS256 (`use: sig`), so every other key is
//! refused here, before any plan is made. Each problem names the file and, where a file holds
//! several keys, which one, but never quotes key material.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::BigUint;
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

mod certificate;
mod jwk;
mod loader;
mod pem;

pub use jwk::{public_jwk, thumbprint};

use certificate::certificate_key;
use loader::FileLoader;
use pem::{contains_private_pem, is_der_private_key, spki_key};

/// One public key of a client: read from a key file (desired) or from the API (live).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    pub kid: String,
    /// The public JWK as registered (`kty`, `alg`, `use`, `n`, `e`, `kid`, optional `x5c`),
    /// without server-set fields such as `exp`.
    pub jwk: serde_json::Map<String, serde_json::Value>,
    /// Live: the JWK `exp` the server set (Unix seconds).
    pub exp: Option<i64>,
    /// Not After of the key's certificate (`x5c`), Unix seconds.
    pub cert_not_after: Option<i64>,
    /// Desired: the file the key came from, relative to the working directory.
    pub source: Option<String>,
    /// Desired: from this date (`YYYY-MM-DD`) on, the key is removed.
    pub retire_after: Option<String>,
}

/// The only key size the API accepts.
pub const REQUIRED_KEY_BITS: usize = 2048;

/// The only signing algorithm the API accepts.
pub const REQUIRED_ALG: &str = "RS256";

/// The most keys a client may have registered at once (the API refuses a sixth with 409).
pub const MAX_KEYS_PER_CLIENT: usize = 5;

/// Larger files are refused unread: a certificate chain is a few kilobytes.
pub const MAX_KEY_FILE_BYTES: u64 = 256 * 1024;

/// Seconds in a day, for expiry windows.
const DAY: i64 = 86_400;

/// JWK members that carry private (or symmetric secret) key material.
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// How bad a problem with a key file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A problem found in a key file. The message names the file but never quotes key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFileProblem {
    pub severity: Severity,
    pub message: String,
    pub help: Option<String>,
}

impl KeyFileProblem {
    fn error(message: String, help: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            message,
            help: Some(help.into()),
        }
    }

    fn warning(message: String, help: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            message,
            help: Some(help.into()),
        }
    }

    /// Whether this problem stops the manifest from being used.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Reads one key file and returns its public keys (as they will be registered) and any
/// problems. `now` (Unix seconds) and `warn_expiry_days` decide certificate-expiry warnings.
///
/// A key with an error is left out of the returned keys; a warning keeps it.
pub fn load_key_file(
    path: &Path,
    now: i64,
    warn_expiry_days: u32,
) -> (Vec<KeyState>, Vec<KeyFileProblem>) {
    load_key_file_named(path, &path.display().to_string(), now, warn_expiry_days)
}

/// [`load_key_file`], with problems naming the file `name` (as the manifest shows it).
pub fn load_key_file_named(
    path: &Path,
    name: &str,
    now: i64,
    warn_expiry_days: u32,
) -> (Vec<KeyState>, Vec<KeyFileProblem>) {
    let name = name.to_owned();
    let resolved = || {
        std::path::absolute(path)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| name.clone())
    };
    // Read at most one byte past the limit, instead of asking the size first: one system call
    // fewer per file, and a manifest may name hundreds of key files.
    let read = std::fs::File::open(path).and_then(|file| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_KEY_FILE_BYTES + 1),
            &mut bytes,
        )?;
        Ok(bytes)
    });
    let too_large = read
        .as_ref()
        .is_ok_and(|bytes| bytes.len() as u64 > MAX_KEY_FILE_BYTES);
    if too_large {
        let problem = KeyFileProblem::error(
            format!(
                "key file {name} is larger than {} KiB: not a key file",
                MAX_KEY_FILE_BYTES / 1024
            ),
            "a key file holds one public key, a JWKS or a certificate chain; check the path",
        );
        return (Vec::new(), vec![problem]);
    }
    match read {
        Ok(bytes) => load_key_bytes(&name, &bytes, now, warn_expiry_days),
        Err(err) => {
            let problem = KeyFileProblem::error(
                format!(
                    "cannot read key file {name} (resolved to {}): {err}",
                    resolved()
                ),
                "key paths are relative to the manifest file that lists them; check the path \
                 and that the file is committed",
            );
            (Vec::new(), vec![problem])
        }
    }
}

/// [`load_key_file`] on contents already read; `name` is how problems refer to the file.
pub fn load_key_bytes(
    name: &str,
    bytes: &[u8],
    now: i64,
    warn_expiry_days: u32,
) -> (Vec<KeyState>, Vec<KeyFileProblem>) {
    let mut loader = FileLoader {
        name,
        now,
        warn_expiry_days,
        keys: Vec::new(),
        problems: Vec::new(),
    };
    loader.load(bytes);
    loader.check_duplicate_kids();
    (loader.keys, loader.problems)
}

/// The `kid`s that more than one key uses, with the sources (e.g. file paths or client names)
/// that use each: for the manifest-wide "kid is unique" rule.
pub fn duplicate_kids<'a>(
    keys: impl IntoIterator<Item = (&'a str, &'a KeyState)>,
) -> BTreeMap<String, Vec<String>> {
    let mut by_kid: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (source, key) in keys {
        by_kid
            .entry(key.kid.clone())
            .or_default()
            .push(source.to_owned());
    }
    by_kid.retain(|_, sources| sources.len() > 1);
    by_kid
}

/// A short, single-line rendering of a user-supplied value (never key material: only used
/// for `kty`, `alg`, `use` and PEM labels).
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(40).collect()
}

fn printable_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{}`", printable(s)),
        other => printable(&other.to_string()),
    }
}

/// `YYYY-MM-DD` (UTC) of Unix seconds.
pub fn format_date(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        Err(_) => unix.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::pem::pem_blocks;
    use super::*;
    use rsa::RsaPrivateKey;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    use std::sync::OnceLock;

    const NOW: i64 = 1_790_000_000; // 2026-09-21

    /// One 2048-bit key per test binary.
    pub(crate) fn test_key() -> &'static RsaPrivateKey {
        static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
        KEY.get_or_init(|| generate(2048))
    }

    fn second_key() -> &'static RsaPrivateKey {
        static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
        KEY.get_or_init(|| generate(2048))
    }

    fn generate(bits: usize) -> RsaPrivateKey {
        match RsaPrivateKey::new(&mut rand::thread_rng(), bits) {
            Ok(key) => key,
            Err(err) => panic!("key generation failed: {err}"),
        }
    }

    fn write(dir: &tempfile::TempDir, name: &str, contents: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn load(contents: &str) -> (Vec<KeyState>, Vec<KeyFileProblem>) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "key.txt", contents);
        load_key_file(&path, NOW, 30)
    }

    fn spki_pem(key: &RsaPrivateKey) -> String {
        key.to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    }

    fn jwk_json(key: &RsaPrivateKey) -> Map<String, Value> {
        public_jwk(&key.to_public_key(), None)
    }

    /// A certificate for `key` valid until `not_after` (Unix seconds), PEM.
    pub(crate) fn certificate_pem(key: &RsaPrivateKey, not_after: i64) -> String {
        let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let key_pair =
            rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["client.example".into()]).unwrap();
        params.not_before = time::OffsetDateTime::from_unix_timestamp(NOW - 400 * DAY).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
        params.self_signed(&key_pair).unwrap().pem()
    }

    fn only_error(problems: &[KeyFileProblem]) -> &KeyFileProblem {
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].severity, Severity::Error);
        &problems[0]
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 section 3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn spki_pem_gives_the_api_jwk_with_thumbprint_kid() {
        let key = test_key();
        let (keys, problems) = load(&spki_pem(key));
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(keys.len(), 1);
        let jwk = &keys[0].jwk;
        let n = jwk["n"].as_str().unwrap();
        let e = jwk["e"].as_str().unwrap();
        assert_eq!(e, "AQAB");
        assert!(!n.contains('='));
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(keys[0].kid, thumbprint(n, e));
        assert_eq!(jwk["kid"], keys[0].kid.as_str());
        assert_eq!(keys[0].cert_not_after, None);
        assert!(keys[0].source.as_deref().unwrap().ends_with("key.txt"));
        let decoded = URL_SAFE_NO_PAD.decode(n).unwrap();
        assert_eq!(decoded, key.to_public_key().n().to_bytes_be());
    }

    #[test]
    fn pkcs1_pem_gives_the_same_key_as_spki() {
        let key = test_key();
        let pkcs1 = key.to_public_key().to_pkcs1_pem(LineEnding::LF).unwrap();
        assert!(pkcs1.contains("BEGIN RSA PUBLIC KEY"));
        let (keys, problems) = load(&pkcs1);
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(keys[0].jwk, jwk_json(key));
    }

    #[test]
    fn jwk_file_keeps_its_own_kid_and_fills_alg_and_use() {
        let mut jwk = jwk_json(test_key());
        jwk.insert("kid".into(), "my-key-2026".into());
        jwk.remove("alg");
        jwk.remove("use");
        let (keys, problems) = load(&Value::Object(jwk).to_string());
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(keys[0].kid, "my-key-2026");
        assert_eq!(keys[0].jwk["alg"], "RS256");
        assert_eq!(keys[0].jwk["use"], "sig");
    }

    #[test]
    fn jwk_without_kid_gets_the_thumbprint() {
        let mut jwk = jwk_json(test_key());
        let expected = jwk.remove("kid").unwrap();
        let (keys, problems) = load(&Value::Object(jwk).to_string());
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(keys[0].jwk["kid"], expected);
    }

    #[test]
    fn jwks_file_gives_every_key() {
        let jwks = serde_json::json!({"keys": [jwk_json(test_key()), jwk_json(second_key())]});
        let (keys, problems) = load(&jwks.to_string());
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0].kid, keys[1].kid);
    }

    #[test]
    fn duplicate_kid_in_one_file_is_an_error() {
        let mut a = jwk_json(test_key());
        let mut b = jwk_json(second_key());
        a.insert("kid".into(), "same".into());
        b.insert("kid".into(), "same".into());
        let (keys, problems) = load(&serde_json::json!({ "keys": [a, b] }).to_string());
        let problem = only_error(&problems);
        assert!(
            problem
                .message
                .contains("more than one key with kid `same`")
        );
        assert!(keys.is_empty());
    }

    #[test]
    fn certificate_gives_x5c_and_not_after() {
        let key = test_key();
        let not_after = NOW + 365 * DAY;
        let pem = certificate_pem(key, not_after);
        let (keys, problems) = load(&pem);
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(keys[0].cert_not_after, Some(not_after));
        let x5c = keys[0].jwk["x5c"].as_array().unwrap();
        assert_eq!(x5c.len(), 1);
        let der = STANDARD.decode(x5c[0].as_str().unwrap()).unwrap();
        assert!(x509_parser::parse_x509_certificate(&der).is_ok());
        assert_eq!(keys[0].jwk["n"], jwk_json(key)["n"]);
        assert_eq!(keys[0].kid, jwk_json(key)["kid"].as_str().unwrap());
    }

    #[test]
    fn certificate_chain_uses_the_first_as_leaf_and_keeps_the_chain() {
        let leaf = certificate_pem(test_key(), NOW + 365 * DAY);
        let issuer = certificate_pem(second_key(), NOW + 700 * DAY);
        let (keys, problems) = load(&format!("{leaf}{issuer}"));
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].jwk["n"], jwk_json(test_key())["n"]);
        assert_eq!(keys[0].cert_not_after, Some(NOW + 365 * DAY));
        assert_eq!(keys[0].jwk["x5c"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn expired_certificate_is_an_error() {
        let (keys, problems) = load(&certificate_pem(test_key(), NOW - DAY));
        let problem = only_error(&problems);
        assert!(
            problem.message.contains("expired on"),
            "{}",
            problem.message
        );
        assert!(keys.is_empty());
    }

    #[test]
    fn certificate_expiring_inside_the_window_is_a_warning() {
        let (keys, problems) = load(&certificate_pem(test_key(), NOW + 10 * DAY + 5));
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].severity, Severity::Warning);
        assert!(problems[0].message.contains("in 10 day(s)"));
        assert_eq!(keys.len(), 1, "a warning keeps the key");
    }

    #[test]
    fn certificate_expiring_after_the_window_is_fine() {
        let (_, problems) = load(&certificate_pem(test_key(), NOW + 31 * DAY));
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn jwk_with_x5c_takes_not_after_and_checks_the_key_matches() {
        let pem = certificate_pem(test_key(), NOW + 100 * DAY);
        let der = pem_blocks(&pem).unwrap().remove(0).der;
        let mut jwk = jwk_json(test_key());
        jwk.insert("x5c".into(), serde_json::json!([STANDARD.encode(&der)]));
        let (keys, problems) = load(&Value::Object(jwk).to_string());
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(keys[0].cert_not_after, Some(NOW + 100 * DAY));

        let mut other = jwk_json(second_key());
        other.insert("x5c".into(), serde_json::json!([STANDARD.encode(&der)]));
        let (keys, problems) = load(&Value::Object(other).to_string());
        assert!(only_error(&problems).message.contains("differs from"));
        assert!(keys.is_empty());
    }

    #[test]
    fn key_of_another_size_is_refused() {
        let small = generate(1024);
        let (keys, problems) = load(&spki_pem(&small));
        let problem = only_error(&problems);
        assert!(
            problem.message.contains("1024-bit RSA key, not 2048-bit"),
            "{}",
            problem.message
        );
        assert!(keys.is_empty());
    }

    #[test]
    fn elliptic_curve_pem_is_not_rsa() {
        let ec = rcgen::KeyPair::generate().unwrap();
        let (keys, problems) = load(&ec.public_key_pem());
        assert!(only_error(&problems).message.contains("not an RSA key"));
        assert!(keys.is_empty());
    }

    #[test]
    fn elliptic_curve_jwk_is_not_rsa() {
        let jwk = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
        let (_, problems) = load(jwk);
        assert!(only_error(&problems).message.contains("kty `EC`"));
    }

    #[test]
    fn alg_other_than_rs256_is_refused() {
        let mut jwk = jwk_json(test_key());
        jwk.insert("alg".into(), "RS512".into());
        let (keys, problems) = load(&Value::Object(jwk).to_string());
        assert!(
            only_error(&problems)
                .message
                .contains("`alg` `RS512`, not RS256")
        );
        assert!(keys.is_empty());
    }

    #[test]
    fn use_other_than_sig_is_refused() {
        let mut jwk = jwk_json(test_key());
        jwk.insert("use".into(), "enc".into());
        let (_, problems) = load(&Value::Object(jwk).to_string());
        assert!(
            only_error(&problems)
                .message
                .contains("`use` `enc`, not `sig`")
        );
    }

    fn assert_private_key_refused(contents: &str, secret_fragment: &str) {
        let (keys, problems) = load(contents);
        let problem = only_error(&problems);
        assert!(
            problem
                .message
                .contains("a private key must never be committed"),
            "{}",
            problem.message
        );
        assert!(problem.message.contains("key.txt"));
        let help = problem.help.as_deref().unwrap();
        assert!(help.contains("public part") && help.contains("rotate"));
        assert!(keys.is_empty());
        let all = format!("{problems:?}");
        assert!(!all.contains(secret_fragment), "key material was echoed");
    }

    /// A line from the middle of a PEM body: key material that must never be echoed.
    fn body_line(pem: &str) -> String {
        pem.lines().nth(3).unwrap().to_owned()
    }

    #[test]
    fn pkcs8_private_key_is_refused_without_echo() {
        let pem = test_key().to_pkcs8_pem(LineEnding::LF).unwrap();
        assert!(pem.contains("BEGIN PRIVATE KEY"));
        assert_private_key_refused(&pem, &body_line(&pem));
    }

    #[test]
    fn pkcs1_private_key_is_refused_without_echo() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let pem = test_key().to_pkcs1_pem(LineEnding::LF).unwrap();
        assert!(pem.contains("BEGIN RSA PRIVATE KEY"));
        assert_private_key_refused(&pem, &body_line(&pem));
    }

    #[test]
    fn encrypted_and_ec_private_keys_are_refused() {
        let body = "MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI";
        for label in [
            "ENCRYPTED PRIVATE KEY",
            "EC PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
        ] {
            let pem = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n");
            assert_private_key_refused(&pem, body);
        }
    }

    #[test]
    fn private_key_inside_a_json_string_is_refused() {
        let pem = test_key().to_pkcs8_pem(LineEnding::LF).unwrap();
        let json = serde_json::json!({"kty": "RSA", "note": *pem}).to_string();
        assert!(!json.contains('\n'));
        assert_private_key_refused(&json, &body_line(&pem));
    }

    #[test]
    fn der_private_key_is_refused() {
        let der = test_key().to_pkcs8_der().unwrap();
        let (keys, problems) = load_key_bytes("key.der", der.as_bytes(), NOW, 30);
        let problem = only_error(&problems);
        assert!(
            problem
                .message
                .contains("a private key must never be committed")
        );
        assert!(keys.is_empty());
    }

    #[test]
    fn private_key_next_to_a_certificate_is_refused() {
        let cert = certificate_pem(test_key(), NOW + 365 * DAY);
        let private = test_key().to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_private_key_refused(&format!("{cert}{}", *private), &body_line(&private));
    }

    #[test]
    fn jwk_with_any_private_member_is_refused_without_echo() {
        for member in ["d", "p", "q", "dp", "dq", "qi"] {
            let mut jwk = jwk_json(test_key());
            jwk.insert(member.into(), "c2VjcmV0LXZhbHVlLWhlcmU".into());
            assert_private_key_refused(&Value::Object(jwk).to_string(), "c2VjcmV0LXZhbHVlLWhlcmU");
        }
        let jwks = serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0LXZhbHVlLWhlcmU"}]});
        assert_private_key_refused(&jwks.to_string(), "c2VjcmV0LXZhbHVlLWhlcmU");
    }

    #[test]
    fn missing_file_names_the_resolved_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("nope.jwk.json");
        let (keys, problems) = load_key_file(&path, NOW, 30);
        let problem = only_error(&problems);
        assert!(problem.message.contains("cannot read key file"));
        assert!(problem.message.contains("resolved to"));
        assert!(problem.message.contains("nope.jwk.json"));
        assert!(keys.is_empty());
    }

    #[test]
    fn unparseable_files_are_errors() {
        for contents in [
            "",
            "hello",
            "{ not json",
            "[1, 2]",
            "{\"keys\": 3}",
            "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "{\"kty\": \"RSA\", \"n\": \"***\", \"e\": \"AQAB\"}",
            "{\"kty\": \"RSA\"}",
        ] {
            let (keys, problems) = load(contents);
            assert!(keys.is_empty(), "{contents}");
            assert_eq!(problems.len(), 1, "{contents}: {problems:#?}");
            assert!(problems[0].is_error());
        }
        let (_, problems) = load("hello");
        assert!(problems[0].message.starts_with("cannot parse key file"));
    }

    #[test]
    fn binary_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.der");
        std::fs::write(&path, [0x30, 0x82, 0xff, 0xfe, 0x00]).unwrap();
        let (_, problems) = load_key_file(&path, NOW, 30);
        assert!(only_error(&problems).message.contains("binary"));
    }

    #[test]
    fn oversized_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.pem");
        std::fs::write(&path, vec![b'A'; 300 * 1024]).unwrap();
        let (_, problems) = load_key_file(&path, NOW, 30);
        assert!(
            only_error(&problems)
                .message
                .contains("larger than 256 KiB")
        );
    }

    proptest::proptest! {
        #[test]
        fn any_contents_give_problems_not_panics(contents in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..512)) {
            let (keys, problems) = load_key_bytes("fuzz", &contents, NOW, 30);
            proptest::prop_assert!(keys.is_empty());
            proptest::prop_assert!(!problems.is_empty());
        }

        #[test]
        fn pem_and_json_shaped_text_never_panics(body in "[A-Za-z0-9+/=:{}\\[\\]\",\\n -]{0,300}") {
            for wrapped in [
                format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"),
                format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"),
                format!("{{\"kty\":\"RSA\",\"n\":\"{body}\",\"e\":\"AQAB\"}}"),
                format!("{{\"keys\":[{body}]}}"),
            ] {
                let _ = load_key_bytes("fuzz", wrapped.as_bytes(), NOW, 30);
            }
        }
    }

    #[test]
    fn duplicate_kids_helper_names_every_source() {
        let (keys, _) = load(&spki_pem(test_key()));
        let (other, _) = load(&spki_pem(second_key()));
        let dups = duplicate_kids([
            ("a.pem", &keys[0]),
            ("b.pem", &keys[0]),
            ("c.pem", &other[0]),
        ]);
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[&keys[0].kid], vec!["a.pem", "b.pem"]);
    }

    #[test]
    fn format_date_is_iso() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(NOW), "2026-09-21");
    }
}
