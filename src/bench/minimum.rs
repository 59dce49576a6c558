//! The API's request minimum, by formula from an organisation's sizes: the reference that the
//! benchmark and the soak compare mpctl's request count with. It is computed from what the
//! generator decided ([`super::generate::Organisation`]), not from the plan or the live state
//! mpctl produced, so requests that mpctl skipped or added both show as a difference.

use super::generate::Organisation;

/// What decides the number of requests for one environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Scopes, inactive ones included (each has a grant list to read).
    pub scopes: u64,
    /// Grants in all.
    pub grants: u64,
    /// Active clients (each has a key set, and with the contacts extension contacts, to read).
    pub active_clients: u64,
    /// Deactivated clients: listed, but their keys and contacts are history and not read.
    pub inactive_clients: u64,
    /// Active clients with at least one key (one key-set request each on create).
    pub clients_with_keys: u64,
    /// Clients with contacts of their own (one request each to set them).
    pub clients_with_contacts: u64,
    /// Whether the provider has contacts to set.
    pub provider_contacts: bool,
    /// Whether the server offers the contacts extension (the emulator does; Digdir does not).
    pub contacts_extension: bool,
}

impl Sizes {
    /// The sizes of `org` in one environment (every generated resource is in every one, and
    /// active).
    pub fn of(org: &Organisation, contacts_extension: bool) -> Sizes {
        Sizes {
            scopes: org.scopes.len() as u64,
            grants: org.grant_count() as u64,
            active_clients: org.clients.len() as u64,
            inactive_clients: 0,
            clients_with_keys: org.clients.iter().filter(|c| !c.keys.is_empty()).count() as u64,
            clients_with_contacts: org.clients_with_contacts() as u64,
            provider_contacts: org.contacts.is_some(),
            contacts_extension,
        }
    }
}

/// Reading an environment's state: the scope list (inactive scopes included), the client list,
/// the scopes the organisation may use, and the provider's contacts (a 404 without the
/// extension, which tells that it is absent); then one grant list per scope and one key set
/// per active client, plus, with the extension, each active client's contacts.
pub fn read(s: &Sizes) -> u64 {
    let per_client = 1 + u64::from(s.contacts_extension);
    4 + s.scopes + s.active_clients * per_client
}

/// Writing `s` into an empty environment: one request per scope, grant and client, one key-set
/// request per client with keys (all its keys at once), and one per contacts to set — with the
/// extension only; without it contacts are manual steps.
pub fn writes_from_empty(s: &Sizes) -> u64 {
    let contacts = if s.contacts_extension {
        s.clients_with_contacts + u64::from(s.provider_contacts)
    } else {
        0
    };
    s.scopes + s.grants + s.active_clients + s.clients_with_keys + contacts
}

/// `apply` into an empty environment at `concurrency`: reading it (empty), writing everything,
/// and the duplicate guard: the client list is read again before each `concurrency` client
/// creates, so that no client is created whose name is live (the self-service API has no lock).
pub fn apply_from_empty(s: &Sizes, concurrency: usize) -> u64 {
    let empty = Sizes {
        contacts_extension: s.contacts_extension,
        ..Sizes::default()
    };
    let guard_reads = s.active_clients.div_ceil(concurrency.max(1) as u64);
    read(&empty) + writes_from_empty(s) + guard_reads
}

/// `plan` of an environment holding `s`: reading it.
pub fn plan(s: &Sizes) -> u64 {
    read(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::generate::{Spec, generate};

    #[test]
    fn the_formula_counts_each_request_once() {
        let s = Sizes {
            scopes: 10,
            grants: 30,
            active_clients: 4,
            inactive_clients: 2,
            clients_with_keys: 4,
            clients_with_contacts: 1,
            provider_contacts: true,
            contacts_extension: true,
        };
        // 4 first reads, 10 grant lists, 4 × (key set + contacts); inactive clients: nothing.
        assert_eq!(plan(&s), 4 + 10 + 8);
        // 4 first reads of an empty environment; 10 + 30 + 4 creates, 4 key sets, 2 contacts;
        // the client list read again before each 3 (then 1) client creates.
        assert_eq!(apply_from_empty(&s, 3), 4 + 10 + 30 + 4 + 4 + 2 + 2);
        let without = Sizes {
            contacts_extension: false,
            ..s
        };
        assert_eq!(plan(&without), 4 + 10 + 4);
        assert_eq!(apply_from_empty(&without, 8), 4 + 10 + 30 + 4 + 4 + 1);
    }

    #[test]
    fn sizes_of_a_generated_organisation_match_its_spec() {
        let spec = Spec {
            scopes: 40,
            grants: 130,
            clients: 12,
            environments: 2,
            contacts: true,
            seed: 3,
        };
        let s = Sizes::of(&generate(&spec).organisation, true);
        assert_eq!((s.scopes, s.grants, s.active_clients), (40, 130, 12));
        // Every client has a key; clients 0 and 10 have contacts.
        assert_eq!((s.clients_with_keys, s.clients_with_contacts), (12, 2));
        assert!(s.provider_contacts);
    }
}
