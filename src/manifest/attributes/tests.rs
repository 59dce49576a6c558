use proptest::prelude::*;

use super::*;
use crate::manifest::model::{Client, Scope};

fn scope_attributes(visibility: Option<Visibility>, at_max_age: Option<u32>) -> ScopeAttributes {
    ScopeAttributes {
        visibility,
        at_max_age,
        ..Default::default()
    }
}

#[test]
fn overlay_takes_each_field_the_override_sets_and_keeps_the_rest() {
    let base = ScopeAttributes {
        long_description: Some("long".into()),
        visibility: Some(Visibility::Public),
        at_max_age: Some(120),
        ..Default::default()
    };
    let over = ScopeAttributes {
        visibility: Some(Visibility::Private),
        delegation_source: Some("https://www.altinn.no".into()),
        ..Default::default()
    };
    let merged = base.overlay(&over);
    assert_eq!(merged.long_description.as_deref(), Some("long"));
    assert_eq!(merged.visibility, Some(Visibility::Private));
    assert_eq!(merged.at_max_age, Some(120));
    assert_eq!(
        merged.delegation_source.as_deref(),
        Some("https://www.altinn.no")
    );
    assert_eq!(merged.token_type, None);
    assert_eq!(base.overlay(&ScopeAttributes::default()), base);
}

#[test]
fn differences_compare_only_the_fields_wanted() {
    let wanted = scope_attributes(Some(Visibility::Private), None);
    let live = scope_attributes(Some(Visibility::Public), Some(300));
    let differences = wanted.differences(&live);
    assert_eq!(
        differences,
        [Difference {
            field: "visibility",
            live: Some(serde_json::json!("PUBLIC")),
            wanted: Some(serde_json::json!("PRIVATE")),
        }]
    );
    // A field the live side lacks is a difference with no old value.
    let differences = scope_attributes(None, Some(60)).differences(&ScopeAttributes::default());
    assert_eq!(differences.len(), 1);
    assert_eq!(differences[0].field, "at_max_age");
    assert_eq!(differences[0].live, None);
    assert!(wanted.differences(&wanted).is_empty());
}

#[test]
fn fields_lists_every_field_in_order() {
    assert_eq!(ScopeAttributes::FIELDS[0], "long_description");
    assert_eq!(ScopeAttributes::FIELDS.len(), 9);
    assert_eq!(
        ClientAttributes::FIELDS,
        [
            "description",
            "scopes",
            "keys",
            "contacts",
            "access_token_lifetime"
        ]
    );
}

#[test]
fn factor_writes_common_values_once_and_the_rest_as_overrides() {
    let test = scope_attributes(Some(Visibility::Public), Some(120));
    let staging = scope_attributes(Some(Visibility::Public), None);
    let prod = scope_attributes(Some(Visibility::Private), Some(120));
    let (base, overrides) =
        ScopeAttributes::factor(&[("test", &test), ("staging", &staging), ("prod", &prod)]);
    // Visibility: set everywhere, mostly PUBLIC. at_max_age: unset in staging, so only in
    // overrides.
    assert_eq!(base, scope_attributes(Some(Visibility::Public), None));
    assert_eq!(
        overrides,
        [
            ("test".to_owned(), scope_attributes(None, Some(120))),
            (
                "prod".to_owned(),
                scope_attributes(Some(Visibility::Private), Some(120))
            ),
        ]
    );
}

#[test]
fn omit_defaults_keeps_an_override_that_holds_an_environment_at_the_default() {
    let defaults = scope_attributes(Some(Visibility::Public), Some(120));
    // The base is the default: it goes, and so does an override equal to it.
    let mut base = scope_attributes(Some(Visibility::Public), Some(300));
    let mut same = scope_attributes(Some(Visibility::Public), None);
    let mut back = scope_attributes(None, Some(120));
    base.omit_defaults(&mut [&mut same, &mut back], &defaults);
    assert_eq!(base, scope_attributes(None, Some(300)));
    assert_eq!(same, ScopeAttributes::default());
    // at_max_age differs in the base (300): the override at the default (120) stays.
    assert_eq!(back, scope_attributes(None, Some(120)));
}

