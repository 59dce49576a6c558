//! [`HttpClient`]: the self-service API over HTTP, for Digdir's environments and the emulator
//! alike.
//!
//! Reading an environment takes the fewest requests the API allows: the scope and client lists
//! (plus what the organisation may use), then one request per scope for its grants and one per
//! active client for its keys, all in flight together up to the configured concurrency.
//! Writes map one logical change onto the wire; a create whose outcome is unknown (the
//! connection dropped, or a 5xx after the request was sent) is never repeated blindly: the
//! client re-reads to see whether it happened.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{StreamExt, TryStreamExt, stream};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::admin_scopes::{AdminScopes, Sides};
use super::auth::{AccessToken, TokenSource};
use super::retry::RetryPolicy;
use super::throttle::Throttle;
use super::transport::{self, Sent};
use super::wire::{
    self, ClientRequest, ClientResponse, ContactsResponse, GrantResponse, Jwks, ScopeRequest,
    ScopeResponse,
};
use super::{ApiError, ContactTarget, SelfService};
use crate::manifest::model::Contacts;
use crate::manifest::orgno::OrgNo;
use crate::state::{ClientState, EnvState, KeyState, LiveEnv, ScopeState};

/// Characters of a path segment sent as they are; everything else is percent-encoded.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// How an [`HttpClient`] talks to its environment.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The environment's name, used in every error message.
    pub env: String,
    /// Base URL of the self-service API (`…/api/v1`, no trailing slash).
    pub api_url: String,
    /// Requests in flight at once, at most: reading, and all of an apply's writes together
    /// (fewer while the server rate-limits, see [`super::throttle`]).
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// Whether to look for the emulator's contacts extension (never on Digdir's environments,
    /// which have no such API: asking would only cost a request).
    pub probe_contacts: bool,
    /// The sides of the API reading takes in (the token may lack the scopes of the others).
    pub sides: Sides,
    /// The admin scopes the token asks for.
    pub scopes: AdminScopes,
}

/// The self-service API of one environment over HTTP.
pub struct HttpClient {
    config: ClientConfig,
    http: reqwest::Client,
    tokens: TokenSource,
    requests: AtomicU64,
    throttle: Throttle,
    contacts_api: tokio::sync::OnceCell<bool>,
    /// Clients as last read, for updates that must send the object as read.
    live_clients: Mutex<HashMap<String, ClientResponse>>,
    /// Scopes as last read, by name, as the server sent them (fields mpctl does not model
    /// included): an update sends the whole object with the changes over it.
    live_scopes: Mutex<HashMap<String, serde_json::Map<String, serde_json::Value>>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("config", &self.config)
            .field("tokens", &self.tokens)
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

/// A request to the API, described once for sending, tracing and error messages.
struct Call<'a> {
    method: Method,
    /// Path below the API base, already encoded (e.g. `/clients/abc/jwks`).
    path: String,
    query: Vec<(&'a str, &'a str)>,
    body: Option<serde_json::Value>,
    idempotent: bool,
    /// What is being done, for errors: e.g. `create scope acme:orders.read`.
    operation: String,
}

/// An answer that was not a success.
struct Failed {
    status: Option<u16>,
    message: String,
    ambiguous: bool,
    attempts: u32,
}

impl HttpClient {
    /// A client for `config`'s environment that authenticates through `tokens`.
    pub fn new(config: ClientConfig, http: reqwest::Client, tokens: TokenSource) -> Self {
        Self {
            throttle: Throttle::new(config.concurrency),
            config,
            http,
            tokens,
            requests: AtomicU64::new(0),
            contacts_api: tokio::sync::OnceCell::new(),
            live_clients: Mutex::new(HashMap::new()),
            live_scopes: Mutex::new(HashMap::new()),
        }
    }

    /// The environment's name.
    pub fn env(&self) -> &str {
        &self.config.env
    }

    /// Self-service API requests sent so far, retries included (token requests are counted
    /// apart: [`HttpClient::token_request_count`]).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The token endpoint, the grants' audience and the Digdir environment of this client's
    /// environment (for `mpctl token`, which gets an integration's token from the same place).
    pub fn token_endpoint(&self) -> (&str, &str, Option<super::endpoints::DigdirEnv>) {
        self.tokens.endpoint()
    }

