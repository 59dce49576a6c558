//! The state of one environment in the shape the diff compares: what the manifest wants
//! (resolved for the environment) and what the API has (fetched). Both sides use the same types
//! so that comparing them is field by field; fields only one side knows are `Option`s.

pub mod resolve;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use crate::manifest::keys::KeyState;
use crate::manifest::model::{Contacts, ScopeAttributes};
use crate::manifest::orgno::OrgNo;

/// One environment's resources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvState {
    /// Scopes by full name (`prefix:subscope`). Live: the organisation's own scopes, including
    /// deactivated ones (`active: false`).
    pub scopes: BTreeMap<String, ScopeState>,
    /// Clients. Desired: keyed by `client_name`. Live: keyed by `client_id`, including
    /// deactivated ones.
    pub clients: BTreeMap<String, ClientState>,
    /// Mercantile data of the organisation's API-provider integration. `None` when the
    /// environment cannot read it (no API for it) or the manifest does not set it.
    pub contacts: Option<Contacts>,
}

/// A scope with its grants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScopeState {
    /// `prefix:subscope`.
    pub name: String,
    pub description: String,
    /// The optional API fields. Desired: unset means "not managed"; live: unset means the API
    /// did not send it (or sent a value mpctl does not know).
    #[serde(flatten)]
    pub attributes: ScopeAttributes,
    /// Desired: always true. Live: false for a deactivated scope.
    pub active: bool,
    /// Consumer organisations with an `APPROVED` grant.
    pub grants: BTreeSet<OrgNo>,
    /// Desired only: deactivation and revocation are refused.
    pub protected: bool,
}

/// A Maskinporten client with its keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientState {
    /// Live: always set. Desired: set when the manifest pins the client to a live id.
    pub client_id: Option<String>,
    /// `client_name`.
    pub name: String,
    pub description: String,
    pub scopes: BTreeSet<String>,
    /// Keys by `kid`.
    pub keys: BTreeMap<String, KeyState>,
    pub access_token_lifetime: Option<u32>,
    /// Desired: always true. Live: false for a deactivated client.
    pub active: bool,
    /// The client's own mercantile data (see [`EnvState::contacts`] for when it is `None`).
    pub contacts: Option<Contacts>,
    /// Desired only: earlier names under which a live client is renamed rather than replaced.
    pub renamed_from: Vec<String>,
    /// Desired only: deactivation and replacement are refused.
    pub protected: bool,
    /// Live only: the integration type (`maskinporten`); a client of another type is never
    /// managed.
    pub integration_type: Option<String>,
}

/// What the live environment can and cannot do, fetched alongside its state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveEnv {
    pub state: EnvState,
    /// Scopes the organisation may give its clients: those granted to it (from any provider,
    /// including itself) and those open to all.
    pub accessible_scopes: BTreeSet<String>,
    /// Whether the environment has an API for contacts/invoice data (only the emulator's
    /// extension does); without it they are manual steps.
    pub contacts_api: bool,
    /// Names of consumer organisations by number, as the API's grants name them
    /// (`consumer_organization_name`). Only shown to people: not part of the live state a saved
    /// plan is bound to, so a renamed organisation does not make a plan stale.
    #[serde(skip)]
    pub org_names: BTreeMap<String, String>,
}
