use super::*;
use crate::manifest::model::{Invoice, Visibility};
use crate::plan::testkit::{
    DAY, NOW, ORG, OTHER, THIRD, client, desired, key, live, live_client, org, scope, settings,
};
use crate::plan::{ChangeKind as K, ExpiryStatus, ResourceKind};

fn kinds(plan: &EnvPlan) -> Vec<(K, Phase, String)> {
    plan.changes
        .iter()
        .map(|c| (c.kind, c.phase, c.headline()))
        .collect()
}

#[test]
fn identical_states_plan_nothing() {
    let a = scope("acme:a", "Read A", &[OTHER, ORG]);
    let c = client("sync", &["acme:a", "other:x"], &[key("k1")]);
    let want = desired(vec![a.clone()], vec![c.clone()]);
    let have = live(
        vec![a],
        vec![live_client(&c, "id-1", NOW + 300 * DAY)],
        &["acme:a", "other:x"],
    );
    let plan = diff(&want, &have, &settings(), NOW);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(plan.errors.is_empty(), "{:#?}", plan.errors);
    assert!(plan.unmanaged.is_empty());
    assert_eq!(plan.key_expiries.len(), 1);
    assert_eq!(plan.key_expiries[0].jwk_exp_days_left, Some(300));
    assert_eq!(plan.managed_resources, 4, "1 scope + 2 grants + 1 client");
}

