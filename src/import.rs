//! `import`'s core: from the live state of one or more environments to a manifest that plans to
//! zero changes.
//!
//! Rules:
//! - Active scopes and active Maskinporten clients are imported; deactivated ones are left out
//!   (they are history, and plan does not touch them) and listed in the notes.
//! - A resource present in only some environments gets `environments`; a grant present in only
//!   some of its scope's environments gets its own `environments`.
//! - A field whose value differs between environments takes the most common value, with
//!   `overrides` for the others. A field that some environments do not set at all is left
//!   unset and given per environment as an override where set (an unset field is not managed,
//!   so nothing shows a change).
//! - Clients are pinned by `client_ids` so that nothing is recreated; their public keys are
//!   written as files `keys/<client>-<kid>.jwk.json` (relative to the manifest).
//! - Only fields the API set are written.
//! - The names the API gives the organisations granted access are written to `organizations`.

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest::attributes::{factor_option, factor_value};
use crate::manifest::model::{
    Client, ClientAttributes, ClientOverride, Contacts, Environment, Grant, KeyRef, LimitedGrant,
    Manifest, ManifestOverride, Scope, ScopeAttributes, ScopeOverride, Settings,
};
use crate::manifest::orgno::OrgNo;
use crate::state::{ClientState, KeyState, LiveEnv, ScopeState};

/// One environment's live state, as read for import.
#[derive(Debug, Clone)]
pub struct ImportedEnv {
    /// The environment's name in the manifest.
    pub name: String,
    /// How it is reached (written to the manifest's `environments`).
    pub environment: Environment,
    pub live: LiveEnv,
}

/// A manifest built from live state, with the key files it refers to.
#[derive(Debug, Clone)]
pub struct Imported {
    pub manifest: Manifest,
    /// Public JWKs by path relative to the manifest (`keys/<client>-<kid>.jwk.json`).
    pub key_files: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// What was left out or needs a look, for the user.
    pub notes: Vec<String>,
}

/// Builds the manifest for `organization` from the environments' live state (in the order
/// given: ties between values go to the earlier environment).
pub fn build(organization: &OrgNo, envs: &[ImportedEnv]) -> Imported {
    let mut notes = Vec::new();
    let env_names: Vec<String> = envs.iter().map(|e| e.name.clone()).collect();

    // Scopes by name, per environment.
    let mut scopes: BTreeMap<String, Vec<(&str, &ScopeState)>> = BTreeMap::new();
    for env in envs {
        for scope in env.live.state.scopes.values() {
            if scope.active {
                scopes
                    .entry(scope.name.clone())
                    .or_default()
                    .push((&env.name, scope));
            } else {
                notes.push(format!(
                    "{}: scope {} is deactivated and was not imported",
                    env.name, scope.name
                ));
            }
        }
    }
    let prefixes: BTreeSet<String> = scopes
        .keys()
        .filter_map(|n| n.split_once(':').map(|(p, _)| p.to_owned()))
        .collect();
    let manifest_scopes = scopes
        .iter()
        .map(|(name, present)| build_scope(name, present, &env_names))
        .collect();

    // Clients by name, per environment.
    let mut clients: BTreeMap<String, Vec<(&str, &ClientState)>> = BTreeMap::new();
    for env in envs {
        let mut seen = BTreeSet::new();
        for client in env.live.state.clients.values() {
            let id = client.client_id.as_deref().unwrap_or("?");
            if !client.active {
                notes.push(format!(
                    "{}: client {} ({id}) is deactivated and was not imported",
                    env.name, client.name
                ));
                continue;
            }
            if client
                .integration_type
                .as_deref()
                .is_some_and(|t| t != "maskinporten")
            {
                notes.push(format!(
                    "{}: client {} ({id}) is not a Maskinporten client and was not imported",
                    env.name, client.name
                ));
                continue;
            }
            if !seen.insert(client.name.clone()) {
                notes.push(format!(
                    "{}: another active client is also named {:?}; {id} was not imported (rename one in Samarbeidsportalen, then import again)",
                    env.name, client.name
                ));
                continue;
            }
            clients
                .entry(client.name.clone())
                .or_default()
                .push((&env.name, client));
        }
    }
    let mut key_files = BTreeMap::new();
    let manifest_clients = clients
        .iter()
        .map(|(name, present)| build_client(name, present, &env_names, &mut key_files))
        .collect();

    // The provider integration's contacts.
    let contacts: Vec<(&str, Option<Contacts>)> = envs
        .iter()
        .map(|e| (e.name.as_str(), non_empty(e.live.state.contacts.clone())))
        .collect();
    let (base_contacts, contact_overrides) = factor_option(&contacts);
    let overrides = contact_overrides
        .into_iter()
        .map(|(env, contacts)| {
            (
                env,
                ManifestOverride {
                    contacts: Some(contacts),
                },
            )
        })
        .collect();

    // Names of the organisations granted access, as the API names them.
    let granted: BTreeSet<&OrgNo> = scopes
        .values()
        .flatten()
        .flat_map(|(_, s)| s.grants.iter())
        .collect();
    let mut organizations = BTreeMap::new();
    for env in envs {
        for (number, name) in &env.live.org_names {
            if granted.contains(&OrgNo::new_unchecked(number.clone())) && !name.trim().is_empty() {
                organizations
                    .entry(number.clone())
                    .or_insert_with(|| name.trim().to_owned());
            }
        }
    }

    Imported {
        manifest: Manifest {
            version: 1,
            organization: organization.clone(),
            prefixes: prefixes.into_iter().collect(),
            environments: envs
                .iter()
                .map(|e| (e.name.clone(), e.environment.clone()))
                .collect(),
            settings: Settings::default(),
            contacts: base_contacts,
            scopes: manifest_scopes,
            clients: manifest_clients,
            overrides,
            organizations,
        },
        key_files,
        notes,
    }
}

