//! HTTP plumbing shared by the routes: the Spring-style error body, bearer-token checks, and
//! parsing of bodies, query parameters and fields.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::emulator::Shared;
use crate::emulator::clock::iso8601;
use crate::emulator::token::Caller;

pub(super) type Shr = AxumState<Arc<Shared>>;
pub(super) type Params = Query<HashMap<String, String>>;

/// A self-service API error.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    status: StatusCode,
    message: String,
}

impl ApiFailure {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub(super) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub(super) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub(crate) fn internal_error(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

pub(super) fn error_response(status: StatusCode, message: &str, timestamp: String) -> Response {
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

pub(super) type ApiResult = Result<Response, ApiFailure>;

pub(super) fn ok(value: Value) -> ApiResult {
    Ok((StatusCode::OK, axum::Json(value)).into_response())
}

pub(super) fn created(value: Value) -> ApiResult {
    Ok((StatusCode::CREATED, axum::Json(value)).into_response())
}

/// Checks the bearer token and that it carries one of `any_of`.
pub(super) fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
    any_of: &[&str],
) -> Result<Caller, ApiFailure> {
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

pub(super) fn parse_body(body: &Bytes) -> Result<Map<String, Value>, ApiFailure> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiFailure::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiFailure::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

pub(super) fn scope_param(params: &HashMap<String, String>) -> Result<String, ApiFailure> {
    params
        .get("scope")
        .filter(|s| !s.is_empty())
        .cloned()
        .ok_or_else(|| ApiFailure::bad_request("the query parameter `scope` is required"))
}

pub(super) fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

// ---------------------------------------------------------------------------------------------
// Field helpers: absent or null → None; the wrong type → 400 naming the field.

pub(super) fn field_str(
    body: &Map<String, Value>,
    field: &str,
) -> Result<Option<String>, ApiFailure> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiFailure::bad_request(format!(
            "`{field}` must be a string"
        ))),
    }
}

pub(super) fn field_bool(
    body: &Map<String, Value>,
    field: &str,
) -> Result<Option<bool>, ApiFailure> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiFailure::bad_request(format!(
            "`{field}` must be true or false"
        ))),
    }
}

pub(super) fn field_u32(body: &Map<String, Value>, field: &str) -> Result<Option<u32>, ApiFailure> {
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

pub(super) fn field_list(
    body: &Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<String>>, ApiFailure> {
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

pub(super) fn one_of(field: &str, value: String, allowed: &[&str]) -> Result<String, ApiFailure> {
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(ApiFailure::bad_request(format!(
            "`{field}` must be one of {}, not `{value}`",
            allowed.join(", ")
        )))
    }
}
