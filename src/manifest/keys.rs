//! Client key files: JWK, JWKS, PEM public key or PEM X.509 certificate, turned into the public
//! JWK the API wants. Private key material is refused and never echoed.

use std::path::Path;

use crate::state::KeyState;

/// How bad a problem with a key file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A problem found in a key file. The message names the file but never quotes key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFileProblem {
    pub severity: Severity,
    pub message: String,
    pub help: Option<String>,
}

/// Reads one key file and returns its public keys (as they will be registered) and any
/// problems. `now` (Unix seconds) and `warn_expiry_days` decide certificate-expiry warnings.
pub fn load_key_file(
    path: &Path,
    now: i64,
    warn_expiry_days: u32,
) -> (Vec<KeyState>, Vec<KeyFileProblem>) {
    let _ = (now, warn_expiry_days);
    (
        Vec::new(),
        vec![KeyFileProblem {
            severity: Severity::Error,
            message: format!(
                "cannot read key file {}: key files are not supported in this build",
                path.display()
            ),
            help: None,
        }],
    )
}
