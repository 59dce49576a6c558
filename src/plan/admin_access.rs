//! What the admin token's scopes allow of a plan: each change needs the write scope of its side
//! of the API, and apply refuses up front a plan whose changes the held scopes do not cover.

use super::Change;
use crate::api::admin_scopes::{AdminScope, AdminScopes};

/// The scopes a change needs that `scopes` lacks (empty when it may be made). Changing a
/// client takes `idporten:dcr.modify` (the API also accepts `idporten:dcr.write` for it).
pub fn missing_for_change(change: &Change, scopes: AdminScopes) -> AdminScopes {
    use super::ChangeKind as K;
    use crate::plan::ResourceKind as R;
    let needs: &[AdminScope] = match (change.resource.kind, change.kind) {
        (R::Scope | R::Grant, _) => &[AdminScope::ScopesWrite],
        (R::Contacts, _) if change.resource.name.is_empty() => &[AdminScope::ScopesWrite],
        (R::Client, K::Create) => &[AdminScope::DcrWrite],
        (R::Client, K::Replace) => &[AdminScope::DcrWrite, AdminScope::DcrModify],
        _ => &[AdminScope::DcrModify],
    };
    let mut missing = AdminScopes::NONE;
    for need in needs {
        let held = scopes.contains(*need)
            || (*need == AdminScope::DcrModify && scopes.contains(AdminScope::DcrWrite));
        if !held {
            missing = missing.with(*need);
        }
    }
    missing
}

/// Refuses, before any change, a plan for `env` with changes the token's `scopes` do not
/// allow: names the missing scopes and the first changes that need them.
pub fn check_changes(env: &str, changes: &[Change], scopes: AdminScopes) -> Result<(), String> {
    let mut missing = AdminScopes::NONE;
    let mut examples = Vec::new();
    for change in changes {
        let lacking = missing_for_change(change, scopes);
        if !lacking.is_empty() {
            missing = missing.union(lacking);
            if examples.len() < 3 {
                examples.push(change.headline());
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "`{env}`: the admin client is declared not to hold {} ({}), which the plan needs for: {}",
        missing.listed(),
        missing
            .iter()
            .map(AdminScope::purpose)
            .collect::<Vec<_>>()
            .join("; "),
        examples.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, ChangeKind, Phase, Resource};

    #[test]
    fn each_change_needs_the_write_scope_of_its_side() {
        let change = |kind, resource| Change::new(kind, Phase::Scopes, resource, Action::None);
        let provider = AdminScopes::of(&[AdminScope::ScopesRead, AdminScope::ScopesWrite]);
        let consumer = AdminScopes::of(&[AdminScope::DcrRead, AdminScope::DcrModify]);
        let create_scope = change(ChangeKind::Create, Resource::scope("acme:a"));
        let provider_contacts = change(ChangeKind::Update, Resource::contacts(None));
        let create_client = change(ChangeKind::Create, Resource::client("c", None));
        let add_key = change(ChangeKind::Create, Resource::key("c", Some("id"), "k"));
        let client_contacts = change(ChangeKind::Update, Resource::contacts(Some(("c", None))));
        assert!(missing_for_change(&create_scope, provider).is_empty());
        assert!(missing_for_change(&provider_contacts, provider).is_empty());
        assert_eq!(
            missing_for_change(&create_scope, consumer),
            AdminScopes::of(&[AdminScope::ScopesWrite])
        );
        assert_eq!(
            missing_for_change(&create_client, consumer),
            AdminScopes::of(&[AdminScope::DcrWrite])
        );
        assert!(missing_for_change(&add_key, consumer).is_empty());
        assert!(missing_for_change(&client_contacts, consumer).is_empty());
        // The API takes dcr.write for changes too.
        let write_only = AdminScopes::of(&[AdminScope::DcrWrite]);
        assert!(missing_for_change(&add_key, write_only).is_empty());
        let err = check_changes("prod", &[create_scope, add_key], consumer).unwrap_err();
        assert!(err.contains("`idporten:scopes.write`"), "{err}");
        assert!(err.contains("create scope acme:a"), "{err}");
    }
}
