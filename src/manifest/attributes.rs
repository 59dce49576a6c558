//! The fields of a scope and of a client, each written out once.
//!
//! [`ScopeAttributes`] are a scope's optional API fields. The manifest's scope and its
//! per-environment overrides flatten them, the diff's [`crate::state::ScopeState`] carries
//! them, and the API request sends them as they serialise (the manifest uses the API's field
//! names and spellings). [`ClientAttributes`] are what a client sets in the manifest and may
//! override per environment. Adding a field is then one line here, plus its reading in
//! `api/wire.rs` (responses are read tolerantly, field by field) where the API returns it.
//!
//! Every attribute is optional: unset means "not managed" on the desired side (the API keeps
//! its value) and "not sent" on the live side. A macro derives, from the one field list,
//! [`overlay`](ScopeAttributes::overlay) (resolve an override), the field-by-field
//! comparison the diff reports, and [`factor`](ScopeAttributes::factor) (the inverse of
//! overlay, which `import` uses to write values common to all environments once).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Defines an attributes struct: each field is an `Option` (serialised only when set), and the
/// struct gets `overlay`, `differences`, `factor` and `omit_defaults` over exactly those fields.
macro_rules! attributes {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident: $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        pub struct $name {
            $(
                $(#[$field_meta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        impl $name {
            /// The names of the fields, in order.
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// These attributes with every field that `over` sets taken from `over`: a resource
            /// with its override for one environment applied.
            pub fn overlay(&self, over: &Self) -> Self {
                Self {
                    $( $field: over.$field.clone().or_else(|| self.$field.clone()), )*
                }
            }

            /// The fields these (desired) attributes set that `live` does not have the same,
            /// in field order. Fields left unset are not compared: they are not managed.
            pub fn differences(&self, live: &Self) -> Vec<Difference> {
                let mut out = Vec::new();
                $(
                    if let Some(wanted) = &self.$field
                        && live.$field.as_ref() != Some(wanted)
                    {
                        out.push(Difference::new(
                            stringify!($field),
                            live.$field.as_ref(),
                            wanted,
                        ));
                    }
                )*
                out
            }

            /// Splits per-environment attributes into the ones all environments share and
            /// each environment's override, so that `base.overlay(override)` gives back each
            /// environment's value: a field every environment sets takes its most common value
            /// as the base, a field some leave unset is set only in overrides.
            pub fn factor(per_env: &[(&str, &Self)]) -> (Self, Vec<(String, Self)>) {
                let mut base = Self::default();
                let mut overrides: Vec<(String, Self)> = per_env
                    .iter()
                    .map(|(env, _)| ((*env).to_owned(), Self::default()))
                    .collect();
                $(
                    let values: Vec<(&str, Option<$ty>)> = per_env
                        .iter()
                        .map(|(env, a)| (*env, a.$field.clone()))
                        .collect();
                    let (common, others) = factor_option(&values);
                    base.$field = common;
                    for (env, value) in others {
                        if let Some((_, o)) = overrides.iter_mut().find(|(e, _)| *e == env) {
                            o.$field = Some(value);
                        }
                    }
                )*
                overrides.retain(|(_, o)| *o != Self::default());
                (base, overrides)
            }

            /// Unsets every field whose value equals the one `defaults` sets, here and in
            /// `overrides` where this leaves the field unset. An override equal to the default
            /// stays where this sets another value: it keeps that environment at the default.
            pub fn omit_defaults(&mut self, overrides: &mut [&mut Self], defaults: &Self) {
                $(
                    if defaults.$field.is_some() {
                        if self.$field == defaults.$field {
                            self.$field = None;
                        }
                        if self.$field.is_none() {
                            for o in overrides.iter_mut() {
                                if o.$field == defaults.$field {
                                    o.$field = None;
                                }
                            }
                        }
                    }
                )*
            }
        }
    };
}

/// A field whose desired value differs from the live one (values as JSON, for the plan).
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub field: &'static str,
    /// `None` when the live side does not have the field.
    pub live: Option<serde_json::Value>,
    pub wanted: Option<serde_json::Value>,
}

impl Difference {
    fn new<T: Serialize>(field: &'static str, live: Option<&T>, wanted: &T) -> Self {
        Self {
            field,
            live: live.and_then(|v| serde_json::to_value(v).ok()),
            wanted: serde_json::to_value(wanted).ok(),
        }
    }
}

/// The most common value (ties: the earliest), and the environments whose value differs.
/// (An imported resource exists in at least one environment, so `values` is never empty; if
/// it were, the default is returned.)
pub(crate) fn factor_value<T: Clone + PartialEq + Default>(
    values: &[(&str, T)],
) -> (T, Vec<(String, T)>) {
    let mut best: Option<(&T, usize)> = None;
    for (_, v) in values {
        let count = values.iter().filter(|(_, w)| w == v).count();
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((v, count));
        }
    }
    let base = best.map(|(v, _)| v.clone()).unwrap_or_default();
    let others = values
        .iter()
        .filter(|(_, v)| *v != base)
        .map(|(e, v)| ((*e).to_owned(), v.clone()))
        .collect();
    (base, others)
}

