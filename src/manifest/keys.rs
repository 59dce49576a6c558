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
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::state::KeyState;

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

/// Parses one key file's contents; `name` is how problems refer to the file.
struct FileLoader<'a> {
    name: &'a str,
    now: i64,
    warn_expiry_days: u32,
    keys: Vec<KeyState>,
    problems: Vec<KeyFileProblem>,
}

impl FileLoader<'_> {
    fn load(&mut self, bytes: &[u8]) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            if is_der_private_key(bytes) {
                self.private_key_found("a DER private key");
            } else {
                self.unparseable("it is binary, not a JWK, JWKS or PEM text file");
            }
            return;
        };
        if contains_private_pem(text) {
            self.private_key_found("a PEM private key");
            return;
        }
        let trimmed = text.trim_start_matches('\u{feff}').trim();
        if trimmed.starts_with('{') {
            self.load_json(trimmed);
        } else if trimmed.contains("-----BEGIN ") {
            self.load_pem(trimmed);
        } else if trimmed.is_empty() {
            self.unparseable("it is empty");
        } else {
            self.unparseable("it is neither JSON (JWK or JWKS) nor PEM");
        }
    }

    fn unparseable(&mut self, why: &str) {
        self.problems.push(KeyFileProblem::error(
            format!("cannot parse key file {}: {why}", self.name),
            "a key file holds a public JWK, a JWKS (`{\"keys\": [...]}`), a PEM public key \
             (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`) or a PEM certificate",
        ));
    }

    fn private_key_found(&mut self, what: &str) {
        self.problems.push(KeyFileProblem::error(
            format!(
                "key file {} contains {what}: a private key must never be committed",
                self.name
            ),
            "replace the file with the public part only (e.g. `openssl rsa -in key.pem -pubout`, \
             or `mpctl keys rotate`, which keeps the private key out of the repository), and \
             rotate the key: it may have leaked through version control",
        ));
    }

    fn load_json(&mut self, text: &str) {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(err) => {
                // serde_json's message has only line and column, never the input.
                let why = format!(
                    "invalid JSON at line {}, column {}",
                    err.line(),
                    err.column()
                );
                self.unparseable(&why);
                return;
            }
        };
        let Value::Object(object) = value else {
            self.unparseable("the JSON is not an object");
            return;
        };
        match object.get("keys") {
            Some(Value::Array(keys)) => {
                if keys.is_empty() {
                    self.unparseable("its `keys` array is empty");
                }
                for (index, key) in keys.iter().enumerate() {
                    let label = format!("key #{} of {}", index + 1, self.name);
                    match key {
                        Value::Object(jwk) => self.load_jwk(jwk, &label),
                        _ => self.key_error(&label, "is not a JSON object"),
                    }
                }
            }
            Some(_) => self.unparseable("its `keys` member is not an array"),
            None => {
                let label = format!("the key in {}", self.name);
                self.load_jwk(&object, &label);
            }
        }
    }

    fn key_error(&mut self, label: &str, what: &str) {
        self.problems.push(KeyFileProblem::error(
            format!("{label} {what}"),
            "Maskinporten accepts only RSA 2048-bit public keys with `alg: RS256` and `use: sig`",
        ));
    }

    fn load_jwk(&mut self, jwk: &Map<String, Value>, label: &str) {
        if PRIVATE_JWK_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            self.private_key_found("a JWK with private key members");
            return;
        }
        match jwk.get("kty").and_then(Value::as_str) {
            Some("RSA") => {}
            Some(other) => {
                let what = format!("is not an RSA key (kty `{}`)", printable(other));
                self.key_error(label, &what);
                return;
            }
            None => {
                self.key_error(label, "has no `kty` (it must be `RSA`)");
                return;
            }
        }
        if let Some(alg) = jwk.get("alg")
            && alg.as_str() != Some(REQUIRED_ALG)
        {
            let what = format!("has `alg` {}, not {REQUIRED_ALG}", printable_value(alg));
            self.key_error(label, &what);
            return;
        }
        if let Some(key_use) = jwk.get("use")
            && key_use.as_str() != Some("sig")
        {
            let what = format!("has `use` {}, not `sig`", printable_value(key_use));
            self.key_error(label, &what);
            return;
        }
        let (Some(n), Some(e)) = (
            jwk.get("n").and_then(Value::as_str).and_then(decode_b64url),
            jwk.get("e").and_then(Value::as_str).and_then(decode_b64url),
        ) else {
            self.key_error(label, "has no valid base64url `n` and `e`");
            return;
        };
        let public = match RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
        {
            Ok(public) => public,
            Err(_) => {
                self.key_error(label, "is not a valid RSA public key");
                return;
            }
        };
        let kid = match jwk.get("kid") {
            None => None,
            Some(Value::String(kid)) if !kid.trim().is_empty() => Some(kid.clone()),
            Some(_) => {
                self.key_error(label, "has a `kid` that is not a non-empty string");
                return;
            }
        };
        let chain = match jwk.get("x5c") {
            None => None,
            Some(Value::Array(items)) => {
                let mut chain = Vec::new();
                for item in items {
                    match item.as_str().and_then(|s| STANDARD.decode(s).ok()) {
                        Some(der) => chain.push(der),
                        None => {
                            self.key_error(label, "has an `x5c` entry that is not base64 DER");
                            return;
                        }
                    }
                }
                Some(chain)
            }
            Some(_) => {
                self.key_error(label, "has an `x5c` that is not an array");
                return;
            }
        };
        let mut cert_not_after = None;
        if let Some(chain) = &chain {
            let Some(leaf) = chain.first() else {
                self.key_error(label, "has an empty `x5c`");
                return;
            };
            match certificate_key(leaf) {
                Ok((cert_key, not_after)) if cert_key == public => cert_not_after = Some(not_after),
                Ok(_) => {
                    self.key_error(
                        label,
                        "has an `x5c` certificate whose public key differs from `n`/`e`",
                    );
                    return;
                }
                Err(why) => {
                    let what = format!("has an `x5c` certificate that {why}");
                    self.key_error(label, &what);
                    return;
                }
            }
        }
        self.accept(label, &public, kid, chain.as_deref(), cert_not_after);
    }

    fn load_pem(&mut self, text: &str) {
        let blocks = match pem_blocks(text) {
            Ok(blocks) => blocks,
            Err(why) => {
                self.unparseable(why);
                return;
            }
        };
        let mut chain = Vec::new();
        let mut index = 0;
        for block in blocks {
            index += 1;
            let label = format!("PEM block #{index} ({}) of {}", block.label, self.name);
            match block.label.as_str() {
                "PUBLIC KEY" => match spki_key(&block.der) {
                    Ok(public) => self.accept(&label, &public, None, None, None),
                    Err(why) => self.key_error(&label, why),
                },
                "RSA PUBLIC KEY" => match RsaPublicKey::from_pkcs1_der(&block.der) {
                    Ok(public) => self.accept(&label, &public, None, None, None),
                    Err(_) => self.key_error(&label, "is not a valid PKCS#1 RSA public key"),
                },
                "CERTIFICATE" => chain.push(block.der),
                other => {
                    let what = format!(
                        "is a `{}` block, not a public key or certificate",
                        printable(other)
                    );
                    self.key_error(&label, &what);
                }
            }
        }
        if let Some(leaf) = chain.first() {
            let label = format!("the certificate in {}", self.name);
            match certificate_key(leaf) {
                Ok((public, not_after)) => {
                    self.accept(&label, &public, None, Some(&chain), Some(not_after))
                }
                Err(why) => self.key_error(&label, why),
            }
        }
    }

    /// Checks size and expiry of a parsed key and adds it with its derived JWK.
    fn accept(
        &mut self,
        label: &str,
        public: &RsaPublicKey,
        kid: Option<String>,
        chain: Option<&[Vec<u8>]>,
        cert_not_after: Option<i64>,
    ) {
        let bits = public.n().bits();
        if bits != REQUIRED_KEY_BITS {
            let what = format!("is a {bits}-bit RSA key, not {REQUIRED_KEY_BITS}-bit");
            self.key_error(label, &what);
            return;
        }
        if let Some(not_after) = cert_not_after {
            let date = format_date(not_after);
            if not_after <= self.now {
                self.problems.push(KeyFileProblem::error(
                    format!("{label}: the certificate expired on {date}"),
                    "a client cannot authenticate with an expired certificate; replace it with \
                     a renewed one (or rotate to a new key with `mpctl keys rotate`)",
                ));
                return;
            }
            let days_left = (not_after - self.now) / DAY;
            if not_after - self.now <= i64::from(self.warn_expiry_days) * DAY {
                self.problems.push(KeyFileProblem::warning(
                    format!("{label}: the certificate expires on {date}, in {days_left} day(s)"),
                    "renew the certificate, or rotate to a new key with `mpctl keys rotate`, \
                     before it expires",
                ));
            }
        }
        let mut jwk = public_jwk(public, kid.as_deref());
        if let Some(chain) = chain {
            let x5c = chain.iter().map(|der| Value::String(STANDARD.encode(der)));
            jwk.insert("x5c".into(), Value::Array(x5c.collect()));
        }
        let kid = jwk
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.keys.push(KeyState {
            kid,
            jwk,
            exp: None,
            cert_not_after,
            source: Some(self.name.to_owned()),
            retire_after: None,
        });
    }

    fn check_duplicate_kids(&mut self) {
        let mut seen = BTreeSet::new();
        let mut duplicates = BTreeSet::new();
        for key in &self.keys {
            if !seen.insert(key.kid.clone()) {
                duplicates.insert(key.kid.clone());
            }
        }
        if duplicates.is_empty() {
            return;
        }
        for kid in &duplicates {
            self.problems.push(KeyFileProblem::error(
                format!(
                    "key file {} has more than one key with kid `{kid}`",
                    self.name
                ),
                "each key needs its own `kid`; remove the duplicate or give it another kid",
            ));
        }
        self.keys.retain(|k| !duplicates.contains(&k.kid));
    }
}

