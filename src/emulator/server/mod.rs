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
//!
//! The emulator keeps its own wire shapes (its own JSON for scopes, grants, clients and keys)
//! rather than reusing the client's types on purpose: it is an independent oracle for the
//! client, so a mistake in the client's (de)serialisation cannot hide behind a shared type.

mod clients;
mod connection;
mod contacts;
mod diagnostics;
mod http;
mod keys;
mod lifecycle;
mod oauth;
mod scopes;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};

use super::Shared;
use clients::{create_client, deactivate_client, get_client, list_clients, update_client};
use contacts::{
    get_client_contacts, get_provider_contacts, put_client_contacts, put_provider_contacts,
};
use diagnostics::{audit, ca_pem, get_clock, get_faults, put_faults, set_clock};
use keys::{delete_jwks, get_jwks, put_jwks};
use oauth::{jwk, metadata, token_endpoint};
use scopes::{
    accessible_scopes, create_scope, deactivate_scope, delete_grant, get_all_scopes, get_scopes,
    list_grants, put_grant, update_scope,
};

pub use connection::serve;
pub use http::ApiFailure;

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
