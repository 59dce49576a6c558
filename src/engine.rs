//! The engine: what `plan`, `apply` and `drift` do between reading the command line and
//! printing — load the manifest, choose its environments, connect, fetch the live state, diff
//! it into a plan (with the explanations the diff alone cannot give: keys retired by date,
//! organisation names, sides not read), guard the plan, and execute it.
//!
//! One place, so that every command (plan, apply, drift, keys, import, token) and the benchmark
//! and soak run (`crate::bench`) run the same code: the figures measure what users run. The
//! commands keep argument handling, output and exit codes.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

use crate::api::admin_scopes::AdminScopes;
use crate::api::connect::{ConnectOptions, connect_with};
use crate::api::credentials::Credentials;
use crate::api::endpoints::Endpoints;
use crate::api::retry::RetryPolicy;
use crate::api::{Access, Connection, HttpClient, SelfService};
use crate::diagnostic_code::Code;
use crate::manifest::LoadedManifest;
use crate::manifest::model::{Manifest, Settings};
use crate::plan::diff::diff_for_org;
use crate::plan::{EnvPlan, PLAN_FORMAT_VERSION, Plan, PlanError};
use crate::state::LiveEnv;

pub use crate::apply::{ApplyReport, NoProgress, Progress, execute};

/// Loads and validates the manifest, judging key expiry by [`crate::clock::now_unix`].
pub fn load(paths: &[PathBuf]) -> miette::Result<LoadedManifest> {
    let now = crate::clock::now_unix()?;
    crate::manifest::load::load_at(paths, now)
        .map(|(loaded, _warnings)| loaded)
        .map_err(miette::Report::new)
}

/// The environments to work on: those asked for (each must be in the manifest), or all; in
/// the order the manifest lists them either way, whatever the order of `--env`.
pub fn select_environments(
    manifest: &Manifest,
    requested: &[String],
) -> miette::Result<Vec<String>> {
    let known = manifest.environment_names();
    if known.is_empty() {
        miette::bail!(
            code = Code::EnvNone,
            help = "add an `environments:` section, e.g. `environments: {{ local: {{}} }}`",
            "the manifest names no environments"
        );
    }
    if requested.is_empty() {
        return Ok(known);
    }
    for env in requested {
        if !known.contains(env) {
            let closest = known
                .iter()
                .min_by_key(|k| strsim::levenshtein(k, env))
                .cloned()
                .unwrap_or_default();
            miette::bail!(
                code = Code::EnvUnknown,
                help = format!(
                    "the manifest's environments are: {}{}",
                    known.join(", "),
                    if strsim::levenshtein(&closest, env) <= 2 {
                        format!(" (did you mean `{closest}`?)")
                    } else {
                        String::new()
                    }
                ),
                "unknown environment `{env}`"
            );
        }
    }
    Ok(known
        .into_iter()
        .filter(|k| requested.contains(k))
        .collect())
}

/// The settings for one environment: the manifest's, with the environment's `prune` and the
/// command line's `--warn-expiry-days` over them.
pub fn settings_for(manifest: &Manifest, env: &str, warn_expiry_days: Option<u32>) -> Settings {
    let mut settings = manifest.settings.clone();
    if let Some(prune) = manifest.environments.get(env).and_then(|e| e.prune) {
        settings.prune = prune;
    }
    if let Some(days) = warn_expiry_days {
        settings.warn_expiry_days = days;
    }
    settings
}

/// Something that gives access to an environment's API and keeps it alive (for `local`, the
/// embedded emulator lives as long as the connection).
pub trait HasApi {
    type Api: SelfService;
    fn api(&self) -> &Self::Api;
}

impl HasApi for Connection {
    type Api = HttpClient;
    fn api(&self) -> &HttpClient {
        &self.client
    }
}

#[cfg(any(test, feature = "testkit"))]
impl HasApi for crate::apply::fake::FakeService {
    type Api = Self;
    fn api(&self) -> &Self {
        self
    }
}

/// Connects to an environment of the manifest with the credentials from the process
/// environment (for `local`, starting the embedded emulator, which lives as long as the
/// connection). At most `concurrency` requests are in flight at once.
pub async fn connect(
    loaded: &LoadedManifest,
    env: &str,
    access: Access,
    concurrency: usize,
    retry: &RetryPolicy,
) -> miette::Result<Connection> {
    crate::api::connect(loaded, env, access, concurrency, retry).await
}

