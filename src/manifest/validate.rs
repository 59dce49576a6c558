//! The semantic rules a schema cannot express, checked on the merged manifest. Each rule has
//! its own diagnostic code and help line, and points at the YAML that breaks it.
//!
//! Per-environment rules look at each declared environment after its `environments` filters and
//! `overrides`, exactly as plan will see it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::diagnostics::{Diagnostic, Diagnostics, Locator};
use super::model::key_refs;
use super::model::{Contacts, Grant, KeyRef, Manifest, Scope};
use super::orgno::{OrgNo, OrgNoError};
use super::sniff::clip;
use super::yaml::escape_pointer_segment as esc;
use crate::diagnostic_code::Code;
use crate::schema::did_you_mean;
use crate::state::KeyState;

/// The most keys Maskinporten registers on one client.
pub const MAX_KEYS_PER_CLIENT: usize = 5;

/// Environment names whose endpoints are built in.
pub const PRESET_NAMES: [&str; 3] = ["test", "prod", "local"];

/// The longest prefix accepted.
pub const MAX_PREFIX_LEN: usize = 64;

/// The longest full scope name (`prefix:subscope`) accepted.
pub const MAX_SCOPE_NAME_LEN: usize = 255;

/// Whether `prefix` is a valid scope prefix: `^[a-z0-9]+([_-][a-z0-9]+)*$`, at most 64
/// characters. Digdir assigns prefixes by hand and documents no syntax; this is the rule the
/// emulator enforces, and every prefix in use fits it.
pub fn is_valid_prefix(prefix: &str) -> bool {
    prefix.len() <= MAX_PREFIX_LEN && separated_words(prefix, b"_-")
}

/// Lowercase ASCII letters and digits in words joined by single separators from `separators`.
fn separated_words(text: &str, separators: &[u8]) -> bool {
    let mut previous_separator = true;
    for b in text.bytes() {
        let separator = separators.contains(&b);
        if separator {
            if previous_separator {
                return false;
            }
        } else if !(b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return false;
        }
        previous_separator = separator;
    }
    !text.is_empty() && !previous_separator
}

/// Whether `subscope` is valid: `^[a-z0-9]+([./_-][a-z0-9]+)*$` — lowercase letters and
/// digits, separated by single `.`, `_`, `/` or `-`, with no separator first or last.
pub fn is_valid_subscope(subscope: &str) -> bool {
    separated_words(subscope, b"./_-")
}

/// Checks every semantic rule. `keys` holds the public keys read from each key file.
/// The diagnostic code and help for an invalid organisation number.
fn orgno_code_and_help(e: &OrgNoError) -> (Code, &'static str) {
    match e {
        OrgNoError::CheckDigit { .. } => (
            Code::OrgnoCheckDigit,
            "check the number for a typo (look it up in Enhetsregisteret, brreg.no): the last digit is a mod-11 check digit over the first eight (weights 3, 2, 7, 6, 5, 4, 3, 2)",
        ),
        OrgNoError::FirstDigit(..) => (
            Code::OrgnoFirstDigit,
            "check the number (look it up in Enhetsregisteret, brreg.no): every Norwegian organisation number starts with 8 or 9",
        ),
        _ => (
            Code::OrgnoFormat,
            "an organisation number is exactly 9 digits, e.g. \"974760673\"",
        ),
    }
}

pub fn check(
    manifest: &Manifest,
    keys: &BTreeMap<String, Vec<KeyState>>,
    locator: &Locator,
) -> Diagnostics {
    let mut rules = Rules {
        m: manifest,
        at: locator,
        out: Diagnostics::new(),
        envs: manifest.environments.keys().cloned().collect(),
    };
    rules.environments();
    rules.organisation_numbers();
    rules.organisation_names();
    rules.prefixes_and_scope_names();
    rules.environment_references();
    rules.unused_overrides();
    rules.duplicates();
    rules.client_identities();
    rules.own_scopes_granted();
    rules.contacts();
    rules.keys(keys);
    rules.out
}

struct Rules<'a> {
    m: &'a Manifest,
    at: &'a Locator,
    out: Diagnostics,
    envs: Vec<String>,
}

