//! The CPU cost of the pure core on a large manifest: validate (load, schema, semantic rules,
//! key files) and diff (resolve each environment and compare it with live state), measured in
//! thread CPU time so that neither waiting nor other processes count.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::measure::cpu_of;
use crate::manifest::LoadedManifest;
use crate::state::{EnvState, LiveEnv};

/// CPU time of validating a manifest and diffing each of its environments.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CoreCpu {
    /// Loading and validating the manifest, key files included.
    pub validate: Duration,
    /// Resolving and diffing every environment against its live state.
    pub diff: Duration,
    /// Changes the diff found in all (zero when live state matches the manifest).
    pub changes: usize,
}

impl CoreCpu {
    /// Validate and diff together.
    pub fn total(&self) -> Duration {
        self.validate + self.diff
    }
}

/// Validates the manifest at `path` and diffs every environment against `live` (by environment
/// name; an environment missing there is diffed against an empty one). Keeps the fastest of
/// `rounds` runs of each step, the usual way to take noise from other processes out of a
/// CPU-time figure.
pub fn measure(
    path: &Path,
    live: &BTreeMap<String, LiveEnv>,
    now_unix: i64,
    rounds: usize,
) -> Result<(LoadedManifest, CoreCpu), crate::manifest::Diagnostics> {
    let mut best: Option<CoreCpu> = None;
    let mut kept = None;
    for _ in 0..rounds.max(1) {
        let (loaded, validate) =
            cpu_of(|| crate::manifest::load::load_at(&[path.to_path_buf()], now_unix));
        let (loaded, _) = loaded?;
        let empty = LiveEnv::default();
        let (changes, diff) = cpu_of(|| {
            let mut changes = 0;
            for env in loaded.manifest.environment_names() {
                // What `plan` runs once the live state is read (the engine's diff step).
                let settings = crate::engine::settings_for(&loaded.manifest, &env, None);
                let plan = crate::engine::diff_environment(
                    &loaded,
                    &env,
                    live.get(&env).unwrap_or(&empty),
                    crate::api::admin_scopes::Sides::BOTH,
                    &settings,
                    now_unix,
                );
                changes += plan.changes.len();
            }
            changes
        });
        let this = CoreCpu {
            validate,
            diff,
            changes,
        };
        best = Some(match best {
            None => this,
            Some(b) => CoreCpu {
                validate: b.validate.min(this.validate),
                diff: b.diff.min(this.diff),
                changes: this.changes,
            },
        });
        kept = Some(loaded);
    }
    match (kept, best) {
        (Some(loaded), Some(best)) => Ok((loaded, best)),
        _ => Err(crate::manifest::Diagnostics::new()),
    }
}

/// The live state an API would report for `desired` once applied: every scope active with its
/// grants, every client active (keyed by a made-up `client_id`) with its keys.
pub fn live_matching(desired: &EnvState, accessible: impl IntoIterator<Item = String>) -> LiveEnv {
    let mut state = desired.clone();
    state.clients = desired
        .clients
        .values()
        .enumerate()
        .map(|(i, c)| {
            let id = format!("00000000-0000-4000-8000-{i:012}");
            let mut live = c.clone();
            live.client_id = Some(id.clone());
            live.integration_type = Some("maskinporten".into());
            live.renamed_from = Vec::new();
            live.protected = false;
            for key in live.keys.values_mut() {
                key.source = None;
                key.retire_after = None;
            }
            (id, live)
        })
        .collect();
    for scope in state.scopes.values_mut() {
        scope.protected = false;
    }
    LiveEnv {
        state,
        accessible_scopes: accessible.into_iter().collect(),
        contacts_api: true,
        org_names: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::generate::{Spec, generate};

    #[test]
    fn diff_against_matching_live_state_is_empty_and_against_nothing_is_everything() {
        let spec = Spec {
            scopes: 30,
            grants: 90,
            clients: 10,
            environments: 2,
            contacts: true,
            seed: 3,
        };
        let generated = generate(&spec);
        let dir = tempfile::tempdir().unwrap();
        let path = generated.write_to(dir.path()).unwrap();
        let now = 1_795_564_800;
        let (loaded, _) = crate::manifest::load::load_at(std::slice::from_ref(&path), now).unwrap();
        let mut live = BTreeMap::new();
        for env in loaded.manifest.environment_names() {
            let desired = crate::state::resolve::resolve(&loaded, &env, now);
            let accessible = desired
                .scopes
                .values()
                .filter(|s| s.grants.contains(&loaded.manifest.organization))
                .map(|s| s.name.clone())
                .collect::<Vec<_>>();
            live.insert(env, live_matching(&desired, accessible));
        }
        let (_, cpu) = measure(&path, &live, now, 2).unwrap();
        assert_eq!(cpu.changes, 0, "matching live state must plan nothing");
        assert!(cpu.validate > Duration::ZERO);

        let (_, from_nothing) = measure(&path, &BTreeMap::new(), now, 1).unwrap();
        // Per environment: every scope, grant and client is created (keys and contacts ride
        // along with their client or are separate steps), so at least that many changes.
        assert!(
            from_nothing.changes >= 2 * (30 + 90 + 10),
            "{}",
            from_nothing.changes
        );
    }

    /// The full target size, for profiling by hand:
    /// `cargo test --lib bench::cpu::tests::full_scale -- --ignored --nocapture`.
    #[test]
    #[ignore = "seconds of CPU in a debug build; run by hand to profile"]
    fn full_scale() {
        let generated = generate(&Spec::TARGET);
        let dir = tempfile::tempdir().unwrap();
        let path = generated.write_to(dir.path()).unwrap();
        let now = 1_795_564_800;
        let (loaded, _) = crate::manifest::load::load_at(std::slice::from_ref(&path), now).unwrap();
        let mut live = BTreeMap::new();
        for env in loaded.manifest.environment_names() {
            let desired = crate::state::resolve::resolve(&loaded, &env, now);
            live.insert(env, live_matching(&desired, Vec::new()));
        }
        let (_, cpu) = measure(&path, &live, now, 3).unwrap();
        eprintln!("{cpu:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        let (parsed, yaml) = cpu_of(|| crate::manifest::yaml::parse(&text).unwrap());
        let (_, schema) = cpu_of(|| crate::manifest::schema::check(&parsed.value, false));
        let (_, keys) = cpu_of(|| {
            for (file, _) in &generated.key_files {
                let _ = crate::manifest::keys::load_key_file(&dir.path().join(file), now, 30);
            }
        });
        eprintln!("yaml {yaml:?}, schema {schema:?}, key files {keys:?}");
        for (env, l) in &live {
            let (_, digest) = cpu_of(|| crate::plan::saved::live_digest(l));
            let (desired, resolve) = cpu_of(|| crate::state::resolve::resolve(&loaded, env, now));
            let settings = crate::engine::settings_for(&loaded.manifest, env, None);
            let (_, diff) = cpu_of(|| {
                crate::plan::diff::diff_for_org(
                    Some(&loaded.manifest.organization),
                    &desired,
                    l,
                    &settings,
                    now,
                )
            });
            eprintln!("{env}: live_digest {digest:?}, resolve {resolve:?}, diff {diff:?}");
        }
    }
}