/// Connects to `env` at explicit `endpoints` with explicit `credentials` (an emulator's admin,
/// as the benchmark and the soak run reach it), asking for the same scopes [`connect`] would,
/// and checking that the credentials act for the manifest's organisation.
pub async fn connect_as(
    loaded: &LoadedManifest,
    env: &str,
    endpoints: Endpoints,
    credentials: Credentials,
    access: Access,
    concurrency: usize,
    retry: RetryPolicy,
) -> miette::Result<Connection> {
    let access = match access {
        Access::Exactly(_) => access,
        Access::Read | Access::Write => {
            let environment = loaded
                .manifest
                .environments
                .get(env)
                .cloned()
                .unwrap_or_default();
            let request = crate::api::connect::admin_request(
                loaded,
                env,
                &environment,
                access == Access::Write,
            )?;
            Access::Exactly(request.scopes)
        }
    };
    let options = ConnectOptions {
        env: env.to_owned(),
        endpoints,
        access,
        concurrency,
        retry,
        organization: Some(loaded.manifest.organization.clone()),
        clock: None,
    };
    connect_with(options, credentials, None).await
}

/// Reads `env`'s live state.
pub async fn fetch<S: SelfService>(env: &str, api: &S) -> miette::Result<LiveEnv> {
    api.fetch().await.map_err(|e| {
        miette::miette!(
            code = Code::LiveUnreadable,
            help =
                "check the environment's endpoints and credentials (`mpctl -v` shows each request)",
            "cannot read the live state of `{env}`: {e}"
        )
    })
}

/// Plans one environment against its live state.
pub async fn plan_environment<S: SelfService>(
    loaded: &LoadedManifest,
    env: &str,
    api: &S,
    settings: &Settings,
    now: i64,
) -> miette::Result<EnvPlan> {
    Ok(plan_environment_live(loaded, env, api, settings, now)
        .await?
        .0)
}

/// [`plan_environment`], also returning the live state the plan was made from.
pub async fn plan_environment_live<S: SelfService>(
    loaded: &LoadedManifest,
    env: &str,
    api: &S,
    settings: &Settings,
    now: i64,
) -> miette::Result<(EnvPlan, LiveEnv)> {
    let live = fetch(env, api).await?;
    let plan = diff_environment(loaded, env, &live, api.sides_read(), settings, now);
    Ok((plan, live))
}

/// Diffs the manifest's `env` against its live state (read for `sides`): the plan, with why a
/// key is removed when it was retired by date, and the organisations' names. No I/O.
pub fn diff_environment(
    loaded: &LoadedManifest,
    env: &str,
    live: &LiveEnv,
    sides: crate::api::admin_scopes::Sides,
    settings: &Settings,
    now: i64,
) -> EnvPlan {
    let desired = crate::state::resolve::resolve(loaded, env, now);
    let mut plan = diff_for_org(
        Some(&loaded.manifest.organization),
        &desired,
        live,
        settings,
        now,
    );
    plan.env = env.to_owned();
    plan.not_read = crate::plan::NotRead::for_sides(env, sides);
    explain_retired_keys(loaded, env, &mut plan, now);
    crate::plan::names::annotate(
        &mut plan,
        &crate::plan::names::merged(&loaded.manifest.organizations, &live.org_names),
    );
    plan
}

/// Says why a key is removed when the manifest retired it (`retire_after` passed): resolution
/// already dropped it from the desired state, so the diff alone cannot tell.
fn explain_retired_keys(loaded: &LoadedManifest, env: &str, plan: &mut EnvPlan, now: i64) {
    let mut retired: BTreeMap<(String, String), String> = BTreeMap::new();
    for client in &loaded.manifest.clients {
        let attributes = client.attributes_in(env);
        for key_ref in attributes.keys().iter().filter(|r| r.is_retired(now)) {
            for key in loaded.keys.get(key_ref.path()).into_iter().flatten() {
                if let Some(date) = key_ref.retire_after() {
                    retired.insert((client.name.clone(), key.kid.clone()), date.to_owned());
                }
            }
        }
    }
    for change in &mut plan.changes {
        if change.kind != crate::plan::ChangeKind::RemoveKey {
            continue;
        }
        let Some(kid) = &change.resource.kid else {
            continue;
        };
        if let Some(date) = retired.get(&(change.resource.name.clone(), kid.clone())) {
            change.reason = Some(format!("past its retire_after date ({date})"));
        }
    }
}

