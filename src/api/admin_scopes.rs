//! Which self-service scopes the admin client's token asks for.
//!
//! Maskinporten issues a token only if the client holds every scope requested, and many
//! organisations' admin clients hold only the provider scopes (`idporten:scopes.*`) or only the
//! consumer scopes (`idporten:dcr.*`). So mpctl asks for exactly what the command and the
//! manifest's content need: scopes and grants need `idporten:scopes.*`, clients and keys
//! `idporten:dcr.*`, and read-only commands only the read scopes. A side of the API that the
//! manifest does not manage (and does not prune) is not read at all, and the plan says so; a
//! manifest that manages nothing in an environment only reads there.
//!
//! An environment may declare the scopes its admin client holds (`admin_scopes:` in the
//! manifest, or `MPCTL_<ENV>_SCOPES`, which wins). mpctl then never asks for anything outside
//! that list, reads a side it does not manage when the list allows it (to report unmanaged
//! resources), and refuses up front a manifest that needs a scope the list lacks.

use std::fmt;

pub use crate::manifest::admin_scope::AdminScope;

/// A set of self-service scopes.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct AdminScopes(u8);

impl fmt::Debug for AdminScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AdminScopes({})", self.to_request())
    }
}

impl AdminScopes {
    pub const NONE: AdminScopes = AdminScopes(0);

    /// Every scope mpctl may use: read and write on both sides (not `dcr.supplier`).
    pub fn all() -> AdminScopes {
        AdminScopes::of(&[
            AdminScope::ScopesRead,
            AdminScope::ScopesWrite,
            AdminScope::DcrRead,
            AdminScope::DcrWrite,
            AdminScope::DcrModify,
        ])
    }

    /// The read scopes of both sides.
    pub fn read() -> AdminScopes {
        AdminScopes::of(&[AdminScope::ScopesRead, AdminScope::DcrRead])
    }

    pub fn of(scopes: &[AdminScope]) -> AdminScopes {
        AdminScopes(scopes.iter().fold(0, |bits, s| bits | s.bit()))
    }

    /// Parses a list separated by spaces or commas; unknown names are refused by name.
    pub fn parse_list(text: &str) -> Result<AdminScopes, String> {
        let mut set = AdminScopes::NONE;
        for name in text.split([' ', ',', '\t', '\n']).filter(|s| !s.is_empty()) {
            let scope = AdminScope::parse(name).ok_or_else(|| {
                format!(
                    "`{name}` is not a self-service scope (use {})",
                    AdminScope::ALL.map(AdminScope::name).join(", ")
                )
            })?;
            set = set.with(scope);
        }
        Ok(set)
    }

    pub fn contains(self, scope: AdminScope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn with(self, scope: AdminScope) -> AdminScopes {
        AdminScopes(self.0 | scope.bit())
    }

    pub fn union(self, other: AdminScopes) -> AdminScopes {
        AdminScopes(self.0 | other.0)
    }

    pub fn intersection(self, other: AdminScopes) -> AdminScopes {
        AdminScopes(self.0 & other.0)
    }

    /// The scopes of `self` that `other` lacks.
    pub fn minus(self, other: AdminScopes) -> AdminScopes {
        AdminScopes(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = AdminScope> {
        AdminScope::ALL
            .into_iter()
            .filter(move |s| self.contains(*s))
    }

    /// The `scope` claim of a grant: the names, space-separated.
    pub fn to_request(self) -> String {
        self.iter()
            .map(AdminScope::name)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The names as an English list, each in backticks.
    pub fn listed(self) -> String {
        self.iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The sides of the API a token with these scopes can read.
    pub fn sides(self) -> Sides {
        Sides {
            scopes: self.contains(AdminScope::ScopesRead),
            clients: self.contains(AdminScope::DcrRead),
        }
    }
}

/// The two sides of the self-service API: the provider's scopes and grants, and the
/// consumer's clients and keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sides {
    pub scopes: bool,
    pub clients: bool,
}

impl Sides {
    pub const BOTH: Sides = Sides {
        scopes: true,
        clients: true,
    };

    pub fn union(self, other: Sides) -> Sides {
        Sides {
            scopes: self.scopes || other.scopes,
            clients: self.clients || other.clients,
        }
    }

    /// The scopes that reading these sides takes, and with `write` changing them too.
    pub fn scopes_needed(self, write: bool) -> AdminScopes {
        let mut set = AdminScopes::NONE;
        if self.scopes {
            set = set.with(AdminScope::ScopesRead);
            if write {
                set = set.with(AdminScope::ScopesWrite);
            }
        }
        if self.clients {
            set = set.with(AdminScope::DcrRead);
            if write {
                set = set.with(AdminScope::DcrWrite).with(AdminScope::DcrModify);
            }
        }
        set
    }
}

/// The sides a manifest's content in one environment needs: its scopes (or provider contacts)
/// need the provider side, its clients the consumer side; `prune` needs both, since it acts on
/// whatever the manifest does not list.
pub fn content_sides(desired: &crate::state::EnvState, prune: bool) -> Sides {
    Sides {
        scopes: prune || !desired.scopes.is_empty() || desired.contacts.is_some(),
        clients: prune || !desired.clients.is_empty(),
    }
}

/// Where an environment's list of held scopes came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeldSource {
    Variable(String),
    Manifest(String),
}

impl fmt::Display for HeldSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeldSource::Variable(name) => write!(f, "{name}"),
            HeldSource::Manifest(env) => write!(f, "`environments.{env}.admin_scopes`"),
        }
    }
}

