//! Saved plans (`plan --out FILE`, `apply FILE`): the plan document bound to the digest of the
//! manifest and of each environment's live state. Applying a saved plan loads the manifest and
//! fetches the live state again, refuses when either changed (saying what), and otherwise
//! carries out the same plan, computed again at the saved time. The file holds no secrets: only
//! names, public key ids, field values of the manifest, and digests.

use std::path::{Component, Path, PathBuf};

use miette::{IntoDiagnostic, WrapErr};

use super::{EnvPlan, PLAN_FORMAT_VERSION, Plan};
use crate::diagnostic_code::Code;
use crate::state::LiveEnv;

/// SHA-256 (hex) of the live state's JSON form.
///
/// The typed state is serialised straight into the hash: every map and set in it is ordered
/// (`BTreeMap`, `BTreeSet`) and struct fields serialise in declaration order, so the bytes are
/// the same for the same state without sorting a JSON copy first. For a large organisation that
/// copy cost more than the rest of the diff.
pub fn live_digest(live: &LiveEnv) -> String {
    crate::digest::of_json(live)
}

/// Writes a plan to `path` as JSON. Its manifest paths are written relative to the working
/// directory, and refused unless `apply` will accept them (see [`manifest_paths_under`]).
pub fn write(plan: &Plan, path: &Path) -> miette::Result<()> {
    let cwd = std::env::current_dir().into_diagnostic()?;
    write_in(plan, path, &cwd)
}

/// [`write`] with `cwd` as the working directory.
fn write_in(plan: &Plan, path: &Path, cwd: &Path) -> miette::Result<()> {
    let mut plan = plan.clone();
    for p in &mut plan.manifest_paths {
        if let Ok(relative) = Path::new(p.as_str()).strip_prefix(cwd) {
            *p = relative.display().to_string();
        }
    }
    manifest_paths_under(&plan.manifest_paths, cwd).map_err(|e| {
        miette::miette!(
            code = Code::PlanPaths,
            help = "plan from the directory that holds the manifest (e.g. the repository's top \
                    level), naming it by a relative path; apply the plan from that directory",
            "the plan was not saved: `mpctl apply` would refuse it: {e}"
        )
    })?;
    let text = serde_json::to_string_pretty(&plan).into_diagnostic()?;
    std::fs::write(path, text + "\n")
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot write the plan to {}", path.display()))
}

/// The manifest paths of a saved plan, checked before anything is read.
///
/// A plan file is an artifact that crosses jobs and machines, so its paths are data to check,
/// not to trust: each must be relative, without `..`, lie under `base` (the directory `apply`
/// runs in) also after symbolic links are followed, and be a directory or a `.yaml`/`.yml` file.
/// Otherwise an edited plan could make mpctl read (and report on) any file, such as a private
/// key. The error names the path, never anything read from it.
pub fn manifest_paths_under(paths: &[String], base: &Path) -> Result<Vec<PathBuf>, String> {
    if paths.is_empty() {
        return Err("the plan names no manifest".into());
    }
    let base = base
        .canonicalize()
        .map_err(|e| format!("cannot resolve the working directory: {e}"))?;
    paths
        .iter()
        .map(|text| {
            let path = Path::new(text);
            let plain = path
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
            if !plain {
                return Err(format!(
                    "the manifest path {text:?} is absolute or climbs with `..`; a saved plan only \
                     names manifests under the directory it is applied from"
                ));
            }
            let real = base.join(path).canonicalize().map_err(|_| {
                format!(
                    "the manifest path {text:?} does not exist under {}",
                    base.display()
                )
            })?;
            if !real.starts_with(&base) {
                return Err(format!(
                    "the manifest path {text:?} leads (through a symbolic link) outside the \
                     directory the plan is applied from"
                ));
            }
            let yaml = real.extension().is_some_and(|e| e == "yaml" || e == "yml");
            if !(real.is_dir() || (real.is_file() && yaml)) {
                return Err(format!(
                    "the manifest path {text:?} is not a directory or a YAML file (*.yaml, *.yml)"
                ));
            }
            Ok(path.to_path_buf())
        })
        .collect()
}

/// Whether `path` is a saved plan rather than a manifest, judged by its content whatever its
/// name: a JSON object carrying the plan's marker fields (`manifest_digest`, `generated`,
/// `environments`), which no manifest has. A directory is never a plan.
pub fn is_plan_file(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    is_plan_text(&text)
}

/// Whether `text` is a saved plan (see [`is_plan_file`]). A YAML manifest may be written as JSON
/// too, so being JSON is not enough.
fn is_plan_text(text: &str) -> bool {
    if !text.trim_start().starts_with('{') {
        return false;
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) else {
        return false;
    };
    map.get("manifest_digest")
        .is_some_and(serde_json::Value::is_string)
        && map.contains_key("generated")
        && map
            .get("environments")
            .is_some_and(serde_json::Value::is_array)
}

