//! Desired × live → the plan of one environment. Pure: no I/O, no clock (the caller passes the
//! time), deterministic for the same inputs.
//!
//! Only what the manifest manages is compared: an optional field the manifest leaves unset
//! (`None` on the desired side) is never a change, so planning right after `import` or `apply`
//! shows nothing. Lists the manifest owns (a scope's grants, a client's scopes and keys) are
//! complete: live entries it does not list are removed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::{
    Action, Change, ChangeKind, ClientRef, EnvPlan, ExpiryStatus, FieldChange, KeyExpiry,
    ManualStep, Phase, PlanError, Resource, Unmanaged, guard, order, saved,
};
use crate::manifest::model::{Contacts, Settings};
use crate::manifest::orgno::OrgNo;
use crate::state::{ClientState, EnvState, KeyState, LiveEnv, ScopeState};

mod clients;
mod contacts;
mod scopes;

pub use contacts::{client_contacts_portal_path, describe_contacts, provider_contacts_portal_path};

const DAY: i64 = 86_400;

pub use crate::api::wire::MASKINPORTEN;

/// Computes the plan of one environment. `EnvPlan::env` is left empty for the caller to fill.
///
/// Without knowing the organisation, a client asking for one of the manifest's own scopes is
/// accepted when that scope is open to all or has any grant; [`diff_for_org`] checks that the
/// grant is to the organisation itself.
pub fn diff(desired: &EnvState, live: &LiveEnv, settings: &Settings, now_unix: i64) -> EnvPlan {
    diff_for_org(None, desired, live, settings, now_unix)
}

/// [`diff`], knowing which organisation the manifest acts for.
pub fn diff_for_org(
    organization: Option<&OrgNo>,
    desired: &EnvState,
    live: &LiveEnv,
    settings: &Settings,
    now_unix: i64,
) -> EnvPlan {
    let mut differ = Differ {
        organization,
        desired,
        live,
        settings,
        now: now_unix,
        plan: EnvPlan {
            live_digest: saved::live_digest(live),
            managed_resources: managed_resources(live),
            ..EnvPlan::default()
        },
        ambiguous: BTreeSet::new(),
    };
    differ.scopes();
    differ.clients();
    differ.provider_contacts();
    let mut plan = differ.plan;
    order::sort(&mut plan.changes);
    let protected = guard::protected_violations(desired, &plan);
    plan.errors.extend(protected);
    plan
}

/// The error for live clients that share the name (`live_name`: the client's, or an earlier
/// one from `renamed_from`) of the manifest's client `name`, with the way out. Such duplicates
/// come from concurrent applies (the API has no lock) or from creating by hand.
fn duplicate_clients_error(name: &str, live_name: &str, ids: &[String]) -> PlanError {
    let listed = ids.join(", ");
    let named = if name == live_name {
        String::new()
    } else {
        " (its earlier name)".to_owned()
    };
    PlanError {
        resource: Some(Resource::client(name, None)),
        message: format!(
            "{} live clients are named `{live_name}`{named}: {listed}; mpctl cannot tell which one is the manifest's client `{name}`, so it changes none of them",
            ids.len()
        ),
        help: format!(
            "pin the one to keep under the client's `client_ids` for this environment (e.g. `client_ids: {{ ENV: {} }}`), then deactivate the other{} — with `prune: true` the next apply does it, or in Samarbeidsportalen. Duplicates come from applies run at the same time: run one apply per environment at a time",
            ids[0],
            if ids.len() > 2 { "s" } else { "" }
        ),
    }
}

/// Whether a client of this integration type is one mpctl manages.
pub fn is_maskinporten(client: &ClientState) -> bool {
    client
        .integration_type
        .as_deref()
        .is_none_or(|t| t == MASKINPORTEN)
}

/// Whether a client is a self-service admin client: one holding the API's own scopes
/// (`idporten:dcr.*`, `idporten:scopes.*`), such as the one mpctl authenticates with. Such a
/// client is never reported as unmanaged nor pruned, so mpctl cannot lock itself out; its keys'
/// expiry is still reported.
pub fn is_admin_client(client: &ClientState) -> bool {
    client
        .scopes
        .iter()
        .any(|s| s.starts_with("idporten:dcr.") || s.starts_with("idporten:scopes."))
}

/// Live resources the plan is authoritative for: active scopes, their grants, and active
/// Maskinporten clients.
fn managed_resources(live: &LiveEnv) -> usize {
    let scopes = live.state.scopes.values().filter(|s| s.active);
    let scope_count: usize = scopes.map(|s| 1 + s.grants.len()).sum();
    let clients = live
        .state
        .clients
        .values()
        .filter(|c| c.active && is_maskinporten(c) && !is_admin_client(c))
        .count();
    scope_count + clients
}

/// Whether a key with `retire_after` is past it at `now`: once its day has ended (UTC), as
/// for key files ([`crate::manifest::attributes::retired_by`]).
pub fn is_retired(key: &KeyState, now_unix: i64) -> bool {
    key.retire_after
        .as_deref()
        .is_some_and(|date| crate::manifest::attributes::retired_by(date, now_unix))
}

fn value<T: Serialize>(v: &T) -> Option<serde_json::Value> {
    serde_json::to_value(v).ok()
}

fn field<T: Serialize>(name: &str, old: Option<&T>, new: Option<&T>) -> FieldChange {
    FieldChange {
        field: name.to_owned(),
        old: old.and_then(value),
        new: new.and_then(value),
    }
}

/// Pushes a change of a managed optional field: only when the manifest sets it and it differs.
fn managed<T: Serialize + PartialEq>(
    fields: &mut Vec<FieldChange>,
    name: &str,
    desired: &Option<T>,
    live: &Option<T>,
) {
    if let Some(d) = desired
        && live.as_ref() != Some(d)
    {
        fields.push(field(name, live.as_ref(), Some(d)));
    }
}

struct Differ<'a> {
    organization: Option<&'a OrgNo>,
    desired: &'a EnvState,
    live: &'a LiveEnv,
    settings: &'a Settings,
    now: i64,
    plan: EnvPlan,
    /// Live clients sharing a desired client's name, which the plan cannot choose between.
    ambiguous: BTreeSet<String>,
}

impl Differ<'_> {
    fn push(&mut self, change: Change) {
        self.plan.changes.push(change);
    }
}

#[cfg(test)]
mod tests;
