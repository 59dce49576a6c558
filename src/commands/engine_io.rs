//! The I/O that `plan`, `apply` and `drift` need from other parts of the shell: loading the
//! manifest and connecting to an environment.

use std::path::PathBuf;

use super::plan::HasApi;
use crate::api::{Connection, HttpClient};
use crate::manifest::LoadedManifest;

pub(crate) use crate::api::Access;

impl HasApi for Connection {
    type Api = HttpClient;
    fn api(&self) -> &HttpClient {
        &self.client
    }
}

/// Loads and validates the manifest.
pub(crate) fn load(paths: &[PathBuf]) -> miette::Result<LoadedManifest> {
    crate::manifest::load(paths).map_err(miette::Report::new)
}

/// Connects to an environment of the manifest (for `local`, starting the embedded emulator,
/// which lives as long as the connection).
pub(crate) async fn connect(
    loaded: &LoadedManifest,
    env: &str,
    access: Access,
    requests: &crate::cli::EnvArgs,
) -> miette::Result<Connection> {
    let concurrency = usize::from(requests.concurrency);
    crate::api::connect(loaded, env, access, concurrency, &requests.retry_policy()).await
}
