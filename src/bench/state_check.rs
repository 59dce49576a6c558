//! The soak's final check: the emulator's state file, read as plain JSON after shutdown,
//! against what the generator decided ([`Organisation`]). Neither mpctl's client nor the
//! emulator's own types read the file here, so a field that both lost, or a mapping that both
//! got wrong, still shows as a difference.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::generate::{GeneratedContacts, Organisation};

/// Reads the snapshot at `state_file` (its journal must be empty, as a shutdown leaves it) and
/// returns every difference from `org` in `env`: scopes (name, description, visibility, owner,
/// active), grants (consumer, owner, approved), clients (each exactly once: name, description,
/// scopes, organisation, integration type, active), keys (every JWK member) and contacts
/// (provider and clients). The emulator's bootstrap admin client is not the organisation's and
/// is left out.
pub fn differences(
    state_file: &Path,
    org: &Organisation,
    env: &str,
) -> Result<Vec<String>, String> {
    let mut journal = state_file.as_os_str().to_owned();
    journal.push(".journal");
    match std::fs::metadata(&journal) {
        Ok(m) if m.len() > 0 => {
            return Err(format!(
                "{} holds {} bytes after shutdown: the snapshot alone is not the state",
                Path::new(&journal).display(),
                m.len()
            ));
        }
        _ => {}
    }
    let text = std::fs::read_to_string(state_file)
        .map_err(|e| format!("cannot read {}: {e}", state_file.display()))?;
    let snapshot: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not JSON: {e}", state_file.display()))?;
    let state = snapshot
        .get("state")
        .ok_or_else(|| format!("{} has no `state`", state_file.display()))?;
    Ok(compare(state, org, env))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn object<'a>(state: &'a Value, key: &str) -> BTreeMap<&'a str, &'a Value> {
    state
        .get(key)
        .and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

fn strings(v: Option<&Value>) -> Option<BTreeSet<String>> {
    v?.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Compares one field; records `what` when it differs.
fn expect(out: &mut Vec<String>, what: &str, have: Option<&Value>, want: &Value) {
    if have != Some(want) {
        out.push(format!(
            "{what} is {}, the specification {want}",
            have.map_or_else(|| "missing".to_owned(), Value::to_string)
        ));
    }
}

/// The differences between the `state` object of a snapshot and `org` in `env`.
pub fn compare(state: &Value, org: &Organisation, env: &str) -> Vec<String> {
    let mut out = Vec::new();
    let orgno = Value::from(org.orgno.as_str());

    // Scopes: exactly the specification's, with its fields.
    let scopes = object(state, "scopes");
    let wanted: BTreeSet<&str> = org.scopes.iter().map(|s| s.name.as_str()).collect();
    for name in scopes.keys().filter(|n| !wanted.contains(*n)) {
        out.push(format!(
            "scope {name} exists but is not in the specification"
        ));
    }
    for want in &org.scopes {
        let Some(have) = scopes.get(want.name.as_str()) else {
            out.push(format!("scope {} is missing", want.name));
            continue;
        };
        let at = |field: &str| format!("scope {} `{field}`", want.name);
        let joined = format!(
            "{}:{}",
            str_of(have, "prefix").unwrap_or("?"),
            str_of(have, "subscope").unwrap_or("?")
        );
        if joined != want.name {
            out.push(format!("{} is {joined}", at("prefix:subscope")));
        }
        expect(
            &mut out,
            &at("description"),
            have.get("description"),
            &Value::from(want.description_in(env)),
        );
        expect(
            &mut out,
            &at("visibility"),
            have.get("visibility"),
            &Value::from(want.visibility),
        );
        expect(
            &mut out,
            &at("owner_orgno"),
            have.get("owner_orgno"),
            &orgno,
        );
        expect(
            &mut out,
            &at("active"),
            have.get("active"),
            &Value::Bool(true),
        );
    }

    // Grants: per scope, exactly the specification's consumers, approved, owned by the org.
    let grants = object(state, "grants");
    for (scope, _) in grants.iter().filter(|(s, _)| !wanted.contains(**s)) {
        out.push(format!(
            "scope {scope} has grants but is not in the specification"
        ));
    }
    for want in &org.scopes {
        let have = grants
            .get(want.name.as_str())
            .and_then(|g| g.as_object())
            .map(|o| o.iter().collect::<Vec<_>>())
            .unwrap_or_default();
        let have_consumers: BTreeSet<&str> = have.iter().map(|(k, _)| k.as_str()).collect();
        let want_consumers: BTreeSet<&str> = want.grants.iter().map(String::as_str).collect();
        for extra in have_consumers.difference(&want_consumers) {
            out.push(format!(
                "scope {} is granted to {extra}, not in the specification",
                want.name
            ));
        }
        for missing in want_consumers.difference(&have_consumers) {
            out.push(format!("scope {} is not granted to {missing}", want.name));
        }
        for (consumer, grant) in have {
            let at = |field: &str| format!("grant {} -> {consumer} `{field}`", want.name);
            expect(
                &mut out,
                &at("scope"),
                grant.get("scope"),
                &Value::from(want.name.as_str()),
            );
            expect(
                &mut out,
                &at("consumer_orgno"),
                grant.get("consumer_orgno"),
                &Value::from(consumer.as_str()),
            );
            expect(
                &mut out,
                &at("owner_orgno"),
                grant.get("owner_orgno"),
                &orgno,
            );
            expect(
                &mut out,
                &at("state"),
                grant.get("state"),
                &Value::from("APPROVED"),
            );
        }
    }

    // Clients: each of the specification's exactly once (a duplicated create shows as a
    // second client of the same name), with its fields, keys and contacts.
    let clients = object(state, "clients");
    let jwks = object(state, "jwks");
    let contacts = object(state, "contacts");
    let mut by_name: BTreeMap<&str, Vec<(&str, &Value)>> = BTreeMap::new();
    for (id, client) in &clients {
        if client.get("admin").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        by_name
            .entry(str_of(client, "client_name").unwrap_or("?"))
            .or_default()
            .push((id, client));
    }
    let wanted_clients: BTreeSet<&str> = org.clients.iter().map(|c| c.name.as_str()).collect();
    for (name, found) in &by_name {
        if found.len() > 1 {
            out.push(format!(
                "client {name} exists {} times (a duplicated create)",
                found.len()
            ));
        }
        if !wanted_clients.contains(name) {
            out.push(format!(
                "client {name} exists but is not in the specification"
            ));
        }
    }
    let mut expected_contacts: BTreeSet<String> = BTreeSet::new();
    if let Some(want) = &org.contacts {
        let key = format!("provider:{}", org.orgno);
        compare_contacts(
            &mut out,
            "the provider",
            contacts.get(key.as_str()).copied(),
            want,
        );
        expected_contacts.insert(key);
    }
    for want in &org.clients {
        let Some(&(id, have)) = by_name.get(want.name.as_str()).and_then(|f| f.first()) else {
            out.push(format!("client {} is missing", want.name));
            continue;
        };
        let at = |field: &str| format!("client {} `{field}`", want.name);
        expect(
            &mut out,
            &at("client_id"),
            have.get("client_id"),
            &Value::from(id),
        );
        expect(
            &mut out,
            &at("description"),
            have.get("description"),
            &Value::from(want.description.as_str()),
        );
        expect(
            &mut out,
            &at("client_orgno"),
            have.get("client_orgno"),
            &orgno,
        );
        expect(
            &mut out,
            &at("integration_type"),
            have.get("integration_type"),
            &Value::from("maskinporten"),
        );
        expect(
            &mut out,
            &at("active"),
            have.get("active"),
            &Value::Bool(true),
        );
        let want_scopes: BTreeSet<String> = want.scopes.iter().cloned().collect();
        if strings(have.get("scopes")).as_ref() != Some(&want_scopes) {
            out.push(format!(
                "{} is {}, the specification {want_scopes:?}",
                at("scopes"),
                have.get("scopes")
                    .map_or_else(|| "missing".into(), Value::to_string)
            ));
        }

        // Keys: every member of every JWK as the generator wrote it, and no other key.
        let stored: Vec<&Value> = jwks
            .get(id)
            .and_then(|set| set.get("keys"))
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(|k| k.get("jwk")).collect())
            .unwrap_or_default();
        let mut by_kid: BTreeMap<&str, &Value> = BTreeMap::new();
        for jwk in &stored {
            if by_kid
                .insert(str_of(jwk, "kid").unwrap_or("?"), jwk)
                .is_some()
            {
                out.push(format!(
                    "client {} has key {} twice",
                    want.name,
                    str_of(jwk, "kid").unwrap_or("?")
                ));
            }
        }
        for kid in by_kid.keys() {
            if !want.keys.iter().any(|k| k.kid == *kid) {
                out.push(format!(
                    "client {} has key {kid}, not in the specification",
                    want.name
                ));
            }
        }
        for key in &want.keys {
            let Some(jwk) = by_kid.get(key.kid.as_str()) else {
                out.push(format!("client {} lacks key {}", want.name, key.kid));
                continue;
            };
            let members = [
                ("kty", "RSA"),
                ("kid", key.kid.as_str()),
                ("alg", "RS256"),
                ("use", "sig"),
                ("n", key.n.as_str()),
                ("e", key.e.as_str()),
            ];
            for (member, value) in members {
                let at = format!("client {} key {} `{member}`", want.name, key.kid);
                expect(&mut out, &at, jwk.get(member), &Value::from(value));
            }
            if let Some(extra) = jwk
                .as_object()
                .and_then(|o| o.keys().find(|k| !members.iter().any(|(m, _)| m == k)))
            {
                out.push(format!(
                    "client {} key {} has a member `{extra}` the specification has not",
                    want.name, key.kid
                ));
            }
        }

        if let Some(want_contacts) = &want.contacts {
            let key = format!("client:{id}");
            compare_contacts(
                &mut out,
                &format!("client {}", want.name),
                contacts.get(key.as_str()).copied(),
                want_contacts,
            );
            expected_contacts.insert(key);
        }
    }
    for key in contacts.keys().filter(|k| !expected_contacts.contains(**k)) {
        out.push(format!(
            "contacts {key} are set but not in the specification"
        ));
    }
    out
}

fn compare_contacts(
    out: &mut Vec<String>,
    whose: &str,
    have: Option<&Value>,
    want: &GeneratedContacts,
) {
    let Some(have) = have else {
        out.push(format!("{whose} has no contacts"));
        return;
    };
    let notifications: Vec<Value> = want
        .notifications
        .iter()
        .map(|n| Value::from(n.as_str()))
        .collect();
    expect(
        out,
        &format!("{whose} `notifications`"),
        have.get("notifications"),
        &Value::Array(notifications),
    );
    let invoice = want
        .invoice
        .as_ref()
        .map(|(email, reference)| serde_json::json!({ "email": email, "reference": reference }));
    match invoice {
        Some(invoice) => expect(
            out,
            &format!("{whose} `invoice`"),
            have.get("invoice"),
            &invoice,
        ),
        None => {
            if let Some(extra) = have.get("invoice").filter(|v| !v.is_null()) {
                out.push(format!(
                    "{whose} has invoice data {extra}, the specification none"
                ));
            }
        }
    }
}