/// Connects to and plans every environment, returning the plan and the open connections (which
/// `apply` goes on to use).
pub async fn plan_environments<C, F, Fut>(
    loaded: &LoadedManifest,
    paths: &[PathBuf],
    envs: &[String],
    warn_expiry_days: Option<u32>,
    now: i64,
    connect: F,
) -> miette::Result<(Plan, BTreeMap<String, C>)>
where
    C: HasApi,
    F: Fn(String) -> Fut,
    Fut: Future<Output = miette::Result<C>>,
{
    // Environments are independent: connect to and read them all at once.
    let planned = futures_util::future::try_join_all(envs.iter().map(|env| {
        let connecting = connect(env.clone());
        async move {
            let connection = connecting.await?;
            let settings = settings_for(&loaded.manifest, env, warn_expiry_days);
            let plan = plan_environment(loaded, env, connection.api(), &settings, now).await?;
            Ok::<_, miette::Report>((env.clone(), plan, connection))
        }
    }))
    .await?;
    let mut connections = BTreeMap::new();
    let mut environments = Vec::new();
    for (env, plan, connection) in planned {
        environments.push(plan);
        connections.insert(env, connection);
    }
    let plan = Plan {
        version: PLAN_FORMAT_VERSION,
        generated: crate::plan::format_time(now),
        manifest_digest: loaded.digest.clone(),
        manifest_paths: paths.iter().map(|p| p.display().to_string()).collect(),
        environments,
    };
    Ok((plan, connections))
}

/// Why apply refuses `env`'s plan for removing too much of what the manifest manages (`None`
/// when it does not, or `allow_mass_destroy` is given).
pub fn mass_destroy(
    loaded: &LoadedManifest,
    env: &EnvPlan,
    allow_mass_destroy: bool,
) -> Option<PlanError> {
    let settings = settings_for(&loaded.manifest, &env.env, None);
    crate::plan::guard::mass_destroy(env, settings.mass_destroy_percent, allow_mass_destroy)
}

/// Refuses plans with errors, or one over the mass-destroy threshold without the flag.
pub fn check(
    envs: &[EnvPlan],
    loaded: &LoadedManifest,
    allow_mass_destroy: bool,
) -> miette::Result<()> {
    if envs.iter().any(|e| !e.errors.is_empty()) {
        miette::bail!(
            code = Code::ApplyPlanErrors,
            help = "fix the errors listed with the plan above, then apply again",
            "the plan has errors; nothing was applied"
        );
    }
    let refusals: Vec<PlanError> = envs
        .iter()
        .filter_map(|env| mass_destroy(loaded, env, allow_mass_destroy))
        .collect();
    if let Some(first) = refusals.first() {
        let messages: Vec<&str> = refusals.iter().map(|e| e.message.as_str()).collect();
        miette::bail!(
            code = Code::ApplyMassDestroy,
            help = first.help.clone(),
            "{}; nothing was applied",
            messages.join("; ")
        );
    }
    Ok(())
}

