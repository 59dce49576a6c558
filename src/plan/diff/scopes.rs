//! Scopes and their grants: what to create, update, grant and revoke.

use super::*;

impl Differ<'_> {
    pub(super) fn scopes(&mut self) {
        for (name, want) in &self.desired.scopes {
            match self.live.state.scopes.get(name) {
                None => self.create_scope(name, want),
                Some(have) => self.update_scope(name, want, have),
            }
        }
        for (name, have) in &self.live.state.scopes {
            if self.desired.scopes.contains_key(name) || !have.active {
                continue;
            }
            let prune = self.settings.prune;
            self.plan.unmanaged.push(Unmanaged {
                resource: Resource::scope(name),
                pruned: prune,
            });
            if prune {
                for consumer in &have.grants {
                    self.revoke(name, consumer, "the scope is not in the manifest (prune)");
                }
                let mut c = Change::new(
                    ChangeKind::Deactivate,
                    Phase::ScopeDeactivations,
                    Resource::scope(name),
                    Action::DeactivateScope(name.clone()),
                );
                c.reason = Some("not in the manifest, and `prune` is on".into());
                self.push(c);
            }
        }
    }

    fn scope_fields(want: &ScopeState, have: Option<&ScopeState>) -> Vec<FieldChange> {
        let empty = ScopeState::default();
        let have_or_empty = have.unwrap_or(&empty);
        let mut fields = Vec::new();
        if have.is_none_or(|h| h.description != want.description) {
            fields.push(field(
                "description",
                have.map(|h| &h.description),
                Some(&want.description),
            ));
        }
        fields.extend(
            want.attributes
                .differences(&have_or_empty.attributes)
                .into_iter()
                .map(|d| FieldChange {
                    field: d.field.to_owned(),
                    old: d.live,
                    new: d.wanted,
                }),
        );
        fields
    }

    /// What to send for a scope: the live scope with the manifest's managed fields over it.
    fn merged_scope(want: &ScopeState, have: Option<&ScopeState>) -> ScopeState {
        let mut out = have.cloned().unwrap_or_default();
        out.name = want.name.clone();
        out.description = want.description.clone();
        out.attributes = out.attributes.overlay(&want.attributes);
        out.active = true;
        out.grants = want.grants.clone();
        out.protected = want.protected;
        out
    }

    fn create_scope(&mut self, name: &str, want: &ScopeState) {
        let mut c = Change::new(
            ChangeKind::Create,
            Phase::Scopes,
            Resource::scope(name),
            Action::CreateScope(Self::merged_scope(want, None)),
        );
        c.fields = Self::scope_fields(want, None);
        self.push(c);
        for consumer in &want.grants {
            self.grant(name, consumer);
        }
    }

    fn update_scope(&mut self, name: &str, want: &ScopeState, have: &ScopeState) {
        let fields = Self::scope_fields(want, Some(have));
        if !have.active || !fields.is_empty() {
            let kind = if have.active {
                ChangeKind::Update
            } else {
                ChangeKind::Reactivate
            };
            let mut c = Change::new(
                kind,
                Phase::Scopes,
                Resource::scope(name),
                Action::UpdateScope(Self::merged_scope(want, Some(have))),
            );
            c.fields = fields;
            self.push(c);
        }
        for consumer in want.grants.difference(&have.grants) {
            self.grant(name, consumer);
        }
        for consumer in have.grants.difference(&want.grants) {
            self.revoke(name, consumer, "not in the scope's grants in the manifest");
        }
    }

    fn grant(&mut self, scope: &str, consumer: &OrgNo) {
        self.push(Change::new(
            ChangeKind::Grant,
            Phase::Grants,
            Resource::grant(scope, consumer),
            Action::Grant {
                scope: scope.to_owned(),
                consumer: consumer.clone(),
            },
        ));
    }

    fn revoke(&mut self, scope: &str, consumer: &OrgNo, reason: &str) {
        let mut c = Change::new(
            ChangeKind::Revoke,
            Phase::Revocations,
            Resource::grant(scope, consumer),
            Action::Revoke {
                scope: scope.to_owned(),
                consumer: consumer.clone(),
            },
        );
        c.reason = Some(reason.to_owned());
        self.push(c);
    }
}