fn non_empty(contacts: Option<Contacts>) -> Option<Contacts> {
    contacts.filter(|c| !c.notifications.is_empty() || c.invoice.is_some())
}

/// The environments list for a resource present in `present` of `all`: `None` when in all.
fn environments_of(present: &[&str], all: &[String]) -> Option<Vec<String>> {
    if all.iter().all(|e| present.contains(&e.as_str())) {
        None
    } else {
        Some(present.iter().map(|e| (*e).to_owned()).collect())
    }
}

fn build_scope(name: &str, present: &[(&str, &ScopeState)], all: &[String]) -> Scope {
    let envs: Vec<&str> = present.iter().map(|(e, _)| *e).collect();
    let mut overrides: BTreeMap<String, ScopeOverride> = BTreeMap::new();
    let descriptions: Vec<(&str, String)> = present
        .iter()
        .map(|(e, s)| (*e, s.description.clone()))
        .collect();
    let (description, others) = factor_value(&descriptions);
    for (env, value) in others {
        overrides.entry(env).or_default().description = Some(value);
    }
    let per_env: Vec<(&str, &ScopeAttributes)> =
        present.iter().map(|(e, s)| (*e, &s.attributes)).collect();
    let (attributes, others) = ScopeAttributes::factor(&per_env);
    for (env, value) in others {
        overrides.entry(env).or_default().attributes = value;
    }

    // Grants: an organisation granted in every environment of the scope is a plain number.
    let mut granted_in: BTreeMap<&OrgNo, Vec<&str>> = BTreeMap::new();
    for (env, scope) in present {
        for org in &scope.grants {
            granted_in.entry(org).or_default().push(env);
        }
    }
    let grants = granted_in
        .into_iter()
        .map(|(org, in_envs)| {
            if in_envs.len() == envs.len() {
                Grant::Org(org.clone())
            } else {
                Grant::Limited(LimitedGrant {
                    org: org.clone(),
                    environments: Some(in_envs.iter().map(|e| (*e).to_owned()).collect()),
                })
            }
        })
        .collect();

    Scope {
        name: name.to_owned(),
        description,
        attributes,
        grants,
        environments: environments_of(&envs, all),
        protected: false,
        overrides,
    }
}

