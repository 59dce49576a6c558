//! The diagnostic routes (`/emulator/…`): audit log, faults, clock and the test CA;
//! unauthenticated, for tests and local use on loopback.

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::emulator::audit::AuditEntry;
use crate::emulator::clock::iso8601;
use crate::emulator::faults::FaultConfig;

use super::http::{ApiFailure, ApiResult, Shr, field_str, parse_body};

pub(super) async fn audit(AxumState(s): Shr) -> Response {
    let entries: Vec<AuditEntry> = s.store.audit.entries();
    axum::Json(entries).into_response()
}

pub(super) async fn get_faults(AxumState(s): Shr) -> Response {
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

pub(super) async fn put_faults(AxumState(s): Shr, body: Bytes) -> ApiResult {
    let spec = std::str::from_utf8(&body)
        .map_err(|_| ApiFailure::bad_request("the body must be a fault spec (text)"))?;
    let config: FaultConfig =
        spec.parse()
            .map_err(|e: crate::emulator::faults::FaultSpecError| {
                ApiFailure::bad_request(e.to_string())
            })?;
    s.faults.set(config);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn get_clock(AxumState(s): Shr) -> Response {
    axum::Json(json!({ "now": iso8601(s.clock.now_ms()), "unix": s.clock.now_unix() }))
        .into_response()
}

pub(super) async fn set_clock(AxumState(s): Shr, body: Bytes) -> ApiResult {
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

pub(super) async fn ca_pem(AxumState(s): Shr) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        s.ca.cert_pem().to_owned(),
    )
        .into_response()
}
