//! The validation rules of the self-service API as the emulator enforces them: scope names,
//! organisation numbers, JWKs, the self-service scopes each endpoint needs, contact addresses.
//! Pure functions, unit-tested here and exercised over HTTP in `tests/emulator_*.rs`.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::emulator::store::Contacts;
use crate::manifest::orgno::OrgNo;

pub const SCOPES_READ: &str = "idporten:scopes.read";
pub const SCOPES_WRITE: &str = "idporten:scopes.write";
pub const DCR_READ: &str = "idporten:dcr.read";
pub const DCR_WRITE: &str = "idporten:dcr.write";
pub const DCR_MODIFY: &str = "idporten:dcr.modify";
pub const DCR_SUPPLIER: &str = "idporten:dcr.supplier";

/// The scopes an admin (self-service) client may request at the token endpoint.
pub const SELF_SERVICE_SCOPES: [&str; 6] = [
    SCOPES_READ,
    SCOPES_WRITE,
    DCR_READ,
    DCR_WRITE,
    DCR_MODIFY,
    DCR_SUPPLIER,
];

/// The most keys a client may have registered.
pub const MAX_KEYS: usize = 5;

/// The longest and default lifetime of a registered key's JWK `exp`: one year.
pub const KEY_MAX_LIFETIME_SECS: i64 = 365 * 24 * 3600;

/// Integration types a client or scope may name.
pub const INTEGRATION_TYPES: [&str; 7] = [
    "maskinporten",
    "api_klient",
    "idporten",
    "idporten_saml2",
    "ansattporten",
    "krr",
    "eformidling",
];

fn is_word(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A prefix: `^[a-z0-9]+([_-][a-z0-9]+)*$`, at most 64 characters.
///
/// Digdir assigns prefixes by hand and documents no syntax; every prefix in use is lowercase
/// letters and digits, sometimes joined by `-` or `_`.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() > 64 || !prefix.split(['-', '_']).all(is_word) {
        return Err(format!(
            "invalid prefix `{prefix}`: use lowercase letters and digits, optionally joined by single `-` or `_` (at most 64 characters)"
        ));
    }
    Ok(())
}

/// A subscope: `^[a-z0-9]+([./_-][a-z0-9]+)*$`, and the full name at most 255 characters.
///
/// The documented characters are lowercase letters, digits, `.`, `/`, `-` and `_`; the
/// emulator also refuses empty segments (a leading, trailing or doubled separator), which no
/// scope in use has.
pub fn check_subscope(prefix: &str, subscope: &str) -> Result<(), String> {
    let full = prefix.len() + 1 + subscope.len();
    if full > 255 || !subscope.split(['.', '/', '-', '_']).all(is_word) {
        return Err(format!(
            "invalid subscope `{subscope}`: use lowercase letters and digits separated by single `.`, `/`, `-` or `_` (the whole scope name at most 255 characters)"
        ));
    }
    Ok(())
}

/// Splits `prefix:subscope`.
pub fn split_scope(name: &str) -> Option<(&str, &str)> {
    name.split_once(':')
}

/// An organisation number: 9 digits with a valid mod-11 check digit.
pub fn check_orgno(value: &str) -> Result<OrgNo, String> {
    OrgNo::parse(value).map_err(|e| format!("invalid organisation number: {e}"))
}

/// What a valid JWK tells the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedKey {
    pub kid: String,
    /// Not After of the `x5c` leaf certificate, Unix seconds.
    pub cert_not_after: Option<i64>,
}

fn required_str<'a>(
    jwk: &'a serde_json::Map<String, serde_json::Value>,
    field: &str,
    index: usize,
) -> Result<&'a str, String> {
    match jwk.get(field) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(format!("keys[{index}].{field} must be a non-empty string")),
        None => Err(format!("keys[{index}] is missing required field `{field}`")),
    }
}

