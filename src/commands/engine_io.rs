//! The I/O that `plan`, `apply` and `drift` need from other parts of the shell: loading the
//! manifest and connecting to an environment.

use std::path::PathBuf;

use super::plan::HasApi;
use crate::apply::fake::FakeService;
use crate::manifest::LoadedManifest;

/// Read-only or read-write access to an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// A connection to one environment.
pub(crate) struct Connected(FakeService);

impl HasApi for Connected {
    type Api = FakeService;
    fn api(&self) -> &FakeService {
        &self.0
    }
}

/// Loads and validates the manifest.
pub(crate) fn load(paths: &[PathBuf]) -> miette::Result<LoadedManifest> {
    crate::manifest::load(paths).map_err(miette::Report::new)
}

/// Connects to an environment of the manifest.
pub(crate) async fn connect(
    _loaded: &LoadedManifest,
    _env: &str,
    _access: Access,
    _concurrency: usize,
) -> miette::Result<Connected> {
    miette::bail!("connecting to an environment is not available in this build")
}
