//! The admin client's credentials for one environment, read from the process environment
//! (never from a manifest): a client id plus either a private key with its `kid`, or a business
//! certificate keystore (PKCS#12) whose certificate chain is sent as `x5c`.
//!
//! Variables, with `<ENV>` the environment's name upper-cased and every other character than
//! letters and digits turned into `_` (`my-test` → `MY_TEST`):
//! - `MPCTL_<ENV>_CLIENT_ID`: the admin client's `client_id`.
//! - `MPCTL_<ENV>_KEY_FILE`: a private RSA key, PEM (PKCS#1 or PKCS#8, unencrypted) or JWK; a
//!   PEM file may also hold the certificate chain, which is then sent as `x5c`.
//! - `MPCTL_<ENV>_KEY_ID`: the key's registered `kid` (optional when the JWK has one).
//! - `MPCTL_<ENV>_KEYSTORE` and `MPCTL_<ENV>_KEYSTORE_PASSWORD`: a PKCS#12 keystore (business
//!   certificate) instead of a key file.
//!
//! A business certificate names its issuing CA; Buypass' and Commfides' test CAs have `TEST` in
//! their names. A test certificate used against Digdir's production environment, or a
//! production certificate against the test environment, is refused before any request (see
//! [`Credentials::check_environment`]). Keys registered by `kid` carry no such mark; for them
//! the token endpoint's refusal is explained instead (see `auth`).

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use jsonwebtoken::EncodingKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey};

use super::endpoints::DigdirEnv;
use crate::manifest::orgno::OrgNo;
use crate::secret::Secret;

/// How the token endpoint identifies the signing key: exactly one of these goes in the grant's
/// header.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyIdentity {
    /// A key registered on the client, by its `kid`.
    Kid(String),
    /// A certificate chain (leaf first, base64 DER), for business certificates.
    X5c(Vec<String>),
}

impl fmt::Debug for KeyIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyIdentity::Kid(kid) => f.debug_tuple("Kid").field(kid).finish(),
            KeyIdentity::X5c(chain) => write!(f, "X5c({} certificates)", chain.len()),
        }
    }
}

/// What the leaf certificate of a keystore says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    /// Not After, Unix seconds.
    pub not_after: i64,
    /// The organisation number in the subject (`serialNumber`, or `organizationIdentifier`
    /// `NTRNO-<orgno>`), when there is one.
    pub organization: Option<OrgNo>,
    /// Which of Digdir's environments the issuing CA serves, when it is Buypass or Commfides.
    pub issued_for: Option<DigdirEnv>,
}

/// An admin client's credentials. `Debug` never shows key material.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The admin client's `client_id` (the grant's `iss`).
    pub client_id: String,
    private_key: Secret<EncodingKey>,
    identity: KeyIdentity,
    certificate: Option<CertificateInfo>,
}