impl Rules<'_> {
    /// Adds a diagnostic located at the key (or value) of `pointer`.
    fn push_key(&mut self, d: Diagnostic, pointer: &str, label: &str) {
        let d = match self.at.key_or_value(pointer) {
            Some((file, span)) => d.at(&file, span, label),
            None => d,
        };
        self.out.push(d);
    }

    /// Adds a diagnostic located at the value of `pointer`.
    fn push_value(&mut self, d: Diagnostic, pointer: &str, label: &str) {
        let d = match self.at.value(pointer) {
            Some((file, span)) => d.at(&file, span, label),
            None => d,
        };
        self.out.push(d);
    }

    /// Adds a diagnostic at `pointer` with a second location at `first`.
    fn push_pair(
        &mut self,
        d: Diagnostic,
        pointer: &str,
        label: &str,
        first: &str,
        first_label: &str,
    ) {
        let mut d = d;
        if let Some((file, span)) = self.at.value(pointer) {
            d = d.at(&file, span, label);
        }
        if let Some((file, span)) = self.at.value(first) {
            d = d.at(&file, span, first_label);
        }
        self.out.push(d);
    }

    // ----- environments -------------------------------------------------------------------

    fn environments(&mut self) {
        if self.m.environments.is_empty() {
            self.push_key(
                Diagnostic::error(
                    Code::EnvNone,
                    "the manifest declares no environments, so it manages nothing",
                )
                .with_help("add the environments to manage, e.g. `environments: { local: {} }` to try it on the embedded emulator"),
                "/version",
                "",
            );
        }
        for (name, env) in &self.m.environments {
            let pointer = format!("/environments/{}", esc(name));
            let urls = [
                ("api_url", &env.api_url),
                ("token_url", &env.token_url),
                ("audience", &env.audience),
            ];
            for (field, url) in urls
                .iter()
                .copied()
                .chain([("metadata_url", &env.metadata_url)])
            {
                if let Some(url) = url
                    && !(url.starts_with("https://") || url.starts_with("http://"))
                {
                    self.push_value(
                        Diagnostic::error(
                            Code::EnvUrl,
                            format!("`{field}` of environment `{name}` is not an http(s) URL"),
                        )
                        .with_help("write the full URL, e.g. https://test.maskinporten.no/token"),
                        &format!("{pointer}/{field}"),
                        "not a URL",
                    );
                }
            }
            // With `metadata_url`, the token endpoint and audience come from the metadata.
            let needed: &[(&str, &Option<String>)] = if env.metadata_url.is_some() {
                &urls[..1]
            } else {
                &urls
            };
            let all_urls = needed.iter().all(|(_, u)| u.is_some());
            if !PRESET_NAMES.contains(&name.as_str()) && env.preset.is_none() && !all_urls {
                let missing: Vec<&str> = needed
                    .iter()
                    .filter(|(_, u)| u.is_none())
                    .map(|(f, _)| *f)
                    .collect();
                self.push_key(
                    Diagnostic::error(
                        Code::EnvEndpoints,
                        format!(
                            "environment `{name}` has no endpoints: it is not `test`, `prod` or `local`, has no `preset`, and lacks {}",
                            missing.join(", ")
                        ),
                    )
                    .with_help("set `preset: test` (or `prod`, `local`) to start from built-in endpoints, or give `api_url` with `metadata_url` (the token service's `/.well-known/oauth-authorization-server`) or with `token_url` and `audience`"),
                    &pointer,
                    "no endpoints",
                );
            }
        }
    }

    fn environment_references(&mut self) {
        let m = self.m;
        let mut refs: Vec<(String, String, bool)> = Vec::new(); // (env, pointer, is a map key)
        for (i, s) in m.scopes.iter().enumerate() {
            for (k, e) in s.environments.iter().flatten().enumerate() {
                refs.push((e.clone(), format!("/scopes/{i}/environments/{k}"), false));
            }
            for (j, g) in s.grants.iter().enumerate() {
                for (k, e) in g.environments().unwrap_or_default().iter().enumerate() {
                    refs.push((
                        e.clone(),
                        format!("/scopes/{i}/grants/{j}/environments/{k}"),
                        false,
                    ));
                }
            }
            for (env, o) in &s.overrides {
                refs.push((
                    env.clone(),
                    format!("/scopes/{i}/overrides/{}", esc(env)),
                    true,
                ));
                for (j, g) in o.grants.iter().flatten().enumerate() {
                    for (k, e) in g.environments().unwrap_or_default().iter().enumerate() {
                        refs.push((
                            e.clone(),
                            format!(
                                "/scopes/{i}/overrides/{}/grants/{j}/environments/{k}",
                                esc(env)
                            ),
                            false,
                        ));
                    }
                }
            }
        }
        for (i, c) in m.clients.iter().enumerate() {
            for (k, e) in c.environments.iter().flatten().enumerate() {
                refs.push((e.clone(), format!("/clients/{i}/environments/{k}"), false));
            }
            for env in c.overrides.keys() {
                refs.push((
                    env.clone(),
                    format!("/clients/{i}/overrides/{}", esc(env)),
                    true,
                ));
            }
            for env in c.client_ids.keys() {
                refs.push((
                    env.clone(),
                    format!("/clients/{i}/client_ids/{}", esc(env)),
                    true,
                ));
            }
        }
        for env in m.overrides.keys() {
            refs.push((env.clone(), format!("/overrides/{}", esc(env)), true));
        }
        for (env, pointer, is_key) in refs {
            if m.environments.contains_key(&env) {
                continue;
            }
            let help = match did_you_mean(&env, &self.envs) {
                Some(s) => format!("did you mean `{s}`? Or declare `{env}` under `environments:`"),
                None if self.envs.is_empty() => {
                    format!(
                        "declare it under `environments:`, e.g. `environments: {{ {env}: {{}} }}`"
                    )
                }
                None => format!(
                    "declare it under `environments:` (declared: {})",
                    self.envs.join(", ")
                ),
            };
            let d = Diagnostic::error(
                Code::EnvUndeclared,
                format!("environment `{env}` is not declared in `environments`"),
            )
            .with_help(help);
            if is_key {
                self.push_key(d, &pointer, "unknown environment");
            } else {
                self.push_value(d, &pointer, "unknown environment");
            }
        }
    }

    /// Overrides and grants for environments their resource is not in have no effect: warn.
    fn unused_overrides(&mut self) {
        let m = self.m;
        let mut unused: Vec<(String, String, &str, &str)> = Vec::new();
        for (i, s) in m.scopes.iter().enumerate() {
            for env in s.overrides.keys() {
                if m.environments.contains_key(env) && !Self::is_in(s.environments.as_ref(), env) {
                    unused.push((
                        env.clone(),
                        format!("/scopes/{i}/overrides/{}", esc(env)),
                        "scope",
                        &s.name,
                    ));
                }
            }
            for (j, g) in s.grants.iter().enumerate() {
                for (k, env) in g.environments().unwrap_or_default().iter().enumerate() {
                    if m.environments.contains_key(env)
                        && !Self::is_in(s.environments.as_ref(), env)
                    {
                        unused.push((
                            env.clone(),
                            format!("/scopes/{i}/grants/{j}/environments/{k}"),
                            "scope",
                            &s.name,
                        ));
                    }
                }
            }
        }
        for (i, c) in m.clients.iter().enumerate() {
            for env in c.overrides.keys().chain(c.client_ids.keys()) {
                if m.environments.contains_key(env) && !Self::is_in(c.environments.as_ref(), env) {
                    let pointer = if c.overrides.contains_key(env) {
                        format!("/clients/{i}/overrides/{}", esc(env))
                    } else {
                        format!("/clients/{i}/client_ids/{}", esc(env))
                    };
                    unused.push((env.clone(), pointer, "client", &c.name));
                }
            }
        }
        for (env, pointer, kind, name) in unused {
            let d = Diagnostic::warning(
                Code::EnvUnused,
                format!("this has no effect: {kind} `{name}` is not in environment `{env}`"),
            )
            .with_help(format!(
                "add `{env}` to the {kind}'s `environments`, or remove this entry"
            ));
            if pointer.contains("/environments/") {
                self.push_value(d, &pointer, "not an environment of the resource");
            } else {
                self.push_key(d, &pointer, "not an environment of the resource");
            }
        }
    }

    /// Whether a resource limited to `only` is present in `env`.
    fn is_in(only: Option<&Vec<String>>, env: &str) -> bool {
        only.is_none_or(|list| list.iter().any(|e| e == env))
    }

    /// The declared environments a resource limited to `only` is present in.
    fn present_in(&self, only: Option<&Vec<String>>) -> Vec<String> {
        match only {
            None => self.envs.clone(),
            Some(list) => self
                .envs
                .iter()
                .filter(|e| list.contains(e))
                .cloned()
                .collect(),
        }
    }

    /// A scope's grants in `env` after overrides and grant environment filters, each with its
    /// index in the list it comes from (see [`Self::grant_pointer`]).
    fn grants_in<'s>(scope: &'s Scope, env: &str) -> impl Iterator<Item = (usize, &'s OrgNo)> {
        let list = match scope.overrides.get(env).and_then(|o| o.grants.as_ref()) {
            Some(list) => list,
            None => &scope.grants,
        };
        list.iter()
            .enumerate()
            .filter(move |(_, g)| g.environments().is_none_or(|e| e.iter().any(|x| x == env)))
            .map(|(j, g)| (j, g.org()))
    }

    /// Where the `j`th grant [`Self::grants_in`] gave for scope `i` in `env` is. Built only for
    /// a diagnostic: a large manifest has tens of thousands of grants.
    fn grant_pointer(i: usize, scope: &Scope, env: &str, j: usize) -> String {
        if scope.overrides.get(env).is_some_and(|o| o.grants.is_some()) {
            format!("/scopes/{i}/overrides/{}/grants/{j}", esc(env))
        } else {
            format!("/scopes/{i}/grants/{j}")
        }
    }

    // ----- organisation numbers -----------------------------------------------------------

    fn organisation_numbers(&mut self) {
        let m = self.m;
        if let Err(e) = m.organization.check() {
            self.bad_organisation_number(&e, "/organization");
        }
        for (i, s) in m.scopes.iter().enumerate() {
            let overridden = s
                .overrides
                .iter()
                .filter_map(|(env, o)| Some((Some(env), o.grants.as_ref()?)));
            for (env, list) in std::iter::once((None, &s.grants)).chain(overridden) {
                for (j, g) in list.iter().enumerate() {
                    let Err(e) = g.org().check() else {
                        continue;
                    };
                    // Pointers are built only here: a large manifest has tens of thousands of
                    // grants, nearly always valid.
                    let base = match env {
                        None => format!("/scopes/{i}/grants/{j}"),
                        Some(env) => format!("/scopes/{i}/overrides/{}/grants/{j}", esc(env)),
                    };
                    let pointer = match g {
                        Grant::Org(_) => base,
                        Grant::Limited(_) => base + "/org",
                    };
                    self.bad_organisation_number(&e, &pointer);
                }
            }
        }
    }

    /// Keys of `organizations` are organisation numbers; their names are not empty.
    fn organisation_names(&mut self) {
        let m = self.m;
        for (number, name) in &m.organizations {
            let pointer = format!("/organizations/{}", esc(number));
            if let Err(e) = OrgNo::new_unchecked(number.clone()).check() {
                let (code, help) = orgno_code_and_help(&e);
                self.push_key(
                    Diagnostic::error(code, format!("invalid organisation number: {e}"))
                        .with_help(help),
                    &pointer,
                    "not a valid organisation number",
                );
            }
            if name.trim().is_empty() {
                self.push_value(
                    Diagnostic::error(
                        Code::OrgnoName,
                        format!("organisation {number} has an empty name"),
                    )
                    .with_help("write the organisation's name, e.g. `\"942110464\": Trondheim kommune`, or remove the entry"),
                    &pointer,
                    "empty name",
                );
            }
        }
    }

    fn bad_organisation_number(&mut self, e: &OrgNoError, pointer: &str) {
        let (code, help) = orgno_code_and_help(e);
        self.push_value(
            Diagnostic::error(code, format!("invalid organisation number: {e}")).with_help(help),
            pointer,
            "not a valid organisation number",
        );
    }

    // ----- scope names ---------------------------------------------------------------------

    fn prefixes_and_scope_names(&mut self) {
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
            let mut lists = vec![(format!("/clients/{i}/scopes"), &c.scopes)];
            for (env, o) in &c.overrides {
                if let Some(s) = &o.scopes {
                    lists.push((format!("/clients/{i}/overrides/{}/scopes", esc(env)), s));
                }
            }
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

    // ----- duplicates ----------------------------------------------------------------------

    fn duplicates(&mut self) {
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
            let mut lists = vec![(format!("/clients/{i}/scopes"), &c.scopes)];
            for (env, o) in &c.overrides {
                if let Some(s) = &o.scopes {
                    lists.push((format!("/clients/{i}/overrides/{}/scopes", esc(env)), s));
                }
            }
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

    // ----- client identities: pinned ids and earlier names -----------------------------------

    /// Two clients may not adopt the same live client, and an earlier name (`renamed_from`) may
    /// not be the current name of another client: both would make two manifest clients fight
    /// over one live client.
    fn client_identities(&mut self) {
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

    // ----- a client's own scopes must be granted to the organisation itself ----------------

    fn own_scopes_granted(&mut self) {
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
                let overridden = c.overrides.get(&env).and_then(|o| o.scopes.as_ref());
                let list = overridden.unwrap_or(&c.scopes);
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
                        .and_then(|o| o.accessible_for_all)
                        .or(scope.accessible_for_all)
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

    // ----- contacts ------------------------------------------------------------------------

    fn contacts(&mut self) {
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
            if let Some(c) = &client.contacts {
                all.push((c, format!("/clients/{i}/contacts")));
            }
            for (env, o) in &client.overrides {
                if let Some(c) = &o.contacts {
                    all.push((c, format!("/clients/{i}/overrides/{}/contacts", esc(env))));
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

    // ----- keys ----------------------------------------------------------------------------

    fn keys(&mut self, keys: &BTreeMap<String, Vec<KeyState>>) {
        let m = self.m;
        for (i, c) in m.clients.iter().enumerate() {
            let mut lists: Vec<(String, &Vec<KeyRef>, Vec<String>)> = Vec::new();
            let present = self.present_in(c.environments.as_ref());
            let base_envs: Vec<String> = present
                .iter()
                .filter(|e| c.overrides.get(*e).is_none_or(|o| o.keys.is_none()))
                .cloned()
                .collect();
            lists.push((format!("/clients/{i}/keys"), &c.keys, base_envs));
            for (env, o) in &c.overrides {
                if let Some(k) = &o.keys {
                    lists.push((
                        format!("/clients/{i}/overrides/{}/keys", esc(env)),
                        k,
                        vec![env.clone()],
                    ));
                }
            }
            for (base, list, envs) in lists {
                let count: usize = list
                    .iter()
                    .map(|k| keys.get(k.path()).map_or(1, |v| v.len().max(1)))
                    .sum();
                if count > MAX_KEYS_PER_CLIENT && !envs.is_empty() {
                    self.push_key(
                        Diagnostic::error(
                            Code::KeysTooMany,
                            format!(
                                "client `{}` would have {count} keys in {}; Maskinporten allows at most {MAX_KEYS_PER_CLIENT}",
                                c.name,
                                envs.join(", ")
                            ),
                        )
                        .with_help("remove keys that are no longer used (rotate with `mpctl keys rotate`, which retires the old key)"),
                        &base,
                        "too many keys",
                    );
                }
                let mut seen_paths: BTreeMap<&str, usize> = BTreeMap::new();
                for (k, key) in list.iter().enumerate() {
                    let pointer = || format!("{base}/{k}");
                    if let Some(&first) = seen_paths.get(key.path()) {
                        self.push_pair(
                            Diagnostic::error(
                                Code::KeysDuplicate,
                                format!(
                                    "client `{}` lists key file `{}` twice",
                                    c.name,
                                    key.path()
                                ),
                            )
                            .with_help("list each key file once"),
                            &pointer(),
                            "listed again here",
                            &format!("{base}/{first}"),
                            "first listed here",
                        );
                    } else {
                        seen_paths.insert(key.path(), k);
                    }
                    if let Some(date) = key.retire_after()
                        && time::Date::parse(
                            date,
                            time::macros::format_description!("[year]-[month]-[day]"),
                        )
                        .is_err()
                    {
                        self.push_value(
                            Diagnostic::error(
                                Code::KeysRetireAfter,
                                format!("`{}` is not a date", clip(date)),
                            )
                            .with_help("write `retire_after` as YYYY-MM-DD, e.g. 2026-01-31"),
                            &format!("{}/retire_after", pointer()),
                            "not a date",
                        );
                    }
                }
            }
        }
        // A kid identifies a key across all of Maskinporten: two different files may not share one.
        let mut kids: BTreeMap<&str, (&str, String)> = BTreeMap::new();
        for (path, pointer) in key_refs(m) {
            let Some(states) = keys.get(&path) else {
                continue;
            };
            for state in states {
                match kids.get(state.kid.as_str()) {
                    Some((first_path, first_pointer)) if *first_path != path => {
                        let first_pointer = first_pointer.clone();
                        self.push_pair(
                            Diagnostic::error(
                                Code::KeysDuplicateKid,
                                format!(
                                    "key id `{}` in {path} is also used by {first_path}",
                                    state.kid
                                ),
                            )
                            .with_help("every key needs its own `kid` (unique across all of Maskinporten): give one of the keys a new kid"),
                            &pointer,
                            "duplicate kid",
                            &first_pointer,
                            "first used here",
                        );
                    }
                    Some(_) => {}
                    None => {
                        let first_path = keys.get_key_value(&path).map_or("", |(p, _)| p.as_str());
                        kids.insert(&state.kid, (first_path, pointer.clone()));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::manifest::diagnostics::SourceFile;
    use crate::manifest::yaml;

    fn run_with_keys(text: &str, keys: &BTreeMap<String, Vec<KeyState>>) -> Diagnostics {
        let parsed = yaml::parse(text).expect("valid YAML");
        let problems = crate::schema::check(&parsed.value, false);
        assert!(problems.is_empty(), "schema problems: {problems:?}");
        let manifest: Manifest = serde_json::from_value(parsed.value.clone()).expect("shape");
        let file = SourceFile::new(Path::new("m.yaml"), text.to_owned());
        let locator = Locator::single(file, parsed.spans);
        check(&manifest, keys, &locator)
    }

    fn run(text: &str) -> Diagnostics {
        run_with_keys(text, &BTreeMap::new())
    }

    /// The codes found, with the 1-based line of each.
    fn found(text: &str) -> Vec<(Code, usize)> {
        run(text)
            .iter()
            .map(|d| (d.code, d.position().map_or(0, |p| p.line)))
            .collect()
    }

    const HEAD: &str = "version: 1\norganization: \"910753282\"\nprefixes: [acme]\nenvironments: { test: {}, prod: {} }\n";

    fn with(body: &str) -> String {
        format!("{HEAD}{body}")
    }

    #[test]
    fn a_complete_manifest_has_no_problems() {
        let text = with(
            "contacts: { notifications: [drift@acme.no], invoice: { email: faktura@acme.no } }\nscopes:\n  - name: acme:orders.read\n    description: Read orders\n    grants: [\"910753282\", \"974760673\"]\nclients:\n  - name: sync\n    scopes: [acme:orders.read, other:thing]\n",
        );
        assert!(run(&text).is_empty(), "{:?}", found(&text));
    }

    #[test]
    fn subscope_and_prefix_syntax() {
        assert!(is_valid_subscope("orders.read"));
        assert!(is_valid_subscope("v1/orders-all_x"));
        assert!(!is_valid_subscope("Orders"));
        assert!(!is_valid_subscope(".x"));
        assert!(!is_valid_subscope("x/"));
        assert!(!is_valid_subscope("a..b"));
        assert!(!is_valid_subscope(""));
        assert!(is_valid_prefix("acme2"));
        assert!(!is_valid_prefix("Acme"));
        assert!(is_valid_prefix("ac-me_2"));
        assert!(!is_valid_prefix("ac--me"));
        assert!(!is_valid_prefix("acme."));
        assert!(!is_valid_prefix(&"a".repeat(65)));
    }

    #[test]
    fn organisation_number_check_digit() {
        let text =
            with("scopes:\n  - name: acme:a\n    description: x\n    grants: [\"974760674\"]\n");
        assert_eq!(found(&text), vec![(Code::OrgnoCheckDigit, 8)]);
        let text = "version: 1\norganization: 910753283\nenvironments: { test: {} }\n";
        assert_eq!(found(text), vec![(Code::OrgnoCheckDigit, 2)]);
    }

    #[test]
    fn scope_name_syntax() {
        let text = with(
            "scopes:\n  - name: acme:Orders\n    description: x\n  - name: orders\n    description: x\n",
        );
        assert_eq!(
            found(&text),
            vec![(Code::ScopeName, 6), (Code::ScopeName, 8)]
        );
    }

    #[test]
    fn scope_prefix_must_be_declared() {
        let text = with("scopes:\n  - name: acmee:orders\n    description: x\n");
        let d = run(&text);
        assert_eq!(d.iter().next().map(|d| d.code), Some(Code::ScopePrefix));
        assert!(
            d.iter()
                .next()
                .unwrap()
                .help
                .as_ref()
                .unwrap()
                .contains("did you mean `acme`")
        );
    }

    #[test]
    fn client_scope_syntax() {
        let text = with("clients:\n  - name: c\n    scopes: [\"no prefix\"]\n");
        assert_eq!(found(&text), vec![(Code::ScopeName, 7)]);
    }

    #[test]
    fn duplicate_scopes_per_environment() {
        let dup = with(
            "scopes:\n  - name: acme:a\n    description: x\n  - name: acme:a\n    description: y\n",
        );
        assert_eq!(found(&dup), vec![(Code::ScopeDuplicate, 8)]);
        // Limited to different environments: not a duplicate.
        let split = with(
            "scopes:\n  - name: acme:a\n    description: x\n    environments: [test]\n  - name: acme:a\n    description: y\n    environments: [prod]\n",
        );
        assert!(found(&split).is_empty());
    }

    #[test]
    fn duplicate_grants_after_overrides() {
        let text = with(
            "scopes:\n  - name: acme:a\n    description: x\n    overrides:\n      prod:\n        grants: [\"974760673\", \"974760673\"]\n",
        );
        assert_eq!(found(&text), vec![(Code::GrantDuplicate, 10)]);
    }

    #[test]
    fn duplicate_clients() {
        let text = with("clients:\n  - name: c\n  - name: c\n");
        assert_eq!(found(&text), vec![(Code::ClientDuplicate, 7)]);
    }

    #[test]
    fn two_clients_may_not_pin_the_same_client_id() {
        let text = with(
            "clients:\n  - name: a\n    client_ids: { prod: x1 }\n  - name: b\n    client_ids: { prod: x1, test: x2 }\n",
        );
        assert_eq!(found(&text), vec![(Code::ClientDuplicateClientId, 9)]);
    }

    #[test]
    fn an_earlier_name_may_not_be_another_clients_name() {
        let text = with("clients:\n  - name: new\n    renamed_from: [old]\n  - name: old\n");
        assert_eq!(found(&text), vec![(Code::ClientRenameConflict, 7)]);
        let apart = with(
            "clients:\n  - name: new\n    environments: [test]\n    renamed_from: [old]\n  - name: old\n    environments: [prod]\n",
        );
        assert!(found(&apart).is_empty());
    }

    #[test]
    fn undeclared_environments() {
        let text =
            with("scopes:\n  - name: acme:a\n    description: x\n    environments: [tset]\n");
        let d = run(&text);
        let first = d.iter().next().unwrap();
        assert_eq!(first.code, Code::EnvUndeclared);
        assert_eq!(first.position().unwrap().line, 8);
        assert!(first.help.as_ref().unwrap().contains("did you mean `test`"));
        let text = with("clients:\n  - name: c\n    client_ids: { staging: abc }\n");
        assert_eq!(found(&text), vec![(Code::EnvUndeclared, 7)]);
    }

    #[test]
    fn overrides_for_environments_the_resource_is_not_in_are_warned_about() {
        let text = with(
            "scopes:\n  - name: acme:a\n    description: x\n    environments: [test]\n    overrides:\n      prod: { description: y }\n",
        );
        let d = run(&text);
        assert!(!d.has_errors());
        assert_eq!(d.warning_count(), 1);
        let w = d.iter().next().unwrap();
        assert_eq!(w.code, Code::EnvUnused);
        assert_eq!(w.position().unwrap().line, 10);
    }

    #[test]
    fn custom_environments_need_endpoints() {
        let text = "version: 1\norganization: \"910753282\"\nenvironments:\n  staging: { api_url: \"https://x\" }\n  dev: { preset: test }\n";
        assert_eq!(found(text), vec![(Code::EnvEndpoints, 4)]);
    }

    #[test]
    fn no_environments_is_an_error() {
        let text = "version: 1\norganization: \"910753282\"\n";
        assert_eq!(found(text), vec![(Code::EnvNone, 1)]);
    }

    #[test]
    fn own_scope_must_be_declared() {
        let text = with("clients:\n  - name: c\n    scopes: [acme:missing]\n");
        assert_eq!(found(&text), vec![(Code::ClientScopeUndeclared, 7)]);
    }

    #[test]
    fn own_scope_must_be_granted_to_the_organisation_itself() {
        let text = with(
            "scopes:\n  - name: acme:a\n    description: x\n    grants: [\"974760673\"]\nclients:\n  - name: c\n    scopes: [acme:a]\n",
        );
        let d = run(&text);
        let first = d.iter().next().unwrap();
        assert_eq!(first.code, Code::ClientScopeNotGranted);
        assert_eq!(first.position().unwrap().line, 11);
        assert!(first.message.contains("test, prod"), "{}", first.message);
    }

    #[test]
    fn own_scope_granted_only_in_another_environment_says_so() {
        let text = with(
            "scopes:\n  - name: acme:a\n    description: x\n    grants:\n      - org: \"910753282\"\n        environments: [test]\nclients:\n  - name: c\n    scopes: [acme:a]\n",
        );
        let d = run(&text);
        assert_eq!(d.len(), 1);
        let first = d.iter().next().unwrap();
        assert_eq!(first.code, Code::ClientScopeNotGranted);
        assert!(
            first.message.contains("only in test, not in prod"),
            "{}",
            first.message
        );
    }

    #[test]
    fn open_scopes_need_no_grant() {
        let text = with(
            "scopes:\n  - name: acme:a\n    description: x\n    accessible_for_all: true\nclients:\n  - name: c\n    scopes: [acme:a]\n",
        );
        assert!(found(&text).is_empty());
    }

    #[test]
    fn contact_addresses_are_checked() {
        let text = with(
            "contacts:\n  notifications: [drift@acme.no, not-an-address]\n  invoice: { email: \"faktura@\" }\n",
        );
        assert_eq!(
            found(&text),
            vec![(Code::ContactsEmail, 6), (Code::ContactsEmail, 7)]
        );
    }

    #[test]
    fn at_most_five_keys_per_client_and_environment() {
        let text = with(
            "clients:\n  - name: c\n    keys: [a.json, b.json, c.json, d.json, e.json, f.json]\n",
        );
        assert_eq!(found(&text), vec![(Code::KeysTooMany, 7)]);
        // A JWKS with several keys counts each key.
        let key = |kid: &str| KeyState {
            kid: kid.into(),
            jwk: serde_json::Map::new(),
            exp: None,
            cert_not_after: None,
            source: None,
            retire_after: None,
        };
        let keys = BTreeMap::from([(
            "a.json".to_owned(),
            (0..6).map(|i| key(&format!("k{i}"))).collect(),
        )]);
        let text = with("clients:\n  - name: c\n    keys: [a.json]\n");
        let d = run_with_keys(&text, &keys);
        assert_eq!(
            d.iter().map(|d| d.code).collect::<Vec<_>>(),
            [Code::KeysTooMany]
        );
    }

    #[test]
    fn duplicate_key_ids_across_files() {
        let key = KeyState {
            kid: "same".into(),
            jwk: serde_json::Map::new(),
            exp: None,
            cert_not_after: None,
            source: None,
            retire_after: None,
        };
        let keys = BTreeMap::from([
            ("a.json".to_owned(), vec![key.clone()]),
            ("b.json".to_owned(), vec![key]),
        ]);
        let text = with("clients:\n  - name: c\n    keys: [a.json, b.json]\n");
        let d = run_with_keys(&text, &keys);
        assert_eq!(
            d.iter().map(|d| d.code).collect::<Vec<_>>(),
            [Code::KeysDuplicateKid]
        );
    }

    #[test]
    fn retire_after_must_be_a_real_date() {
        let text = with(
            "clients:\n  - name: c\n    keys:\n      - { path: a.json, retire_after: \"2026-02-30\" }\n",
        );
        assert_eq!(found(&text), vec![(Code::KeysRetireAfter, 8)]);
    }
}