/// The scopes the admin client of `env_name` is declared to hold: `MPCTL_<ENV>_SCOPES`, else the
/// environment's `admin_scopes`; `None` when neither is set.
pub fn held(
    env_name: &str,
    declared: Option<&[AdminScope]>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<(AdminScopes, HeldSource)>, String> {
    let variable = format!(
        "MPCTL_{}_SCOPES",
        super::credentials::variable_prefix(env_name)
    );
    if let Some(text) = lookup(&variable).filter(|t| !t.trim().is_empty()) {
        let set = AdminScopes::parse_list(&text).map_err(|e| format!("{variable}: {e}"))?;
        return Ok(Some((set, HeldSource::Variable(variable))));
    }
    Ok(declared.map(|list| {
        (
            AdminScopes::of(list),
            HeldSource::Manifest(env_name.to_owned()),
        )
    }))
}

/// What one command asks of one environment's admin client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The token's scopes.
    pub scopes: AdminScopes,
    /// The sides that are read (those `scopes` can read).
    pub sides: Sides,
}

/// A manifest that needs a scope the environment's admin client is declared not to hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error(
    "environment `{env}`: the manifest needs {missing} {why}, but {held_in} does not list it, so nothing was read or changed"
)]
#[diagnostic(
    code(mpctl::auth::scope_not_held),
    help(
        "add {missing} to the admin client in Samarbeidsportalen and to {held_in}, or remove from `{env}` what needs it"
    )
)]
pub struct NotHeld {
    pub env: String,
    pub missing: String,
    pub why: String,
    pub held_in: HeldSource,
}

