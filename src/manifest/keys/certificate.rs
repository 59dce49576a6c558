//! X.509 certificates: the public key and expiry of a DER certificate.

use super::*;

/// The public key and Not After (Unix seconds) of a DER certificate.
pub(super) fn certificate_key(der: &[u8]) -> Result<(RsaPublicKey, i64), &'static str> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|_| "is not a valid X.509 certificate")?;
    let public = spki_key(cert.public_key().raw)?;
    Ok((public, cert.validity().not_after.timestamp()))
}
