//! An in-memory [`SelfService`] that behaves like the API in the ways the engine depends on
//! (409 on re-creating a scope, keys get a server-set `exp`, at most 5 keys, no contacts API
//! unless enabled), records every call, flags ordering violations, and fails on request. Used by
//! the engine's unit tests, and by integration tests (to drive the executor without a network)
//! through the `testkit` feature; not in the shipped library.

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::api::{ApiError, ContactTarget, SelfService};
use crate::manifest::model::Contacts;
use crate::manifest::orgno::OrgNo;
use crate::state::{ClientState, KeyState, LiveEnv, ScopeState};

/// Seconds a registered key stays valid (the API's default: one year).
pub const KEY_LIFETIME: i64 = 365 * 86_400;

/// The in-memory API.
#[derive(Debug)]
pub struct FakeService {
    /// The organisation the fake acts as (for grants to itself).
    pub organization: OrgNo,
    /// The clock, for key `exp`.
    pub now: i64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    live: LiveEnv,
    /// Scopes from other providers the organisation may use.
    external: BTreeSet<String>,
    calls: Vec<String>,
    violations: Vec<String>,
    /// Fail the call whose description starts with this, once.
    fail: Option<String>,
    next_id: u64,
}

fn status(operation: &str, status: u16, message: &str) -> ApiError {
    ApiError::Status {
        operation: operation.to_owned(),
        status,
        message: message.to_owned(),
    }
}

