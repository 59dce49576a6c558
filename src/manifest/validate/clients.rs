//! The client rules: identities (pinned ids and earlier names) and contacts.

use std::collections::BTreeMap;

use super::Rules;
use crate::diagnostic_code::Code;
use crate::manifest::diagnostics::Diagnostic;
use crate::manifest::model::Contacts;
use crate::manifest::sniff::clip;
use crate::manifest::yaml::escape_pointer_segment as esc;

impl Rules<'_> {
    // ----- client identities: pinned ids and earlier names -----------------------------------

    /// Two clients may not adopt the same live client, and an earlier name (`renamed_from`) may
    /// not be the current name of another client: both would make two manifest clients fight
    /// over one live client.
    pub(super) fn client_identities(&mut self) {
        let m = self.m;
        let mut ids: BTreeMap<(&str, &str), String> = BTreeMap::new();
        let mut conflicts = Vec::new();
        for (i, c) in m.clients.iter().enumerate() {
            for (env, id) in &c.client_ids {
                let pointer = format!("/clients/{i}/client_ids/{}", esc(env));
                match ids.get(&(env.as_str(), id.as_str())) {
                    Some(first) => {
                        conflicts.push((pointer, first.clone(), env.clone(), id.clone()))
                    }
                    None => {
                        ids.insert((env, id), pointer);
                    }
                }
            }
        }
        for (pointer, first, env, id) in conflicts {
            self.push_pair(
                Diagnostic::error(
                    Code::ClientDuplicateClientId,
                    format!("two clients pin the same client_id `{id}` in `{env}`"),
                )
                .with_help("a live client can be adopted by one manifest client only: fix the id of one of them"),
                &pointer,
                "pinned again here",
                &first,
                "first pinned here",
            );
        }
        for (i, c) in m.clients.iter().enumerate() {
            for (k, old) in c.renamed_from.iter().enumerate() {
                let Some(other) = m.clients.iter().position(|o| &o.name == old) else {
                    continue;
                };
                let shared = self.envs.iter().any(|e| {
                    Self::is_in(c.environments.as_ref(), e)
                        && Self::is_in(m.clients[other].environments.as_ref(), e)
                });
                if shared {
                    self.push_pair(
                        Diagnostic::error(
                            Code::ClientRenameConflict,
                            format!("client `{}` was renamed from `{old}`, but `{old}` is still a client of the manifest", c.name),
                        )
                        .with_help("remove the old name from `renamed_from`, or rename the other client"),
                        &format!("/clients/{i}/renamed_from/{k}"),
                        "earlier name",
                        &format!("/clients/{other}/name"),
                        "still in use here",
                    );
                }
            }
        }
    }

    // ----- contacts ------------------------------------------------------------------------

    pub(super) fn contacts(&mut self) {
        let m = self.m;
        let mut all: Vec<(&Contacts, String)> = Vec::new();
        if let Some(c) = &m.contacts {
            all.push((c, "/contacts".into()));
        }
        for (env, o) in &m.overrides {
            if let Some(c) = &o.contacts {
                all.push((c, format!("/overrides/{}/contacts", esc(env))));
            }
        }
        for (i, client) in m.clients.iter().enumerate() {
            for (at, attributes) in client.attribute_sets() {
                if let Some(c) = &attributes.contacts {
                    all.push((c, format!("/clients/{i}{at}/contacts")));
                }
            }
        }
        for (contacts, base) in all {
            let mut addresses: Vec<(&str, String)> = contacts
                .notifications
                .iter()
                .enumerate()
                .map(|(k, a)| (a.as_str(), format!("{base}/notifications/{k}")))
                .collect();
            if let Some(inv) = &contacts.invoice {
                addresses.push((&inv.email, format!("{base}/invoice/email")));
            }
            for (address, pointer) in addresses {
                if !email_address::EmailAddress::is_valid(address) || !address.contains('.') {
                    self.push_value(
                        Diagnostic::error(
                            Code::ContactsEmail,
                            format!("`{}` is not a valid e-mail address", clip(address)),
                        )
                        .with_help("write a full address such as drift@acme.no"),
                        &pointer,
                        "invalid e-mail address",
                    );
                }
            }
        }
    }
}
