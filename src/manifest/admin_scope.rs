//! The self-service API's own scopes, by the names a manifest's `admin_scopes` lists: vocabulary
//! that the manifest names and the API client requests, so it lives in the manifest layer.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One scope of the self-service API.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum AdminScope {
    /// Read the organisation's scopes and their grants.
    #[serde(rename = "idporten:scopes.read")]
    ScopesRead,
    /// Create, change and deactivate scopes; grant and revoke access.
    #[serde(rename = "idporten:scopes.write")]
    ScopesWrite,
    /// Read the organisation's clients and their keys.
    #[serde(rename = "idporten:dcr.read")]
    DcrRead,
    /// Create clients.
    #[serde(rename = "idporten:dcr.write")]
    DcrWrite,
    /// Change and deactivate clients, register keys.
    #[serde(rename = "idporten:dcr.modify")]
    DcrModify,
    /// Act as a supplier for other organisations (never requested by mpctl itself).
    #[serde(rename = "idporten:dcr.supplier")]
    DcrSupplier,
}

impl AdminScope {
    /// Every self-service scope, read scopes first (the order of a grant's `scope` claim).
    pub const ALL: [AdminScope; 6] = [
        AdminScope::ScopesRead,
        AdminScope::DcrRead,
        AdminScope::ScopesWrite,
        AdminScope::DcrWrite,
        AdminScope::DcrModify,
        AdminScope::DcrSupplier,
    ];

    /// The scope's name as Maskinporten spells it.
    pub fn name(self) -> &'static str {
        match self {
            AdminScope::ScopesRead => "idporten:scopes.read",
            AdminScope::ScopesWrite => "idporten:scopes.write",
            AdminScope::DcrRead => "idporten:dcr.read",
            AdminScope::DcrWrite => "idporten:dcr.write",
            AdminScope::DcrModify => "idporten:dcr.modify",
            AdminScope::DcrSupplier => "idporten:dcr.supplier",
        }
    }

    /// The scope named `name`, if it is a self-service scope.
    pub fn parse(name: &str) -> Option<AdminScope> {
        AdminScope::ALL.into_iter().find(|s| s.name() == name)
    }

    /// What mpctl uses the scope for, in words.
    pub fn purpose(self) -> &'static str {
        match self {
            AdminScope::ScopesRead => "to read the organisation's scopes and their grants",
            AdminScope::ScopesWrite => {
                "to create, change and deactivate scopes and to grant and revoke access"
            }
            AdminScope::DcrRead => "to read the organisation's clients and their keys",
            AdminScope::DcrWrite => "to create clients",
            AdminScope::DcrModify => "to change and deactivate clients and register their keys",
            AdminScope::DcrSupplier => "to act as a supplier",
        }
    }

    /// The scope's bit in the API client's set of scopes.
    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for AdminScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
