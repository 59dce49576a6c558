//! The duplicate rules: no scope, grant, client or key declared twice in one environment.

use std::collections::BTreeMap;
use std::collections::HashMap;

use super::Rules;
use crate::diagnostic_code::Code;
use crate::manifest::diagnostics::Diagnostic;
use crate::manifest::orgno::OrgNo;

impl Rules<'_> {
    pub(super) fn duplicates(&mut self) {
        let m = self.m;
        // (second pointer, first pointer) → environments where both are present.
        let mut scope_pairs: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
        let mut grant_pairs: BTreeMap<(String, String), (String, Vec<String>)> = BTreeMap::new();
        let mut client_pairs: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
        for env in &self.envs {
            let mut seen: HashMap<&str, usize> = HashMap::with_capacity(m.scopes.len());
            // Reused from scope to scope, to spare an allocation each.
            let mut orgs: HashMap<&OrgNo, usize> = HashMap::new();
            for (i, s) in m.scopes.iter().enumerate() {
                if !Self::is_in(s.environments.as_ref(), env) {
                    continue;
                }
                if let Some(&first) = seen.get(s.name.as_str()) {
                    scope_pairs.entry((i, first)).or_default().push(env.clone());
                } else {
                    seen.insert(&s.name, i);
                }
                orgs.clear();
                for (j, org) in Self::grants_in(s, env) {
                    if let Some(&first) = orgs.get(org) {
                        let pair = (
                            Self::grant_pointer(i, s, env, j),
                            Self::grant_pointer(i, s, env, first),
                        );
                        grant_pairs
                            .entry(pair)
                            .or_insert_with(|| (org.to_string(), Vec::new()))
                            .1
                            .push(env.clone());
                    } else {
                        orgs.insert(org, j);
                    }
                }
            }
            let mut seen: HashMap<&str, usize> = HashMap::with_capacity(m.clients.len());
            for (i, c) in m.clients.iter().enumerate() {
                if !Self::is_in(c.environments.as_ref(), env) {
                    continue;
                }
                if let Some(&first) = seen.get(c.name.as_str()) {
                    client_pairs
                        .entry((i, first))
                        .or_default()
                        .push(env.clone());
                } else {
                    seen.insert(&c.name, i);
                }
            }
        }
        for ((second, first), envs) in scope_pairs {
            let name = &m.scopes[second].name;
            self.push_pair(
                Diagnostic::error(
                    Code::ScopeDuplicate,
                    format!("scope `{name}` is declared twice (in {})", envs.join(", ")),
                )
                .with_help("keep one declaration; to differ between environments use `overrides`, or limit each with `environments`"),
                &format!("/scopes/{second}/name"),
                "declared again here",
                &format!("/scopes/{first}/name"),
                "first declared here",
            );
        }
        for ((second, first), (org, envs)) in grant_pairs {
            self.push_pair(
                Diagnostic::error(
                    Code::GrantDuplicate,
                    format!(
                        "organisation {org} is granted this scope twice (in {})",
                        envs.join(", ")
                    ),
                )
                .with_help("list each consumer organisation once per scope"),
                &second,
                "granted again here",
                &first,
                "first granted here",
            );
        }
        for ((second, first), envs) in client_pairs {
            let name = &m.clients[second].name;
            self.push_pair(
                Diagnostic::error(
                    Code::ClientDuplicate,
                    format!("client `{name}` is declared twice (in {})", envs.join(", ")),
                )
                .with_help("a client's name identifies it within the organisation and environment: rename one, or limit each with `environments`"),
                &format!("/clients/{second}/name"),
                "declared again here",
                &format!("/clients/{first}/name"),
                "first declared here",
            );
        }
        for (i, c) in m.clients.iter().enumerate() {
            let lists = c.attribute_sets().filter_map(|(at, a)| {
                let list = a.scopes.as_ref()?;
                Some((format!("/clients/{i}{at}/scopes"), list))
            });
            for (base, list) in lists {
                let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
                for (k, s) in list.iter().enumerate() {
                    if let Some(&first) = seen.get(s.as_str()) {
                        self.push_pair(
                            Diagnostic::error(
                                Code::ClientDuplicateScope,
                                format!("client `{}` lists scope `{s}` twice", c.name),
                            )
                            .with_help("list each scope once"),
                            &format!("{base}/{k}"),
                            "listed again here",
                            &format!("{base}/{first}"),
                            "first listed here",
                        );
                    } else {
                        seen.insert(s, k);
                    }
                }
            }
        }
    }
}
