use super::*;
use time::macros::date;

const MANIFEST: &str = "\
version: 1
organization: \"910753282\"
environments:
  test: {}
clients:
  # the nightly sync
  - name: sync
    keys:
      - keys/a.jwk.json
";

fn options(dir: &Path, dry_run: bool) -> RotateOptions {
    RotateOptions {
        client: "sync".into(),
        env: "test".into(),
        manifest: dir.join("mpctl.yaml"),
        private_key_out: dir.join("secret").join("sync.pem"),
        grace_days: 14,
        dry_run,
        all_environments: false,
        today: date!(2026 - 11 - 25),
    }
}

fn setup(manifest: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mpctl.yaml"), manifest).unwrap();
    std::fs::create_dir(dir.path().join("secret")).unwrap();
    dir
}

#[test]
fn rotation_writes_the_key_pair_and_edits_the_manifest() {
    let dir = setup(MANIFEST);
    let outcome = rotate(&options(dir.path(), false)).unwrap();
    assert!(outcome.written);
    assert_eq!(outcome.entry, "keys/sync-20261125.jwk.json");
    assert_eq!(
        outcome.retired,
        Some(("keys/a.jwk.json".into(), "2026-12-09".into()))
    );
    let manifest = std::fs::read_to_string(dir.path().join("mpctl.yaml")).unwrap();
    assert!(manifest.contains("  # the nightly sync\n"));
    assert!(manifest.contains(
            "      - path: keys/a.jwk.json\n        retire_after: 2026-12-09\n      - keys/sync-20261125.jwk.json\n"
        ));
    let (keys, problems) = load_key_file(&outcome.public_key_file, 0, 30);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(keys[0].kid, outcome.kid);
    let pem = std::fs::read_to_string(dir.path().join("secret/sync.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(!outcome.diff.contains("PRIVATE"));
    assert!(
        outcome
            .diff
            .contains("+      - keys/sync-20261125.jwk.json")
    );
    assert_eq!(
        outcome.warnings.len(),
        1,
        "the key is inside the manifest's directory"
    );
    assert!(outcome.warnings[0].contains("never commit"));
}

#[test]
fn dry_run_writes_nothing() {
    let dir = setup(MANIFEST);
    let outcome = rotate(&options(dir.path(), true)).unwrap();
    assert!(!outcome.written);
    assert!(
        outcome
            .diff
            .contains("+      - keys/sync-20261125.jwk.json")
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mpctl.yaml")).unwrap(),
        MANIFEST
    );
    assert!(!dir.path().join("secret/sync.pem").exists());
    assert!(!dir.path().join("keys").exists());
}

#[test]
fn existing_private_key_file_is_never_overwritten() {
    let dir = setup(MANIFEST);
    std::fs::write(dir.path().join("secret/sync.pem"), "keep me").unwrap();
    let err = rotate(&options(dir.path(), false)).unwrap_err();
    assert!(matches!(err, RotateError::PrivateKeyExists { .. }));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("secret/sync.pem")).unwrap(),
        "keep me"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mpctl.yaml")).unwrap(),
        MANIFEST
    );
}

#[test]
fn a_second_rotation_the_same_day_gets_its_own_file() {
    let dir = setup(MANIFEST);
    rotate(&options(dir.path(), false)).unwrap();
    let mut second = options(dir.path(), false);
    second.private_key_out = dir.path().join("secret/sync-2.pem");
    let outcome = rotate(&second).unwrap();
    assert_eq!(outcome.entry, "keys/sync-20261125-2.jwk.json");
    assert_eq!(
        outcome.retired.map(|r| r.0).as_deref(),
        Some("keys/sync-20261125.jwk.json")
    );
}

#[test]
fn sixth_key_is_refused_naming_the_keys_to_retire() {
    let manifest = MANIFEST.replace(
            "      - keys/a.jwk.json\n",
            "      - keys/a.jwk.json\n      - keys/b.jwk.json\n      - {path: keys/c.jwk.json, retire_after: 2026-12-01}\n      - keys/d.jwk.json\n      - keys/e.jwk.json\n      - {path: keys/old.jwk.json, retire_after: 2026-11-01}\n",
        );
    let dir = setup(&manifest);
    let err = rotate(&options(dir.path(), true)).unwrap_err();
    match &err {
        RotateError::TooManyKeys {
            count, to_retire, ..
        } => {
            assert_eq!(*count, 6);
            assert_eq!(to_retire, "`keys/c.jwk.json`");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("at most 5"));
}

#[test]
fn environment_outside_the_manifest_is_refused() {
    let dir = setup(MANIFEST);
    let mut opts = options(dir.path(), true);
    opts.env = "prod".into();
    let err = rotate(&opts).unwrap_err();
    assert!(matches!(err, RotateError::WrongEnvironment { .. }));
}

#[test]
fn environments_of_a_split_manifest_come_from_its_other_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mpctl.yaml"),
        "version: 1\norganization: \"910753282\"\nenvironments:\n  test: {}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("clients.yaml"),
        "clients:\n  - name: sync\n    keys: []\n",
    )
    .unwrap();
    let mut opts = options(dir.path(), true);
    opts.manifest = dir.path().join("clients.yaml");
    opts.private_key_out = dir.path().join("k.pem");
    assert!(rotate(&opts).is_ok());
    opts.env = "prod".into();
    match rotate(&opts).unwrap_err() {
        RotateError::WrongEnvironment { help, .. } => {
            assert!(help.contains("test"), "{help}")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn an_unknown_client_is_said_once_with_the_clients_there_are() {
    let dir = setup(MANIFEST);
    let mut options = options(dir.path(), true);
    options.client = "nosuch".into();
    let e = rotate(&options).unwrap_err();
    assert!(matches!(e, RotateError::ClientNotInFile { .. }), "{e:?}");
    assert!(std::error::Error::source(&e).is_none(), "said once");
    assert!(
        e.to_string().ends_with("has no client named `nosuch`"),
        "{e}"
    );
    let help = miette::Diagnostic::help(&e).unwrap().to_string();
    assert!(
        help.starts_with("the clients declared are: sync;"),
        "{help}"
    );
}

#[test]
fn manifest_is_found_by_client_name() {
    let dir = setup(MANIFEST);
    std::fs::create_dir(dir.path().join("other")).unwrap();
    std::fs::write(
        dir.path().join("other/x.yml"),
        "clients:\n  - name: another\n",
    )
    .unwrap();
    assert_eq!(
        find_manifest(dir.path(), "sync").unwrap(),
        dir.path().join("mpctl.yaml")
    );
    let Err(e @ RotateError::NoManifest { .. }) = find_manifest(dir.path(), "nobody") else {
        panic!("an unknown client is not found");
    };
    let help = miette::Diagnostic::help(&e).unwrap().to_string();
    assert!(
        help.starts_with("the clients declared are: another, sync;"),
        "{help}"
    );
    std::fs::write(dir.path().join("other/y.yaml"), MANIFEST).unwrap();
    assert!(matches!(
        find_manifest(dir.path(), "sync"),
        Err(RotateError::AmbiguousManifest { .. })
    ));
}
