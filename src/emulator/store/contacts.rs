//! The contacts extension's data (`docs/emulator.md`, "Extensions"), as the emulator reads it
//! from a request, keeps it in its state and sends it back. Its own type, not the manifest's:
//! the emulator is an independent oracle for mpctl's client (see the module doc of
//! [`crate::emulator`]), and its state file must not change shape when the manifest model does.

use serde::{Deserialize, Serialize};

/// An integration's contact points and invoice data:
/// `{"notifications": ["a@b.no"], "invoice": {"email": "…", "reference": "…"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    /// E-mail addresses told about critical incidents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<String>,
    /// Where invoices go; `null` or absent for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<Invoice>,
}

/// Invoice data of [`Contacts`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invoice {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_the_documented_body() {
        let body = r#"{"notifications": ["drift@acme.no"], "invoice": {"email": "faktura@acme.no", "reference": "PO-1234"}}"#;
        let contacts: Contacts = serde_json::from_str(body).unwrap();
        assert_eq!(contacts.notifications, ["drift@acme.no"]);
        let invoice = contacts.invoice.as_ref().unwrap();
        assert_eq!(
            (invoice.email.as_str(), invoice.reference.as_deref()),
            ("faktura@acme.no", Some("PO-1234"))
        );
        let again: Contacts =
            serde_json::from_value(serde_json::to_value(&contacts).unwrap()).unwrap();
        assert_eq!(again, contacts);

        let none: Contacts = serde_json::from_str(r#"{"invoice": null}"#).unwrap();
        assert_eq!(none, Contacts::default());
        assert!(serde_json::from_str::<Contacts>(r#"{"notification": []}"#).is_err());
    }
}
