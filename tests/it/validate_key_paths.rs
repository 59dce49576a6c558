//! Key paths resolve from the file that names them, the same from any working directory, and
//! never lead out of the repository.

use std::path::{Path, PathBuf};
use std::process::Output;

use proptest::prelude::*;

use crate::support::mpctl_in;

/// Runs the binary in `dir` without colour.
fn run(dir: &Path, args: &[&str]) -> Output {
    mpctl_in(dir, &["--color", "never"])
        .args(args)
        .output()
        .expect("run mpctl")
}

fn example_key(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/multi-env/keys")
            .join(name),
    )
    .expect("example key")
}

/// A repository (it has `.git`) with `sub/deeper/m.yaml` naming `../../keys/k.jwk.json`, and a
/// different key at `sub/deeper/keys/k.jwk.json` that a path resolved against the wrong
/// directory would pick up; `sub/escape/m.yaml` names a file above the repository.
fn repository() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    for d in [".git", "keys", "sub/deeper/keys", "sub/escape"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(
        root.join("keys/k.jwk.json"),
        example_key("order-sync-2026.jwk.json"),
    )
    .expect("write");
    std::fs::write(
        root.join("sub/deeper/keys/k.jwk.json"),
        example_key("order-sync-2027.jwk.json"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("secret.jwk.json"),
        example_key("order-sync-2027.jwk.json"),
    )
    .expect("write");
    let manifest = |keys: &str| {
        format!(
            "version: 1\norganization: \"910753282\"\nenvironments: {{ local: {{}} }}\nclients:\n  - name: sync\n    keys: [{keys}]\n"
        )
    };
    std::fs::write(
        root.join("sub/deeper/m.yaml"),
        manifest("\"../../keys/k.jwk.json\""),
    )
    .expect("write");
    std::fs::write(
        root.join("sub/escape/m.yaml"),
        manifest("\"../../../secret.jwk.json\""),
    )
    .expect("write");
    (dir, root)
}

/// `file` (under `root`) as a path relative to `cwd` (`root`, a directory under it, or its
/// parent).
fn relative(file: &Path, cwd: &Path, root: &Path) -> PathBuf {
    if let Ok(below) = file.strip_prefix(cwd) {
        return below.to_path_buf();
    }
    let depth = cwd
        .strip_prefix(root)
        .expect("cwd under root")
        .components()
        .count();
    let mut path: PathBuf = std::iter::repeat_n("..", depth).collect();
    path.push(file.strip_prefix(root).expect("file under root"));
    path
}

const CWDS: &[&str] = &[
    "",
    "sub",
    "sub/deeper",
    "sub/deeper/keys",
    "keys",
    "sub/escape",
    "..",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn the_same_manifest_names_the_same_key_from_any_working_directory(
        cwd in 0..CWDS.len(),
        absolute in any::<bool>(),
    ) {
        let (_dir, root) = repository();
        let cwd = if CWDS[cwd] == ".." { root.parent().expect("parent").to_path_buf() } else { root.join(CWDS[cwd]) };
        let manifest = root.join("sub/deeper/m.yaml");
        let named = if absolute { manifest.clone() } else { relative(&manifest, &cwd, &root) };
        let named = named.display().to_string();

        let out = run(&cwd, &["plan", "--format", "json", &named]);
        prop_assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let plan = String::from_utf8_lossy(&out.stdout);
        prop_assert!(plan.contains("\"acme-order-sync-2026\""), "{}", plan);
        prop_assert!(!plan.contains("acme-order-sync-2027"), "{}", plan);

        let escape = root.join("sub/escape/m.yaml");
        let named = if absolute { escape.clone() } else { relative(&escape, &cwd, &root) };
        let out = run(&cwd, &["validate", "--format", "json", &named.display().to_string()]);
        prop_assert_eq!(out.status.code(), Some(1));
        let problems: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        prop_assert_eq!(problems.as_array().map(Vec::len), Some(1));
        prop_assert_eq!(&problems[0]["code"], "mpctl::keys::path");
        let real_root = root.canonicalize().expect("root");
        let outside = real_root.parent().expect("parent").join("secret.jwk.json");
        prop_assert_eq!(
            problems[0]["message"].as_str().expect("message"),
            format!(
                "key path `../../../secret.jwk.json` leads outside the repository ({}): it resolves to {}",
                real_root.display(),
                outside.display()
            )
        );
        prop_assert_eq!(problems[0]["line"].as_u64(), Some(6));
    }
}

#[test]
fn a_key_path_that_is_not_a_regular_file_says_what_it_is() {
    let (_dir, root) = repository();
    std::fs::write(root.join("keys/empty.jwk.json"), "").expect("write");
    std::fs::write(
        root.join("m.yaml"),
        "version: 1\norganization: \"910753282\"\nenvironments: { local: {} }\nclients:\n  - name: sync\n    keys:\n      - keys\n      - keys/empty.jwk.json\n      - /dev/zero\n      - keys/missing.jwk.json\n",
    )
    .expect("write");
    let out = run(&root, &["validate", "--format", "json", "m.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let problems: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let found: Vec<(u64, &str)> = problems
        .as_array()
        .expect("array")
        .iter()
        .map(|p| {
            (
                p["line"].as_u64().unwrap_or(0),
                p["message"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let mut want = vec![
        (7, "key path `keys` is a directory, not a regular file"),
        (8, "key file `keys/empty.jwk.json` is empty"),
    ];
    if cfg!(unix) {
        want.push((9, "key path `/dev/zero` is a device, not a regular file"));
    }
    want.push((10, "key file `keys/missing.jwk.json` does not exist"));
    assert_eq!(found, want);
}
