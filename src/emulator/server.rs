//! The HTTP side of the emulator: the self-service API routes (`/api/v1/…`), the token
//! endpoint, the extension and diagnostic endpoints, and the connection loop that injects
//! faults (including closing a connection without an answer).
//!
//! Error bodies of the self-service API are not documented by Digdir. The emulator answers
//! Spring-style JSON, `{"timestamp": …, "status": 409, "error": "Conflict", "message": "…"}`,
//! the shape Digdir's Spring services use; 401 also carries `WWW-Authenticate: Bearer`.
//! Status codes: 400 validation, 401 missing/invalid/expired token, 403 missing scope or another
//! organisation's resource (and a scope prefix not registered to the caller), 404 unknown,
//! 409 conflict (existing or deactivated scope name, a sixth key, a `kid` in use elsewhere).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use super::Shared;
use super::audit::AuditEntry;
use super::clock::iso8601;
use super::faults::{Decision, FaultConfig};
use super::rules::{
    self, DCR_MODIFY, DCR_READ, DCR_WRITE, INTEGRATION_TYPES, KEY_MAX_LIFETIME_SECS, MAX_KEYS,
    SCOPES_READ, SCOPES_WRITE,
};
use super::store::{ClientRecord, GrantRecord, KeySet, Mutation, ScopeRecord, State, StoredKey};
use super::token::{self, Caller};
use crate::manifest::model::Contacts;

/// Every route the emulator serves, as (method, OpenAPI path). The contacts extension routes
/// (under `/api/v1/extensions/`) exist only when the extension is on. Checked against
/// `schema/selfservice.openapi.json` in the tests.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/scopes"),
    ("post", "/api/v1/scopes"),
    ("put", "/api/v1/scopes"),
    ("delete", "/api/v1/scopes"),
    ("get", "/api/v1/scopes/all"),
    ("get", "/api/v1/scopes/access"),
    ("get", "/api/v1/scopes/access/all"),
    ("put", "/api/v1/scopes/access/{consumer_orgno}"),
    ("delete", "/api/v1/scopes/access/{consumer_orgno}"),
    ("get", "/api/v1/clients"),
    ("post", "/api/v1/clients"),
    ("get", "/api/v1/clients/{client_id}"),
    ("put", "/api/v1/clients/{client_id}"),
    ("delete", "/api/v1/clients/{client_id}"),
    ("get", "/api/v1/clients/{client_id}/jwks"),
    ("post", "/api/v1/clients/{client_id}/jwks"),
    ("put", "/api/v1/clients/{client_id}/jwks"),
    ("delete", "/api/v1/clients/{client_id}/jwks"),
    ("get", "/api/v1/extensions/contacts"),
    ("put", "/api/v1/extensions/contacts"),
    ("get", "/api/v1/extensions/clients/{client_id}/contacts"),
    ("put", "/api/v1/extensions/clients/{client_id}/contacts"),
    ("post", "/token"),
    ("get", "/jwk"),
    ("get", "/.well-known/oauth-authorization-server"),
    ("get", "/emulator/audit"),
    ("get", "/emulator/faults"),
    ("put", "/emulator/faults"),
    ("get", "/emulator/clock"),
    ("post", "/emulator/clock"),
    ("get", "/emulator/ca.pem"),
];

type Shr = AxumState<Arc<Shared>>;
type Params = Query<HashMap<String, String>>;

/// A self-service API error.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    status: StatusCode,
    message: String,
}

impl ApiFailure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub(crate) fn internal_error(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

fn error_response(status: StatusCode, message: &str, timestamp: String) -> Response {
    let body = json!({
        "timestamp": timestamp,
        "status": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    (status, axum::Json(body)).into_response()
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        let mut response = error_response(self.status, &self.message, iso8601(now));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response
    }
}

type ApiResult = Result<Response, ApiFailure>;

fn ok(value: Value) -> ApiResult {
    Ok((StatusCode::OK, axum::Json(value)).into_response())
}

fn created(value: Value) -> ApiResult {
    Ok((StatusCode::CREATED, axum::Json(value)).into_response())
}

/// Checks the bearer token and that it carries one of `any_of`.
fn authorize(shared: &Shared, headers: &HeaderMap, any_of: &[&str]) -> Result<Caller, ApiFailure> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| {
            ApiFailure::new(
                StatusCode::UNAUTHORIZED,
                "missing bearer token: send `Authorization: Bearer <access token>`",
            )
        })?;
    let caller = verified_caller(shared, token.trim())?;
    if !any_of.iter().any(|s| caller.scopes.contains(*s)) {
        return Err(ApiFailure::forbidden(format!(
            "the access token lacks the scope this operation needs: {}",
            any_of.join(" or ")
        )));
    }
    Ok(caller)
}

/// Verifies a bearer token, remembering verified tokens so that a client reusing its token
/// does not pay for an RSA verification on every request.
fn verified_caller(shared: &Shared, token: &str) -> Result<Caller, ApiFailure> {
    const REMEMBERED: usize = 10_000;
    let now = shared.clock.now_unix();
    let cached = shared
        .verified
        .lock()
        .ok()
        .and_then(|cache| cache.get(token).cloned());
    let caller = match cached {
        Some(caller) => caller,
        None => {
            let caller = shared
                .signer
                .verify(token, now)
                .map_err(|e| ApiFailure::new(StatusCode::UNAUTHORIZED, e))?;
            if let Ok(mut cache) = shared.verified.lock() {
                if cache.len() >= REMEMBERED {
                    cache.clear();
                }
                cache.insert(token.to_owned(), caller.clone());
            }
            caller
        }
    };
    if caller.exp <= now {
        return Err(ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "the access token has expired",
        ));
    }
    Ok(caller)
}

