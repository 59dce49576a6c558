//! `mpctl plan`, and the steps `apply` and `drift` share with it: choose the environments, fetch
//! each one's live state, diff it against the manifest, render the result.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

use super::Exit;
use crate::api::SelfService;
use crate::cli::{OutputFormat, PlanArgs};
use crate::manifest::LoadedManifest;
use crate::manifest::model::{Manifest, Settings};
use crate::plan::diff::diff_for_org;
use crate::plan::{EnvPlan, PLAN_FORMAT_VERSION, Plan};
use crate::printer::Printer;
use crate::render::{self, Purpose};

pub fn run(args: &PlanArgs, printer: &Printer) -> miette::Result<Exit> {
    let loaded = super::engine_io::load(&args.manifest.paths)?;
    let envs = select_environments(&loaded.manifest, &args.env.envs)?;
    let now = now_unix()?;
    let runtime = super::runtime()?;
    let planning = plan_environments(
        &loaded,
        &args.manifest.paths,
        &envs,
        args.warn_expiry_days,
        now,
        |env: String| {
            let loaded = &loaded;
            let requests = &args.env;
            async move {
                super::engine_io::connect(loaded, &env, super::engine_io::Access::Read, requests)
                    .await
            }
        },
    );
    let (mut plan, _connections) =
        runtime.block_on(printer.while_waiting(&reading(&envs), planning))?;
    let base = super::base::BaseRef::choose(args.base.as_deref());
    super::base::filter_manual_steps(&mut plan, &loaded, &base, printer)?;
    printer.out(&render_plan(&plan, args.format, Purpose::Plan, printer));
    for env in &plan.environments {
        let settings = settings_for(&loaded.manifest, &env.env, None);
        if let Some(e) = crate::plan::guard::mass_destroy(env, settings.mass_destroy_percent, false)
        {
            printer.warn(&format!(
                "{}: apply will refuse it without `--allow-mass-destroy`",
                e.message
            ));
        }
    }
    if plan.has_errors() {
        printer.error("the plan has errors (listed above); apply would refuse it.");
    }
    if let Some(out) = &args.out {
        crate::plan::saved::write(&plan, out)?;
        printer.status(&format!(
            "Saved the plan to {}; apply it with `mpctl apply {}`.",
            out.display(),
            out.display()
        ));
    }
    Ok(plan_exit(&plan, args.detailed_exitcode))
}

/// What the spinner says while the live state of `envs` is read.
pub(crate) fn reading(envs: &[String]) -> String {
    format!("Reading the live state of {}", envs.join(", "))
}

/// The exit status of `plan`: 1 when the plan has errors; with `--detailed-exitcode`, 2 when
/// there are changes; else 0.
pub(crate) fn plan_exit(plan: &Plan, detailed: bool) -> Exit {
    if plan.has_errors() {
        Exit::Failure
    } else if detailed && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    }
}

/// Renders a plan in the chosen format.
pub(crate) fn render_plan(
    plan: &Plan,
    format: OutputFormat,
    purpose: Purpose,
    printer: &Printer,
) -> String {
    match format {
        OutputFormat::Human => render::human::render(plan, purpose, printer.color),
        OutputFormat::Markdown => render::markdown::render(plan, purpose),
        OutputFormat::Json => render::json::render(plan),
    }
}

/// The current time (Unix seconds). `MPCTL_NOW` (RFC 3339), or else `MPCTL_EMULATOR_NOW` (the
/// `local` emulator's clock), overrides it, so that expiry can be tested without waiting.
pub(crate) fn now_unix() -> miette::Result<i64> {
    for var in ["MPCTL_NOW", "MPCTL_EMULATOR_NOW"] {
        if let Ok(value) = std::env::var(var) {
            let parsed = time::OffsetDateTime::parse(
                value.trim(),
                &time::format_description::well_known::Rfc3339,
            )
            .map_err(|e| {
                miette::miette!(
                    help = "use RFC 3339, e.g. 2026-11-25T12:00:00Z, or unset it",
                    "{var} is not a valid time: {e}"
                )
            })?;
            return Ok(parsed.unix_timestamp());
        }
    }
    Ok(time::OffsetDateTime::now_utc().unix_timestamp())
}

