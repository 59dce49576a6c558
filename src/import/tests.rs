use super::*;
use crate::manifest::LoadedManifest;
use crate::manifest::model::{TokenType, Visibility};
use crate::state::resolve::resolve;

#[test]
fn defaults_go_but_an_override_back_to_the_default_stays() {
    let mut a = scope("acme:a", "A", &[]);
    a.attributes.at_max_age = Some(120);
    a.attributes.visibility = Some(Visibility::Public);
    let mut a_prod = a.clone();
    a_prod.attributes.at_max_age = Some(300);
    let mut b = scope("acme:b", "B", &[]);
    b.attributes.at_max_age = Some(300);
    let mut b_prod = b.clone();
    b_prod.attributes.at_max_age = Some(120);
    let envs = vec![
        env("test", vec![a, b], vec![]),
        env("prod", vec![a_prod, b_prod], vec![]),
    ];
    let mut imported = build(&OrgNo::new_unchecked("910753282"), &envs);
    omit_defaults(&mut imported.manifest);
    let [a, b] = &imported.manifest.scopes[..] else {
        panic!("two scopes")
    };
    // acme:a: 120 (default) in test is left out, prod keeps its 300.
    assert_eq!(
        (a.attributes.at_max_age, a.attributes.visibility),
        (None, None)
    );
    assert_eq!(a.overrides["prod"].attributes.at_max_age, Some(300));
    // acme:b: 300 in test, 120 in prod — the override keeps prod at the default.
    assert_eq!(b.attributes.at_max_age, Some(300));
    assert_eq!(b.overrides["prod"].attributes.at_max_age, Some(120));
}

fn scope(name: &str, description: &str, grants: &[&str]) -> ScopeState {
    ScopeState {
        name: name.into(),
        description: description.into(),
        active: true,
        grants: grants.iter().map(|g| OrgNo::new_unchecked(*g)).collect(),
        ..Default::default()
    }
}

fn key(kid: &str, n: &str) -> KeyState {
    let jwk: serde_json::Map<String, serde_json::Value> = serde_json::from_value(
            serde_json::json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": n, "e": "AQAB"}),
        )
        .unwrap();
    KeyState {
        kid: kid.into(),
        jwk,
        exp: Some(1_900_000_000),
        cert_not_after: None,
        source: None,
        retire_after: None,
    }
}

fn client(id: &str, name: &str, scopes: &[&str], keys: &[KeyState]) -> ClientState {
    ClientState {
        client_id: Some(id.into()),
        name: name.into(),
        description: name.into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        keys: keys.iter().map(|k| (k.kid.clone(), k.clone())).collect(),
        active: true,
        integration_type: Some("maskinporten".into()),
        ..Default::default()
    }
}

fn env(name: &str, scopes: Vec<ScopeState>, clients: Vec<ClientState>) -> ImportedEnv {
    let mut live = LiveEnv::default();
    for s in scopes {
        live.state.scopes.insert(s.name.clone(), s);
    }
    for c in clients {
        live.state
            .clients
            .insert(c.client_id.clone().unwrap_or_default(), c);
    }
    ImportedEnv {
        name: name.into(),
        environment: Environment::default(),
        live,
    }
}

fn two_envs() -> Vec<ImportedEnv> {
    let mut read = scope(
        "acme:orders.read",
        "Read orders",
        &["974760673", "991825827"],
    );
    read.attributes.visibility = Some(Visibility::Public);
    read.attributes.token_type = Some(TokenType::SelfContained);
    let mut read_prod = scope("acme:orders.read", "Read orders (prod)", &["974760673"]);
    read_prod.attributes.visibility = Some(Visibility::Public);
    read_prod.attributes.at_max_age = Some(300);
    let mut old = scope("acme:old", "Old", &[]);
    old.active = false;
    let test = env(
        "test",
        vec![read, scope("acme:beta", "Beta", &[]), old],
        vec![
            client("t-1", "sync", &["acme:orders.read"], &[key("k1", "AQAB1")]),
            {
                let mut c = client("t-2", "gone", &[], &[]);
                c.active = false;
                c
            },
        ],
    );
    let prod = env(
        "prod",
        vec![read_prod],
        vec![{
            let mut c = client(
                "p-1",
                "sync",
                &["acme:orders.read", "other:x"],
                &[key("k2", "AQAB2")],
            );
            c.description = "Nightly sync".into();
            c.access_token_lifetime = Some(60);
            c
        }],
    );
    vec![test, prod]
}

fn loaded(imported: &Imported) -> LoadedManifest {
    let keys = imported
        .key_files
        .iter()
        .map(|(path, jwk)| {
            let kid = jwk["kid"].as_str().unwrap().to_owned();
            (
                path.clone(),
                vec![KeyState {
                    kid,
                    jwk: jwk.clone(),
                    exp: None,
                    cert_not_after: None,
                    source: None,
                    retire_after: None,
                }],
            )
        })
        .collect();
    LoadedManifest {
        manifest: imported.manifest.clone(),
        keys,
        files: vec![],
        digest: String::new(),
    }
}

