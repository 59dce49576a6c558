//! `mpctl import` against a populated emulator: the written manifest (with its key files)
//! loads, validates and resolves to exactly the live state, so planning it shows no changes.

use crate::support::client::client_key;

use std::collections::BTreeSet;
use std::path::Path;

use mpctl::api::connect::{Access, ConnectOptions, connect_with};
use mpctl::api::credentials::Credentials;
use mpctl::api::endpoints::Endpoints;
use mpctl::api::retry::RetryPolicy;
use mpctl::api::{HttpClient, SelfService};
use mpctl::emulator::local::{LocalOptions, start_local};
use mpctl::manifest::model::ScopeAttributes;
use mpctl::manifest::orgno::OrgNo;
use mpctl::state::{ClientState, EnvState, LiveEnv, ScopeState};

const ACME: &str = "910753282";
const OTHER: &str = "974760673";

fn org(s: &str) -> OrgNo {
    OrgNo::new_unchecked(s)
}

/// Organisation ACME's API client of the emulator standing in for `staging`.
async fn staging_client(
    staging: &mpctl::emulator::Emulator,
    admin: &mpctl::emulator::AdminIdentity,
    access: Access,
) -> HttpClient {
    let credentials = Credentials::from_private_key(
        admin.client_id.clone(),
        admin.private_key_pem.expose(),
        Some(&admin.kid),
        "admin",
        "KID",
    )
    .unwrap();
    let options = ConnectOptions {
        env: "staging".into(),
        endpoints: Endpoints {
            api_url: staging.api_url(),
            token_url: staging.token_url(),
            audience: staging.issuer(),
            digdir: None,
        },
        access,
        concurrency: 4,
        retry: RetryPolicy::default(),
        organization: Some(org(ACME)),
        clock: None,
    };
    connect_with(options, credentials, None)
        .await
        .unwrap()
        .client
}

async fn local_client(dir: &Path) -> (mpctl::emulator::local::LocalEmulator, HttpClient) {
    let local = start_local(LocalOptions {
        state_dir: dir.join(".mpctl/emulator"),
        organization: org(ACME),
        prefixes: vec!["acme".into()],
    })
    .await
    .expect("local emulator");
    let credentials = Credentials::from_private_key(
        local.admin.client_id.clone(),
        local.admin.private_key_pem.expose(),
        Some(&local.admin.kid),
        "admin",
        "KID",
    )
    .unwrap();
    let options = ConnectOptions {
        env: "local".into(),
        endpoints: Endpoints {
            api_url: local.api_url.clone(),
            token_url: local.token_url.clone(),
            audience: local.audience.clone(),
            digdir: None,
        },
        access: Access::Write,
        concurrency: 4,
        retry: RetryPolicy::default(),
        organization: Some(org(ACME)),
        clock: None,
    };
    let client = connect_with(options, credentials, None)
        .await
        .unwrap()
        .client;
    (local, client)
}

