//! [`HttpClient`]: the self-service API over HTTP, for Digdir's environments and the emulator
//! alike.
//!
//! Reading an environment takes the fewest requests the API allows: the scope and client lists
//! (plus what the organisation may use), then one request per scope for its grants and one per
//! active client for its keys, all in flight together up to the configured concurrency.
//! Writes map one logical change onto the wire; a create whose outcome is unknown (the
//! connection dropped, or a 5xx after the request was sent) is never repeated blindly: the
//! client re-reads to see whether it happened.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde::de::DeserializeOwned;

use super::ApiError;
use super::admin_scopes::{AdminScopes, Sides};
use super::auth::{AccessToken, TokenSource};
use super::retry::RetryPolicy;
use super::throttle::Throttle;
use super::transport::{self, Sent};
use super::wire::{self, ClientResponse};
use crate::manifest::orgno::OrgNo;

mod read;
mod write;

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
