//! Organisations and their admin clients, registered outside the API (by tests, and by
//! `mpctl emulator serve --bootstrap`): the org record, its prefixes and an admin client with
//! its key.

use std::collections::BTreeSet;

use super::store::{ClientRecord, KeySet, Mutation, OrgRecord, State, StoredKey};
use super::{AuditEntry, Emulator, EmulatorError, clock, rules, setup, setup_error, store, token};
use crate::manifest::orgno::OrgNo;
use crate::secret::Secret;

/// The credentials of an organisation's bootstrap admin client: it holds every self-service
/// scope and authenticates with the registered key `kid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminIdentity {
    pub client_id: String,
    pub kid: String,
    /// The key, PKCS#8 PEM.
    pub private_key_pem: Secret<String>,
}

impl Emulator {
    /// Registers `org` (idempotently) with `prefixes` added to its prefixes, and an admin
    /// client holding every self-service scope, authenticated by a registered RSA key that
    /// does not expire. Calling it again returns the same identity.
    pub async fn bootstrap_org(
        &self,
        org: &OrgNo,
        prefixes: &[String],
    ) -> Result<AdminIdentity, EmulatorError> {
        let all: Vec<String> = rules::SELF_SERVICE_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        self.bootstrap_org_with_scopes(org, prefixes, &all).await
    }

    /// As [`Emulator::bootstrap_org`], with an admin client that holds only `admin_scopes`
    /// (self-service scopes), as many organisations' admin clients do: the token endpoint
    /// refuses it any other scope (`invalid_scope`). Bootstrapping again sets its scopes anew.
    pub async fn bootstrap_org_with_scopes(
        &self,
        org: &OrgNo,
        prefixes: &[String],
        admin_scopes: &[String],
    ) -> Result<AdminIdentity, EmulatorError> {
        let admin_scopes = parse_admin_scopes(admin_scopes)?;
        org.check()
            .map_err(|e| EmulatorError::Bootstrap(e.to_string()))?;
        for prefix in prefixes {
            rules::check_prefix(prefix).map_err(EmulatorError::Bootstrap)?;
        }
        let existing = self.shared.store.read().orgs.get(org.as_str()).cloned();
        let private_key_pem = match existing
            .as_ref()
            .and_then(|o| o.admin_private_key_pem.clone())
            .map(Secret::into_inner)
        {
            Some(pem) => pem,
            None => {
                let orgno = org.as_str().to_owned();
                let in_memory = self.in_memory;
                tokio::task::spawn_blocking(move || setup::admin_key(&orgno, in_memory))
                    .await
                    .map_err(setup_error)??
            }
        };
        let orgno = org.as_str().to_owned();
        let prefixes: BTreeSet<String> = prefixes.iter().cloned().collect();
        let shared = self.shared.clone();
        let identity = tokio::task::spawn_blocking(move || {
            let now = shared.clock.now_ms();
            shared.store.commit(
                |identity: &AdminIdentity| {
                    Some(AuditEntry {
                        time: clock::iso8601(now),
                        org: "emulator".into(),
                        operation: "bootstrap_org".into(),
                        target: identity.client_id.clone(),
                    })
                },
                |state| {
                    bootstrap_mutations(state, &orgno, prefixes, private_key_pem, admin_scopes, now)
                },
            )
        })
        .await
        .map_err(setup_error)?
        .map_err(|e| match e {
            store::CommitError::Rejected(message) => EmulatorError::Bootstrap(message),
            store::CommitError::Io(message) => EmulatorError::Setup(message),
        })?;
        Ok(identity.0)
    }

