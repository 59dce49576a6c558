//! The manifest, version 1: what an organisation wants in Maskinporten, per environment.
//!
//! These types are the single source of truth for the manifest's shape: the JSON Schema in
//! `schema/mpctl.schema.json` is generated from them (doc comments become descriptions), and
//! every manifest file deserialises into one [`Manifest`]. Several files merge into one.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::attributes::{
    ClientAttributes, Contacts, IntegrationType, Invoice, KeyFile, KeyRef, ScopeAttributes,
    TokenType, Visibility,
};
use super::orgno::OrgNo;

/// The manifest's environments in the order it lists them (across files: in order of first
/// appearance, files in load order): plan, apply and drift follow this order, so `test` written
/// before `prod` is applied first.
pub type Environments = IndexMap<String, Environment>;

/// One manifest file: the organisation it acts for, the environments it manages, and the scopes
/// (as API provider) and clients (as API consumer) it wants there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mpctl manifest", extend("$id" = "https://mpctl.dev/schema/mpctl.schema.json"))]
pub struct Manifest {
    /// Manifest format version. Always `1`.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,

    /// The organisation this manifest acts for (9 digits, mod-11 checked). Every file of a
    /// manifest names the same organisation; the credentials used must belong to it.
    pub organization: OrgNo,

    /// The scope prefixes Digdir has registered to the organisation (e.g. `acme`). Every scope's
    /// name must start with one of them: without a prefix no scope can be created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<String>,

    /// The environments this manifest manages, by name. `test` and `prod` are Digdir's
    /// environments (endpoints preset), `local` is the embedded emulator (no credentials needed).
    /// Every command processes them in the order listed here.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(with = "BTreeMap<String, Environment>")]
    pub environments: Environments,

    /// Behaviour of plan and apply.
    #[serde(default, skip_serializing_if = "Settings::is_default")]
    pub settings: Settings,

    /// Mercantile data of the organisation's API-provider integration: notification points and
    /// invoice information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Contacts>,

    /// Scopes the organisation provides (API provider), each with the consumer organisations
    /// granted access to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<Scope>,

    /// Maskinporten clients (integrations) the organisation consumes APIs with (API consumer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<Client>,

    /// Per-environment overrides of the organisation's contacts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, ManifestOverride>,

    /// Names of organisations by number (e.g. `"942110464": Trondheim kommune`), shown beside
    /// the number wherever plan, drift and apply mention it. Keys are organisation numbers
    /// (9 digits, mod-11 checked); files of a manifest may each add names, but not rename one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": "^[0-9]{9}$" }))]
    pub organizations: BTreeMap<String, String>,
}

impl Manifest {
    /// The names of the manifest's environments, in order.
    pub fn environment_names(&self) -> Vec<String> {
        self.environments.keys().cloned().collect()
    }
}

/// Whether a resource limited to `only` (None: everywhere) exists in `env`.
pub fn applies_to(only: Option<&[String]>, env: &str) -> bool {
    only.is_none_or(|envs| envs.iter().any(|e| e == env))
}

/// Where an environment's API lives. `test`, `prod` and `local` need nothing here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Which built-in endpoints to start from. Defaults to the environment's name when that is
    /// `test`, `prod` or `local`; other names must set it or give all three URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// Base URL of the self-service API, e.g. `https://api.test.samarbeid.digdir.no/api/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// Maskinporten's token endpoint, e.g. `https://test.maskinporten.no/token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// The `aud` of the JWT grant: the token service's issuer, e.g. `https://test.maskinporten.no/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The token service's metadata (`…/.well-known/oauth-authorization-server`), from which
    /// `token_url` and `audience` are read when they are not set. Defaults to the preset's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    /// The self-service scopes the environment's admin client holds. mpctl then asks only for
    /// these (narrowed to what the command needs) and refuses up front what needs more.
    /// `MPCTL_<ENV>_SCOPES` overrides it. Default: ask for what the manifest's content needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_scopes: Option<Vec<super::admin_scope::AdminScope>>,
    /// Deactivate live scopes and clients that the manifest does not list (overrides
    /// `settings.prune` for this environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
}

/// Built-in endpoint sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Digdir's test environment (`api.test.samarbeid.digdir.no`, `test.maskinporten.no`).
    Test,
    /// Digdir's production environment (`api.samarbeid.digdir.no`, `maskinporten.no`).
    Prod,
    /// The embedded emulator, started in-process on 127.0.0.1 with state under `.mpctl/`.
    Local,
}

/// Settings for plan and apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Deactivate live scopes and clients the manifest does not list (default: only report them).
    #[serde(default)]
    pub prune: bool,
    /// A plan that deactivates, revokes or replaces more than this percentage of an environment's
    /// managed resources needs `--allow-mass-destroy`.
    #[serde(default = "default_mass_destroy_percent")]
    #[schemars(range(min = 0, max = 100))]
    pub mass_destroy_percent: u8,
    /// Warn about keys and certificates that expire within this many days.
    #[serde(default = "default_warn_expiry_days")]
    pub warn_expiry_days: u32,
    /// Re-register a key whose JWK `exp` is within this many days (moving its expiry forward)
    /// while its certificate, if any, is still valid.
    #[serde(default = "default_key_refresh_days")]
    pub key_refresh_days: u32,
}

