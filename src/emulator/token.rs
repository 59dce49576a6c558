//! The Maskinporten token endpoint: the JWT-bearer grant (RFC 7523), the access tokens it
//! issues (RS256 JWTs signed by the emulator), their verification on API calls, the JWKS at
//! `/jwk` and the authorisation-server metadata.
//!
//! One deliberate leniency: an assertion's `iat` is accepted within ±10 s of either the
//! emulator's clock or the machine's clock, so that a client with an ordinary clock keeps
//! working while the emulator's clock is moved to test expiry. Everything else (key and
//! certificate expiry, access-token expiry, propagation) follows the emulator's clock.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use super::Shared;
use super::rules::SELF_SERVICE_SCOPES;
use crate::secret::Secret;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Default access-token lifetime (seconds) when neither client nor scope sets one.
const DEFAULT_TOKEN_LIFETIME: i64 = 120;
const MAX_ASSERTION_LIFETIME: i64 = 120;
const CLOCK_SKEW: i64 = 10;

/// The emulator's token-signing key.
#[derive(Debug)]
pub struct Signer {
    encoding: Secret<EncodingKey>,
    decoding: DecodingKey,
    kid: String,
    jwk: Value,
}

/// The public JWK (`kty`, `n`, `e`) of an RSA private key in PKCS#8 PEM.
pub fn public_jwk(private_pem: &str) -> Result<serde_json::Map<String, Value>, String> {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_pem)
        .map_err(|e| format!("unreadable RSA key: {e}"))?;
    let mut jwk = serde_json::Map::new();
    jwk.insert("kty".into(), "RSA".into());
    jwk.insert(
        "n".into(),
        URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()).into(),
    );
    jwk.insert(
        "e".into(),
        URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()).into(),
    );
    Ok(jwk)
}

impl Signer {
    pub fn from_pem(pem: &str, kid: &str) -> Result<Self, String> {
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| format!("unreadable signing key: {e}"))?;
        let mut jwk = public_jwk(pem)?;
        let decoding = DecodingKey::from_rsa_components(
            jwk.get("n").and_then(Value::as_str).unwrap_or_default(),
            jwk.get("e").and_then(Value::as_str).unwrap_or_default(),
        )
        .map_err(|e| format!("unreadable signing key: {e}"))?;
        jwk.insert("kid".into(), kid.into());
        jwk.insert("alg".into(), "RS256".into());
        jwk.insert("use".into(), "sig".into());
        Ok(Self {
            encoding: Secret::new(encoding),
            decoding,
            kid: kid.to_owned(),
            jwk: Value::Object(jwk),
        })
    }

    /// The JWKS published at `/jwk`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    fn sign(&self, claims: &Value) -> Result<String, String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, self.encoding.expose())
            .map_err(|e| format!("cannot sign the access token: {e}"))
    }

    /// Verifies an access token this emulator issued, at `now_unix`.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<Caller, String> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Value>(token, &self.decoding, &validation)
            .map_err(|_| "the access token is invalid (not issued by this emulator)".to_owned())?;
        let claims = data.claims;
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if exp <= now_unix {
            return Err("the access token has expired".into());
        }
        let org = claims
            .pointer("/consumer/ID")
            .and_then(Value::as_str)
            .and_then(|id| id.strip_prefix("0192:"))
            .ok_or("the access token has no consumer organisation")?;
        Ok(Caller {
            exp,
            org: org.to_owned(),
            client_id: claims
                .get("client_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            scopes: claims
                .get("scope")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        })
    }
}

/// Who is calling the self-service API, from the bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// When the token expires (Unix seconds).
    pub exp: i64,
    pub org: String,
    pub client_id: String,
    pub scopes: BTreeSet<String>,
}

/// A token-endpoint error in the OAuth2 shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn grant(description: impl Into<String>) -> Self {
        Self {
            error: "invalid_grant",
            description: description.into(),
        }
    }

    /// The response body, with a correlation id as Maskinporten adds.
    pub fn body(&self) -> Value {
        json!({
            "error": self.error,
            "error_description": format!("{} (correlation id: {})", self.description, uuid::Uuid::new_v4()),
        })
    }
}

