//! Changing an environment: scopes, grants, clients, keys and contacts.

use std::collections::BTreeSet;

use reqwest::Method;
use serde::Serialize;

use super::{Call, Failed, HttpClient, check_scope_name, client_segment, consumer_segment};
use crate::api::admin_scopes::{AdminScopes, Sides};
use crate::api::wire::{self, ClientRequest, ClientResponse, Jwks, ScopeRequest};
use crate::api::{ApiError, ContactTarget, SelfService};
use crate::manifest::model::Contacts;
use crate::manifest::orgno::OrgNo;
use crate::state::{ClientState, KeyState, LiveEnv, ScopeState};

impl HttpClient {
    /// Grants or revokes a consumer's access to a scope. `done_on_retry` is the status a retry
    /// gets when the first attempt took effect but its answer was lost; it counts as success.
    async fn change_access(
        &self,
        method: Method,
        done_on_retry: u16,
        scope: &str,
        consumer: &OrgNo,
        operation: String,
    ) -> Result<(), ApiError> {
        check_scope_name(scope, &operation)?;
        let org = consumer_segment(consumer, &operation)?;
        let call = Call {
            method,
            path: format!("/scopes/access/{org}"),
            query: vec![("scope", scope)],
            body: None,
            idempotent: true,
            operation,
        };
        match self.send(&call).await {
            Ok(_) => Ok(()),
            Err(Failed {
                status: Some(status),
                attempts,
                ..
            }) if status == done_on_retry && attempts > 1 => Ok(()),
            Err(f) => Err(self.error(&call.operation, f)),
        }
    }

    /// Sends a create, which is not idempotent: when its outcome is unknown, `exists` reads
    /// whether it happened (what it finds stands for the answer), and only when it did not is
    /// the create sent again. `accept` reads a success's answer; `missing` ends the message
    /// when no attempt is answered and nothing is found.
    async fn create_once<T, Found>(
        &self,
        path: &str,
        body: serde_json::Value,
        operation: &str,
        accept: impl Fn(String) -> Result<T, ApiError>,
        exists: impl Fn() -> Found,
        missing: &str,
    ) -> Result<T, ApiError>
    where
        Found: Future<Output = Result<Option<T>, ApiError>>,
    {
        for _round in 0..self.config.retry.max_attempts.max(1) {
            let call = Call {
                method: Method::POST,
                path: path.to_owned(),
                query: Vec::new(),
                body: Some(body.clone()),
                idempotent: false,
                operation: operation.to_owned(),
            };
            match self.send(&call).await {
                Ok(answer) => return accept(answer),
                Err(f) if f.ambiguous => {
                    if let Some(found) = exists().await? {
                        return Ok(found);
                    }
                }
                Err(f) => return Err(self.error(operation, f)),
            }
        }
        Err(ApiError::Transport {
            operation: format!("{}: {operation}", self.config.env),
            message: format!("no answer after repeated attempts, and {missing}"),
        })
    }

    /// Creates a client, or finds out that an earlier attempt whose answer was lost did.
    async fn create_client_once(&self, client: &ClientState) -> Result<String, ApiError> {
        let operation = format!("create client {}", client.name);
        let body = serde_json::to_value(ClientRequest::for_create(client))
            .map_err(|e| self.refused(&operation, &e.to_string()))?;
        self.create_once(
            "/clients",
            body,
            &operation,
            |answer| {
                let created: ClientResponse =
                    serde_json::from_str(&answer).map_err(|e| ApiError::Status {
                        operation: format!("{}: {operation}", self.config.env),
                        status: 200,
                        message: format!("the answer is not a client ({e})"),
                    })?;
                created.client_id.ok_or_else(|| ApiError::Status {
                    operation: format!("{}: {operation}", self.config.env),
                    status: 200,
                    message: "the answer has no client_id".into(),
                })
            },
            || async {
                tracing::warn!(
                    env = self.config.env.as_str(),
                    client = client.name.as_str(),
                    "the outcome of creating the client is unknown; reading the client list to find out"
                );
                self.find_client_by_name(&client.name).await
            },
            "the client does not exist",
        )
        .await
    }
}

impl SelfService for HttpClient {
    async fn fetch(&self) -> Result<LiveEnv, ApiError> {
        self.fetch_live().await
    }

    fn sides_read(&self) -> Sides {
        self.config.sides
    }

