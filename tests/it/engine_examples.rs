//! Every example manifest plans and applies cleanly in every one of its environments (on the
//! in-memory API, with and without a contacts API), and planning again afterwards shows no
//! changes.

use std::path::{Path, PathBuf};

use mpctl::apply::fake::FakeService;
use mpctl::apply::{NoProgress, execute};
use mpctl::plan::diff::diff_for_org;
use mpctl::state::resolve::resolve;
use mpctl::state::{ClientState, LiveEnv};

const NOW: i64 = 1_795_564_800;

/// The example manifests: top-level `*.yaml` files, and every directory holding an
/// `mpctl.yaml` (a manifest of several files).
fn examples() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>, top: bool) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                if p.join("mpctl.yaml").is_file() {
                    out.push(p);
                } else {
                    walk(&p, out, false);
                }
            } else if top && p.extension().is_some_and(|e| e == "yaml") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &mut out,
        true,
    );
    out
}

#[test]
fn every_example_plans_applies_and_converges() {
    let examples = examples();
    assert!(examples.len() >= 5, "{examples:?}");
    for path in examples {
        let loaded = mpctl::manifest::load(std::slice::from_ref(&path))
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let manifest = &loaded.manifest;
        for env in manifest.environment_names() {
            for contacts_api in [false, true] {
                let desired = resolve(&loaded, &env, NOW);
                // Scopes of other providers that the example's clients use are granted to it.
                let own = |s: &str| {
                    manifest
                        .prefixes
                        .iter()
                        .any(|p| s.starts_with(&format!("{p}:")))
                };
                let live = LiveEnv {
                    accessible_scopes: desired
                        .clients
                        .values()
                        .flat_map(|c| c.scopes.iter())
                        .filter(|s| !own(s))
                        .cloned()
                        .collect(),
                    contacts_api,
                    ..LiveEnv::default()
                };
                // Clients pinned to a live id are adopted: they exist, bare, before the first apply.
                let mut live = live;
                for c in desired.clients.values() {
                    if let Some(id) = &c.client_id {
                        live.state.clients.insert(
                            id.clone(),
                            ClientState {
                                client_id: Some(id.clone()),
                                name: c.name.clone(),
                                active: true,
                                integration_type: Some("maskinporten".into()),
                                ..ClientState::default()
                            },
                        );
                    }
                }
                let api = FakeService::new(manifest.organization.clone(), live, NOW);
                let settings = manifest.settings.clone();
                let plan = diff_for_org(
                    Some(&manifest.organization),
                    &desired,
                    &api.snapshot(),
                    &settings,
                    NOW,
                );
                let what = format!("{} in {env} (contacts API: {contacts_api})", path.display());
                assert!(plan.errors.is_empty(), "{what}: {:#?}", plan.errors);
                assert!(plan.has_changes(), "{what}: an empty start needs changes");
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let report = runtime.block_on(execute(&plan, &api, 4, &NoProgress));
                assert!(report.succeeded(), "{what}: {report:#?}");
                assert!(
                    api.violations().is_empty(),
                    "{what}: {:?}",
                    api.violations()
                );
                let again = diff_for_org(
                    Some(&manifest.organization),
                    &desired,
                    &api.snapshot(),
                    &settings,
                    NOW,
                );
                assert!(again.changes.is_empty(), "{what}: {:#?}", again.changes);
                assert_eq!(
                    again.manual_steps.is_empty(),
                    contacts_api
                        || desired.contacts.is_none()
                            && desired.clients.values().all(|c| c.contacts.is_none()),
                    "{what}"
                );
            }
        }
    }
}
