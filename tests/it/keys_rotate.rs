//! `mpctl keys rotate` end to end through the real binary on a temporary directory: the files it
//! writes and their modes, the manifest edit that keeps comments, and every refusal.

use std::path::Path;
use std::process::Output;

use crate::support::{OutputExt, TestContext, mpctl_in};

const MANIFEST: &str = r#"# yaml-language-server: $schema=../schema/mpctl.schema.json
version: 1
organization: "910753282"   # Acme AS
environments:
  test: {}
  prod: {}

clients:
  # Nightly order sync; owned by the integrations team.
  - name: order-sync
    description: Nightly order sync
    scopes: [acme:orders.read]
    keys:
      - keys/order-sync-2025.jwk.json   # the current key
    contacts: { notifications: [integrasjon@acme.no] }

  - name: reporting
    scopes:
      - acme:reports.read
"#;

/// A working directory with [`MANIFEST`] at `manifest/mpctl.yaml`.
fn setup() -> TestContext {
    let ctx = TestContext::new();
    ctx.write("manifest/mpctl.yaml", MANIFEST);
    ctx
}

/// `mpctl keys rotate CLIENT --env ENV --private-key-out KEY_OUT` with `extra` arguments.
fn rotate(ctx: &TestContext, client: &str, env: &str, key_out: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "keys",
        "rotate",
        client,
        "--env",
        env,
        "--private-key-out",
        key_out,
    ];
    args.extend_from_slice(extra);
    ctx.run(&args)
}