fn parse_body(body: &Bytes) -> Result<Map<String, Value>, ApiFailure> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiFailure::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiFailure::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

fn scope_param(params: &HashMap<String, String>) -> Result<String, ApiFailure> {
    params
        .get("scope")
        .filter(|s| !s.is_empty())
        .cloned()
        .ok_or_else(|| ApiFailure::bad_request("the query parameter `scope` is required"))
}

fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

// ---------------------------------------------------------------------------------------------
// Field helpers: absent or null → None; the wrong type → 400 naming the field.

fn field_str(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiFailure> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiFailure::bad_request(format!(
            "`{field}` must be a string"
        ))),
    }
}

fn field_bool(body: &Map<String, Value>, field: &str) -> Result<Option<bool>, ApiFailure> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiFailure::bad_request(format!(
            "`{field}` must be true or false"
        ))),
    }
}

fn field_u32(body: &Map<String, Value>, field: &str) -> Result<Option<u32>, ApiFailure> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiFailure::bad_request(format!("`{field}` must be a non-negative integer"))
            }),
    }
}

fn field_list(body: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, ApiFailure> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| ApiFailure::bad_request(format!("`{field}` must be a list of strings"))),
        Some(_) => Err(ApiFailure::bad_request(format!(
            "`{field}` must be a list of strings"
        ))),
    }
}

