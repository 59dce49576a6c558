//! The steps of `plan` and `apply` as the benchmark and the soak run drive them, against an
//! emulator reached with its admin credentials, and the API's request minimum for each.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::api::connect::{ConnectOptions, connect_with};
use crate::api::credentials::Credentials;
use crate::api::endpoints::Endpoints;
use crate::api::retry::RetryPolicy;
use crate::api::{Access, HttpClient, SelfService};
use crate::apply::{ApplyReport, NoProgress, execute};
use crate::manifest::LoadedManifest;
use crate::plan::diff::diff_for_org;
use crate::plan::{Action, EnvPlan};
use crate::state::LiveEnv;

/// How to reach one environment served by an emulator, as its bootstrap admin.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Target {
    pub env: String,
    pub api_url: String,
    pub token_url: String,
    pub audience: String,
    pub client_id: String,
    pub kid: String,
    /// The admin's private key (PEM). Secret: never printed; `Debug` leaves it out.
    pub private_key_pem: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("env", &self.env)
            .field("api_url", &self.api_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// An authenticated client for `target`, checked to act for the manifest's organisation.
pub async fn connect(
    loaded: &LoadedManifest,
    target: &Target,
    access: Access,
    concurrency: usize,
    retry: RetryPolicy,
) -> miette::Result<HttpClient> {
    let credentials = Credentials::from_private_key(
        target.client_id.clone(),
        &target.private_key_pem,
        Some(&target.kid),
        "the emulator's admin key",
        "(none)",
    )?;
    let options = ConnectOptions {
        env: target.env.clone(),
        endpoints: Endpoints {
            api_url: target.api_url.clone(),
            token_url: target.token_url.clone(),
            audience: target.audience.clone(),
            digdir: None,
        },
        access,
        concurrency,
        retry,
        organization: Some(loaded.manifest.organization.clone()),
        clock: None,
    };
    Ok(connect_with(options, credentials, None).await?.client)
}

/// Fetches `env`'s live state and diffs the manifest against it, as `mpctl plan` does.
pub async fn plan<S: SelfService>(
    loaded: &LoadedManifest,
    env: &str,
    api: &S,
    now: i64,
) -> miette::Result<(EnvPlan, LiveEnv)> {
    let live = api
        .fetch()
        .await
        .map_err(|e| miette::miette!("cannot read the live state of `{env}`: {e}"))?;
    let desired = crate::manifest::resolve::resolve(loaded, env, now);
    let settings = crate::commands::plan::settings_for(&loaded.manifest, env, None);
    let mut plan = diff_for_org(
        Some(&loaded.manifest.organization),
        &desired,
        &live,
        &settings,
        now,
    );
    plan.env = env.to_owned();
    Ok((plan, live))
}

/// Plans and applies `env`, as `mpctl apply --yes` does. Returns the plan, the live state it
/// was made from, and what the executor did.
pub async fn apply<S: SelfService>(
    loaded: &LoadedManifest,
    env: &str,
    api: &S,
    concurrency: usize,
    now: i64,
) -> miette::Result<(EnvPlan, LiveEnv, ApplyReport)> {
    let (plan, live) = plan(loaded, env, api, now).await?;
    if !plan.errors.is_empty() {
        let messages: Vec<&str> = plan.errors.iter().map(|e| e.message.as_str()).collect();
        miette::bail!("the plan of `{env}` has errors: {}", messages.join("; "));
    }
    let report = execute(&plan, api, concurrency, &NoProgress).await;
    Ok((plan, live, report))
}

/// The fewest requests that read `live`: the scope list (inactive ones included), the client
/// list and the scopes the organisation may use; one grant list per scope and one key set per
/// active client; with the contacts extension, the provider's contacts (which also tell that
/// the extension exists) and each client's.
pub fn fetch_minimum(live: &LiveEnv) -> u64 {
    let scopes = live.state.scopes.len() as u64;
    let active_clients = live.state.clients.values().filter(|c| c.active).count() as u64;
    let contacts = if live.contacts_api {
        1 + live.state.clients.len() as u64
    } else {
        0
    };
    3 + scopes + active_clients + contacts
}

/// The fewest requests that carry out `plan` at `concurrency`: one per change, except that a
/// client's key changes share one key-set request; and, to never create a client whose name
/// is live, one read of the client list before each `concurrency` client creates.
pub fn write_minimum(plan: &EnvPlan, concurrency: usize) -> u64 {
    let mut key_sets = BTreeSet::new();
    let mut n = 0;
    let mut creates = 0u64;
    for change in &plan.changes {
        match &change.action {
            Action::None => {}
            Action::CreateClient(_) => {
                creates += 1;
                n += 1;
            }
            Action::PutKeys { client, .. } => {
                if key_sets.insert(format!("{client:?}")) {
                    n += 1;
                }
            }
            _ => n += 1,
        }
    }
    n + creates.div_ceil(concurrency.max(1) as u64)
}

/// The concurrency-bound minimum wall time of `requests` requests.
pub fn bound(requests: u64, concurrency: usize, latency: Duration) -> Duration {
    let rounds = requests.div_ceil(concurrency.max(1) as u64);
    latency * u32::try_from(rounds).unwrap_or(u32::MAX)
}
