//! The key-set routes (`/api/v1/clients/{client_id}/jwks`).

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use crate::emulator::clock::iso8601;
use crate::emulator::rules::{
    self, DCR_MODIFY, DCR_READ, DCR_WRITE, KEY_MAX_LIFETIME_SECS, MAX_KEYS,
};
use crate::emulator::store::{KeySet, Mutation, StoredKey};

use super::clients::owned_client;
use super::http::{ApiFailure, ApiResult, Shr, authorize, ok, parse_body};

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

pub(super) async fn get_jwks(
    AxumState(s): Shr,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_READ])?;
    let state = s.store.read();
    owned_client(&state, &caller, &id)?;
    ok(jwks_json(state.jwks.get(&id)))
}

pub(super) async fn put_jwks(
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

pub(super) async fn delete_jwks(
    AxumState(s): Shr,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
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
