//! PEM files: public keys, private-key detection and block splitting.

use super::loader::FileLoader;
use super::*;

impl FileLoader<'_> {
    pub(super) fn load_pem(&mut self, text: &str) {
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
}

/// Whether the text holds any PEM private key block (PKCS#8, PKCS#1, encrypted, EC, OpenSSH…),
/// also inside a string (e.g. a JSON value with `\n` escapes).
pub(super) fn contains_private_pem(text: &str) -> bool {
    text.match_indices("-----BEGIN ").any(|(at, begin)| {
        let rest = &text[at + begin.len()..];
        rest.find("-----")
            .is_some_and(|end| rest[..end].contains("PRIVATE KEY"))
    })
}

/// Whether binary contents are a DER-encoded RSA private key (PKCS#8 or PKCS#1).
pub(super) fn is_der_private_key(bytes: &[u8]) -> bool {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    rsa::RsaPrivateKey::from_pkcs8_der(bytes).is_ok()
        || rsa::RsaPrivateKey::from_pkcs1_der(bytes).is_ok()
}

/// One PEM block: its label and decoded contents.
pub(super) struct PemBlock {
    pub(super) label: String,
    pub(super) der: Vec<u8>,
}

/// Splits PEM text into blocks; text outside blocks (e.g. `openssl` bag attributes) is ignored.
pub(super) fn pem_blocks(text: &str) -> Result<Vec<PemBlock>, &'static str> {
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
pub(super) fn spki_key(der: &[u8]) -> Result<RsaPublicKey, &'static str> {
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