async fn populate(api: &HttpClient) {
    for (name, description) in [
        ("acme:orders.read", "Read orders"),
        ("acme:orders.write", "Write orders"),
        ("acme:old", "Old"),
    ] {
        api.create_scope(&ScopeState {
            name: name.into(),
            description: description.into(),
            active: true,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    api.update_scope(&ScopeState {
        name: "acme:orders.read".into(),
        description: "Read orders".into(),
        attributes: ScopeAttributes {
            long_description: Some("All of them".into()),
            at_max_age: Some(300),
            ..Default::default()
        },
        active: true,
        ..Default::default()
    })
    .await
    .unwrap();
    api.grant("acme:orders.read", &org(OTHER)).await.unwrap();
    api.grant("acme:orders.read", &org(ACME)).await.unwrap();
    api.deactivate_scope("acme:old").await.unwrap();
    let id = api
        .create_client(&ClientState {
            name: "order-sync".into(),
            description: "Nightly".into(),
            scopes: ["acme:orders.read".to_owned()].into(),
            keys: [("imp-key-1".to_owned(), client_key("imp-key-1"))].into(),
            active: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let _ = id;
    api.create_client(&ClientState {
        name: "bare".into(),
        description: "bare".into(),
        active: true,
        ..Default::default()
    })
    .await
    .unwrap();
}

/// Every managed field of the desired state equals the live one.
fn assert_matches(desired: &EnvState, live: &LiveEnv) {
    let active: BTreeSet<&String> = live
        .state
        .scopes
        .iter()
        .filter(|(_, s)| s.active)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(desired.scopes.keys().collect::<BTreeSet<_>>(), active);
    for (name, want) in &desired.scopes {
        let have = &live.state.scopes[name];
        assert_eq!(want.description, have.description, "{name}");
        assert_eq!(want.grants, have.grants, "{name}");
        // The attributes the desired side sets (the managed ones) are the live ones.
        assert_eq!(want.attributes.differences(&have.attributes), [], "{name}");
    }
    let live_active: Vec<&ClientState> = live.state.clients.values().filter(|c| c.active).collect();
    assert_eq!(desired.clients.len(), live_active.len());
    for (name, want) in &desired.clients {
        let have = &live.state.clients[want.client_id.as_ref().expect("pinned")];
        assert_eq!(&have.name, name);
        assert_eq!(want.description, have.description);
        assert_eq!(want.scopes, have.scopes);
        assert_eq!(
            want.keys.keys().collect::<Vec<_>>(),
            have.keys.keys().collect::<Vec<_>>()
        );
        for (kid, key) in &want.keys {
            assert_eq!(key.jwk, have.keys[kid].jwk);
        }
        if want.access_token_lifetime.is_some() {
            assert_eq!(want.access_token_lifetime, have.access_token_lifetime);
        }
        if want.contacts.is_some() {
            assert_eq!(want.contacts, have.contacts);
        }
    }
    if desired.contacts.is_some() {
        assert_eq!(desired.contacts, live.state.contacts);
    }
}

#[test]
fn import_of_a_populated_local_emulator_plans_to_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (local, api) = local_client(dir.path()).await;
        populate(&api).await;
        drop(api);
        drop(local);
    });

    let out = dir.path().join("manifest/mpctl.yaml");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let output = crate::support::mpctl_in(
        dir.path(),
        &["import", "--env", "local", "--org", ACME, "--out"],
    )
    .arg(&out)
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("acme:old"),
        "deactivated scope noted: {stderr}"
    );
    assert!(
        out.parent()
            .unwrap()
            .join("keys/order-sync-imp-key-1.jwk.json")
            .exists()
    );

    let loaded = mpctl::manifest::load(std::slice::from_ref(&out))
        .unwrap_or_else(|d| panic!("{:?}", miette::Report::new(d)));
    let yaml = std::fs::read_to_string(&out).unwrap();
    assert!(yaml.contains("client_ids"), "{yaml}");
    assert!(!yaml.contains("null"), "{yaml}");

    runtime.block_on(async {
        let (_local, api) = local_client(dir.path()).await;
        let live = api.fetch().await.unwrap();
        let desired = mpctl::state::resolve::resolve(&loaded, "local", 0);
        assert_matches(&desired, &live);
    });

    // And `mpctl plan` itself finds nothing to do.
    let plan = crate::support::mpctl_in(
        dir.path(),
        &["plan", "--detailed-exitcode", "--color", "never"],
    )
    .arg(&out)
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&plan.stdout);
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert_eq!(plan.status.code(), Some(0), "{stdout}\n{stderr}");
}

#[test]
fn verbose_runs_trace_requests_but_never_keys_or_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let admin_key = runtime.block_on(async {
        let (local, api) = local_client(dir.path()).await;
        populate(&api).await;
        local.admin.private_key_pem.clone()
    });
    let output = crate::support::mpctl_in(
        dir.path(),
        &[
            "-vvv", "--color", "never", "import", "--env", "local", "--org", ACME,
        ],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("GET /scopes"),
        "requests are traced at -v: {stderr}"
    );
    let everything = format!("{stdout}\n{stderr}");
    for line in admin_key
        .expose()
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
    {
        assert!(
            !everything.contains(line),
            "admin key material in the output"
        );
    }
    assert!(
        !everything.contains("Bearer "),
        "an authorization header in the output"
    );
    assert!(!everything.contains("assertion="), "a grant in the output");
    // JWTs (tokens, grants) start with the base64 of `{"`.
    assert!(!everything.contains("eyJ"), "a JWT in the output");
}