fn assertion_algorithm(alg: Algorithm) -> Result<Algorithm, OAuthError> {
    match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => Ok(alg),
        other => Err(OAuthError::grant(format!(
            "alg {other:?} is not supported: use RS256, RS384 or RS512"
        ))),
    }
}

fn within(value: i64, reference: i64, skew: i64) -> bool {
    value.abs_diff(reference) <= skew.unsigned_abs()
}

/// Runs the JWT-bearer grant on a token request's form fields and returns the token response.
pub fn grant(shared: &Shared, form: &HashMap<String, String>) -> Result<Value, OAuthError> {
    match form.get("grant_type").map(String::as_str) {
        Some(JWT_BEARER) => {}
        Some(other) => {
            return Err(OAuthError {
                error: "unsupported_grant_type",
                description: format!("grant_type {other} is not supported; use {JWT_BEARER}"),
            });
        }
        None => {
            return Err(OAuthError {
                error: "invalid_request",
                description: "grant_type is missing".into(),
            });
        }
    }
    let assertion = form.get("assertion").ok_or_else(|| OAuthError {
        error: "invalid_request",
        description: "assertion is missing".into(),
    })?;
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| OAuthError::grant("the assertion is not a signed JWT"))?;
    let alg = assertion_algorithm(header.alg)?;
    let unverified: Value = jsonwebtoken::dangerous::insecure_decode_claims(assertion)
        .map_err(|_| OAuthError::grant("the assertion's claims are unreadable"))?;
    let client_id = unverified
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| OAuthError::grant("the assertion has no iss (the client id)"))?
        .to_owned();

    let now_ms = shared.clock.now_ms();
    let now = now_ms.div_euclid(1000);
    let propagation_ms = i64::try_from(shared.faults.propagation().as_millis()).unwrap_or(0);
    let state = shared.store.read();
    let client = state
        .clients
        .get(&client_id)
        .filter(|c| c.active && (c.admin || c.created.saturating_add(propagation_ms) <= now_ms))
        .ok_or_else(|| OAuthError {
            error: "invalid_client",
            description: format!("client {client_id} is unknown or inactive"),
        })?;

    let (key, method) = match (&header.kid, &header.x5c) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(OAuthError::grant(
                "the assertion header must carry exactly one of kid and x5c",
            ));
        }
        (Some(kid), None) => {
            let stored = state
                .jwks
                .get(&client_id)
                .and_then(|set| {
                    set.keys
                        .iter()
                        .find(|k| k.jwk.get("kid").and_then(Value::as_str) == Some(kid))
                })
                .filter(|k| client.admin || k.registered.saturating_add(propagation_ms) <= now_ms)
                .ok_or_else(|| {
                    OAuthError::grant(format!(
                        "kid {kid} is not registered for client {client_id}"
                    ))
                })?;
            if stored.exp <= now {
                return Err(OAuthError::grant(format!(
                    "the key {kid} of client {client_id} has expired"
                )));
            }
            let key = DecodingKey::from_rsa_components(
                stored
                    .jwk
                    .get("n")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                stored
                    .jwk
                    .get("e")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )
            .map_err(|_| OAuthError::grant(format!("the registered key {kid} is unusable")))?;
            (key, "private_key_jwt")
        }
        (None, Some(x5c)) => {
            let verified = shared
                .ca
                .verify(x5c, now)
                .map_err(|e| OAuthError::grant(format!("certificate refused: {e}")))?;
            if verified.organisation.as_str() != client.client_orgno {
                return Err(OAuthError::grant(format!(
                    "the certificate belongs to organisation {}, client {client_id} to {}",
                    verified.organisation, client.client_orgno
                )));
            }
            (
                DecodingKey::from_rsa_raw_components(&verified.modulus, &verified.exponent),
                "virksomhetssertifikat",
            )
        }
    };

    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|_| OAuthError::grant("the assertion's signature does not verify"))?
        .claims;

    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => *aud == shared.issuer,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(&shared.issuer)),
        _ => false,
    };
    if !audience_ok {
        return Err(OAuthError::grant(format!(
            "aud must be {} (the issuer)",
            shared.issuer
        )));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| OAuthError::grant("the assertion has no iat"))?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| OAuthError::grant("the assertion has no exp"))?;
    let system_now = time::OffsetDateTime::now_utc().unix_timestamp();
    let reference = if within(iat, now, CLOCK_SKEW) {
        now
    } else if within(iat, system_now, CLOCK_SKEW) {
        system_now
    } else {
        return Err(OAuthError::grant(
            "iat must be within 10 seconds of the server's clock",
        ));
    };
    if exp.saturating_sub(iat) > MAX_ASSERTION_LIFETIME {
        return Err(OAuthError::grant(
            "the assertion lives too long: exp may be at most 120 seconds after iat",
        ));
    }
    if exp < reference.saturating_sub(CLOCK_SKEW) {
        return Err(OAuthError::grant("the assertion has expired"));
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty())
        .ok_or_else(|| OAuthError::grant("the assertion has no jti"))?;

    let requested: BTreeSet<&str> = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    if requested.is_empty() {
        return Err(OAuthError {
            error: "invalid_scope",
            description: "no scope requested".into(),
        });
    }
    for scope in &requested {
        // An admin client may request the self-service scopes it holds (all of them unless
        // bootstrapped with fewer), as Maskinporten issues only scopes the client holds.
        let allowed = if client.admin {
            SELF_SERVICE_SCOPES.contains(scope) && client.scopes.iter().any(|s| s == scope)
        } else {
            client.scopes.contains(*scope)
                && state.scopes.get(*scope).is_some_and(|s| {
                    s.active
                        && (s.accessible_for_all || state.is_granted(scope, &client.client_orgno))
                })
        };
        if !allowed {
            return Err(OAuthError {
                error: "invalid_scope",
                description: format!("client {client_id} may not request scope {scope}"),
            });
        }
    }

    {
        let mut seen = shared.jtis.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 100_000 {
            seen.retain(|_, until| *until >= reference);
        }
        let key = format!("{client_id}\u{0}{jti}");
        if seen.contains_key(&key) {
            return Err(OAuthError::grant(
                "the assertion's jti has been used before",
            ));
        }
        seen.insert(key, exp.saturating_add(CLOCK_SKEW));
    }

    let lifetime = if client.access_token_lifetime > 0 {
        i64::from(client.access_token_lifetime)
    } else {
        requested
            .iter()
            .filter_map(|s| state.scopes.get(*s))
            .map(|s| i64::from(s.at_max_age))
            .filter(|age| *age > 0)
            .min()
            .unwrap_or(DEFAULT_TOKEN_LIFETIME)
    };
    let scope = requested.into_iter().collect::<Vec<_>>().join(" ");
    let access_claims = json!({
        "iss": shared.issuer,
        "client_amr": method,
        "token_type": "Bearer",
        "client_id": client_id,
        "consumer": { "authority": "iso6523-actorid-upis", "ID": format!("0192:{}", client.client_orgno) },
        "scope": scope,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    drop(state);
    let access_token = shared.signer.sign(&access_claims).map_err(|e| OAuthError {
        error: "server_error",
        description: e,
    })?;
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": scope,
    }))
}

/// The authorisation-server metadata (`/.well-known/oauth-authorization-server`).
pub fn metadata(issuer: &str) -> Value {
    let base = issuer.trim_end_matches('/');
    json!({
        "issuer": issuer,
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwk"),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "grant_types_supported": [JWT_BEARER],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "RS512"],
        "authorization_details_types_supported": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signer_never_shows_its_key() {
        let pem = super::super::ca::generate_rsa_pem().unwrap();
        let signer = Signer::from_pem(&pem, "kid-1").unwrap();
        for debug in [format!("{signer:?}"), format!("{signer:#?}")] {
            assert!(debug.contains("kid-1"), "{debug}");
            for line in pem.lines().filter(|l| !l.starts_with("-----")) {
                assert!(!debug.contains(line), "{debug}");
            }
        }
    }
}
