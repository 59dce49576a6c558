use super::*;

const DATE: &str = "2026-12-09";
const NEW: &str = "keys/sync-20261125.jwk.json";

fn rotate(source: &str, client: &str, env: &str) -> String {
    let site = locate(source, client, env).unwrap();
    let retire = site.replaced_index().map(|i| (i, DATE));
    site.edit(source, env, NEW, retire).unwrap()
}

fn rotate_for(source: &str, env: &str) -> String {
    let site = locate(source, "sync", env).unwrap();
    let retire = site.replaced_index().map(|i| (i, DATE));
    site.edit_as_override(source, env, NEW, retire).unwrap()
}

#[test]
fn a_key_for_one_environment_goes_into_a_new_override() {
    let source = "\
clients:
  - name: sync
    keys:
      - keys/a.jwk.json   # in every environment
    scopes: [acme:x]
  - name: other
";
    insta::assert_snapshot!(rotate_for(source, "prod"), @r"
        clients:
          - name: sync
            keys:
              - keys/a.jwk.json   # in every environment
            scopes: [acme:x]
            overrides:
              prod:
                keys:
                  - {path: keys/a.jwk.json, retire_after: 2026-12-09}
                  - keys/sync-20261125.jwk.json
          - name: other
        ");
    // Other environments keep the client's own keys.
    let edited = rotate_for(source, "prod");
    let test = locate(&edited, "sync", "test").unwrap();
    assert!(!test.from_override);
    assert_eq!(test.entries.len(), 1);
}

#[test]
fn a_key_for_one_environment_joins_existing_overrides() {
    let source = "\
clients:
  - name: sync
    keys: [keys/a.jwk.json]
    overrides:
      test:
        keys: [keys/t.jwk.json]
      prod:
        description: Production sync
";
    insta::assert_snapshot!(rotate_for(source, "prod"), @r"
        clients:
          - name: sync
            keys: [keys/a.jwk.json]
            overrides:
              test:
                keys: [keys/t.jwk.json]
              prod:
                description: Production sync
                keys:
                  - {path: keys/a.jwk.json, retire_after: 2026-12-09}
                  - keys/sync-20261125.jwk.json
        ");
}

#[test]
fn block_sequence_of_paths() {
    let source = "\
# top comment
clients:
  - name: sync   # the nightly job
    keys:
      - keys/a.jwk.json
      - keys/b.jwk.json  # current
    scopes: [acme:x]
  - name: other
";
    insta::assert_snapshot!(rotate(source, "sync", "test"), @r"
        # top comment
        clients:
          - name: sync   # the nightly job
            keys:
              - keys/a.jwk.json
              - path: keys/b.jwk.json  # current
                retire_after: 2026-12-09
              - keys/sync-20261125.jwk.json
            scopes: [acme:x]
          - name: other
        ");
}

#[test]
fn block_sequence_not_indented_under_its_key() {
    let source = "clients:\n- name: sync\n  keys:\n  - \"keys/a.jwk.json\"\n  description: x\n";
    insta::assert_snapshot!(rotate(source, "sync", "test"), @r#"
        clients:
        - name: sync
          keys:
          - path: "keys/a.jwk.json"
            retire_after: 2026-12-09
          - keys/sync-20261125.jwk.json
          description: x
        "#);
}

#[test]
fn block_mapping_entries_and_already_retiring_keys() {
    let source = "\
clients:
  - name: sync
    keys:
      - path: keys/a.jwk.json
        retire_after: 2026-11-30
      - path: keys/b.jwk.json # b
      - path: keys/c.jwk.json
        retire_after: 2026-12-01
";
    insta::assert_snapshot!(rotate(source, "sync", "test"), @r"
        clients:
          - name: sync
            keys:
              - path: keys/a.jwk.json
                retire_after: 2026-11-30
              - path: keys/b.jwk.json # b
                retire_after: 2026-12-09
              - path: keys/c.jwk.json
                retire_after: 2026-12-01
              - keys/sync-20261125.jwk.json
        ");
}

#[test]
fn flow_sequences_of_paths_and_mappings() {
    let source = "clients:\n  - name: sync\n    keys: [keys/a.jwk.json, {path: keys/b.jwk.json}]  # keys\n  - name: two\n    keys: [keys/x.pem]\n";
    insta::assert_snapshot!(rotate(source, "sync", "test"), @r"
        clients:
          - name: sync
            keys: [keys/a.jwk.json, {path: keys/b.jwk.json, retire_after: 2026-12-09}, keys/sync-20261125.jwk.json]  # keys
          - name: two
            keys: [keys/x.pem]
        ");
    insta::assert_snapshot!(rotate(source, "two", "test"), @r"
        clients:
          - name: sync
            keys: [keys/a.jwk.json, {path: keys/b.jwk.json}]  # keys
          - name: two
            keys: [{path: keys/x.pem, retire_after: 2026-12-09}, keys/sync-20261125.jwk.json]
        ");
}

#[test]
fn empty_flow_sequence() {
    let source = "clients:\n  - name: sync\n    keys: []\n";
    let site = locate(source, "sync", "test").unwrap();
    assert_eq!(site.replaced_index(), None);
    assert_eq!(
        site.edit(source, "test", NEW, None).unwrap(),
        "clients:\n  - name: sync\n    keys: [keys/sync-20261125.jwk.json]\n"
    );
}

#[test]
fn missing_keys_in_block_and_flow_clients() {
    let source = "clients:\n  - name: sync\n    scopes:\n      - acme:x  # x\n  - {name: flow, scopes: [a]}\nscopes: []\n";
    insta::assert_snapshot!(rotate(source, "sync", "test"), @r"
        clients:
          - name: sync
            scopes:
              - acme:x  # x
            keys:
              - keys/sync-20261125.jwk.json
          - {name: flow, scopes: [a]}
        scopes: []
        ");
    insta::assert_snapshot!(rotate(source, "flow", "test"), @r"
        clients:
          - name: sync
            scopes:
              - acme:x  # x
          - {name: flow, scopes: [a], keys: [keys/sync-20261125.jwk.json]}
        scopes: []
        ");
}

#[test]
fn indentless_sequence_of_flow_clients() {
    let source = "clients:\n- {name: flow, keys: [keys/a.pem]}\n- name: b\n";
    assert_eq!(
        rotate(source, "flow", "test"),
        "clients:\n- {name: flow, keys: [{path: keys/a.pem, retire_after: 2026-12-09}, keys/sync-20261125.jwk.json]}\n- name: b\n"
    );
}

#[test]
fn file_without_trailing_newline() {
    let source = "clients:\n  - name: sync\n    keys:\n      - keys/a.jwk.json";
    assert_eq!(
        rotate(source, "sync", "test"),
        "clients:\n  - name: sync\n    keys:\n      - path: keys/a.jwk.json\n        retire_after: 2026-12-09\n      - keys/sync-20261125.jwk.json"
    );
}

#[test]
fn override_keys_of_the_environment_are_edited() {
    let source = "\
clients:
  - name: sync
    keys: [keys/a.jwk.json]
    overrides:
      prod:
        keys:
          - keys/prod.jwk.json
";
    let site = locate(source, "sync", "prod").unwrap();
    assert!(site.from_override);
    insta::assert_snapshot!(rotate(source, "sync", "prod"), @r"
        clients:
          - name: sync
            keys: [keys/a.jwk.json]
            overrides:
              prod:
                keys:
                  - path: keys/prod.jwk.json
                    retire_after: 2026-12-09
                  - keys/sync-20261125.jwk.json
        ");
    assert!(!locate(source, "sync", "test").unwrap().from_override);
}

#[test]
fn environment_limits_are_reported() {
    let source = "clients:\n  - name: sync\n    environments: [prod]\n";
    assert!(locate(source, "sync", "test").unwrap().env_excluded);
    assert!(!locate(source, "sync", "prod").unwrap().env_excluded);
}

#[test]
fn errors_name_the_problem() {
    assert_eq!(
        locate("clients: []\n", "sync", "test").unwrap_err(),
        EditError::ClientNotFound("sync".into())
    );
    assert!(matches!(
        locate(
            "clients:\n  - name: sync\n    keys: keys/a\n",
            "sync",
            "test"
        )
        .unwrap_err(),
        EditError::KeysNotAList { .. }
    ));
    assert!(matches!(
        locate(
            "clients:\n  - name: sync\n    keys: [{retire_after: x}]\n",
            "sync",
            "test"
        )
        .unwrap_err(),
        EditError::UnknownKeyEntry { .. }
    ));
    assert!(matches!(
        locate("clients: [\n", "sync", "test").unwrap_err(),
        EditError::Yaml(_)
    ));
    assert_eq!(
        locate("", "sync", "test").unwrap_err(),
        EditError::ClientNotFound("sync".into())
    );
}

proptest::proptest! {
    /// Whatever the text, locating and editing gives a result or an error, never a panic,
    /// and an edit that succeeds changed only by insertion.
    #[test]
    fn any_text_is_handled(source in "(clients:|  - name: sync|    keys:|      - |\\[|\\]|\\{|\\}|, |path: |retire_after: x|\"|'|é|#|a|\\n| ){0,40}") {
        if let Ok(site) = locate(&source, "sync", "test") {
            let retire = site.replaced_index().map(|i| (i, DATE));
            if let Ok(edited) = site.edit(&source, "test", NEW, retire) {
                proptest::prop_assert!(edited.len() > source.len());
            }
        }
    }
}

#[test]
fn unchanged_text_around_the_edit() {
    let source = "version: 1 # v\n\nclients:\n  - name: sync\n    keys:\n      - keys/a.jwk.json\n\n# trailing comment\n";
    let edited = rotate(source, "sync", "test");
    assert!(edited.starts_with("version: 1 # v\n\nclients:\n"));
    assert!(edited.ends_with("\n\n# trailing comment\n"));
}
