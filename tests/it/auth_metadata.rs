//! The token endpoint and the grant's audience come from the token service's metadata
//! (`/.well-known/oauth-authorization-server`) when the manifest does not set them: an
//! environment with only `api_url` and `metadata_url` works against the emulator, which serves
//! the same metadata.

use crate::support::emulator as emulator_support;

use emulator_support::{ORG_A, admin_vars, org, run_mpctl};
use mpctl::emulator::{Emulator, EmulatorConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_and_audience_are_read_from_the_metadata() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let admin = emu
        .bootstrap_org(&org(ORG_A), &["acme".into()])
        .await
        .unwrap();
    let metadata: serde_json::Value = reqwest::get(format!(
        "{}.well-known/oauth-authorization-server",
        emu.issuer()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(metadata["issuer"], emu.issuer());
    assert_eq!(metadata["token_endpoint"], emu.token_url());

    let dir = tempfile::tempdir().unwrap();
    let manifest = |metadata_url: &str| {
        format!(
            "version: 1\norganization: \"{ORG_A}\"\nprefixes: [acme]\nenvironments:\n  staging:\n    api_url: {}\n    metadata_url: {metadata_url}\nscopes:\n  - name: acme:orders.read\n    description: Read orders\n",
            emu.api_url()
        )
    };
    std::fs::write(
        dir.path().join("mpctl.yaml"),
        manifest(&format!(
            "{}.well-known/oauth-authorization-server",
            emu.issuer()
        )),
    )
    .unwrap();
    let vars = admin_vars("staging", &admin, dir.path());
    let out = run_mpctl(dir.path(), &["plan", "mpctl.yaml"], &vars).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("create scope acme:orders.read"), "{stdout}");
    assert!(!stderr.contains("warning"), "{stderr}");

    // Metadata that cannot be read, and no token_url/audience to fall back on: a clear error.
    std::fs::write(
        dir.path().join("mpctl.yaml"),
        manifest(&format!("{}no-such-metadata", emu.issuer())),
    )
    .unwrap();
    let out = run_mpctl(dir.path(), &["plan", "mpctl.yaml"], &vars).await;
    // miette wraps long lines (`\n  | `): undo it.
    let stderr = String::from_utf8_lossy(&out.stderr).replace("\n  | ", "");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read the token service's metadata"),
        "{stderr}"
    );
    assert!(stderr.contains("no-such-metadata"), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
}