/// Why credentials cannot be used. Messages name files and variables, never their contents.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CredentialError {
    #[error("no credentials for environment `{env}`: {variable} is not set")]
    #[diagnostic(
        code(mpctl::credentials::missing),
        help(
            "set {variable} and either MPCTL_{prefix}_KEY_FILE (+ MPCTL_{prefix}_KEY_ID) or MPCTL_{prefix}_KEYSTORE (+ MPCTL_{prefix}_KEYSTORE_PASSWORD); see docs/credentials.md"
        )
    )]
    Missing {
        env: String,
        variable: String,
        prefix: String,
    },
    #[error("cannot read {what} {path}: {reason}")]
    #[diagnostic(
        code(mpctl::credentials::unreadable),
        help("check the path in {variable}")
    )]
    Unreadable {
        what: &'static str,
        path: PathBuf,
        variable: String,
        reason: String,
    },
    #[error("{source_name} is not a usable private key: {reason}")]
    #[diagnostic(
        code(mpctl::credentials::bad_key),
        help(
            "give an unencrypted RSA private key (2048 bits or more) as PEM (`BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`) or as a JWK with `n`, `e`, `d`, `p`, `q`"
        )
    )]
    BadKey { source_name: String, reason: String },
    #[error("the key in {source_name} has no key id")]
    #[diagnostic(
        code(mpctl::credentials::no_kid),
        help(
            "set {variable} to the `kid` the key was registered with, or give the certificate chain (keystore) instead"
        )
    )]
    NoKid {
        source_name: String,
        variable: String,
    },
    #[error("cannot open the keystore {source_name}: {reason}")]
    #[diagnostic(
        code(mpctl::credentials::bad_keystore),
        help(
            "check the keystore password ({variable}) and that the file is a PKCS#12 (.p12/.pfx) with the certificate's private key"
        )
    )]
    BadKeystore {
        source_name: String,
        variable: String,
        reason: String,
    },
    #[error(
        "the certificate for environment `{env}` was issued by a {cert_env} CA ({issuer}), but `{env}` is Digdir's {target_env} environment"
    )]
    #[diagnostic(
        code(mpctl::credentials::wrong_environment),
        help(
            "Digdir's test environment only accepts test certificates and production only production ones: use the {target_env} business certificate for `{env}`"
        )
    )]
    WrongEnvironment {
        env: String,
        issuer: String,
        cert_env: &'static str,
        target_env: &'static str,
    },
    #[error(
        "the certificate for environment `{env}` belongs to organisation {certificate_org}, but the manifest is for {manifest_org}"
    )]
    #[diagnostic(
        code(mpctl::credentials::wrong_organization),
        help(
            "the organisation of every self-service call is the certificate's: use {manifest_org}'s business certificate, or fix the manifest's `organization`"
        )
    )]
    WrongOrganization {
        env: String,
        certificate_org: OrgNo,
        manifest_org: OrgNo,
    },
}

