//! Every example manifest validates: `mpctl validate examples/` exits 0, and each example loads
//! on its own through the library API plan uses.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn validate_examples_directory_exits_0() {
    let out = Command::new(env!("CARGO_BIN_EXE_mpctl"))
        .args(["--color", "never", "validate", "examples/"])
        .env_remove("GITHUB_ACTIONS")
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
        .keys
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
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(!text.contains("PRIVATE KEY"), "{}", file.display());
        assert!(
            !text.contains("\"d\""),
            "{} has a private JWK member",
            file.display()
        );
    }
}
