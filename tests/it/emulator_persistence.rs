//! Durability of the emulator's state: a restart keeps everything, a `kill -9` right after
//! acknowledged writes loses none of them, and two processes never share a state file. The
//! crash test drives the real `mpctl emulator serve` binary.

use crate::support::emulator as emulator_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use emulator_support::*;
use mpctl::emulator::{Emulator, EmulatorConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn persistent(path: &Path) -> EmulatorConfig {
    EmulatorConfig {
        state_file: Some(path.to_path_buf()),
        ..EmulatorConfig::default()
    }
}

async fn get(http: &reqwest::Client, url: String, token: &str) -> Value {
    let response = http.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_restart_keeps_scopes_grants_clients_keys_and_identities() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let http = reqwest::Client::new();

    let emu = Emulator::start(persistent(&path)).await.unwrap();
    let admin = emu
        .bootstrap_org(&org(ORG_A), &["acme".into()])
        .await
        .unwrap();
    let token = admin_token(&emu, &http, &admin, ADMIN_SCOPES).await;
    let api = emu.api_url();
    let created = http
        .post(format!("{api}/scopes"))
        .bearer_auth(&token)
        .json(&json!({"prefix": "acme", "subscope": "orders.read", "description": "Read orders"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    http.put(format!(
        "{api}/scopes/access/{ORG_B}?scope=acme%3Aorders.read"
    ))
    .bearer_auth(&token)
    .send()
    .await
    .unwrap();
    let client: Value = http
        .post(format!("{api}/clients"))
        .bearer_auth(&token)
        .json(&json!({"client_name": "sync"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = client["client_id"].as_str().unwrap().to_owned();
    let (_, jwk) = new_key("persisted-key");
    let keys = http
        .post(format!("{api}/clients/{id}/jwks"))
        .bearer_auth(&token)
        .json(&json!({"keys": [jwk]}))
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status(), StatusCode::OK);
    // The first instance is dropped without an orderly shutdown: the journal alone keeps it.
    drop(emu);

    let emu = Emulator::start(persistent(&path)).await.unwrap();
    assert_eq!(emu.bootstrap_org(&org(ORG_A), &[]).await.unwrap(), admin);
    let token = admin_token(&emu, &http, &admin, ADMIN_SCOPES).await;
    let api = emu.api_url();
    let scope = get(
        &http,
        format!("{api}/scopes?scope=acme%3Aorders.read"),
        &token,
    )
    .await;
    assert_eq!(scope["description"], "Read orders");
    let grants = get(
        &http,
        format!("{api}/scopes/access?scope=acme%3Aorders.read"),
        &token,
    )
    .await;
    assert_eq!(grants[0]["consumer_orgno"], ORG_B);
    let clients = get(&http, format!("{api}/clients"), &token).await;
    assert_eq!(clients[0]["client_id"], id.as_str());
    let keys = get(&http, format!("{api}/clients/{id}/jwks"), &token).await;
    assert_eq!(keys["keys"][0]["kid"], "persisted-key");
    emu.shutdown().await.unwrap();

    // After an orderly shutdown the snapshot holds everything and the journal is empty.
    assert_eq!(
        std::fs::metadata(dir.path().join("state.json.journal"))
            .unwrap()
            .len(),
        0
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the state holds secrets: {mode:o}");
    }
    let emu = Emulator::start(persistent(&path)).await.unwrap();
    assert_eq!(emu.admin_identity(&org(ORG_A)), Some(admin));
}

/// A running `mpctl emulator serve` and what it printed.
struct Served {
    child: Child,
    issuer: String,
    client_id: String,
    kid: String,
    key_file: String,
}

fn serve(state: &Path) -> Served {
    let mut child = crate::support::mpctl(&[
        "emulator",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--bootstrap",
        &format!("{ORG_A}:acme"),
    ])
    .arg("--state")
    .arg(state)
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = String::new();
    let (mut issuer, mut client_id, mut kid, mut key_file) = (None, None, None, None);
    while key_file.is_none() {
        let line = lines
            .next()
            .expect("serve printed its credentials")
            .unwrap();
        printed.push_str(&line);
        printed.push('\n');
        let value = |prefix: &str| {
            line.trim()
                .strip_prefix(prefix)
                .map(|v| v.trim().to_owned())
        };
        if let Some(v) = value("mpctl emulator listening on") {
            issuer = Some(v);
        } else if let Some(v) = value("admin client id:") {
            client_id = Some(v);
        } else if let Some(v) = value("key id (kid):") {
            kid = Some(v);
        } else if let Some(v) = value("private key:") {
            key_file = Some(v.trim_end_matches(" (mode 0600)").to_owned());
        }
    }
    assert!(
        !printed.contains("PRIVATE KEY"),
        "the key itself is never printed"
    );
    Served {
        child,
        issuer: issuer.unwrap(),
        client_id: client_id.unwrap(),
        kid: kid.unwrap(),
        key_file: key_file.unwrap(),
    }
}

async fn served_token(http: &reqwest::Client, served: &Served) -> String {
    let pem = std::fs::read_to_string(&served.key_file).unwrap();
    let assertion = Assertion::new(&served.client_id, &served.issuer, ADMIN_SCOPES, now())
        .sign(KeyRef::Kid(&served.kid), &pem);
    let (status, body) = post_token(http, &format!("{}token", served.issuer), &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_after_acknowledged_writes_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut served = serve(&state);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&served.key_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let http = reqwest::Client::new();
    let token = served_token(&http, &served).await;
    let api = format!("{}api/v1", served.issuer);

    // Writers create scopes and grants as fast as they can; the process is killed mid-stream.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for writer in 0..6 {
        let (http, token, api, acknowledged) = (
            http.clone(),
            token.clone(),
            api.clone(),
            acknowledged.clone(),
        );
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let subscope = format!("w{writer}.s{n}");
                let Ok(response) = http
                    .post(format!("{api}/scopes"))
                    .bearer_auth(&token)
                    .json(&json!({"prefix": "acme", "subscope": subscope, "description": "d"}))
                    .send()
                    .await
                else {
                    return;
                };
                if response.status() != StatusCode::CREATED {
                    return;
                }
                acknowledged
                    .lock()
                    .unwrap()
                    .push(format!("acme:{subscope}"));
            }
        }));
    }
    // Kill once a good number of writes were acknowledged (or after a while on a slow machine).
    for _ in 0..200 {
        if acknowledged.lock().unwrap().len() >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served.child.kill().unwrap(); // SIGKILL
    served.child.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 10,
        "only {} writes before the kill",
        acknowledged.len()
    );

    let mut served = serve(&state);
    let token = served_token(&http, &served).await;
    let list = get(&http, format!("{}api/v1/scopes", served.issuer), &token).await;
    let present: std::collections::BTreeSet<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|name| !present.contains(name.as_str()))
        .collect();
    assert!(lost.is_empty(), "lost acknowledged writes: {lost:?}");
    served.child.kill().unwrap();
    served.child.wait().unwrap();
}

#[test]
fn a_second_process_on_the_same_state_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut first = serve(&state);
    let second = crate::support::mpctl(&[
        "emulator",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--color",
        "never",
    ])
    .arg("--state")
    .arg(&state)
    .output()
    .unwrap();
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
}

