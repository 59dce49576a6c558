//! The environment rules: declared environments, references to them, and overrides that
//! have no effect.

use super::PRESET_NAMES;
use super::Rules;
use crate::diagnostic_code::Code;
use crate::manifest::diagnostics::Diagnostic;
use crate::manifest::model::Scope;
use crate::manifest::orgno::OrgNo;
use crate::manifest::schema::did_you_mean;
use crate::manifest::yaml::escape_pointer_segment as esc;

impl Rules<'_> {
    pub(super) fn environments(&mut self) {
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

    pub(super) fn environment_references(&mut self) {
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
    pub(super) fn unused_overrides(&mut self) {
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
    pub(super) fn is_in(only: Option<&Vec<String>>, env: &str) -> bool {
        only.is_none_or(|list| list.iter().any(|e| e == env))
    }

    /// The declared environments a resource limited to `only` is present in.
    pub(super) fn present_in(&self, only: Option<&Vec<String>>) -> Vec<String> {
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
    pub(super) fn grants_in<'s>(
        scope: &'s Scope,
        env: &str,
    ) -> impl Iterator<Item = (usize, &'s OrgNo)> {
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
    pub(super) fn grant_pointer(i: usize, scope: &Scope, env: &str, j: usize) -> String {
        if scope.overrides.get(env).is_some_and(|o| o.grants.is_some()) {
            format!("/scopes/{i}/overrides/{}/grants/{j}", esc(env))
        } else {
            format!("/scopes/{i}/grants/{j}")
        }
    }
}
