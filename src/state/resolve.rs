//! Resolution: the desired state of one environment, from a loaded manifest. Applies each
//! resource's `environments` filter and its `overrides` for the environment, so that the diff
//! compares like with like.

use std::collections::{BTreeMap, BTreeSet};

use super::{ClientState, EnvState, KeyState, ScopeState};
use crate::manifest::LoadedManifest;
use crate::manifest::model::{Client, Grant, Scope, applies_to};

/// The desired state of `env`. `now_unix` decides which keys are past their `retire_after`.
///
/// Assumes a valid manifest (see `crate::manifest::load`): key files that could not be read simply
/// contribute no keys here.
pub fn resolve(loaded: &LoadedManifest, env: &str, now_unix: i64) -> EnvState {
    let manifest = &loaded.manifest;
    let scopes = manifest
        .scopes
        .iter()
        .filter(|s| applies_to(s.environments.as_deref(), env))
        .map(|s| {
            let state = resolve_scope(s, env);
            (state.name.clone(), state)
        })
        .collect();
    let clients = manifest
        .clients
        .iter()
        .filter(|c| applies_to(c.environments.as_deref(), env))
        .map(|c| {
            let state = resolve_client(c, env, &loaded.keys, now_unix);
            (state.name.clone(), state)
        })
        .collect();
    let contacts = manifest
        .overrides
        .get(env)
        .and_then(|o| o.contacts.clone())
        .or_else(|| manifest.contacts.clone());
    EnvState {
        scopes,
        clients,
        contacts,
    }
}

/// Consumer organisations granted `scope` in `env`, after overrides.
fn grants_in(grants: &[Grant], env: &str) -> BTreeSet<crate::manifest::orgno::OrgNo> {
    grants
        .iter()
        .filter(|g| applies_to(g.environments(), env))
        .map(|g| g.org().clone())
        .collect()
}

fn resolve_scope(scope: &Scope, env: &str) -> ScopeState {
    let o = scope.overrides.get(env);
    let grants = o.and_then(|o| o.grants.as_deref()).unwrap_or(&scope.grants);
    ScopeState {
        name: scope.name.clone(),
        description: o
            .and_then(|o| o.description.clone())
            .unwrap_or_else(|| scope.description.clone()),
        attributes: match o {
            Some(o) => scope.attributes.overlay(&o.attributes),
            None => scope.attributes.clone(),
        },
        active: true,
        grants: grants_in(grants, env),
        protected: o.and_then(|o| o.protected).unwrap_or(scope.protected),
    }
}

