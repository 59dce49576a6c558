//! The plan: what `apply` would change in each environment, as ordered [`Change`]s, plus what it
//! cannot change (manual steps), what it does not manage (unmanaged resources), the expiry of
//! every managed key, and the errors that block it.
//!
//! A plan is computed by [`diff::diff`] (pure: desired × live → [`EnvPlan`]), ordered by
//! [`order`], checked by [`guard`], saved and re-checked by [`saved`] and [`compare`], rendered
//! by [`crate::render`] and carried out by [`crate::apply`].

pub mod admin_access;
pub mod compare;
pub mod diff;
pub mod guard;
pub mod manual;
pub mod names;
pub mod order;
pub mod report;
pub mod saved;
#[cfg(test)]
pub(crate) mod testkit;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::manifest::model::Contacts;
use crate::manifest::orgno::OrgNo;
use crate::state::{ClientState, KeyState, ScopeState};

pub use order::Phase;

/// Version of the plan's JSON format (`plan --format json` and saved plan files). Bumped on any
/// incompatible change of its shape.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// A plan over one or more environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    title = "mpctl plan",
    extend("$id" = "https://mpctl.dev/schema/plan.schema.json")
)]
pub struct Plan {
    /// Format version of this document (see `schema/plan.schema.json`).
    pub version: u32,
    /// When the plan was computed (RFC 3339, UTC). Key expiry and retirement are judged at this
    /// time, also when a saved plan is applied later.
    pub generated: String,
    /// SHA-256 of the manifest and its key files the plan was computed from.
    pub manifest_digest: String,
    /// The manifest paths the plan was computed from, as given on the command line: where
    /// `apply PLAN_FILE` loads the manifest again to check it is unchanged.
    #[serde(default)]
    pub manifest_paths: Vec<String>,
    /// One entry per environment, in the order they were planned.
    pub environments: Vec<EnvPlan>,
}

/// The plan of one environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnvPlan {
    /// The environment's name in the manifest.
    pub env: String,
    /// SHA-256 of the live state the plan was computed against: a saved plan is only applied
    /// while the live state still has this digest.
    pub live_digest: String,
    /// Changes in the order `apply` carries them out (by phase, then by resource).
    pub changes: Vec<Change>,
    /// What the manifest wants but the environment's API cannot do: steps to do by hand in
    /// Samarbeidsportalen. `apply` never reports them as done.
    pub manual_steps: Vec<ManualStep>,
    /// Why the manual steps are shown although they may have been done already: there was no
    /// base revision of the manifest to compare with (`--base`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_steps_note: Option<String>,
    /// Live resources the manifest does not list. Reported; deactivated only with `prune`.
    pub unmanaged: Vec<Unmanaged>,
    /// The expiry of every managed key (and of the keys of unmanaged clients, marked so).
    pub key_expiries: Vec<KeyExpiry>,
    /// Problems that make the plan impossible to apply as it stands.
    pub errors: Vec<PlanError>,
    /// Live resources the manifest is authoritative for (scopes, grants, clients): the base of
    /// the mass-destroy threshold.
    pub managed_resources: usize,
    /// Sides of the API that were not read because the admin token does not ask for them: what
    /// the plan cannot report there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_read: Vec<NotRead>,
}

/// A side of the self-service API a plan did not read (the manifest manages nothing there, so
/// the admin token does not ask for its scopes): its unmanaged resources are not reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotRead {
    /// `scopes` (the provider side) or `clients` (the consumer side).
    pub side: String,
    /// What was not read, what that leaves unreported, and how to have it read.
    pub note: String,
}

impl NotRead {
    /// The notes for the sides of `env` that `read` leaves out.
    pub fn for_sides(env: &str, read: crate::api::admin_scopes::Sides) -> Vec<NotRead> {
        let variable = format!(
            "MPCTL_{}_SCOPES",
            crate::api::credentials::variable_prefix(env)
        );
        let mut notes = Vec::new();
        if !read.scopes {
            notes.push(NotRead {
                side: "scopes".into(),
                note: format!(
                    "the organisation's scopes and grants were not read (the manifest manages none here, so the token does not ask for `idporten:scopes.read`): unmanaged scopes are not reported; to report them, list the scopes the admin client holds, including `idporten:scopes.read`, in `admin_scopes` of `{env}` or {variable}"
                ),
            });
        }
        if !read.clients {
            notes.push(NotRead {
                side: "clients".into(),
                note: format!(
                    "the organisation's clients and keys were not read (the manifest manages none here, so the token does not ask for `idporten:dcr.read`): unmanaged clients and their keys' expiry are not reported; to report them, list the scopes the admin client holds, including `idporten:dcr.read`, in `admin_scopes` of `{env}` or {variable}"
                ),
            });
        }
        notes
    }
}