#[test]
fn serve_and_init_explain_bad_arguments() {
    let run = |args: &[&str]| {
        let out = crate::support::mpctl(&[])
            .args(args)
            .arg("--color")
            .arg("never")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Values clap accepts but the emulator cannot use are usage errors too (64).
    let (code, err) = run(&["emulator", "serve", "--faults", "latency=fast"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("latency=fast"), "{err}");
    let (code, err) = run(&["emulator", "serve", "--bootstrap", "974760674:acme"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("974760674"), "{err}");
    let (code, err) = run(&["emulator", "serve", "--listen", "localhost"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("is not an address"), "{err}");
    let (code, err) = run(&["emulator", "init"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("--bootstrap"), "{err}");
}

#[test]
fn init_writes_a_ready_setup() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::mpctl(&["emulator", "init", "--bootstrap", &format!("{ORG_A}:acme")])
        .arg("--dir")
        .arg(dir.path().join(".mpctl"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("PRIVATE KEY"));
    let emulator_dir = dir.path().join(".mpctl/emulator");
    for file in ["state.json", "ca.pem", &format!("admin-{ORG_A}.pem")] {
        assert!(
            emulator_dir.join(file).exists(),
            "{file} missing; printed:\n{stdout}"
        );
    }
    assert!(stdout.contains("admin client id:"));
    assert!(
        std::fs::read_to_string(emulator_dir.join("ca.pem"))
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
}

#[tokio::test]
async fn start_local_bootstraps_idempotently_with_contacts_on() {
    use mpctl::emulator::local::{LocalOptions, start_local};
    let dir = tempfile::tempdir().unwrap();
    let options = |prefixes: &[&str]| LocalOptions {
        state_dir: dir.path().join(".mpctl/emulator"),
        organization: org(ORG_A),
        prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
    };
    let first = start_local(options(&["acme"])).await.unwrap();
    assert!(first.api_url.starts_with("http://127.0.0.1:") && first.api_url.ends_with("/api/v1"));
    assert_eq!(first.token_url, first.emulator.token_url());
    assert_eq!(first.audience, first.emulator.issuer());
    let admin = first.admin.clone();
    assert!(!format!("{first:?}").contains("PRIVATE KEY"));

    // Only one process at a time may use the state.
    let err = start_local(options(&["acme"])).await.unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    drop(first);

    let second = start_local(options(&["acme", "acme-test"])).await.unwrap();
    assert_eq!(
        second.admin, admin,
        "the same admin identity after a restart"
    );
    assert_eq!(
        second.emulator.prefixes(&org(ORG_A)).unwrap(),
        ["acme", "acme-test"]
    );
    let http = reqwest::Client::new();
    let token = admin_token(&second.emulator, &http, &second.admin, ADMIN_SCOPES).await;
    let contacts = get(
        &http,
        format!("{}/extensions/contacts", second.api_url),
        &token,
    )
    .await;
    assert_eq!(contacts["notifications"], json!([]));
}

#[test]
fn serve_on_every_interface_warns_and_prints_the_address_bound() {
    let dir = tempfile::tempdir().unwrap();
    for (listen, warns) in [("0.0.0.0:0", true), ("127.0.0.1:0", false)] {
        let mut child = crate::support::mpctl(&[
            "emulator", "serve", "--quiet", "--listen", listen, "--state",
        ])
        .arg(dir.path().join("state.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut printed = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.trim_start().starts_with("bound:");
            printed.push(line);
            if done {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        let bound = printed
            .iter()
            .find_map(|l| l.trim().strip_prefix("bound:"))
            .map(str::trim)
            .expect("the bound address");
        let host = listen.trim_end_matches(":0");
        let port: u16 = bound
            .strip_prefix(&format!("{host}:"))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{listen}: bound {bound}"));
        assert_ne!(port, 0);
        if warns {
            assert!(
                printed[0].contains(&format!("0.0.0.0:{port} (every network interface")),
                "{printed:?}"
            );
            assert!(
                stderr.contains(&format!("warning: the emulator listens on 0.0.0.0:{port}"))
                    && stderr.contains("/emulator/* control endpoints")
                    && stderr.contains("no authentication"),
                "{stderr}"
            );
        } else {
            assert_eq!(
                printed[0],
                format!("mpctl emulator listening on http://127.0.0.1:{port}/")
            );
            assert!(!stderr.contains("warning"), "{stderr}");
        }
    }
}

#[test]
fn a_local_environment_in_use_says_so_without_naming_options_apply_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = serve(&dir.path().join(".mpctl/emulator/state.json"));
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart.yaml"),
        dir.path().join("mpctl.yaml"),
    )
    .unwrap();
    let apply = crate::support::mpctl_in(
        dir.path(),
        &["apply", "--yes", "--color", "never", "mpctl.yaml"],
    )
    .output()
    .unwrap();
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert_eq!(apply.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&apply.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
    assert!(stderr.contains("wait for it to finish"), "{stderr}");
    assert!(!stderr.contains("--state"), "{stderr}");
}
