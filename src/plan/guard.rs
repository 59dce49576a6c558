//! Guards against destroying what should not be destroyed: `protected` resources, and plans that
//! would take away a large share of an environment at once.

use super::{ChangeKind, EnvPlan, PlanError, ResourceKind};
use crate::state::EnvState;

/// Errors for every destructive change that touches a `protected` resource: revoking a grant of
/// a protected scope, deactivating a protected scope or client, replacing a protected client.
pub fn protected_violations(desired: &EnvState, plan: &EnvPlan) -> Vec<PlanError> {
    let mut errors = Vec::new();
    for change in plan.changes.iter().filter(|c| c.destructive) {
        let r = &change.resource;
        let protected = match r.kind {
            ResourceKind::Scope | ResourceKind::Grant => {
                desired.scopes.get(&r.name).is_some_and(|s| s.protected)
            }
            ResourceKind::Client => desired.clients.get(&r.name).is_some_and(|c| c.protected),
            ResourceKind::Key | ResourceKind::Contacts => false,
        };
        if !protected {
            continue;
        }
        let what = match change.kind {
            ChangeKind::Revoke => "revokes a grant of",
            ChangeKind::Replace => "replaces",
            _ => "deactivates",
        };
        let owner = match r.kind {
            ResourceKind::Client => format!("client `{}`", r.name),
            _ => format!("scope `{}`", r.name),
        };
        errors.push(PlanError {
            resource: Some(r.clone()),
            message: format!("the plan {what} the protected {owner} ({})", change.headline()),
            help: format!(
                "change the manifest so that {owner} is kept as it is live, or remove `protected: true` from it first if this is intended"
            ),
        });
    }
    errors
}

/// The number of destructive changes (deactivate, revoke, replace) of an environment's plan.
pub fn destructive_count(plan: &EnvPlan) -> usize {
    plan.changes.iter().filter(|c| c.destructive).count()
}

/// An error when the plan destroys more than `percent` % of the environment's managed
/// resources (and `--allow-mass-destroy` was not given).
pub fn mass_destroy(plan: &EnvPlan, percent: u8, allowed: bool) -> Option<PlanError> {
    let destroyed = destructive_count(plan);
    let base = plan.managed_resources;
    if allowed || destroyed == 0 || base == 0 {
        return None;
    }
    if destroyed * 100 <= usize::from(percent) * base {
        return None;
    }
    Some(PlanError {
        resource: None,
        message: format!(
            "the plan for `{}` deactivates, revokes or replaces {destroyed} of {base} managed resources ({}%), more than the limit of {percent}%",
            plan.env,
            destroyed * 100 / base
        ),
        help: "check the plan; if it is intended, run apply with `--allow-mass-destroy` (or raise `settings.mass_destroy_percent`)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::orgno::OrgNo;
    use crate::plan::{Action, Change, Phase, Resource};
    use crate::state::ScopeState;

    fn revoke(scope: &str) -> Change {
        Change::new(
            ChangeKind::Revoke,
            Phase::Revocations,
            Resource::grant(scope, &OrgNo::new_unchecked("974760673")),
            Action::None,
        )
    }

    #[test]
    fn revoking_a_grant_of_a_protected_scope_is_an_error() {
        let mut desired = EnvState::default();
        desired.scopes.insert(
            "acme:a".into(),
            ScopeState {
                name: "acme:a".into(),
                protected: true,
                ..ScopeState::default()
            },
        );
        let plan = EnvPlan {
            changes: vec![revoke("acme:a"), revoke("acme:b")],
            ..EnvPlan::default()
        };
        let errors = protected_violations(&desired, &plan);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("protected scope `acme:a`"));
    }

    #[test]
    fn mass_destroy_threshold_is_exclusive_and_can_be_allowed() {
        let mut plan = EnvPlan {
            env: "test".into(),
            changes: vec![revoke("acme:a")],
            managed_resources: 4,
            ..EnvPlan::default()
        };
        assert!(
            mass_destroy(&plan, 25, false).is_none(),
            "1 of 4 is exactly 25%"
        );
        plan.changes.push(revoke("acme:b"));
        let err = mass_destroy(&plan, 25, false).map(|e| e.message);
        assert!(err.is_some_and(|m| m.contains("2 of 4 managed resources (50%)")));
        assert!(mass_destroy(&plan, 25, true).is_none());
        assert!(mass_destroy(&plan, 50, false).is_none());
    }
}
