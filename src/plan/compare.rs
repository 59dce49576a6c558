//! Whether a plan computed now makes the same changes as a reviewed one (`apply SAVED
//! --replan-if-same`): after a merge, the manifest or the live state may have moved on since the
//! plan was reviewed, and the fresh plan is applied only when it changes exactly what was
//! reviewed.
//!
//! "The same changes" means, per environment, the same list of changes in their JSON form
//! (kind, phase, resource, fields old → new, destructive, reason): exactly what the reviewer saw.
//! Digests, the time the plan was computed, manual steps, unmanaged resources and key expiries
//! are not changes and are not compared.

use super::{Change, EnvPlan};

/// How the changes of one environment differ between the reviewed and the fresh plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesDiffer {
    pub env: String,
    /// Reviewed, but not (or not like this) in the fresh plan.
    pub reviewed_only: Vec<String>,
    /// In the fresh plan, but not (or not like this) reviewed.
    pub fresh_only: Vec<String>,
}

impl std::fmt::Display for ChangesDiffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the changes to `{}` differ from the reviewed plan",
            self.env
        )?;
        if self.reviewed_only.is_empty() && self.fresh_only.is_empty() {
            write!(f, " (the same changes, in another order)")?;
        }
        if !self.reviewed_only.is_empty() {
            write!(f, "\n  reviewed, no longer planned:")?;
            for line in &self.reviewed_only {
                write!(f, "\n    {line}")?;
            }
        }
        if !self.fresh_only.is_empty() {
            write!(f, "\n  planned now, not reviewed:")?;
            for line in &self.fresh_only {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

/// `None` when `fresh` makes exactly the changes of `reviewed` (same environment), otherwise
/// what differs. A change whose fields or reason differ counts as reviewed-only in its old form
/// and fresh-only in its new one, shown with the fields so that the difference is visible.
pub fn changes_differ(reviewed: &EnvPlan, fresh: &EnvPlan) -> Option<ChangesDiffer> {
    let old: Vec<serde_json::Value> = reviewed.changes.iter().map(as_json).collect();
    let new: Vec<serde_json::Value> = fresh.changes.iter().map(as_json).collect();
    if old == new {
        return None;
    }
    let reviewed_only = reviewed
        .changes
        .iter()
        .zip(&old)
        .filter(|(_, value)| !new.contains(value))
        .map(|(change, _)| describe(change))
        .collect();
    let fresh_only = fresh
        .changes
        .iter()
        .zip(&new)
        .filter(|(_, value)| !old.contains(value))
        .map(|(change, _)| describe(change))
        .collect();
    Some(ChangesDiffer {
        env: reviewed.env.clone(),
        reviewed_only,
        fresh_only,
    })
}

fn as_json(change: &Change) -> serde_json::Value {
    serde_json::to_value(change).unwrap_or(serde_json::Value::Null)
}

/// `+ create scope acme:a (description: "A")`: the headline, and the fields when there are any.
fn describe(change: &Change) -> String {
    let mut line = format!("{} {}", change.kind.symbol(), change.headline());
    if !change.fields.is_empty() {
        let fields: Vec<String> = change
            .fields
            .iter()
            .map(|f| {
                let value = |v: &Option<serde_json::Value>| {
                    v.as_ref().map_or_else(|| "-".to_owned(), |v| v.to_string())
                };
                match (&f.old, &f.new) {
                    (None, _) => format!("{}: {}", f.field, value(&f.new)),
                    _ => format!("{}: {} → {}", f.field, value(&f.old), value(&f.new)),
                }
            })
            .collect();
        line.push_str(&format!(" ({})", fields.join(", ")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::diff::diff;
    use crate::plan::testkit::{NOW, OTHER, THIRD, desired, live, scope, settings};

    #[test]
    fn the_same_changes_computed_later_against_moved_state_are_the_same() {
        let want = desired(vec![scope("acme:a", "A", &[OTHER])], vec![]);
        let before = live(vec![], vec![], &[]);
        let reviewed = diff(&want, &before, &settings(), NOW);
        // The live state moved (another organisation's scope became visible) and time passed:
        // digests differ, the changes do not.
        let mut moved = before.clone();
        moved.accessible_scopes.insert("other:scope".into());
        let fresh = diff(&want, &moved, &settings(), NOW + 3600);
        assert_ne!(reviewed.live_digest, fresh.live_digest);
        assert_eq!(changes_differ(&reviewed, &fresh), None);
    }

    #[test]
    fn other_changes_are_listed_both_ways() {
        let want = desired(vec![scope("acme:a", "A", &[OTHER])], vec![]);
        let mut reviewed = diff(&want, &live(vec![], vec![], &[]), &settings(), NOW);
        reviewed.env = "test".into();
        // Someone created the scope by hand meanwhile, granted to a third organisation.
        let after = live(vec![scope("acme:a", "A", &[THIRD])], vec![], &[]);
        let fresh = diff(&want, &after, &settings(), NOW);
        let differ = changes_differ(&reviewed, &fresh).unwrap();
        assert_eq!(differ.env, "test");
        assert!(
            differ
                .reviewed_only
                .iter()
                .any(|l| l.starts_with("+ create scope acme:a")),
            "{differ}"
        );
        assert!(
            differ
                .fresh_only
                .contains(&format!("- revoke acme:a to {THIRD}")),
            "{differ}"
        );
        let text = differ.to_string();
        assert!(text.contains("differ from the reviewed plan"), "{text}");
        assert!(text.contains("planned now, not reviewed:"), "{text}");
    }

    #[test]
    fn a_change_with_other_values_is_a_different_change() {
        let existing = live(vec![scope("acme:a", "Old", &[OTHER])], vec![], &[]);
        let reviewed = diff(
            &desired(vec![scope("acme:a", "Reviewed", &[OTHER])], vec![]),
            &existing,
            &settings(),
            NOW,
        );
        let fresh = diff(
            &desired(vec![scope("acme:a", "Merged", &[OTHER])], vec![]),
            &existing,
            &settings(),
            NOW,
        );
        let differ = changes_differ(&reviewed, &fresh).unwrap();
        assert_eq!(differ.reviewed_only.len(), 1, "{differ}");
        assert!(differ.reviewed_only[0].contains("\"Reviewed\""), "{differ}");
        assert!(differ.fresh_only[0].contains("\"Merged\""), "{differ}");
    }

    #[test]
    fn nothing_to_do_now_differs_from_a_reviewed_change() {
        let want = desired(vec![scope("acme:a", "A", &[OTHER])], vec![]);
        let reviewed = diff(&want, &live(vec![], vec![], &[]), &settings(), NOW);
        let done = live(vec![scope("acme:a", "A", &[OTHER])], vec![], &[]);
        let fresh = diff(&want, &done, &settings(), NOW);
        assert!(fresh.changes.is_empty());
        let differ = changes_differ(&reviewed, &fresh).unwrap();
        assert!(differ.fresh_only.is_empty());
        assert!(!differ.reviewed_only.is_empty());
    }
}