    /// Names an organisation (known or not), so that grants to it carry
    /// `consumer_organization_name` as Digdir's API sends it.
    pub async fn set_org_name(&self, org: &OrgNo, name: &str) -> Result<(), EmulatorError> {
        org.check()
            .map_err(|e| EmulatorError::Bootstrap(e.to_string()))?;
        let orgno = org.as_str().to_owned();
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(EmulatorError::Bootstrap(format!(
                "the name of organisation {orgno} is empty"
            )));
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let now = shared.clock.now_ms();
            shared.store.commit(
                |_: &()| {
                    Some(AuditEntry {
                        time: clock::iso8601(now),
                        org: "emulator".into(),
                        operation: "name_org".into(),
                        target: orgno.clone(),
                    })
                },
                |state| {
                    let mut record = state.orgs.get(&orgno).cloned().unwrap_or(OrgRecord {
                        orgno: orgno.clone(),
                        prefixes: BTreeSet::new(),
                        admin_client_id: None,
                        admin_kid: None,
                        admin_private_key_pem: None,
                        name: None,
                    });
                    if record.name.as_deref() == Some(name.as_str()) {
                        return Ok(((), vec![]));
                    }
                    record.name = Some(name.clone());
                    Ok(((), vec![Mutation::Org(record)]))
                },
            )
        })
        .await
        .map_err(setup_error)?
        .map_err(|e| match e {
            store::CommitError::Rejected(message) => EmulatorError::Bootstrap(message),
            store::CommitError::Io(message) => EmulatorError::Setup(message),
        })?;
        Ok(())
    }

    /// The admin identity of an organisation bootstrapped earlier.
    pub fn admin_identity(&self, org: &OrgNo) -> Option<AdminIdentity> {
        let state = self.shared.store.read();
        let record = state.orgs.get(org.as_str())?;
        Some(AdminIdentity {
            client_id: record.admin_client_id.clone()?,
            kid: record.admin_kid.clone()?,
            private_key_pem: record.admin_private_key_pem.clone()?,
        })
    }

    /// The scope prefixes registered to `org`, if it is known.
    pub fn prefixes(&self, org: &OrgNo) -> Option<Vec<String>> {
        let state = self.shared.store.read();
        Some(
            state
                .orgs
                .get(org.as_str())?
                .prefixes
                .iter()
                .cloned()
                .collect(),
        )
    }
}

