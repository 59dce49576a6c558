//! Clients and their keys: matching live clients, what to create, update or replace, and
//! key expiry.

use super::*;

impl Differ<'_> {
    /// Matches desired clients (by name) to live ones (by id): pinned `client_id` first, then
    /// `client_name`, then an earlier name from `renamed_from`. Each live client matches once.
    fn match_clients(&mut self) -> BTreeMap<String, Option<String>> {
        let live = &self.live.state.clients;
        let mut claimed: BTreeSet<String> = BTreeSet::new();
        let mut matched: BTreeMap<String, Option<String>> = BTreeMap::new();
        for (name, want) in &self.desired.clients {
            if let Some(id) = &want.client_id {
                if live.contains_key(id) {
                    claimed.insert(id.clone());
                    matched.insert(name.clone(), Some(id.clone()));
                } else {
                    self.plan.errors.push(PlanError {
                        resource: Some(Resource::client(name, Some(id))),
                        message: format!(
                            "client `{name}` is pinned to client_id {id}, which does not exist in this environment"
                        ),
                        help: "fix the id under the client's `client_ids`, or remove it to create a new client".into(),
                    });
                }
            }
        }
        // Live clients by name: names are not unique, and looking each one up by scanning all
        // clients made matching quadratic in the number of clients.
        let mut by_name: HashMap<&str, Vec<&ClientState>> = HashMap::new();
        for c in live.values() {
            by_name.entry(c.name.as_str()).or_default().push(c);
        }
        // The unclaimed live clients named `wanted` that a match would choose from: the
        // active Maskinporten ones if any, else the best of the rest (deactivated, or of
        // another integration type). More than one is an ambiguity, never settled silently.
        let find = |wanted: &str, claimed: &BTreeSet<String>| -> Vec<String> {
            let candidates: Vec<&&ClientState> = by_name
                .get(wanted)
                .into_iter()
                .flatten()
                .filter(|c| c.client_id.as_ref().is_some_and(|id| !claimed.contains(id)))
                .collect();
            let rank = |c: &ClientState| (!c.active, !is_maskinporten(c));
            let Some(best) = candidates.iter().map(|c| rank(c)).min() else {
                return Vec::new();
            };
            candidates
                .into_iter()
                .filter(|c| rank(c) == best)
                .filter_map(|c| c.client_id.clone())
                .collect()
        };
        let mut ambiguous: Vec<(String, String, Vec<String>)> = Vec::new();
        for (name, want) in &self.desired.clients {
            if want.client_id.is_some() {
                continue;
            }
            match find(name, &claimed).as_slice() {
                [] => {}
                [id] => {
                    claimed.insert(id.clone());
                    matched.insert(name.clone(), Some(id.clone()));
                }
                ids => ambiguous.push((name.clone(), name.clone(), ids.to_vec())),
            }
        }
        for (name, want) in &self.desired.clients {
            if want.client_id.is_some()
                || matched.contains_key(name)
                || ambiguous.iter().any(|(n, _, _)| n == name)
            {
                continue;
            }
            let found = want
                .renamed_from
                .iter()
                .map(|old| (old, find(old, &claimed)))
                .find(|(_, ids)| !ids.is_empty());
            match found {
                Some((_, ids)) if ids.len() == 1 => {
                    claimed.insert(ids[0].clone());
                    matched.insert(name.clone(), Some(ids[0].clone()));
                }
                Some((old, ids)) => ambiguous.push((name.clone(), old.clone(), ids)),
                None => {
                    matched.insert(name.clone(), None);
                }
            }
        }
        for (name, live_name, ids) in ambiguous {
            self.plan
                .errors
                .push(duplicate_clients_error(&name, &live_name, &ids));
            // Neither created nor reported as unmanaged (nor pruned): the user chooses.
            self.ambiguous.extend(ids);
        }
        matched
    }

    pub(super) fn clients(&mut self) {
        let matched = self.match_clients();
        let claimed: BTreeSet<&String> = matched.values().flatten().collect();
        let unclaimed = self.live.state.clients.iter().filter(|(id, c)| {
            !claimed.contains(id) && !self.ambiguous.contains(*id) && c.active && is_maskinporten(c)
        });
        let (admins, unmanaged): (Vec<_>, Vec<_>) =
            unclaimed.partition(|(_, c)| is_admin_client(c));
        for (id, admin) in admins {
            for key in admin.keys.values() {
                let expiry = self.expiry(&admin.name, Some(id), key, None, false);
                self.plan.key_expiries.push(expiry);
            }
        }
        let unmanaged: Vec<ClientState> = unmanaged.into_iter().map(|(_, c)| c.clone()).collect();
        for (name, want) in &self.desired.clients {
            self.check_accessible(name, want);
            let Some(slot) = matched.get(name) else {
                // Pinned to an id that does not exist: reported as an error.
                continue;
            };
            match slot.as_ref().and_then(|id| self.live.state.clients.get(id)) {
                None => self.create_client(name, want, None),
                Some(have) if !is_maskinporten(have) => {
                    if want.client_id.is_some() {
                        self.plan.errors.push(PlanError {
                            resource: Some(Resource::client(name, have.client_id.as_deref())),
                            message: format!(
                                "client `{name}` is pinned to a client of integration type `{}`, which mpctl does not manage",
                                have.integration_type.as_deref().unwrap_or("?")
                            ),
                            help: "pin a Maskinporten client's id, or remove the pin to create a new client".into(),
                        });
                    } else {
                        self.create_client(name, want, Some(have));
                    }
                }
                Some(have) => self.update_client(name, want, have),
            }
        }
        for have in unmanaged {
            let id = have.client_id.clone().unwrap_or_default();
            let prune = self.settings.prune;
            self.plan.unmanaged.push(Unmanaged {
                resource: Resource::client(&have.name, Some(&id)),
                pruned: prune,
            });
            for key in have.keys.values() {
                let expiry = self.expiry(&have.name, Some(&id), key, None, false);
                self.plan.key_expiries.push(expiry);
            }
            if prune {
                let mut c = Change::new(
                    ChangeKind::Deactivate,
                    Phase::ClientRemovals,
                    Resource::client(&have.name, Some(&id)),
                    Action::DeactivateClient(id.clone()),
                );
                c.reason = Some("not in the manifest, and `prune` is on".into());
                self.push(c);
            }
        }
    }

    /// Checks that every scope the client asks for is one its organisation may use here.
    fn check_accessible(&mut self, name: &str, want: &ClientState) {
        for scope in &want.scopes {
            let own = self.desired.scopes.get(scope);
            let pruned = own.is_none()
                && self.settings.prune
                && self.live.state.scopes.get(scope).is_some_and(|s| s.active);
            // For the manifest's own scopes the manifest's grants decide (they are what the
            // organisation will have after apply); otherwise what the environment says now.
            let accessible = match own {
                Some(own) => {
                    own.attributes.accessible_for_all == Some(true)
                        || match self.organization {
                            Some(org) => own.grants.contains(org),
                            None => {
                                self.live.accessible_scopes.contains(scope)
                                    || !own.grants.is_empty()
                            }
                        }
                }
                None if pruned => false,
                None => self.live.accessible_scopes.contains(scope),
            };
            if accessible {
                continue;
            }
            let prefix = scope.split(':').next().unwrap_or(scope);
            let (message, help) = if pruned {
                (
                    format!(
                        "client `{name}` asks for `{scope}`, your own scope, which is not in the manifest and is deactivated by `prune`"
                    ),
                    format!("add `{scope}` to the manifest's scopes, or remove it from the client"),
                )
            } else if own.is_some() || self.live.state.scopes.contains_key(scope) {
                (
                    format!(
                        "client `{name}` asks for `{scope}`, your own scope, but your organisation is not granted it in this environment"
                    ),
                    match self.organization {
                        Some(org) => format!(
                            "add \"{org}\" to the grants of `{scope}` (for this environment), or set `accessible_for_all: true` on it"
                        ),
                        None => format!(
                            "grant `{scope}` to your own organisation in the manifest, or set `accessible_for_all: true` on it"
                        ),
                    },
                )
            } else {
                (
                    format!(
                        "client `{name}` asks for `{scope}`, which your organisation may not use in this environment: the provider has not granted it here (it may be granted only in another environment)"
                    ),
                    format!(
                        "ask the organisation that owns the prefix `{prefix}:` to grant your organisation access to `{scope}` in this environment, or remove the scope from the client"
                    ),
                )
            };
            self.plan.errors.push(PlanError {
                resource: Some(Resource::client(name, want.client_id.as_deref())),
                message,
                help,
            });
        }
    }

    fn client_fields(want: &ClientState, have: Option<&ClientState>) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if have.is_none_or(|h| h.name != want.name) {
            fields.push(field(
                "client_name",
                have.map(|h| &h.name),
                Some(&want.name),
            ));
        }
        if have.is_none_or(|h| h.description != want.description) {
            fields.push(field(
                "description",
                have.map(|h| &h.description),
                Some(&want.description),
            ));
        }
        let empty = ClientState::default();
        managed(
            &mut fields,
            "access_token_lifetime",
            &want.access_token_lifetime,
            &have.unwrap_or(&empty).access_token_lifetime,
        );
        fields
    }

    /// What to send for a client: the live client with the manifest's fields over it.
    fn merged_client(
        want: &ClientState,
        have: Option<&ClientState>,
        scopes: BTreeSet<String>,
    ) -> ClientState {
        let mut out = have.cloned().unwrap_or_default();
        out.name = want.name.clone();
        out.description = want.description.clone();
        out.scopes = scopes;
        if want.access_token_lifetime.is_some() {
            out.access_token_lifetime = want.access_token_lifetime;
        }
        out.active = true;
        out.keys = BTreeMap::new();
        out.renamed_from = Vec::new();
        out.protected = want.protected;
        if have.is_none() {
            out.client_id = None;
            out.integration_type = Some(MASKINPORTEN.into());
            out.contacts = None;
        }
        out
    }

    /// The keys a client should have now: its manifest keys minus those past `retire_after`.
    fn effective_keys(&self, want: &ClientState) -> Vec<KeyState> {
        want.keys
            .values()
            .filter(|k| !is_retired(k, self.now))
            .cloned()
            .collect()
    }

    /// A new client, or the replacement of a live client of another integration type.
    fn create_client(&mut self, name: &str, want: &ClientState, replaces: Option<&ClientState>) {
        let desired = Self::merged_client(want, None, want.scopes.clone());
        let mut fields = Self::client_fields(want, None);
        if !want.scopes.is_empty() {
            fields.push(field("scopes", None, Some(&want.scopes)));
        }
        let kind = if replaces.is_some() {
            ChangeKind::Replace
        } else {
            ChangeKind::Create
        };
        let mut c = Change::new(
            kind,
            Phase::Clients,
            Resource::client(name, replaces.and_then(|r| r.client_id.as_deref())),
            Action::CreateClient(desired),
        );
        if let Some(old) = replaces {
            let old_type = old.integration_type.as_deref().unwrap_or("?");
            fields.insert(
                0,
                field(
                    "integration_type",
                    Some(&old_type.to_owned()),
                    Some(&MASKINPORTEN.to_owned()),
                ),
            );
            let old_id = old.client_id.as_deref().unwrap_or("?");
            c.reason = Some(format!(
                "integration_type cannot change on an existing client (live: `{old_type}`): a new client is created, so the client_id changes from {old_id}, and the old client is deactivated"
            ));
            let mut d = Change::new(
                ChangeKind::Deactivate,
                Phase::ClientRemovals,
                Resource::client(&old.name, Some(old_id)),
                Action::DeactivateClient(old_id.to_owned()),
            );
            d.reason = Some(format!("replaced by the new client `{name}`"));
            self.push(d);
        }
        c.fields = fields;
        self.push(c);
        let keys = self.effective_keys(want);
        for key in &keys {
            self.push(Change::new(
                ChangeKind::AddKey,
                Phase::Clients,
                Resource::key(name, None, &key.kid),
                Action::PutKeys {
                    client: ClientRef::Created(name.to_owned()),
                    keys: keys.clone(),
                },
            ));
            let expiry = self.expiry(name, None, key, None, true);
            self.plan.key_expiries.push(expiry);
        }
        self.client_contacts(name, want, None, ClientRef::Created(name.to_owned()));
    }

    fn update_client(&mut self, name: &str, want: &ClientState, have: &ClientState) {
        let id = have.client_id.clone().unwrap_or_default();
        let fields = Self::client_fields(want, Some(have));
        let added: BTreeSet<String> = want.scopes.difference(&have.scopes).cloned().collect();
        let removed: BTreeSet<String> = have.scopes.difference(&want.scopes).cloned().collect();
        if !have.active || !fields.is_empty() || !added.is_empty() {
            let kind = if have.active {
                ChangeKind::Update
            } else {
                ChangeKind::Reactivate
            };
            let scopes: BTreeSet<String> = have.scopes.union(&want.scopes).cloned().collect();
            let mut c = Change::new(
                kind,
                Phase::Clients,
                Resource::client(name, Some(&id)),
                Action::UpdateClient {
                    client: ClientRef::Existing(id.clone()),
                    desired: Self::merged_client(want, Some(have), scopes),
                },
            );
            c.fields = fields;
            if !added.is_empty() {
                c.fields.push(field("scopes (add)", None, Some(&added)));
            }
            self.push(c);
        }
        if !removed.is_empty() {
            let mut c = Change::new(
                ChangeKind::Update,
                Phase::ClientRemovals,
                Resource::client(name, Some(&id)),
                Action::UpdateClient {
                    client: ClientRef::Existing(id.clone()),
                    desired: Self::merged_client(want, Some(have), want.scopes.clone()),
                },
            );
            c.fields
                .push(field("scopes (remove)", Some(&removed), None));
            self.push(c);
        }
        self.client_keys(name, &id, want, have);
        self.client_contacts(name, want, Some(have), ClientRef::Existing(id));
    }

    fn client_keys(&mut self, name: &str, id: &str, want: &ClientState, have: &ClientState) {
        let keys = self.effective_keys(want);
        let wanted: BTreeSet<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
        let put = Action::PutKeys {
            client: ClientRef::Existing(id.to_owned()),
            keys: keys.clone(),
        };
        let refresh_window = i64::from(self.settings.key_refresh_days) * DAY;
        for key in &keys {
            let live_key = have.keys.get(&key.kid);
            let expiry = self.expiry(name, Some(id), key, live_key, true);
            self.plan.key_expiries.push(expiry);
            match live_key {
                None => self.push(Change::new(
                    ChangeKind::AddKey,
                    Phase::Clients,
                    Resource::key(name, Some(id), &key.kid),
                    put.clone(),
                )),
                Some(live_key) => {
                    let cert = key.cert_not_after.or(live_key.cert_not_after);
                    let cert_valid = cert.is_none_or(|t| t > self.now);
                    if let Some(exp) = live_key.exp
                        && exp - self.now <= refresh_window
                        && cert_valid
                    {
                        let mut c = Change::new(
                            ChangeKind::RefreshKey,
                            Phase::Clients,
                            Resource::key(name, Some(id), &key.kid),
                            put.clone(),
                        );
                        c.reason = Some(format!(
                            "its JWK exp ({}) is within the refresh window of {} days; registering it again moves the expiry forward",
                            crate::plan::format_date(exp),
                            self.settings.key_refresh_days
                        ));
                        self.push(c);
                    }
                }
            }
        }
        for (kid, live_key) in &have.keys {
            if wanted.contains(kid.as_str()) {
                continue;
            }
            let mut c = Change::new(
                ChangeKind::RemoveKey,
                Phase::Clients,
                Resource::key(name, Some(id), kid),
                put.clone(),
            );
            let retired = want.keys.get(kid).filter(|k| is_retired(k, self.now));
            c.reason = Some(match retired.and_then(|k| k.retire_after.as_deref()) {
                Some(date) => format!("past its retire_after date ({date})"),
                None => "not among the client's keys in the manifest".into(),
            });
            if let Some(exp) = live_key.exp {
                c.fields
                    .push(field("exp", Some(&crate::plan::format_date(exp)), None));
            }
            self.push(c);
        }
    }

    fn expiry(
        &self,
        client: &str,
        client_id: Option<&str>,
        key: &KeyState,
        live_key: Option<&KeyState>,
        managed: bool,
    ) -> KeyExpiry {
        let jwk_exp = live_key.and_then(|k| k.exp).or(key.exp);
        let cert = key
            .cert_not_after
            .or(live_key.and_then(|k| k.cert_not_after));
        let days = |t: i64| (t - self.now).div_euclid(DAY);
        let warn = i64::from(self.settings.warn_expiry_days) * DAY;
        let status = [jwk_exp, cert]
            .into_iter()
            .flatten()
            .map(|t| {
                if t <= self.now {
                    ExpiryStatus::Expired
                } else if t - self.now <= warn {
                    ExpiryStatus::Expiring
                } else {
                    ExpiryStatus::Ok
                }
            })
            .max()
            .unwrap_or(ExpiryStatus::Ok);
        KeyExpiry {
            client: client.to_owned(),
            client_id: client_id.map(str::to_owned),
            kid: key.kid.clone(),
            jwk_exp,
            jwk_exp_days_left: jwk_exp.map(days),
            cert_not_after: cert,
            cert_days_left: cert.map(days),
            status,
            managed,
        }
    }
}
