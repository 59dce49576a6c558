//! The emulator's own keys (token signing, test CA) and the admin clients' keys: generated per
//! state file, or once per process for in-memory emulators.

use std::sync::Mutex;

use super::ca::{self, TestCa};
use super::store::{self, Mutation, Secrets, Store};
use super::{AuditEntry, EmulatorConfig, EmulatorError, clock, setup_error};
use crate::secret::Secret;

fn generate_secrets() -> Result<Secrets, EmulatorError> {
    let ca = TestCa::generate().map_err(setup_error)?;
    let signing_key_pem = ca::generate_rsa_pem().map_err(setup_error)?;
    Ok(Secrets {
        signing_key_pem: Secret::new(signing_key_pem),
        signing_kid: format!(
            "mpctl-emulator-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ),
        ca_key_pem: Secret::new(ca.key_pem().to_owned()),
        ca_cert_pem: ca.cert_pem().to_owned(),
    })
}

/// Keys of in-memory emulators, generated once per process: RSA key generation takes the
/// better part of a second, and tests start many short-lived emulators. Persistent emulators
/// generate their own and keep them in their state.
struct ProcessKeys {
    secrets: Mutex<Option<Secrets>>,
    admin_keys: Mutex<std::collections::BTreeMap<String, String>>,
}

static PROCESS_KEYS: ProcessKeys = ProcessKeys {
    secrets: Mutex::new(None),
    admin_keys: Mutex::new(std::collections::BTreeMap::new()),
};

fn in_memory_secrets() -> Result<Secrets, EmulatorError> {
    let mut cached = PROCESS_KEYS
        .secrets
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(secrets) = cached.as_ref() {
        return Ok(secrets.clone());
    }
    let secrets = generate_secrets()?;
    *cached = Some(secrets.clone());
    Ok(secrets)
}

/// An admin key for `org`: generated, or for in-memory emulators reused within the process.
pub(super) fn admin_key(org: &str, in_memory: bool) -> Result<String, EmulatorError> {
    if !in_memory {
        return ca::generate_rsa_pem().map_err(setup_error);
    }
    if let Some(pem) = PROCESS_KEYS
        .admin_keys
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(org)
    {
        return Ok(pem.clone());
    }
    let pem = ca::generate_rsa_pem().map_err(setup_error)?;
    PROCESS_KEYS
        .admin_keys
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(org.to_owned())
        .or_insert(pem.clone());
    Ok(pem)
}

/// Opens the store and makes sure it has the emulator's own keys.
pub(super) fn open_store(config: &EmulatorConfig, now_ms: i64) -> Result<Store, EmulatorError> {
    let store = match &config.state_file {
        Some(path) => Store::open(path)?,
        None => Store::in_memory(),
    };
    if store.read().secrets.is_none() {
        let secrets = if config.state_file.is_some() {
            generate_secrets()?
        } else {
            in_memory_secrets()?
        };
        store
            .commit(
                |_: &()| {
                    Some(AuditEntry {
                        time: clock::iso8601(now_ms),
                        org: "emulator".into(),
                        operation: "init".into(),
                        target: "keys".into(),
                    })
                },
                |_| Ok::<_, ()>(((), vec![Mutation::Secrets(secrets)])),
            )
            .map_err(|e| match e {
                store::CommitError::Io(message) => EmulatorError::Io {
                    path: config.state_file.clone().unwrap_or_default(),
                    message,
                },
                store::CommitError::Rejected(()) => setup_error("cannot store the emulator keys"),
            })?;
    }
    Ok(store)
}