#[test]
fn fields_the_manifest_leaves_unset_are_not_compared() {
    let want = desired(vec![scope("acme:a", "A", &[])], vec![]);
    let mut l = scope("acme:a", "A", &[]);
    l.attributes.visibility = Some(Visibility::Public);
    l.attributes.at_max_age = Some(120);
    let plan = diff(&want, &live(vec![l], vec![], &[]), &settings(), NOW);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[test]
fn a_new_scope_is_created_then_granted() {
    let mut s = scope("acme:a", "Read A", &[OTHER]);
    s.attributes.visibility = Some(Visibility::Private);
    let plan = diff(
        &desired(vec![s], vec![]),
        &live(vec![], vec![], &[]),
        &settings(),
        NOW,
    );
    assert_eq!(
        kinds(&plan),
        vec![
            (K::Create, Phase::Scopes, "create scope acme:a".into()),
            (K::Grant, Phase::Grants, format!("grant acme:a to {OTHER}")),
        ]
    );
    let fields: Vec<&str> = plan.changes[0]
        .fields
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(fields, ["description", "visibility"]);
    assert!(matches!(&plan.changes[0].action, Action::CreateScope(s) if s.active));
}

#[test]
fn a_changed_field_shows_old_and_new() {
    let want = desired(vec![scope("acme:a", "Read orders", &[])], vec![]);
    let have = live(vec![scope("acme:a", "Read A", &[])], vec![], &[]);
    let plan = diff(&want, &have, &settings(), NOW);
    assert_eq!(plan.changes.len(), 1);
    let c = &plan.changes[0];
    assert_eq!(c.kind, K::Update);
    assert_eq!(c.fields[0].field, "description");
    assert_eq!(c.fields[0].old, Some("Read A".into()));
    assert_eq!(c.fields[0].new, Some("Read orders".into()));
    assert!(!c.destructive);
}

#[test]
fn a_deactivated_scope_is_reactivated_and_keeps_its_grants() {
    let mut l = scope("acme:a", "A", &[OTHER]);
    l.active = false;
    let want = desired(vec![scope("acme:a", "A", &[OTHER])], vec![]);
    let plan = diff(&want, &live(vec![l], vec![], &[]), &settings(), NOW);
    assert_eq!(
        kinds(&plan),
        vec![(
            K::Reactivate,
            Phase::Scopes,
            "reactivate scope acme:a".into()
        )]
    );
    assert!(matches!(&plan.changes[0].action, Action::UpdateScope(s) if s.active));
}

#[test]
fn unlisted_grants_are_revoked_and_protected_scopes_refuse_it() {
    let want = desired(vec![scope("acme:a", "A", &[OTHER])], vec![]);
    let have = live(vec![scope("acme:a", "A", &[OTHER, THIRD])], vec![], &[]);
    let plan = diff(&want, &have, &settings(), NOW);
    assert_eq!(
        kinds(&plan),
        vec![(
            K::Revoke,
            Phase::Revocations,
            format!("revoke acme:a to {THIRD}")
        )]
    );
    assert!(plan.changes[0].destructive);
    assert!(plan.errors.is_empty());

    let mut protected = scope("acme:a", "A", &[OTHER]);
    protected.protected = true;
    let plan = diff(&desired(vec![protected], vec![]), &have, &settings(), NOW);
    assert_eq!(plan.errors.len(), 1);
    assert!(plan.errors[0].message.contains("protected scope `acme:a`"));
}

#[test]
fn unmanaged_resources_are_reported_and_only_pruned_on_request() {
    let stray_client = live_client(&client("old", &[], &[]), "id-9", NOW);
    let have = live(
        vec![scope("acme:old", "Old", &[OTHER])],
        vec![stray_client],
        &[],
    );
    let want = desired(vec![], vec![]);
    let plan = diff(&want, &have, &settings(), NOW);
    assert!(plan.changes.is_empty());
    assert_eq!(plan.unmanaged.len(), 2);
    assert!(plan.unmanaged.iter().all(|u| !u.pruned));

    let pruning = Settings {
        prune: true,
        ..settings()
    };
    let plan = diff(&want, &have, &pruning, NOW);
    assert_eq!(
        kinds(&plan),
        vec![
            (
                K::Deactivate,
                Phase::ClientRemovals,
                "deactivate client old (id-9)".into()
            ),
            (
                K::Revoke,
                Phase::Revocations,
                format!("revoke acme:old to {OTHER}")
            ),
            (
                K::Deactivate,
                Phase::ScopeDeactivations,
                "deactivate scope acme:old".into()
            ),
        ]
    );
}

#[test]
fn clients_match_by_pinned_id_then_name_then_earlier_name() {
    let live_a = live_client(&client("renamed-by-hand", &[], &[]), "id-a", NOW);
    let live_b = live_client(&client("b", &[], &[]), "id-b", NOW);
    let live_c = live_client(&client("old-c", &[], &[]), "id-c", NOW);
    let mut a = client("a", &[], &[]);
    a.client_id = Some("id-a".into());
    a.description = "renamed-by-hand integration".into();
    let b = client("b", &[], &[]);
    let mut c = client("c", &[], &[]);
    c.renamed_from = vec!["old-c".into()];
    c.description = "old-c integration".into();
    let plan = diff(
        &desired(vec![], vec![a, b, c]),
        &live(vec![], vec![live_a, live_b, live_c], &[]),
        &settings(),
        NOW,
    );
    assert!(plan.unmanaged.is_empty(), "{:#?}", plan.unmanaged);
    let renames: Vec<(String, Option<String>)> = plan
        .changes
        .iter()
        .map(|c| (c.resource.name.clone(), c.resource.client_id.clone()))
        .collect();
    assert_eq!(
        renames,
        vec![
            ("a".into(), Some("id-a".into())),
            ("c".into(), Some("id-c".into()))
        ]
    );
    assert!(plan.changes.iter().all(|c| c.kind == K::Update));
    assert_eq!(plan.changes[1].fields[0].field, "client_name");
}

#[test]
fn live_clients_sharing_a_desired_name_are_an_error_never_a_silent_pick() {
    let mut inactive = live_client(&client("sync", &[], &[]), "id-1", NOW);
    inactive.active = false;
    let second = live_client(&client("sync", &[], &[]), "id-3", NOW);
    let first = live_client(&client("sync", &[], &[]), "id-2", NOW);
    let mut p = settings();
    p.prune = true;
    let plan = diff(
        &desired(vec![], vec![client("sync", &[], &[])]),
        &live(
            vec![],
            vec![inactive.clone(), second.clone(), first.clone()],
            &[],
        ),
        &p,
        NOW,
    );
    // Neither is adopted, nothing is created, and neither is unmanaged (so not pruned).
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(plan.unmanaged.is_empty(), "{:#?}", plan.unmanaged);
    assert_eq!(plan.errors.len(), 1, "{:#?}", plan.errors);
    let error = &plan.errors[0];
    assert!(
        error
            .message
            .contains("2 live clients are named `sync`: id-2, id-3"),
        "{}",
        error.message
    );
    assert!(error.help.contains("client_ids"), "{}", error.help);
    assert!(
        error.help.contains("deactivate the other"),
        "{}",
        error.help
    );

    // The way out: pin one; the other is then unmanaged, and pruned when asked.
    let mut pinned = client("sync", &[], &[]);
    pinned.client_id = Some("id-2".into());
    let plan = diff(
        &desired(vec![], vec![pinned]),
        &live(vec![], vec![inactive, second, first], &[]),
        &p,
        NOW,
    );
    assert!(plan.errors.is_empty(), "{:#?}", plan.errors);
    assert_eq!(
        kinds(&plan),
        vec![(
            K::Deactivate,
            Phase::ClientRemovals,
            "deactivate client sync (id-3)".into()
        )]
    );
}

#[test]
fn one_active_client_among_deactivated_namesakes_is_matched() {
    let mut old = live_client(&client("sync", &[], &[]), "id-1", NOW);
    old.active = false;
    let current = live_client(&client("sync", &[], &[]), "id-2", NOW);
    let plan = diff(
        &desired(vec![], vec![client("sync", &[], &[])]),
        &live(vec![], vec![old, current], &[]),
        &settings(),
        NOW,
    );
    assert!(plan.errors.is_empty(), "{:#?}", plan.errors);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[test]
fn namesakes_of_an_earlier_name_are_an_error_too() {
    let a = live_client(&client("old", &[], &[]), "id-a", NOW);
    let b = live_client(&client("old", &[], &[]), "id-b", NOW);
    let mut want = client("new", &[], &[]);
    want.renamed_from = vec!["old".into()];
    let plan = diff(
        &desired(vec![], vec![want]),
        &live(vec![], vec![a, b], &[]),
        &settings(),
        NOW,
    );
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(
        plan.errors[0]
            .message
            .contains("2 live clients are named `old` (its earlier name): id-a, id-b"),
        "{}",
        plan.errors[0].message
    );
}

#[test]
fn a_pinned_id_that_does_not_exist_is_an_error() {
    let mut a = client("a", &[], &[]);
    a.client_id = Some("missing".into());
    let plan = diff(
        &desired(vec![], vec![a]),
        &live(vec![], vec![], &[]),
        &settings(),
        NOW,
    );
    assert!(plan.changes.is_empty());
    assert!(
        plan.errors[0]
            .message
            .contains("pinned to client_id missing")
    );
}

#[test]
fn a_new_client_is_created_then_gets_its_keys_in_one_upload() {
    let c = client("sync", &["other:x"], &[key("k1"), key("k2")]);
    let plan = diff(
        &desired(vec![], vec![c]),
        &live(vec![], vec![], &["other:x"]),
        &settings(),
        NOW,
    );
    assert_eq!(
        kinds(&plan),
        vec![
            (K::Create, Phase::Clients, "create client sync".into()),
            (
                K::AddKey,
                Phase::Clients,
                "add key k1 of client sync".into()
            ),
            (
                K::AddKey,
                Phase::Clients,
                "add key k2 of client sync".into()
            ),
        ]
    );
    for c in &plan.changes[1..] {
        match &c.action {
            Action::PutKeys { client, keys } => {
                assert_eq!(client, &ClientRef::Created("sync".into()));
                assert_eq!(keys.len(), 2, "the whole set goes up");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_client_of_another_integration_type_is_replaced() {
    let mut old = live_client(&client("sync", &[], &[]), "id-old", NOW);
    old.integration_type = Some("idporten".into());
    let plan = diff(
        &desired(vec![], vec![client("sync", &[], &[])]),
        &live(vec![], vec![old], &[]),
        &settings(),
        NOW,
    );
    let replace = plan.changes.iter().find(|c| c.kind == K::Replace).unwrap();
    assert!(replace.destructive);
    let reason = replace.reason.as_deref().unwrap();
    assert!(reason.contains("integration_type"), "{reason}");
    assert!(reason.contains("client_id changes"), "{reason}");
    assert_eq!(replace.fields[0].field, "integration_type");
    assert!(plan.changes.iter().any(|c| c.kind == K::Deactivate
        && c.phase == Phase::ClientRemovals
        && c.resource.client_id.as_deref() == Some("id-old")));
}

#[test]
fn scopes_are_added_before_grants_go_and_removed_before_revocation() {
    let c = client("sync", &["other:x", "acme:new"], &[]);
    let mut have_c = live_client(&c, "id-1", NOW);
    have_c.scopes = ["other:x", "acme:gone"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let plan = diff(
        &desired(vec![scope("acme:new", "New", &[ORG])], vec![c]),
        &live(
            vec![scope("acme:gone", "Gone", &[ORG])],
            vec![have_c],
            &["other:x", "acme:gone"],
        ),
        &Settings {
            prune: true,
            ..settings()
        },
        NOW,
    );
    let order: Vec<(K, Phase)> = plan.changes.iter().map(|c| (c.kind, c.phase)).collect();
    assert_eq!(
        order,
        vec![
            (K::Create, Phase::Scopes),
            (K::Grant, Phase::Grants),
            (K::Update, Phase::Clients),
            (K::Update, Phase::ClientRemovals),
            (K::Revoke, Phase::Revocations),
            (K::Deactivate, Phase::ScopeDeactivations),
        ],
        "{:#?}",
        plan.changes
    );
    assert_eq!(plan.changes[2].fields[0].field, "scopes (add)");
    assert_eq!(plan.changes[3].fields[0].field, "scopes (remove)");
    assert!(plan.errors.is_empty(), "{:#?}", plan.errors);
}

#[test]
fn a_scope_the_organisation_cannot_use_is_an_error_naming_who_to_ask() {
    let c = client("sync", &["skatt:secret"], &[]);
    let plan = diff(
        &desired(vec![], vec![c]),
        &live(vec![], vec![], &[]),
        &settings(),
        NOW,
    );
    assert_eq!(plan.errors.len(), 1);
    let e = &plan.errors[0];
    assert!(e.message.contains("`skatt:secret`"), "{}", e.message);
    assert!(e.message.contains("another environment"), "{}", e.message);
    assert!(e.help.contains("prefix `skatt:`"), "{}", e.help);
}

#[test]
fn an_own_scope_must_be_granted_to_the_organisation_itself() {
    let c = client("sync", &["acme:a"], &[]);
    let only_other = desired(vec![scope("acme:a", "A", &[OTHER])], vec![c.clone()]);
    let own = org(ORG);
    let plan = diff_for_org(
        Some(&own),
        &only_other,
        &live(vec![], vec![], &[]),
        &settings(),
        NOW,
    );
    assert_eq!(plan.errors.len(), 1, "{:#?}", plan.errors);
    assert!(plan.errors[0].help.contains(ORG));
    let to_self = desired(vec![scope("acme:a", "A", &[ORG])], vec![c]);
    let plan = diff_for_org(
        Some(&own),
        &to_self,
        &live(vec![], vec![], &[]),
        &settings(),
        NOW,
    );
    assert!(plan.errors.is_empty(), "{:#?}", plan.errors);
}

#[test]
fn contacts_are_changes_with_an_api_and_manual_steps_without() {
    let contacts = Contacts {
        notifications: vec!["drift@acme.no".into()],
        invoice: Some(Invoice {
            email: "faktura@acme.no".into(),
            reference: Some("PO-1".into()),
        }),
    };
    let mut want = desired(vec![], vec![]);
    want.contacts = Some(contacts.clone());
    let mut have = live(vec![], vec![], &[]);
    let plan = diff(&want, &have, &settings(), NOW);
    assert!(plan.changes.is_empty());
    assert_eq!(plan.manual_steps.len(), 1);
    let step = &plan.manual_steps[0];
    assert_eq!(step.resource.kind, ResourceKind::Contacts);
    assert!(
        step.portal_path
            .contains(&"Virksomhetens tjenester".to_owned())
    );
    assert_eq!(
        step.portal_path.last().map(String::as_str),
        Some("Rediger integrasjon")
    );
    assert!(step.description.contains("faktura@acme.no"));

    have.contacts_api = true;
    let plan = diff(&want, &have, &settings(), NOW);
    assert!(plan.manual_steps.is_empty());
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].kind, K::SetContacts);
    have.state.contacts = Some(contacts);
    assert!(diff(&want, &have, &settings(), NOW).changes.is_empty());
}

#[test]
fn key_expiry_is_reported_with_days_left_and_flagged_in_the_window() {
    let mut cert_key = key("k-cert");
    cert_key.cert_not_after = Some(NOW + 10 * DAY);
    let c = client("sync", &[], &[key("k-ok"), cert_key]);
    let mut have = live_client(&c, "id-1", NOW + 200 * DAY);
    have.keys.get_mut("k-cert").unwrap().exp = Some(NOW + 200 * DAY);
    let plan = diff(
        &desired(vec![], vec![c]),
        &live(vec![], vec![have], &[]),
        &settings(),
        NOW,
    );
    let by_kid = |kid: &str| plan.key_expiries.iter().find(|k| k.kid == kid).unwrap();
    assert_eq!(by_kid("k-ok").status, ExpiryStatus::Ok);
    assert_eq!(by_kid("k-cert").status, ExpiryStatus::Expiring);
    assert_eq!(by_kid("k-cert").cert_days_left, Some(10));
    assert!(plan.has_drift(), "an expiring key is drift");
    assert!(!plan.has_changes());

    let narrow = Settings {
        warn_expiry_days: 5,
        ..settings()
    };
    let c2 = desired(vec![], vec![client("sync", &[], &[])]);
    let _ = c2;
    let plan = diff(
        &desired(
            vec![],
            vec![{
                let mut cert_key = key("k-cert");
                cert_key.cert_not_after = Some(NOW - DAY);
                client("sync", &[], &[cert_key])
            }],
        ),
        &live(
            vec![],
            vec![live_client(
                &client("sync", &[], &[key("k-cert")]),
                "id-1",
                NOW + 200 * DAY,
            )],
            &[],
        ),
        &narrow,
        NOW,
    );
    assert_eq!(plan.key_expiries[0].status, ExpiryStatus::Expired);
    assert_eq!(plan.key_expiries[0].cert_days_left, Some(-1));
    assert!(
        plan.changes.is_empty(),
        "no refresh with an expired certificate"
    );
}

#[test]
fn a_key_near_its_jwk_exp_with_a_valid_certificate_is_refreshed() {
    let c = client("sync", &[], &[key("k1")]);
    let have = live_client(&c, "id-1", NOW + 10 * DAY);
    let plan = diff(
        &desired(vec![], vec![c]),
        &live(vec![], vec![have], &[]),
        &settings(),
        NOW,
    );
    assert_eq!(
        kinds(&plan),
        vec![(
            K::RefreshKey,
            Phase::Clients,
            "refresh expiry of key k1 of client sync".into()
        )]
    );
    assert!(
        plan.changes[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("refresh window of 30 days")
    );
}

#[test]
fn keys_past_retire_after_are_removed_and_unlisted_keys_too() {
    let mut old = key("k-old");
    old.retire_after = Some("2026-11-24".into());
    let c = client("sync", &[], &[key("k-new"), old]);
    let mut have = live_client(&c, "id-1", NOW + 300 * DAY);
    have.keys.insert("k-stray".into(), key("k-stray"));
    let plan = diff(
        &desired(vec![], vec![c]),
        &live(vec![], vec![have], &[]),
        &settings(),
        NOW,
    );
    let removed: Vec<(&str, &str)> = plan
        .changes
        .iter()
        .map(|c| {
            (
                c.resource.kid.as_deref().unwrap(),
                c.reason.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        removed,
        vec![
            ("k-old", "past its retire_after date (2026-11-24)"),
            ("k-stray", "not among the client's keys in the manifest"),
        ]
    );
    match &plan.changes[0].action {
        Action::PutKeys { keys, .. } => {
            let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
            assert_eq!(kids, ["k-new"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!is_retired(&key("x"), NOW));
    let mut today = key("t");
    today.retire_after = Some("2026-11-25".into());
    assert!(
        !is_retired(&today, NOW),
        "kept through its retire_after day"
    );
    assert!(is_retired(&today, NOW + DAY));
}

#[test]
fn the_same_inputs_give_the_same_plan() {
    let want = desired(
        vec![
            scope("acme:a", "A", &[OTHER, THIRD]),
            scope("acme:b", "B", &[]),
        ],
        vec![
            client("x", &["other:y"], &[key("k")]),
            client("y", &[], &[]),
        ],
    );
    let have = live(vec![], vec![], &["other:y"]);
    let a = diff(&want, &have, &settings(), NOW);
    let b = diff(&want, &have, &settings(), NOW);
    assert_eq!(a, b);
    assert_eq!(a.live_digest, crate::plan::saved::live_digest(&have));
}

#[test]
fn the_self_service_admin_client_is_never_unmanaged_nor_pruned() {
    let mut admin = live_client(
        &client("mpctl-admin", &[], &[key("admin-key")]),
        "id-admin",
        NOW + 20 * DAY,
    );
    admin.scopes = ["idporten:dcr.write", "idporten:scopes.write"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let pruning = Settings {
        prune: true,
        ..settings()
    };
    let plan = diff(
        &desired(vec![], vec![]),
        &live(vec![], vec![admin], &[]),
        &pruning,
        NOW,
    );
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(plan.unmanaged.is_empty());
    assert!(!plan.has_drift(), "its key is reported but is not drift");
    assert_eq!(plan.key_expiries.len(), 1);
    assert_eq!(plan.key_expiries[0].status, ExpiryStatus::Expiring);
    assert!(!plan.key_expiries[0].managed);
    assert_eq!(plan.managed_resources, 0);
}
