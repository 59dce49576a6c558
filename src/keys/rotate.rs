//! `mpctl keys rotate`: a new RSA-2048 key pair for a client, generated locally. The private key
//! goes to a file of its own (mode 0600, never overwritten, never printed); the public JWK goes
//! to `keys/` beside the manifest and into the client's `keys` by a minimal text edit, with
//! `retire_after` on the key it replaces. Apply then registers both; after the grace period plan
//! removes the old one.

use std::io::Write;
use std::path::{Path, PathBuf};

use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

use super::manifest_edit::{self, EditError, KeyEntry, KeysSite};
use crate::manifest::key_path;
use crate::manifest::keys::{MAX_KEYS_PER_CLIENT, load_key_file, public_jwk};
use crate::manifest::yaml::tree::Node;

/// What to rotate, and where to write.
#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// The client's name in the manifest.
    pub client: String,
    /// The environment the key is for.
    pub env: String,
    /// The manifest file that declares the client.
    pub manifest: PathBuf,
    /// Where the new private key goes (PEM, PKCS#8).
    pub private_key_out: PathBuf,
    /// Days until the replaced key retires.
    pub grace_days: u32,
    /// Compute and show the change only.
    pub dry_run: bool,
    /// Add the key to the client's own `keys` (every environment of the client) instead of an
    /// override for `env` only.
    pub all_environments: bool,
    /// Today (UTC): names the key file and dates `retire_after`.
    pub today: time::Date,
}

/// What a rotation did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct RotateOutcome {
    /// The manifest file edited.
    pub manifest: PathBuf,
    /// Unified diff of the manifest.
    pub diff: String,
    /// The public JWK file.
    pub public_key_file: PathBuf,
    /// The new entry in the client's `keys` (relative to the manifest).
    pub entry: String,
    /// The new key's `kid` (its RFC 7638 thumbprint).
    pub kid: String,
    /// The replaced key's path and its `retire_after` date.
    pub retired: Option<(String, String)>,
    /// Whether the edit went into `overrides.<env>.keys` (else the client's own `keys`, which
    /// apply in every environment without an override).
    pub from_override: bool,
    /// Things the user should know (e.g. a private key written inside the repository).
    pub warnings: Vec<String>,
    /// False for a dry run.
    pub written: bool,
}

/// Why a rotation was refused or failed. Nothing is written when this is returned, unless the
/// message says otherwise.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RotateError {
    /// The manifest file cannot be read.
    #[error("cannot read the manifest {path}: {message}")]
    #[diagnostic(help("pass the manifest file that declares the client with `--manifest FILE`"))]
    ReadManifest { path: String, message: String },

    /// The manifest cannot be edited (see [`EditError`]). (Not a `source`: the message says
    /// it once.)
    #[error("{path}: {error}")]
    #[diagnostic(help(
        "`keys rotate` edits the file that declares the client; check the client's name and \
         that its `keys` is a list of paths or `{{path, retire_after}}` entries"
    ))]
    Edit { path: String, error: EditError },

    /// The manifest file does not declare the client.
    #[error("{path} has no client named `{client}`")]
    #[diagnostic(help("{known}"))]
    ClientNotInFile {
        path: String,
        client: String,
        known: String,
    },

    /// No manifest file under the directory declares the client.
    #[error("no manifest under {dir} declares a client named `{client}`")]
    #[diagnostic(help("{known}"))]
    NoManifest {
        dir: String,
        client: String,
        known: String,
    },

    /// More than one manifest file declares the client.
    #[error("several manifest files declare a client named `{client}`: {files}")]
    #[diagnostic(help("pass the one to edit with `--manifest FILE`"))]
    AmbiguousManifest { client: String, files: String },

    /// The client does not exist in the environment.
    #[error("client `{client}` is not in environment `{env}`")]
    #[diagnostic(help("{help}"))]
    WrongEnvironment {
        client: String,
        env: String,
        help: String,
    },

    /// The client would exceed the API's five keys.
    #[error(
        "client `{client}` would have {count} keys in `{env}`; Maskinporten allows at most {max}"
    )]
    #[diagnostic(help(
        "retire {to_retire} first: remove it from the client's `keys` (or wait until its \
         `retire_after` has passed), apply, then rotate again"
    ))]
    TooManyKeys {
        client: String,
        env: String,
        count: usize,
        max: usize,
        to_retire: String,
    },

    /// The private key file exists; it is never replaced.
    #[error("the private key file {path} already exists; it is never overwritten")]
    #[diagnostic(help(
        "choose another `--private-key-out` path, or move the existing file away if it is no \
         longer needed"
    ))]
    PrivateKeyExists { path: String },

    /// Key generation failed.
    #[error("cannot generate the key pair: {0}")]
    #[diagnostic(help("this is a local error of the random number generator; try again"))]
    Generate(String),

    /// Writing a file failed.
    #[error("cannot write {path}: {message}")]
    #[diagnostic(help("{help}"))]
    Write {
        path: String,
        message: String,
        help: String,
    },
}

