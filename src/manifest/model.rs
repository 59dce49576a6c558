//! The manifest, version 1: what an organisation wants in Maskinporten, per environment.
//!
//! These types are the single source of truth for the manifest's shape: the JSON Schema in
//! `schema/mpctl.schema.json` is generated from them (doc comments become descriptions), and
//! every manifest file deserialises into one [`Manifest`]. Several files merge into one.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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

/// Mercantile data of an integration: who gets e-mail on critical incidents, and where invoices go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    /// Notification points (varslingspunkter): e-mail addresses told about critical incidents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<String>,
    /// Invoice information (fakturainformasjon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<Invoice>,
}

/// Invoice information.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Invoice {
    /// Where invoices are sent.
    pub email: String,
    /// Your reference (e.g. a purchase order number) printed on the invoice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Per-environment overrides of the manifest's top-level fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestOverride {
    /// Replaces `contacts` in this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Contacts>,
}

/// Who may see a scope.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Visibility {
    /// Listed for everyone on `/scopes/all`.
    Public,
    /// Seen only by the owner and the consumers granted access.
    Private,
}

/// The kind of access token a scope yields.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenType {
    /// A signed JWT the API verifies itself.
    SelfContained,
    /// A reference token the API introspects.
    Opaque,
}

/// Integration types that may use a scope.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationType {
    Maskinporten,
    ApiKlient,
    Idporten,
    IdportenSaml2,
    Ansattporten,
    Krr,
    Eformidling,
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
    /// A longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_description: Option<String>,
    /// `PUBLIC` (listed for all) or `PRIVATE` (only granted consumers see it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
    /// `SELF_CONTAINED` (JWT) or `OPAQUE` (reference) access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<TokenType>,
    /// Upper bound, in seconds, on the lifetime of access tokens with this scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_max_age: Option<u32>,
    /// Upper bound, in seconds, on the lifetime of authorizations with this scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_max_lifetime: Option<u32>,
    /// Which integration types may use the scope (default on the API: `maskinporten`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_integration_types: Option<Vec<IntegrationType>>,
    /// Every organisation may use the scope without a grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessible_for_all: Option<bool>,
    /// Access tokens must carry an audience (`resource`); the value is the required audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforced_aud_for_access_token: Option<String>,
    /// Access is delegated in another service, e.g. `https://www.altinn.no`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation_source: Option<String>,
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

/// Per-environment values for a scope. Every field replaces the scope's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_description: Option<String>,
    /// `PUBLIC` (listed for all) or `PRIVATE` (only granted consumers see it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
    /// `SELF_CONTAINED` (JWT) or `OPAQUE` (reference) access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<TokenType>,
    /// Upper bound, in seconds, on the lifetime of access tokens with this scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_max_age: Option<u32>,
    /// Upper bound, in seconds, on the lifetime of authorizations with this scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_max_lifetime: Option<u32>,
    /// Which integration types may use the scope (default on the API: `maskinporten`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_integration_types: Option<Vec<IntegrationType>>,
    /// Every organisation may use the scope without a grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessible_for_all: Option<bool>,
    /// Access tokens must carry an audience (`resource`); the value is the required audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforced_aud_for_access_token: Option<String>,
    /// Access is delegated in another service, e.g. `https://www.altinn.no`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation_source: Option<String>,
    /// Replaces the scope's grant list in this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<Grant>>,
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
    /// What the integration does (default: the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The scopes the client may request. The list is complete. Each must be granted to the
    /// organisation in the environment (or be open to all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Public keys the client signs its grants with: paths (relative to the manifest file) of
    /// JWK, JWKS, PEM public key or PEM certificate files. At most 5; never private keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyRef>,
    /// The client's own mercantile data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Contacts>,
    /// Lifetime, in seconds, of the access tokens the client gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime: Option<u32>,
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

/// Per-environment values for a client. Every field replaces the client's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<KeyRef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Contacts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
}

/// A public key file of a client: a path, or an object with the path and its retirement date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum KeyRef {
    /// Path of a JWK, JWKS, PEM public key or PEM certificate file, relative to the manifest.
    Path(String),
    /// A key file with options.
    Detailed(KeyFile),
}

/// A key file with options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Path of a JWK, JWKS, PEM public key or PEM certificate file, relative to the manifest.
    pub path: String,
    /// The last day (`YYYY-MM-DD`, UTC) the key stays registered; from the next day on, plan
    /// removes it. `mpctl keys rotate` sets it on the key it replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}$"))]
    pub retire_after: Option<String>,
}

impl KeyRef {
    pub fn path(&self) -> &str {
        match self {
            KeyRef::Path(p) => p,
            KeyRef::Detailed(k) => &k.path,
        }
    }

    pub fn retire_after(&self) -> Option<&str> {
        match self {
            KeyRef::Path(_) => None,
            KeyRef::Detailed(k) => k.retire_after.as_deref(),
        }
    }
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
        for (ki, k) in client.keys.iter().enumerate() {
            refs.push((
                k.path().to_owned(),
                format!("/clients/{ci}/keys/{ki}{}", at(k)),
            ));
        }
        for (env, o) in &client.overrides {
            for (ki, k) in o.keys.iter().flatten().enumerate() {
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
