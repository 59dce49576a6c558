//! A local stand-in for Digdir's Maskinporten self-service API and token endpoint: the same
//! paths, JSON fields, status codes and rules (see `docs/emulator.md` and
//! `schema/selfservice.openapi.json`), durable state, a movable clock, an audit log and seeded
//! fault injection. It backs the `local` environment ([`local::start_local`]),
//! `mpctl emulator serve`, and every integration test.

pub mod audit;
pub mod ca;
pub mod clock;
pub mod faults;
pub mod local;
pub mod rules;
pub mod server;
pub mod store;
pub mod token;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use audit::AuditEntry;
pub use ca::BusinessCertificate;
pub use clock::Clock;
pub use faults::FaultConfig;

use crate::manifest::orgno::OrgNo;
use crate::secret::Secret;
use ca::TestCa;
use faults::Faults;
use server::ApiFailure;
use store::{ClientRecord, KeySet, Mutation, OrgRecord, Secrets, State, Store, StoredKey};
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

/// The credentials of an organisation's bootstrap admin client: it holds every self-service
/// scope and authenticates with the registered key `kid`.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminIdentity {
    pub client_id: String,
    pub kid: String,
    /// PKCS#8 PEM. Secret: never printed; `Debug` redacts it.
    pub private_key_pem: String,
}