    /// Requests the server refused for rate limiting so far (429, or 503 with `Retry-After`);
    /// they are included in [`HttpClient::request_count`].
    pub fn throttled_count(&self) -> u64 {
        self.throttle.refusals()
    }

    /// Requests allowed in flight now (the configured concurrency, less while rate-limited).
    pub fn current_concurrency(&self) -> usize {
        self.throttle.limit()
    }

    /// Token requests sent so far.
    pub fn token_request_count(&self) -> u64 {
        self.tokens.request_count()
    }

    /// A valid access token (cached or new).
    pub async fn token(&self) -> Result<AccessToken, ApiError> {
        self.tokens.token().await
    }

    /// Gets a token and checks that it acts for `expected`: the organisation of every
    /// self-service call is the token's, so a mismatch would read or change another
    /// organisation's configuration.
    pub async fn check_organization(&self, expected: &OrgNo) -> Result<(), ApiError> {
        let token = self.tokens.token().await?;
        match &token.organization {
            Some(org) if org == expected => Ok(()),
            Some(org) => Err(ApiError::Auth(format!(
                "{}: the credentials act for organisation {org}, but the manifest is for {expected}. \
                 Nothing was read or changed. Use the credentials of {expected} (Samarbeidsportalen ties \
                 access to the organisation of the certificate or client; ask servicedesk@digdir.no if \
                 the portal shows another organisation's integrations)",
                self.config.env
            ))),
            None => Err(ApiError::Auth(format!(
                "{}: the access token does not name its organisation (no `consumer` claim), so it \
                 cannot be checked against the manifest's {expected}; nothing was read or changed",
                self.config.env
            ))),
        }
    }

    /// Sends one call, authenticating it; a 401 renews the token once.
    async fn send(&self, call: &Call<'_>) -> Result<String, Failed> {
        let url = format!("{}{}", self.config.api_url, call.path);
        let mut renewed = false;
        loop {
            let token = self.tokens.token().await.map_err(|e| Failed {
                status: None,
                message: match e {
                    ApiError::Auth(message) => message,
                    other => other.to_string(),
                },
                ambiguous: false,
                attempts: 0,
            })?;
            let bearer = token.bearer();
            let shown = shown_target(call);
            let sent = transport::send_throttled(
                &self.config.retry,
                Some(&self.throttle),
                call.idempotent,
                call.method.as_str(),
                &shown,
                || {
                    self.requests.fetch_add(1, Ordering::Relaxed);
                    let mut request = self
                        .http
                        .request(call.method.clone(), &url)
                        .header(reqwest::header::AUTHORIZATION, &bearer)
                        .header(reqwest::header::ACCEPT, "application/json");
                    if !call.query.is_empty() {
                        request = request.query(&call.query);
                    }
                    if let Some(body) = &call.body {
                        request = request.json(body);
                    }
                    request
                },
            )
            .await;
            return match sent {
                Sent::Ok { body, .. } => Ok(body),
                Sent::Status { status: 401, .. } if !renewed => {
                    renewed = true;
                    self.tokens.invalidate().await;
                    continue;
                }
                Sent::Status {
                    status,
                    body,
                    ambiguous,
                    attempts,
                } => Err(Failed {
                    status: Some(status),
                    message: describe_status(status, &body),
                    ambiguous,
                    attempts,
                }),
                Sent::Transport { message, ambiguous } => Err(Failed {
                    status: None,
                    message,
                    ambiguous,
                    attempts: self.config.retry.max_attempts,
                }),
            };
        }
    }

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

    fn error(&self, operation: &str, failed: Failed) -> ApiError {
        let operation = format!("{}: {operation}", self.config.env);
        match failed.status {
            Some(status) => ApiError::Status {
                operation,
                status,
                message: failed.message,
            },
            None if failed.attempts == 0 => ApiError::Auth(failed.message),
            None => ApiError::Transport {
                operation,
                message: failed.message,
            },
        }
    }

    /// Sends a call that must succeed; decodes its JSON answer.
    async fn json<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, ApiError> {
        let body = self
            .send(&call)
            .await
            .map_err(|f| self.error(&call.operation, f))?;
        serde_json::from_str(&body).map_err(|e| ApiError::Status {
            operation: format!("{}: {}", self.config.env, call.operation),
            status: 200,
            message: format!("the answer is not the expected JSON ({e})"),
        })
    }

