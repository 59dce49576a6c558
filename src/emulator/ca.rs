//! The emulator's test certificate authority. It issues business certificates
//! (virksomhetssertifikater) that carry the organisation number in the subject's
//! `serialNumber` attribute, as Norwegian business certificates do, and verifies `x5c` chains
//! presented at the token endpoint, mapping the certificate to its organisation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::manifest::orgno::OrgNo;
use crate::secret::Secret;

/// The subject `serialNumber` attribute (OID 2.5.4.5) that holds the organisation number.
const SERIAL_NUMBER_OID: [u64; 4] = [2, 5, 4, 5];

/// The CA's key and certificate (PEM).
#[derive(Debug, Clone)]
pub struct TestCa {
    key_pem: Secret<String>,
    cert_pem: String,
    cert_der: Vec<u8>,
}

/// A business certificate issued by the test CA, with its private key.
#[derive(Debug, Clone)]
pub struct BusinessCertificate {
    /// The chain as `x5c` wants it: leaf first, then the CA, each base64 (standard) DER.
    pub x5c: Vec<String>,
    /// The leaf certificate, PEM.
    pub certificate_pem: String,
    /// The leaf's RSA private key, PKCS#8 PEM.
    pub private_key_pem: Secret<String>,
}

/// What a verified certificate says.
#[derive(Debug, Clone)]
pub struct VerifiedCertificate {
    pub organisation: OrgNo,
    /// RSA modulus and exponent, big-endian.
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
    /// Not After, Unix seconds.
    pub not_after: i64,
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, "NO");
    name.push(DnType::OrganizationName, "mpctl emulator");
    name.push(DnType::CommonName, "mpctl emulator test CA");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2100, 1, 1);
    params
}

/// Generates a 2048-bit RSA private key, PKCS#8 PEM.
pub fn generate_rsa_pem() -> Result<String, String> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
        .map_err(|e| format!("cannot generate an RSA key: {e}"))?;
    key.to_pkcs8_pem(LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| format!("cannot encode an RSA key: {e}"))
}

impl TestCa {
    /// A new CA with a fresh ECDSA P-256 key.
    pub fn generate() -> Result<Self, String> {
        let key = KeyPair::generate().map_err(|e| format!("cannot generate the CA key: {e}"))?;
        let cert = ca_params()
            .self_signed(&key)
            .map_err(|e| format!("cannot create the CA certificate: {e}"))?;
        Ok(Self {
            key_pem: Secret::new(key.serialize_pem()),
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
        })
    }

    /// Restores a CA from its stored key and certificate.
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<Self, String> {
        let der = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
            .map_err(|e| format!("the stored CA certificate is unreadable: {e}"))?
            .1
            .contents;
        KeyPair::from_pem(key_pem).map_err(|e| format!("the stored CA key is unreadable: {e}"))?;
        Ok(Self {
            key_pem: Secret::new(key_pem.to_owned()),
            cert_pem: cert_pem.to_owned(),
            cert_der: der,
        })
    }

    pub fn key_pem(&self) -> &str {
        self.key_pem.expose()
    }

