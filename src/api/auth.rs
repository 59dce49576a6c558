//! Maskinporten authentication: the JWT-bearer grant (RFC 7523) signed with the admin client's
//! key, exchanged at the token endpoint for an access token that is cached until 20 seconds
//! before it expires and then renewed transparently.
//!
//! The grant: header `alg: RS256` with exactly one of `kid` or `x5c`; claims `aud` (the token
//! service's issuer), `iss` (the client id), `iat`, `exp` = `iat` + 60 s (Maskinporten allows at
//! most 120), a fresh `jti` (UUID v4; a grant is never reused) and `scope`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::credentials::{Credentials, KeyIdentity};
use super::endpoints::DigdirEnv;
use super::retry::RetryPolicy;
use super::transport::{self, Sent};
use super::wire::{self, JWT_BEARER, TokenResponse};
use crate::manifest::orgno::OrgNo;
use crate::secret::Secret;

/// Lifetime of a grant, seconds.
pub const GRANT_LIFETIME_SECS: i64 = 60;
/// A cached token is renewed this long before it expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(20);

/// The claims of a JWT-bearer grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub scope: String,
}

/// Builds and signs a grant for `scope` (space-separated) at `now` (Unix seconds).
pub fn build_grant(
    credentials: &Credentials,
    audience: &str,
    scope: &str,
    now: i64,
) -> Result<String, ApiError> {
    let mut header = Header::new(Algorithm::RS256);
    match credentials.identity() {
        KeyIdentity::Kid(kid) => header.kid = Some(kid.clone()),
        KeyIdentity::X5c(chain) => header.x5c = Some(chain.clone()),
    }
    let claims = GrantClaims {
        aud: audience.to_owned(),
        iss: credentials.client_id.clone(),
        iat: now,
        exp: now + GRANT_LIFETIME_SECS,
        jti: uuid::Uuid::new_v4().to_string(),
        scope: scope.to_owned(),
    };
    jsonwebtoken::encode(&header, &claims, credentials.encoding_key())
        .map_err(|e| ApiError::Auth(format!("cannot sign the grant: {}", e.kind_name())))
}

trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for jsonwebtoken::errors::Error {
    /// The error's kind without any payload (which could contain key bytes).
    fn kind_name(&self) -> String {
        let debug = format!("{:?}", self.kind());
        debug
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or("error")
            .to_owned()
    }
}

/// An access token. `Debug` and `Display` never show it.
#[derive(Clone, Debug)]
pub struct AccessToken {
    value: Secret<String>,
    /// When it stops working (by our clock, from `expires_in`).
    pub expires_at: Instant,
    /// The organisation the token acts for (its `consumer` claim), when it is a JWT.
    pub organization: Option<OrgNo>,
    /// The scopes granted.
    pub scope: Option<String>,
}

impl AccessToken {
    /// The `Authorization` header value.
    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.value.expose())
    }

    /// The token itself (for `mpctl token`, which prints it on purpose).
    pub(crate) fn secret(&self) -> &str {
        self.value.expose()
    }

    /// Whether it should be renewed before use at `now`.
    pub fn needs_refresh(&self, now: Instant) -> bool {
        now + REFRESH_MARGIN >= self.expires_at
    }
}

/// The organisation number in an access token's `consumer.ID` (`0192:<orgno>`), read without
/// verifying the signature (the API verifies it; we only compare). `None` for opaque tokens.
pub fn token_organization(token: &str) -> Option<OrgNo> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let id = claims.get("consumer")?.get("ID")?.as_str()?;
    let orgno = id.rsplit(':').next()?;
    OrgNo::parse(orgno).ok()
}