    fn token_scopes(&self) -> Option<AdminScopes> {
        Some(self.config.scopes)
    }

    async fn create_scope(&self, scope: &ScopeState) -> Result<(), ApiError> {
        let operation = format!("create scope {}", scope.name);
        let request = ScopeRequest::from_state(scope, false)
            .ok_or_else(|| self.refused(&operation, "the name is not `prefix:subscope`"))?;
        let body =
            serde_json::to_value(&request).map_err(|e| self.refused(&operation, &e.to_string()))?;
        self.create_once(
            "/scopes",
            body,
            &operation,
            |_| Ok(()),
            || async {
                tracing::warn!(
                    env = self.config.env.as_str(),
                    scope = scope.name.as_str(),
                    "the outcome of creating the scope is unknown; reading it to find out"
                );
                Ok(self.get_scope(&scope.name).await?.map(|_| ()))
            },
            "the scope does not exist",
        )
        .await
    }

    async fn update_scope(&self, scope: &ScopeState) -> Result<(), ApiError> {
        let operation = format!("update scope {}", scope.name);
        check_scope_name(&scope.name, &operation)?;
        let request = ScopeRequest::from_state(scope, true)
            .ok_or_else(|| self.refused(&operation, "the name is not `prefix:subscope`"))?;
        let changes =
            serde_json::to_value(&request).map_err(|e| self.refused(&operation, &e.to_string()))?;
        // Read-modify-write: whether PUT replaces the scope or merges the fields sent is not
        // documented, so the whole scope as read goes back with the changes over it, and a
        // field the manifest leaves alone (or mpctl does not know) is kept either way.
        let live = self.scope_as_read(&scope.name).await?;
        let body = wire::scope_update_body(live, changes);
        self.unit(Call {
            method: Method::PUT,
            path: "/scopes".into(),
            query: vec![("scope", &scope.name)],
            body: Some(body),
            idempotent: true,
            operation,
        })
        .await?;
        self.live_scopes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&scope.name);
        Ok(())
    }

    async fn deactivate_scope(&self, name: &str) -> Result<(), ApiError> {
        let operation = format!("deactivate scope {name}");
        check_scope_name(name, &operation)?;
        self.unit(Call {
            method: Method::DELETE,
            path: "/scopes".into(),
            query: vec![("scope", name)],
            body: None,
            idempotent: true,
            operation,
        })
        .await
    }

    async fn grant(&self, scope: &str, consumer: &OrgNo) -> Result<(), ApiError> {
        let operation = format!("grant {consumer} access to scope {scope}");
        // A repeated grant whose first answer was lost finds it already there (409).
        self.change_access(Method::PUT, 409, scope, consumer, operation)
            .await
    }

    async fn revoke(&self, scope: &str, consumer: &OrgNo) -> Result<(), ApiError> {
        let operation = format!("revoke {consumer}'s access to scope {scope}");
        // A repeated revoke whose first answer was lost finds it already gone (404).
        self.change_access(Method::DELETE, 404, scope, consumer, operation)
            .await
    }

    async fn live_client_names(&self) -> Result<BTreeSet<String>, ApiError> {
        let clients = self.list_clients().await?;
        Ok(clients
            .into_iter()
            .filter(|c| c.active != Some(false))
            .filter(|c| {
                c.integration_type
                    .as_deref()
                    .is_none_or(|t| t == crate::api::wire::MASKINPORTEN)
            })
            .filter_map(|c| c.client_name)
            .collect())
    }

    /// Creates the client and registers its keys (when it has any).
    async fn create_client(&self, client: &ClientState) -> Result<String, ApiError> {
        let id = self.create_client_once(client).await?;
        if !client.keys.is_empty() {
            let keys: Vec<KeyState> = client.keys.values().cloned().collect();
            self.put_keys(&id, &keys).await?;
        }
        Ok(id)
    }

    async fn update_client(&self, client_id: &str, client: &ClientState) -> Result<(), ApiError> {
        let operation = format!("update client {} ({client_id})", client.name);
        let segment = client_segment(client_id, &operation)?;
        let cached = self
            .live_clients
            .lock()
            .ok()
            .and_then(|cache| cache.get(client_id).cloned());
        // The API wants the object as read: read it when it was not read with the plan.
        let live = match cached {
            Some(live) => Some(live),
            None => self.read_client(client_id).await?,
        };
        let reactivate = live.as_ref().is_some_and(|l| l.active == Some(false)) && client.active;
        let body = serde_json::to_value(ClientRequest::merged_onto(
            client_id,
            client,
            live.as_ref(),
            reactivate,
        ))
        .map_err(|e| self.refused(&operation, &e.to_string()))?;
        self.unit(Call {
            method: Method::PUT,
            path: format!("/clients/{segment}"),
            query: Vec::new(),
            body: Some(body),
            idempotent: true,
            operation: operation.clone(),
        })
        .await?;
        if let Ok(mut cache) = self.live_clients.lock() {
            cache.remove(client_id);
        }
        if reactivate {
            // Whether the API reactivates through PUT is known from one production client
            // only: read back, and say so plainly if it did not.
            let after = self.read_client(client_id).await?;
            if after.and_then(|c| c.active) == Some(false) {
                return Err(ApiError::Status {
                    operation: format!("{}: {operation}", self.config.env),
                    status: 200,
                    message: "the service accepted the update but the client is still deactivated: it did not reactivate it. Reactivate the client in Samarbeidsportalen, or remove its `client_ids` pin to create a new one".into(),
                });
            }
        }
        Ok(())
    }

    async fn deactivate_client(&self, client_id: &str) -> Result<(), ApiError> {
        let operation = format!("deactivate client {client_id}");
        let segment = client_segment(client_id, &operation)?;
        self.unit(Call {
            method: Method::DELETE,
            path: format!("/clients/{segment}"),
            query: Vec::new(),
            body: None,
            idempotent: true,
            operation,
        })
        .await
    }

    async fn put_keys(&self, client_id: &str, keys: &[KeyState]) -> Result<(), ApiError> {
        let operation = format!("register keys of client {client_id}");
        let segment = client_segment(client_id, &operation)?;
        let path = format!("/clients/{segment}/jwks");
        if keys.is_empty() {
            let call = Call {
                method: Method::DELETE,
                path,
                query: Vec::new(),
                body: None,
                idempotent: true,
                operation: format!("delete keys of client {client_id}"),
            };
            return match self.send(&call).await {
                Ok(_) => Ok(()),
                Err(Failed {
                    status: Some(404),
                    attempts,
                    ..
                }) if attempts > 1 => Ok(()),
                Err(f) => Err(self.error(&call.operation, f)),
            };
        }
        let body = serde_json::to_value(Jwks::from_keys(keys))
            .map_err(|e| self.refused(&operation, &e.to_string()))?;
        self.unit(Call {
            method: Method::POST,
            path,
            query: Vec::new(),
            body: Some(body),
            // The whole set is replaced: posting it twice ends the same.
            idempotent: true,
            operation,
        })
        .await
    }

    async fn put_contacts(
        &self,
        target: &ContactTarget,
        contacts: &Contacts,
    ) -> Result<(), ApiError> {
        let (path, operation) = match target {
            ContactTarget::Provider => (
                "/extensions/contacts".to_owned(),
                "set the API provider's contacts".to_owned(),
            ),
            ContactTarget::Client(id) => {
                let operation = format!("set contacts of client {id}");
                (
                    format!(
                        "/extensions/clients/{}/contacts",
                        client_segment(id, &operation)?
                    ),
                    operation,
                )
            }
        };
        if !self.contacts_api().await? {
            return Err(ApiError::Unsupported(format!(
                "{}: {operation}",
                self.config.env
            )));
        }
        let body = serde_json::to_value(ContactsWire::from(contacts))
            .map_err(|e| self.refused(&operation, &e.to_string()))?;
        self.unit(Call {
            method: Method::PUT,
            path,
            query: Vec::new(),
            body: Some(body),
            idempotent: true,
            operation,
        })
        .await
    }
}

/// The contacts extension's body: `invoice` is always present (`null` when unset), as the
/// extension's contract has it.
#[derive(Serialize)]
struct ContactsWire<'a> {
    notifications: &'a [String],
    invoice: Option<&'a crate::manifest::model::Invoice>,
}

impl<'a> From<&'a Contacts> for ContactsWire<'a> {
    fn from(c: &'a Contacts) -> Self {
        Self {
            notifications: &c.notifications,
            invoice: c.invoice.as_ref(),
        }
    }
}
