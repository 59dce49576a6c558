//! The outcome of applying one environment's plan, as the executor reports it and the
//! renderers show it: a plan type, so that rendering depends on the plan only.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Change, ManualStep};

/// What happened to a change that was attempted and failed.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub change: Change,
    /// The API's error, as text (never containing secrets: the client redacts them).
    pub error: String,
}

/// The outcome of applying one environment's plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    pub env: String,
    /// Changes carried out, in completion order within each phase.
    pub done: Vec<Change>,
    pub failed: Vec<Failure>,
    /// Changes not attempted because something before them failed.
    pub not_done: Vec<Change>,
    /// Steps the environment has no API for: never done by apply.
    pub manual_steps: Vec<ManualStep>,
    /// `client_id`s of the clients created, by client name.
    pub created_clients: BTreeMap<String, String>,
}

impl ApplyReport {
    /// Whether every change was carried out.
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.not_done.is_empty()
    }
}
