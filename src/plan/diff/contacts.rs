//! Contacts (mercantile data) of the provider integration and of clients, and their portal
//! paths.

use super::*;

/// The portal path (Samarbeidsportalen, in Norwegian as the portal shows it) to the mercantile
/// data of the API-provider integration.
pub fn provider_contacts_portal_path() -> Vec<String> {
    vec![
        "Samarbeidsportalen".into(),
        "Virksomhetens tjenester".into(),
        "integrasjonen av type «API-tilbyder»".into(),
        "Rediger integrasjon".into(),
    ]
}

/// The portal path to a client's mercantile data.
pub fn client_contacts_portal_path(client: &str) -> Vec<String> {
    vec![
        "Samarbeidsportalen".into(),
        "Virksomhetens tjenester".into(),
        format!("integrasjonen «{client}»"),
        "Rediger integrasjon".into(),
    ]
}

impl Differ<'_> {
    pub(super) fn client_contacts(
        &mut self,
        name: &str,
        want: &ClientState,
        have: Option<&ClientState>,
        target: ClientRef,
    ) {
        let Some(contacts) = &want.contacts else {
            return;
        };
        let id = have.and_then(|h| h.client_id.as_deref());
        let resource = Resource::contacts(Some((name, id)));
        self.contacts(
            resource,
            contacts,
            have.and_then(|h| h.contacts.as_ref()),
            Some(target),
            client_contacts_portal_path(name),
        );
    }

    pub(super) fn provider_contacts(&mut self) {
        if let Some(contacts) = &self.desired.contacts {
            self.contacts(
                Resource::contacts(None),
                contacts,
                self.live.state.contacts.as_ref(),
                None,
                provider_contacts_portal_path(),
            );
        }
    }

    fn contacts(
        &mut self,
        resource: Resource,
        want: &Contacts,
        have: Option<&Contacts>,
        target: Option<ClientRef>,
        portal_path: Vec<String>,
    ) {
        if !self.live.contacts_api {
            self.plan.manual_steps.push(ManualStep {
                description: format!("set {}: {}", resource.label(), describe_contacts(want)),
                resource,
                portal_path,
            });
            return;
        }
        if have == Some(want) {
            return;
        }
        let empty = Contacts::default();
        let old = have.unwrap_or(&empty);
        let mut c = Change::new(
            ChangeKind::SetContacts,
            Phase::Clients,
            resource,
            Action::PutContacts {
                client: target,
                contacts: want.clone(),
            },
        );
        if have.is_none() || old.notifications != want.notifications {
            c.fields.push(field(
                "notifications",
                have.map(|_| &old.notifications),
                Some(&want.notifications),
            ));
        }
        if old.invoice != want.invoice {
            c.fields.push(field(
                "invoice",
                old.invoice.as_ref(),
                want.invoice.as_ref(),
            ));
        }
        self.push(c);
    }
}

/// Contacts in one line, e.g. `notifications a@b.no, c@d.no; invoice to f@g.no (ref PO-1)`.
pub fn describe_contacts(contacts: &Contacts) -> String {
    let mut parts = Vec::new();
    if !contacts.notifications.is_empty() {
        parts.push(format!(
            "notifications {}",
            contacts.notifications.join(", ")
        ));
    }
    if let Some(invoice) = &contacts.invoice {
        match &invoice.reference {
            Some(r) => parts.push(format!("invoice to {} (reference {r})", invoice.email)),
            None => parts.push(format!("invoice to {}", invoice.email)),
        }
    }
    if parts.is_empty() {
        "no notification points or invoice data".into()
    } else {
        parts.join("; ")
    }
}
