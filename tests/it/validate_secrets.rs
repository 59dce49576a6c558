//! No secret is ever echoed: a key, certificate, key store, private JWK or token given where a
//! manifest belongs gets a short located message in every output format, and a saved plan whose
//! manifest paths were edited to name such a file is refused without showing it.

use crate::support::client as client_support;
use crate::support::mpctl_in;

use std::path::Path;
use std::process::Output;

use base64::Engine;
use client_support::{TOKEN_SECRET, certificate_chain, fake_token, keystore, private_key_pem};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};

/// Runs mpctl in `dir`; with `github`, as in a GitHub Actions job (annotations on).
fn run(dir: &Path, args: &[&str], github: bool) -> Output {
    let mut cmd = mpctl_in(dir, &["--color", "never"]);
    cmd.args(args).env_remove("NO_COLOR");
    if github {
        cmd.env("GITHUB_ACTIONS", "true");
    }
    cmd.output().expect("run mpctl")
}

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A file that is not a manifest, what mpctl must say about it, and text from inside it that
/// must never be shown.
struct Secret {
    name: &'static str,
    bytes: Vec<u8>,
    says: &'static str,
    inside: Vec<String>,
}

fn secrets() -> Vec<Secret> {
    let pem = private_key_pem();
    let pem_body: Vec<String> = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_owned)
        .collect();
    let (leaf, ca) = certificate_chain("Test CA", "910753282");
    let cert_pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(&leaf)
    );
    let der = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
        .expect("key")
        .to_pkcs8_der()
        .expect("der")
        .as_bytes()
        .to_vec();
    let jwk =
        r#"{"kty":"RSA","kid":"k1","n":"sSECRETMODULUS","e":"AQAB","d":"PRIVATEEXPONENTdonotlog"}"#;
    vec![
        Secret {
            name: "admin.pem",
            bytes: pem.as_bytes().to_vec(),
            says: "this looks like a private key; key files are referenced from a manifest, never loaded as one",
            inside: vec![pem_body[1].clone(), pem_body[pem_body.len() / 2].clone()],
        },
        // Named like a manifest: the name does not matter, the content does.
        Secret {
            name: "cert.yaml",
            bytes: cert_pem.clone().into_bytes(),
            says: "this looks like a certificate",
            inside: vec![cert_pem.lines().nth(1).unwrap_or_default()[20..60].to_owned()],
        },
        Secret {
            name: "admin.der",
            bytes: der,
            says: "this looks like a binary key, certificate or PKCS#12 key store (DER)",
            inside: vec!["\u{fffd}".into()],
        },
        Secret {
            name: "admin.p12",
            bytes: keystore(&[leaf, ca], "changeit"),
            says: "this looks like a binary key, certificate or PKCS#12 key store (DER)",
            inside: vec!["\u{fffd}".into()],
        },
        Secret {
            name: "admin.jwk.json",
            bytes: jwk.as_bytes().to_vec(),
            says: "this looks like a private key (a JWK with private members)",
            inside: vec!["PRIVATEEXPONENT".into(), "SECRETMODULUS".into()],
        },
        Secret {
            name: "token.yaml",
            bytes: format!("{}\n", fake_token("910753282")).into_bytes(),
            says: "this looks like a token (a JWT)",
            inside: vec![TOKEN_SECRET.into(), "eyJ".into()],
        },
    ]
}

fn assert_not_shown(out: &str, secret: &Secret, context: &str) {
    for inside in &secret.inside {
        assert!(
            !out.contains(inside.as_str()),
            "{context}: {} shows {inside:?}:\n{out}",
            secret.name
        );
    }
    assert!(
        out.contains(secret.says),
        "{context}: {}:\n{out}",
        secret.name
    );
}

#[test]
fn validate_never_shows_a_key_certificate_or_token_in_any_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    for secret in secrets() {
        std::fs::write(dir.path().join(secret.name), &secret.bytes).expect("write");

        let human = run(dir.path(), &["validate", secret.name], false);
        assert_eq!(human.status.code(), Some(1));
        let text = all_output(&human);
        assert_not_shown(&text, &secret, "human");
        assert!(text.contains(&format!("[{}:1:1]", secret.name)), "{text}");

        let json = run(
            dir.path(),
            &["validate", "--format", "json", secret.name],
            false,
        );
        assert_eq!(json.status.code(), Some(1));
        assert_not_shown(&all_output(&json), &secret, "json");
        let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
        assert_eq!(value[0]["code"], "mpctl::file::not_a_manifest");
        assert_eq!(value[0]["file"], secret.name);
        assert_eq!(value[0]["line"], 1);

        let github = run(dir.path(), &["validate", secret.name], true);
        assert_eq!(github.status.code(), Some(1));
        let text = all_output(&github);
        assert_not_shown(&text, &secret, "github");
        assert!(
            text.contains(&format!("::error file={},line=1,col=1", secret.name)),
            "{text}"
        );
    }
}