/// The mutations that register an organisation and its admin client.
fn bootstrap_mutations(
    state: &State,
    orgno: &str,
    prefixes: BTreeSet<String>,
    private_key_pem: String,
    admin_scopes: BTreeSet<String>,
    now: i64,
) -> Result<(AdminIdentity, Vec<Mutation>), String> {
    let mut mutations = Vec::new();
    let mut record = state.orgs.get(orgno).cloned().unwrap_or(OrgRecord {
        orgno: orgno.to_owned(),
        prefixes: BTreeSet::new(),
        admin_client_id: None,
        admin_kid: None,
        admin_private_key_pem: None,
        name: None,
    });
    for prefix in &prefixes {
        if let Some(owner) = state
            .orgs
            .values()
            .find(|o| o.orgno != orgno && o.prefixes.contains(prefix))
        {
            return Err(format!(
                "prefix `{prefix}` is already registered to organisation {}",
                owner.orgno
            ));
        }
    }
    let mut changed = !state.orgs.contains_key(orgno);
    for prefix in prefixes {
        changed |= record.prefixes.insert(prefix);
    }
    if let (Some(client_id), Some(kid), Some(pem)) = (
        record.admin_client_id.clone(),
        record.admin_kid.clone(),
        record.admin_private_key_pem.clone(),
    ) {
        if changed {
            mutations.push(Mutation::Org(record));
        }
        if let Some(admin) = state.clients.get(&client_id)
            && admin.scopes != admin_scopes
        {
            let mut admin = admin.clone();
            admin.scopes = admin_scopes;
            admin.last_updated = now;
            mutations.push(Mutation::Client(admin));
        }
        return Ok((
            AdminIdentity {
                client_id,
                kid,
                private_key_pem: pem,
            },
            mutations,
        ));
    }
    let client_id = uuid::Uuid::new_v4().to_string();
    let kid = format!(
        "admin-{orgno}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut jwk = token::public_jwk(&private_key_pem)?;
    jwk.insert("kid".into(), kid.clone().into());
    jwk.insert("alg".into(), "RS256".into());
    jwk.insert("use".into(), "sig".into());
    record.admin_client_id = Some(client_id.clone());
    record.admin_kid = Some(kid.clone());
    record.admin_private_key_pem = Some(Secret::new(private_key_pem.clone()));
    mutations.push(Mutation::Org(record));
    mutations.push(Mutation::Client(ClientRecord {
        client_id: client_id.clone(),
        client_name: format!("mpctl emulator admin {orgno}"),
        description: "Self-service admin client created by the emulator's bootstrap".into(),
        integration_type: "maskinporten".into(),
        application_type: "web".into(),
        token_endpoint_auth_method: "private_key_jwt".into(),
        grant_types: vec![token::JWT_BEARER.into()],
        scopes: admin_scopes,
        client_orgno: orgno.to_owned(),
        access_token_lifetime: 0,
        authorization_lifetime: 0,
        refresh_token_lifetime: 0,
        client_uri: None,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        active: true,
        created: now,
        last_updated: now,
        admin: true,
    }));
    mutations.push(Mutation::Keys {
        client_id: client_id.clone(),
        set: Some(KeySet {
            keys: vec![StoredKey {
                jwk,
                // The bootstrap key does not expire, so moving the clock never locks the
                // administrator out.
                exp: i64::MAX / 2,
                registered: now,
            }],
            created: now,
            last_updated: now,
        }),
    });
    Ok((
        AdminIdentity {
            client_id,
            kid,
            private_key_pem: Secret::new(private_key_pem),
        },
        mutations,
    ))
}

/// Checks that every admin scope is a self-service scope; returns them sorted, without
/// duplicates.
pub fn parse_admin_scopes(scopes: &[String]) -> Result<BTreeSet<String>, EmulatorError> {
    let mut out = BTreeSet::new();
    for scope in scopes.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !rules::SELF_SERVICE_SCOPES.contains(&scope) {
            return Err(EmulatorError::Bootstrap(format!(
                "`{scope}` is not a self-service scope; use {}",
                rules::SELF_SERVICE_SCOPES.join(", ")
            )));
        }
        out.insert(scope.to_owned());
    }
    if out.is_empty() {
        return Err(EmulatorError::Bootstrap(
            "an admin client needs at least one self-service scope".into(),
        ));
    }
    Ok(out)
}

/// A parsed `ORGNO[:PREFIX,...]` bootstrap argument.
pub fn parse_bootstrap(spec: &str) -> Result<(OrgNo, Vec<String>), EmulatorError> {
    let (org, prefixes) = spec.split_once(':').unwrap_or((spec, ""));
    let org =
        OrgNo::parse(org.trim()).map_err(|e| EmulatorError::Bootstrap(format!("`{spec}`: {e}")))?;
    let prefixes: Vec<String> = prefixes
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    for prefix in &prefixes {
        rules::check_prefix(prefix).map_err(EmulatorError::Bootstrap)?;
    }
    Ok((org, prefixes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of a PEM between its armour: what must never show.
    fn key_body(pem: &str) -> Vec<&str> {
        pem.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    #[test]
    fn an_admin_identity_never_shows_its_key() {
        let pem = super::super::ca::generate_rsa_pem().unwrap();
        let scopes = BTreeSet::from([rules::SELF_SERVICE_SCOPES[0].to_owned()]);
        let (identity, mutations) = bootstrap_mutations(
            &State::default(),
            "910753282",
            BTreeSet::from(["acme".to_owned()]),
            pem.clone(),
            scopes,
            0,
        )
        .unwrap();
        assert_eq!(identity.private_key_pem.expose(), &pem);
        assert!(!mutations.is_empty());
        for debug in [format!("{identity:?}"), format!("{identity:#?}")] {
            assert!(debug.contains(&identity.client_id), "{debug}");
            for line in key_body(&pem) {
                assert!(!debug.contains(line), "{debug}");
            }
        }
    }
}
