//! Builders of hand-made states for the engine's unit tests.

use std::collections::BTreeSet;

use crate::manifest::model::Settings;
use crate::manifest::orgno::OrgNo;
use crate::state::{ClientState, EnvState, KeyState, LiveEnv, ScopeState};

/// 2026-11-25T00:00:00Z.
pub const NOW: i64 = 1_795_564_800;
pub const DAY: i64 = 86_400;
/// The organisation the tests act for.
pub const ORG: &str = "910753282";
pub const OTHER: &str = "974760673";
pub const THIRD: &str = "991825827";

pub fn org(n: &str) -> OrgNo {
    OrgNo::new_unchecked(n)
}

pub fn scope(name: &str, description: &str, grants: &[&str]) -> ScopeState {
    ScopeState {
        name: name.into(),
        description: description.into(),
        active: true,
        grants: grants.iter().map(|g| org(g)).collect(),
        ..ScopeState::default()
    }
}

pub fn key(kid: &str) -> KeyState {
    let mut jwk = serde_json::Map::new();
    jwk.insert("kty".into(), "RSA".into());
    jwk.insert("kid".into(), kid.into());
    jwk.insert("use".into(), "sig".into());
    jwk.insert("alg".into(), "RS256".into());
    jwk.insert("n".into(), "AQAB-not-a-real-modulus".into());
    jwk.insert("e".into(), "AQAB".into());
    KeyState {
        kid: kid.into(),
        jwk,
        exp: None,
        cert_not_after: None,
        source: Some(format!("keys/{kid}.json")),
        retire_after: None,
    }
}

pub fn client(name: &str, scopes: &[&str], keys: &[KeyState]) -> ClientState {
    ClientState {
        client_id: None,
        name: name.into(),
        description: format!("{name} integration"),
        scopes: scopes
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>(),
        keys: keys.iter().map(|k| (k.kid.clone(), k.clone())).collect(),
        active: true,
        ..ClientState::default()
    }
}

/// A live copy of a desired client with an id and server-set key expiries.
pub fn live_client(desired: &ClientState, id: &str, key_exp: i64) -> ClientState {
    let mut c = desired.clone();
    c.client_id = Some(id.into());
    c.integration_type = Some("maskinporten".into());
    c.renamed_from.clear();
    c.protected = false;
    for k in c.keys.values_mut() {
        k.exp = Some(key_exp);
        k.source = None;
    }
    c
}

pub fn desired(scopes: Vec<ScopeState>, clients: Vec<ClientState>) -> EnvState {
    EnvState {
        scopes: scopes.into_iter().map(|s| (s.name.clone(), s)).collect(),
        clients: clients.into_iter().map(|c| (c.name.clone(), c)).collect(),
        contacts: None,
    }
}

pub fn live(scopes: Vec<ScopeState>, clients: Vec<ClientState>, accessible: &[&str]) -> LiveEnv {
    LiveEnv {
        state: EnvState {
            scopes: scopes.into_iter().map(|s| (s.name.clone(), s)).collect(),
            clients: clients
                .into_iter()
                .map(|c| (c.client_id.clone().unwrap_or_default(), c))
                .collect(),
            contacts: None,
        },
        accessible_scopes: accessible.iter().map(|s| s.to_string()).collect(),
        contacts_api: false,
        org_names: Default::default(),
    }
}

pub fn settings() -> Settings {
    Settings::default()
}