/// The variable-name prefix of an environment: `MPCTL_<ENV>`.
pub fn variable_prefix(env_name: &str) -> String {
    env_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl Credentials {
    /// Reads the credentials of `env_name` from the process environment.
    pub fn from_env(env_name: &str) -> Result<Self, CredentialError> {
        Self::from_lookup(env_name, |name| {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        })
    }

    /// Reads the credentials of `env_name` through `lookup` (a variable name → value), so that
    /// tests need not touch the process environment.
    pub fn from_lookup(
        env_name: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, CredentialError> {
        let prefix = variable_prefix(env_name);
        let var = |suffix: &str| format!("MPCTL_{prefix}_{suffix}");
        let client_id_var = var("CLIENT_ID");
        let client_id = lookup(&client_id_var).ok_or_else(|| CredentialError::Missing {
            env: env_name.to_owned(),
            variable: client_id_var.clone(),
            prefix: prefix.clone(),
        })?;
        if let Some(keystore) = lookup(&var("KEYSTORE")) {
            let path = PathBuf::from(keystore);
            let bytes = read(&path, "keystore", &var("KEYSTORE"))?;
            let password = lookup(&var("KEYSTORE_PASSWORD")).unwrap_or_default();
            return Self::from_pkcs12(
                client_id,
                &bytes,
                &password,
                &path.display().to_string(),
                &var("KEYSTORE_PASSWORD"),
            );
        }
        let key_file_var = var("KEY_FILE");
        let Some(key_file) = lookup(&key_file_var) else {
            return Err(CredentialError::Missing {
                env: env_name.to_owned(),
                variable: key_file_var,
                prefix,
            });
        };
        let path = PathBuf::from(key_file);
        let bytes = read(&path, "key file", &key_file_var)?;
        let text = String::from_utf8(bytes).map_err(|_| CredentialError::BadKey {
            source_name: path.display().to_string(),
            reason: "the file is not text (a PKCS#12 keystore goes in MPCTL_<ENV>_KEYSTORE)".into(),
        })?;
        Self::from_private_key(
            client_id,
            &text,
            lookup(&var("KEY_ID")).as_deref(),
            &path.display().to_string(),
            &var("KEY_ID"),
        )
    }

    /// Credentials from a private key in PEM or JWK text. `kid` (if given) wins over the JWK's
    /// own; a PEM file with certificates and no `kid` authenticates with the chain (`x5c`).
    /// `source_name` and `kid_variable` only appear in error messages.
    pub fn from_private_key(
        client_id: String,
        text: &str,
        kid: Option<&str>,
        source_name: &str,
        kid_variable: &str,
    ) -> Result<Self, CredentialError> {
        Self::from_private_key_finding_kid(client_id, text, kid, source_name, kid_variable, |_| {
            None
        })
    }

    /// Credentials of an integration's client from its private key file (`mpctl token`): as
    /// [`Credentials::from_private_key`], and when neither `kid` nor the JWK names the key,
    /// `find_kid` gets the key's RSA modulus (big-endian) to find the `kid` of the matching
    /// registered public key. The file's content never appears in an error.
    pub fn from_key_file(
        client_id: String,
        path: &Path,
        kid: Option<&str>,
        kid_option: &str,
        find_kid: impl FnOnce(&[u8]) -> Option<String>,
    ) -> Result<Self, CredentialError> {
        let bytes = read(path, "key file", "--key")?;
        let text = String::from_utf8(bytes).map_err(|_| CredentialError::BadKey {
            source_name: path.display().to_string(),
            reason: "the file is not text: give the key as PEM or JWK (a PKCS#12 keystore can be converted with `openssl pkcs12 -nodes`)".into(),
        })?;
        Self::from_private_key_finding_kid(
            client_id,
            &text,
            kid,
            &path.display().to_string(),
            kid_option,
            find_kid,
        )
    }

    fn from_private_key_finding_kid(
        client_id: String,
        text: &str,
        kid: Option<&str>,
        source_name: &str,
        kid_variable: &str,
        find_kid: impl FnOnce(&[u8]) -> Option<String>,
    ) -> Result<Self, CredentialError> {
        let bad = |reason: &str| CredentialError::BadKey {
            source_name: source_name.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = text.trim_start();
        let (private_key, jwk_kid, chain) = if trimmed.starts_with('{') {
            let (key, jwk_kid) = key_from_jwk(trimmed).map_err(|r| bad(&r))?;
            (key, jwk_kid, Vec::new())
        } else {
            let blocks = pem_blocks(text);
            let key = blocks
                .iter()
                .find_map(|(label, der)| match label.as_str() {
                    "PRIVATE KEY" => Some(
                        RsaPrivateKey::from_pkcs8_der(der)
                            .map_err(|_| bad("the PKCS#8 key is not an RSA key or is damaged")),
                    ),
                    "RSA PRIVATE KEY" => Some(
                        RsaPrivateKey::from_pkcs1_der(der)
                            .map_err(|_| bad("the PKCS#1 key is damaged")),
                    ),
                    "ENCRYPTED PRIVATE KEY" => Some(Err(bad(
                        "the key is encrypted; decrypt it first (openssl pkcs8)",
                    ))),
                    _ => None,
                })
                .unwrap_or_else(|| Err(bad("no private key found (neither PEM nor JWK)")))?;
            let chain: Vec<Vec<u8>> = blocks
                .into_iter()
                .filter(|(label, _)| label == "CERTIFICATE")
                .map(|(_, der)| der)
                .collect();
            (key, None, chain)
        };
        let found = match kid.or(jwk_kid.as_deref()) {
            Some(_) => None,
            None => find_kid(&private_key.n().to_bytes_be()),
        };
        let identity = match (
            kid.or(jwk_kid.as_deref()).or(found.as_deref()),
            chain.is_empty(),
        ) {
            (Some(kid), _) => KeyIdentity::Kid(kid.to_owned()),
            (None, false) => KeyIdentity::X5c(Vec::new()),
            (None, true) => {
                return Err(CredentialError::NoKid {
                    source_name: source_name.to_owned(),
                    variable: kid_variable.to_owned(),
                });
            }
        };
        if matches!(identity, KeyIdentity::X5c(_)) {
            return Self::with_chain(client_id, private_key, chain, source_name)
                .map_err(|r| bad(&r));
        }
        Self::with_identity(client_id, private_key, identity, None).map_err(|r| bad(&r))
    }

    /// Credentials from a PKCS#12 keystore: its private key, with its certificate chain sent
    /// as `x5c`.
    pub fn from_pkcs12(
        client_id: String,
        bytes: &[u8],
        password: &str,
        source_name: &str,
        password_variable: &str,
    ) -> Result<Self, CredentialError> {
        let bad = |reason: String| CredentialError::BadKeystore {
            source_name: source_name.to_owned(),
            variable: password_variable.to_owned(),
            reason,
        };
        let store = p12_keystore::KeyStore::from_pkcs12(bytes, password)
            .map_err(|e| bad(keystore_reason(&e)))?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| bad("it holds no private key".into()))?;
        let key = RsaPrivateKey::from_pkcs8_der(chain.key())
            .map_err(|_| bad("its private key is not an RSA key".into()))?;
        let certs: Vec<Vec<u8>> = chain.chain().iter().map(|c| c.as_der().to_vec()).collect();
        if certs.is_empty() {
            return Err(bad("it holds no certificate for its private key".into()));
        }
        Self::with_chain(client_id, key, certs, source_name).map_err(bad)
    }

    /// Credentials from a private key and its certificate chain (any order; the certificate
    /// of the key goes first).
    fn with_chain(
        client_id: String,
        key: RsaPrivateKey,
        mut chain: Vec<Vec<u8>>,
        source_name: &str,
    ) -> Result<Self, String> {
        let modulus = key.n().to_bytes_be();
        let leaf_index = chain
            .iter()
            .position(|der| certificate_modulus(der).as_deref() == Some(modulus.as_slice()))
            .ok_or_else(|| format!("no certificate in {source_name} belongs to its private key"))?;
        let leaf = chain.remove(leaf_index);
        chain.insert(0, leaf);
        let info = certificate_info(&chain[0])
            .ok_or_else(|| format!("the certificate in {source_name} cannot be read"))?;
        let encoded = chain
            .iter()
            .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
            .collect();
        Self::with_identity(client_id, key, KeyIdentity::X5c(encoded), Some(info))
    }

    fn with_identity(
        client_id: String,
        key: RsaPrivateKey,
        identity: KeyIdentity,
        certificate: Option<CertificateInfo>,
    ) -> Result<Self, String> {
        if key.size() * 8 < 2048 {
            return Err(format!(
                "the RSA key has {} bits; Maskinporten needs at least 2048",
                key.size() * 8
            ));
        }
        let der = key
            .to_pkcs1_der()
            .map_err(|_| "the key cannot be encoded".to_owned())?;
        Ok(Self {
            client_id,
            private_key: Secret::new(EncodingKey::from_rsa_der(der.as_bytes())),
            identity,
            certificate,
        })
    }

    /// How the grant identifies the key (`kid` or `x5c`).
    pub fn identity(&self) -> &KeyIdentity {
        &self.identity
    }

    /// The certificate, for keystore credentials.
    pub fn certificate(&self) -> Option<&CertificateInfo> {
        self.certificate.as_ref()
    }

    /// The signing key (crate-internal: only the grant builder signs).
    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        self.private_key.expose()
    }

    /// Refuses a business certificate of another organisation than `expected`, before any
    /// request (the token would act for the certificate's organisation).
    pub fn check_organization(
        &self,
        env_name: &str,
        expected: &OrgNo,
    ) -> Result<(), CredentialError> {
        match self
            .certificate
            .as_ref()
            .and_then(|c| c.organization.as_ref())
        {
            Some(org) if org != expected => Err(CredentialError::WrongOrganization {
                env: env_name.to_owned(),
                certificate_org: org.clone(),
                manifest_org: expected.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Refuses a certificate from a test CA against Digdir's production environment and the
    /// reverse. Keys without a certificate, and environments that are not Digdir's, pass.
    pub fn check_environment(
        &self,
        env_name: &str,
        target: Option<DigdirEnv>,
    ) -> Result<(), CredentialError> {
        let (Some(cert), Some(target)) = (&self.certificate, target) else {
            return Ok(());
        };
        match cert.issued_for {
            Some(issued) if issued != target => Err(CredentialError::WrongEnvironment {
                env: env_name.to_owned(),
                issuer: cert.issuer.clone(),
                cert_env: issued.as_str(),
                target_env: target.as_str(),
            }),
            _ => Ok(()),
        }
    }
}

fn read(path: &Path, what: &'static str, variable: &str) -> Result<Vec<u8>, CredentialError> {
    std::fs::read(path).map_err(|e| CredentialError::Unreadable {
        what,
        path: path.to_owned(),
        variable: variable.to_owned(),
        reason: e.kind().to_string(),
    })
}

/// A keystore error in words that never include key material.
fn keystore_reason(error: &p12_keystore::error::Error) -> String {
    match error {
        // The MAC over the contents, keyed by the password, does not match.
        p12_keystore::error::Error::MacError(_) => "wrong password or damaged file".into(),
        other => format!("not a readable PKCS#12 keystore ({other})"),
    }
}

/// The `(label, DER)` blocks of a PEM text; malformed blocks are skipped.
fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            current = Some((label.to_owned(), String::new()));
        } else if line.starts_with("-----END ") {
            if let Some((label, body)) = current.take()
                && let Ok(der) = base64::engine::general_purpose::STANDARD.decode(body)
            {
                blocks.push((label, der));
            }
        } else if let Some((_, body)) = current.as_mut()
            && !line.contains(':')
        {
            body.push_str(line);
        }
    }
    blocks
}

/// A private RSA key from a JWK (or a JWKS holding one private key), with its `kid`.
fn key_from_jwk(text: &str) -> Result<(RsaPrivateKey, Option<String>), String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "the JWK is not valid JSON".to_owned())?;
    let jwk = match value.get("keys").and_then(|k| k.as_array()) {
        Some(keys) => {
            let private: Vec<&serde_json::Value> =
                keys.iter().filter(|k| k.get("d").is_some()).collect();
            match private.as_slice() {
                [one] => (*one).clone(),
                [] => return Err("the JWKS holds no private key".into()),
                _ => return Err("the JWKS holds several private keys; give one".into()),
            }
        }
        None => value,
    };
    if jwk.get("kty").and_then(|v| v.as_str()) != Some("RSA") {
        return Err("the JWK is not an RSA key (`kty` must be `RSA`)".into());
    }
    let number = |name: &str| -> Result<BigUint, String> {
        let text = jwk
            .get(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("the JWK has no `{name}` (is it a public key?)"))?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| format!("the JWK's `{name}` is not base64url"))?;
        Ok(BigUint::from_bytes_be(&bytes))
    };
    let key = RsaPrivateKey::from_components(
        number("n")?,
        number("e")?,
        number("d")?,
        vec![number("p")?, number("q")?],
    )
    .map_err(|_| "the JWK's numbers do not form an RSA key".to_owned())?;
    key.validate()
        .map_err(|_| "the JWK's numbers do not form a valid RSA key".to_owned())?;
    let kid = jwk.get("kid").and_then(|v| v.as_str()).map(str::to_owned);
    Ok((key, kid))
}

