//! The client routes (`/api/v1/clients…`).

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use crate::emulator::clock::iso8601;
use crate::emulator::rules::{DCR_MODIFY, DCR_READ, DCR_WRITE, INTEGRATION_TYPES};
use crate::emulator::store::{ClientRecord, Mutation, State};
use crate::emulator::token::{self, Caller};

use super::http::{
    ApiFailure, ApiResult, Shr, authorize, created, field_bool, field_list, field_str, field_u32,
    ok, one_of, parse_body,
};
use super::lifecycle::deactivate;

pub(super) fn client_json(client: &ClientRecord) -> Value {
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

pub(super) fn owned_client<'a>(
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

pub(super) async fn list_clients(AxumState(s): Shr, headers: HeaderMap) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_READ])?;
    let state = s.store.read();
    let list: Vec<Value> = state
        .clients_of(&caller.org)
        .filter(|c| !c.admin)
        .map(client_json)
        .collect();
    ok(Value::Array(list))
}

pub(super) async fn get_client(
    AxumState(s): Shr,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_READ])?;
    let state = s.store.read();
    ok(client_json(owned_client(&state, &caller, &id)?))
}

pub(super) async fn create_client(AxumState(s): Shr, headers: HeaderMap, body: Bytes) -> ApiResult {
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

pub(super) async fn update_client(
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

pub(super) async fn deactivate_client(
    AxumState(s): Shr,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_MODIFY, DCR_WRITE])?;
    deactivate::<ClientRecord>(&s, &caller, "deactivate_client", id).await
}
