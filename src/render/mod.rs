//! Renderings of a plan: [`human`] (terminal), [`markdown`] (pull-request comments, job
//! summaries, issues) and [`json`] (programs; described by `schema/plan.schema.json`).
//! Renderers are pure: a plan in, a string out.

pub mod human;
pub mod json;
pub mod markdown;

use crate::plan::{
    Change, ChangeKind, EnvPlan, ExpiryStatus, FieldChange, KeyExpiry, ResourceKind,
};

/// What the rendering is for: a plan (what apply would do) or a drift report (how live differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Plan,
    Drift,
}

/// A JSON value as people read it: strings quoted, lists in brackets, absent as `(none)`.
pub fn show_value(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => "(none)".into(),
        Some(serde_json::Value::Array(items)) => {
            let parts: Vec<String> = items
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => show_value(Some(other)),
                })
                .collect();
            format!("[{}]", parts.join(", "))
        }
        Some(serde_json::Value::Object(map)) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}: {}", show_value(Some(v))))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Some(other) => other.to_string(),
    }
}

/// One piece of a word-level diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WordPiece {
    Same(String),
    Removed(String),
    Added(String),
}

/// A word-level diff of a changed long text field (both sides strings of several words), or
/// `None` for fields better shown as old → new.
pub fn word_diff(change: &FieldChange) -> Option<Vec<WordPiece>> {
    let old = change.old.as_ref()?.as_str()?;
    let new = change.new.as_ref()?.as_str()?;
    let words = |s: &str| s.split_whitespace().count();
    if words(old) < 4 && words(new) < 4 {
        return None;
    }
    let diff = similar::TextDiff::from_words(old, new);
    let mut pieces: Vec<WordPiece> = Vec::new();
    for change in diff.iter_all_changes() {
        let text = change.value().to_owned();
        let piece = match change.tag() {
            similar::ChangeTag::Equal => WordPiece::Same(text),
            similar::ChangeTag::Delete => WordPiece::Removed(text),
            similar::ChangeTag::Insert => WordPiece::Added(text),
        };
        // Merge neighbours of the same kind so the markers wrap phrases, not single words.
        match (pieces.last_mut(), &piece) {
            (Some(WordPiece::Same(a)), WordPiece::Same(b))
            | (Some(WordPiece::Removed(a)), WordPiece::Removed(b))
            | (Some(WordPiece::Added(a)), WordPiece::Added(b)) => a.push_str(b),
            _ => pieces.push(piece),
        }
    }
    Some(pieces)
}

/// A word diff in plain text: `[-removed-]{+added+}` (as `git diff --word-diff=plain`).
pub fn word_diff_plain(pieces: &[WordPiece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            WordPiece::Same(s) => s.clone(),
            WordPiece::Removed(s) => format!("[-{s}-]"),
            WordPiece::Added(s) => format!("{{+{s}+}}"),
        })
        .collect()
}

/// `2027-01-01 (402 days)`, `2026-11-20 (expired 5 days ago)`.
pub fn show_expiry(at: Option<i64>, days_left: Option<i64>) -> String {
    match (at, days_left) {
        (Some(t), Some(d)) if d < 0 => format!(
            "{} (expired {} day{} ago)",
            crate::plan::format_date(t),
            -d,
            if d == -1 { "" } else { "s" }
        ),
        (Some(t), Some(d)) => format!(
            "{} ({d} day{} left)",
            crate::plan::format_date(t),
            if d == 1 { "" } else { "s" }
        ),
        (Some(t), None) => crate::plan::format_date(t),
        (None, _) => "—".into(),
    }
}

/// The status word of a key expiry.
pub fn status_word(status: ExpiryStatus) -> &'static str {
    match status {
        ExpiryStatus::Ok => "ok",
        ExpiryStatus::Expiring => "EXPIRING",
        ExpiryStatus::Expired => "EXPIRED",
    }
}

/// Key expiries sorted by the nearest expiry first.
pub fn sorted_expiries(env: &EnvPlan) -> Vec<&KeyExpiry> {
    let mut keys: Vec<&KeyExpiry> = env.key_expiries.iter().collect();
    keys.sort_by_key(|k| {
        let nearest = [k.jwk_exp, k.cert_not_after]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(i64::MAX);
        (nearest, k.client.clone(), k.kid.clone())
    });
    keys
}

/// A change as drift: told from the live side, as what happened outside mpctl, then what apply
/// does about it (`grant of acme:a to 974760673 was removed outside mpctl; apply adds it back`),
/// so a reviewer does not have to reverse the plan's wording in their head.
pub fn drift_text(change: &Change) -> String {
    let r = &change.resource;
    let what = match r.kind {
        ResourceKind::Grant => format!("grant of {} to {}", r.name, r.consumer_label()),
        _ => r.label(),
    };
    // Contacts are plural ("contacts of client x were changed").
    let was = if r.kind == ResourceKind::Contacts {
        "were"
    } else {
        "was"
    };
    let retired = change
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("retire_after"));
    match change.kind {
        ChangeKind::Create => format!("{what} does not exist; apply creates it"),
        ChangeKind::Update => format!("{what} {was} changed outside mpctl; apply changes it back"),
        ChangeKind::Reactivate => {
            format!("{what} {was} deactivated outside mpctl; apply reactivates it")
        }
        // With a reason, the deactivation is part of another change (a replacement).
        ChangeKind::Deactivate if change.reason.is_some() => {
            format!("{what} is active; apply deactivates it")
        }
        ChangeKind::Deactivate => {
            format!("{what} is active but not in the manifest; apply deactivates it")
        }
        ChangeKind::Grant => format!("{what} {was} removed outside mpctl; apply adds it back"),
        ChangeKind::Revoke => format!("{what} {was} added outside mpctl; apply revokes it"),
        ChangeKind::Replace => format!(
            "{what} {was} changed outside mpctl in a field that cannot change; apply replaces it (its client_id changes)"
        ),
        ChangeKind::AddKey => format!("{what} {was} removed outside mpctl; apply adds it back"),
        ChangeKind::RemoveKey if retired => {
            format!("{what} is still registered past its retire_after date; apply removes it")
        }
        ChangeKind::RemoveKey => format!("{what} {was} added outside mpctl; apply removes it"),
        ChangeKind::RefreshKey => {
            format!("{what} is close to its expiry; apply registers it again to move it forward")
        }
        ChangeKind::SetContacts => format!("{what} {was} changed outside mpctl; apply sets them"),
    }
}

