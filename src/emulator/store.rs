//! The emulator's state and its persistence.
//!
//! State lives in memory behind a lock. With a state file, every acknowledged write is made
//! durable before the response: each commit appends one JSON line to a journal
//! (`<state>.journal`) and `fdatasync`s it (concurrent commits share one sync). On start the
//! snapshot (`<state>`) is loaded and the journal replayed; a torn last line — a write that was
//! never acknowledged — is dropped. Compaction writes a new snapshot (temp file, fsync, rename,
//! directory fsync) and empties the journal, on start, on shutdown and when the journal grows
//! long. Journal lines carry sequence numbers so a crash between the rename and the truncation
//! never applies a line twice. An exclusive lock on `<state>.lock` keeps two processes apart.
//!
//! The state files hold secrets (the CA key, the token-signing key, admin keys) and are created
//! with mode 0600.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use serde::{Deserialize, Serialize};

use super::EmulatorError;
use super::audit::{AuditEntry, AuditLog};
use crate::secret::Secret;

mod contacts;
pub use contacts::{Contacts, Invoice};

/// Compact when the journal holds this many commits.
const COMPACT_AFTER: u64 = 20_000;

/// Keys and certificates the emulator itself needs; generated once, kept in the state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Secrets {
    /// RSA key signing access tokens (PKCS#8 PEM).
    pub signing_key_pem: Secret<String>,
    /// `kid` of the signing key in `/jwk`.
    pub signing_kid: String,
    pub ca_key_pem: Secret<String>,
    pub ca_cert_pem: String,
}

/// An organisation known to the emulator: its scope prefixes and bootstrap admin client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrgRecord {
    pub orgno: String,
    pub prefixes: BTreeSet<String>,
    pub admin_client_id: Option<String>,
    pub admin_kid: Option<String>,
    /// The admin client's private key (PKCS#8 PEM). Secret.
    pub admin_private_key_pem: Option<Secret<String>>,
    /// The organisation's name, sent with grants (`consumer_organization_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A scope as stored; [`super::server`] maps it to the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScopeRecord {
    pub prefix: String,
    pub subscope: String,
    pub owner_orgno: String,
    pub description: String,
    pub long_description: Option<String>,
    pub descriptions: Option<serde_json::Value>,
    pub visibility: String,
    pub token_type: String,
    pub at_max_age: u32,
    pub authorization_max_lifetime: u32,
    pub allowed_integration_types: Vec<String>,
    pub accessible_for_all: bool,
    pub requires_user_consent: bool,
    pub requires_user_authentication: bool,
    pub requires_pseudonymous_tokens: bool,
    pub enforced_aud_for_access_token: Option<String>,
    pub delegation_source: Option<String>,
    pub protected: bool,
    pub supports_european_businesses: bool,
    pub active: bool,
    pub created: i64,
    pub last_updated: i64,
}

impl ScopeRecord {
    /// A new active scope with every optional field at the value the API gives it when it is
    /// not sent.
    pub fn new(prefix: String, subscope: String, owner_orgno: String, now: i64) -> Self {
        Self {
            prefix,
            subscope,
            owner_orgno,
            description: String::new(),
            long_description: None,
            descriptions: None,
            visibility: "PUBLIC".into(),
            token_type: "SELF_CONTAINED".into(),
            at_max_age: 120,
            authorization_max_lifetime: 0,
            allowed_integration_types: vec!["maskinporten".into()],
            accessible_for_all: false,
            requires_user_consent: false,
            requires_user_authentication: false,
            requires_pseudonymous_tokens: false,
            enforced_aud_for_access_token: None,
            delegation_source: None,
            protected: false,
            supports_european_businesses: false,
            active: true,
            created: now,
            last_updated: now,
        }
    }

    pub fn name(&self) -> String {
        format!("{}:{}", self.prefix, self.subscope)
    }
}

/// An access grant of a scope to a consumer organisation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantRecord {
    pub scope: String,
    pub consumer_orgno: String,
    pub owner_orgno: String,
    pub state: String,
    pub created: i64,
    pub last_updated: i64,
}