/// Checks one JWK as the API does: `kty: RSA`, `alg: RS256`, `use: sig` (required since
/// 2025), a 2048-bit modulus, an exponent, a `kid`, and an optional `x5c` whose certificate
/// holds the same key.
pub fn check_jwk(
    jwk: &serde_json::Map<String, serde_json::Value>,
    index: usize,
) -> Result<CheckedKey, String> {
    let kid = required_str(jwk, "kid", index)?;
    let kty = required_str(jwk, "kty", index)?;
    if kty != "RSA" {
        return Err(format!(
            "keys[{index}] (kid {kid}): kty must be RSA, not {kty}"
        ));
    }
    let alg = required_str(jwk, "alg", index)?;
    if alg != "RS256" {
        return Err(format!(
            "keys[{index}] (kid {kid}): alg must be RS256, not {alg}"
        ));
    }
    let key_use = required_str(jwk, "use", index)?;
    if key_use != "sig" {
        return Err(format!(
            "keys[{index}] (kid {kid}): use must be sig, not {key_use}"
        ));
    }
    let n = URL_SAFE_NO_PAD
        .decode(required_str(jwk, "n", index)?)
        .map_err(|_| format!("keys[{index}] (kid {kid}): n is not base64url"))?;
    let e = URL_SAFE_NO_PAD
        .decode(required_str(jwk, "e", index)?)
        .map_err(|_| format!("keys[{index}] (kid {kid}): e is not base64url"))?;
    let n_trimmed: Vec<u8> = n.iter().skip_while(|b| **b == 0).copied().collect();
    // The first byte is not zero, so it has at most 7 leading zero bits.
    let bits = n_trimmed
        .first()
        .map_or(0, |b| n_trimmed.len() * 8 - b.leading_zeros() as usize);
    if bits != 2048 {
        return Err(format!(
            "keys[{index}] (kid {kid}): only 2048-bit RSA keys are accepted, this one has {bits} bits"
        ));
    }
    if e.is_empty() {
        return Err(format!("keys[{index}] (kid {kid}): e is empty"));
    }
    let cert_not_after = match jwk.get("x5c") {
        None => None,
        Some(x5c) => {
            let leaf = x5c
                .as_array()
                .and_then(|a| a.first())
                .and_then(|c| c.as_str())
                .and_then(|c| STANDARD.decode(c).ok())
                .ok_or_else(|| {
                    format!(
                        "keys[{index}] (kid {kid}): x5c must be an array of base64 DER certificates"
                    )
                })?;
            let (_, cert) = X509Certificate::from_der(&leaf).map_err(|_| {
                format!("keys[{index}] (kid {kid}): x5c[0] is not an X.509 certificate")
            })?;
            match cert.public_key().parsed() {
                Ok(PublicKey::RSA(rsa))
                    if rsa
                        .modulus
                        .iter()
                        .skip_while(|b| **b == 0)
                        .eq(n_trimmed.iter())
                        && rsa
                            .exponent
                            .iter()
                            .skip_while(|b| **b == 0)
                            .eq(e.iter().skip_while(|b| **b == 0)) => {}
                _ => {
                    return Err(format!(
                        "keys[{index}] (kid {kid}): the x5c certificate holds a different key than n/e"
                    ));
                }
            }
            Some(cert.validity().not_after.timestamp())
        }
    };
    Ok(CheckedKey {
        kid: kid.to_owned(),
        cert_not_after,
    })
}

/// Checks contacts sent to the extension endpoints: every address must be an e-mail address.
pub fn check_contacts(contacts: &Contacts) -> Result<(), String> {
    let invoice = contacts.invoice.iter().map(|i| i.email.as_str());
    for address in contacts
        .notifications
        .iter()
        .map(String::as_str)
        .chain(invoice)
    {
        if !email_address::EmailAddress::is_valid(address) {
            return Err(format!("`{address}` is not an e-mail address"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names() {
        assert!(check_prefix("acme").is_ok());
        assert!(check_prefix("acme-test_2").is_ok());
        for bad in ["", "Acme", "acme:x", "-acme", "ac--me", "acme.x"] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
        assert!(check_subscope("acme", "orders.read").is_ok());
        assert!(check_subscope("acme", "v1/orders/read-all_x").is_ok());
        for bad in ["", "Orders", "orders.", "/orders", "a..b", "a b", "a:b"] {
            assert!(check_subscope("acme", bad).is_err(), "{bad}");
        }
        assert!(check_subscope("acme", &"a".repeat(251)).is_err());
    }

    proptest::proptest! {
        #[test]
        fn names_never_panic_and_accepted_ones_are_lowercase(prefix in "\\PC{0,12}", subscope in "\\PC{0,40}") {
            if check_prefix(&prefix).is_ok() && check_subscope(&prefix, &subscope).is_ok() {
                let name = format!("{prefix}:{subscope}");
                proptest::prop_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._/-:".contains(&b)));
                proptest::prop_assert_eq!(split_scope(&name), Some((prefix.as_str(), subscope.as_str())));
            }
        }

        #[test]
        fn jwk_checks_never_panic(n in "\\PC{0,400}", e in "\\PC{0,8}", kid in "\\PC{0,8}") {
            let jwk = serde_json::json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": n, "e": e});
            let _ = check_jwk(jwk.as_object().unwrap(), 0);
        }
    }

    #[test]
    fn organisation_numbers() {
        assert!(check_orgno("974760673").is_ok());
        assert!(check_orgno("974760674").is_err());
        assert!(check_orgno("97476067").is_err());
    }

    fn jwk(bits: usize) -> serde_json::Map<String, serde_json::Value> {
        let mut n = vec![0xffu8; bits / 8];
        n[0] = 0xc1;
        serde_json::json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k1",
            "n": URL_SAFE_NO_PAD.encode(n), "e": "AQAB"
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn jwks() {
        assert_eq!(
            check_jwk(&jwk(2048), 0),
            Ok(CheckedKey {
                kid: "k1".into(),
                cert_not_after: None
            })
        );
        assert!(check_jwk(&jwk(4096), 0).unwrap_err().contains("2048"));
        let mut no_use = jwk(2048);
        no_use.remove("use");
        assert!(check_jwk(&no_use, 0).unwrap_err().contains("`use`"));
        let mut rs512 = jwk(2048);
        rs512.insert("alg".into(), "RS512".into());
        assert!(check_jwk(&rs512, 0).is_err());
        let mut zero = jwk(2048);
        zero.insert("n".into(), "AAAA".into());
        assert!(check_jwk(&zero, 0).unwrap_err().contains("0 bits"));
    }

    #[test]
    fn contacts() {
        let mut c = Contacts {
            notifications: vec!["drift@acme.no".into()],
            invoice: None,
        };
        assert!(check_contacts(&c).is_ok());
        c.notifications.push("not an address".into());
        assert!(check_contacts(&c).is_err());
    }
}