fn one_of(field: &str, value: String, allowed: &[&str]) -> Result<String, ApiFailure> {
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(ApiFailure::bad_request(format!(
            "`{field}` must be one of {}, not `{value}`",
            allowed.join(", ")
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Scopes

fn scope_json(scope: &ScopeRecord) -> Value {
    let mut v = json!({
        "prefix": scope.prefix,
        "subscope": scope.subscope,
        "name": scope.name(),
        "description": scope.description,
        "active": scope.active,
        "created": iso8601(scope.created),
        "last_updated": iso8601(scope.last_updated),
        "owner_orgno": scope.owner_orgno,
        "visibility": scope.visibility,
        "token_type": scope.token_type,
        "at_max_age": scope.at_max_age,
        "authorization_max_lifetime": scope.authorization_max_lifetime,
        "allowed_integration_types": scope.allowed_integration_types,
        "accessible_for_all": scope.accessible_for_all,
        "requires_user_consent": scope.requires_user_consent,
        "requires_user_authentication": scope.requires_user_authentication,
        "requires_pseudonymous_tokens": scope.requires_pseudonymous_tokens,
        "protected": scope.protected,
        "supports_european_businesses": scope.supports_european_businesses,
    });
    if let Some(map) = v.as_object_mut() {
        let optional = [
            (
                "long_description",
                scope.long_description.clone().map(Value::from),
            ),
            ("descriptions", scope.descriptions.clone()),
            (
                "enforced_aud_for_access_token",
                scope.enforced_aud_for_access_token.clone().map(Value::from),
            ),
            (
                "delegation_source",
                scope.delegation_source.clone().map(Value::from),
            ),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                map.insert(key.into(), value);
            }
        }
    }
    v
}

/// A new active scope with every optional field at its default.
fn new_scope(prefix: String, subscope: String, owner_orgno: String, now: i64) -> ScopeRecord {
    ScopeRecord {
        prefix,
        subscope,
        owner_orgno,
        description: String::new(),
        long_description: None,
        descriptions: None,
        visibility: "PUBLIC".into(),
        token_type: "SELF_CONTAINED".into(),
        at_max_age: 120,
        authorization_max_lifetime: 0,
        allowed_integration_types: vec!["maskinporten".into()],
        accessible_for_all: false,
        requires_user_consent: false,
        requires_user_authentication: false,
        requires_pseudonymous_tokens: false,
        enforced_aud_for_access_token: None,
        delegation_source: None,
        protected: false,
        supports_european_businesses: false,
        active: true,
        created: now,
        last_updated: now,
    }
}

/// Applies the updatable fields present in `body` to `scope`.
fn apply_scope_fields(
    scope: &mut ScopeRecord,
    body: &Map<String, Value>,
) -> Result<(), ApiFailure> {
    if let Some(d) = field_str(body, "description")? {
        scope.description = d;
    }
    if body.contains_key("long_description") {
        scope.long_description = field_str(body, "long_description")?;
    }
    match body.get("descriptions") {
        None => {}
        Some(Value::Null) => scope.descriptions = None,
        Some(v @ Value::Object(_)) => scope.descriptions = Some(v.clone()),
        Some(_) => {
            return Err(ApiFailure::bad_request(
                "`descriptions` must be an object of language → text",
            ));
        }
    }
    if let Some(v) = field_str(body, "visibility")? {
        scope.visibility = one_of("visibility", v, &["PUBLIC", "PRIVATE"])?;
    }
    if let Some(v) = field_str(body, "token_type")? {
        scope.token_type = one_of("token_type", v, &["SELF_CONTAINED", "OPAQUE"])?;
    }
    if let Some(v) = field_u32(body, "at_max_age")? {
        if v == 0 {
            return Err(ApiFailure::bad_request(
                "`at_max_age` must be at least 1 second",
            ));
        }
        scope.at_max_age = v;
    }
    if let Some(v) = field_u32(body, "authorization_max_lifetime")? {
        scope.authorization_max_lifetime = v;
    }
    if let Some(types) = field_list(body, "allowed_integration_types")? {
        scope.allowed_integration_types = types
            .into_iter()
            .map(|t| one_of("allowed_integration_types", t, &INTEGRATION_TYPES))
            .collect::<Result<_, _>>()?;
    }
    let flags: [(&str, &mut bool); 6] = [
        ("accessible_for_all", &mut scope.accessible_for_all),
        ("requires_user_consent", &mut scope.requires_user_consent),
        (
            "requires_user_authentication",
            &mut scope.requires_user_authentication,
        ),
        (
            "requires_pseudonymous_tokens",
            &mut scope.requires_pseudonymous_tokens,
        ),
        ("protected", &mut scope.protected),
        (
            "supports_european_businesses",
            &mut scope.supports_european_businesses,
        ),
    ];
    for (field, target) in flags {
        if let Some(v) = field_bool(body, field)? {
            *target = v;
        }
    }
    if body.contains_key("enforced_aud_for_access_token") {
        scope.enforced_aud_for_access_token = field_str(body, "enforced_aud_for_access_token")?;
    }
    if body.contains_key("delegation_source") {
        scope.delegation_source = field_str(body, "delegation_source")?;
    }
    if scope.description.trim().is_empty() {
        return Err(ApiFailure::bad_request("`description` is required"));
    }
    Ok(())
}

fn owned_scope<'a>(
    state: &'a State,
    caller: &Caller,
    name: &str,
) -> Result<&'a ScopeRecord, ApiFailure> {
    let scope = state
        .scopes
        .get(name)
        .ok_or_else(|| ApiFailure::not_found(format!("scope {name} does not exist")))?;
    if scope.owner_orgno != caller.org {
        return Err(ApiFailure::forbidden(format!(
            "scope {name} belongs to another organisation"
        )));
    }
    Ok(scope)
}

async fn get_scopes(AxumState(s): Shr, headers: HeaderMap, Query(q): Params) -> ApiResult {
    let caller = authorize(&s, &headers, &[SCOPES_READ, SCOPES_WRITE])?;
    let state = s.store.read();
    if let Some(name) = q.get("scope") {
        return ok(scope_json(owned_scope(&state, &caller, name)?));
    }
    let inactive = flag(&q, "inactive");
    let list: Vec<Value> = state
        .scopes_of(&caller.org)
        .filter(|sc| inactive || sc.active)
        .map(scope_json)
        .collect();
    ok(Value::Array(list))
}

async fn get_all_scopes(AxumState(s): Shr, headers: HeaderMap, Query(q): Params) -> ApiResult {
    authorize(&s, &headers, &[SCOPES_READ, SCOPES_WRITE])?;
    let state = s.store.read();
    let integration = q.get("integration_type");
    let list: Vec<Value> = state
        .scopes
        .values()
        .filter(|sc| sc.active && sc.visibility == "PUBLIC")
        .filter(|sc| integration.is_none_or(|t| sc.allowed_integration_types.contains(t)))
        .map(scope_json)
        .collect();
    ok(Value::Array(list))
}

async fn create_scope(AxumState(s): Shr, headers: HeaderMap, body: Bytes) -> ApiResult {
    let caller = authorize(&s, &headers, &[SCOPES_WRITE])?;
    let body = parse_body(&body)?;
    let (prefix, subscope) = match (field_str(&body, "prefix")?, field_str(&body, "subscope")?) {
        (Some(p), Some(sub)) => (p, sub),
        _ => {
            return Err(ApiFailure::bad_request(
                "`prefix` and `subscope` are required",
            ));
        }
    };
    rules::check_prefix(&prefix).map_err(ApiFailure::bad_request)?;
    rules::check_subscope(&prefix, &subscope).map_err(ApiFailure::bad_request)?;
    let name = format!("{prefix}:{subscope}");
    if let Some(given) = field_str(&body, "name")?
        && given != name
    {
        return Err(ApiFailure::bad_request(format!(
            "`name` {given} does not match prefix and subscope ({name})"
        )));
    }
    let org = caller.org.clone();
    let value = s
        .commit(&caller.org, "create_scope", name.clone(), move |state, now| {
            let owns_prefix = state
                .orgs
                .get(&org)
                .is_some_and(|o| o.prefixes.contains(&prefix));
            if !owns_prefix {
                return Err(ApiFailure::forbidden(format!(
                    "prefix `{prefix}` is not registered to organisation {org}; Digdir assigns prefixes on request"
                )));
            }
            if let Some(existing) = state.scopes.get(&name) {
                let how = if existing.active { "exists" } else { "exists but is deactivated (reactivate it with PUT and \"active\": true)" };
                return Err(ApiFailure::conflict(format!("scope {name} already {how}")));
            }
            let mut scope = new_scope(prefix, subscope, org, now);
            apply_scope_fields(&mut scope, &body)?;
            Ok((scope_json(&scope), vec![Mutation::Scope(scope)]))
        })
        .await?;
    created(value)
}

async fn update_scope(
    AxumState(s): Shr,
    headers: HeaderMap,
    Query(q): Params,
    body: Bytes,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[SCOPES_WRITE])?;
    let name = scope_param(&q)?;
    let body = parse_body(&body)?;
    let c = caller.clone();
    let target = name.clone();
    let value = s
        .commit(&caller.org, "update_scope", target, move |state, now| {
            let current = owned_scope(state, &c, &name)?;
            // Whether Digdir's PUT replaces the scope or merges the fields sent is not
            // documented; the emulator takes the stricter reading: the body is the whole
            // scope, and a field left out goes back to its default. Only the identity, the
            // creation time and (unless `active` is sent) the state are kept.
            let mut scope = new_scope(
                current.prefix.clone(),
                current.subscope.clone(),
                current.owner_orgno.clone(),
                current.created,
            );
            scope.active = current.active;
            for (field, current) in [("prefix", &scope.prefix), ("subscope", &scope.subscope)] {
                if let Some(given) = field_str(&body, field)?
                    && given != *current
                {
                    return Err(ApiFailure::bad_request(format!(
                        "`{field}` cannot change: a scope's name is permanent"
                    )));
                }
            }
            if let Some(given) = field_str(&body, "name")?
                && given != name
            {
                return Err(ApiFailure::bad_request(
                    "`name` cannot change: a scope's name is permanent",
                ));
            }
            apply_scope_fields(&mut scope, &body)?;
            if let Some(active) = field_bool(&body, "active")? {
                scope.active = active;
            }
            scope.last_updated = now;
            Ok((scope_json(&scope), vec![Mutation::Scope(scope)]))
        })
        .await?;
    ok(value)
}