/// A client as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRecord {
    pub client_id: String,
    pub client_name: String,
    pub description: String,
    pub integration_type: String,
    pub application_type: String,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub scopes: BTreeSet<String>,
    pub client_orgno: String,
    pub access_token_lifetime: u32,
    pub authorization_lifetime: u32,
    pub refresh_token_lifetime: u32,
    pub client_uri: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub active: bool,
    pub created: i64,
    pub last_updated: i64,
    /// A bootstrap admin client: hidden from the API, holds the self-service scopes.
    #[serde(default)]
    pub admin: bool,
}

/// One registered key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey {
    /// The JWK as registered, without `exp`.
    pub jwk: serde_json::Map<String, serde_json::Value>,
    /// JWK `exp`, Unix seconds.
    pub exp: i64,
    /// When this key was (re-)registered, Unix ms (for the propagation delay).
    pub registered: i64,
}

/// A client's key set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeySet {
    pub keys: Vec<StoredKey>,
    pub created: i64,
    pub last_updated: i64,
}

/// Derived lookups, rebuilt on load and kept up to date by [`State::apply`].
#[derive(Debug, Default)]
struct Indices {
    scopes_by_owner: BTreeMap<String, BTreeSet<String>>,
    grants_by_consumer: BTreeMap<String, BTreeSet<String>>,
    clients_by_org: BTreeMap<String, BTreeSet<String>>,
    client_by_kid: HashMap<String, String>,
}

/// Everything the emulator knows.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub secrets: Option<Secrets>,
    pub orgs: BTreeMap<String, OrgRecord>,
    pub scopes: BTreeMap<String, ScopeRecord>,
    /// scope name → consumer org → grant.
    pub grants: BTreeMap<String, BTreeMap<String, GrantRecord>>,
    pub clients: BTreeMap<String, ClientRecord>,
    pub jwks: BTreeMap<String, KeySet>,
    /// `provider:<orgno>` or `client:<client_id>` → contacts (the emulator extension).
    pub contacts: BTreeMap<String, Contacts>,
    #[serde(skip)]
    idx: Indices,
}

/// One change to the state. Each is idempotent (a full new value or a removal), so replaying a
/// journal line twice does no harm.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Mutation {
    Secrets(Secrets),
    Org(OrgRecord),
    Scope(ScopeRecord),
    Grant(GrantRecord),
    Revoke {
        scope: String,
        consumer: String,
    },
    Client(ClientRecord),
    Keys {
        client_id: String,
        set: Option<KeySet>,
    },
    Contacts {
        target: String,
        contacts: Option<Contacts>,
    },
}

impl State {
    /// Scope names owned by `org`.
    pub fn scopes_of(&self, org: &str) -> impl Iterator<Item = &ScopeRecord> {
        self.idx
            .scopes_by_owner
            .get(org)
            .into_iter()
            .flatten()
            .filter_map(|name| self.scopes.get(name))
    }

    /// Grants whose consumer is `org`.
    pub fn grants_to(&self, org: &str) -> impl Iterator<Item = &GrantRecord> {
        self.idx
            .grants_by_consumer
            .get(org)
            .into_iter()
            .flatten()
            .filter_map(move |scope| self.grants.get(scope).and_then(|g| g.get(org)))
    }

    /// Whether `org` holds an approved grant of `scope`.
    pub fn is_granted(&self, scope: &str, org: &str) -> bool {
        self.grants
            .get(scope)
            .and_then(|g| g.get(org))
            .is_some_and(|g| g.state == "APPROVED")
    }

    /// Clients of `org`, admin clients included.
    pub fn clients_of(&self, org: &str) -> impl Iterator<Item = &ClientRecord> {
        self.idx
            .clients_by_org
            .get(org)
            .into_iter()
            .flatten()
            .filter_map(|id| self.clients.get(id))
    }

    /// The client that registered `kid`.
    pub fn client_of_kid(&self, kid: &str) -> Option<&str> {
        self.idx.client_by_kid.get(kid).map(String::as_str)
    }