/// Reads a saved plan, checking its format version.
pub fn read(path: &Path) -> miette::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read the plan file {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        miette::miette!(
            code = Code::PlanFile,
            help = "pass a file written by `mpctl plan --out FILE`, or a manifest",
            "{} is not a plan file: {e}",
            path.display()
        )
    })?;
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(PLAN_FORMAT_VERSION)) {
        miette::bail!(
            code = Code::PlanFile,
            help = "plan again with this version of mpctl",
            "{} is a plan of format version {}, this mpctl reads version {PLAN_FORMAT_VERSION}",
            path.display(),
            version.map_or_else(|| "?".to_owned(), |v| v.to_string())
        );
    }
    serde_json::from_value(value).map_err(|e| {
        miette::miette!(
            code = Code::PlanFile,
            help = "plan again with `mpctl plan --out FILE`",
            "{} is not a valid plan file: {e}",
            path.display()
        )
    })
}

/// Why a saved environment plan no longer holds, or `None` when the live state is unchanged.
/// `fresh` is the plan computed now (at the saved time) against the live state fetched now.
pub fn staleness(saved: &EnvPlan, fresh: &EnvPlan) -> Option<String> {
    if saved.live_digest == fresh.live_digest {
        return None;
    }
    let headlines = |p: &EnvPlan| -> Vec<String> {
        p.changes
            .iter()
            .map(|c| format!("{} {}", c.kind.symbol(), c.headline()))
            .collect()
    };
    let before = headlines(saved);
    let after = headlines(fresh);
    let gone: Vec<&String> = before.iter().filter(|h| !after.contains(h)).collect();
    let new: Vec<&String> = after.iter().filter(|h| !before.contains(h)).collect();
    let mut text = format!(
        "the live state of `{}` changed since the plan was saved",
        saved.env
    );
    if gone.is_empty() && new.is_empty() {
        text.push_str(
            " (the changes to make are the same, but something they depend on moved, or the plan \
             was saved by another version of mpctl)",
        );
    }
    if !gone.is_empty() {
        text.push_str("\n  no longer needed:");
        for h in gone {
            text.push_str(&format!("\n    {h}"));
        }
    }
    if !new.is_empty() {
        text.push_str("\n  now also needed:");
        for h in new {
            text.push_str(&format!("\n    {h}"));
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ScopeState;

    #[test]
    fn live_digest_is_stable_and_sensitive() {
        let mut live = LiveEnv::default();
        let a = live_digest(&live);
        assert_eq!(a, live_digest(&live.clone()));
        assert_eq!(a.len(), 64);
        live.state.scopes.insert(
            "acme:a".into(),
            ScopeState {
                name: "acme:a".into(),
                ..ScopeState::default()
            },
        );
        assert_ne!(a, live_digest(&live));
    }

    #[test]
    fn live_digest_does_not_depend_on_the_order_state_was_read_in() {
        let scope = |name: &str| ScopeState {
            name: name.into(),
            ..ScopeState::default()
        };
        let mut one = LiveEnv::default();
        let mut other = LiveEnv::default();
        for name in ["acme:a", "acme:b", "acme:c"] {
            one.state.scopes.insert(name.into(), scope(name));
        }
        for name in ["acme:c", "acme:a", "acme:b"] {
            other.state.scopes.insert(name.into(), scope(name));
        }
        other.accessible_scopes.insert("x:y".into());
        other.accessible_scopes.insert("a:b".into());
        one.accessible_scopes.insert("a:b".into());
        one.accessible_scopes.insert("x:y".into());
        assert_eq!(live_digest(&one), live_digest(&other));
    }

    #[test]
    fn a_changed_live_state_makes_a_saved_plan_stale_and_says_what_changed() {
        use crate::plan::diff::diff;
        use crate::plan::testkit::{NOW, OTHER, THIRD, desired, live, scope, settings};
        let want = desired(vec![scope("acme:a", "A", &[OTHER])], vec![]);
        let before = live(vec![], vec![], &[]);
        let mut saved = diff(&want, &before, &settings(), NOW);
        saved.env = "test".into();
        let same = diff(&want, &before, &settings(), NOW);
        assert_eq!(staleness(&saved, &same), None);

        // Someone created the scope by hand, with an extra grant.
        let after = live(vec![scope("acme:a", "A", &[THIRD])], vec![], &[]);
        let fresh = diff(&want, &after, &settings(), NOW);
        let why = staleness(&saved, &fresh).unwrap();
        assert!(why.contains("live state of `test` changed"), "{why}");
        assert!(
            why.contains("no longer needed:\n    + create scope acme:a"),
            "{why}"
        );
        // Something changed that the plan does not show: said as such.
        let mut moved = before.clone();
        moved.accessible_scopes.insert("other:scope".into());
        let why = staleness(&saved, &diff(&want, &moved, &settings(), NOW)).unwrap();
        assert!(why.contains("the changes to make are the same"), "{why}");
        assert!(why.contains("another version of mpctl"), "{why}");

        let why = staleness(&saved, &fresh).unwrap();
        let (_, added) = why.split_once("now also needed:").unwrap();
        assert!(
            added.contains(&format!("- revoke acme:a to {THIRD}")),
            "{why}"
        );
    }

    #[test]
    fn a_plan_round_trips_through_a_file_without_secrets() {
        use crate::plan::diff::diff;
        use crate::plan::testkit::{NOW, client, desired, key, live, settings};
        let want = desired(vec![], vec![client("sync", &[], &[key("k1")])]);
        let env = diff(&want, &live(vec![], vec![], &[]), &settings(), NOW);
        let plan = Plan {
            version: PLAN_FORMAT_VERSION,
            generated: crate::plan::format_time(NOW),
            manifest_digest: "d".into(),
            manifest_paths: vec!["mpctl.yaml".into()],
            environments: vec![env],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let err = format!("{:?}", write_in(&plan, &path, dir.path()).unwrap_err());
        assert!(err.contains("\"mpctl.yaml\" does not exist"), "{err}");
        std::fs::write(dir.path().join("mpctl.yaml"), "version: 1\n").unwrap();
        write_in(&plan, &path, dir.path()).unwrap();
        assert!(is_plan_file(&path));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("AQAB"), "no key material in a saved plan");
        let back = read(&path).unwrap();
        assert_eq!(back.environments[0].changes.len(), 2);
        assert_eq!(back.manifest_digest, "d");
    }

    #[test]
    fn a_plan_only_leads_to_yaml_manifests_under_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("repo");
        std::fs::create_dir_all(base.join("manifests")).unwrap();
        std::fs::write(base.join("mpctl.yaml"), "version: 1\n").unwrap();
        std::fs::write(base.join("admin.pem"), "-----BEGIN PRIVATE KEY-----\n").unwrap();
        std::fs::write(dir.path().join("outside.yaml"), "version: 1\n").unwrap();
        let check = |paths: &[&str]| {
            let paths: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
            manifest_paths_under(&paths, &base)
        };
        assert_eq!(
            check(&["mpctl.yaml", "./manifests"]).unwrap(),
            [PathBuf::from("mpctl.yaml"), PathBuf::from("./manifests")]
        );
        let refused = |paths: &[&str], why: &str| {
            let err = check(paths).unwrap_err();
            assert!(err.contains(why), "{paths:?}: {err}");
        };
        refused(&[], "names no manifest");
        refused(&["../outside.yaml"], "climbs with `..`");
        refused(&["manifests/../../outside.yaml"], "climbs with `..`");
        let absolute = dir.path().join("outside.yaml").display().to_string();
        refused(&[absolute.as_str()], "is absolute");
        refused(&["admin.pem"], "not a directory or a YAML file");
        refused(&["mpctl.yaml", "missing.yaml"], "does not exist");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("outside.yaml"), base.join("link.yaml"))
                .unwrap();
            refused(&["link.yaml"], "outside the directory");
        }
    }

    #[test]
    fn a_plan_is_recognised_by_its_content_not_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan {
            version: PLAN_FORMAT_VERSION,
            generated: crate::plan::format_time(0),
            manifest_digest: "d".into(),
            manifest_paths: vec![],
            environments: vec![],
        };
        for name in ["saved.plan", "plan", "plan.yaml", "plan.json"] {
            let path = dir.path().join(name);
            std::fs::write(&path, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
            assert!(is_plan_file(&path), "{name}");
        }
        let manifest = dir.path().join("mpctl.json");
        std::fs::write(
            &manifest,
            r#"{"version": 1, "organization": "910753282", "environments": {"local": {}}}"#,
        )
        .unwrap();
        assert!(!is_plan_file(&manifest), "a manifest written as JSON");
        let yaml = dir.path().join("mpctl.yaml");
        std::fs::write(&yaml, "version: 1\nmanifest_digest: x\n").unwrap();
        assert!(!is_plan_file(&yaml));
        assert!(!is_plan_file(dir.path()), "a directory");
        assert!(!is_plan_file(&dir.path().join("missing")));
    }

    #[test]
    fn reading_refuses_other_versions_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        std::fs::write(&path, r#"{"version": 99}"#).unwrap();
        let err = format!("{:?}", read(&path).unwrap_err());
        assert!(err.contains("format version 99"), "{err}");
        std::fs::write(&path, "not json").unwrap();
        let err = read(&path).unwrap_err();
        assert_eq!(
            err.code().map(|c| c.to_string()).as_deref(),
            Some(Code::PlanFile.as_str())
        );
    }
}
