//! A local stand-in for Digdir's Maskinporten self-service API and token endpoint: the same
//! paths, JSON fields, status codes and rules (see `docs/emulator.md` and
//! `schema/selfservice.openapi.json`), durable state, a movable clock, an audit log and seeded
//! fault injection. It backs the `local` environment ([`local::start_local`]),
//! `mpctl emulator serve`, and every integration test.
//!
//! The emulator keeps its own wire shapes on purpose. It is an independent oracle for mpctl's
//! HTTP client: its request and response bodies are built from Digdir's API documentation (as
//! written down in `schema/selfservice.openapi.json`), not from the client's types, so
//! that a client bug in a field name or shape fails the tests instead of being mirrored by the
//! emulator. It therefore never imports `crate::api::wire` or the manifest and state types
//! (`crate::manifest::model`, `crate::state`) for its bodies or its stored state; even the
//! contacts extension has its own [`store::Contacts`]. What it does share is no shape: the
//! organisation-number check ([`crate::manifest::orgno`], a rule of the register) and
//! [`crate::secret::Secret`].

pub mod audit;
mod bootstrap;
pub mod ca;
pub mod clock;
pub mod faults;
pub mod local;
pub mod rules;
pub mod server;
mod setup;
pub mod store;
pub mod token;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use audit::AuditEntry;
pub use bootstrap::{AdminIdentity, parse_admin_scopes, parse_bootstrap};
pub use ca::BusinessCertificate;
pub use clock::Clock;
pub use faults::FaultConfig;

use crate::manifest::orgno::OrgNo;
use ca::TestCa;
use faults::Faults;
use server::ApiFailure;
use store::{Mutation, State, Store};
use token::Signer;

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where to listen; the default `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// The state file (snapshot); `None` keeps the state in memory only.
    pub state_file: Option<PathBuf>,
    /// Serve the contacts/invoice extension endpoints (Digdir has no such API).
    pub contacts_extension: bool,
    /// Start the clock here instead of at the current time.
    pub clock_start: Option<OffsetDateTime>,
    pub faults: FaultConfig,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_file: None,
            contacts_extension: false,
            clock_start: None,
            faults: FaultConfig::default(),
        }
    }
}

/// Why the emulator could not start or do what was asked.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EmulatorError {
    #[error("cannot listen on {addr}: {message}")]
    #[diagnostic(
        code(mpctl::emulator::bind),
        help(
            "choose another address with --listen (port 0 picks a free one), or stop what uses it"
        )
    )]
    Bind { addr: String, message: String },

    #[error("{}: {message}", path.display())]
    #[diagnostic(
        code(mpctl::emulator::io),
        help("check that the directory exists and is writable")
    )]
    Io { path: PathBuf, message: String },

    #[error("the emulator state {} is in use by another process", path.display())]
    #[diagnostic(
        code(mpctl::emulator::locked),
        help(
            "stop the other `mpctl emulator serve` or mpctl command using it, or pass another --state"
        )
    )]
    Locked { path: PathBuf },

    #[error("the emulator state {} is corrupt: {message}", path.display())]
    #[diagnostic(
        code(mpctl::emulator::corrupt),
        help("move the file aside to start from an empty state")
    )]
    Corrupt { path: PathBuf, message: String },

    #[error("invalid organisation setup: {0}")]
    #[diagnostic(
        code(mpctl::emulator::bootstrap),
        help(
            "use ORGNO[:PREFIX,...] with a valid 9-digit organisation number, e.g. 910753282:acme"
        )
    )]
    Bootstrap(String),

    #[error("emulator setup failed: {0}")]
    #[diagnostic(
        code(mpctl::emulator::setup),
        help("this is a bug in mpctl; please report it")
    )]
    Setup(String),
}

/// What every request handler shares.
pub struct Shared {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    pub(crate) faults: Faults,
    pub(crate) signer: Signer,
    pub(crate) ca: TestCa,
    /// `http://127.0.0.1:PORT/`: the token issuer and the assertions' audience.
    pub(crate) issuer: String,
    pub(crate) contacts_extension: bool,
    /// Assertion `jti`s seen, with when they may be forgotten (Unix seconds).
    pub(crate) jtis: Mutex<HashMap<String, i64>>,
    /// Access tokens already verified, by token.
    pub(crate) verified: Mutex<HashMap<String, token::Caller>>,
}

impl Shared {
    /// Runs `decide` against the state and commits what it returns (durably, in a blocking
    /// task), recording `operation` on `target` by `org` in the audit log.
    pub(crate) async fn commit<T: Send + 'static>(
        self: &Arc<Self>,
        org: &str,
        operation: &'static str,
        target: String,
        decide: impl FnOnce(&State, i64) -> Result<(T, Vec<Mutation>), ApiFailure> + Send + 'static,
    ) -> Result<T, ApiFailure> {
        let shared = self.clone();
        let org = org.to_owned();
        let result = tokio::task::spawn_blocking(move || {
            let now = shared.clock.now_ms();
            shared.store.commit(
                |_| {
                    Some(AuditEntry {
                        time: clock::iso8601(now),
                        org,
                        operation: operation.into(),
                        target,
                    })
                },
                |state| decide(state, now),
            )
        })
        .await;
        match result {
            Ok(Ok((value, _))) => Ok(value),
            Ok(Err(store::CommitError::Rejected(failure))) => Err(failure),
            Ok(Err(store::CommitError::Io(message))) => Err(server_error(message)),
            Err(e) => Err(server_error(format!("the request failed: {e}"))),
        }
    }
}