/// A file-name-safe form of a client name or kid.
fn file_part(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('.').to_owned();
    if trimmed.is_empty() {
        "key".into()
    } else {
        trimmed
    }
}

/// The manifest path of a key, registering its file (a different key under the same name gets
/// the environment appended).
fn key_path(
    client: &str,
    env: &str,
    key: &KeyState,
    files: &mut BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
) -> String {
    let base = format!("keys/{}-{}", file_part(client), file_part(&key.kid));
    for candidate in [
        format!("{base}.jwk.json"),
        format!("{base}-{}.jwk.json", file_part(env)),
    ] {
        match files.get(&candidate) {
            Some(existing) if *existing == key.jwk => return candidate,
            Some(_) => continue,
            None => {
                files.insert(candidate.clone(), key.jwk.clone());
                return candidate;
            }
        }
    }
    let fallback = format!("{base}-{}-{}.jwk.json", file_part(env), files.len());
    files.insert(fallback.clone(), key.jwk.clone());
    fallback
}

fn build_client(
    name: &str,
    present: &[(&str, &ClientState)],
    all: &[String],
    key_files: &mut BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
) -> Client {
    let envs: Vec<&str> = present.iter().map(|(e, _)| *e).collect();
    // The description defaults to the name: written only when some environment differs.
    let default_description = present.iter().all(|(_, c)| c.description == name);
    let per_env: Vec<(&str, ClientAttributes)> = present
        .iter()
        .map(|(e, c)| {
            let attributes = ClientAttributes {
                description: (!default_description).then(|| c.description.clone()),
                scopes: Some(c.scopes.iter().cloned().collect()),
                keys: Some(
                    c.keys
                        .values()
                        .map(|k| KeyRef::Path(key_path(name, e, k, key_files)))
                        .collect(),
                ),
                contacts: non_empty(c.contacts.clone()),
                access_token_lifetime: c.access_token_lifetime,
            };
            (*e, attributes)
        })
        .collect();
    let per_env_refs: Vec<(&str, &ClientAttributes)> =
        per_env.iter().map(|(e, a)| (*e, a)).collect();
    let (mut attributes, others) = ClientAttributes::factor(&per_env_refs);
    // No scopes or keys is the same as leaving the list out.
    attributes.scopes = attributes.scopes.filter(|s| !s.is_empty());
    attributes.keys = attributes.keys.filter(|k| !k.is_empty());
    let overrides = others
        .into_iter()
        .map(|(env, attributes)| {
            let o = ClientOverride {
                attributes,
                protected: None,
            };
            (env, o)
        })
        .collect();

    Client {
        name: name.to_owned(),
        attributes,
        environments: environments_of(&envs, all),
        client_ids: present
            .iter()
            .filter_map(|(e, c)| c.client_id.clone().map(|id| ((*e).to_owned(), id)))
            .collect(),
        renamed_from: Vec::new(),
        protected: false,
        overrides,
    }
}

/// Where an imported manifest's header points editors for the schema: the schema committed in
/// mpctl's repository (a URL, since the imported manifest lives in another repository; a local
/// copy from `mpctl schema --write DIR` works as well).
pub const SCHEMA_URL: &str =
    "https://raw.githubusercontent.com/mpctl-dev/mpctl/main/schema/mpctl.schema.json";

/// The values the self-service API gives a scope's optional fields when they are not sent (as
/// the emulator does; Digdir does not document them): `import` leaves them out unless `--full`.
/// A field left out is not managed, so planning shows no change either way.
mod defaults {
    use crate::manifest::model::{
        ClientAttributes, IntegrationType, ScopeAttributes, TokenType, Visibility,
    };

    pub fn scope() -> ScopeAttributes {
        ScopeAttributes {
            visibility: Some(Visibility::Public),
            token_type: Some(TokenType::SelfContained),
            at_max_age: Some(120),
            authorization_max_lifetime: Some(0),
            allowed_integration_types: Some(vec![IntegrationType::Maskinporten]),
            accessible_for_all: Some(false),
            ..Default::default()
        }
    }