async fn deactivate_scope(AxumState(s): Shr, headers: HeaderMap, Query(q): Params) -> ApiResult {
    let caller = authorize(&s, &headers, &[SCOPES_WRITE])?;
    let name = scope_param(&q)?;
    let c = caller.clone();
    let value = s
        .commit(
            &caller.org,
            "deactivate_scope",
            name.clone(),
            move |state, now| {
                let mut scope = owned_scope(state, &c, &name)?.clone();
                if !scope.active {
                    return Ok((scope_json(&scope), vec![]));
                }
                // Grants are kept: consumers keep seeing (and using) the scope until revoked.
                scope.active = false;
                scope.last_updated = now;
                Ok((scope_json(&scope), vec![Mutation::Scope(scope)]))
            },
        )
        .await?;
    ok(value)
}

// ---------------------------------------------------------------------------------------------
// Access grants

/// A grant on the wire, with the organisations' names where the emulator knows them
/// (`emulator serve --org-name`), as Digdir's API sends `consumer_organization_name`.
fn grant_json(state: &State, grant: &GrantRecord) -> Value {
    let mut value = json!({
        "scope": grant.scope,
        "state": grant.state,
        "consumer_orgno": grant.consumer_orgno,
        "owner_orgno": grant.owner_orgno,
        "created": iso8601(grant.created),
        "last_updated": iso8601(grant.last_updated),
    });
    let name = |orgno: &str| state.orgs.get(orgno).and_then(|o| o.name.clone());
    if let Some(name) = name(&grant.consumer_orgno) {
        value["consumer_organization_name"] = name.into();
    }
    if let Some(name) = name(&grant.owner_orgno) {
        value["owner_organization_name"] = name.into();
    }
    value
}

async fn list_grants(AxumState(s): Shr, headers: HeaderMap, Query(q): Params) -> ApiResult {
    let caller = authorize(&s, &headers, &[SCOPES_READ, SCOPES_WRITE])?;
    let name = scope_param(&q)?;
    let state = s.store.read();
    owned_scope(&state, &caller, &name)?;
    let list: Vec<Value> = state
        .grants
        .get(&name)
        .into_iter()
        .flat_map(|g| g.values())
        .map(|g| grant_json(&state, g))
        .collect();
    ok(Value::Array(list))
}

async fn accessible_scopes(AxumState(s): Shr, headers: HeaderMap, Query(q): Params) -> ApiResult {
    let caller = authorize(&s, &headers, &[SCOPES_READ, SCOPES_WRITE, DCR_READ])?;
    let state = s.store.read();
    let mut seen = BTreeSet::new();
    let mut list: Vec<Value> = state
        .grants_to(&caller.org)
        .inspect(|g| {
            seen.insert(g.scope.clone());
        })
        .map(|g| grant_json(&state, g))
        .collect();
    if flag(&q, "accessible_for_all") {
        for scope in state
            .scopes
            .values()
            .filter(|sc| sc.active && sc.accessible_for_all)
        {
            let name = scope.name();
            if seen.contains(&name) {
                continue;
            }
            list.push(json!({
                "scope": name,
                "state": "APPROVED",
                "consumer_orgno": caller.org,
                "owner_orgno": scope.owner_orgno,
                "created": iso8601(scope.created),
                "last_updated": iso8601(scope.last_updated),
                "accessible_for_all": true,
            }));
        }
    }
    ok(Value::Array(list))
}

async fn put_grant(
    AxumState(s): Shr,
    headers: HeaderMap,
    Path(consumer): Path<String>,
    Query(q): Params,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[SCOPES_WRITE])?;
    rules::check_orgno(&consumer).map_err(ApiFailure::bad_request)?;
    let name = scope_param(&q)?;
    let c = caller.clone();
    let target = format!("{name} -> {consumer}");
    let value = s
        .commit(&caller.org, "grant", target, move |state, now| {
            let scope = owned_scope(state, &c, &name)?;
            if let Some(existing) = state.grants.get(&name).and_then(|g| g.get(&consumer)) {
                return Ok((grant_json(state, existing), vec![]));
            }
            let grant = GrantRecord {
                scope: name.clone(),
                consumer_orgno: consumer,
                owner_orgno: scope.owner_orgno.clone(),
                state: "APPROVED".into(),
                created: now,
                last_updated: now,
            };
            Ok((grant_json(state, &grant), vec![Mutation::Grant(grant)]))
        })
        .await?;
    ok(value)
}