#[test]
fn the_imported_manifest_resolves_to_the_live_state_of_every_environment() {
    let envs = two_envs();
    let imported = build(&OrgNo::new_unchecked("910753282"), &envs);
    // Through YAML and back, as a user would get it.
    let yaml = to_yaml(&imported, &["test".into(), "prod".into()]).unwrap();
    let reparsed: Manifest = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(reparsed, imported.manifest);
    let loaded = loaded(&imported);
    for env in &envs {
        let desired = resolve(&loaded, &env.name, 0);
        let live = &env.live.state;
        let active: BTreeMap<_, _> = live.scopes.iter().filter(|(_, s)| s.active).collect();
        assert_eq!(
            desired.scopes.keys().collect::<Vec<_>>(),
            active.keys().copied().collect::<Vec<_>>(),
            "{}",
            env.name
        );
        for (name, want) in &desired.scopes {
            let have = &live.scopes[name];
            assert_eq!(want.description, have.description, "{name} in {}", env.name);
            assert_eq!(want.grants, have.grants, "{name} in {}", env.name);
            // Every managed field equals the live one.
            if want.attributes.visibility.is_some() {
                assert_eq!(want.attributes.visibility, have.attributes.visibility);
            }
            if want.attributes.token_type.is_some() {
                assert_eq!(want.attributes.token_type, have.attributes.token_type);
            }
            if want.attributes.at_max_age.is_some() {
                assert_eq!(want.attributes.at_max_age, have.attributes.at_max_age);
            }
        }
        for (name, want) in &desired.clients {
            let id = want.client_id.as_ref().expect("pinned");
            let have = &live.clients[id];
            assert_eq!(&have.name, name);
            assert_eq!(want.description, have.description, "{name} in {}", env.name);
            assert_eq!(want.scopes, have.scopes, "{name} in {}", env.name);
            assert_eq!(
                want.keys.keys().collect::<Vec<_>>(),
                have.keys.keys().collect::<Vec<_>>()
            );
            for (kid, k) in &want.keys {
                assert_eq!(k.jwk, have.keys[kid].jwk);
            }
            if want.access_token_lifetime.is_some() {
                assert_eq!(want.access_token_lifetime, have.access_token_lifetime);
            }
        }
        let active_clients = live.clients.values().filter(|c| c.active).count();
        assert_eq!(desired.clients.len(), active_clients, "{}", env.name);
        // And the engine agrees: nothing to change.
        let plan = crate::plan::diff::diff_for_org(
            Some(&OrgNo::new_unchecked("910753282")),
            &desired,
            &env.live,
            &Settings::default(),
            1_800_000_000,
        );
        let changes: Vec<String> = plan.changes.iter().map(|c| c.headline()).collect();
        assert!(changes.is_empty(), "{}: {changes:?}", env.name);
    }
}

#[test]
fn differences_become_environments_and_overrides() {
    let imported = build(&OrgNo::new_unchecked("910753282"), &two_envs());
    let m = &imported.manifest;
    assert_eq!(m.prefixes, ["acme"]);
    let beta = m.scopes.iter().find(|s| s.name == "acme:beta").unwrap();
    assert_eq!(beta.environments.as_deref(), Some(&["test".to_owned()][..]));
    let read = m
        .scopes
        .iter()
        .find(|s| s.name == "acme:orders.read")
        .unwrap();
    assert_eq!(read.environments, None);
    assert_eq!(read.attributes.visibility, Some(Visibility::Public));
    // Set in only one environment: an override, not a base value.
    assert_eq!(read.attributes.token_type, None);
    assert_eq!(
        read.overrides["test"].attributes.token_type,
        Some(TokenType::SelfContained)
    );
    assert_eq!(read.overrides["prod"].attributes.at_max_age, Some(300));
    assert!(
        read.grants
            .contains(&Grant::Org(OrgNo::new_unchecked("974760673")))
    );
    assert!(read.grants.contains(&Grant::Limited(LimitedGrant {
        org: OrgNo::new_unchecked("991825827"),
        environments: Some(vec!["test".into()]),
    })));
    let sync = &m.clients[0];
    assert_eq!(sync.client_ids["test"], "t-1");
    assert_eq!(sync.client_ids["prod"], "p-1");
    assert_eq!(m.clients.len(), 1, "the deactivated client is left out");
    assert!(imported.key_files.contains_key("keys/sync-k1.jwk.json"));
    assert!(imported.notes.iter().any(|n| n.contains("acme:old")));
    assert!(imported.notes.iter().any(|n| n.contains("gone")));
}

#[test]
fn unset_fields_are_not_written() {
    let imported = build(
        &OrgNo::new_unchecked("910753282"),
        &[env(
            "test",
            vec![scope("acme:a", "A", &[])],
            vec![client("c", "c", &[], &[])],
        )],
    );
    let yaml = to_yaml(&imported, &["test".into()]).unwrap();
    for absent in [
        "visibility",
        "token_type",
        "overrides",
        "environments: [",
        "description: c",
        "null",
    ] {
        assert!(!yaml.contains(absent), "{absent} in\n{yaml}");
    }
}

#[test]
fn a_second_active_client_with_the_same_name_is_reported_not_imported() {
    let imported = build(
        &OrgNo::new_unchecked("910753282"),
        &[env(
            "test",
            vec![],
            vec![client("a", "dup", &[], &[]), client("b", "dup", &[], &[])],
        )],
    );
    assert_eq!(imported.manifest.clients.len(), 1);
    assert!(imported.notes.iter().any(|n| n.contains("dup")));
}
