//! JWK and JWKS files, and the public JWK (with its RFC 7638 thumbprint) the API wants.

use super::loader::FileLoader;
use super::*;

impl FileLoader<'_> {
    pub(super) fn load_json(&mut self, text: &str) {
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

    pub(super) fn load_jwk(&mut self, jwk: &Map<String, Value>, label: &str) {
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

/// Decodes base64url with or without padding.
pub(super) fn decode_b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}