impl std::fmt::Debug for AdminIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminIdentity")
            .field("client_id", &self.client_id)
            .field("kid", &self.kid)
            .field("private_key_pem", &"<redacted>")
            .finish()
    }
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
fn admin_key(org: &str, in_memory: bool) -> Result<String, EmulatorError> {
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
fn open_store(config: &EmulatorConfig, now_ms: i64) -> Result<Store, EmulatorError> {
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
        let store = tokio::task::spawn_blocking(move || open_store(&store_config, now_ms))
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

    /// Registers `org` (idempotently) with `prefixes` added to its prefixes, and an admin
    /// client holding every self-service scope, authenticated by a registered RSA key that
    /// does not expire. Calling it again returns the same identity.
    pub async fn bootstrap_org(
        &self,
        org: &OrgNo,
        prefixes: &[String],
    ) -> Result<AdminIdentity, EmulatorError> {
        let all: Vec<String> = rules::SELF_SERVICE_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        self.bootstrap_org_with_scopes(org, prefixes, &all).await
    }

    /// As [`Emulator::bootstrap_org`], with an admin client that holds only `admin_scopes`
    /// (self-service scopes), as many organisations' admin clients do: the token endpoint
    /// refuses it any other scope (`invalid_scope`). Bootstrapping again sets its scopes anew.
    pub async fn bootstrap_org_with_scopes(
        &self,
        org: &OrgNo,
        prefixes: &[String],
        admin_scopes: &[String],
    ) -> Result<AdminIdentity, EmulatorError> {
        let admin_scopes = parse_admin_scopes(admin_scopes)?;
        org.check()
            .map_err(|e| EmulatorError::Bootstrap(e.to_string()))?;
        for prefix in prefixes {
            rules::check_prefix(prefix).map_err(EmulatorError::Bootstrap)?;
        }
        let existing = self.shared.store.read().orgs.get(org.as_str()).cloned();
        let private_key_pem = match existing
            .as_ref()
            .and_then(|o| o.admin_private_key_pem.clone())
            .map(Secret::into_inner)
        {
            Some(pem) => pem,
            None => {
                let orgno = org.as_str().to_owned();
                let in_memory = self.in_memory;
                tokio::task::spawn_blocking(move || admin_key(&orgno, in_memory))
                    .await
                    .map_err(setup_error)??
            }
        };
        let orgno = org.as_str().to_owned();
        let prefixes: BTreeSet<String> = prefixes.iter().cloned().collect();
        let shared = self.shared.clone();
        let identity = tokio::task::spawn_blocking(move || {
            let now = shared.clock.now_ms();
            shared.store.commit(
                |identity: &AdminIdentity| {
                    Some(AuditEntry {
                        time: clock::iso8601(now),
                        org: "emulator".into(),
                        operation: "bootstrap_org".into(),
                        target: identity.client_id.clone(),
                    })
                },
                |state| {
                    bootstrap_mutations(state, &orgno, prefixes, private_key_pem, admin_scopes, now)
                },
            )
        })
        .await
        .map_err(setup_error)?
        .map_err(|e| match e {
            store::CommitError::Rejected(message) => EmulatorError::Bootstrap(message),
            store::CommitError::Io(message) => EmulatorError::Setup(message),
        })?;
        Ok(identity.0)
    }

    /// Names an organisation (known or not), so that grants to it carry
    /// `consumer_organization_name` as Digdir's API sends it.
    pub async fn set_org_name(&self, org: &OrgNo, name: &str) -> Result<(), EmulatorError> {
        org.check()
            .map_err(|e| EmulatorError::Bootstrap(e.to_string()))?;
        let orgno = org.as_str().to_owned();
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(EmulatorError::Bootstrap(format!(
                "the name of organisation {orgno} is empty"
            )));
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let now = shared.clock.now_ms();
            shared.store.commit(
                |_: &()| {
                    Some(AuditEntry {
                        time: clock::iso8601(now),
                        org: "emulator".into(),
                        operation: "name_org".into(),
                        target: orgno.clone(),
                    })
                },
                |state| {
                    let mut record = state.orgs.get(&orgno).cloned().unwrap_or(OrgRecord {
                        orgno: orgno.clone(),
                        prefixes: BTreeSet::new(),
                        admin_client_id: None,
                        admin_kid: None,
                        admin_private_key_pem: None,
                        name: None,
                    });
                    if record.name.as_deref() == Some(name.as_str()) {
                        return Ok(((), vec![]));
                    }
                    record.name = Some(name.clone());
                    Ok(((), vec![Mutation::Org(record)]))
                },
            )
        })
        .await
        .map_err(setup_error)?
        .map_err(|e| match e {
            store::CommitError::Rejected(message) => EmulatorError::Bootstrap(message),
            store::CommitError::Io(message) => EmulatorError::Setup(message),
        })?;
        Ok(())
    }

    /// The admin identity of an organisation bootstrapped earlier.
    pub fn admin_identity(&self, org: &OrgNo) -> Option<AdminIdentity> {
        let state = self.shared.store.read();
        let record = state.orgs.get(org.as_str())?;
        Some(AdminIdentity {
            client_id: record.admin_client_id.clone()?,
            kid: record.admin_kid.clone()?,
            private_key_pem: record.admin_private_key_pem.clone()?.into_inner(),
        })
    }

    /// The scope prefixes registered to `org`, if it is known.
    pub fn prefixes(&self, org: &OrgNo) -> Option<Vec<String>> {
        let state = self.shared.store.read();
        Some(
            state
                .orgs
                .get(org.as_str())?
                .prefixes
                .iter()
                .cloned()
                .collect(),
        )
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

/// The mutations that register an organisation and its admin client.
fn bootstrap_mutations(
    state: &State,
    orgno: &str,
    prefixes: BTreeSet<String>,
    private_key_pem: String,
    admin_scopes: BTreeSet<String>,
    now: i64,
) -> Result<(AdminIdentity, Vec<Mutation>), String> {
    let mut mutations = Vec::new();
    let mut record = state.orgs.get(orgno).cloned().unwrap_or(OrgRecord {
        orgno: orgno.to_owned(),
        prefixes: BTreeSet::new(),
        admin_client_id: None,
        admin_kid: None,
        admin_private_key_pem: None,
        name: None,
    });
    for prefix in &prefixes {
        if let Some(owner) = state
            .orgs
            .values()
            .find(|o| o.orgno != orgno && o.prefixes.contains(prefix))
        {
            return Err(format!(
                "prefix `{prefix}` is already registered to organisation {}",
                owner.orgno
            ));
        }
    }
    let mut changed = !state.orgs.contains_key(orgno);
    for prefix in prefixes {
        changed |= record.prefixes.insert(prefix);
    }
    if let (Some(client_id), Some(kid), Some(pem)) = (
        record.admin_client_id.clone(),
        record.admin_kid.clone(),
        record.admin_private_key_pem.clone(),
    ) {
        if changed {
            mutations.push(Mutation::Org(record));
        }
        if let Some(admin) = state.clients.get(&client_id)
            && admin.scopes != admin_scopes
        {
            let mut admin = admin.clone();
            admin.scopes = admin_scopes;
            admin.last_updated = now;
            mutations.push(Mutation::Client(admin));
        }
        return Ok((
            AdminIdentity {
                client_id,
                kid,
                private_key_pem: pem.into_inner(),
            },
            mutations,
        ));
    }
    let client_id = uuid::Uuid::new_v4().to_string();
    let kid = format!(
        "admin-{orgno}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut jwk = token::public_jwk(&private_key_pem)?;
    jwk.insert("kid".into(), kid.clone().into());
    jwk.insert("alg".into(), "RS256".into());
    jwk.insert("use".into(), "sig".into());
    record.admin_client_id = Some(client_id.clone());
    record.admin_kid = Some(kid.clone());
    record.admin_private_key_pem = Some(Secret::new(private_key_pem.clone()));
    mutations.push(Mutation::Org(record));
    mutations.push(Mutation::Client(ClientRecord {
        client_id: client_id.clone(),
        client_name: format!("mpctl emulator admin {orgno}"),
        description: "Self-service admin client created by the emulator's bootstrap".into(),
        integration_type: "maskinporten".into(),
        application_type: "web".into(),
        token_endpoint_auth_method: "private_key_jwt".into(),
        grant_types: vec![token::JWT_BEARER.into()],
        scopes: admin_scopes,
        client_orgno: orgno.to_owned(),
        access_token_lifetime: 0,
        authorization_lifetime: 0,
        refresh_token_lifetime: 0,
        client_uri: None,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        active: true,
        created: now,
        last_updated: now,
        admin: true,
    }));
    mutations.push(Mutation::Keys {
        client_id: client_id.clone(),
        set: Some(KeySet {
            keys: vec![StoredKey {
                jwk,
                // The bootstrap key does not expire, so moving the clock never locks the
                // administrator out.
                exp: i64::MAX / 2,
                registered: now,
            }],
            created: now,
            last_updated: now,
        }),
    });
    Ok((
        AdminIdentity {
            client_id,
            kid,
            private_key_pem,
        },
        mutations,
    ))
}

/// Checks that every admin scope is a self-service scope; returns them sorted, without
/// duplicates.
pub fn parse_admin_scopes(scopes: &[String]) -> Result<BTreeSet<String>, EmulatorError> {
    let mut out = BTreeSet::new();
    for scope in scopes.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !rules::SELF_SERVICE_SCOPES.contains(&scope) {
            return Err(EmulatorError::Bootstrap(format!(
                "`{scope}` is not a self-service scope; use {}",
                rules::SELF_SERVICE_SCOPES.join(", ")
            )));
        }
        out.insert(scope.to_owned());
    }
    if out.is_empty() {
        return Err(EmulatorError::Bootstrap(
            "an admin client needs at least one self-service scope".into(),
        ));
    }
    Ok(out)
}

/// A parsed `ORGNO[:PREFIX,...]` bootstrap argument.
pub fn parse_bootstrap(spec: &str) -> Result<(OrgNo, Vec<String>), EmulatorError> {
    let (org, prefixes) = spec.split_once(':').unwrap_or((spec, ""));
    let org =
        OrgNo::parse(org.trim()).map_err(|e| EmulatorError::Bootstrap(format!("`{spec}`: {e}")))?;
    let prefixes: Vec<String> = prefixes
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    for prefix in &prefixes {
        rules::check_prefix(prefix).map_err(EmulatorError::Bootstrap)?;
    }
    Ok((org, prefixes))
}