/// A source of access tokens for one environment: builds grants, exchanges them, caches.
pub struct TokenSource {
    env: String,
    http: reqwest::Client,
    token_url: String,
    audience: String,
    credentials: Credentials,
    scope: String,
    digdir: Option<DigdirEnv>,
    retry: RetryPolicy,
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    cache: tokio::sync::Mutex<Option<AccessToken>>,
    requests: std::sync::atomic::AtomicU64,
    /// Whose tokens these are: `None` for the admin client, else the name of an integration's
    /// client (`mpctl token`), which changes how refusals are explained.
    client_name: Option<String>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("env", &self.env)
            .field("token_url", &self.token_url)
            .field("audience", &self.audience)
            .field("credentials", &self.credentials)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Where and how to get tokens.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub env: String,
    pub token_url: String,
    pub audience: String,
    /// Space-separated scopes to request.
    pub scope: String,
    pub digdir: Option<DigdirEnv>,
    pub retry: RetryPolicy,
}

impl TokenSource {
    pub fn new(http: reqwest::Client, config: TokenConfig, credentials: Credentials) -> Self {
        Self {
            env: config.env,
            http,
            token_url: config.token_url,
            audience: config.audience,
            credentials,
            scope: config.scope,
            digdir: config.digdir,
            retry: config.retry,
            clock: Arc::new(crate::clock::system_now),
            cache: tokio::sync::Mutex::new(None),
            requests: std::sync::atomic::AtomicU64::new(0),
            client_name: None,
        }
    }

    /// Gets tokens for an integration's client named `name` rather than for the admin client:
    /// refusals are explained for that client, with Digdir's propagation delay.
    pub fn for_client(mut self, name: &str) -> Self {
        self.client_name = Some(name.to_owned());
        self
    }

    /// Uses `clock` (Unix seconds) for the grant's `iat` instead of the system clock (for
    /// emulators whose clock is set elsewhere).
    pub fn with_clock(mut self, clock: Arc<dyn Fn() -> i64 + Send + Sync>) -> Self {
        self.clock = clock;
        self
    }

    /// The token endpoint, the grants' audience and which Digdir environment they belong to.
    pub fn endpoint(&self) -> (&str, &str, Option<DigdirEnv>) {
        (&self.token_url, &self.audience, self.digdir)
    }

