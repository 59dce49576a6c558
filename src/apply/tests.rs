use super::fake::FakeService;
use super::*;
use crate::manifest::model::{Contacts, Settings};
use crate::plan::diff::diff_for_org;
use crate::plan::testkit::{
    DAY, NOW, ORG, OTHER, THIRD, client, desired, key, live, live_client, org, scope, settings,
};
use crate::plan::{ChangeKind, EnvPlan};
use crate::state::{EnvState, LiveEnv};

fn plan_for(want: &EnvState, api: &FakeService, settings: &Settings) -> EnvPlan {
    let mut p = diff_for_org(Some(&org(ORG)), want, &api.snapshot(), settings, NOW);
    p.env = "test".into();
    p
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn rich_desired() -> EnvState {
    let mut want = desired(
        vec![
            scope("acme:orders.read", "Read orders", &[OTHER, ORG]),
            scope("acme:orders.write", "Write orders", &[THIRD]),
        ],
        vec![
            client(
                "order-sync",
                &["acme:orders.read", "other:x"],
                &[key("k1"), key("k2")],
            ),
            client("invoicer", &["other:x"], &[]),
        ],
    );
    want.contacts = Some(Contacts {
        notifications: vec!["drift@acme.no".into()],
        invoice: None,
    });
    want.clients.get_mut("invoicer").unwrap().contacts = Some(Contacts {
        notifications: vec!["inv@acme.no".into()],
        invoice: None,
    });
    want
}

fn fake(live: LiveEnv) -> FakeService {
    FakeService::new(org(ORG), live, NOW)
}

#[test]
fn applying_a_plan_converges_and_a_second_plan_is_empty() {
    let mut start = live(vec![], vec![], &["other:x"]);
    start.contacts_api = true;
    let api = fake(start);
    let want = rich_desired();
    let plan = plan_for(&want, &api, &settings());
    assert!(plan.errors.is_empty(), "{:#?}", plan.errors);
    let report = block_on(execute(&plan, &api, 4, &NoProgress));
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(report.done.len(), plan.changes.len());
    assert!(api.violations().is_empty(), "{:?}", api.violations());
    let again = plan_for(&want, &api, &settings());
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
    assert_eq!(report.created_clients.len(), 2);
}

#[test]
fn keys_of_a_new_client_go_up_once_with_its_new_id() {
    let api = fake(live(vec![], vec![], &["other:x"]));
    let want = desired(
        vec![],
        vec![client("sync", &["other:x"], &[key("k1"), key("k2")])],
    );
    let plan = plan_for(&want, &api, &settings());
    let report = block_on(execute(&plan, &api, 8, &NoProgress));
    assert!(report.succeeded(), "{report:#?}");
    let id = report.created_clients.get("sync").unwrap();
    let calls = api.calls();
    let puts: Vec<&String> = calls.iter().filter(|c| c.starts_with("put_keys")).collect();
    assert_eq!(puts, vec![&format!("put_keys {id} [k1,k2]")]);
    let create = calls
        .iter()
        .position(|c| c == "create_client sync")
        .unwrap();
    let put = calls
        .iter()
        .position(|c| c.starts_with("put_keys"))
        .unwrap();
    assert!(create < put);
}

#[test]
fn a_failure_stops_before_the_next_phase_and_a_rerun_converges() {
    let api = fake(live(
        vec![scope("acme:old", "Old", &[OTHER])],
        vec![],
        &["other:x"],
    ));
    let want = desired(
        vec![
            scope("acme:a", "A", &[OTHER]),
            scope("acme:b", "B", &[OTHER]),
        ],
        vec![client("sync", &["other:x"], &[key("k1")])],
    );
    let pruning = Settings {
        prune: true,
        mass_destroy_percent: 100,
        ..settings()
    };
    let plan = plan_for(&want, &api, &pruning);
    api.fail_next("grant acme:b");
    let report = block_on(execute(&plan, &api, 2, &NoProgress));
    assert!(!report.succeeded());
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].change.kind, ChangeKind::Grant);
    assert!(report.failed[0].error.contains("injected fault"));
    // The other grant of the same phase was done; nothing of later phases was attempted.
    assert!(
        report
            .done
            .iter()
            .any(|c| c.headline() == format!("grant acme:a to {OTHER}"))
    );
    let later: Vec<Phase> = report.not_done.iter().map(|c| c.phase).collect();
    assert!(later.iter().all(|p| *p > Phase::Grants), "{later:?}");
    assert!(!api.calls().iter().any(|c| c.starts_with("create_client")));
    assert!(
        !api.calls()
            .iter()
            .any(|c| c.starts_with("deactivate_scope"))
    );

    let replan = plan_for(&want, &api, &pruning);
    assert!(
        !replan
            .changes
            .iter()
            .any(|c| c.kind == ChangeKind::Create && c.phase == Phase::Scopes)
    );
    let report = block_on(execute(&replan, &api, 2, &NoProgress));
    assert!(report.succeeded(), "{report:#?}");
    assert!(plan_for(&want, &api, &pruning).changes.is_empty());
    assert!(api.violations().is_empty(), "{:?}", api.violations());
}

