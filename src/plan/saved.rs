//! Saved plans (`plan --out FILE`, `apply FILE`): the plan document bound to the digest of the
//! manifest and of each environment's live state. Applying a saved plan loads the manifest and
//! fetches the live state again, refuses when either changed (saying what), and otherwise
//! carries out the same plan, computed again at the saved time. The file holds no secrets: only
//! names, public key ids, field values of the manifest, and digests.

use std::path::Path;

use miette::{IntoDiagnostic, WrapErr};
use sha2::{Digest, Sha256};

use super::{EnvPlan, PLAN_FORMAT_VERSION, Plan};
use crate::state::LiveEnv;

/// SHA-256 (hex) of the live state in a canonical JSON form (object keys sorted).
pub fn live_digest(live: &LiveEnv) -> String {
    let value = serde_json::to_value(live).unwrap_or(serde_json::Value::Null);
    // The bytes of `to_vec(&canonical(&value))`, streamed into the hash without building the
    // sorted copy or the byte string: for a large organisation those copies were most of the
    // diff's CPU time.
    let mut hasher = HashWriter(Sha256::new());
    if write_canonical(&value, &mut hasher).is_err() {
        return hex(&Sha256::digest(b""));
    }
    hex(&hasher.0.finalize())
}

/// Feeds written bytes into a SHA-256.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes `value` as compact JSON with every object's keys sorted: the same bytes as
/// serialising [`canonical`]'s result.
fn write_canonical(
    value: &serde_json::Value,
    out: &mut impl std::io::Write,
) -> serde_json::Result<()> {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.write_all(b"{").map_err(serde_json::Error::io)?;
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.write_all(b",").map_err(serde_json::Error::io)?;
                }
                serde_json::to_writer(&mut *out, k)?;
                out.write_all(b":").map_err(serde_json::Error::io)?;
                write_canonical(v, out)?;
            }
            out.write_all(b"}").map_err(serde_json::Error::io)
        }
        serde_json::Value::Array(items) => {
            out.write_all(b"[").map_err(serde_json::Error::io)?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",").map_err(serde_json::Error::io)?;
                }
                write_canonical(item, out)?;
            }
            out.write_all(b"]").map_err(serde_json::Error::io)
        }
        scalar => serde_json::to_writer(out, scalar),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
fn canonical(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                if let Some(v) = map.get(k) {
                    out.insert(k.clone(), canonical(v));
                }
            }
            serde_json::Value::Object(out)
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(canonical).collect())
        }
        other => other.clone(),
    }
}

/// Writes a plan to `path` as JSON.
pub fn write(plan: &Plan, path: &Path) -> miette::Result<()> {
    let text = serde_json::to_string_pretty(plan).into_diagnostic()?;
    std::fs::write(path, text + "\n")
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot write the plan to {}", path.display()))
}

/// Whether `path` is a saved plan rather than a manifest: a `.json` file.
pub fn is_plan_file(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|e| e == "json")
}

/// Reads a saved plan, checking its format version.
pub fn read(path: &Path) -> miette::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read the plan file {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        miette::miette!(
            help = "pass a file written by `mpctl plan --out FILE`, or a manifest",
            "{} is not a plan file: {e}",
            path.display()
        )
    })?;
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(PLAN_FORMAT_VERSION)) {
        miette::bail!(
            help = "plan again with this version of mpctl",
            "{} is a plan of format version {}, this mpctl reads version {PLAN_FORMAT_VERSION}",
            path.display(),
            version.map_or_else(|| "?".to_owned(), |v| v.to_string())
        );
    }
    serde_json::from_value(value).map_err(|e| {
        miette::miette!(
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
        text.push_str(" (the changes to make are the same, but something they depend on moved)");
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
    fn streamed_canonical_form_is_byte_for_byte_the_sorted_copy() {
        let value = serde_json::json!({
            "z": [1, {"b": "x\"y", "a": null}],
            "a": {"d": 1.5, "c": [true, false, "é\n"]},
            "m": {}
        });
        let mut streamed = Vec::new();
        write_canonical(&value, &mut streamed).unwrap();
        assert_eq!(streamed, serde_json::to_vec(&canonical(&value)).unwrap());
    }

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
    fn canonical_form_ignores_key_order() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":{"d":2,"c":3}}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"a":{"c":3,"d":2},"b":1}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&canonical(&a)).unwrap(),
            serde_json::to_string(&canonical(&b)).unwrap()
        );
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
        write(&plan, &path).unwrap();
        assert!(is_plan_file(&path));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("AQAB"), "no key material in a saved plan");
        let back = read(&path).unwrap();
        assert_eq!(back.environments[0].changes.len(), 2);
        assert_eq!(back.manifest_digest, "d");
    }

    #[test]
    fn reading_refuses_other_versions_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        std::fs::write(&path, r#"{"version": 99}"#).unwrap();
        let err = format!("{:?}", read(&path).unwrap_err());
        assert!(err.contains("format version 99"), "{err}");
        std::fs::write(&path, "not json").unwrap();
        assert!(read(&path).is_err());
    }
}