    /// Sends a call that must succeed; ignores its answer.
    async fn unit(&self, call: Call<'_>) -> Result<(), ApiError> {
        self.send(&call)
            .await
            .map(|_| ())
            .map_err(|f| self.error(&call.operation, f))
    }

    /// `GET /scopes?inactive=true`: the organisation's scopes, deactivated ones included.
    pub async fn list_scopes(&self) -> Result<Vec<ScopeResponse>, ApiError> {
        let raw: Vec<serde_json::Value> = self
            .json(Call {
                method: Method::GET,
                path: "/scopes".into(),
                query: vec![("inactive", "true")],
                body: None,
                idempotent: true,
                operation: "list scopes".into(),
            })
            .await?;
        let mut scopes = Vec::with_capacity(raw.len());
        let mut cache = self.live_scopes.lock().unwrap_or_else(|e| e.into_inner());
        for value in raw {
            let scope: ScopeResponse =
                serde_json::from_value(value.clone()).map_err(|e| ApiError::Status {
                    operation: format!("{}: list scopes", self.config.env),
                    status: 200,
                    message: format!("the answer is not the expected JSON ({e})"),
                })?;
            if let (Some(name), serde_json::Value::Object(object)) = (scope.full_name(), value) {
                cache.insert(name, object);
            }
            scopes.push(scope);
        }
        Ok(scopes)
    }

    /// The scope `name` as the server has it, every field included: as last listed, else
    /// read (`None` when it does not exist).
    async fn scope_as_read(
        &self,
        name: &str,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, ApiError> {
        let cached = self
            .live_scopes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned();
        if cached.is_some() {
            return Ok(cached);
        }
        let call = Call {
            method: Method::GET,
            path: "/scopes".into(),
            query: vec![("scope", name)],
            body: None,
            idempotent: true,
            operation: format!("read scope {name}"),
        };
        match self.send(&call).await {
            Ok(body) => match serde_json::from_str::<serde_json::Value>(&body) {
                Ok(serde_json::Value::Object(object)) => Ok(Some(object)),
                // Some deployments answer a filtered list rather than the object.
                Ok(serde_json::Value::Array(items)) => Ok(items.into_iter().find_map(|v| {
                    let found = serde_json::from_value::<ScopeResponse>(v.clone())
                        .ok()?
                        .full_name()?
                        == name;
                    match v {
                        serde_json::Value::Object(object) if found => Some(object),
                        _ => None,
                    }
                })),
                _ => Err(ApiError::Status {
                    operation: format!("{}: {}", self.config.env, call.operation),
                    status: 200,
                    message: "the answer is not a scope".into(),
                }),
            },
            Err(Failed {
                status: Some(404), ..
            }) => Ok(None),
            Err(f) => Err(self.error(&call.operation, f)),
        }
    }

    /// `GET /scopes?scope=NAME`: one scope, `None` when it does not exist.
    pub async fn get_scope(&self, name: &str) -> Result<Option<ScopeResponse>, ApiError> {
        check_scope_name(name, "read scope")?;
        let call = Call {
            method: Method::GET,
            path: "/scopes".into(),
            query: vec![("scope", name)],
            body: None,
            idempotent: true,
            operation: format!("read scope {name}"),
        };
        match self.send(&call).await {
            Ok(body) => {
                let value: serde_json::Value =
                    serde_json::from_str(&body).map_err(|e| ApiError::Status {
                        operation: format!("{}: {}", self.config.env, call.operation),
                        status: 200,
                        message: format!("the answer is not JSON ({e})"),
                    })?;
                // Some deployments answer a filtered list rather than the object.
                let scope = match value {
                    serde_json::Value::Array(items) => items
                        .into_iter()
                        .filter_map(|v| serde_json::from_value::<ScopeResponse>(v).ok())
                        .find(|s| s.full_name().as_deref() == Some(name)),
                    other => serde_json::from_value(other).ok(),
                };
                Ok(scope)
            }
            Err(Failed {
                status: Some(404), ..
            }) => Ok(None),
            Err(f) => Err(self.error(&call.operation, f)),
        }
    }

    /// Refuses a scope list in which two entries share a name: the live state keys scopes by
    /// name, and which of them the manifest's scope is cannot be told, so none is picked.
    fn check_unique_scope_names(&self, scopes: &[ScopeResponse]) -> Result<(), ApiError> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for name in scopes.iter().filter_map(ScopeResponse::full_name) {
            *seen.entry(name).or_default() += 1;
        }
        let mut shared: Vec<(String, usize)> = seen.into_iter().filter(|(_, n)| *n > 1).collect();
        if shared.is_empty() {
            return Ok(());
        }
        shared.sort();
        let listed: Vec<String> = shared
            .iter()
            .map(|(name, n)| format!("{name} ({n} times)"))
            .collect();
        Err(ApiError::Status {
            operation: format!("{}: list scopes", self.config.env),
            status: 200,
            message: format!(
                "the list has scopes that share a name: {}. mpctl cannot tell which one the manifest means and changes nothing; deactivate the extra one in Samarbeidsportalen (or ask servicedesk@digdir.no)",
                listed.join(", ")
            ),
        })
    }

