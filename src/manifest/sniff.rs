//! Recognising files that are not manifests — keys, certificates, tokens, key stores — before
//! they are parsed, so that no diagnostic ever shows a line of them. Such a file gets a short
//! message located at the file alone, and its text is never kept.

use base64::Engine as _;

/// What a file given where a manifest belongs turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotManifest {
    /// A PEM private key (PKCS#1, PKCS#8, SEC1, encrypted or not).
    PrivateKey,
    /// A PEM certificate (or certificate request).
    Certificate,
    /// A PEM public key.
    PublicKey,
    /// Some other PEM block.
    Pem,
    /// A JWK or JWKS with private members (`d`, `p`, `q`, … or a symmetric `k`).
    PrivateJwk,
    /// A public JWK or JWKS.
    PublicJwk,
    /// A JWT (signed or encrypted): a token.
    Jwt,
    /// Binary ASN.1 DER: a key, a certificate or a PKCS#12 key store.
    Der,
    /// Some other binary file.
    Binary,
}

impl NotManifest {
    /// The one-line message: what the file looks like, and why it is not read.
    pub fn message(self) -> &'static str {
        match self {
            Self::PrivateKey => {
                "this looks like a private key; key files are referenced from a manifest, never loaded as one"
            }
            Self::Certificate => {
                "this looks like a certificate; key files are referenced from a manifest, never loaded as one"
            }
            Self::PublicKey | Self::PublicJwk => {
                "this looks like a public key; key files are referenced from a manifest, never loaded as one"
            }
            Self::Pem => {
                "this looks like a PEM file (a key or certificate); key files are referenced from a manifest, never loaded as one"
            }
            Self::PrivateJwk => {
                "this looks like a private key (a JWK with private members); key files are referenced from a manifest, never loaded as one"
            }
            Self::Jwt => {
                "this looks like a token (a JWT), not a manifest; its content is not shown"
            }
            Self::Der => {
                "this looks like a binary key, certificate or PKCS#12 key store (DER); key files are referenced from a manifest, never loaded as one"
            }
            Self::Binary => "this is a binary file, not a manifest; its content is not shown",
        }
    }

    /// How to go on.
    pub fn help(self) -> &'static str {
        match self {
            Self::Jwt | Self::Binary => {
                "name the manifest (a YAML file starting with `version: 1`), or a directory of them"
            }
            _ => {
                "name the manifest (a YAML file starting with `version: 1`); list public key files under a client's `keys`, and give private keys to mpctl only through credentials (see docs/credentials.md)"
            }
        }
    }
}

/// Classifies a file's bytes; `None` when it may be a manifest (text that is none of the above).
pub fn sniff(bytes: &[u8]) -> Option<NotManifest> {
    if matches!(bytes, [0x30, 0x80..=0x84, ..]) || bytes.contains(&0) {
        return Some(binary_kind(bytes));
    }
    // Text in another encoding than UTF-8 is left to the loader, which shows no line of it.
    let text = std::str::from_utf8(bytes).ok()?;
    if let Some(kind) = pem_kind(text) {
        return Some(kind);
    }
    let trimmed = text.trim();
    if trimmed.starts_with('{')
        && let Ok(value) = serde_json::from_str::<serde_json::Value>(trimmed)
        && let Some(kind) = jwk_kind(&value)
    {
        return Some(kind);
    }
    is_jwt(trimmed).then_some(NotManifest::Jwt)
}

fn binary_kind(bytes: &[u8]) -> NotManifest {
    // A DER SEQUENCE with a multi-byte or indefinite length: how every DER key, certificate and
    // PKCS#12 file starts.
    match bytes {
        [0x30, 0x80..=0x84, ..] => NotManifest::Der,
        _ => NotManifest::Binary,
    }
}

