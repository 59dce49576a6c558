//! The self-service API as mpctl uses it: the operations the executor needs, independent of
//! the wire. [`SelfService`] is implemented by the HTTP client (for Digdir's environments and
//! the emulator alike) and by in-memory fakes in tests of the executor.

use std::collections::BTreeSet;
use std::future::Future;

pub mod admin_scopes;
pub mod auth;
pub mod client;
pub mod connect;
pub mod credentials;
mod diagnostic;
pub mod endpoints;
pub mod metadata;
pub mod retry;
pub mod throttle;
mod transport;
pub use transport::requests_sent;
pub mod wire;

pub use client::HttpClient;
pub use connect::{Access, Connection, connect};

use crate::manifest::model::Contacts;
use crate::manifest::orgno::OrgNo;
use crate::state::{ClientState, KeyState, LiveEnv, ScopeState};

/// Which integration a set of contacts belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactTarget {
    /// The organisation's API-provider integration.
    Provider,
    /// A consumer client, by `client_id`.
    Client(String),
}

/// An error from the API, naming what was attempted and what the server said.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error status.
    #[error("{operation}: {status} {message}")]
    Status {
        operation: String,
        status: u16,
        message: String,
    },
    /// The request did not get an answer (connect, timeout, dropped connection).
    #[error("{operation}: {message}")]
    Transport { operation: String, message: String },
    /// Authentication failed (token endpoint or credentials).
    #[error("authentication: {0}")]
    Auth(String),
    /// The environment has no API for this operation (e.g. contacts on Digdir's environments).
    #[error("{0}: the environment has no API for this; do it in Samarbeidsportalen")]
    Unsupported(String),
    /// The request was not sent because it would not mean what was intended (e.g. an invalid
    /// organisation number in a path).
    #[error("{operation}: not sent: {message}")]
    Refused { operation: String, message: String },
}

/// The operations of the self-service API that plan and apply use.
///
/// Writes take the desired state of one resource; the implementation maps it onto the wire.
/// Every method is a single logical operation: retries and re-reads after an ambiguous failure
/// are the implementation's business.
pub trait SelfService: Send + Sync {
    /// Reads everything plan needs about the environment, with the fewest requests the API
    /// allows: the organisation's scopes (with inactive ones) and their grants, its clients and
    /// their keys, and the scopes it may use.
    fn fetch(&self) -> impl Future<Output = Result<LiveEnv, ApiError>> + Send;

    /// The sides of the API [`SelfService::fetch`] reads; the live state of the others is left
    /// empty because the admin token may not read them.
    fn sides_read(&self) -> admin_scopes::Sides {
        admin_scopes::Sides::BOTH
    }

    /// The admin scopes the token carries, where they are restricted (`None`: anything goes).
    fn token_scopes(&self) -> Option<admin_scopes::AdminScopes> {
        None
    }

    fn create_scope(&self, scope: &ScopeState)
    -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Updates a scope's fields; with `active: true` this also reactivates a deactivated scope.
    fn update_scope(&self, scope: &ScopeState)
    -> impl Future<Output = Result<(), ApiError>> + Send;
    fn deactivate_scope(&self, name: &str) -> impl Future<Output = Result<(), ApiError>> + Send;

    fn grant(
        &self,
        scope: &str,
        consumer: &OrgNo,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn revoke(
        &self,
        scope: &str,
        consumer: &OrgNo,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// The names of the environment's active Maskinporten clients, read now: apply reads them
    /// again just before creating clients, and never creates one whose name is live.
    fn live_client_names(&self) -> impl Future<Output = Result<BTreeSet<String>, ApiError>> + Send;

    /// Creates a client and returns its generated `client_id`.
    fn create_client(
        &self,
        client: &ClientState,
    ) -> impl Future<Output = Result<String, ApiError>> + Send;
    /// Updates a client's fields (name, description, scopes, lifetimes); `active: true`
    /// reactivates it.
    fn update_client(
        &self,
        client_id: &str,
        client: &ClientState,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn deactivate_client(
        &self,
        client_id: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Replaces the client's whole key set; an empty set deletes all keys.
    fn put_keys(
        &self,
        client_id: &str,
        keys: &[KeyState],
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Sets an integration's contacts, where the environment has an API for them
    /// ([`ApiError::Unsupported`] otherwise).
    fn put_contacts(
        &self,
        target: &ContactTarget,
        contacts: &Contacts,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}