/// What a change does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A new scope or client.
    Create,
    /// Changed fields of an existing resource.
    Update,
    /// A deactivated resource made active again (with any changed fields).
    Reactivate,
    /// A resource deactivated (the API never deletes).
    Deactivate,
    /// Access to a scope given to a consumer organisation.
    Grant,
    /// Access to a scope taken from a consumer organisation.
    Revoke,
    /// A client re-created because a field that cannot change differs: its `client_id` changes.
    Replace,
    /// A public key registered on a client.
    AddKey,
    /// A public key removed from a client.
    RemoveKey,
    /// A key registered again to move its JWK `exp` forward.
    RefreshKey,
    /// Contacts (notification points, invoice data) of an integration set.
    SetContacts,
}

impl ChangeKind {
    /// Whether this kind takes something away (and is guarded).
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            ChangeKind::Deactivate | ChangeKind::Revoke | ChangeKind::Replace
        )
    }

    /// A short verb phrase for people.
    pub fn verb(self) -> &'static str {
        match self {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Reactivate => "reactivate",
            ChangeKind::Deactivate => "deactivate",
            ChangeKind::Grant => "grant",
            ChangeKind::Revoke => "revoke",
            ChangeKind::Replace => "replace",
            ChangeKind::AddKey => "add key",
            ChangeKind::RemoveKey => "remove key",
            ChangeKind::RefreshKey => "refresh expiry of key",
            ChangeKind::SetContacts => "set contacts",
        }
    }

    /// The symbol shown before the change: `+` adds, `~` changes, `-` removes, `±` replaces.
    pub fn symbol(self) -> &'static str {
        match self {
            ChangeKind::Create | ChangeKind::Grant | ChangeKind::AddKey => "+",
            ChangeKind::Update
            | ChangeKind::Reactivate
            | ChangeKind::RefreshKey
            | ChangeKind::SetContacts => "~",
            ChangeKind::Deactivate | ChangeKind::Revoke | ChangeKind::RemoveKey => "-",
            ChangeKind::Replace => "±",
        }
    }
}

/// Which kind of resource a change is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Scope,
    Grant,
    Client,
    Key,
    /// Contacts of the provider integration (`name` is empty) or of a client (`name`).
    Contacts,
}

/// The resource a change, manual step or error is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Resource {
    pub kind: ResourceKind,
    /// Scope name (scopes, grants) or client name (clients, keys, client contacts).
    pub name: String,
    /// Grants: the consumer organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    /// Grants: the consumer organisation's name, from the manifest's `organizations` or else as
    /// the API names it. (`name` holds the scope's name, hence `consumer_name`.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_name: Option<String>,
    /// Clients, keys, contacts: the live `client_id`, when the client exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Keys: the key's `kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

impl Resource {
    pub fn scope(name: &str) -> Self {
        Self::new(ResourceKind::Scope, name)
    }

    pub fn grant(scope: &str, consumer: &OrgNo) -> Self {
        Self {
            consumer: Some(consumer.to_string()),
            ..Self::new(ResourceKind::Grant, scope)
        }
    }

    pub fn client(name: &str, client_id: Option<&str>) -> Self {
        Self {
            client_id: client_id.map(str::to_owned),
            ..Self::new(ResourceKind::Client, name)
        }
    }

    pub fn key(client: &str, client_id: Option<&str>, kid: &str) -> Self {
        Self {
            client_id: client_id.map(str::to_owned),
            kid: Some(kid.to_owned()),
            ..Self::new(ResourceKind::Key, client)
        }
    }

    pub fn contacts(client: Option<(&str, Option<&str>)>) -> Self {
        match client {
            None => Self::new(ResourceKind::Contacts, ""),
            Some((name, id)) => Self {
                client_id: id.map(str::to_owned),
                ..Self::new(ResourceKind::Contacts, name)
            },
        }
    }