    /// The CA certificate (public), PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a business certificate for `organisation`, valid between the given Unix times,
    /// with a fresh RSA-2048 key.
    pub fn issue(
        &self,
        organisation: &OrgNo,
        not_before: i64,
        not_after: i64,
    ) -> Result<BusinessCertificate, String> {
        let ca_key = KeyPair::from_pem(self.key_pem.expose()).map_err(|e| e.to_string())?;
        let issuer = Issuer::new(ca_params(), ca_key);
        let private_key_pem = generate_rsa_pem()?;
        let leaf_key =
            KeyPair::from_pkcs8_pem_and_sign_algo(&private_key_pem, &rcgen::PKCS_RSA_SHA256)
                .map_err(|e| format!("cannot load the certificate key: {e}"))?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CountryName, "NO");
        name.push(
            DnType::OrganizationName,
            format!("Test organisation {organisation}"),
        );
        name.push(
            DnType::CommonName,
            format!("Test organisation {organisation}"),
        );
        name.push(
            DnType::CustomDnType(SERIAL_NUMBER_OID.to_vec()),
            organisation.as_str(),
        );
        params.distinguished_name = name;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        let time = |unix: i64| {
            time::OffsetDateTime::from_unix_timestamp(unix)
                .map_err(|e| format!("certificate validity out of range: {e}"))
        };
        params.not_before = time(not_before)?;
        params.not_after = time(not_after)?;
        let mut serial = [0u8; 16];
        rand::Rng::fill(&mut rand::thread_rng(), &mut serial);
        serial[0] &= 0x7f;
        params.serial_number = Some(serial.to_vec().into());
        let cert = params
            .signed_by(&leaf_key, &issuer)
            .map_err(|e| format!("cannot sign the certificate: {e}"))?;
        Ok(BusinessCertificate {
            x5c: vec![STANDARD.encode(cert.der()), STANDARD.encode(&self.cert_der)],
            certificate_pem: cert.pem(),
            private_key_pem: Secret::new(private_key_pem),
        })
    }

    /// Verifies an `x5c` chain: the leaf must be signed by this CA and valid at `now_unix`,
    /// and name an organisation in its subject `serialNumber`.
    pub fn verify(&self, x5c: &[String], now_unix: i64) -> Result<VerifiedCertificate, String> {
        let leaf_b64 = x5c.first().ok_or("x5c is empty")?;
        let leaf_der = STANDARD
            .decode(leaf_b64)
            .map_err(|_| "x5c[0] is not base64-encoded DER")?;
        let (_, leaf) = X509Certificate::from_der(&leaf_der)
            .map_err(|_| "x5c[0] is not an X.509 certificate")?;
        let (_, ca) = X509Certificate::from_der(&self.cert_der)
            .map_err(|_| "the emulator's CA certificate is unreadable")?;
        leaf.verify_signature(Some(ca.public_key())).map_err(
            |_| "the certificate is not issued by a trusted CA (the emulator's test CA)",
        )?;
        let validity = leaf.validity();
        if now_unix < validity.not_before.timestamp() {
            return Err("the certificate is not valid yet".into());
        }
        if now_unix > validity.not_after.timestamp() {
            return Err("the certificate has expired".into());
        }
        let oid = x509_parser::oid_registry::OID_X509_SERIALNUMBER;
        let serial = leaf
            .subject()
            .iter_by_oid(&oid)
            .next()
            .and_then(|attr| attr.as_str().ok())
            .ok_or("the certificate's subject has no serialNumber (organisation number)")?;
        let organisation = OrgNo::parse(serial.trim_start_matches("NTRNO-"))
            .map_err(|e| format!("the certificate's organisation number is invalid: {e}"))?;
        let (modulus, exponent) = match leaf.public_key().parsed() {
            Ok(PublicKey::RSA(rsa)) => (
                rsa.modulus
                    .iter()
                    .skip_while(|b| **b == 0)
                    .copied()
                    .collect(),
                rsa.exponent.to_vec(),
            ),
            _ => return Err("the certificate's key is not an RSA key".into()),
        };
        Ok(VerifiedCertificate {
            organisation,
            modulus,
            exponent,
            not_after: validity.not_after.timestamp(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_certificates_verify_and_name_their_organisation() {
        let ca = TestCa::generate().unwrap();
        let org = OrgNo::parse("974760673").unwrap();
        let cert = ca.issue(&org, 1_700_000_000, 1_900_000_000).unwrap();
        let verified = ca.verify(&cert.x5c, 1_800_000_000).unwrap();
        assert_eq!(verified.organisation, org);
        assert_eq!(verified.modulus.len(), 256);
        assert!(ca.verify(&cert.x5c, 1_950_000_000).is_err(), "expired");

        let restored = TestCa::from_pem(ca.key_pem(), ca.cert_pem()).unwrap();
        let again = restored.issue(&org, 1_700_000_000, 1_900_000_000).unwrap();
        assert!(ca.verify(&again.x5c, 1_800_000_000).is_ok());

        let other = TestCa::generate().unwrap();
        assert!(other.verify(&cert.x5c, 1_800_000_000).is_err());
        for debug in [format!("{cert:?}"), format!("{ca:?}")] {
            assert!(!debug.contains("PRIVATE"), "{debug}");
        }
        assert!(cert.private_key_pem.expose().contains("PRIVATE KEY"));
    }
}
