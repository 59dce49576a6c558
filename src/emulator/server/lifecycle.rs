//! Deactivation shared by the `DELETE` routes of scopes and clients, which deactivate a record
//! rather than remove it.

use std::sync::Arc;

use serde_json::Value;

use crate::emulator::Shared;
use crate::emulator::store::{ClientRecord, Mutation, ScopeRecord, State};
use crate::emulator::token::Caller;

use super::clients::{client_json, owned_client};
use super::http::{ApiFailure, ApiResult, ok};
use super::scopes::{owned_scope, scope_json};

/// A record that `DELETE` deactivates: found among the caller's own, answered as wire JSON.
pub(super) trait Deactivatable: Clone + Send + 'static {
    /// The caller's record `id`: 404 if unknown, 403 if another organisation's.
    fn owned<'a>(state: &'a State, caller: &Caller, id: &str) -> Result<&'a Self, ApiFailure>;
    /// The record's `active` flag and last-updated time.
    fn lifecycle(&mut self) -> (&mut bool, &mut i64);
    fn json(&self) -> Value;
    fn mutation(self) -> Mutation;
}

impl Deactivatable for ScopeRecord {
    fn owned<'a>(state: &'a State, caller: &Caller, id: &str) -> Result<&'a Self, ApiFailure> {
        owned_scope(state, caller, id)
    }
    fn lifecycle(&mut self) -> (&mut bool, &mut i64) {
        (&mut self.active, &mut self.last_updated)
    }
    fn json(&self) -> Value {
        scope_json(self)
    }
    fn mutation(self) -> Mutation {
        Mutation::Scope(self)
    }
}

impl Deactivatable for ClientRecord {
    fn owned<'a>(state: &'a State, caller: &Caller, id: &str) -> Result<&'a Self, ApiFailure> {
        owned_client(state, caller, id)
    }
    fn lifecycle(&mut self) -> (&mut bool, &mut i64) {
        (&mut self.active, &mut self.last_updated)
    }
    fn json(&self) -> Value {
        client_json(self)
    }
    fn mutation(self) -> Mutation {
        Mutation::Client(self)
    }
}

/// Deactivates the caller's record `id`, recording `operation` in the audit log. Idempotent:
/// an inactive record is answered as it is and nothing is written.
pub(super) async fn deactivate<R: Deactivatable>(
    shared: &Arc<Shared>,
    caller: &Caller,
    operation: &'static str,
    id: String,
) -> ApiResult {
    let c = caller.clone();
    let value = shared
        .commit(&caller.org, operation, id.clone(), move |state, now| {
            let mut record = R::owned(state, &c, &id)?.clone();
            let (active, last_updated) = record.lifecycle();
            if !*active {
                return Ok((record.json(), vec![]));
            }
            *active = false;
            *last_updated = now;
            Ok((record.json(), vec![record.mutation()]))
        })
        .await?;
    ok(value)
}
