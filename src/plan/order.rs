//! The order of a plan: the portal's rule made mechanical (design §5). Scopes exist before they
//! are granted, grants exist before clients ask for the scopes, clients let go of scopes before
//! the grants go, and grants go before the scope is deactivated.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Change, ChangeKind};

/// The phases of an apply, in the order they run. Changes inside a phase are independent of each
/// other (apart from a client's own create → keys → contacts, which the executor sequences).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// 1. Create, update and reactivate scopes.
    Scopes,
    /// 2. Add grants.
    Grants,
    /// 3. Create, update and reactivate clients; their keys and contacts; provider contacts.
    Clients,
    /// 4. Remove scopes from clients; deactivate clients.
    ClientRemovals,
    /// 5. Revoke grants.
    Revocations,
    /// 6. Deactivate scopes (after every grant on them is revoked).
    ScopeDeactivations,
}

impl Phase {
    /// All phases in order.
    pub const ALL: [Phase; 6] = [
        Phase::Scopes,
        Phase::Grants,
        Phase::Clients,
        Phase::ClientRemovals,
        Phase::Revocations,
        Phase::ScopeDeactivations,
    ];

    /// 1-based position, as design §5 numbers them.
    pub fn number(self) -> usize {
        self as usize + 1
    }

    /// A heading for people.
    pub fn title(self) -> &'static str {
        match self {
            Phase::Scopes => "create, update and reactivate scopes",
            Phase::Grants => "add grants",
            Phase::Clients => "create and update clients, keys and contacts",
            Phase::ClientRemovals => "remove scopes from clients, deactivate clients",
            Phase::Revocations => "revoke grants",
            Phase::ScopeDeactivations => "deactivate scopes",
        }
    }
}

/// Sorts changes into execution order: by phase, then by resource, with a client's own steps in
/// the order they must happen (create/update, then keys, then contacts). Stable and total, so the
/// same inputs always give the same plan.
pub fn sort(changes: &mut [Change]) {
    changes.sort_by(|a, b| {
        (a.phase, &a.resource.name, step_rank(a.kind), &a.resource).cmp(&(
            b.phase,
            &b.resource.name,
            step_rank(b.kind),
            &b.resource,
        ))
    });
}

/// Order of one resource's steps inside a phase.
fn step_rank(kind: ChangeKind) -> u8 {
    match kind {
        ChangeKind::Create | ChangeKind::Replace | ChangeKind::Reactivate => 0,
        ChangeKind::Update => 1,
        ChangeKind::AddKey | ChangeKind::RemoveKey | ChangeKind::RefreshKey => 2,
        ChangeKind::SetContacts => 3,
        ChangeKind::Grant | ChangeKind::Revoke => 4,
        ChangeKind::Deactivate => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Resource};

    #[test]
    fn phases_follow_design_section_5() {
        let numbers: Vec<usize> = Phase::ALL.iter().map(|p| p.number()).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
        assert!(Phase::Grants < Phase::Clients);
        assert!(Phase::Revocations < Phase::ScopeDeactivations);
    }

    #[test]
    fn sort_puts_phases_first_then_a_clients_own_steps_in_order() {
        let mut changes = vec![
            Change::new(
                ChangeKind::Deactivate,
                Phase::ScopeDeactivations,
                Resource::scope("a:x"),
                Action::None,
            ),
            Change::new(
                ChangeKind::AddKey,
                Phase::Clients,
                Resource::key("c", None, "k1"),
                Action::None,
            ),
            Change::new(
                ChangeKind::Create,
                Phase::Clients,
                Resource::client("c", None),
                Action::None,
            ),
            Change::new(
                ChangeKind::Create,
                Phase::Scopes,
                Resource::scope("a:y"),
                Action::None,
            ),
        ];
        sort(&mut changes);
        let kinds: Vec<ChangeKind> = changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                ChangeKind::Create,
                ChangeKind::Create,
                ChangeKind::AddKey,
                ChangeKind::Deactivate
            ]
        );
        assert_eq!(changes[1].resource.kind, crate::plan::ResourceKind::Client);
    }
}