    /// How many token requests were sent.
    pub fn request_count(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A valid token: the cached one, or a new one when it is missing or about to expire.
    pub async fn token(&self) -> Result<AccessToken, ApiError> {
        let mut cache = self.cache.lock().await;
        if let Some(token) = cache.as_ref()
            && !token.needs_refresh(Instant::now())
        {
            return Ok(token.clone());
        }
        let grant = build_grant(
            &self.credentials,
            &self.audience,
            &self.scope,
            (self.clock)(),
        )?;
        let token = self.exchange_with(grant, true).await?;
        *cache = Some(token.clone());
        Ok(token)
    }

    /// Forgets the cached token (after the API refused it with 401).
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    /// Exchanges this grant for an access token at the token endpoint (a retry sends the same
    /// grant, which the server may refuse as replayed: [`TokenSource::token`] signs a fresh
    /// grant for every attempt instead).
    pub async fn exchange(&self, grant: &str) -> Result<AccessToken, ApiError> {
        self.exchange_with(grant.to_owned(), false).await
    }

    /// Exchanges `first` for a token; with `fresh_on_retry`, every further attempt signs a new
    /// grant (new `jti`, `iat`), since a grant whose answer was lost may have been used.
    async fn exchange_with(
        &self,
        first: String,
        fresh_on_retry: bool,
    ) -> Result<AccessToken, ApiError> {
        let attempts = std::sync::atomic::AtomicU32::new(0);
        // The token's lifetime counts from before the request: never trust it longer.
        let started = Instant::now();
        let sent = transport::send(&self.retry, true, "POST", "/token", || {
            self.requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let attempt = attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let grant = if attempt > 0 && fresh_on_retry {
                build_grant(
                    &self.credentials,
                    &self.audience,
                    &self.scope,
                    (self.clock)(),
                )
                .unwrap_or_else(|_| first.clone())
            } else {
                first.clone()
            };
            let form = [("grant_type", JWT_BEARER), ("assertion", grant.as_str())];
            self.http.post(&self.token_url).form(&form)
        })
        .await;
        match sent {
            Sent::Ok { body, .. } => {
                let response: TokenResponse = serde_json::from_str(&body).map_err(|_| {
                    ApiError::Auth(format!(
                        "{}: the token endpoint {} answered without an access token",
                        self.env, self.token_url
                    ))
                })?;
                if response.access_token.expose().is_empty() {
                    return Err(ApiError::Auth(format!(
                        "{}: the token endpoint {} answered without an access token",
                        self.env, self.token_url
                    )));
                }
                let lifetime = response.expires_in.unwrap_or(120).max(0);
                Ok(AccessToken {
                    organization: token_organization(response.access_token.expose()),
                    expires_at: started + Duration::from_secs(u64::try_from(lifetime).unwrap_or(0)),
                    value: response.access_token,
                    scope: response.scope,
                })
            }
            Sent::Status { status, body, .. }
                if oauth_error(&body).as_deref() == Some("invalid_scope") =>
            {
                Err(ApiError::Auth(self.invalid_scope(status, &body).await))
            }
            Sent::Status { status, body, .. } => Err(ApiError::Auth(self.refusal(status, &body))),
            Sent::Transport { message, .. } => Err(ApiError::Auth(format!(
                "{}: no answer from the token endpoint {}: {message}",
                self.env, self.token_url
            ))),
        }
    }

    /// Explains `invalid_scope`: names the requested scopes the client does not hold. The
    /// token endpoint refuses the whole request for one missing scope and its description's
    /// wording is not documented, so with several scopes each is tried alone (one grant each,
    /// only on this error path) to find out which.
    async fn invalid_scope(&self, status: u16, body: &str) -> String {
        let message = wire::error_message(body);
        let requested: Vec<&str> = self.scope.split_whitespace().collect();
        let mut missing = Vec::new();
        if requested.len() == 1 {
            missing.push(requested[0].to_owned());
        } else {
            for scope in &requested {
                if self.refuses_scope(scope).await {
                    missing.push((*scope).to_owned());
                }
            }
        }
        if missing.is_empty() {
            return self.refusal(status, body);
        }
        let listed = missing
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        match &self.client_name {
            Some(name) => format!(
                "{}: client `{name}` may not get {listed} (the token endpoint {} answered {status}: {message}) — the client must list the scope (its `scopes` in the manifest, applied), and for another organisation's scope the provider must have granted your organisation access. {}",
                self.env, self.token_url, PROPAGATION
            ),
            None => {
                let purposes: Vec<&str> = missing
                    .iter()
                    .filter_map(|s| super::admin_scopes::AdminScope::parse(s))
                    .map(super::admin_scopes::AdminScope::purpose)
                    .collect();
                let variable = format!(
                    "MPCTL_{}_SCOPES",
                    super::credentials::variable_prefix(&self.env)
                );
                format!(
                    "{}: the admin client does not hold {listed}, which mpctl asks for {} (the token endpoint {} answered {status}: {message}). Nothing was read or changed. Add the scope to the admin client in Samarbeidsportalen; or, if it cannot have it, leave out of the manifest what needs it and declare the scopes the client holds in `admin_scopes` of environment `{}` (or {variable})",
                    self.env,
                    purposes.join(" and "),
                    self.token_url,
                    self.env,
                )
            }
        }
    }

    /// Whether the token endpoint refuses `scope` alone with `invalid_scope` (one attempt).
    async fn refuses_scope(&self, scope: &str) -> bool {
        let Ok(grant) = build_grant(&self.credentials, &self.audience, scope, (self.clock)())
        else {
            return false;
        };
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let form = [("grant_type", JWT_BEARER), ("assertion", grant.as_str())];
        let Ok(response) = self.http.post(&self.token_url).form(&form).send().await else {
            return false;
        };
        if response.status().is_success() {
            return false;
        }
        let body = response.text().await.unwrap_or_default();
        oauth_error(&body).as_deref() == Some("invalid_scope")
    }

    /// The token endpoint's refusal, with what probably caused it.
    fn refusal(&self, status: u16, body: &str) -> String {
        let message = wire::error_message(body);
        if let Some(name) = &self.client_name {
            return self.client_refusal(name, status, body, &message);
        }
        let lower = message.to_ascii_lowercase();
        let hint = if lower.contains("aud") {
            format!(
                " — the grant's audience was `{}`; set `audience` of the environment to the token service's issuer",
                self.audience
            )
        } else if lower.contains("expired") || lower.contains("iat") || lower.contains("exp") {
            " — check that this machine's clock is right (grants are valid for 60 seconds)".into()
        } else if lower.contains("client")
            || lower.contains("kid")
            || lower.contains("certificate")
            || lower.contains("invalid_grant")
        {
            match self.digdir {
                Some(env) => format!(
                    " — check that the client id and key are the ones registered in Digdir's {} environment: test and production clients, keys and certificates are separate",
                    env.as_str()
                ),
                None => " — check the client id and that its key is registered".into(),
            }
        } else if lower.contains("scope") {
            format!(
                " — the admin client needs the scopes `{}`; add them to it in Samarbeidsportalen",
                self.scope
            )
        } else {
            String::new()
        };
        format!(
            "{}: the token endpoint {} refused the grant ({status}): {message}{hint}",
            self.env, self.token_url
        )
    }
}

/// Digdir's propagation delay, said with every refusal of an integration's token.
pub const PROPAGATION: &str = "Changes reach Maskinporten's token service after up to two minutes: a client, key, scope or grant created or changed in the last two minutes may not work yet, so try again shortly.";

/// The OAuth2 `error` code of a token endpoint's answer, if it has one.
pub fn oauth_error(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    value.get("error")?.as_str().map(str::to_owned)
}

impl TokenSource {
    /// Explains a refusal of an integration client's grant by its OAuth2 error.
    fn client_refusal(&self, name: &str, status: u16, body: &str, message: &str) -> String {
        let hint = match oauth_error(body).as_deref() {
            Some("invalid_client") => format!(
                "Maskinporten does not know client `{name}` ({}) or it is deactivated: check the client id (`client_ids` in the manifest) and that the client exists in this environment.",
                self.credentials.client_id
            ),
            Some("invalid_grant") => match self.credentials.identity() {
                KeyIdentity::Kid(kid) => format!(
                    "The grant was refused: check that the private key belongs to the public key registered on client `{name}` with kid `{kid}` (`--kid`), that the key has not expired, and this machine's clock (grants are valid for 60 seconds)."
                ),
                KeyIdentity::X5c(_) => format!(
                    "The certificate was refused: check that it is a valid business certificate of client `{name}`'s organisation, from the right CA for this environment (test certificates only in test)."
                ),
            },
            Some("unauthorized_client") => format!(
                "Client `{name}` may not use the JWT-bearer grant: check its `grant_types` and `token_endpoint_auth_method` in Samarbeidsportalen."
            ),
            _ => String::new(),
        };
        format!(
            "{}: the token endpoint {} refused the grant for client `{name}` ({status}): {message} — {hint}{}{PROPAGATION}",
            self.env,
            self.token_url,
            if hint.is_empty() { "" } else { " " },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_organization_reads_the_consumer_claim() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"consumer":{"authority":"iso6523-actorid-upis","ID":"0192:910753282"}}"#);
        let token = format!("e30.{payload}.sig");
        assert_eq!(
            token_organization(&token),
            Some(OrgNo::new_unchecked("910753282"))
        );
        assert_eq!(token_organization("opaque-token"), None);
        let bad = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"consumer":{"ID":"0192:123"}}"#);
        assert_eq!(token_organization(&format!("e30.{bad}.s")), None);
    }

    #[test]
    fn tokens_are_refreshed_twenty_seconds_early() {
        let now = Instant::now();
        let token = AccessToken {
            value: Secret::new("secret-token".into()),
            expires_at: now + Duration::from_secs(30),
            organization: None,
            scope: None,
        };
        assert!(!token.needs_refresh(now));
        assert!(token.needs_refresh(now + Duration::from_secs(11)));
        assert!(!format!("{token:?}").contains("secret-token"));
    }
}