    /// `GET /scopes/access?scope=NAME`: a scope's grants.
    pub async fn scope_grants(&self, name: &str) -> Result<Vec<GrantResponse>, ApiError> {
        check_scope_name(name, "list grants")?;
        self.json(Call {
            method: Method::GET,
            path: "/scopes/access".into(),
            query: vec![("scope", name)],
            body: None,
            idempotent: true,
            operation: format!("list grants of scope {name}"),
        })
        .await
    }

    /// `GET /scopes/access/all?accessible_for_all=true`: the scopes the organisation may use.
    pub async fn accessible(&self) -> Result<Vec<GrantResponse>, ApiError> {
        self.json(Call {
            method: Method::GET,
            path: "/scopes/access/all".into(),
            query: vec![("accessible_for_all", "true")],
            body: None,
            idempotent: true,
            operation: "list the scopes the organisation may use".into(),
        })
        .await
    }

    /// `GET /clients`: the organisation's clients.
    pub async fn list_clients(&self) -> Result<Vec<ClientResponse>, ApiError> {
        let clients: Vec<ClientResponse> = self
            .json(Call {
                method: Method::GET,
                path: "/clients".into(),
                query: Vec::new(),
                body: None,
                idempotent: true,
                operation: "list clients".into(),
            })
            .await?;
        if let Ok(mut cache) = self.live_clients.lock() {
            for client in &clients {
                if let Some(id) = &client.client_id {
                    cache.insert(id.clone(), client.clone());
                }
            }
        }
        Ok(clients)
    }

    /// `GET /clients/{id}/jwks`: a client's keys (none when it has no key set).
    pub async fn client_keys(&self, client_id: &str) -> Result<Jwks, ApiError> {
        let path = format!("/clients/{}/jwks", client_segment(client_id, "read keys")?);
        let call = Call {
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
            idempotent: true,
            operation: format!("read keys of client {client_id}"),
        };
        match self.send(&call).await {
            Ok(body) if body.trim().is_empty() => Ok(Jwks::default()),
            Ok(body) => serde_json::from_str(&body).map_err(|e| ApiError::Status {
                operation: format!("{}: {}", self.config.env, call.operation),
                status: 200,
                message: format!("the answer is not a JWKS ({e})"),
            }),
            Err(Failed {
                status: Some(404), ..
            }) => Ok(Jwks::default()),
            Err(f) => Err(self.error(&call.operation, f)),
        }
    }

    /// Whether the environment offers the contacts extension (asked once, and only where
    /// [`ClientConfig::probe_contacts`] allows).
    pub async fn contacts_api(&self) -> Result<bool, ApiError> {
        if !self.config.probe_contacts {
            return Ok(false);
        }
        self.contacts_api
            .get_or_try_init(|| async {
                match self.read_contacts("/extensions/contacts").await? {
                    Some(_) => Ok(true),
                    None => Ok(false),
                }
            })
            .await
            .copied()
    }

    /// The provider integration's contacts where the environment has the extension (one
    /// request, which also answers whether it has it); `None` otherwise.
    async fn provider_contacts(&self) -> Result<Option<Contacts>, ApiError> {
        if !self.config.probe_contacts {
            return Ok(None);
        }
        let contacts = self.read_contacts("/extensions/contacts").await?;
        let _ = self.contacts_api.set(contacts.is_some());
        Ok(contacts)
    }