/// The public JWK the API wants for `public`: `kty`, `kid` (`kid` if given, else the RFC 7638
/// thumbprint), `use: sig`, `alg: RS256`, `n`, `e`.
pub fn public_jwk(public: &RsaPublicKey, kid: Option<&str>) -> Map<String, Value> {
    let n = URL_SAFE_NO_PAD.encode(public.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(public.e().to_bytes_be());
    let kid = kid.map_or_else(|| thumbprint(&n, &e), str::to_owned);
    let mut jwk = Map::new();
    jwk.insert("kty".into(), "RSA".into());
    jwk.insert("kid".into(), kid.into());
    jwk.insert("use".into(), "sig".into());
    jwk.insert("alg".into(), REQUIRED_ALG.into());
    jwk.insert("n".into(), n.into());
    jwk.insert("e".into(), e.into());
    jwk
}

/// The RFC 7638 JWK thumbprint of an RSA key: base64url (no padding) of the SHA-256 of
/// `{"e":…,"kty":"RSA","n":…}`, with `n` and `e` in their base64url JWK form.
pub fn thumbprint(n_b64url: &str, e_b64url: &str) -> String {
    let canonical = format!(r#"{{"e":"{e_b64url}","kty":"RSA","n":"{n_b64url}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
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

/// Whether the text holds any PEM private key block (PKCS#8, PKCS#1, encrypted, EC, OpenSSH…),
/// also inside a string (e.g. a JSON value with `\n` escapes).
fn contains_private_pem(text: &str) -> bool {
    text.match_indices("-----BEGIN ").any(|(at, begin)| {
        let rest = &text[at + begin.len()..];
        rest.find("-----")
            .is_some_and(|end| rest[..end].contains("PRIVATE KEY"))
    })
}

/// Whether binary contents are a DER-encoded RSA private key (PKCS#8 or PKCS#1).
fn is_der_private_key(bytes: &[u8]) -> bool {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    rsa::RsaPrivateKey::from_pkcs8_der(bytes).is_ok()
        || rsa::RsaPrivateKey::from_pkcs1_der(bytes).is_ok()
}

/// One PEM block: its label and decoded contents.
struct PemBlock {
    label: String,
    der: Vec<u8>,
}

/// Splits PEM text into blocks; text outside blocks (e.g. `openssl` bag attributes) is ignored.
fn pem_blocks(text: &str) -> Result<Vec<PemBlock>, &'static str> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for line in lines.by_ref() {
            if line == end {
                closed = true;
                break;
            }
            if line.contains(':') {
                continue; // RFC 1421 headers
            }
            body.push_str(line);
        }
        if !closed {
            return Err("a PEM block has no matching END line");
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| "a PEM block is not valid base64")?;
        blocks.push(PemBlock {
            label: label.to_owned(),
            der,
        });
    }
    if blocks.is_empty() {
        return Err("it has no complete PEM block");
    }
    Ok(blocks)
}