async fn delete_grant(
    AxumState(s): Shr,
    headers: HeaderMap,
    Path(consumer): Path<String>,
    Query(q): Params,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[SCOPES_WRITE])?;
    rules::check_orgno(&consumer).map_err(ApiFailure::bad_request)?;
    let name = scope_param(&q)?;
    let c = caller.clone();
    let target = format!("{name} -> {consumer}");
    s.commit(&caller.org, "revoke", target, move |state, _| {
        owned_scope(state, &c, &name)?;
        if state
            .grants
            .get(&name)
            .and_then(|g| g.get(&consumer))
            .is_none()
        {
            return Err(ApiFailure::not_found(format!(
                "organisation {consumer} has no access to {name}"
            )));
        }
        Ok((
            (),
            vec![Mutation::Revoke {
                scope: name,
                consumer,
            }],
        ))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// Clients

fn client_json(client: &ClientRecord) -> Value {
    json!({
        "client_id": client.client_id,
        "client_name": client.client_name,
        "description": client.description,
        "integration_type": client.integration_type,
        "application_type": client.application_type,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": client.grant_types,
        "scopes": client.scopes,
        "client_orgno": client.client_orgno,
        "access_token_lifetime": client.access_token_lifetime,
        "authorization_lifetime": client.authorization_lifetime,
        "refresh_token_lifetime": client.refresh_token_lifetime,
        "client_uri": client.client_uri,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "active": client.active,
        "created": iso8601(client.created),
        "last_updated": iso8601(client.last_updated),
    })
}

fn owned_client<'a>(
    state: &'a State,
    caller: &Caller,
    id: &str,
) -> Result<&'a ClientRecord, ApiFailure> {
    let client = state
        .clients
        .get(id)
        .filter(|c| !c.admin)
        .ok_or_else(|| ApiFailure::not_found(format!("client {id} does not exist")))?;
    if client.client_orgno != caller.org {
        return Err(ApiFailure::forbidden(format!(
            "client {id} belongs to another organisation"
        )));
    }
    Ok(client)
}

/// Whether `org` may give a client `scope`: granted to it, or open to all; and active.
fn check_assignable(state: &State, org: &str, scope: &str) -> Result<(), ApiFailure> {
    let record = state
        .scopes
        .get(scope)
        .ok_or_else(|| ApiFailure::bad_request(format!("scope {scope} does not exist")))?;
    if !record.active {
        return Err(ApiFailure::bad_request(format!(
            "scope {scope} is deactivated and cannot be added to a client"
        )));
    }
    if !(record.accessible_for_all || state.is_granted(scope, org)) {
        return Err(ApiFailure::bad_request(format!(
            "organisation {org} has not been granted access to scope {scope}; ask its owner ({}) for access",
            record.owner_orgno
        )));
    }
    Ok(())
}

/// Applies the updatable fields in `body`; `old_scopes` are the scopes already held (kept
/// without a new check).
fn apply_client_fields(
    state: &State,
    client: &mut ClientRecord,
    body: &Map<String, Value>,
    old_scopes: &BTreeSet<String>,
) -> Result<(), ApiFailure> {
    if let Some(v) = field_str(body, "client_name")? {
        client.client_name = v;
    }
    if let Some(v) = field_str(body, "description")? {
        client.description = v;
    }
    if let Some(v) = field_str(body, "application_type")? {
        client.application_type = one_of("application_type", v, &["web", "browser", "native"])?;
    }
    if let Some(v) = field_str(body, "token_endpoint_auth_method")? {
        client.token_endpoint_auth_method = one_of(
            "token_endpoint_auth_method",
            v,
            &[
                "private_key_jwt",
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
        )?;
    }
    if let Some(v) = field_list(body, "grant_types")? {
        client.grant_types = v;
    }
    if let Some(scopes) = field_list(body, "scopes")? {
        let scopes: BTreeSet<String> = scopes.into_iter().collect();
        for scope in scopes.difference(old_scopes) {
            check_assignable(state, &client.client_orgno, scope)?;
        }
        client.scopes = scopes;
    }
    if let Some(v) = field_u32(body, "access_token_lifetime")? {
        client.access_token_lifetime = v;
    }
    if let Some(v) = field_u32(body, "authorization_lifetime")? {
        client.authorization_lifetime = v;
    }
    if let Some(v) = field_u32(body, "refresh_token_lifetime")? {
        client.refresh_token_lifetime = v;
    }
    if body.contains_key("client_uri") {
        client.client_uri = field_str(body, "client_uri")?;
    }
    if let Some(v) = field_list(body, "redirect_uris")? {
        client.redirect_uris = v;
    }
    if let Some(v) = field_list(body, "post_logout_redirect_uris")? {
        client.post_logout_redirect_uris = v;
    }
    Ok(())
}

async fn list_clients(AxumState(s): Shr, headers: HeaderMap) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_READ])?;
    let state = s.store.read();
    let list: Vec<Value> = state
        .clients_of(&caller.org)
        .filter(|c| !c.admin)
        .map(client_json)
        .collect();
    ok(Value::Array(list))
}

async fn get_client(AxumState(s): Shr, headers: HeaderMap, Path(id): Path<String>) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_READ])?;
    let state = s.store.read();
    ok(client_json(owned_client(&state, &caller, &id)?))
}

async fn create_client(AxumState(s): Shr, headers: HeaderMap, body: Bytes) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_WRITE])?;
    let body = parse_body(&body)?;
    if let Some(orgno) = field_str(&body, "client_orgno")?
        && orgno != caller.org
    {
        return Err(ApiFailure::forbidden(format!(
            "client_orgno {orgno} is not the token's organisation ({}); creating clients for other organisations needs the supplier flow, which the emulator does not offer",
            caller.org
        )));
    }
    let integration_type = one_of(
        "integration_type",
        field_str(&body, "integration_type")?.unwrap_or_else(|| "maskinporten".into()),
        &INTEGRATION_TYPES,
    )?;
    let client_id = uuid::Uuid::new_v4().to_string();
    let org = caller.org.clone();
    let id = client_id.clone();
    let value = s
        .commit(
            &caller.org,
            "create_client",
            client_id,
            move |state, now| {
                let mut client = ClientRecord {
                    client_id: id,
                    client_name: String::new(),
                    description: String::new(),
                    integration_type,
                    application_type: "web".into(),
                    token_endpoint_auth_method: "private_key_jwt".into(),
                    grant_types: vec![token::JWT_BEARER.into()],
                    scopes: BTreeSet::new(),
                    client_orgno: org,
                    access_token_lifetime: 0,
                    authorization_lifetime: 0,
                    refresh_token_lifetime: 0,
                    client_uri: None,
                    redirect_uris: vec![],
                    post_logout_redirect_uris: vec![],
                    active: true,
                    created: now,
                    last_updated: now,
                    admin: false,
                };
                apply_client_fields(state, &mut client, &body, &BTreeSet::new())?;
                Ok((client_json(&client), vec![Mutation::Client(client)]))
            },
        )
        .await?;
    created(value)
}

