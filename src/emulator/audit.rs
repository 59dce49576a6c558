//! The audit log: every mutation the emulator acknowledged, in order, with who made it. Tests
//! read it to check the order in which a client performed operations.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One acknowledged mutation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (ISO-8601, emulator clock).
    pub time: String,
    /// The organisation that made the change (from the bearer token), or `emulator` for
    /// bootstrap and setup.
    pub org: String,
    /// What was done, e.g. `create_scope`, `grant`, `put_jwks`.
    pub operation: String,
    /// What it was done to: a scope name, `scope -> consumer`, a client id.
    pub target: String,
}

/// The in-memory log of this process's mutations (it is not persisted: a restarted emulator
/// starts an empty log, while its state is kept).
#[derive(Debug, Default)]
pub struct AuditLog {
    entries: Mutex<Vec<AuditEntry>>,
}

impl AuditLog {
    pub fn push(&self, entry: AuditEntry) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.push(entry);
        }
    }

    /// A copy of every entry so far, oldest first.
    pub fn entries(&self) -> Vec<AuditEntry> {
        self.entries.lock().map(|e| e.clone()).unwrap_or_default()
    }
}
