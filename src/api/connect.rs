//! From a manifest and an environment name to an authenticated [`HttpClient`]: endpoints
//! (presets and overrides), credentials (from the process environment), the scopes the
//! command needs, and the check that the token acts for the manifest's organisation — done
//! before any self-service call. `local` starts the embedded emulator instead.

use std::sync::Arc;

use miette::{Context, IntoDiagnostic};

use super::admin_scopes::{self, AdminScopes};
use super::auth::{TokenConfig, TokenSource};
use super::client::{ClientConfig, HttpClient};
use super::credentials::Credentials;
use super::endpoints::{Endpoints, Target};
use super::retry::RetryPolicy;
use super::transport;
use crate::diagnostic_code::Code;
use crate::manifest::LoadedManifest;
use crate::manifest::model::Environment;
use crate::manifest::orgno::OrgNo;

/// What a command will do with the environment, deciding which scopes the token asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `plan`, `drift`, `import`: read only. Through [`connect`], only the read scopes of the
    /// sides the manifest manages; elsewhere `idporten:scopes.read idporten:dcr.read`.
    Read,
    /// `apply`: also the write scopes (`idporten:scopes.write`, `idporten:dcr.write`,
    /// `idporten:dcr.modify`), narrowed the same way through [`connect`].
    Write,
    /// Exactly these scopes; the sides they can read are read.
    Exactly(AdminScopes),
}

impl Access {
    /// The token's scopes as a set.
    pub fn scope_set(self) -> AdminScopes {
        match self {
            Access::Read => AdminScopes::read(),
            Access::Write => AdminScopes::all(),
            Access::Exactly(set) => set,
        }
    }

    /// The token scopes, space-separated.
    pub fn scopes(self) -> String {
        self.scope_set().to_request()
    }
}

/// A live, checked connection to one environment.
pub struct Connection {
    /// The environment's name.
    pub env: String,
    pub client: HttpClient,
    /// Keeps the embedded emulator of `local` running as long as the connection lives (held,
    /// never read).
    _keep_alive: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("env", &self.env)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// Everything needed to connect to one environment, without the manifest.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub env: String,
    pub endpoints: Endpoints,
    pub access: Access,
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// The organisation the token must act for.
    pub organization: Option<OrgNo>,
    /// The clock for grants' `iat` (default: the system clock).
    pub clock: Option<GrantClock>,
}

/// A clock (Unix seconds) for the grant's `iat`, for emulators whose clock is set elsewhere.
#[derive(Clone)]
pub struct GrantClock(pub Arc<dyn Fn() -> i64 + Send + Sync>);

impl std::fmt::Debug for GrantClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrantClock({})", (self.0)())
    }
}

/// Connects to `env` of the manifest with the credentials from the process environment, and
/// checks that they act for the manifest's organisation.
pub async fn connect(
    loaded: &LoadedManifest,
    env: &str,
    access: Access,
    concurrency: usize,
    retry: &RetryPolicy,
) -> miette::Result<Connection> {
    let environment = loaded
        .manifest
        .environments
        .get(env)
        .cloned()
        .unwrap_or_default();
    let access = match access {
        Access::Exactly(_) => access,
        Access::Read | Access::Write => {
            let request = admin_request(loaded, env, &environment, access == Access::Write)?;
            Access::Exactly(request.scopes)
        }
    };
    connect_env(
        env,
        &environment,
        Some(&loaded.manifest.organization),
        &loaded.manifest.prefixes,
        access,
        concurrency,
        retry,
    )
    .await
}

/// The admin scopes a command asks of `env`: what the manifest's content there needs (see
/// [`admin_scopes`]), narrowed to the scopes the environment declares its admin client holds.
pub fn admin_request(
    loaded: &LoadedManifest,
    env: &str,
    environment: &Environment,
    write: bool,
) -> miette::Result<admin_scopes::Request> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let desired = crate::state::resolve::resolve(loaded, env, now);
    let prune = environment.prune.unwrap_or(loaded.manifest.settings.prune);
    let needed = admin_scopes::content_sides(&desired, prune);
    let held = declared_scopes(env, environment)?;
    Ok(admin_scopes::request(env, needed, write, held.as_ref())?)
}

/// The scopes `env`'s admin client is declared to hold (`MPCTL_<ENV>_SCOPES`, else the
/// environment's `admin_scopes`).
pub fn declared_scopes(
    env: &str,
    environment: &Environment,
) -> miette::Result<Option<(AdminScopes, admin_scopes::HeldSource)>> {
    admin_scopes::held(env, environment.admin_scopes.as_deref(), |name| {
        std::env::var(name).ok()
    })
    .map_err(|message| {
        miette::miette!(
            code = Code::CredentialsAdminScopes,
            help = "list the self-service scopes the admin client holds, separated by spaces or commas, e.g. `idporten:scopes.read idporten:scopes.write`",
            "{message}"
        )
    })
}

/// Connects to an environment described by `environment` (possibly not in any manifest, as
/// for `import`). With `organization`, the token must act for it.
pub async fn connect_env(
    env: &str,
    environment: &Environment,
    organization: Option<&OrgNo>,
    prefixes: &[String],
    access: Access,
    concurrency: usize,
    retry: &RetryPolicy,
) -> miette::Result<Connection> {
    let target = super::metadata::resolve(env, environment, retry).await?;
    match target {
        Target::Remote(endpoints) => {
            let credentials = Credentials::from_env(env)?;
            credentials.check_environment(env, endpoints.digdir)?;
            if let Some(org) = organization {
                credentials.check_organization(env, org)?;
            }
            let options = ConnectOptions {
                env: env.to_owned(),
                endpoints,
                access,
                concurrency,
                retry: retry.clone(),
                organization: organization.cloned(),
                clock: None,
            };
            connect_with(options, credentials, None).await
        }
        Target::Local => {
            connect_local(env, organization, prefixes, access, concurrency, retry).await
        }
    }
}