/// The RSA modulus (big-endian, no leading zeros) of a certificate's public key.
fn certificate_modulus(der: &[u8]) -> Option<Vec<u8>> {
    use x509_parser::public_key::PublicKey;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    match cert.public_key().parsed().ok()? {
        PublicKey::RSA(rsa) => {
            let m = rsa.modulus;
            let start = m.iter().position(|b| *b != 0).unwrap_or(m.len());
            Some(m[start..].to_vec())
        }
        _ => None,
    }
}

/// Reads subject, issuer, expiry, organisation number and issuing environment of a
/// certificate.
pub fn certificate_info(der: &[u8]) -> Option<CertificateInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let issuer = cert.issuer().to_string();
    let mut organization = None;
    for attr in cert.subject().iter_attributes() {
        let oid = attr.attr_type().to_id_string();
        let Ok(value) = attr.as_str() else { continue };
        let candidate = match oid.as_str() {
            "2.5.4.5" => value.trim(),
            "2.5.4.97" => value.trim().trim_start_matches("NTRNO-"),
            _ => continue,
        };
        if let Ok(org) = OrgNo::parse(candidate) {
            organization = Some(org);
        }
    }
    Some(CertificateInfo {
        subject: cert.subject().to_string(),
        issued_for: issuing_environment(&issuer),
        issuer,
        not_after: cert.validity().not_after.timestamp(),
        organization,
    })
}