#[test]
fn a_scalar_in_a_message_is_cut_to_a_short_prefix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let long = format!("acme:{}", "x".repeat(200));
    std::fs::write(
        dir.path().join("m.yaml"),
        format!(
            "version: 1\norganization: \"910753282\"\nenvironments: {{ local: {{}} }}\nscopes:\n  - name: acme:a\n    description: a\n    visibility: {long}\n"
        ),
    )
    .expect("write");
    let out = run(
        dir.path(),
        &["validate", "--format", "json", "m.yaml"],
        false,
    );
    assert_eq!(out.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // Every problem is reported (a schema error does not hide the rules' ones): the one about
    // `visibility` quotes the value cut short, and no message quotes it whole.
    let problems = value.as_array().expect("a list of problems");
    let messages: Vec<&str> = problems
        .iter()
        .map(|p| p["message"].as_str().expect("message"))
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`acme:xxxxxxxxxxxxxxxxxxxxxxxxxxx…`")),
        "{messages:?}"
    );
    assert!(
        messages.iter().all(|m| !m.contains(&"x".repeat(40))),
        "{messages:?}"
    );
}

/// Saves a plan of the quickstart (on the embedded emulator) in `dir`.
fn saved_plan(dir: &Path) -> serde_json::Value {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart.yaml");
    std::fs::copy(example, dir.join("mpctl.yaml")).expect("copy");
    let out = run(dir, &["plan", "mpctl.yaml", "--out", "plan.json"], false);
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let text = std::fs::read_to_string(dir.join("plan.json")).expect("plan");
    serde_json::from_str(&text).expect("plan json")
}

#[test]
fn an_edited_saved_plan_never_leads_mpctl_to_show_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    let plan = saved_plan(&work);
    assert_eq!(plan["manifest_paths"], serde_json::json!(["mpctl.yaml"]));
    for secret in secrets() {
        // The key beside the working directory (like $MPCTL_PROD_KEY_FILE), inside it, and
        // inside it under a manifest's name or behind a link with one.
        std::fs::write(dir.path().join(secret.name), &secret.bytes).expect("write");
        std::fs::write(work.join(secret.name), &secret.bytes).expect("write");
        std::fs::write(work.join("key.yaml"), &secret.bytes).expect("write");
        let absolute = dir.path().join(secret.name).display().to_string();
        let mut targets = vec![
            absolute,
            format!("../{}", secret.name),
            secret.name.to_owned(),
            "key.yaml".to_owned(),
        ];
        #[cfg(unix)]
        {
            let link = work.join("link.yaml");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(dir.path().join(secret.name), &link).expect("link");
            targets.push("link.yaml".into());
        }
        for target in targets {
            let mut edited = plan.clone();
            edited["manifest_paths"] = serde_json::json!([target]);
            std::fs::write(work.join("edited.json"), edited.to_string()).expect("write");
            for format in ["human", "json"] {
                let out = run(&work, &["apply", "--format", format, "edited.json"], false);
                let text = all_output(&out);
                assert_eq!(out.status.code(), Some(1), "{target}: {text}");
                let flat: Vec<&str> = text.split_whitespace().filter(|w| *w != "|").collect();
                assert!(
                    flat.join(" ").contains("nothing was applied"),
                    "{target}: {text}"
                );
                for inside in &secret.inside {
                    assert!(
                        !text.contains(inside.as_str()),
                        "{target} ({format}) shows {inside:?}:\n{text}"
                    );
                }
            }
        }
    }
    // The unedited plan still applies.
    let out = run(&work, &["apply", "plan.json"], false);
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
}

#[test]
fn plan_out_refuses_a_manifest_that_apply_could_not_load_from_its_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart.yaml");
    std::fs::copy(example, dir.path().join("mpctl.yaml")).expect("copy");
    let out = run(
        &work,
        &["plan", "../mpctl.yaml", "--out", "plan.json"],
        false,
    );
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("the plan was not saved"), "{text}");
    assert!(!work.join("plan.json").exists());
}