/// Connects with explicit credentials (tests, embedded emulators). `keep_alive` is held by the
/// connection.
pub async fn connect_with(
    options: ConnectOptions,
    credentials: Credentials,
    keep_alive: Option<Box<dyn std::any::Any + Send + Sync>>,
) -> miette::Result<Connection> {
    let client = build_client(&options, credentials)?;
    if let Some(org) = &options.organization {
        client
            .check_organization(org)
            .await
            .map_err(miette::Report::new)
            .wrap_err_with(|| format!("cannot connect to environment `{}`", options.env))?;
    }
    Ok(Connection {
        env: options.env,
        client,
        _keep_alive: keep_alive,
    })
}

/// The client for `options` without connecting (no request is made).
pub fn build_client(
    options: &ConnectOptions,
    credentials: Credentials,
) -> miette::Result<HttpClient> {
    let http = transport::http_client(options.retry.connect_timeout, options.retry.attempt_timeout)
        .into_diagnostic()
        .wrap_err("cannot set up the HTTP client")?;
    let mut tokens = TokenSource::new(
        http.clone(),
        TokenConfig {
            env: options.env.clone(),
            token_url: options.endpoints.token_url.clone(),
            audience: options.endpoints.audience.clone(),
            scope: options.access.scopes(),
            digdir: options.endpoints.digdir,
            retry: options.retry.clone(),
        },
        credentials,
    );
    if let Some(clock) = &options.clock {
        tokens = tokens.with_clock(clock.0.clone());
    }
    Ok(HttpClient::new(
        ClientConfig {
            env: options.env.clone(),
            api_url: options.endpoints.api_url.trim_end_matches('/').to_owned(),
            concurrency: options.concurrency.max(1),
            retry: options.retry.clone(),
            probe_contacts: options.endpoints.digdir.is_none(),
            sides: options.access.scope_set().sides(),
            scopes: options.access.scope_set(),
        },
        http,
        tokens,
    ))
}

/// A grant clock that follows `emulator`'s clock (which may have been set elsewhere, e.g. by
/// `MPCTL_EMULATOR_NOW`), so that its grants are not refused as expired or not yet valid.
pub fn emulator_clock(emulator: &crate::emulator::Emulator) -> GrantClock {
    let offset = emulator.clock().now_unix() - crate::clock::system_now();
    GrantClock(Arc::new(move || crate::clock::system_now() + offset))
}

async fn connect_local(
    env: &str,
    organization: Option<&OrgNo>,
    prefixes: &[String],
    access: Access,
    concurrency: usize,
    retry: &RetryPolicy,
) -> miette::Result<Connection> {
    let state_dir = std::env::current_dir()
        .into_diagnostic()
        .wrap_err("cannot find the current directory for `.mpctl/emulator`")?
        .join(".mpctl")
        .join("emulator");
    connect_local_in(
        &state_dir,
        env,
        organization,
        prefixes,
        access,
        concurrency,
        retry,
    )
    .await
}

/// Starts the embedded emulator with its state in `state_dir`, bootstraps the organisation
/// with its prefixes, and connects to it as the organisation's admin client.
pub async fn connect_local_in(
    state_dir: &std::path::Path,
    env: &str,
    organization: Option<&OrgNo>,
    prefixes: &[String],
    access: Access,
    concurrency: usize,
    retry: &RetryPolicy,
) -> miette::Result<Connection> {
    let Some(organization) = organization else {
        miette::bail!(
            code = Code::EmulatorOrganization,
            help = "give the manifest's `organization`, or `--org` to `mpctl import`",
            "environment `{env}` (the embedded emulator) needs to know the organisation to act for"
        );
    };
    let local = crate::emulator::local::start_local(crate::emulator::local::LocalOptions {
        state_dir: state_dir.to_owned(),
        organization: organization.clone(),
        prefixes: prefixes.to_vec(),
    })
    .await
    .map_err(|e| match e {
        // The generic help names `emulator serve --state`; here the state is the working
        // directory's.
        crate::emulator::EmulatorError::Locked { path } => miette::miette!(
            code = Code::EmulatorLocked,
            help = "another mpctl command (or an `mpctl emulator serve`) is using the `local` \
                    environment's state in this directory: wait for it to finish, or stop it",
            "the emulator state {} is in use by another process",
            path.display()
        ),
        e => miette::Report::new(e),
    })
    .wrap_err_with(|| format!("cannot start the embedded emulator for environment `{env}`"))?;
    let credentials = Credentials::from_private_key(
        local.admin.client_id.clone(),
        local.admin.private_key_pem.expose(),
        Some(&local.admin.kid),
        "the embedded emulator's admin key",
        "(none)",
    )?;
    let options = ConnectOptions {
        env: env.to_owned(),
        endpoints: Endpoints {
            api_url: local.api_url.clone(),
            token_url: local.token_url.clone(),
            audience: local.audience.clone(),
            digdir: None,
        },
        access,
        concurrency,
        retry: retry.clone(),
        organization: Some(organization.clone()),
        clock: Some(emulator_clock(&local.emulator)),
    };
    connect_with(options, credentials, Some(Box::new(local))).await
}