/// Rotates the key of `options.client` in `options.env`.
pub fn rotate(options: &RotateOptions) -> Result<RotateOutcome, RotateError> {
    let manifest_name = options.manifest.display().to_string();
    let bytes = std::fs::read(&options.manifest).map_err(|e| RotateError::ReadManifest {
        path: manifest_name.clone(),
        message: e.to_string(),
    })?;
    // A key or token given as the manifest is named as such, never parsed or quoted.
    if let Some(kind) = crate::manifest::sniff::sniff(&bytes) {
        return Err(RotateError::ReadManifest {
            path: manifest_name,
            message: kind.message().to_owned(),
        });
    }
    let source = String::from_utf8(bytes).map_err(|_| RotateError::ReadManifest {
        path: manifest_name.clone(),
        message: "it is not valid UTF-8".into(),
    })?;
    let edit_error = |error| match error {
        EditError::ClientNotFound(client) => RotateError::ClientNotInFile {
            path: manifest_name.clone(),
            known: known_clients_help(&client_names(&source)),
            client,
        },
        error => RotateError::Edit {
            path: manifest_name.clone(),
            error,
        },
    };
    let site = manifest_edit::locate(&source, &options.client, &options.env).map_err(edit_error)?;
    let declared = check_environment(&source, &site, options)?;
    // The key is for the named environment: unless the client's keys there already come from
    // an override, or the client is in no other environment, it goes into a new
    // `overrides.<env>.keys` (a copy of the client's keys plus the new one).
    let client_envs = site.client_environments.clone().or(declared);
    let only_env = client_envs
        .as_ref()
        .is_some_and(|envs| envs.iter().all(|e| *e == options.env));
    let as_override = !site.from_override && !options.all_environments && !only_env;

    let manifest_dir = options
        .manifest
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let today_unix = options.today.midnight().assume_utc().unix_timestamp();
    check_key_count(&site, today_unix, options)?;

    if options.private_key_out.exists() {
        return Err(RotateError::PrivateKeyExists {
            path: options.private_key_out.display().to_string(),
        });
    }

    let (entry, public_key_file) = new_key_path(&manifest_dir, &site, options);
    let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| RotateError::Generate(e.to_string()))?;
    let jwk = public_jwk(&private.to_public_key(), None);
    let kid = jwk
        .get("kid")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();

    let retire_date = options.today + time::Duration::days(i64::from(options.grace_days));
    let retire_date =
        crate::manifest::keys::format_date(retire_date.midnight().assume_utc().unix_timestamp());
    let retire = site
        .replaced_index()
        .map(|index| (index, retire_date.as_str()));
    let edited = if as_override {
        site.edit_as_override(&source, &options.env, &entry, retire)
    } else {
        site.edit(&source, &options.env, &entry, retire)
    }
    .map_err(edit_error)?;
    let retired = retire.and_then(|(index, date)| {
        site.entries
            .get(index)
            .map(|e| (e.path.clone(), date.to_owned()))
    });

    let diff = similar::TextDiff::from_lines(&source, &edited)
        .unified_diff()
        .context_radius(3)
        .header(&manifest_name, &manifest_name)
        .to_string();

    let mut warnings = Vec::new();
    let (guarded, what) = match key_path::repository_root(&manifest_dir) {
        Some(root) => (root, "the manifest's Git repository"),
        None => (manifest_dir.clone(), "the manifest's directory"),
    };
    if is_inside(&options.private_key_out, &guarded) {
        warnings.push(format!(
            "the private key {} is inside {what}: never commit it (add it to .gitignore) and \
             move it to where the integration reads its key",
            options.private_key_out.display()
        ));
    }

    if !options.dry_run {
        let pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| RotateError::Generate(e.to_string()))?;
        write_private_key(&options.private_key_out, pem.as_bytes())?;
        let mut json =
            serde_json::to_string_pretty(&serde_json::Value::Object(jwk)).unwrap_or_default();
        json.push('\n');
        write_new_file(&public_key_file, json.as_bytes()).map_err(|e| RotateError::Write {
            path: public_key_file.display().to_string(),
            message: e.to_string(),
            help: format!(
                "the private key was already written to {}; fix the problem and run again with \
                 another `--private-key-out`, then delete that file",
                options.private_key_out.display()
            ),
        })?;
        write_atomically(&options.manifest, edited.as_bytes()).map_err(|e| RotateError::Write {
            path: manifest_name.clone(),
            message: e.to_string(),
            help: format!(
                "the key pair was written ({} and {}); add `{entry}` to the client's `keys` by \
                 hand",
                options.private_key_out.display(),
                public_key_file.display()
            ),
        })?;
    }

    Ok(RotateOutcome {
        manifest: options.manifest.clone(),
        diff,
        public_key_file,
        entry,
        kid,
        retired,
        from_override: site.from_override || as_override,
        warnings,
        written: !options.dry_run,
    })
}