    fn new(kind: ResourceKind, name: &str) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            consumer: None,
            consumer_name: None,
            client_id: None,
            kid: None,
        }
    }

    /// The consumer organisation of a grant as people read it: `942110464 (Trondheim kommune)`
    /// when its name is known, else the number.
    pub fn consumer_label(&self) -> String {
        let number = self.consumer.as_deref().unwrap_or("?");
        match &self.consumer_name {
            Some(name) => format!("{number} ({name})"),
            None => number.to_owned(),
        }
    }

    /// How people read the resource, e.g. `grant acme:orders.read → 974760673`.
    pub fn label(&self) -> String {
        match self.kind {
            ResourceKind::Scope => format!("scope {}", self.name),
            ResourceKind::Grant => format!("grant {} → {}", self.name, self.consumer_label()),
            ResourceKind::Client => match &self.client_id {
                Some(id) => format!("client {} ({id})", self.name),
                None => format!("client {}", self.name),
            },
            ResourceKind::Key => format!(
                "key {} of client {}",
                self.kid.as_deref().unwrap_or("?"),
                self.name
            ),
            ResourceKind::Contacts if self.name.is_empty() => {
                "contacts of the API-provider integration".to_owned()
            }
            ResourceKind::Contacts => format!("contacts of client {}", self.name),
        }
    }
}

/// One field that changes: its old (live) and new (desired) value. `None` means absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FieldChange {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<serde_json::Value>,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    pub kind: ChangeKind,
    pub phase: Phase,
    pub resource: Resource,
    /// The fields that differ (create: the fields set; update: old → new).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// Deactivates, revokes or replaces something.
    pub destructive: bool,
    /// Why, where it is not obvious (e.g. which immutable field forces a replacement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Drift reports only: the difference told from the live side (what changed outside mpctl)
    /// and what apply does about it, e.g. `grant of acme:a to 974760673 was removed outside
    /// mpctl; apply adds it back`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
    /// What the executor sends. Not part of the JSON document: a saved plan is applied by
    /// computing it again from the same manifest and live state (see [`saved`]).
    #[serde(skip)]
    #[schemars(skip)]
    pub action: Action,
}

impl Change {
    /// A change with no field list, reason or action yet.
    pub fn new(kind: ChangeKind, phase: Phase, resource: Resource, action: Action) -> Self {
        Self {
            kind,
            phase,
            resource,
            fields: Vec::new(),
            destructive: kind.is_destructive(),
            reason: None,
            drift: None,
            action,
        }
    }

    /// One line for people: `+ create scope acme:orders.read`.
    pub fn headline(&self) -> String {
        match self.kind {
            ChangeKind::AddKey | ChangeKind::RemoveKey | ChangeKind::RefreshKey => {
                format!(
                    "{} {} of client {}",
                    self.kind.verb(),
                    self.resource.kid.as_deref().unwrap_or("?"),
                    self.resource.name
                )
            }
            ChangeKind::Grant | ChangeKind::Revoke => format!(
                "{} {} to {}",
                self.kind.verb(),
                self.resource.name,
                self.resource.consumer_label()
            ),
            ChangeKind::SetContacts => {
                self.resource
                    .label()
                    .replacen("contacts", "set contacts", 1)
            }
            _ => format!("{} {}", self.kind.verb(), self.resource.label()),
        }
    }
}

/// A client as the executor addresses it: by live id, or by the name of a client this apply
/// creates (its id is known only once created).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientRef {
    Existing(String),
    Created(String),
}

/// The API operation behind a change.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Action {
    /// Nothing to send (e.g. a plan read back from JSON).
    #[default]
    None,
    CreateScope(ScopeState),
    /// Update (and, with `active: true`, reactivate) a scope.
    UpdateScope(ScopeState),
    DeactivateScope(String),
    Grant {
        scope: String,
        consumer: OrgNo,
    },
    Revoke {
        scope: String,
        consumer: OrgNo,
    },
    /// Create a client; its new id is remembered under its name for later actions.
    CreateClient(ClientState),
    UpdateClient {
        client: ClientRef,
        desired: ClientState,
    },
    DeactivateClient(String),
    /// Replace the client's whole key set (one call per client, however many key changes).
    PutKeys {
        client: ClientRef,
        keys: Vec<KeyState>,
    },
    /// Set contacts of the provider integration (`client: None`) or a client.
    PutContacts {
        client: Option<ClientRef>,
        contacts: Contacts,
    },
}

/// Something to do by hand in Samarbeidsportalen, because the environment has no API for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManualStep {
    pub resource: Resource,
    /// What to set.
    pub description: String,
    /// Where in the portal, menu by menu (the portal is in Norwegian).
    pub portal_path: Vec<String>,
}

/// A live resource the manifest does not list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Unmanaged {
    pub resource: Resource,
    /// Whether this plan deactivates it (`prune` is on).
    pub pruned: bool,
}

/// How close a key is to expiring.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryStatus {
    Ok,
    /// Inside the warning window.
    Expiring,
    Expired,
}