    fn rebuild_indices(&mut self) {
        self.idx = Indices::default();
        for (name, scope) in &self.scopes {
            self.idx
                .scopes_by_owner
                .entry(scope.owner_orgno.clone())
                .or_default()
                .insert(name.clone());
        }
        for (scope, grants) in &self.grants {
            for consumer in grants.keys() {
                self.idx
                    .grants_by_consumer
                    .entry(consumer.clone())
                    .or_default()
                    .insert(scope.clone());
            }
        }
        for (id, client) in &self.clients {
            self.idx
                .clients_by_org
                .entry(client.client_orgno.clone())
                .or_default()
                .insert(id.clone());
        }
        for (id, set) in &self.jwks {
            for key in &set.keys {
                if let Some(kid) = key.jwk.get("kid").and_then(|k| k.as_str()) {
                    self.idx.client_by_kid.insert(kid.to_owned(), id.clone());
                }
            }
        }
    }

    /// Applies one mutation, keeping the indices in step.
    pub fn apply(&mut self, mutation: Mutation) {
        match mutation {
            Mutation::Secrets(secrets) => self.secrets = Some(secrets),
            Mutation::Org(org) => {
                self.orgs.insert(org.orgno.clone(), org);
            }
            Mutation::Scope(scope) => {
                let name = scope.name();
                self.idx
                    .scopes_by_owner
                    .entry(scope.owner_orgno.clone())
                    .or_default()
                    .insert(name.clone());
                self.scopes.insert(name, scope);
            }
            Mutation::Grant(grant) => {
                self.idx
                    .grants_by_consumer
                    .entry(grant.consumer_orgno.clone())
                    .or_default()
                    .insert(grant.scope.clone());
                self.grants
                    .entry(grant.scope.clone())
                    .or_default()
                    .insert(grant.consumer_orgno.clone(), grant);
            }
            Mutation::Revoke { scope, consumer } => {
                if let Some(grants) = self.grants.get_mut(&scope) {
                    grants.remove(&consumer);
                    if grants.is_empty() {
                        self.grants.remove(&scope);
                    }
                }
                if let Some(scopes) = self.idx.grants_by_consumer.get_mut(&consumer) {
                    scopes.remove(&scope);
                }
            }
            Mutation::Client(client) => {
                self.idx
                    .clients_by_org
                    .entry(client.client_orgno.clone())
                    .or_default()
                    .insert(client.client_id.clone());
                self.clients.insert(client.client_id.clone(), client);
            }
            Mutation::Keys { client_id, set } => {
                if let Some(old) = self.jwks.remove(&client_id) {
                    for key in old.keys {
                        if let Some(kid) = key.jwk.get("kid").and_then(|k| k.as_str()) {
                            self.idx.client_by_kid.remove(kid);
                        }
                    }
                }
                if let Some(set) = set {
                    for key in &set.keys {
                        if let Some(kid) = key.jwk.get("kid").and_then(|k| k.as_str()) {
                            self.idx
                                .client_by_kid
                                .insert(kid.to_owned(), client_id.clone());
                        }
                    }
                    self.jwks.insert(client_id, set);
                }
            }
            Mutation::Contacts { target, contacts } => match contacts {
                Some(contacts) => {
                    self.contacts.insert(target, contacts);
                }
                None => {
                    self.contacts.remove(&target);
                }
            },
        }
    }
}

/// A committed batch of mutations as one journal line.
#[derive(Serialize, Deserialize)]
struct JournalLine {
    seq: u64,
    audit: Option<AuditEntry>,
    mutations: Vec<Mutation>,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    format: u32,
    seq: u64,
    state: State,
}

/// The files of a persistent store.
struct Files {
    snapshot: PathBuf,
    journal: File,
    /// Another handle on the journal, synced outside the state lock.
    sync_handle: File,
    /// Held for the store's lifetime: the exclusive lock.
    _lock: File,
}

/// The journal and its bookkeeping; locked after the state lock, never before.
struct Journal {
    files: Option<Files>,
    /// Sequence number of the last journal line written.
    seq: u64,
    /// Lines in the journal since the last compaction.
    lines: u64,
    /// Set by [`Store::close`]: later commits are refused.
    closed: bool,
}