    pub fn client() -> ClientAttributes {
        ClientAttributes {
            // 0: the scopes' own bound applies.
            access_token_lifetime: Some(0),
            ..Default::default()
        }
    }
}

/// Leaves out every value equal to the API's default (the value it gives a field left unset),
/// in the resources and their overrides; overrides left empty go. An override equal to the
/// default stays where the resource's own value differs (the override is what keeps that
/// environment at the default).
pub fn omit_defaults(manifest: &mut Manifest) {
    let scope_defaults = defaults::scope();
    for s in &mut manifest.scopes {
        let mut overrides: Vec<&mut ScopeAttributes> = s
            .overrides
            .values_mut()
            .map(|o| &mut o.attributes)
            .collect();
        s.attributes.omit_defaults(&mut overrides, &scope_defaults);
        s.overrides.retain(|_, o| *o != ScopeOverride::default());
    }
    let client_defaults = defaults::client();
    for c in &mut manifest.clients {
        let mut overrides: Vec<&mut ClientAttributes> = c
            .overrides
            .values_mut()
            .map(|o| &mut o.attributes)
            .collect();
        c.attributes.omit_defaults(&mut overrides, &client_defaults);
        c.overrides.retain(|_, o| *o != ClientOverride::default());
    }
}

/// The manifest as YAML, with the schema header for editors and a line saying where it came
/// from.
pub fn to_yaml(imported: &Imported, envs: &[String]) -> Result<String, serde_yaml_ng::Error> {
    let body = serde_yaml_ng::to_string(&imported.manifest)?;
    Ok(format!(
        "# yaml-language-server: $schema={SCHEMA_URL}\n# Imported by `mpctl import` from: {}. Planning it shows no changes.\n{body}",
        envs.join(", ")
    ))
}

/// Selected resources as YAML to paste into an existing manifest: each list under a comment
/// naming the section it belongs in. Unknown names are an error listing those there are.
pub fn snippet(
    imported: &Imported,
    envs: &[String],
    scopes: &[String],
    clients: &[String],
) -> Result<String, String> {
    fn pick<'a, T>(
        all: &'a [T],
        wanted: &[String],
        name: impl Fn(&T) -> &str,
        what: &str,
        envs: &[String],
    ) -> Result<Vec<&'a T>, String> {
        wanted
            .iter()
            .map(|w| {
                all.iter().find(|r| name(r) == w).ok_or_else(|| {
                    let known: Vec<&str> = all.iter().map(&name).collect();
                    format!(
                        "no active {what} named `{w}` in {}; the {what}s there are: {}",
                        envs.join(", "),
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    )
                })
            })
            .collect()
    }
    let m = &imported.manifest;
    let picked_scopes = pick(&m.scopes, scopes, |s| s.name.as_str(), "scope", envs)?;
    let picked_clients = pick(&m.clients, clients, |c| c.name.as_str(), "client", envs)?;
    fn yaml<T: serde::Serialize>(value: &T) -> String {
        serde_yaml_ng::to_string(value).unwrap_or_default()
    }
    let mut out = format!(
        "# Imported by `mpctl import` from: {}. Paste each list into the manifest's section.\n",
        envs.join(", ")
    );
    if !picked_scopes.is_empty() {
        out.push_str("# under `scopes:`\n");
        out.push_str(&yaml(&picked_scopes));
    }
    if !picked_clients.is_empty() {
        out.push_str("# under `clients:`\n");
        out.push_str(&yaml(&picked_clients));
    }
    let granted: BTreeSet<String> = picked_scopes
        .iter()
        .flat_map(|s| s.grants.iter().map(|g| g.org().to_string()))
        .collect();
    let names: BTreeMap<&String, &String> = m
        .organizations
        .iter()
        .filter(|(number, _)| granted.contains(*number))
        .collect();
    if !names.is_empty() {
        out.push_str("# under `organizations:`\n");
        out.push_str(&yaml(&names));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod validation_tests;
