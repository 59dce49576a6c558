//! The key rules: key counts per client, key ids across files, and retirement dates.

use std::collections::BTreeMap;

use super::MAX_KEYS_PER_CLIENT;
use super::Rules;
use crate::diagnostic_code::Code;
use crate::manifest::diagnostics::Diagnostic;
use crate::manifest::keys::KeyState;
use crate::manifest::model::KeyRef;
use crate::manifest::model::key_refs;
use crate::manifest::sniff::clip;
use crate::manifest::yaml::escape_pointer_segment as esc;

impl Rules<'_> {
    pub(super) fn keys(&mut self, keys: &BTreeMap<String, Vec<KeyState>>) {
        let m = self.m;
        for (i, c) in m.clients.iter().enumerate() {
            let mut lists: Vec<(String, &[KeyRef], Vec<String>)> = Vec::new();
            let present = self.present_in(c.environments.as_ref());
            let base_envs: Vec<String> = present
                .iter()
                .filter(|e| {
                    c.overrides
                        .get(*e)
                        .is_none_or(|o| o.attributes.keys.is_none())
                })
                .cloned()
                .collect();
            lists.push((format!("/clients/{i}/keys"), c.attributes.keys(), base_envs));
            for (env, o) in &c.overrides {
                if let Some(k) = &o.attributes.keys {
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