/// Dates in the output change every day; snapshots hold placeholders.
fn redact_dates(text: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let digits = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let is_iso = chars.len() >= i + 10
            && chars[i..i + 4].iter().all(char::is_ascii_digit)
            && chars[i + 4] == '-'
            && chars[i + 5..i + 7].iter().all(char::is_ascii_digit)
            && chars[i + 7] == '-'
            && chars[i + 8..i + 10].iter().all(char::is_ascii_digit);
        if is_iso {
            out.push_str("YYYY-MM-DD");
            i += 10;
        } else if digits == 8 {
            out.push_str("YYYYMMDD");
            i += 8;
        } else if digits > 0 {
            out.extend(&chars[i..i + digits]);
            i += digits;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn private_key_body(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn rotate_writes_private_key_0600_public_jwk_and_edits_the_manifest() {
    let dir = setup();
    let out = rotate(&dir, "order-sync", "test", "order-sync.pem", &[]);
    assert!(out.status.success(), "{}", out.stderr_text());

    let private = dir.path().join("order-sync.pem");
    let pem = std::fs::read_to_string(&private).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let keys: Vec<_> = std::fs::read_dir(dir.path().join("manifest/keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(keys.len(), 1);
    let jwk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&keys[0]).unwrap()).unwrap();
    for member in ["kty", "kid", "use", "alg", "n", "e"] {
        assert!(jwk.get(member).is_some(), "{member} missing");
    }
    assert!(jwk.get("d").is_none());
    let kid = jwk["kid"].as_str().unwrap();
    let stderr = out.stderr_text();
    assert!(stderr.contains(kid));
    // The private key was written beside the manifest's directory, not inside it.
    assert!(!stderr.contains("never commit it"), "{stderr}");

    // The public key the manifest now lists is the one the private key belongs to.
    let (loaded, problems) = mpctl::manifest::keys::load_key_file(&keys[0], 0, 30);
    assert!(problems.is_empty());
    assert_eq!(loaded[0].kid, kid);

    let manifest = std::fs::read_to_string(dir.path().join("manifest/mpctl.yaml")).unwrap();
    insta::assert_snapshot!("rotated_manifest", redact_dates(&manifest));
    insta::assert_snapshot!("rotate_diff", redact_dates(&out.stdout_text()));
}

#[test]
fn a_private_key_written_inside_the_manifest_directory_is_warned_about() {
    let dir = setup();
    let out = mpctl_in(
        &dir.path().join("manifest"),
        &[
            "keys",
            "rotate",
            "order-sync",
            "--env",
            "test",
            "--private-key-out",
            "order-sync.pem",
        ],
    )
    .output()
    .expect("run mpctl");
    assert!(out.status.success(), "{}", out.stderr_text());
    let stderr = out.stderr_text();
    assert!(
        stderr
            .contains("warning: the private key order-sync.pem is inside the manifest's directory"),
        "{stderr}"
    );
}

#[test]
fn a_private_key_written_inside_the_git_repository_is_warned_about() {
    let dir = setup();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let out = rotate(&dir, "order-sync", "test", "order-sync.pem", &[]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let stderr = out.stderr_text();
    assert!(
        stderr.contains("is inside the manifest's Git repository: never commit it"),
        "{stderr}"
    );
}

#[test]
fn rotate_refuses_to_overwrite_the_private_key_file() {
    let dir = setup();
    std::fs::write(dir.path().join("existing.pem"), "do not touch").unwrap();
    let out = rotate(&dir, "order-sync", "test", "existing.pem", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr_text().contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("existing.pem")).unwrap(),
        "do not touch"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("manifest/mpctl.yaml")).unwrap(),
        MANIFEST
    );
    assert!(!dir.path().join("manifest/keys").exists());
}

#[test]
fn dry_run_shows_the_diff_and_writes_nothing() {
    let dir = setup();
    let out = rotate(
        &dir,
        "reporting",
        "prod",
        "reporting.pem",
        &["--dry-run", "--manifest", "manifest/mpctl.yaml"],
    );
    assert!(out.status.success(), "{}", out.stderr_text());
    insta::assert_snapshot!("dry_run_diff", redact_dates(&out.stdout_text()));
    assert!(out.stderr_text().contains("Dry run: nothing was written"));
    assert!(!dir.path().join("reporting.pem").exists());
    assert!(!dir.path().join("manifest/keys").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("manifest/mpctl.yaml")).unwrap(),
        MANIFEST
    );
}

#[test]
fn a_sixth_key_is_refused_and_the_keys_to_retire_are_named() {
    let dir = setup();
    let full = MANIFEST.replace(
        "      - keys/order-sync-2025.jwk.json   # the current key\n",
        "      - keys/k1.jwk.json\n      - keys/k2.jwk.json\n      - keys/k3.jwk.json\n      - keys/k4.jwk.json\n      - keys/k5.jwk.json\n",
    );
    std::fs::write(dir.path().join("manifest/mpctl.yaml"), &full).unwrap();
    let out = rotate(&dir, "order-sync", "test", "k6.pem", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = out.stderr_text();
    assert!(stderr.contains("would have 6 keys"), "{stderr}");
    assert!(stderr.contains("at most 5"), "{stderr}");
    assert!(stderr.contains("keys/k1.jwk.json"), "{stderr}");
    assert!(!dir.path().join("k6.pem").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("manifest/mpctl.yaml")).unwrap(),
        full
    );
}

#[test]
fn unknown_client_and_environment_are_refused_with_help() {
    let dir = setup();
    let out = rotate(&dir, "nobody", "test", "x.pem", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr_text()
            .contains("declares a client named `nobody`")
    );

    let out = rotate(&dir, "reporting", "staging", "x.pem", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = out.stderr_text();
    assert!(stderr.contains("not in environment `staging`"), "{stderr}");
    assert!(stderr.contains("test, prod"), "{stderr}");
    assert!(!dir.path().join("x.pem").exists());
}

#[test]
fn no_output_of_rotate_contains_private_key_material() {
    let dir = setup();
    let out = rotate(&dir, "order-sync", "test", "secret.pem", &["-vvv"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let body = private_key_body(&dir.path().join("secret.pem"));
    assert!(body.len() > 10);
    let all = format!("{}{}", out.stdout_text(), out.stderr_text());
    assert!(!all.contains("PRIVATE KEY-----"));
    for line in &body {
        assert!(
            !all.contains(line.as_str()),
            "private key material in the output"
        );
    }
    // Nor does anything written into the repository.
    let manifest = std::fs::read_to_string(dir.path().join("manifest/mpctl.yaml")).unwrap();
    for entry in std::fs::read_dir(dir.path().join("manifest/keys")).unwrap() {
        let public = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in &body {
            assert!(!public.contains(line.as_str()) && !manifest.contains(line.as_str()));
        }
    }

    // A second rotation refused because the file exists prints nothing of it either.
    let again = rotate(&dir, "order-sync", "test", "secret.pem", &[]);
    assert_eq!(again.status.code(), Some(1));
    let all = format!("{}{}", again.stdout_text(), again.stderr_text());
    for line in &body {
        assert!(!all.contains(line.as_str()));
    }
}

#[test]
fn all_environments_adds_the_key_to_the_clients_own_keys() {
    let dir = setup();
    let out = rotate(
        &dir,
        "order-sync",
        "prod",
        "order-sync.pem",
        &["--all-environments", "--dry-run"],
    );
    assert!(out.status.success(), "{}", out.stderr_text());
    let diff = redact_dates(&out.stdout_text());
    assert!(!diff.contains("overrides:"), "{diff}");
    assert!(
        diff.contains("+      - keys/order-sync-YYYYMMDD.jwk.json"),
        "{diff}"
    );
}

#[test]
fn a_key_given_as_the_manifest_is_named_as_such_and_never_shown() {
    let dir = setup();
    let pem =
        "-----BEGIN PRIVATE KEY-----\nMIIEvQSECRETBODYLINEdonotshow\n-----END PRIVATE KEY-----\n";
    std::fs::write(dir.path().join("admin.pem"), pem).unwrap();
    let out = rotate(
        &dir,
        "order-sync",
        "test",
        "new.pem",
        &["--manifest", "admin.pem"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = out.stderr_text();
    assert!(stderr.contains("this looks like a private key"), "{stderr}");
    assert!(!stderr.contains("SECRETBODYLINE"), "{stderr}");
    assert!(!out.stdout_text().contains("SECRETBODYLINE"));
    assert!(!dir.path().join("new.pem").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("admin.pem")).unwrap(),
        pem
    );
}