impl FakeService {
    /// A fake holding `live` (its `accessible_scopes` are taken as other providers' grants).
    pub fn new(organization: OrgNo, live: LiveEnv, now: i64) -> Self {
        let external = live.accessible_scopes.clone();
        Self {
            organization,
            now,
            inner: Mutex::new(Inner {
                live,
                external,
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every call so far, e.g. `grant acme:a 974760673`, in order.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Ordering rules broken so far (a scope deactivated with grants, a client given a scope
    /// its organisation may not use).
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    /// Makes the next call whose description starts with `prefix` fail with a 503.
    pub fn fail_next(&self, prefix: &str) {
        self.lock().fail = Some(prefix.to_owned());
    }

    /// The current live state.
    pub fn snapshot(&self) -> LiveEnv {
        let inner = self.lock();
        Self::with_access(&inner, &self.organization)
    }

    fn with_access(inner: &Inner, org: &OrgNo) -> LiveEnv {
        let mut live = inner.live.clone();
        live.accessible_scopes = Self::accessible(inner, org);
        live
    }

    fn accessible(inner: &Inner, org: &OrgNo) -> BTreeSet<String> {
        let mut set = inner.external.clone();
        for (name, scope) in &inner.live.state.scopes {
            if scope.grants.contains(org) || scope.attributes.accessible_for_all == Some(true) {
                set.insert(name.clone());
            }
        }
        set
    }

    /// Records a call; fails it if asked to.
    fn call(&self, description: String) -> Result<std::sync::MutexGuard<'_, Inner>, ApiError> {
        let mut inner = self.lock();
        inner.calls.push(description.clone());
        if inner
            .fail
            .as_deref()
            .is_some_and(|p| description.starts_with(p))
        {
            inner.fail = None;
            return Err(status(&description, 503, "injected fault"));
        }
        Ok(inner)
    }

    fn check_scopes(&self, inner: &mut Inner, client: &ClientState) {
        let accessible = Self::accessible(inner, &self.organization);
        for scope in &client.scopes {
            if !accessible.contains(scope) {
                inner.violations.push(format!(
                    "client {} given scope {scope} before it was accessible",
                    client.name
                ));
            }
        }
    }
}

impl SelfService for FakeService {
    async fn fetch(&self) -> Result<LiveEnv, ApiError> {
        let inner = self.call("fetch".into())?;
        Ok(Self::with_access(&inner, &self.organization))
    }

    async fn create_scope(&self, scope: &ScopeState) -> Result<(), ApiError> {
        let mut inner = self.call(format!("create_scope {}", scope.name))?;
        if inner.live.state.scopes.contains_key(&scope.name) {
            return Err(status("create scope", 409, "scope already exists"));
        }
        let mut stored = scope.clone();
        stored.active = true;
        stored.grants.clear();
        stored.protected = false;
        inner.live.state.scopes.insert(scope.name.clone(), stored);
        Ok(())
    }

    async fn update_scope(&self, scope: &ScopeState) -> Result<(), ApiError> {
        let mut inner = self.call(format!("update_scope {}", scope.name))?;
        let Some(existing) = inner.live.state.scopes.get_mut(&scope.name) else {
            return Err(status("update scope", 404, "no such scope"));
        };
        let grants = std::mem::take(&mut existing.grants);
        *existing = ScopeState {
            grants,
            active: scope.active,
            protected: false,
            ..scope.clone()
        };
        Ok(())
    }

    async fn deactivate_scope(&self, name: &str) -> Result<(), ApiError> {
        let mut inner = self.call(format!("deactivate_scope {name}"))?;
        let Some(existing) = inner.live.state.scopes.get_mut(name) else {
            return Err(status("deactivate scope", 404, "no such scope"));
        };
        existing.active = false;
        if !existing.grants.is_empty() {
            let grants = existing.grants.len();
            inner
                .violations
                .push(format!("scope {name} deactivated with {grants} grants"));
        }
        Ok(())
    }

    async fn grant(&self, scope: &str, consumer: &OrgNo) -> Result<(), ApiError> {
        let mut inner = self.call(format!("grant {scope} {consumer}"))?;
        let Some(existing) = inner.live.state.scopes.get_mut(scope) else {
            return Err(status("grant", 404, "no such scope"));
        };
        existing.grants.insert(consumer.clone());
        Ok(())
    }

    async fn revoke(&self, scope: &str, consumer: &OrgNo) -> Result<(), ApiError> {
        let mut inner = self.call(format!("revoke {scope} {consumer}"))?;
        let Some(existing) = inner.live.state.scopes.get_mut(scope) else {
            return Err(status("revoke", 404, "no such scope"));
        };
        existing.grants.remove(consumer);
        if consumer == &self.organization {
            let holders: Vec<String> = inner
                .live
                .state
                .clients
                .values()
                .filter(|c| c.active && c.scopes.contains(scope))
                .map(|c| c.name.clone())
                .collect();
            for holder in holders {
                inner.violations.push(format!(
                    "grant of {scope} revoked while client {holder} still holds it"
                ));
            }
        }
        Ok(())
    }

    async fn live_client_names(&self) -> Result<BTreeSet<String>, ApiError> {
        let inner = self.call("list_clients".into())?;
        Ok(inner
            .live
            .state
            .clients
            .values()
            .filter(|c| c.active && crate::plan::diff::is_maskinporten(c))
            .map(|c| c.name.clone())
            .collect())
    }

    async fn create_client(&self, client: &ClientState) -> Result<String, ApiError> {
        let mut inner = self.call(format!("create_client {}", client.name))?;
        self.check_scopes(&mut inner, client);
        inner.next_id += 1;
        let id = format!("00000000-0000-4000-8000-{:012}", inner.next_id);
        let stored = ClientState {
            client_id: Some(id.clone()),
            active: true,
            keys: Default::default(),
            contacts: None,
            renamed_from: Vec::new(),
            protected: false,
            integration_type: Some("maskinporten".into()),
            ..client.clone()
        };
        inner.live.state.clients.insert(id.clone(), stored);
        Ok(id)
    }

    async fn update_client(&self, client_id: &str, client: &ClientState) -> Result<(), ApiError> {
        let mut inner = self.call(format!("update_client {client_id} {}", client.name))?;
        self.check_scopes(&mut inner, client);
        let Some(existing) = inner.live.state.clients.get_mut(client_id) else {
            return Err(status("update client", 404, "no such client"));
        };
        existing.name = client.name.clone();
        existing.description = client.description.clone();
        existing.scopes = client.scopes.clone();
        existing.access_token_lifetime = client.access_token_lifetime;
        existing.active = client.active;
        Ok(())
    }

    async fn deactivate_client(&self, client_id: &str) -> Result<(), ApiError> {
        let mut inner = self.call(format!("deactivate_client {client_id}"))?;
        let Some(existing) = inner.live.state.clients.get_mut(client_id) else {
            return Err(status("deactivate client", 404, "no such client"));
        };
        existing.active = false;
        Ok(())
    }

    async fn put_keys(&self, client_id: &str, keys: &[KeyState]) -> Result<(), ApiError> {
        let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
        let now = self.now;
        let mut inner = self.call(format!("put_keys {client_id} [{}]", kids.join(",")))?;
        if keys.len() > 5 {
            return Err(status(
                "put keys",
                409,
                "the client already has the maximum number of registered keys: 5",
            ));
        }
        let Some(existing) = inner.live.state.clients.get_mut(client_id) else {
            return Err(status("put keys", 404, "no such client"));
        };
        existing.keys = keys
            .iter()
            .map(|k| {
                let mut stored = k.clone();
                stored.exp = Some(now + KEY_LIFETIME);
                stored.source = None;
                stored.retire_after = None;
                (k.kid.clone(), stored)
            })
            .collect();
        Ok(())
    }

    async fn put_contacts(
        &self,
        target: &ContactTarget,
        contacts: &Contacts,
    ) -> Result<(), ApiError> {
        let label = match target {
            ContactTarget::Provider => "provider".to_owned(),
            ContactTarget::Client(id) => id.clone(),
        };
        let mut inner = self.call(format!("put_contacts {label}"))?;
        if !inner.live.contacts_api {
            return Err(ApiError::Unsupported("contacts".into()));
        }
        match target {
            ContactTarget::Provider => inner.live.state.contacts = Some(contacts.clone()),
            ContactTarget::Client(id) => match inner.live.state.clients.get_mut(id) {
                Some(c) => c.contacts = Some(contacts.clone()),
                None => return Err(status("put contacts", 404, "no such client")),
            },
        }
        Ok(())
    }
}