#[test]
fn removals_run_in_reverse_order_client_scope_then_revoke_then_deactivate() {
    let held = client("sync", &["acme:gone"], &[]);
    let api = fake(live(
        vec![scope("acme:gone", "Gone", &[ORG, OTHER])],
        vec![live_client(&held, "id-1", NOW + 300 * DAY)],
        &[],
    ));
    let want = desired(vec![], vec![client("sync", &[], &[])]);
    let pruning = Settings {
        prune: true,
        mass_destroy_percent: 100,
        ..settings()
    };
    let plan = plan_for(&want, &api, &pruning);
    let report = block_on(execute(&plan, &api, 8, &NoProgress));
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(
        api.calls(),
        vec![
            "update_client id-1 sync".to_owned(),
            format!("revoke acme:gone {ORG}"),
            format!("revoke acme:gone {OTHER}"),
            "deactivate_scope acme:gone".to_owned(),
        ]
    );
    assert!(api.violations().is_empty(), "{:?}", api.violations());
}

#[test]
fn manual_steps_are_never_reported_done() {
    let api = fake(live(vec![], vec![], &[]));
    let mut want = desired(vec![], vec![]);
    want.contacts = Some(Contacts {
        notifications: vec!["a@acme.no".into()],
        invoice: None,
    });
    let plan = plan_for(&want, &api, &settings());
    assert!(plan.changes.is_empty());
    let report = block_on(execute(&plan, &api, 8, &NoProgress));
    assert!(report.done.is_empty());
    assert_eq!(report.manual_steps.len(), 1);
    assert!(api.calls().is_empty());
}

#[test]
fn a_plan_without_operations_fails_instead_of_pretending() {
    let api = fake(live(vec![], vec![], &[]));
    let mut plan = plan_for(
        &desired(vec![scope("acme:a", "A", &[])], vec![]),
        &api,
        &settings(),
    );
    plan.changes[0].action = Action::None;
    let report = block_on(execute(&plan, &api, 8, &NoProgress));
    assert_eq!(report.failed.len(), 1);
}

#[test]
fn a_client_whose_name_became_live_since_the_plan_is_not_created_again() {
    let api = fake(live(vec![], vec![], &["other:x"]));
    let want = desired(
        vec![],
        vec![
            client("sync", &["other:x"], &[key("k1")]),
            client("other", &["other:x"], &[]),
        ],
    );
    let plan = plan_for(&want, &api, &settings());
    // Another apply creates `sync` after this plan was made.
    let racing = fake(live(vec![], vec![], &["other:x"]));
    let _ = block_on(racing.create_client(&want.clients["sync"]));
    let theirs = racing.snapshot().state.clients;
    let api = fake(live(vec![], theirs.into_values().collect(), &["other:x"]));
    let report = block_on(execute(&plan, &api, 8, &NoProgress));
    let calls = api.calls();
    assert!(
        calls.contains(&"create_client other".to_owned()),
        "{calls:?}"
    );
    assert!(
        !calls.contains(&"create_client sync".to_owned()),
        "{calls:?}"
    );
    let list = calls.iter().position(|c| c == "list_clients").unwrap();
    let create = calls
        .iter()
        .position(|c| c == "create_client other")
        .unwrap();
    assert!(
        list < create,
        "names are read again before creating: {calls:?}"
    );
    assert_eq!(report.failed.len(), 1, "{report:#?}");
    assert!(
        report.failed[0]
            .error
            .contains("a live client is named `sync`")
    );
    assert!(
        report.failed[0]
            .error
            .contains("one apply per environment at a time")
    );
    // Its keys were not put on anything.
    assert!(report.not_done.iter().any(|c| c.kind == ChangeKind::AddKey));
}

#[test]
fn client_names_are_read_again_before_each_wave_of_creates() {
    let api = fake(live(vec![], vec![], &["other:x"]));
    let names: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
    let want = desired(
        vec![],
        names.iter().map(|n| client(n, &["other:x"], &[])).collect(),
    );
    let plan = plan_for(&want, &api, &settings());
    let report = block_on(execute(&plan, &api, 2, &NoProgress));
    assert!(report.succeeded(), "{report:#?}");
    let lists = api.calls().iter().filter(|c| *c == "list_clients").count();
    assert_eq!(lists, 3, "5 creates at concurrency 2: 3 waves");
}
