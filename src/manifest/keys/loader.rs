//! The key-file loader: reads one file's contents, tells its format apart, and collects
//! its keys and problems.

use super::*;

/// Parses one key file's contents; `name` is how problems refer to the file.
pub(super) struct FileLoader<'a> {
    pub(super) name: &'a str,
    pub(super) now: i64,
    pub(super) warn_expiry_days: u32,
    pub(super) keys: Vec<KeyState>,
    pub(super) problems: Vec<KeyFileProblem>,
}

impl FileLoader<'_> {
    pub(super) fn load(&mut self, bytes: &[u8]) {
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

    pub(super) fn unparseable(&mut self, why: &str) {
        self.problems.push(KeyFileProblem::error(
            format!("cannot parse key file {}: {why}", self.name),
            "a key file holds a public JWK, a JWKS (`{\"keys\": [...]}`), a PEM public key \
             (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`) or a PEM certificate",
        ));
    }

    pub(super) fn private_key_found(&mut self, what: &str) {
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

    pub(super) fn key_error(&mut self, label: &str, what: &str) {
        self.problems.push(KeyFileProblem::error(
            format!("{label} {what}"),
            "Maskinporten accepts only RSA 2048-bit public keys with `alg: RS256` and `use: sig`",
        ));
    }

    /// Checks size and expiry of a parsed key and adds it with its derived JWK.
    pub(super) fn accept(
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

    pub(super) fn check_duplicate_kids(&mut self) {
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
