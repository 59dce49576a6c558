//! The contacts extension routes (`/api/v1/extensions/…`).

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::emulator::rules::{self, DCR_MODIFY, DCR_READ, DCR_WRITE, SCOPES_READ, SCOPES_WRITE};
use crate::emulator::store::Contacts;
use crate::emulator::store::Mutation;

use super::clients::owned_client;
use super::http::{ApiFailure, ApiResult, Shr, authorize, ok};

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

pub(super) async fn get_provider_contacts(AxumState(s): Shr, headers: HeaderMap) -> ApiResult {
    // `dcr.read` too, so that a consumer-only admin client can find out whether the extension
    // exists before it reads its clients' contacts.
    let caller = authorize(&s, &headers, &[SCOPES_READ, SCOPES_WRITE, DCR_READ])?;
    let state = s.store.read();
    ok(contacts_json(
        state.contacts.get(&format!("provider:{}", caller.org)),
    ))
}

pub(super) async fn put_provider_contacts(
    AxumState(s): Shr,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
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

pub(super) async fn get_client_contacts(
    AxumState(s): Shr,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let caller = authorize(&s, &headers, &[DCR_READ])?;
    let state = s.store.read();
    owned_client(&state, &caller, &id)?;
    ok(contacts_json(state.contacts.get(&format!("client:{id}"))))
}

pub(super) async fn put_client_contacts(
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
