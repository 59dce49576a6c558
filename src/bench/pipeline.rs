//! The steps of `plan` and `apply` as the benchmark and the soak run drive them, against an
//! emulator reached with its admin credentials: each a call of the engine ([`crate::engine`])
//! the commands run (the API's request minimum is in [`super::minimum`]).

use std::time::Duration;

use crate::api::credentials::Credentials;
use crate::api::endpoints::Endpoints;
use crate::api::retry::RetryPolicy;
use crate::api::{Access, HttpClient, SelfService};
use crate::emulator::{AdminIdentity, Emulator};
use crate::engine::{self, ApplyReport, NoProgress, execute};
use crate::manifest::LoadedManifest;
use crate::plan::EnvPlan;
use crate::secret::Secret;
use crate::state::LiveEnv;

/// How to reach one environment served by an emulator, as its bootstrap admin.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Target {
    pub env: String,
    pub api_url: String,
    pub token_url: String,
    pub audience: String,
    pub client_id: String,
    pub kid: String,
    /// The admin's private key (PEM).
    pub private_key_pem: Secret<String>,
}

impl Target {
    /// `env` served by `emulator`, reached as its bootstrap `admin`.
    pub fn of(env: &str, emulator: &Emulator, admin: &AdminIdentity) -> Self {
        Self {
            env: env.to_owned(),
            api_url: emulator.api_url(),
            token_url: emulator.token_url(),
            audience: emulator.issuer(),
            client_id: admin.client_id.clone(),
            kid: admin.kid.clone(),
            private_key_pem: admin.private_key_pem.clone(),
        }
    }
}

/// An authenticated client for `target`, checked to act for the manifest's organisation, with
/// the scopes the commands ask for.
pub async fn connect(
    loaded: &LoadedManifest,
    target: &Target,
    access: Access,
    concurrency: usize,
    retry: RetryPolicy,
) -> miette::Result<HttpClient> {
    let credentials = Credentials::from_private_key(
        target.client_id.clone(),
        target.private_key_pem.expose(),
        Some(&target.kid),
        "the emulator's admin key",
        "(none)",
    )?;
    let endpoints = Endpoints {
        api_url: target.api_url.clone(),
        token_url: target.token_url.clone(),
        audience: target.audience.clone(),
        digdir: None,
    };
    let connection = engine::connect_as(
        loaded,
        &target.env,
        endpoints,
        credentials,
        access,
        concurrency,
        retry,
    )
    .await?;
    Ok(connection.client)
}

/// Fetches `env`'s live state and diffs the manifest against it, as `mpctl plan` does.
pub async fn plan<S: SelfService>(
    loaded: &LoadedManifest,
    env: &str,
    api: &S,
    now: i64,
) -> miette::Result<(EnvPlan, LiveEnv)> {
    let settings = engine::settings_for(&loaded.manifest, env, None);
    engine::plan_environment_live(loaded, env, api, &settings, now).await
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
    // The guards `apply` runs (no `--allow-mass-destroy`).
    let planned = std::slice::from_ref(&plan);
    engine::check(planned, loaded, false)?;
    engine::check_admin_scopes(planned, |_| api.token_scopes())?;
    let report = execute(&plan, api, concurrency, &NoProgress).await;
    Ok((plan, live, report))
}

/// The concurrency-bound minimum wall time of `requests` requests.
pub fn bound(requests: u64, concurrency: usize, latency: Duration) -> Duration {
    let rounds = requests.div_ceil(concurrency.max(1) as u64);
    latency * u32::try_from(rounds).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_never_shows_its_key() {
        let target = Target {
            env: "local".into(),
            api_url: "http://127.0.0.1:1/api/v1".into(),
            token_url: "http://127.0.0.1:1/token".into(),
            audience: "http://127.0.0.1:1/".into(),
            client_id: "admin".into(),
            kid: "kid-1".into(),
            private_key_pem: Secret::new("-----BEGIN PRIVATE KEY-----\nMIIEsecret\n".into()),
        };
        for debug in [format!("{target:?}"), format!("{target:#?}")] {
            assert!(
                debug.contains("kid-1") && !debug.contains("MIIEsecret"),
                "{debug}"
            );
        }
        // Stored as the plain value where a target is handed on.
        let json = serde_json::to_string(&target).unwrap();
        let back: Target = serde_json::from_str(&json).unwrap();
        assert_eq!(back.private_key_pem, target.private_key_pem);
    }
}
