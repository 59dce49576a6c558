//! The hidden `mpctl bench` command through the binary: it is absent from `--help`, and the
//! manifest `bench generate` writes is one `mpctl validate` accepts.

use crate::support::mpctl;

#[test]
fn bench_is_hidden_from_help() {
    let out = mpctl(&[]).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("validate"), "{help}");
    assert!(!help.contains("bench"), "{help}");
}

#[test]
fn generated_manifest_validates() {
    let dir = tempfile::tempdir().unwrap();
    let out = mpctl(&[])
        .args([
            "bench",
            "generate",
            "--scopes",
            "30",
            "--grants",
            "90",
            "--clients",
            "6",
        ])
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("mpctl.yaml").is_file());
    assert_eq!(
        std::fs::read_dir(dir.path().join("keys")).unwrap().count(),
        8
    );
    let validated = mpctl(&[])
        .arg("validate")
        .arg(dir.path().join("mpctl.yaml"))
        .output()
        .unwrap();
    assert!(
        validated.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
}
