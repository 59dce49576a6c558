//! The semantic rules a schema cannot express, checked on the merged manifest. Each rule has
//! its own diagnostic code and help line, and points at the YAML that breaks it.
//!
//! Per-environment rules look at each declared environment after its `environments` filters and
//! `overrides`, exactly as plan will see it.

mod clients;
mod duplicates;
mod environments;
mod keys;
mod organisations;
mod scopes;

use std::collections::BTreeMap;

use super::diagnostics::{Diagnostic, Diagnostics, Locator};
use super::model::Manifest;
use crate::manifest::keys::KeyState;

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
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::diagnostic_code::Code;
    use crate::manifest::diagnostics::SourceFile;
    use crate::manifest::yaml;

    fn run_with_keys(text: &str, keys: &BTreeMap<String, Vec<KeyState>>) -> Diagnostics {
        let parsed = yaml::parse(text).expect("valid YAML");
        let problems = crate::manifest::schema::check(&parsed.value, false);
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