/// Refuses an environment the client (or the manifest file) does not include.
///
/// A file that declares no `environments` is a part of a manifest split over several files:
/// then the manifest in the file's directory is loaded to find them (when it loads).
///
/// Returns the environments the manifest declares, where they could be found.
fn check_environment(
    source: &str,
    site: &KeysSite,
    options: &RotateOptions,
) -> Result<Option<Vec<String>>, RotateError> {
    let wrong = |help: String| RotateError::WrongEnvironment {
        client: options.client.clone(),
        env: options.env.clone(),
        help,
    };
    if site.env_excluded {
        return Err(wrong(
            "the client's `environments` does not list it; pick one of them with `--env`".into(),
        ));
    }
    let declared: Option<Vec<String>> = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(source)
        .ok()
        .and_then(|root| {
            root.get("environments")
                .and_then(serde_yaml_ng::Value::as_mapping)
                .map(|m| {
                    m.keys()
                        .filter_map(|k| k.as_str().map(str::to_owned))
                        .collect()
                })
        })
        .or_else(|| {
            let dir = options.manifest.parent()?;
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            crate::manifest::load(&[dir.to_path_buf()])
                .ok()
                .map(|loaded| loaded.manifest.environments.keys().cloned().collect())
        });
    match declared {
        Some(envs) if !envs.is_empty() && !envs.contains(&options.env) => Err(wrong(format!(
            "the manifest's environments are: {}",
            envs.join(", ")
        ))),
        declared => Ok(declared.filter(|envs| !envs.is_empty())),
    }
}

/// Refuses a rotation that would give the client more than five keys in the environment, and
/// names the entries to retire (those already retiring first, then the oldest).
fn check_key_count(
    site: &KeysSite,
    today_unix: i64,
    options: &RotateOptions,
) -> Result<(), RotateError> {
    let today = crate::manifest::keys::format_date(today_unix);
    // Keys past their `retire_after` day are no longer registered.
    let live: Vec<&KeyEntry> = site
        .entries
        .iter()
        .filter(|e| {
            e.retire_after
                .as_deref()
                .is_none_or(|d| d >= today.as_str())
        })
        .collect();
    // Key paths resolve as when the manifest is loaded; a path refused there counts as one key.
    let boundary = key_path::Boundary::of_manifest(&options.manifest);
    let keys_in =
        |entry: &KeyEntry| match key_path::resolve(&entry.path, &options.manifest, &boundary) {
            Ok(key) => load_key_file(&key.absolute, today_unix, 0).0.len().max(1),
            Err(_) => 1,
        };
    let count: usize = live.iter().map(|e| keys_in(e)).sum::<usize>() + 1;
    if count <= MAX_KEYS_PER_CLIENT {
        return Ok(());
    }
    let mut candidates: Vec<&KeyEntry> = live.clone();
    // Stable: entries already retiring (earliest date first), then file order (oldest first).
    candidates.sort_by(|a, b| match (&a.retire_after, &b.retire_after) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut excess = count - MAX_KEYS_PER_CLIENT;
    let mut names = Vec::new();
    for entry in candidates {
        if excess == 0 {
            break;
        }
        names.push(format!("`{}`", entry.path));
        excess = excess.saturating_sub(keys_in(entry));
    }
    Err(RotateError::TooManyKeys {
        client: options.client.clone(),
        env: options.env.clone(),
        count,
        max: MAX_KEYS_PER_CLIENT,
        to_retire: names.join(", "),
    })
}

/// `keys/<client>-<yyyymmdd>.jwk.json` beside the manifest, with `-2`, `-3`… when taken.
fn new_key_path(
    manifest_dir: &Path,
    site: &KeysSite,
    options: &RotateOptions,
) -> (String, PathBuf) {
    let client: String = options
        .client
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let date = format!(
        "{:04}{:02}{:02}",
        options.today.year(),
        u8::from(options.today.month()),
        options.today.day()
    );
    let mut suffix = 1;
    loop {
        let name = if suffix == 1 {
            format!("keys/{client}-{date}.jwk.json")
        } else {
            format!("keys/{client}-{date}-{suffix}.jwk.json")
        };
        let file = manifest_dir.join(&name);
        let taken = file.exists() || site.entries.iter().any(|e| e.path == name);
        if !taken {
            return (name, file);
        }
        suffix += 1;
    }
}

/// Writes the private key: a new file (never replacing one), readable only by its owner.
fn write_private_key(path: &Path, pem: &[u8]) -> Result<(), RotateError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = options.open(path).and_then(|mut file| {
        file.write_all(pem)?;
        file.sync_all()
    });
    result.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            RotateError::PrivateKeyExists {
                path: path.display().to_string(),
            }
        } else {
            RotateError::Write {
                path: path.display().to_string(),
                message: e.to_string(),
                help: "nothing else was written; choose a writable `--private-key-out` path".into(),
            }
        }
    })
}

