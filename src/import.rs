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

use crate::manifest::model::{
    Client, ClientOverride, Contacts, Environment, Grant, KeyRef, LimitedGrant, Manifest,
    ManifestOverride, Scope, ScopeOverride, Settings,
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
    let (base_contacts, contact_overrides) = split_option(&contacts);
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

/// The most common value (ties: the earliest), and the environments whose value differs.
/// (Every imported resource exists in at least one environment, so `values` is never empty;
/// if it were, the default is returned.)
fn split_value<T: Clone + PartialEq + Default>(values: &[(&str, T)]) -> (T, Vec<(String, T)>) {
    let mut best: Option<(&T, usize)> = None;
    for (_, v) in values {
        let count = values.iter().filter(|(_, w)| w == v).count();
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((v, count));
        }
    }
    let base = best.map(|(v, _)| v.clone()).unwrap_or_default();
    let others = values
        .iter()
        .filter(|(_, v)| *v != base)
        .map(|(e, v)| ((*e).to_owned(), v.clone()))
        .collect();
    (base, others)
}

/// Like [`split_value`] for an optional field: when some environments do not set it, it is
/// unset in the base and given as an override where set.
fn split_option<T: Clone + PartialEq>(
    values: &[(&str, Option<T>)],
) -> (Option<T>, Vec<(String, T)>) {
    if values.iter().all(|(_, v)| v.is_some()) {
        let (base, others) = split_value(values);
        let others = others
            .into_iter()
            .filter_map(|(e, v)| v.map(|v| (e, v)))
            .collect();
        (base, others)
    } else {
        let others = values
            .iter()
            .filter_map(|(e, v)| v.clone().map(|v| ((*e).to_owned(), v)))
            .collect();
        (None, others)
    }
}

