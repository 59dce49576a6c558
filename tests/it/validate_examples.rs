//! Every example manifest validates: `mpctl validate examples/` exits 0, and each example loads
//! on its own through the library API plan uses.

use std::path::PathBuf;

use crate::support::mpctl;

#[test]
fn validate_examples_directory_exits_0() {
    let out = mpctl(&["--color", "never", "validate", "examples/"])
        .output()
        .expect("run mpctl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.trim_end().ends_with("examples/: 6 files valid"),
        "{stdout}"
    );
}

#[test]
fn each_example_loads_on_its_own() {
    for example in [
        "examples/quickstart.yaml",
        "examples/provider-only.yaml",
        "examples/consumer-only.yaml",
        "examples/multi-env",
    ] {
        let loaded = mpctl::manifest::load(&[PathBuf::from(example)])
            .unwrap_or_else(|d| panic!("{example}: {}", d.render(false, 100)));
        assert!(!loaded.manifest.environments.is_empty(), "{example}");
        assert_eq!(loaded.digest.len(), 64, "{example}");
    }
}

#[test]
fn multi_file_example_merges_and_resolves_key_paths() {
    let loaded = mpctl::manifest::load(&[PathBuf::from("examples/multi-env")])
        .unwrap_or_else(|d| panic!("{}", d.render(false, 100)));
    assert_eq!(
        loaded.files,
        [
            PathBuf::from("examples/multi-env/mpctl.yaml"),
            PathBuf::from("examples/multi-env/clients.yaml")
        ]
    );
    assert_eq!(loaded.manifest.clients.len(), 2);
    let key_paths: Vec<&str> = loaded.manifest.clients[0]
        .attributes
        .keys()
        .iter()
        .map(|k| k.path())
        .collect();
    assert_eq!(
        key_paths,
        [
            "examples/multi-env/keys/order-sync-2026.jwk.json",
            "examples/multi-env/keys/order-sync-2027.jwk.json"
        ]
    );
    assert!(
        loaded
            .keys
            .contains_key("examples/multi-env/keys/reporting.pub.pem")
    );
}

/// A DER element: (tag, contents).
type Element<'a> = (u8, &'a [u8]);

/// The first DER element of `bytes`, and what follows it.
fn der_element(bytes: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| ((tag, &rest[..len]), &rest[len..]))
}

/// The elements inside a DER SEQUENCE that spans all of `bytes`.
fn der_sequence(bytes: &[u8]) -> Option<Vec<Element<'_>>> {
    let ((tag, mut contents), rest) = der_element(bytes)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let mut children = Vec::new();
    while !contents.is_empty() {
        let (child, rest) = der_element(contents)?;
        children.push(child);
        contents = rest;
    }
    Some(children)
}

/// What private key material binary `bytes` are, if any: a PKCS#12 keystore, a DER PKCS#8
/// private key (plain or encrypted), a DER PKCS#1 RSA private key or a DER SEC1 EC private key.
fn binary_private_key(bytes: &[u8]) -> Option<&'static str> {
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    const OID: u8 = 0x06;
    const SEQUENCE: u8 = 0x30;
    // 1.2.840.113549.1.7.1 (data) and .2 (signedData): a PFX's authSafe.
    const PKCS7_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    const PKCS7_SIGNED: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    let children = der_sequence(bytes)?;
    let tags: Vec<u8> = children.iter().map(|(t, _)| *t).collect();
    match tags.as_slice() {
        [INTEGER, SEQUENCE, ..] if children[0].1 == [3] => {
            let auth_safe = der_element(children[1].1).map(|((t, c), _)| (t, c));
            if let Some((OID, oid)) = auth_safe
                && (oid == PKCS7_DATA || oid == PKCS7_SIGNED)
            {
                return Some("a PKCS#12 keystore");
            }
            None
        }
        [INTEGER, SEQUENCE, OCTET_STRING, ..] => Some("a DER PKCS#8 private key"),
        [SEQUENCE, OCTET_STRING] => Some("a DER encrypted PKCS#8 private key"),
        [INTEGER, OCTET_STRING, ..] if children[0].1 == [1] => Some("a DER SEC1 EC private key"),
        t if t.len() >= 9 && t.iter().all(|t| *t == INTEGER) => {
            Some("a DER PKCS#1 RSA private key")
        }
        _ => None,
    }
}

#[test]
fn private_key_detection_recognises_der_and_pkcs12_and_passes_public_der() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).expect("key");
    let pkcs8 = key.to_pkcs8_der().expect("pkcs8");
    let pkcs1 = key.to_pkcs1_der().expect("pkcs1");
    let public = key.to_public_key().to_public_key_der().expect("spki");
    assert_eq!(
        binary_private_key(pkcs8.as_bytes()),
        Some("a DER PKCS#8 private key")
    );
    assert_eq!(
        binary_private_key(pkcs1.as_bytes()),
        Some("a DER PKCS#1 RSA private key")
    );
    assert_eq!(binary_private_key(public.as_bytes()), None);
    for keystore in ["openssl3-default.p12", "openssl-legacy.p12"] {
        let bytes = std::fs::read(format!("tests/fixtures/keystores/{keystore}")).expect(keystore);
        assert_eq!(
            binary_private_key(&bytes),
            Some("a PKCS#12 keystore"),
            "{keystore}"
        );
    }
    // A certificate is public.
    let cert = rcgen::generate_simple_self_signed(vec!["example.test".into()]).expect("cert");
    assert_eq!(binary_private_key(cert.cert.der()), None);
}

#[test]
fn no_example_contains_private_key_material() {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("examples").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(std::path::Path::new("examples"), &mut files);
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        // Every file is checked as DER and PKCS#12, and its text (binary included) as PEM and
        // JWK.
        if let Some(what) = binary_private_key(&bytes) {
            panic!("{} is {what}", file.display());
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("PRIVATE KEY"), "{}", file.display());
        assert!(
            !text.contains("\"d\""),
            "{} has a private JWK member",
            file.display()
        );
    }
}
