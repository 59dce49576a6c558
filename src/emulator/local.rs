//! The `local` environment: a persistent emulator started in-process on a random loopback
//! port, with the contacts extension on and the manifest's organisation bootstrapped, so that
//! `mpctl plan` on a `local` manifest needs nothing started by hand.

use std::path::PathBuf;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AdminIdentity, Emulator, EmulatorConfig, EmulatorError};
use crate::manifest::orgno::OrgNo;

/// Environment variable that starts the local emulator's clock at an RFC 3339 time.
pub const NOW_ENV: &str = "MPCTL_EMULATOR_NOW";

/// What the local emulator needs.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The state directory, usually `.mpctl/emulator` (the state file is `state.json` in it).
    pub state_dir: PathBuf,
    pub organization: OrgNo,
    pub prefixes: Vec<String>,
}

/// A running local emulator; it serves until dropped.
#[derive(Debug)]
pub struct LocalEmulator {
    pub api_url: String,
    pub token_url: String,
    /// The JWT `aud` of grant assertions (the issuer).
    pub audience: String,
    pub admin: AdminIdentity,
    pub emulator: Emulator,
}

/// Reads [`NOW_ENV`], if set.
fn clock_start() -> Result<Option<OffsetDateTime>, EmulatorError> {
    match std::env::var(NOW_ENV) {
        Ok(value) if !value.trim().is_empty() => OffsetDateTime::parse(value.trim(), &Rfc3339)
            .map(Some)
            .map_err(|e| {
                EmulatorError::Bootstrap(format!(
                    "{NOW_ENV}=`{value}` is not an RFC 3339 time (e.g. 2030-01-01T00:00:00Z): {e}"
                ))
            }),
        _ => Ok(None),
    }
}

/// Starts the local emulator and bootstraps (idempotently) the organisation.
pub async fn start_local(options: LocalOptions) -> Result<LocalEmulator, EmulatorError> {
    let config = EmulatorConfig {
        state_file: Some(options.state_dir.join("state.json")),
        contacts_extension: true,
        clock_start: clock_start()?,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config).await?;
    let admin = emulator
        .bootstrap_org(&options.organization, &options.prefixes)
        .await?;
    Ok(LocalEmulator {
        api_url: emulator.api_url(),
        token_url: emulator.token_url(),
        audience: emulator.issuer(),
        admin,
        emulator,
    })
}