    async fn read_contacts(&self, path: &str) -> Result<Option<Contacts>, ApiError> {
        let call = Call {
            method: Method::GET,
            path: path.to_owned(),
            query: Vec::new(),
            body: None,
            idempotent: true,
            operation: "read contacts".into(),
        };
        match self.send(&call).await {
            Ok(body) => serde_json::from_str::<ContactsResponse>(&body)
                .map(|c| Some(c.to_contacts()))
                .map_err(|e| ApiError::Status {
                    operation: format!("{}: read contacts ({path})", self.config.env),
                    status: 200,
                    message: format!("the answer is not a contacts object ({e})"),
                }),
            Err(Failed {
                status: Some(404 | 405 | 501),
                ..
            }) => Ok(None),
            Err(f) => Err(self.error(&call.operation, f)),
        }
    }

    /// Creates a client, or finds out that an earlier attempt whose answer was lost did.
    async fn create_client_once(&self, client: &ClientState) -> Result<String, ApiError> {
        let operation = format!("create client {}", client.name);
        let body = serde_json::to_value(ClientRequest::for_create(client))
            .map_err(|e| self.refused(&operation, &e.to_string()))?;
        for _round in 0..self.config.retry.max_attempts.max(1) {
            let call = Call {
                method: Method::POST,
                path: "/clients".into(),
                query: Vec::new(),
                body: Some(body.clone()),
                idempotent: false,
                operation: operation.clone(),
            };
            match self.send(&call).await {
                Ok(answer) => {
                    let created: ClientResponse =
                        serde_json::from_str(&answer).map_err(|e| ApiError::Status {
                            operation: format!("{}: {operation}", self.config.env),
                            status: 200,
                            message: format!("the answer is not a client ({e})"),
                        })?;
                    return created.client_id.ok_or_else(|| ApiError::Status {
                        operation: format!("{}: {operation}", self.config.env),
                        status: 200,
                        message: "the answer has no client_id".into(),
                    });
                }
                Err(f) if f.ambiguous => {
                    tracing::warn!(
                        env = self.config.env.as_str(),
                        client = client.name.as_str(),
                        "the outcome of creating the client is unknown; reading the client list to find out"
                    );
                    if let Some(id) = self.find_client_by_name(&client.name).await? {
                        return Ok(id);
                    }
                }
                Err(f) => return Err(self.error(&operation, f)),
            }
        }
        Err(ApiError::Transport {
            operation: format!("{}: {operation}", self.config.env),
            message: "no answer after repeated attempts, and the client does not exist".into(),
        })
    }

    /// `GET /clients/{id}`: one client as the server has it (`None` when it does not exist).
    async fn read_client(&self, client_id: &str) -> Result<Option<ClientResponse>, ApiError> {
        let operation = format!("read client {client_id}");
        let segment = client_segment(client_id, &operation)?;
        let call = Call {
            method: Method::GET,
            path: format!("/clients/{segment}"),
            query: Vec::new(),
            body: None,
            idempotent: true,
            operation,
        };
        match self.send(&call).await {
            Ok(body) => serde_json::from_str(&body)
                .map(Some)
                .map_err(|e| ApiError::Status {
                    operation: format!("{}: {}", self.config.env, call.operation),
                    status: 200,
                    message: format!("the answer is not a client ({e})"),
                }),
            Err(Failed {
                status: Some(404), ..
            }) => Ok(None),
            Err(f) => Err(self.error(&call.operation, f)),
        }
    }

    /// The newest active client named `name`.
    async fn find_client_by_name(&self, name: &str) -> Result<Option<String>, ApiError> {
        let clients = self.list_clients().await?;
        Ok(clients
            .into_iter()
            .filter(|c| c.client_name.as_deref() == Some(name) && c.active != Some(false))
            .max_by(|a, b| a.created.cmp(&b.created))
            .and_then(|c| c.client_id))
    }

    fn refused(&self, operation: &str, message: &str) -> ApiError {
        ApiError::Refused {
            operation: format!("{}: {operation}", self.config.env),
            message: message.to_owned(),
        }
    }
}

/// The request target as traced: the path and the query, percent-encoded as sent.
fn shown_target(call: &Call<'_>) -> String {
    if call.query.is_empty() {
        return call.path.clone();
    }
    let query: Vec<String> = call
        .query
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect();
    format!("{}?{}", call.path, query.join("&"))
}

/// The server's message with what the status means for the user where that is not obvious.
fn describe_status(status: u16, body: &str) -> String {
    let message = wire::error_message(body);
    match status {
        428 => format!(
            "{message} — the organisation has not accepted the terms of use: sign them in Samarbeidsportalen (Virksomhetens tjenester) and try again"
        ),
        429 => format!(
            "{message} — the server kept refusing for rate limiting for longer than mpctl waits for it (10 minutes per request by default); the request was not processed: run it again later"
        ),
        _ => message,
    }
}

