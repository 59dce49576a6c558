//! The scope rules: prefixes and scope names, and a client's own scopes granted to the
//! organisation itself.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::HashMap;

use super::MAX_SCOPE_NAME_LEN;
use super::Rules;
use super::is_valid_prefix;
use super::is_valid_subscope;
use crate::diagnostic_code::Code;
use crate::manifest::diagnostics::Diagnostic;
use crate::manifest::schema::did_you_mean;
use crate::manifest::sniff::clip;
use crate::manifest::yaml::escape_pointer_segment as esc;

impl Rules<'_> {
    pub(super) fn prefixes_and_scope_names(&mut self) {
        let m = self.m;
        for (k, p) in m.prefixes.iter().enumerate() {
            if !is_valid_prefix(p) {
                self.push_value(
                    Diagnostic::error(
                        Code::PrefixSyntax,
                        format!("`{}` is not a valid scope prefix", clip(p)),
                    )
                    .with_help("a prefix is lowercase letters and digits, optionally joined by single `-` or `_` (at most 64 characters), exactly as Digdir registered it"),
                    &format!("/prefixes/{k}"),
                    "invalid prefix",
                );
            }
        }
        for (i, s) in m.scopes.iter().enumerate() {
            let pointer = format!("/scopes/{i}/name");
            let Some((prefix, subscope)) = s.name.split_once(':') else {
                self.push_value(
                    Diagnostic::error(
                        Code::ScopeName,
                        format!("scope name `{}` has no prefix", clip(&s.name)),
                    )
                    .with_help(match m.prefixes.first() {
                        Some(p) => format!("write `prefix:subscope`, e.g. `{p}:{}`", clip(&s.name)),
                        None => "write `prefix:subscope`, e.g. `acme:orders.read`".into(),
                    }),
                    &pointer,
                    "expected `prefix:subscope`",
                );
                continue;
            };
            if !is_valid_prefix(prefix)
                || !is_valid_subscope(subscope)
                || s.name.len() > MAX_SCOPE_NAME_LEN
            {
                self.push_value(
                    Diagnostic::error(
                        Code::ScopeName,
                        format!("`{}` is not a valid scope name", clip(&s.name)),
                    )
                    .with_help("a scope is `prefix:subscope` (at most 255 characters): the prefix lowercase letters and digits joined by single `-` or `_`, the subscope lowercase letters and digits separated by single `.`, `_`, `/` or `-` (not first or last)"),
                    &pointer,
                    "invalid scope name",
                );
                continue;
            }
            if !m.prefixes.iter().any(|p| p == prefix) {
                let help = if m.prefixes.is_empty() {
                    format!(
                        "declare the organisation's prefixes, e.g. `prefixes: [{prefix}]`; Digdir registers prefixes (servicedesk@digdir.no) and without one no scope can be created"
                    )
                } else {
                    let hint = did_you_mean(prefix, &m.prefixes)
                        .map(|p| format!("did you mean `{p}`? "))
                        .unwrap_or_default();
                    format!(
                        "{hint}your prefixes are {}; add `{prefix}` to `prefixes` only if Digdir has registered it to your organisation",
                        m.prefixes.join(", ")
                    )
                };
                self.push_value(
                    Diagnostic::error(
                        Code::ScopePrefix,
                        format!("the prefix `{prefix}` of `{}` is not one of the organisation's prefixes", s.name),
                    )
                    .with_help(help),
                    &pointer,
                    "unknown prefix",
                );
            }
        }
        for (i, c) in m.clients.iter().enumerate() {
            let lists = c.attribute_sets().filter_map(|(at, a)| {
                let list = a.scopes.as_ref()?;
                Some((format!("/clients/{i}{at}/scopes"), list))
            });
            for (base, list) in lists {
                for (k, name) in list.iter().enumerate() {
                    let ok = name.split_once(':').is_some_and(|(p, s)| {
                        !p.is_empty()
                            && !s.is_empty()
                            && !name.chars().any(|ch| ch.is_whitespace() || ch.is_control())
                    });
                    if !ok {
                        self.push_value(
                            Diagnostic::error(
                                Code::ScopeName,
                                format!("`{}` is not a scope name", clip(name)),
                            )
                            .with_help("a scope is `prefix:subscope`, e.g. `acme:orders.read`, with no spaces"),
                            &format!("{base}/{k}"),
                            "invalid scope name",
                        );
                    }
                }
            }
        }
    }

    // ----- a client's own scopes must be granted to the organisation itself ----------------

    pub(super) fn own_scopes_granted(&mut self) {
        let m = self.m;
        // (pointer, problem) → environments
        let mut problems: BTreeMap<(String, String, u8), Vec<String>> = BTreeMap::new();
        let mut other_envs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::with_capacity(m.scopes.len());
        for (i, s) in m.scopes.iter().enumerate() {
            by_name.entry(s.name.as_str()).or_default().push(i);
        }
        for (ci, c) in m.clients.iter().enumerate() {
            for env in self.present_in(c.environments.as_ref()) {
                let overridden = c
                    .overrides
                    .get(&env)
                    .and_then(|o| o.attributes.scopes.as_deref());
                let list = overridden.unwrap_or(c.attributes.scopes());
                // Built only for a problem: most scopes of most clients are fine.
                let pointer_of = |k: usize| match overridden {
                    Some(_) => format!("/clients/{ci}/overrides/{}/scopes/{k}", esc(&env)),
                    None => format!("/clients/{ci}/scopes/{k}"),
                };
                for (k, name) in list.iter().enumerate() {
                    let Some((prefix, _)) = name.split_once(':') else {
                        continue;
                    };
                    if !m.prefixes.iter().any(|p| p == prefix) {
                        continue;
                    }
                    let declared = by_name.get(name.as_str());
                    let here = declared
                        .into_iter()
                        .flatten()
                        .map(|&i| &m.scopes[i])
                        .find(|s| Self::is_in(s.environments.as_ref(), &env));
                    let Some(scope) = here else {
                        let kind = if declared.is_none() { 0 } else { 1 };
                        problems
                            .entry((pointer_of(k), name.clone(), kind))
                            .or_default()
                            .push(env.clone());
                        continue;
                    };
                    let open = scope
                        .overrides
                        .get(&env)
                        .and_then(|o| o.attributes.accessible_for_all)
                        .or(scope.attributes.accessible_for_all)
                        .unwrap_or(false);
                    let granted =
                        Self::grants_in(scope, &env).any(|(_, org)| *org == m.organization);
                    if open || granted {
                        continue;
                    }
                    let elsewhere: BTreeSet<String> = self
                        .present_in(scope.environments.as_ref())
                        .into_iter()
                        .filter(|e| {
                            e != &env
                                && Self::grants_in(scope, e).any(|(_, org)| *org == m.organization)
                        })
                        .collect();
                    let kind = if elsewhere.is_empty() { 2 } else { 3 };
                    let pointer = pointer_of(k);
                    other_envs
                        .entry(pointer.clone())
                        .or_default()
                        .extend(elsewhere);
                    problems
                        .entry((pointer, name.clone(), kind))
                        .or_default()
                        .push(env.clone());
                }
            }
        }
        let org = m.organization.to_string();
        for ((pointer, name, kind), envs) in problems {
            let in_envs = envs.join(", ");
            let d = match kind {
                0 => Diagnostic::error(
                    Code::ClientScopeUndeclared,
                    format!("scope `{name}` uses your own prefix but the manifest does not declare it"),
                )
                .with_help(format!(
                    "declare `{name}` under `scopes` (and grant it to your own organisation, {org}), or fix the name: a scope that does not exist can never be added to a client"
                )),
                1 => Diagnostic::error(
                    Code::ClientScopeUndeclared,
                    format!("scope `{name}` is not provided in {in_envs}, where this client uses it"),
                )
                .with_help("the scope is limited by its `environments` to others: add these environments to the scope, or remove the scope from the client here (with `overrides`)"),
                2 => Diagnostic::error(
                    Code::ClientScopeNotGranted,
                    format!("scope `{name}` is not granted to your own organisation in {in_envs}, so this client can never get it"),
                )
                .with_help(format!(
                    "a client may only hold scopes granted to its organisation: add \"{org}\" to the scope's `grants` (the portal's FAQ: \"the scope I want is missing\" — access not shared with your organisation)"
                )),
                _ => {
                    let other = other_envs
                        .get(&pointer)
                        .map(|s| s.iter().cloned().collect::<Vec<_>>().join(", "))
                        .unwrap_or_default();
                    Diagnostic::error(
                        Code::ClientScopeNotGranted,
                        format!("scope `{name}` is granted to your own organisation only in {other}, not in {in_envs} where this client uses it"),
                    )
                    .with_help(format!(
                        "grant \"{org}\" the scope in {in_envs} too (check the grant's `environments` and the scope's `overrides`), or drop the scope from the client there (the portal's FAQ: access given in another environment)"
                    ))
                }
            };
            self.push_value(d, &pointer, "cannot be added to the client");
        }
    }
}
