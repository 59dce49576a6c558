//! The manifest: its model, loading with source spans, validation, and resolution into the
//! desired state of each environment.

pub mod admin_scope;
pub mod attributes;
pub mod diagnostics;
pub mod key_path;
pub mod keys;
pub mod load;
pub mod model;
pub mod orgno;
pub mod schema;
pub mod sniff;
pub mod validate;
pub mod yaml;

use std::collections::BTreeMap;

pub use diagnostics::{Diagnostic, Diagnostics};
pub use load::{load, load_with_warnings};

use crate::manifest::keys::KeyState;

/// A valid manifest, merged from its files, with everything read from disk that plan needs.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    /// The merged manifest. Key paths in it are already resolved against the directory of the
    /// file that declared them, and written relative to the repository's top level (see
    /// [`key_path`]): the same from any working directory.
    pub manifest: model::Manifest,
    /// The public keys of each key file, by the resolved path as it appears in `manifest`.
    pub keys: BTreeMap<String, Vec<KeyState>>,
    /// The files the manifest was loaded from, in load order.
    pub files: Vec<std::path::PathBuf>,
    /// SHA-256 (hex) of the merged manifest and key files: what a saved plan is bound to.
    pub digest: String,
}