/// Refuses scope names that would change the request's meaning: empty ones (the request would
/// address every scope). The name itself travels percent-encoded in the query.
fn check_scope_name(name: &str, operation: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::Refused {
            operation: operation.to_owned(),
            message: "the scope name is empty".into(),
        });
    }
    Ok(())
}

/// A client id as a path segment; empty ids are refused (`/clients/` is the list).
fn client_segment(client_id: &str, operation: &str) -> Result<String, ApiError> {
    if client_id.trim().is_empty() {
        return Err(ApiError::Refused {
            operation: operation.to_owned(),
            message: "the client id is empty".into(),
        });
    }
    Ok(utf8_percent_encode(client_id, PATH_SEGMENT).to_string())
}

/// A consumer's organisation number as a path segment: exactly nine digits with a valid check
/// digit, checked before any request is built. Anything else is refused: an empty number would
/// turn `DELETE /scopes/access/{org}?scope=X` into a request on the scope itself.
pub fn consumer_segment(consumer: &OrgNo, operation: &str) -> Result<String, ApiError> {
    consumer.check().map_err(|e| ApiError::Refused {
        operation: operation.to_owned(),
        message: e.to_string(),
    })?;
    Ok(consumer.as_str().to_owned())
}

enum Job {
    Grants(String),
    Keys(String),
    ClientContacts(String),
}

enum JobResult {
    Grants(String, Vec<GrantResponse>),
    Keys(String, Jwks),
    ClientContacts(String, Option<Contacts>),
}

impl HttpClient {
    async fn run(&self, job: Job) -> Result<JobResult, ApiError> {
        Ok(match job {
            Job::Grants(scope) => {
                let grants = self.scope_grants(&scope).await?;
                JobResult::Grants(scope, grants)
            }
            Job::Keys(id) => {
                let keys = self.client_keys(&id).await?;
                JobResult::Keys(id, keys)
            }
            Job::ClientContacts(id) => {
                let path = format!(
                    "/extensions/clients/{}/contacts",
                    client_segment(&id, "read contacts")?
                );
                let contacts = self.read_contacts(&path).await?;
                JobResult::ClientContacts(id, contacts)
            }
        })
    }