/// Why a commit failed.
#[derive(Debug)]
pub enum CommitError<E> {
    /// The change was refused (validation, authorisation…).
    Rejected(E),
    /// The change could not be made durable.
    Io(String),
}

/// The state plus its persistence.
pub struct Store {
    state: RwLock<State>,
    /// The audit log, appended under the state lock so its order is the commit order.
    pub audit: AuditLog,
    journal: Mutex<Journal>,
    /// Highest sequence number known durable.
    synced: Mutex<u64>,
    written: AtomicU64,
    sync_handle: Option<File>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn open_private(path: &Path, append: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).read(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(handle) = File::open(dir) {
            let _ = handle.sync_all();
        }
    }
}

#[derive(Serialize)]
struct SnapshotRef<'a> {
    format: u32,
    seq: u64,
    state: &'a State,
}

impl Store {
    /// A store that lives only in memory.
    pub fn in_memory() -> Self {
        Self {
            state: RwLock::new(State::default()),
            audit: AuditLog::default(),
            journal: Mutex::new(Journal {
                files: None,
                seq: 0,
                lines: 0,
                closed: false,
            }),
            synced: Mutex::new(0),
            written: AtomicU64::new(0),
            sync_handle: None,
        }
    }

    /// Opens (or creates) the persistent store at `snapshot`, locking it, replaying the
    /// journal and compacting.
    pub fn open(snapshot: &Path) -> Result<Self, EmulatorError> {
        let io = |what: &str, e: std::io::Error| EmulatorError::Io {
            path: snapshot.to_path_buf(),
            message: format!("{what}: {e}"),
        };
        if let Some(dir) = snapshot.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io("cannot create the state directory", e))?;
        }
        let lock_path = sibling(snapshot, ".lock");
        let lock =
            open_private(&lock_path, true).map_err(|e| io("cannot open the lock file", e))?;
        if lock.try_lock().is_err() {
            return Err(EmulatorError::Locked {
                path: snapshot.to_path_buf(),
            });
        }

        let (mut state, snapshot_seq) = match std::fs::read(snapshot) {
            Ok(bytes) => {
                let snap: Snapshot =
                    serde_json::from_slice(&bytes).map_err(|e| EmulatorError::Corrupt {
                        path: snapshot.to_path_buf(),
                        message: e.to_string(),
                    })?;
                (snap.state, snap.seq)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (State::default(), 0),
            Err(e) => return Err(io("cannot read the state file", e)),
        };

        let journal_path = sibling(snapshot, ".journal");
        let mut journal =
            open_private(&journal_path, true).map_err(|e| io("cannot open the journal", e))?;
        let mut bytes = Vec::new();
        journal
            .read_to_end(&mut bytes)
            .map_err(|e| io("cannot read the journal", e))?;
        let mut seq = snapshot_seq;
        let mut lines = bytes.split(|b| *b == b'\n').peekable();
        while let Some(line) = lines.next() {
            let is_last = lines.peek().is_none_or(|next| next.is_empty());
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice::<JournalLine>(line) {
                Ok(entry) => {
                    if entry.seq > seq {
                        for mutation in entry.mutations {
                            state.apply(mutation);
                        }
                        seq = entry.seq;
                    }
                }
                // A torn final line was never acknowledged: drop it.
                Err(_) if is_last => break,
                Err(e) => {
                    return Err(EmulatorError::Corrupt {
                        path: journal_path,
                        message: format!("a journal line before the last is unreadable: {e}"),
                    });
                }
            }
        }
        state.rebuild_indices();

        let sync_handle = journal
            .try_clone()
            .map_err(|e| io("cannot open the journal", e))?;
        let store = Self {
            state: RwLock::new(state),
            audit: AuditLog::default(),
            journal: Mutex::new(Journal {
                files: Some(Files {
                    snapshot: snapshot.to_path_buf(),
                    sync_handle: journal
                        .try_clone()
                        .map_err(|e| io("cannot open the journal", e))?,
                    journal,
                    _lock: lock,
                }),
                seq,
                lines: 0,
                closed: false,
            }),
            synced: Mutex::new(seq),
            written: AtomicU64::new(seq),
            sync_handle: Some(sync_handle),
        };
        store.compact().map_err(|message| EmulatorError::Io {
            path: snapshot.to_path_buf(),
            message,
        })?;
        Ok(store)
    }

    /// Read access to the state.
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        // A poisoned lock means a panic elsewhere; the state itself stays consistent because
        // mutations are applied only after validation and journalling.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `decide` on the current state; the mutations it returns are journalled, applied,
    /// and made durable before this returns. Blocking (fsync): call from a blocking context.
    /// `audit` describes the change for the audit log (only called when something changed).
    pub fn commit<T, E>(
        &self,
        audit: impl FnOnce(&T) -> Option<AuditEntry>,
        decide: impl FnOnce(&State) -> Result<(T, Vec<Mutation>), E>,
    ) -> Result<(T, Option<AuditEntry>), CommitError<E>> {
        let (value, entry, seq, lines) = {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            let (value, mutations) = decide(&state).map_err(CommitError::Rejected)?;
            if mutations.is_empty() {
                return Ok((value, None));
            }
            let entry = audit(&value);
            let mut journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
            if journal.closed {
                return Err(CommitError::Io("the emulator is shutting down".into()));
            }
            let seq = journal.seq + 1;
            if let Some(files) = journal.files.as_mut() {
                let line = JournalLine {
                    seq,
                    audit: entry.clone(),
                    mutations: mutations.clone(),
                };
                let mut bytes = serde_json::to_vec(&line)
                    .map_err(|e| CommitError::Io(format!("cannot encode a journal line: {e}")))?;
                bytes.push(b'\n');
                files
                    .journal
                    .write_all(&bytes)
                    .map_err(|e| CommitError::Io(format!("cannot write the journal: {e}")))?;
                journal.lines += 1;
            }
            journal.seq = seq;
            for mutation in mutations {
                state.apply(mutation);
            }
            if let Some(entry) = &entry {
                self.audit.push(entry.clone());
            }
            self.written.store(seq, Ordering::SeqCst);
            (value, entry, seq, journal.lines)
        };
        self.sync_upto(seq).map_err(CommitError::Io)?;
        if lines >= COMPACT_AFTER {
            self.compact().map_err(CommitError::Io)?;
        }
        Ok((value, entry))
    }

    /// Makes every line up to `seq` durable; one sync covers every line written before it.
    fn sync_upto(&self, seq: u64) -> Result<(), String> {
        let Some(handle) = &self.sync_handle else {
            return Ok(());
        };
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        if *synced >= seq {
            return Ok(());
        }
        let target = self.written.load(Ordering::SeqCst);
        handle
            .sync_data()
            .map_err(|e| format!("cannot sync the journal: {e}"))?;
        *synced = target;
        Ok(())
    }

    /// Compacts and closes the files, releasing the lock; later commits are refused.
    pub fn close(&self) -> Result<(), String> {
        let result = self.compact();
        let mut journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        journal.closed = true;
        journal.files = None;
        result
    }

    /// Writes a snapshot of the whole state and empties the journal.
    pub fn compact(&self) -> Result<(), String> {
        // The state read lock keeps writers out while the snapshot is taken.
        let state = self.read();
        let mut journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        let seq = journal.seq;
        let Some(files) = journal.files.as_mut() else {
            return Ok(());
        };
        let bytes = serde_json::to_vec(&SnapshotRef {
            format: 1,
            seq,
            state: &state,
        })
        .map_err(|e| format!("cannot encode the state: {e}"))?;
        drop(state);
        let temp = sibling(&files.snapshot, ".tmp");
        let mut out = open_private(&temp, false)
            .map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
        out.write_all(&bytes)
            .and_then(|()| out.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
        std::fs::rename(&temp, &files.snapshot)
            .map_err(|e| format!("cannot replace {}: {e}", files.snapshot.display()))?;
        sync_dir(&files.snapshot);
        files
            .journal
            .set_len(0)
            .and_then(|()| files.sync_handle.sync_all())
            .map_err(|e| format!("cannot empty the journal: {e}"))?;
        journal.lines = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