/// Refuses plans with a change the admin token's scopes do not allow (only possible when an
/// environment declares the scopes its admin client holds), before anything is changed.
/// `token_scopes` gives an environment's token scopes where they are restricted.
pub fn check_admin_scopes(
    envs: &[EnvPlan],
    token_scopes: impl Fn(&str) -> Option<AdminScopes>,
) -> miette::Result<()> {
    let mut refusals = Vec::new();
    for env in envs {
        if let Some(scopes) = token_scopes(&env.env)
            && let Err(message) =
                crate::plan::admin_access::check_changes(&env.env, &env.changes, scopes)
        {
            refusals.push(message);
        }
    }
    if !refusals.is_empty() {
        miette::bail!(
            code = Code::AuthScopeNotHeld,
            help = "add the scopes to the admin client in Samarbeidsportalen and to the environment's `admin_scopes` (or MPCTL_<ENV>_SCOPES), or leave out of the manifest what needs them",
            "{}; nothing was applied",
            refusals.join("; ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::model::Environment;

    fn manifest(envs: &[&str]) -> Manifest {
        let yaml = format!(
            "version: 1\norganization: \"910753282\"\nenvironments:\n{}",
            envs.iter()
                .map(|e| format!("  {e}: {{}}\n"))
                .collect::<String>()
        );
        serde_yaml_ng::from_str(&yaml).unwrap()
    }

    #[test]
    fn unknown_environments_are_refused_with_a_suggestion() {
        let m = manifest(&["test", "prod"]);
        assert_eq!(
            select_environments(&m, &[]).unwrap(),
            ["test", "prod"],
            "the manifest's order, not the alphabet's"
        );
        assert_eq!(
            select_environments(&m, &["test".into(), "test".into()]).unwrap(),
            ["test"]
        );
        assert_eq!(
            select_environments(&m, &["prod".into(), "test".into()]).unwrap(),
            ["test", "prod"],
            "the manifest's order, not the command line's"
        );
        let err = select_environments(&m, &["tset".into()]).unwrap_err();
        let text = format!("{err:?}");
        assert!(text.contains("unknown environment `tset`"), "{text}");
        assert!(text.contains("did you mean `test`"), "{text}");
    }

    #[test]
    fn environment_prune_and_cli_expiry_window_override_the_settings() {
        let mut m = manifest(&["test"]);
        m.environments.insert(
            "test".into(),
            Environment {
                prune: Some(true),
                ..Environment::default()
            },
        );
        let s = settings_for(&m, "test", Some(7));
        assert!(s.prune);
        assert_eq!(s.warn_expiry_days, 7);
        assert!(!settings_for(&m, "prod", None).prune);
    }
}

#[cfg(test)]
mod pipeline_tests {
    use super::*;
    use crate::apply::fake::FakeService;
    use crate::manifest::orgno::OrgNo;
    fn loaded() -> LoadedManifest {
        let yaml = r#"
version: 1
organization: "910753282"
prefixes: [acme]
environments: { local: {} }
scopes:
  - name: acme:orders.read
    description: Read orders
    grants: ["974760673"]
"#;
        LoadedManifest {
            manifest: serde_yaml_ng::from_str(yaml).unwrap(),
            keys: BTreeMap::new(),
            files: vec![PathBuf::from("mpctl.yaml")],
            digest: "abc".into(),
        }
    }

    #[test]
    fn plans_each_environment_against_its_live_state() {
        let loaded = loaded();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (plan, connections) = runtime
            .block_on(plan_environments(
                &loaded,
                &[PathBuf::from("mpctl.yaml")],
                &["local".to_owned()],
                None,
                1_795_564_800,
                |_env: String| async {
                    Ok(FakeService::new(
                        OrgNo::new_unchecked("910753282"),
                        Default::default(),
                        1_795_564_800,
                    ))
                },
            ))
            .unwrap();
        assert_eq!(plan.manifest_digest, "abc");
        assert_eq!(plan.generated, "2026-11-25T00:00:00Z");
        assert_eq!(plan.manifest_paths, ["mpctl.yaml"]);
        assert_eq!(plan.environments[0].env, "local");
        let headlines: Vec<String> = plan.environments[0]
            .changes
            .iter()
            .map(|c| c.headline())
            .collect();
        assert_eq!(
            headlines,
            [
                "create scope acme:orders.read",
                "grant acme:orders.read to 974760673"
            ]
        );
        assert!(connections.contains_key("local"));
    }

    #[test]
    fn a_key_removed_for_its_retire_after_date_says_so() {
        use crate::state::{ClientState, KeyState, LiveEnv};
        let yaml = r#"
version: 1
organization: "910753282"
environments: { local: {} }
clients:
  - name: sync
    keys:
      - keys/new.json
      - { path: keys/old.json, retire_after: "2026-11-01" }
"#;
        let key = |kid: &str| KeyState {
            kid: kid.into(),
            jwk: serde_json::Map::new(),
            exp: Some(1_795_564_800 + 300 * 86_400),
            cert_not_after: None,
            source: None,
            retire_after: None,
        };
        let loaded = LoadedManifest {
            manifest: serde_yaml_ng::from_str(yaml).unwrap(),
            keys: [
                ("keys/new.json".to_owned(), vec![key("k-new")]),
                ("keys/old.json".to_owned(), vec![key("k-old")]),
            ]
            .into_iter()
            .collect(),
            files: vec![],
            digest: String::new(),
        };
        let mut live = LiveEnv::default();
        live.state.clients.insert(
            "id-1".into(),
            ClientState {
                client_id: Some("id-1".into()),
                name: "sync".into(),
                description: "sync".into(),
                active: true,
                integration_type: Some("maskinporten".into()),
                keys: [
                    ("k-new".to_owned(), key("k-new")),
                    ("k-old".to_owned(), key("k-old")),
                ]
                .into_iter()
                .collect(),
                ..ClientState::default()
            },
        );
        let api = FakeService::new(OrgNo::new_unchecked("910753282"), live, 1_795_564_800);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let plan = runtime
            .block_on(plan_environment(
                &loaded,
                "local",
                &api,
                &Settings::default(),
                1_795_564_800,
            ))
            .unwrap();
        let reasons: Vec<(String, Option<String>)> = plan
            .changes
            .iter()
            .map(|c| (c.headline(), c.reason.clone()))
            .collect();
        assert_eq!(
            reasons,
            [(
                "remove key k-old of client sync".to_owned(),
                Some("past its retire_after date (2026-11-01)".to_owned())
            )]
        );
    }
}
