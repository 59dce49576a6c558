//! Requests made equal the API minimum: a generated manifest applied to an empty emulator and
//! planned again, with the client's request counter compared (`==`) with the minimum computed by
//! formula from the generated organisation's sizes (`mpctl::bench::minimum`), not from anything
//! mpctl fetched or planned; then one client deactivated, which a plan must not read beyond the
//! client list.

use mpctl::api::retry::RetryPolicy;
use mpctl::api::{Access, SelfService};
use mpctl::bench::generate::{ORGANIZATION, PREFIX, Spec, generate};
use mpctl::bench::minimum::{self, Sizes};
use mpctl::bench::pipeline::{self, Target};
use mpctl::emulator::{Emulator, EmulatorConfig};
use mpctl::manifest::orgno::OrgNo;

async fn apply_and_plan_make_exactly_the_minimum(contacts_extension: bool) {
    let spec = Spec {
        scopes: 20,
        grants: 60,
        clients: 8,
        environments: 1,
        contacts: contacts_extension,
        seed: 5,
    };
    let generated = generate(&spec);
    let dir = tempfile::tempdir().unwrap();
    let path = generated.write_to(dir.path()).unwrap();
    let now = mpctl::clock::system_now();
    let (loaded, _) = mpctl::manifest::load::load_at(&[path], now).unwrap();
    let env = loaded.manifest.environment_names()[0].clone();

    let emulator = Emulator::start(EmulatorConfig {
        contacts_extension,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let admin = emulator
        .bootstrap_org(&OrgNo::new_unchecked(ORGANIZATION), &[PREFIX.to_owned()])
        .await
        .unwrap();
    let target = Target::of(&env, &emulator, &admin);
    let sizes = Sizes::of(&generated.organisation, contacts_extension);
    // The spec's own numbers, so that the sizes themselves are checked too.
    assert_eq!(
        (sizes.scopes, sizes.grants, sizes.active_clients),
        (20, 60, 8)
    );

    let client = pipeline::connect(&loaded, &target, Access::Write, 4, RetryPolicy::default())
        .await
        .unwrap();
    let (_, _, report) = pipeline::apply(&loaded, &env, &client, 4, now)
        .await
        .unwrap();
    assert!(report.succeeded(), "{:?}", report.failed);
    // 4 first reads of the empty environment; 20 scopes, 60 grants, 8 clients and their 8 key
    // sets; with the extension, the provider's and clients 0's contacts; and the client list
    // read again before each 4 client creates (2 times), so no client is created twice.
    let expected = 4 + 20 + 60 + 8 + 8 + if contacts_extension { 2 } else { 0 } + 2;
    assert_eq!(minimum::apply_from_empty(&sizes, 4), expected);
    assert_eq!(
        client.request_count(),
        expected,
        "apply: requests other than the minimum"
    );

    let client = pipeline::connect(&loaded, &target, Access::Read, 4, RetryPolicy::default())
        .await
        .unwrap();
    let (plan, live) = pipeline::plan(&loaded, &env, &client, now).await.unwrap();
    assert!(
        plan.changes.is_empty(),
        "{:?}",
        plan.changes.first().map(|c| c.headline())
    );
    assert_eq!(live.contacts_api, contacts_extension);
    // 3 lists, the provider's contacts (404 without the extension), 20 grant lists, and for
    // each of the 8 clients its key set and, with the extension, its contacts (the emulator's
    // bootstrap admin client is not listed).
    let expected = 4 + 20 + 8 * if contacts_extension { 2 } else { 1 };
    assert_eq!(minimum::plan(&sizes), expected);
    assert_eq!(
        client.request_count(),
        expected,
        "plan: requests other than the minimum"
    );

    // One client deactivated: listed, but neither its keys nor its contacts are read.
    let (id, _) = live
        .state
        .clients
        .iter()
        .find(|(_, c)| c.name == "client-0000")
        .expect("client-0000");
    pipeline::connect(&loaded, &target, Access::Write, 4, RetryPolicy::default())
        .await
        .unwrap()
        .deactivate_client(id)
        .await
        .unwrap();
    let client = pipeline::connect(&loaded, &target, Access::Read, 4, RetryPolicy::default())
        .await
        .unwrap();
    let (plan, live) = pipeline::plan(&loaded, &env, &client, now).await.unwrap();
    assert!(!live.state.clients[id].active);
    assert!(
        plan.changes
            .iter()
            .any(|c| c.kind == mpctl::plan::ChangeKind::Reactivate),
        "the plan reactivates client-0000"
    );
    let with_inactive = Sizes {
        active_clients: 7,
        inactive_clients: 1,
        ..sizes
    };
    assert_eq!(
        client.request_count(),
        minimum::plan(&with_inactive),
        "plan with an inactive client: requests other than the minimum"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_contacts_extension_requests_are_exactly_the_minimum() {
    apply_and_plan_make_exactly_the_minimum(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_contacts_extension_requests_are_exactly_the_minimum() {
    apply_and_plan_make_exactly_the_minimum(false).await;
}