fn build_scope(name: &str, present: &[(&str, &ScopeState)], all: &[String]) -> Scope {
    let envs: Vec<&str> = present.iter().map(|(e, _)| *e).collect();
    let mut overrides: BTreeMap<String, ScopeOverride> = BTreeMap::new();
    macro_rules! optional {
        ($field:ident) => {{
            let values: Vec<(&str, _)> = present
                .iter()
                .map(|(e, s)| (*e, s.$field.clone()))
                .collect();
            let (base, others) = split_option(&values);
            for (env, value) in others {
                overrides.entry(env).or_default().$field = Some(value);
            }
            base
        }};
    }
    let descriptions: Vec<(&str, String)> = present
        .iter()
        .map(|(e, s)| (*e, s.description.clone()))
        .collect();
    let (description, others) = split_value(&descriptions);
    for (env, value) in others {
        overrides.entry(env).or_default().description = Some(value);
    }
    let long_description = optional!(long_description);
    let visibility = optional!(visibility);
    let token_type = optional!(token_type);
    let at_max_age = optional!(at_max_age);
    let authorization_max_lifetime = optional!(authorization_max_lifetime);
    let allowed_integration_types = optional!(allowed_integration_types);
    let accessible_for_all = optional!(accessible_for_all);
    let enforced_aud_for_access_token = optional!(enforced_aud_for_access_token);
    let delegation_source = optional!(delegation_source);

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
        long_description,
        visibility,
        token_type,
        at_max_age,
        authorization_max_lifetime,
        allowed_integration_types,
        accessible_for_all,
        enforced_aud_for_access_token,
        delegation_source,
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
    let mut overrides: BTreeMap<String, ClientOverride> = BTreeMap::new();

    // The description defaults to the name: write it only where it differs.
    let descriptions: Vec<(&str, Option<String>)> = present
        .iter()
        .map(|(e, c)| (*e, Some(c.description.clone()).filter(|d| d != name)))
        .collect();
    let description = if descriptions.iter().all(|(_, d)| d.is_none()) {
        None
    } else {
        let values: Vec<(&str, String)> = present
            .iter()
            .map(|(e, c)| (*e, c.description.clone()))
            .collect();
        let (base, others) = split_value(&values);
        for (env, value) in others {
            overrides.entry(env).or_default().description = Some(value);
        }
        Some(base)
    };

    let scope_lists: Vec<(&str, Vec<String>)> = present
        .iter()
        .map(|(e, c)| (*e, c.scopes.iter().cloned().collect()))
        .collect();
    let (scopes, others) = split_value(&scope_lists);
    for (env, value) in others {
        overrides.entry(env).or_default().scopes = Some(value);
    }

    let key_lists: Vec<(&str, Vec<KeyRef>)> = present
        .iter()
        .map(|(e, c)| {
            let refs = c
                .keys
                .values()
                .map(|k| KeyRef::Path(key_path(name, e, k, key_files)))
                .collect();
            (*e, refs)
        })
        .collect();
    let (keys, others) = split_value(&key_lists);
    for (env, value) in others {
        overrides.entry(env).or_default().keys = Some(value);
    }

    let lifetimes: Vec<(&str, Option<u32>)> = present
        .iter()
        .map(|(e, c)| (*e, c.access_token_lifetime))
        .collect();
    let (access_token_lifetime, others) = split_option(&lifetimes);
    for (env, value) in others {
        overrides.entry(env).or_default().access_token_lifetime = Some(value);
    }

    let contacts: Vec<(&str, Option<Contacts>)> = present
        .iter()
        .map(|(e, c)| (*e, non_empty(c.contacts.clone())))
        .collect();
    let (contacts, others) = split_option(&contacts);
    for (env, value) in others {
        overrides.entry(env).or_default().contacts = Some(value);
    }

    Client {
        name: name.to_owned(),
        description,
        scopes,
        keys,
        contacts,
        access_token_lifetime,
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
    use crate::manifest::model::{IntegrationType, TokenType, Visibility};

    pub const VISIBILITY: Visibility = Visibility::Public;
    pub const TOKEN_TYPE: TokenType = TokenType::SelfContained;
    pub const AT_MAX_AGE: u32 = 120;
    pub const AUTHORIZATION_MAX_LIFETIME: u32 = 0;
    pub const ALLOWED_INTEGRATION_TYPES: &[IntegrationType] = &[IntegrationType::Maskinporten];
    pub const ACCESSIBLE_FOR_ALL: bool = false;
    /// A client's `access_token_lifetime` of 0: the scopes' own bound applies.
    pub const ACCESS_TOKEN_LIFETIME: u32 = 0;
}

/// Leaves out every value equal to the API's default (see [`defaults`]), in the resources and
/// their overrides; overrides left empty go. An override equal to the default stays where the
/// resource's own value differs (the override is what keeps that environment at the default).
pub fn omit_defaults(manifest: &mut Manifest) {
    fn omit<T: PartialEq, O>(
        base: &mut Option<T>,
        overrides: &mut BTreeMap<String, O>,
        field: impl Fn(&mut O) -> &mut Option<T>,
        default: &T,
    ) {
        if base.as_ref() == Some(default) {
            *base = None;
        }
        if base.is_none() {
            for o in overrides.values_mut() {
                let value = field(o);
                if value.as_ref() == Some(default) {
                    *value = None;
                }
            }
        }
    }
    let types = defaults::ALLOWED_INTEGRATION_TYPES.to_vec();
    for s in &mut manifest.scopes {
        let o = &mut s.overrides;
        omit(
            &mut s.visibility,
            o,
            |o| &mut o.visibility,
            &defaults::VISIBILITY,
        );
        omit(
            &mut s.token_type,
            o,
            |o| &mut o.token_type,
            &defaults::TOKEN_TYPE,
        );
        omit(
            &mut s.at_max_age,
            o,
            |o| &mut o.at_max_age,
            &defaults::AT_MAX_AGE,
        );
        omit(
            &mut s.authorization_max_lifetime,
            o,
            |o| &mut o.authorization_max_lifetime,
            &defaults::AUTHORIZATION_MAX_LIFETIME,
        );
        omit(
            &mut s.allowed_integration_types,
            o,
            |o| &mut o.allowed_integration_types,
            &types,
        );
        omit(
            &mut s.accessible_for_all,
            o,
            |o| &mut o.accessible_for_all,
            &defaults::ACCESSIBLE_FOR_ALL,
        );
        o.retain(|_, o| *o != ScopeOverride::default());
    }
    for c in &mut manifest.clients {
        omit(
            &mut c.access_token_lifetime,
            &mut c.overrides,
            |o| &mut o.access_token_lifetime,
            &defaults::ACCESS_TOKEN_LIFETIME,
        );
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