/// Like [`factor_value`] for an optional field: when some environments do not set it, it is
/// unset in the base and given as an override where set.
pub(crate) fn factor_option<T: Clone + PartialEq>(
    values: &[(&str, Option<T>)],
) -> (Option<T>, Vec<(String, T)>) {
    if values.iter().all(|(_, v)| v.is_some()) {
        let (base, others) = factor_value(values);
        let others = others
            .into_iter()
            .filter_map(|(e, v)| v.map(|v| (e, v)))
            .collect();
        (base, others)
    } else {
        let others = values
            .iter()
            .filter_map(|(e, v)| v.clone().map(|v| ((*e).to_owned(), v)))
            .collect();
        (None, others)
    }
}

attributes! {
    /// A scope's optional API fields. Of these only the ones set are managed: an unset field
    /// is left as the API has it, so that nothing shows a perpetual change.
    pub struct ScopeAttributes {
        /// A longer description.
        pub long_description: String,
        /// `PUBLIC` (listed for all) or `PRIVATE` (only granted consumers see it).
        pub visibility: Visibility,
        /// `SELF_CONTAINED` (JWT) or `OPAQUE` (reference) access tokens.
        pub token_type: TokenType,
        /// Upper bound, in seconds, on the lifetime of access tokens with this scope.
        pub at_max_age: u32,
        /// Upper bound, in seconds, on the lifetime of authorizations with this scope.
        pub authorization_max_lifetime: u32,
        /// Which integration types may use the scope (default on the API: `maskinporten`).
        pub allowed_integration_types: Vec<IntegrationType>,
        /// Every organisation may use the scope without a grant.
        pub accessible_for_all: bool,
        /// Access tokens must carry an audience (`resource`); the value is the required audience.
        pub enforced_aud_for_access_token: String,
        /// Access is delegated in another service, e.g. `https://www.altinn.no`.
        pub delegation_source: String,
    }
}

attributes! {
    /// What a client sets in the manifest, and may set differently per environment.
    pub struct ClientAttributes {
        /// What the integration does (default: the name).
        pub description: String,
        /// The scopes the client may request. The list is complete. Each must be granted to the
        /// organisation in the environment (or be open to all).
        pub scopes: Vec<String>,
        /// Public keys the client signs its grants with: paths (relative to the manifest file)
        /// of JWK, JWKS, PEM public key or PEM certificate files. At most 5; never private keys.
        pub keys: Vec<KeyRef>,
        /// The client's own mercantile data.
        pub contacts: Contacts,
        /// Lifetime, in seconds, of the access tokens the client gets.
        pub access_token_lifetime: u32,
    }
}

impl ClientAttributes {
    /// The scopes, none when unset.
    pub fn scopes(&self) -> &[String] {
        self.scopes.as_deref().unwrap_or_default()
    }

    /// The key files, none when unset.
    pub fn keys(&self) -> &[KeyRef] {
        self.keys.as_deref().unwrap_or_default()
    }
}

/// Who may see a scope.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Visibility {
    /// Listed for everyone on `/scopes/all`.
    Public,
    /// Seen only by the owner and the consumers granted access.
    Private,
}

/// The kind of access token a scope yields.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenType {
    /// A signed JWT the API verifies itself.
    SelfContained,
    /// A reference token the API introspects.
    Opaque,
}

/// Integration types that may use a scope.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationType {
    Maskinporten,
    ApiKlient,
    Idporten,
    IdportenSaml2,
    Ansattporten,
    Krr,
    Eformidling,
}

/// Mercantile data of an integration: who gets e-mail on critical incidents, and where invoices go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    /// Notification points (varslingspunkter): e-mail addresses told about critical incidents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<String>,
    /// Invoice information (fakturainformasjon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<Invoice>,
}

/// Invoice information.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Invoice {
    /// Where invoices are sent.
    pub email: String,
    /// Your reference (e.g. a purchase order number) printed on the invoice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// A public key file of a client: a path, or an object with the path and its retirement date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum KeyRef {
    /// Path of a JWK, JWKS, PEM public key or PEM certificate file, relative to the manifest.
    Path(String),
    /// A key file with options.
    Detailed(KeyFile),
}

/// A key file with options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Path of a JWK, JWKS, PEM public key or PEM certificate file, relative to the manifest.
    pub path: String,
    /// The last day (`YYYY-MM-DD`, UTC) the key stays registered; from the next day on, plan
    /// removes it. `mpctl keys rotate` sets it on the key it replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}$"))]
    pub retire_after: Option<String>,
}

impl KeyRef {
    pub fn path(&self) -> &str {
        match self {
            KeyRef::Path(p) => p,
            KeyRef::Detailed(k) => &k.path,
        }
    }

    pub fn retire_after(&self) -> Option<&str> {
        match self {
            KeyRef::Path(_) => None,
            KeyRef::Detailed(k) => k.retire_after.as_deref(),
        }
    }

    /// Whether the key's `retire_after` day has passed at `now_unix` (see [`retired_by`]).
    pub fn is_retired(&self, now_unix: i64) -> bool {
        self.retire_after()
            .is_some_and(|date| retired_by(date, now_unix))
    }
}

/// Whether a `retire_after` date (`YYYY-MM-DD`) has passed: its day (UTC) has ended at
/// `now_unix`. An unparseable date never retires (validation reports it).
pub fn retired_by(date: &str, now_unix: i64) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(date, &format) {
        Ok(d) => {
            let end_of_day = d.midnight().assume_utc().unix_timestamp() + 86_400;
            now_unix >= end_of_day
        }
        Err(_) => false,
    }
}

#[cfg(test)]
#[path = "attributes/tests.rs"]
mod tests;