    async fn fetch_live(&self) -> Result<LiveEnv, ApiError> {
        // A side the token cannot read is not asked for: its lists stay empty, and the plan
        // says it was not read.
        let sides = self.config.sides;
        let (scopes, clients, accessible, provider_contacts) = futures_util::try_join!(
            async {
                match sides.scopes {
                    true => self.list_scopes().await,
                    false => Ok(Vec::new()),
                }
            },
            async {
                match sides.clients {
                    true => self.list_clients().await,
                    false => Ok(Vec::new()),
                }
            },
            async {
                match sides.clients {
                    true => self.accessible().await,
                    false => Ok(Vec::new()),
                }
            },
            async {
                match sides.scopes || sides.clients {
                    true => self.provider_contacts().await,
                    false => Ok(None),
                }
            },
        )?;
        let contacts_api = provider_contacts.is_some();
        // Read only to learn whether the extension exists: the provider's own contacts belong
        // to the provider side.
        let provider_contacts = provider_contacts.filter(|_| sides.scopes);
        self.check_unique_scope_names(&scopes)?;

        let mut jobs = Vec::new();
        for scope in &scopes {
            if let Some(name) = scope.full_name() {
                jobs.push(Job::Grants(name));
            }
        }
        for client in &clients {
            let Some(id) = &client.client_id else {
                continue;
            };
            // A deactivated client is history: its keys and contacts are not read.
            if client.active == Some(false) {
                continue;
            }
            jobs.push(Job::Keys(id.clone()));
            if contacts_api {
                jobs.push(Job::ClientContacts(id.clone()));
            }
        }
        let results: Vec<JobResult> = stream::iter(jobs)
            .map(|job| self.run(job))
            .buffer_unordered(self.config.concurrency.max(1))
            .try_collect()
            .await?;

        let mut grants: HashMap<String, BTreeSet<OrgNo>> = HashMap::new();
        let mut org_names: BTreeMap<String, String> = BTreeMap::new();
        let mut keys: HashMap<String, Jwks> = HashMap::new();
        let mut client_contacts: HashMap<String, Contacts> = HashMap::new();
        for result in results {
            match result {
                JobResult::Grants(scope, list) => {
                    for g in &list {
                        if let (Some(number), Some(name)) =
                            (&g.consumer_orgno, &g.consumer_organization_name)
                        {
                            org_names.insert(number.clone(), name.clone());
                        }
                    }
                    grants.insert(
                        scope,
                        list.iter()
                            .filter(|g| g.is_approved())
                            .filter_map(|g| g.consumer_orgno.as_deref())
                            .map(OrgNo::new_unchecked)
                            .collect(),
                    );
                }
                JobResult::Keys(id, jwks) => {
                    keys.insert(id, jwks);
                }
                JobResult::ClientContacts(id, Some(contacts)) => {
                    client_contacts.insert(id, contacts);
                }
                JobResult::ClientContacts(_, None) => {}
            }
        }

        let mut state = EnvState {
            contacts: provider_contacts,
            ..Default::default()
        };
        for scope in &scopes {
            let Some(name) = scope.full_name() else {
                continue;
            };
            let scope_grants = grants.remove(&name).unwrap_or_default();
            if let Some(s) = scope.to_state(scope_grants) {
                state.scopes.insert(name, s);
            }
        }
        for client in &clients {
            let Some(id) = &client.client_id else {
                continue;
            };
            let client_keys = keys.get(id).map(Jwks::to_states).unwrap_or_default();
            if let Some(mut c) = client.to_state(client_keys) {
                c.contacts = client_contacts.remove(id);
                state.clients.insert(id.clone(), c);
            }
        }
        let accessible_scopes = accessible
            .iter()
            .filter(|g| g.is_approved())
            .filter_map(|g| g.scope.clone())
            .collect();
        Ok(LiveEnv {
            state,
            accessible_scopes,
            contacts_api,
            org_names,
        })
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
        for _round in 0..self.config.retry.max_attempts.max(1) {
            let call = Call {
                method: Method::POST,
                path: "/scopes".into(),
                query: Vec::new(),
                body: Some(body.clone()),
                idempotent: false,
                operation: operation.clone(),
            };
            match self.send(&call).await {
                Ok(_) => return Ok(()),
                Err(f) if f.ambiguous => {
                    tracing::warn!(
                        env = self.config.env.as_str(),
                        scope = scope.name.as_str(),
                        "the outcome of creating the scope is unknown; reading it to find out"
                    );
                    if self.get_scope(&scope.name).await?.is_some() {
                        return Ok(());
                    }
                }
                Err(f) => return Err(self.error(&operation, f)),
            }
        }
        Err(ApiError::Transport {
            operation: format!("{}: {operation}", self.config.env),
            message: "no answer after repeated attempts, and the scope does not exist".into(),
        })
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
                    .is_none_or(|t| t == crate::plan::diff::MASKINPORTEN)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_numbers_are_checked_before_any_request() {
        for bad in [
            "",
            "12345678",
            "1234567890",
            "91075328x",
            "910753283",
            "../scopes",
        ] {
            let err = consumer_segment(&OrgNo::new_unchecked(bad), "revoke").unwrap_err();
            assert!(matches!(err, ApiError::Refused { .. }), "{bad}: {err}");
        }
        assert_eq!(
            consumer_segment(&OrgNo::new_unchecked("910753282"), "grant").unwrap(),
            "910753282"
        );
    }

    #[test]
    fn client_ids_are_encoded_as_one_segment() {
        assert_eq!(client_segment("a/b?c", "x").unwrap(), "a%2Fb%3Fc");
        assert_eq!(
            client_segment("0d2f9c1e-8b0a-4c1e-9d7e-1a2b3c4d5e6f", "x").unwrap(),
            "0d2f9c1e-8b0a-4c1e-9d7e-1a2b3c4d5e6f"
        );
        assert!(client_segment("", "x").is_err());
    }

    #[test]
    fn precondition_required_says_to_sign_the_terms() {
        let text = describe_status(
            428,
            r#"{"error":"PRECONDITION_REQUIRED","error_description":"Vilkår er ikke akseptert"}"#,
        );
        assert!(text.contains("Vilkår er ikke akseptert"));
        assert!(text.contains("terms of use"));
        assert!(text.contains("Samarbeidsportalen"));
    }
}