async fn update_client(
    AxumState(s): Shr,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_MODIFY, DCR_WRITE])?;
    // Ownership before the body: another organisation's client is 403 whatever is sent.
    owned_client(&s.store.read(), &caller, &id)?;
    let body = parse_body(&body)?;
    let c = caller.clone();
    let value = s
        .commit(&caller.org, "update_client", id.clone(), move |state, now| {
            let mut client = owned_client(state, &c, &id)?.clone();
            if let Some(given) = field_str(&body, "client_id")?
                && given != id
            {
                return Err(ApiFailure::bad_request("`client_id` cannot change"));
            }
            if let Some(given) = field_str(&body, "integration_type")?
                && given != client.integration_type
            {
                return Err(ApiFailure::bad_request(format!(
                    "`integration_type` cannot change on an existing client (it is {}); create a new client instead",
                    client.integration_type
                )));
            }
            if let Some(given) = field_str(&body, "client_orgno")?
                && given != client.client_orgno
            {
                return Err(ApiFailure::bad_request("`client_orgno` cannot change"));
            }
            let old_scopes = client.scopes.clone();
            apply_client_fields(state, &mut client, &body, &old_scopes)?;
            if let Some(active) = field_bool(&body, "active")? {
                client.active = active;
            }
            client.last_updated = now;
            Ok((client_json(&client), vec![Mutation::Client(client)]))
        })
        .await?;
    ok(value)
}

async fn deactivate_client(
    AxumState(s): Shr,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_MODIFY, DCR_WRITE])?;
    let c = caller.clone();
    let value = s
        .commit(
            &caller.org,
            "deactivate_client",
            id.clone(),
            move |state, now| {
                let mut client = owned_client(state, &c, &id)?.clone();
                if !client.active {
                    return Ok((client_json(&client), vec![]));
                }
                client.active = false;
                client.last_updated = now;
                Ok((client_json(&client), vec![Mutation::Client(client)]))
            },
        )
        .await?;
    ok(value)
}

// ---------------------------------------------------------------------------------------------
// Keys

fn jwks_json(set: Option<&KeySet>) -> Value {
    let Some(set) = set else {
        return json!({ "keys": [] });
    };
    let keys: Vec<Value> = set
        .keys
        .iter()
        .map(|k| {
            let mut jwk = k.jwk.clone();
            jwk.insert("exp".into(), k.exp.into());
            Value::Object(jwk)
        })
        .collect();
    json!({
        "keys": keys,
        "created": iso8601(set.created),
        "last_updated": iso8601(set.last_updated),
    })
}

async fn get_jwks(AxumState(s): Shr, headers: HeaderMap, Path(id): Path<String>) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_READ])?;
    let state = s.store.read();
    owned_client(&state, &caller, &id)?;
    ok(jwks_json(state.jwks.get(&id)))
}

async fn put_jwks(
    AxumState(s): Shr,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_MODIFY, DCR_WRITE])?;
    // Ownership before the body: another organisation's client is 403 whatever is sent.
    owned_client(&s.store.read(), &caller, &id)?;
    let body = parse_body(&body)?;
    let keys: Vec<Map<String, Value>> = match body.get("keys") {
        Some(Value::Array(keys)) => keys
            .iter()
            .map(|k| k.as_object().cloned())
            .collect::<Option<_>>()
            .ok_or_else(|| ApiFailure::bad_request("every entry of `keys` must be a JWK object"))?,
        _ => {
            return Err(ApiFailure::bad_request(
                "the body must be a JWKS: {\"keys\": [...]}",
            ));
        }
    };
    if keys.is_empty() {
        return Err(ApiFailure::bad_request(format!(
            "an empty key set cannot be registered; remove every key with DELETE /clients/{id}/jwks"
        )));
    }
    let mut checked = Vec::with_capacity(keys.len());
    let mut kids = BTreeSet::new();
    for (index, key) in keys.iter().enumerate() {
        let check = rules::check_jwk(key, index).map_err(ApiFailure::bad_request)?;
        if !kids.insert(check.kid.clone()) {
            return Err(ApiFailure::bad_request(format!(
                "kid {} appears twice in the key set",
                check.kid
            )));
        }
        checked.push(check);
    }
    let c = caller.clone();
    let value = s
        .commit(&caller.org, "put_jwks", id.clone(), move |state, now| {
            owned_client(state, &c, &id)?;
            if keys.len() > MAX_KEYS {
                return Err(ApiFailure::conflict(format!(
                    "Client '{id}' already has the maximum number of registered keys: {MAX_KEYS}"
                )));
            }
            let old = state.jwks.get(&id);
            let now_s = now.div_euclid(1000);
            let max_exp = now_s.saturating_add(KEY_MAX_LIFETIME_SECS);
            let mut stored = Vec::with_capacity(keys.len());
            for (mut jwk, check) in keys.into_iter().zip(checked) {
                if let Some(owner) = state.client_of_kid(&check.kid)
                    && owner != id
                {
                    return Err(ApiFailure::conflict(format!(
                        "kid {} is already registered to another client; every kid must be unique",
                        check.kid
                    )));
                }
                let requested_exp = jwk.remove("exp").and_then(|e| e.as_i64());
                let exp = requested_exp
                    .filter(|e| *e > now_s && *e <= max_exp)
                    .unwrap_or(max_exp);
                let previous = old.and_then(|set| {
                    set.keys.iter().find(|k| {
                        k.jwk.get("kid") == jwk.get("kid") && k.jwk.get("n") == jwk.get("n")
                    })
                });
                stored.push(StoredKey {
                    jwk,
                    exp,
                    registered: previous.map_or(now, |p| p.registered),
                });
            }
            let set = KeySet {
                keys: stored,
                created: old.map_or(now, |o| o.created),
                last_updated: now,
            };
            let body = jwks_json(Some(&set));
            Ok((
                body,
                vec![Mutation::Keys {
                    client_id: id,
                    set: Some(set),
                }],
            ))
        })
        .await?;
    ok(value)
}