fn pem_kind(text: &str) -> Option<NotManifest> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let label = text[start..].split("-----").next().unwrap_or_default();
    Some(if label.contains("PRIVATE KEY") {
        NotManifest::PrivateKey
    } else if label.contains("CERTIFICATE") {
        NotManifest::Certificate
    } else if label.contains("PUBLIC KEY") {
        NotManifest::PublicKey
    } else {
        NotManifest::Pem
    })
}

/// A JWK (`kty`) or a JWKS (`keys` of JWKs); private when any key has a private member.
fn jwk_kind(value: &serde_json::Value) -> Option<NotManifest> {
    const PRIVATE: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    let keys: Vec<&serde_json::Value> = if value.get("kty").is_some() {
        vec![value]
    } else {
        value
            .get("keys")?
            .as_array()?
            .iter()
            .filter(|k| k.get("kty").is_some())
            .collect()
    };
    if keys.is_empty() {
        return None;
    }
    let private = keys
        .iter()
        .any(|k| PRIVATE.iter().any(|member| k.get(member).is_some()));
    Some(if private {
        NotManifest::PrivateJwk
    } else {
        NotManifest::PublicJwk
    })
}

/// A compact JWS (three parts) or JWE (five parts) whose header decodes to a JSON object.
fn is_jwt(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    if !matches!(parts.len(), 3 | 5) {
        return false;
    }
    let base64url = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    parts.iter().all(|p| base64url(p))
        && base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[0])
            .ok()
            .and_then(|header| serde_json::from_slice::<serde_json::Value>(&header).ok())
            .is_some_and(|header| header.is_object())
}

/// A scalar as quoted in a message: its first line, cut to a short prefix, so that a value that
/// is in fact a secret pasted in the wrong place is never shown whole.
pub fn clip(text: &str) -> String {
    const MAX_CHARS: usize = 32;
    let first_line = text.lines().next().unwrap_or_default();
    let cut: String = first_line.chars().take(MAX_CHARS).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_keys_certificates_tokens_and_binary_files() {
        let cases: &[(&[u8], Option<NotManifest>)] = &[
            (
                b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
                Some(NotManifest::PrivateKey),
            ),
            (
                b"junk\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n",
                Some(NotManifest::PrivateKey),
            ),
            (
                b"-----BEGIN CERTIFICATE-----\nMIIC\n",
                Some(NotManifest::Certificate),
            ),
            (
                b"-----BEGIN PUBLIC KEY-----\n",
                Some(NotManifest::PublicKey),
            ),
            (b"-----BEGIN OPENSSH THING-----\n", Some(NotManifest::Pem)),
            (
                br#"{"kty":"RSA","n":"x","e":"AQAB","d":"secret"}"#,
                Some(NotManifest::PrivateJwk),
            ),
            (
                br#"{"keys":[{"kty":"oct","k":"secret"}]}"#,
                Some(NotManifest::PrivateJwk),
            ),
            (
                br#" {"kty":"RSA","n":"x","e":"AQAB"} "#,
                Some(NotManifest::PublicJwk),
            ),
            (
                b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\n",
                Some(NotManifest::Jwt),
            ),
            (
                &[0x30, 0x82, 0x04, 0xbe, 0x02, 0x01, 0x00],
                Some(NotManifest::Der),
            ),
            (&[0x89, b'P', b'N', b'G', 0], Some(NotManifest::Binary)),
            (b"version: 1\norganization: \"910753282\"\n", None),
            (b"{\"version\": 1}", None),
            (b"a.b.c", None),
            (b"", None),
        ];
        for (bytes, want) in cases {
            assert_eq!(sniff(bytes), *want, "{}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn clip_keeps_a_short_first_line_prefix() {
        assert_eq!(clip("short"), "short");
        assert_eq!(clip("line one\nline two"), "line one…");
        assert_eq!(clip(&"x".repeat(100)), format!("{}…", "x".repeat(32)));
        assert_eq!(clip(&"é".repeat(33)), format!("{}…", "é".repeat(32)));
    }
}