/// Writes a new file, creating its directory; refuses to replace an existing file.
fn write_new_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Replaces a file's contents through a temporary file and a rename, so that it is never
/// half-written.
fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(".{name}.mpctl-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        if let Ok(metadata) = std::fs::metadata(path) {
            std::fs::set_permissions(&temp, metadata.permissions())?;
        }
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Whether the file `path` (which need not exist yet) would be inside `dir`.
fn is_inside(path: &Path, dir: &Path) -> bool {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (std::fs::canonicalize(parent), std::fs::canonicalize(dir)) {
        (Ok(parent), Ok(dir)) => parent.starts_with(dir),
        _ => false,
    }
}

/// Finds the one manifest file under `dir` that declares `client` (`*.yaml`/`*.yml`,
/// recursively, skipping hidden directories, `target` and `node_modules`).
pub fn find_manifest(dir: &Path, client: &str) -> Result<PathBuf, RotateError> {
    let mut found = Vec::new();
    let mut known = std::collections::BTreeSet::new();
    let mut pending = vec![(dir.to_path_buf(), 0)];
    while let Some((current, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if depth < 8 && !name.starts_with('.') && name != "target" && name != "node_modules"
                {
                    pending.push((path, depth + 1));
                }
            } else if (name.ends_with(".yaml") || name.ends_with(".yml"))
                && entry.metadata().is_ok_and(|m| m.len() <= 4 * 1024 * 1024)
                && declares_client(&path, client, &mut known)
            {
                found.push(
                    path.strip_prefix("./")
                        .map_or(path.clone(), Path::to_path_buf),
                );
            }
        }
    }
    found.sort();
    match found.len() {
        0 => Err(RotateError::NoManifest {
            dir: dir.display().to_string(),
            client: client.to_owned(),
            known: known_clients_help(&known.into_iter().collect::<Vec<_>>()),
        }),
        1 => Ok(found.remove(0)),
        _ => Err(RotateError::AmbiguousManifest {
            client: client.to_owned(),
            files: found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Whether the file at `path` declares `client`; every client name it declares goes into
/// `known`.
fn declares_client(
    path: &Path,
    client: &str,
    known: &mut std::collections::BTreeSet<String>,
) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let names = client_names(&text);
    let declares = names.iter().any(|n| n == client);
    known.extend(names);
    declares
}

/// The names of the clients a manifest file declares, in file order.
fn client_names(text: &str) -> Vec<String> {
    match crate::manifest::yaml::parse_tree(text) {
        Ok(Some(root)) => root
            .get("clients")
            .and_then(Node::items)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|c| c.get("name").and_then(Node::scalar))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// "the clients are: a, b" (or that there are none), for the help of an unknown client.
fn known_clients_help(names: &[String]) -> String {
    if names.is_empty() {
        "no manifest file here declares any client; pass the manifest file with `--manifest FILE`"
            .to_owned()
    } else {
        format!(
            "the clients declared are: {}; check the name, or pass the manifest file with `--manifest FILE`",
            names.join(", ")
        )
    }
}

#[cfg(test)]
mod tests;