/// Which of Digdir's environments a Buypass or Commfides CA serves: their test CAs carry
/// `TEST` in the name (`Buypass Class 3 Test4 CA G2 ST Business`, `Commfides Legal Person -
/// G3 - TEST`). Other issuers (an emulator's CA, a private CA) are not judged.
pub fn issuing_environment(issuer: &str) -> Option<DigdirEnv> {
    let lower = issuer.to_ascii_lowercase();
    if !(lower.contains("buypass") || lower.contains("commfides")) {
        return None;
    }
    if lower.contains("test") {
        Some(DigdirEnv::Test)
    } else {
        Some(DigdirEnv::Prod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_prefix_is_upper_snake() {
        assert_eq!(variable_prefix("prod"), "PROD");
        assert_eq!(variable_prefix("my-test.2"), "MY_TEST_2");
    }

    #[test]
    fn issuers_are_sorted_into_environments() {
        assert_eq!(
            issuing_environment(
                "CN=Buypass Class 3 Test4 CA G2 ST Business, O=Buypass AS-983163327, C=NO"
            ),
            Some(DigdirEnv::Test)
        );
        assert_eq!(
            issuing_environment("CN=Commfides Legal Person - G3 - TEST, O=Commfides Norge AS"),
            Some(DigdirEnv::Test)
        );
        assert_eq!(
            issuing_environment("CN=Buypass Class 3 CA G2 HT Business, O=Buypass AS-983163327"),
            Some(DigdirEnv::Prod)
        );
        assert_eq!(issuing_environment("CN=mpctl emulator CA"), None);
    }

    #[test]
    fn missing_variables_name_the_variable() {
        let err = Credentials::from_lookup("prod", |_| None).unwrap_err();
        assert!(err.to_string().contains("MPCTL_PROD_CLIENT_ID"), "{err}");
        let err = Credentials::from_lookup("prod", |n| {
            (n == "MPCTL_PROD_CLIENT_ID").then(|| "abc".to_owned())
        })
        .unwrap_err();
        assert!(err.to_string().contains("MPCTL_PROD_KEY_FILE"), "{err}");
    }

    #[test]
    fn pem_blocks_are_split_by_label() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n-----BEGIN X-----\n!!\n-----END X-----\n";
        let blocks = pem_blocks(text);
        assert_eq!(blocks, vec![("CERTIFICATE".to_owned(), vec![0, 1, 2])]);
    }

    #[test]
    fn garbage_is_refused_without_echoing_it() {
        let err = Credentials::from_private_key(
            "c".into(),
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXN0dWZm\n-----END PRIVATE KEY-----\n",
            Some("kid"),
            "key.pem",
            "MPCTL_X_KEY_ID",
        )
        .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("c2VjcmV0LXN0dWZm"), "{text}");
        assert!(text.contains("key.pem"));
    }
}
