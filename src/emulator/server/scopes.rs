//! The scope and access-grant routes (`/api/v1/scopes…`).

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use crate::emulator::clock::iso8601;
use crate::emulator::rules::{self, DCR_READ, INTEGRATION_TYPES, SCOPES_READ, SCOPES_WRITE};
use crate::emulator::store::{GrantRecord, Mutation, ScopeRecord, State};
use crate::emulator::token::Caller;

use super::http::{
    ApiFailure, ApiResult, Params, Shr, authorize, created, field_bool, field_list, field_str,
    field_u32, flag, ok, one_of, parse_body, scope_param,
};
use super::lifecycle::deactivate;

// ---------------------------------------------------------------------------------------------
// Scopes

pub(super) fn scope_json(scope: &ScopeRecord) -> Value {
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

pub(super) fn owned_scope<'a>(
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

pub(super) async fn get_scopes(
    AxumState(s): Shr,
    headers: HeaderMap,
    Query(q): Params,
) -> ApiResult {
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

pub(super) async fn get_all_scopes(
    AxumState(s): Shr,
    headers: HeaderMap,
    Query(q): Params,
) -> ApiResult {
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

pub(super) async fn create_scope(AxumState(s): Shr, headers: HeaderMap, body: Bytes) -> ApiResult {
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
            let mut scope = ScopeRecord::new(prefix, subscope, org, now);
            apply_scope_fields(&mut scope, &body)?;
            Ok((scope_json(&scope), vec![Mutation::Scope(scope)]))
        })
        .await?;
    created(value)
}

pub(super) async fn update_scope(
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
            let mut scope = ScopeRecord::new(
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

pub(super) async fn deactivate_scope(
    AxumState(s): Shr,
    headers: HeaderMap,
    Query(q): Params,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[SCOPES_WRITE])?;
    let name = scope_param(&q)?;
    // Grants are kept: consumers keep seeing (and using) the scope until revoked.
    deactivate::<ScopeRecord>(&s, &caller, "deactivate_scope", name).await
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

pub(super) async fn list_grants(
    AxumState(s): Shr,
    headers: HeaderMap,
    Query(q): Params,
) -> ApiResult {
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

pub(super) async fn accessible_scopes(
    AxumState(s): Shr,
    headers: HeaderMap,
    Query(q): Params,
) -> ApiResult {
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

pub(super) async fn put_grant(
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

pub(super) async fn delete_grant(
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