#[test]
fn the_manifest_flattens_attributes_and_still_refuses_unknown_fields() {
    let scope: Scope = serde_json::from_value(serde_json::json!({
        "name": "acme:a", "description": "A", "visibility": "PRIVATE", "at_max_age": 60,
        "overrides": {"prod": {"visibility": "PUBLIC", "grants": []}}
    }))
    .unwrap();
    assert_eq!(scope.attributes.visibility, Some(Visibility::Private));
    assert_eq!(scope.attributes.at_max_age, Some(60));
    assert_eq!(
        scope.overrides["prod"].attributes.visibility,
        Some(Visibility::Public)
    );
    let unknown = serde_json::from_value::<Scope>(serde_json::json!({
        "name": "acme:a", "description": "A", "visibilty": "PRIVATE"
    }));
    assert!(
        unknown.unwrap_err().to_string().contains("visibilty"),
        "an unknown field is named"
    );
    let unknown = serde_json::from_value::<Client>(serde_json::json!({
        "name": "sync", "overrides": {"prod": {"scope": ["acme:a"]}}
    }));
    assert!(unknown.is_err());
}

#[test]
fn a_client_without_scopes_or_keys_has_empty_lists() {
    let client: Client = serde_json::from_value(serde_json::json!({"name": "sync"})).unwrap();
    assert!(client.attributes.scopes().is_empty());
    assert!(client.attributes.keys().is_empty());
    let back = serde_json::to_value(&client).unwrap();
    assert_eq!(back, serde_json::json!({"name": "sync"}));
}

#[test]
fn a_client_s_attributes_in_an_environment_apply_its_override() {
    let client: Client = serde_json::from_value(serde_json::json!({
        "name": "sync", "scopes": ["acme:a"], "access_token_lifetime": 60,
        "overrides": {"prod": {"scopes": ["acme:a", "acme:b"]}}
    }))
    .unwrap();
    assert_eq!(client.attributes_in("test").scopes(), ["acme:a"]);
    assert_eq!(client.attributes_in("prod").scopes(), ["acme:a", "acme:b"]);
    assert_eq!(client.attributes_in("prod").access_token_lifetime, Some(60));
    let sets: Vec<String> = client.attribute_sets().map(|(at, _)| at).collect();
    assert_eq!(sets, ["", "/overrides/prod"]);
}

fn arbitrary_attributes() -> impl Strategy<Value = ScopeAttributes> {
    (
        proptest::option::of(prop_oneof![
            Just(Visibility::Public),
            Just(Visibility::Private)
        ]),
        proptest::option::of(0u32..3),
        proptest::option::of(prop_oneof![Just("a".to_owned()), Just("b".to_owned())]),
        proptest::option::of(proptest::sample::subsequence(
            vec![IntegrationType::Maskinporten, IntegrationType::Krr],
            0..=2,
        )),
    )
        .prop_map(
            |(visibility, at_max_age, long_description, types)| ScopeAttributes {
                visibility,
                at_max_age,
                long_description,
                allowed_integration_types: types,
                ..Default::default()
            },
        )
}

proptest! {
    /// `factor` is the inverse of `overlay`: every environment gets its own value back.
    #[test]
    fn factor_then_overlay_gives_back_every_environment(
        values in proptest::collection::vec(arbitrary_attributes(), 1..5)
    ) {
        let names: Vec<String> = (0..values.len()).map(|i| format!("env{i}")).collect();
        let per_env: Vec<(&str, &ScopeAttributes)> =
            names.iter().map(String::as_str).zip(values.iter()).collect();
        let (base, overrides) = ScopeAttributes::factor(&per_env);
        for (env, wanted) in &per_env {
            let over = overrides
                .iter()
                .find(|(e, _)| e == env)
                .map(|(_, o)| o.clone())
                .unwrap_or_default();
            prop_assert_eq!(&base.overlay(&over), *wanted);
        }
    }
}