/// Works out the token's scopes: the `needed` sides (read, or with `write` also changed),
/// narrowed to what the admin client holds when that is declared. With a declared list, a side
/// the manifest does not need is read anyway when the list allows it, so that its unmanaged
/// resources are reported; the write scopes it lacks are left for apply to refuse when a change
/// needs them (`plan::admin_access`).
pub fn request(
    env: &str,
    needed: Sides,
    write: bool,
    held: Option<&(AdminScopes, HeldSource)>,
) -> Result<Request, NotHeld> {
    // A manifest that manages nothing in the environment has nothing to change there: read
    // what the admin client can read, to report what is unmanaged.
    let (needed, write) = if needed == Sides::default() {
        (held.map_or(Sides::BOTH, |(h, _)| h.sides()), false)
    } else {
        (needed, write)
    };
    let Some((held, source)) = held else {
        return Ok(Request {
            scopes: needed.scopes_needed(write),
            sides: needed,
        });
    };
    if needed == Sides::default() {
        return Err(NotHeld {
            env: env.to_owned(),
            missing: "`idporten:scopes.read` or `idporten:dcr.read`".into(),
            why: "(to read anything at all)".into(),
            held_in: source.clone(),
        });
    }
    let reads = needed.scopes_needed(false);
    let missing = reads.minus(*held);
    if !missing.is_empty() {
        let why = missing
            .iter()
            .map(AdminScope::purpose)
            .collect::<Vec<_>>()
            .join(" and ");
        return Err(NotHeld {
            env: env.to_owned(),
            missing: missing.listed(),
            why: format!("({why}, which it manages)"),
            held_in: source.clone(),
        });
    }
    let sides = needed.union(held.sides());
    let scopes = sides
        .scopes_needed(false)
        .union(needed.scopes_needed(write).intersection(*held));
    Ok(Request { scopes, sides })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_with_spaces_or_commas_and_refuse_unknown_names() {
        let set = AdminScopes::parse_list("idporten:scopes.read, idporten:dcr.read").unwrap();
        assert_eq!(set.to_request(), "idporten:scopes.read idporten:dcr.read");
        let err = AdminScopes::parse_list("idporten:scope.read").unwrap_err();
        assert!(err.contains("`idporten:scope.read`"), "{err}");
    }

    #[test]
    fn read_only_commands_ask_for_the_read_scopes_of_the_sides_they_need() {
        let provider = Sides {
            scopes: true,
            clients: false,
        };
        let r = request("test", provider, false, None).unwrap();
        assert_eq!(r.scopes.to_request(), "idporten:scopes.read");
        assert_eq!(r.sides, provider);
        let r = request("test", provider, true, None).unwrap();
        assert_eq!(
            r.scopes.to_request(),
            "idporten:scopes.read idporten:scopes.write"
        );
        let consumer = Sides {
            scopes: false,
            clients: true,
        };
        let r = request("test", consumer, true, None).unwrap();
        assert_eq!(
            r.scopes.to_request(),
            "idporten:dcr.read idporten:dcr.write idporten:dcr.modify"
        );
    }

    #[test]
    fn a_declared_list_narrows_the_request_and_widens_what_is_read() {
        let held = (
            AdminScopes::parse_list("idporten:scopes.read idporten:scopes.write idporten:dcr.read")
                .unwrap(),
            HeldSource::Variable("MPCTL_TEST_SCOPES".into()),
        );
        let provider = Sides {
            scopes: true,
            clients: false,
        };
        let r = request("test", provider, true, Some(&held)).unwrap();
        assert_eq!(r.sides, Sides::BOTH);
        assert_eq!(
            r.scopes.to_request(),
            "idporten:scopes.read idporten:dcr.read idporten:scopes.write"
        );
        let consumer = Sides {
            scopes: false,
            clients: true,
        };
        // dcr.write and dcr.modify are not held: left for apply to refuse per change.
        let r = request("test", consumer, true, Some(&held)).unwrap();
        assert!(!r.scopes.contains(AdminScope::DcrWrite));
    }

    #[test]
    fn a_manifest_managing_nothing_reads_what_it_can_and_writes_nothing() {
        let r = request("test", Sides::default(), true, None).unwrap();
        assert_eq!(r.scopes, AdminScopes::read());
        let held = (
            AdminScopes::of(&[AdminScope::DcrRead, AdminScope::DcrWrite]),
            HeldSource::Variable("MPCTL_TEST_SCOPES".into()),
        );
        let r = request("test", Sides::default(), true, Some(&held)).unwrap();
        assert_eq!(r.scopes, AdminScopes::of(&[AdminScope::DcrRead]));
        let none = (
            AdminScopes::of(&[AdminScope::DcrWrite]),
            HeldSource::Variable("MPCTL_TEST_SCOPES".into()),
        );
        assert!(request("test", Sides::default(), false, Some(&none)).is_err());
    }

    #[test]
    fn a_needed_read_scope_that_is_not_held_is_refused_by_name() {
        let held = (
            AdminScopes::of(&[AdminScope::DcrRead]),
            HeldSource::Manifest("prod".into()),
        );
        let err = request(
            "prod",
            Sides {
                scopes: true,
                clients: true,
            },
            false,
            Some(&held),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`idporten:scopes.read`"), "{text}");
        assert!(text.contains("environments.prod.admin_scopes"), "{text}");
    }

    #[test]
    fn held_variable_wins_over_the_manifest() {
        let declared = [AdminScope::ScopesRead];
        let (set, source) = held("my-test", Some(&declared), |name| {
            (name == "MPCTL_MY_TEST_SCOPES").then(|| "idporten:dcr.read".to_owned())
        })
        .unwrap()
        .unwrap();
        assert_eq!(set, AdminScopes::of(&[AdminScope::DcrRead]));
        assert_eq!(source, HeldSource::Variable("MPCTL_MY_TEST_SCOPES".into()));
        let (set, _) = held("test", Some(&declared), |_| None).unwrap().unwrap();
        assert_eq!(set, AdminScopes::of(&[AdminScope::ScopesRead]));
        assert!(held("test", None, |_| None).unwrap().is_none());
    }
}