fn server_error(message: String) -> ApiFailure {
    tracing::error!("emulator: {message}");
    ApiFailure::internal_error(message)
}

/// A running emulator. Dropping it stops the server and releases its state file.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    in_memory: bool,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn setup_error(e: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Setup(e.to_string())
}

impl Emulator {
    /// Starts an emulator: opens (or creates) its state, binds, and serves in the background
    /// on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let clock = match config.clock_start {
            Some(at) => Clock::starting_at(at),
            None => Clock::new(),
        };
        let now_ms = clock.now_ms();
        let store_config = config.clone();
        let store = tokio::task::spawn_blocking(move || setup::open_store(&store_config, now_ms))
            .await
            .map_err(setup_error)??;
        let secrets = store
            .read()
            .secrets
            .clone()
            .ok_or_else(|| setup_error("the emulator keys are missing"))?;
        let signer = Signer::from_pem(secrets.signing_key_pem.expose(), &secrets.signing_kid)
            .map_err(setup_error)?;
        let ca = TestCa::from_pem(secrets.ca_key_pem.expose(), &secrets.ca_cert_pem)
            .map_err(setup_error)?;

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| EmulatorError::Bind {
                addr: config.listen.to_string(),
                message: e.to_string(),
            })?;
        let addr = listener.local_addr().map_err(|e| EmulatorError::Bind {
            addr: config.listen.to_string(),
            message: e.to_string(),
        })?;
        let host = if addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", addr.port())
        } else {
            addr.to_string()
        };
        let shared = Arc::new(Shared {
            store,
            clock,
            faults: Faults::new(config.faults.clone()),
            signer,
            ca,
            issuer: format!("http://{host}/"),
            contacts_extension: config.contacts_extension,
            jtis: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
        });
        let (shutdown, receiver) = watch::channel(false);
        let router = server::router(shared.clone());
        let task = tokio::spawn(server::serve(listener, router, shared.clone(), receiver));
        Ok(Emulator {
            shared,
            addr,
            shutdown,
            task: Some(task),
            in_memory: config.state_file.is_none(),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn base(&self) -> &str {
        self.shared.issuer.trim_end_matches('/')
    }

    /// The self-service API base, `http://127.0.0.1:PORT/api/v1`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v1", self.base())
    }

    /// The token endpoint, `http://127.0.0.1:PORT/token`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base())
    }

    /// The issuer, which is also the audience of grant assertions: `http://127.0.0.1:PORT/`.
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// Every mutation acknowledged by this process, oldest first.
    pub fn audit(&self) -> Vec<AuditEntry> {
        self.shared.store.audit.entries()
    }

    /// The emulator's clock (set or advance it to test expiry).
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Replaces the fault configuration (and restarts its random sequence from the seed).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.shared.faults.set(faults);
    }

    /// The test CA's certificate (PEM).
    pub fn ca_cert_pem(&self) -> String {
        self.shared.ca.cert_pem().to_owned()
    }

    /// Issues a business certificate for `org` from the emulator's test CA, valid from now
    /// (emulator clock, minus a minute) for `valid_days`.
    pub fn issue_business_certificate(
        &self,
        org: &OrgNo,
        valid_days: u32,
    ) -> Result<BusinessCertificate, EmulatorError> {
        let now = self.shared.clock.now_unix();
        self.shared
            .ca
            .issue(org, now - 60, now + i64::from(valid_days) * 86_400)
            .map_err(setup_error)
    }

    /// Stops serving, writes a compact snapshot and releases the state file.
    pub async fn shutdown(mut self) -> Result<(), EmulatorError> {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.store.close())
            .await
            .map_err(setup_error)?
            .map_err(EmulatorError::Setup)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Err(message) = self.shared.store.close() {
            tracing::warn!("emulator: {message}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The emulator's sources name none of the client's or the manifest's types (see the module
    /// doc); comments may.
    #[test]
    fn the_emulator_does_not_use_the_clients_types() {
        fn check(dir: &Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    check(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (i, line) in text.lines().enumerate() {
                        let code = line.split("//").next().unwrap_or_default();
                        for module in ["api", "state", "manifest::model"] {
                            if code.contains(&format!("crate::{module}")) {
                                found.push(format!("{}:{}: {}", path.display(), i + 1, line));
                            }
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        check(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/emulator"),
            &mut found,
        );
        assert!(found.is_empty(), "{found:#?}");
    }
}