/// The environments to work on: those asked for (each must be in the manifest), or all; in
/// the order the manifest lists them either way, whatever the order of `--env`.
pub(crate) fn select_environments(
    manifest: &Manifest,
    requested: &[String],
) -> miette::Result<Vec<String>> {
    let known = crate::manifest::resolve::environments(manifest);
    if known.is_empty() {
        miette::bail!(
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
pub(crate) fn settings_for(
    manifest: &Manifest,
    env: &str,
    warn_expiry_days: Option<u32>,
) -> Settings {
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
pub(crate) trait HasApi {
    type Api: SelfService;
    fn api(&self) -> &Self::Api;
}

#[cfg(any(test, feature = "testkit"))]
impl HasApi for crate::apply::fake::FakeService {
    type Api = Self;
    fn api(&self) -> &Self {
        self
    }
}

/// Plans one environment against its live state.
pub(crate) async fn plan_environment<S: SelfService>(
    loaded: &LoadedManifest,
    env: &str,
    api: &S,
    settings: &Settings,
    now: i64,
) -> miette::Result<EnvPlan> {
    let live = api.fetch().await.map_err(|e| {
        miette::miette!(
            help =
                "check the environment's endpoints and credentials (`mpctl -v` shows each request)",
            "cannot read the live state of `{env}`: {e}"
        )
    })?;
    let desired = crate::manifest::resolve::resolve(loaded, env, now);
    let mut plan = diff_for_org(
        Some(&loaded.manifest.organization),
        &desired,
        &live,
        settings,
        now,
    );
    plan.env = env.to_owned();
    plan.not_read = crate::plan::NotRead::for_sides(env, api.sides_read());
    explain_retired_keys(loaded, env, &mut plan, now);
    crate::plan::names::annotate(
        &mut plan,
        &crate::plan::names::merged(&loaded.manifest.organizations, &live.org_names),
    );
    Ok(plan)
}

/// Says why a key is removed when the manifest retired it (`retire_after` passed): resolution
/// already dropped it from the desired state, so the diff alone cannot tell.
fn explain_retired_keys(loaded: &LoadedManifest, env: &str, plan: &mut EnvPlan, now: i64) {
    use crate::manifest::resolve::is_retired;
    let mut retired: BTreeMap<(String, String), String> = BTreeMap::new();
    for client in &loaded.manifest.clients {
        let refs = client
            .overrides
            .get(env)
            .and_then(|o| o.keys.as_deref())
            .unwrap_or(&client.keys);
        for key_ref in refs.iter().filter(|r| is_retired(r, now)) {
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
pub(crate) async fn plan_environments<C, F, Fut>(
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

    #[test]
    fn plan_exit_codes_follow_terraform() {
        let mut plan = Plan {
            version: 1,
            generated: String::new(),
            manifest_digest: String::new(),
            manifest_paths: vec![],
            environments: vec![EnvPlan::default()],
        };
        assert_eq!(plan_exit(&plan, true), Exit::Success);
        plan.environments[0].changes.push(crate::plan::Change::new(
            crate::plan::ChangeKind::Create,
            crate::plan::Phase::Scopes,
            crate::plan::Resource::scope("a:b"),
            crate::plan::Action::None,
        ));
        assert_eq!(plan_exit(&plan, false), Exit::Success);
        assert_eq!(plan_exit(&plan, true), Exit::Changes);
        plan.environments[0].errors.push(crate::plan::PlanError {
            resource: None,
            message: "x".into(),
            help: "y".into(),
        });
        assert_eq!(plan_exit(&plan, true), Exit::Failure);
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