/// The two expiries of one key: the JWK `exp` the server set, and its certificate's Not After.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyExpiry {
    pub client: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub kid: String,
    /// JWK `exp` (Unix seconds); absent for a key not registered yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwk_exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwk_exp_days_left: Option<i64>,
    /// Certificate Not After (Unix seconds); absent for a key without `x5c`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_not_after: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_days_left: Option<i64>,
    /// The worse of the two.
    pub status: ExpiryStatus,
    /// False for keys of clients the manifest does not list.
    pub managed: bool,
}

/// A problem that blocks the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    pub message: String,
    /// How to fix it.
    pub help: String,
}

/// Counts of a plan's changes, for summary lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub revoke: usize,
    pub deactivate: usize,
}

impl Summary {
    /// Counts the changes of one environment.
    pub fn of(changes: &[Change]) -> Self {
        let mut s = Summary::default();
        for c in changes {
            match c.kind {
                ChangeKind::Create | ChangeKind::Grant | ChangeKind::AddKey => s.add += 1,
                ChangeKind::Update
                | ChangeKind::Reactivate
                | ChangeKind::RemoveKey
                | ChangeKind::RefreshKey
                | ChangeKind::SetContacts => s.change += 1,
                ChangeKind::Replace => s.replace += 1,
                ChangeKind::Revoke => s.revoke += 1,
                ChangeKind::Deactivate => s.deactivate += 1,
            }
        }
        s
    }

    pub fn total(&self) -> usize {
        self.add + self.change + self.replace + self.revoke + self.deactivate
    }

    /// `Plan: 3 to add, 1 to change, 0 to revoke, 2 to deactivate.`: always the same four
    /// counts, so that scripts and readers find them in one place. A replacement creates a new
    /// client and deactivates the old one, so it counts as one to add and one to deactivate
    /// (as Terraform counts a replacement as a create and a destroy).
    pub fn line(&self) -> String {
        format!(
            "Plan: {} to add, {} to change, {} to revoke, {} to deactivate.",
            self.add + self.replace,
            self.change,
            self.revoke,
            self.deactivate + self.replace
        )
    }
}

impl EnvPlan {
    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Whether live differs from the manifest in any way drift reports: changes, unmanaged
    /// resources, keys expired or inside the warning window, or differences apply would refuse
    /// to correct (the plan's errors, e.g. a grant added by hand to a `protected` scope).
    pub fn has_drift(&self) -> bool {
        self.has_changes()
            || !self.errors.is_empty()
            || !self.unmanaged.is_empty()
            || self
                .key_expiries
                .iter()
                .any(|k| k.managed && k.status != ExpiryStatus::Ok)
    }

    pub fn summary(&self) -> Summary {
        Summary::of(&self.changes)
    }
}

impl Plan {
    /// Whether any environment has changes.
    pub fn has_changes(&self) -> bool {
        self.environments.iter().any(EnvPlan::has_changes)
    }

    /// Whether any environment has errors.
    pub fn has_errors(&self) -> bool {
        self.environments.iter().any(|e| !e.errors.is_empty())
    }

    /// The summary over all environments.
    pub fn summary(&self) -> Summary {
        let mut total = Summary::default();
        for e in &self.environments {
            let s = e.summary();
            total.add += s.add;
            total.change += s.change;
            total.replace += s.replace;
            total.revoke += s.revoke;
            total.deactivate += s.deactivate;
        }
        total
    }
}

/// The JSON Schema of the plan document (`plan --format json`, saved plans), generated from
/// these types so that it cannot drift from them.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Plan)).unwrap_or(serde_json::Value::Null)
}

/// Formats Unix seconds as an RFC 3339 UTC timestamp (second precision).
pub fn format_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// Formats Unix seconds as a date (`YYYY-MM-DD`, UTC).
pub fn format_date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|_| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_matches_terraform_style() {
        let s = Summary {
            add: 3,
            change: 1,
            replace: 0,
            revoke: 0,
            deactivate: 2,
        };
        assert_eq!(
            s.line(),
            "Plan: 3 to add, 1 to change, 0 to revoke, 2 to deactivate."
        );
        let s = Summary {
            replace: 1,
            revoke: 2,
            ..s
        };
        assert_eq!(
            s.line(),
            "Plan: 4 to add, 1 to change, 2 to revoke, 3 to deactivate."
        );
    }

    #[test]
    fn schema_describes_the_plan_and_omits_actions() {
        let schema = json_schema();
        let text = schema.to_string();
        assert!(text.contains("\"mpctl plan\""), "{text}");
        assert!(text.contains("manifest_digest"));
        assert!(text.contains("key_expiries"));
        assert!(!text.contains("\"action\""));
    }

    #[test]
    fn dates_format_in_utc() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_time(86_400), "1970-01-02T00:00:00Z");
    }
}