/// Decodes a SubjectPublicKeyInfo, telling a non-RSA key apart from a broken one.
fn spki_key(der: &[u8]) -> Result<RsaPublicKey, &'static str> {
    use x509_parser::prelude::FromDer;
    use x509_parser::public_key::PublicKey;
    use x509_parser::x509::SubjectPublicKeyInfo;
    match SubjectPublicKeyInfo::from_der(der) {
        Ok((_, spki)) => match spki.parsed() {
            Ok(PublicKey::RSA(_)) => {
                RsaPublicKey::from_public_key_der(der).map_err(|_| "is not a valid RSA public key")
            }
            Ok(PublicKey::EC(_)) => Err("is not an RSA key (it is an elliptic-curve key)"),
            Ok(_) | Err(_) => Err("is not an RSA key"),
        },
        Err(_) => Err("is not a valid SubjectPublicKeyInfo public key"),
    }
}

/// The public key and Not After (Unix seconds) of a DER certificate.
fn certificate_key(der: &[u8]) -> Result<(RsaPublicKey, i64), &'static str> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|_| "is not a valid X.509 certificate")?;
    let public = spki_key(cert.public_key().raw)?;
    Ok((public, cert.validity().not_after.timestamp()))
}

/// Decodes base64url with or without padding.
fn decode_b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
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