async fn delete_jwks(AxumState(s): Shr, headers: HeaderMap, Path(id): Path<String>) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_MODIFY, DCR_WRITE])?;
    let c = caller.clone();
    s.commit(&caller.org, "delete_jwks", id.clone(), move |state, _| {
        owned_client(state, &c, &id)?;
        if !state.jwks.contains_key(&id) {
            return Ok(((), vec![]));
        }
        Ok((
            (),
            vec![Mutation::Keys {
                client_id: id,
                set: None,
            }],
        ))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// Contacts extension

fn contacts_json(contacts: Option<&Contacts>) -> Value {
    let empty = Contacts::default();
    let c = contacts.unwrap_or(&empty);
    json!({
        "notifications": c.notifications,
        "invoice": c.invoice.as_ref().map(|i| json!({ "email": i.email, "reference": i.reference })),
    })
}

fn parse_contacts(body: &Bytes) -> Result<Contacts, ApiFailure> {
    let contacts: Contacts = serde_json::from_slice(body).map_err(|e| {
        ApiFailure::bad_request(format!(
            "expected {{\"notifications\": [\"a@b.no\"], \"invoice\": {{\"email\": \"…\", \"reference\": \"…\"}}}}: {e}"
        ))
    })?;
    rules::check_contacts(&contacts).map_err(ApiFailure::bad_request)?;
    Ok(contacts)
}

async fn get_provider_contacts(AxumState(s): Shr, headers: HeaderMap) -> ApiResult {
    // `dcr.read` too, so that a consumer-only admin client can find out whether the extension
    // exists before it reads its clients' contacts.
    let caller = authorize(&s, &headers, &[SCOPES_READ, SCOPES_WRITE, DCR_READ])?;
    let state = s.store.read();
    ok(contacts_json(
        state.contacts.get(&format!("provider:{}", caller.org)),
    ))
}

async fn put_provider_contacts(AxumState(s): Shr, headers: HeaderMap, body: Bytes) -> ApiResult {
    let caller = authorize(&s, &headers, &[SCOPES_WRITE])?;
    let contacts = parse_contacts(&body)?;
    let target = format!("provider:{}", caller.org);
    let value = s
        .commit(
            &caller.org,
            "put_contacts",
            target.clone(),
            move |state, _| {
                let body = contacts_json(Some(&contacts));
                if state.contacts.get(&target) == Some(&contacts) {
                    return Ok((body, vec![]));
                }
                Ok((
                    body,
                    vec![Mutation::Contacts {
                        target,
                        contacts: Some(contacts),
                    }],
                ))
            },
        )
        .await?;
    ok(value)
}

async fn get_client_contacts(
    AxumState(s): Shr,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_READ])?;
    let state = s.store.read();
    owned_client(&state, &caller, &id)?;
    ok(contacts_json(state.contacts.get(&format!("client:{id}"))))
}

async fn put_client_contacts(
    AxumState(s): Shr,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_MODIFY, DCR_WRITE])?;
    // Ownership before the body: another organisation's client is 403 whatever is sent.
    owned_client(&s.store.read(), &caller, &id)?;
    let contacts = parse_contacts(&body)?;
    let c = caller.clone();
    let target = format!("client:{id}");
    let value = s
        .commit(
            &caller.org,
            "put_contacts",
            target.clone(),
            move |state, _| {
                owned_client(state, &c, &id)?;
                let body = contacts_json(Some(&contacts));
                if state.contacts.get(&target) == Some(&contacts) {
                    return Ok((body, vec![]));
                }
                Ok((
                    body,
                    vec![Mutation::Contacts {
                        target,
                        contacts: Some(contacts),
                    }],
                ))
            },
        )
        .await?;
    ok(value)
}

// ---------------------------------------------------------------------------------------------
// Token endpoint and metadata