/// The symbol of a drift item, from the live side: `-` something is missing live, `+` something
/// live is extra, `~` something live differs.
pub fn drift_symbol(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Create | ChangeKind::Grant | ChangeKind::AddKey => "-",
        ChangeKind::Revoke | ChangeKind::Deactivate | ChangeKind::RemoveKey => "+",
        ChangeKind::Update
        | ChangeKind::Reactivate
        | ChangeKind::Replace
        | ChangeKind::RefreshKey
        | ChangeKind::SetContacts => "~",
    }
}

/// Fills each change's [`Change::drift`] with [`drift_text`], for the JSON drift report.
pub fn annotate_drift(plan: &mut crate::plan::Plan) {
    for env in &mut plan.environments {
        for change in &mut env.changes {
            change.drift = Some(drift_text(change));
        }
    }
}

/// A one-line account of drift in an environment, or `None` when there is none.
pub fn drift_line(env: &EnvPlan) -> Option<String> {
    let mut parts = Vec::new();
    let changes = env.changes.len();
    if changes > 0 {
        parts.push(format!(
            "{changes} change{} needed",
            if changes == 1 { "" } else { "s" }
        ));
    }
    let unmanaged = env.unmanaged.len();
    if unmanaged > 0 {
        parts.push(format!(
            "{unmanaged} unmanaged resource{}",
            if unmanaged == 1 { "" } else { "s" }
        ));
    }
    let expiring = env
        .key_expiries
        .iter()
        .filter(|k| k.managed && k.status == ExpiryStatus::Expiring)
        .count();
    let expired = env
        .key_expiries
        .iter()
        .filter(|k| k.managed && k.status == ExpiryStatus::Expired)
        .count();
    if expiring > 0 {
        parts.push(format!(
            "{expiring} key{} expiring",
            if expiring == 1 { "" } else { "s" }
        ));
    }
    if expired > 0 {
        parts.push(format!(
            "{expired} key{} expired",
            if expired == 1 { "" } else { "s" }
        ));
    }
    let refused = env.errors.len();
    if refused > 0 {
        parts.push(format!(
            "{refused} difference{} apply would refuse to correct",
            if refused == 1 { "" } else { "s" }
        ));
    }
    if parts.is_empty() {
        None
    } else {
        Some(format!("Drift: {}.", parts.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::orgno::OrgNo;
    use crate::plan::{Action, Phase, Resource};
    use serde_json::json;

    #[test]
    fn drift_is_told_from_the_live_side() {
        let org = OrgNo::new_unchecked("964338531");
        let change = |kind, resource| Change::new(kind, Phase::Grants, resource, Action::None);
        let grant = change(ChangeKind::Grant, Resource::grant("fdir:x", &org));
        assert_eq!(
            drift_text(&grant),
            "grant of fdir:x to 964338531 was removed outside mpctl; apply adds it back"
        );
        assert_eq!(drift_symbol(grant.kind), "-", "missing live");
        let revoke = change(ChangeKind::Revoke, Resource::grant("fdir:x", &org));
        assert_eq!(
            drift_text(&revoke),
            "grant of fdir:x to 964338531 was added outside mpctl; apply revokes it"
        );
        assert_eq!(drift_symbol(revoke.kind), "+", "extra live");
        let mut key = change(ChangeKind::RemoveKey, Resource::key("sync", None, "k1"));
        assert!(drift_text(&key).contains("was added outside mpctl"));
        key.reason = Some("past its retire_after date (2026-11-01)".into());
        assert!(drift_text(&key).contains("past its retire_after date"));
        let contacts = change(ChangeKind::SetContacts, Resource::contacts(None));
        assert!(drift_text(&contacts).contains("were changed outside mpctl"));
    }

    #[test]
    fn long_text_gets_a_word_diff_short_values_do_not() {
        let long = FieldChange {
            field: "description".into(),
            old: Some(json!("Read the orders of the customer")),
            new: Some(json!("Read and cancel the orders of the customer")),
        };
        let pieces = word_diff(&long).unwrap();
        assert_eq!(
            word_diff_plain(&pieces),
            "Read {+and cancel +}the orders of the customer"
        );
        let short = FieldChange {
            field: "description".into(),
            old: Some(json!("Orders")),
            new: Some(json!("Invoices")),
        };
        assert!(word_diff(&short).is_none());
    }

    #[test]
    fn values_read_naturally() {
        assert_eq!(show_value(Some(&json!(["a:b", "c:d"]))), "[a:b, c:d]");
        assert_eq!(show_value(Some(&json!("x"))), "\"x\"");
        assert_eq!(show_value(None), "(none)");
    }
}