fn default_mass_destroy_percent() -> u8 {
    25
}
fn default_warn_expiry_days() -> u32 {
    30
}
fn default_key_refresh_days() -> u32 {
    30
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            prune: false,
            mass_destroy_percent: default_mass_destroy_percent(),
            warn_expiry_days: default_warn_expiry_days(),
            key_refresh_days: default_key_refresh_days(),
        }
    }
}

impl Settings {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Per-environment overrides of the manifest's top-level fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestOverride {
    /// Replaces `contacts` in this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Contacts>,
}

/// A scope the organisation provides. Of its optional API fields only those set are managed:
/// an unset field is left as the API has it, so that nothing shows a perpetual change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// The full scope name, `prefix:subscope` (e.g. `acme:orders.read`). The prefix must be one
    /// of `prefixes`; the subscope uses lowercase letters, digits and `.`, `/`, `-`, `_`.
    pub name: String,
    /// What the scope gives access to, shown to consumers.
    pub description: String,
    /// The scope's optional API fields: only those set are managed.
    #[serde(flatten)]
    pub attributes: ScopeAttributes,
    /// The consumer organisations granted access. The list is complete: live grants not listed
    /// here are revoked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
    /// Only in these environments (default: every environment of the manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
    /// Refuse to deactivate this scope or revoke its grants (a plan that would is an error).
    #[serde(default, skip_serializing_if = "is_false")]
    pub protected: bool,
    /// Per-environment values for this scope's fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, ScopeOverride>,
}

/// Per-environment values for a scope. Every field set replaces the scope's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeOverride {
    /// Replaces the scope's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Replace the scope's optional API fields, one by one.
    #[serde(flatten)]
    pub attributes: ScopeAttributes,
    /// Replaces the scope's grant list in this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<Grant>>,
    /// Replaces the scope's `protected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
}

/// Access to a scope for one consumer organisation: an organisation number, or an object that
/// limits the grant to some environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Grant {
    /// The consumer's organisation number, granted in every environment of the scope.
    Org(OrgNo),
    /// The consumer's organisation number with the environments it is granted in.
    Limited(LimitedGrant),
}

/// A grant limited to some environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitedGrant {
    /// The consumer's organisation number.
    pub org: OrgNo,
    /// Only in these environments (default: every environment of the scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
}

impl Grant {
    pub fn org(&self) -> &OrgNo {
        match self {
            Grant::Org(org) => org,
            Grant::Limited(g) => &g.org,
        }
    }

    pub fn environments(&self) -> Option<&[String]> {
        match self {
            Grant::Org(_) => None,
            Grant::Limited(g) => g.environments.as_deref(),
        }
    }
}

/// A Maskinporten client (integration) the organisation consumes APIs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// The client's name (`client_name`): its identity within the organisation and environment.
    pub name: String,
    /// Description, scopes, keys, contacts and token lifetime.
    #[serde(flatten)]
    pub attributes: ClientAttributes,
    /// Only in these environments (default: every environment of the manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
    /// Adopt existing clients: the live `client_id` of this client per environment. A pinned
    /// client is matched by id, not by name, and is never recreated.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub client_ids: BTreeMap<String, String>,
    /// Earlier names of this client: a live client with one of them is renamed, not replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renamed_from: Vec<String>,
    /// Refuse to deactivate or replace this client.
    #[serde(default, skip_serializing_if = "is_false")]
    pub protected: bool,
    /// Per-environment values for this client's fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, ClientOverride>,
}

impl Client {
    /// The client's own attributes and each override's, with where they are relative to the
    /// client (`""` and `/overrides/<env>`, as JSON pointer segments).
    pub fn attribute_sets(&self) -> impl Iterator<Item = (String, &ClientAttributes)> {
        std::iter::once((String::new(), &self.attributes)).chain(self.overrides.iter().map(
            |(env, o)| {
                let at = format!("/overrides/{}", super::yaml::escape_pointer_segment(env));
                (at, &o.attributes)
            },
        ))
    }

    /// The client's attributes in `env`: its own with the environment's override over them.
    pub fn attributes_in(&self, env: &str) -> ClientAttributes {
        match self.overrides.get(env) {
            Some(o) => self.attributes.overlay(&o.attributes),
            None => self.attributes.clone(),
        }
    }
}

/// Per-environment values for a client. Every field set replaces the client's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientOverride {
    /// Replace the client's fields, one by one (a list replaces the whole list).
    #[serde(flatten)]
    pub attributes: ClientAttributes,
    /// Replaces the client's `protected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The pointer suffix of a key reference's path: the entry itself, or its `path` field.
pub(crate) fn key_suffix(k: &KeyRef) -> &'static str {
    match k {
        KeyRef::Path(_) => "",
        KeyRef::Detailed(_) => "/path",
    }
}

/// Every key reference in the manifest: (resolved path, JSON pointer of the reference).
pub(crate) fn key_refs(manifest: &Manifest) -> Vec<(String, String)> {
    let mut refs = Vec::new();
    for (ci, client) in manifest.clients.iter().enumerate() {
        let at = key_suffix;
        for (ki, k) in client.attributes.keys().iter().enumerate() {
            refs.push((
                k.path().to_owned(),
                format!("/clients/{ci}/keys/{ki}{}", at(k)),
            ));
        }
        for (env, o) in &client.overrides {
            for (ki, k) in o.attributes.keys().iter().enumerate() {
                refs.push((
                    k.path().to_owned(),
                    format!(
                        "/clients/{ci}/overrides/{}/keys/{ki}{}",
                        super::yaml::escape_pointer_segment(env),
                        at(k)
                    ),
                ));
            }
        }
    }
    refs
}