async fn token_endpoint(
    AxumState(s): Shr,
    form: Result<axum::Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match form {
        Ok(axum::Form(form)) => form,
        Err(_) => {
            let error = token::OAuthError {
                error: "invalid_request",
                description: "the body must be application/x-www-form-urlencoded".into(),
            };
            return (StatusCode::BAD_REQUEST, axum::Json(error.body())).into_response();
        }
    };
    match token::grant(&s, &form) {
        Ok(body) => {
            let mut response = (StatusCode::OK, axum::Json(body)).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            let status = if error.error == "server_error" {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            (status, axum::Json(error.body())).into_response()
        }
    }
}

async fn jwk(AxumState(s): Shr) -> Response {
    axum::Json(s.signer.jwks()).into_response()
}

async fn metadata(AxumState(s): Shr) -> Response {
    axum::Json(token::metadata(&s.issuer)).into_response()
}

// ---------------------------------------------------------------------------------------------
// Diagnostics (`/emulator/…`): unauthenticated, for tests and local use on loopback.

async fn audit(AxumState(s): Shr) -> Response {
    let entries: Vec<AuditEntry> = s.store.audit.entries();
    axum::Json(entries).into_response()
}

async fn get_faults(AxumState(s): Shr) -> Response {
    let c = s.faults.config();
    axum::Json(json!({
        "latency_ms": c.latency.as_millis() as u64,
        "error_rate": c.error_rate,
        "rate_limit": c.rate_limit,
        "drop_rate": c.drop_rate,
        "drop_after_rate": c.drop_after_rate,
        "propagation_ms": c.propagation.as_millis() as u64,
        "seed": c.seed,
    }))
    .into_response()
}

async fn put_faults(AxumState(s): Shr, body: Bytes) -> ApiResult {
    let spec = std::str::from_utf8(&body)
        .map_err(|_| ApiFailure::bad_request("the body must be a fault spec (text)"))?;
    let config: FaultConfig = spec
        .parse()
        .map_err(|e: super::faults::FaultSpecError| ApiFailure::bad_request(e.to_string()))?;
    s.faults.set(config);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_clock(AxumState(s): Shr) -> Response {
    axum::Json(json!({ "now": iso8601(s.clock.now_ms()), "unix": s.clock.now_unix() }))
        .into_response()
}

async fn set_clock(AxumState(s): Shr, body: Bytes) -> ApiResult {
    let body = parse_body(&body)?;
    if let Some(now) = field_str(&body, "now")? {
        let at = time::OffsetDateTime::parse(&now, &time::format_description::well_known::Rfc3339)
            .map_err(|e| ApiFailure::bad_request(format!("`now` must be RFC 3339: {e}")))?;
        s.clock.set(at);
    } else if let Some(secs) = body
        .get("advance_seconds")
        .and_then(Value::as_u64)
        .filter(|s| *s <= 100 * 366 * 86_400)
    {
        s.clock.advance(std::time::Duration::from_secs(secs));
    } else {
        return Err(ApiFailure::bad_request(
            "send {\"now\": \"2030-01-01T00:00:00Z\"} or {\"advance_seconds\": 3600} (at most 100 years)",
        ));
    }
    Ok(get_clock(AxumState(s)).await)
}

async fn ca_pem(AxumState(s): Shr) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        s.ca.cert_pem().to_owned(),
    )
        .into_response()
}

async fn fallback() -> ApiFailure {
    ApiFailure::not_found("no such endpoint")
}

/// The router of every endpoint.
pub fn router(shared: Arc<Shared>) -> Router {
    let mut api = Router::new()
        .route(
            "/api/v1/scopes",
            get(get_scopes)
                .post(create_scope)
                .put(update_scope)
                .delete(deactivate_scope),
        )
        .route("/api/v1/scopes/all", get(get_all_scopes))
        .route("/api/v1/scopes/access", get(list_grants))
        .route("/api/v1/scopes/access/all", get(accessible_scopes))
        .route(
            "/api/v1/scopes/access/{consumer_orgno}",
            put(put_grant).delete(delete_grant),
        )
        .route("/api/v1/clients", get(list_clients).post(create_client))
        .route(
            "/api/v1/clients/{client_id}",
            get(get_client).put(update_client).delete(deactivate_client),
        )
        .route(
            "/api/v1/clients/{client_id}/jwks",
            get(get_jwks)
                .post(put_jwks)
                .put(put_jwks)
                .delete(delete_jwks),
        )
        .route("/token", post(token_endpoint))
        .route("/jwk", get(jwk))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/emulator/audit", get(audit))
        .route("/emulator/faults", get(get_faults).put(put_faults))
        .route("/emulator/clock", get(get_clock).post(set_clock))
        .route("/emulator/ca.pem", get(ca_pem));
    if shared.contacts_extension {
        api = api
            .route(
                "/api/v1/extensions/contacts",
                get(get_provider_contacts).put(put_provider_contacts),
            )
            .route(
                "/api/v1/extensions/clients/{client_id}/contacts",
                get(get_client_contacts).put(put_client_contacts),
            );
    }
    api.fallback(fallback).with_state(shared)
}

/// The error that makes hyper close a connection without answering (a dropped connection).
#[derive(Debug)]
struct DroppedConnection;

impl std::fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DroppedConnection {}

async fn handle(
    router: Router,
    shared: Arc<Shared>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response, DroppedConnection> {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let result = handle_with_faults(router, shared, request).await;
    match &result {
        Ok(response) => tracing::debug!(
            "emulator: {method} {path} -> {} in {:?}",
            response.status().as_u16(),
            started.elapsed()
        ),
        Err(_) => tracing::debug!("emulator: {method} {path} -> connection dropped (fault)"),
    }
    result
}

async fn handle_with_faults(
    router: Router,
    shared: Arc<Shared>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response, DroppedConnection> {
    let path = request.uri().path();
    let faulty = path.starts_with("/api/") || path == "/token";
    let request = request.map(Body::new);
    if !faulty {
        return Ok(call(router, request).await);
    }
    match shared.faults.decide() {
        Decision::DropBefore => Err(DroppedConnection),
        Decision::ServerError => Ok(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "injected fault: service unavailable",
            iso8601(shared.clock.now_ms()),
        )),
        Decision::RateLimited { retry_after_secs } => {
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "rate limit exceeded; retry after the time in Retry-After",
                iso8601(shared.clock.now_ms()),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Ok(response)
        }
        Decision::Proceed {
            latency,
            drop_after,
        } => {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let response = call(router, request).await;
            if drop_after {
                // The change (if any) is committed; the caller never hears of it.
                return Err(DroppedConnection);
            }
            Ok(response)
        }
    }
}

async fn call(router: Router, request: Request<Body>) -> Response {
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Accepts connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let shared = shared.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                handle(router.clone(), shared.clone(), request)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
}