#[test]
fn two_environments_merge_into_one_manifest_with_credentials_from_variables() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // `local` (embedded, started by mpctl itself) and `staging` (a served emulator reached
    // with credentials from the environment).
    runtime.block_on(async {
        let (local, api) = local_client(dir.path()).await;
        populate(&api).await;
        drop(api);
        drop(local);
    });
    let staging = runtime.block_on(async {
        mpctl::emulator::Emulator::start(mpctl::emulator::EmulatorConfig::default())
            .await
            .unwrap()
    });
    let admin = runtime.block_on(async {
        let admin = staging
            .bootstrap_org(&org(ACME), &["acme".into()])
            .await
            .unwrap();
        let api = staging_client(&staging, &admin, Access::Write).await;
        // Staging has only one of the scopes, with another description.
        api.create_scope(&ScopeState {
            name: "acme:orders.read".into(),
            description: "Read orders (staging)".into(),
            active: true,
            ..Default::default()
        })
        .await
        .unwrap();
        api.grant("acme:orders.read", &org(OTHER)).await.unwrap();
        admin
    });
    let key_file = dir.path().join("staging-admin.pem");
    std::fs::write(&key_file, admin.private_key_pem.expose()).unwrap();
    let endpoints = dir.path().join("endpoints.yaml");
    std::fs::write(
        &endpoints,
        format!(
            "version: 1\norganization: \"{ACME}\"\nprefixes: [acme]\nenvironments:\n  local: {{}}\n  staging:\n    api_url: {}\n    token_url: {}\n    audience: {}\n",
            staging.api_url(),
            staging.token_url(),
            staging.issuer()
        ),
    )
    .unwrap();

    let out = dir.path().join("mpctl.yaml");
    let output = crate::support::mpctl_in(dir.path(), &[])
        .env("MPCTL_STAGING_CLIENT_ID", &admin.client_id)
        .env("MPCTL_STAGING_KEY_FILE", &key_file)
        .env("MPCTL_STAGING_KEY_ID", &admin.kid)
        .args(["import", "--env", "local", "--env", "staging", "--manifest"])
        .arg(&endpoints)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let yaml = std::fs::read_to_string(&out).unwrap();
    let loaded = mpctl::manifest::load(std::slice::from_ref(&out))
        .unwrap_or_else(|d| panic!("{:?}\n{yaml}", miette::Report::new(d)));
    let manifest = &loaded.manifest;
    assert!(manifest.environments["staging"].api_url.is_some(), "{yaml}");
    let orders = manifest
        .scopes
        .iter()
        .find(|s| s.name == "acme:orders.read")
        .unwrap();
    assert_eq!(orders.environments, None, "{yaml}");
    assert_eq!(
        orders.overrides["staging"].description.as_deref(),
        Some("Read orders (staging)"),
        "{yaml}"
    );
    let write = manifest
        .scopes
        .iter()
        .find(|s| s.name == "acme:orders.write")
        .unwrap();
    assert_eq!(
        write.environments.as_deref(),
        Some(&["local".to_owned()][..]),
        "{yaml}"
    );

    // Each environment resolves to its live state.
    runtime.block_on(async {
        let (_local, api) = local_client(dir.path()).await;
        let live = api.fetch().await.unwrap();
        assert_matches(&mpctl::state::resolve::resolve(&loaded, "local", 0), &live);
    });
    runtime.block_on(async {
        let api = staging_client(&staging, &admin, Access::Read).await;
        let live = api.fetch().await.unwrap();
        assert_matches(
            &mpctl::state::resolve::resolve(&loaded, "staging", 0),
            &live,
        );
    });
}

#[test]
fn out_creates_missing_directories_and_never_replaces_a_file_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let import = |extra: &[&str]| {
        let output = crate::support::mpctl_in(
            dir.path(),
            &[
                "--color", "never", "import", "--env", "local", "--org", ACME,
            ],
        )
        .args(extra)
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.code(), stderr)
    };
    let out = "new/dir/mpctl.yaml";
    let (code, stderr) = import(&["--out", out]);
    assert_eq!(code, Some(0), "{stderr}");
    let written = std::fs::read_to_string(dir.path().join(out)).unwrap();

    std::fs::write(dir.path().join(out), "# mine\n").unwrap();
    let (code, stderr) = import(&["--out", out]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("new/dir/mpctl.yaml exists; not overwriting it"),
        "{stderr}"
    );
    assert!(stderr.contains("pass --force"), "{stderr}");
    assert!(stderr.contains("mpctl::import::exists"), "{stderr}");
    let (code, stderr) = import(&["--manifest", out, "--out", "./new/dir/mpctl.yaml"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("is the manifest given to --manifest"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(out)).unwrap(),
        "# mine\n"
    );

    let (code, stderr) = import(&["--out", out, "--force"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(out)).unwrap(),
        written
    );
}