fn resolve_client(
    client: &Client,
    env: &str,
    key_files: &BTreeMap<String, Vec<KeyState>>,
    now_unix: i64,
) -> ClientState {
    let attributes = client.attributes_in(env);
    let mut keys = BTreeMap::new();
    for key_ref in attributes.keys() {
        if key_ref.is_retired(now_unix) {
            continue;
        }
        for key in key_files.get(key_ref.path()).into_iter().flatten() {
            let mut key = key.clone();
            key.source = Some(key_ref.path().to_owned());
            key.retire_after = key_ref.retire_after().map(str::to_owned);
            keys.insert(key.kid.clone(), key);
        }
    }
    let protected = client.overrides.get(env).and_then(|o| o.protected);
    ClientState {
        client_id: client.client_ids.get(env).cloned(),
        name: client.name.clone(),
        scopes: attributes.scopes().iter().cloned().collect(),
        keys,
        access_token_lifetime: attributes.access_token_lifetime,
        active: true,
        renamed_from: client.renamed_from.clone(),
        protected: protected.unwrap_or(client.protected),
        integration_type: None,
        description: attributes
            .description
            .unwrap_or_else(|| client.name.clone()),
        contacts: attributes.contacts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::model::Manifest;

    fn loaded(yaml: &str) -> LoadedManifest {
        let manifest: Manifest = serde_yaml_ng::from_str(yaml).expect("test manifest parses");
        let key = KeyState {
            kid: "kid-a".into(),
            jwk: serde_json::Map::new(),
            exp: None,
            cert_not_after: None,
            source: None,
            retire_after: None,
        };
        let keys = BTreeMap::from([
            ("keys/a.jwk.json".to_owned(), vec![key.clone()]),
            (
                "keys/b.jwk.json".to_owned(),
                vec![KeyState {
                    kid: "kid-b".into(),
                    ..key
                }],
            ),
        ]);
        LoadedManifest {
            manifest,
            keys,
            files: vec![],
            digest: String::new(),
        }
    }

    const MANIFEST: &str = r#"
version: 1
organization: "910753282"
prefixes: [acme]
environments: { test: {}, prod: {} }
contacts: { notifications: [ops@acme.no] }
overrides:
  prod: { contacts: { notifications: [prod-ops@acme.no] } }
scopes:
  - name: acme:orders.read
    description: Read orders
    grants:
      - "974760673"
      - { org: "991825827", environments: [test] }
    overrides:
      prod: { description: Read orders (prod), visibility: PRIVATE }
  - name: acme:orders.write
    description: Write orders
    environments: [test]
clients:
  - name: sync
    scopes: [acme:orders.read]
    keys:
      - keys/a.jwk.json
      - { path: keys/b.jwk.json, retire_after: "2026-01-31" }
    client_ids: { prod: 2b5f7d0e-0000-4000-8000-000000000000 }
    overrides:
      prod: { scopes: [acme:orders.read, acme:orders.write] }
"#;

    #[test]
    fn filters_resources_and_grants_by_environment() {
        let loaded = loaded(MANIFEST);
        let test = resolve(&loaded, "test", 0);
        let prod = resolve(&loaded, "prod", 0);
        assert_eq!(
            test.scopes.keys().collect::<Vec<_>>(),
            ["acme:orders.read", "acme:orders.write"]
        );
        assert_eq!(prod.scopes.keys().collect::<Vec<_>>(), ["acme:orders.read"]);
        let grants = |s: &EnvState| {
            s.scopes["acme:orders.read"]
                .grants
                .iter()
                .map(|o| o.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(grants(&test), ["974760673", "991825827"]);
        assert_eq!(grants(&prod), ["974760673"]);
    }

    #[test]
    fn applies_overrides_for_the_environment_only() {
        let loaded = loaded(MANIFEST);
        let test = resolve(&loaded, "test", 0);
        let prod = resolve(&loaded, "prod", 0);
        assert_eq!(test.scopes["acme:orders.read"].description, "Read orders");
        assert_eq!(
            prod.scopes["acme:orders.read"].description,
            "Read orders (prod)"
        );
        assert_eq!(test.scopes["acme:orders.read"].attributes.visibility, None);
        assert_eq!(prod.clients["sync"].scopes.len(), 2);
        assert_eq!(test.clients["sync"].scopes.len(), 1);
        assert_eq!(test.contacts.unwrap().notifications, ["ops@acme.no"]);
        assert_eq!(prod.contacts.unwrap().notifications, ["prod-ops@acme.no"]);
    }

    #[test]
    fn pins_client_ids_and_defaults_the_description_to_the_name() {
        let loaded = loaded(MANIFEST);
        assert_eq!(resolve(&loaded, "test", 0).clients["sync"].client_id, None);
        let prod = resolve(&loaded, "prod", 0);
        assert_eq!(
            prod.clients["sync"].client_id.as_deref(),
            Some("2b5f7d0e-0000-4000-8000-000000000000")
        );
        assert_eq!(prod.clients["sync"].description, "sync");
    }

    #[test]
    fn drops_keys_after_their_retire_after_day() {
        let loaded = loaded(MANIFEST);
        let jan_31_noon = 1_769_860_800; // 2026-01-31T12:00:00Z
        let feb_1 = 1_769_904_000; // 2026-02-01T00:00:00Z
        let keys = |now| {
            resolve(&loaded, "test", now).clients["sync"]
                .keys
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(jan_31_noon), ["kid-a", "kid-b"]);
        assert_eq!(keys(feb_1), ["kid-a"]);
        let b = &resolve(&loaded, "test", jan_31_noon).clients["sync"].keys["kid-b"];
        assert_eq!(b.source.as_deref(), Some("keys/b.jwk.json"));
        assert_eq!(b.retire_after.as_deref(), Some("2026-01-31"));
    }
}
