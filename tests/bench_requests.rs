//! Requests made equal the API minimum: a generated manifest applied to an empty emulator (with
//! the contacts extension) and planned again, with the client's request counter compared with
//! the minimum computed from the live state and the plan (`mpctl::bench::pipeline`).

use mpctl::api::Access;
use mpctl::api::retry::RetryPolicy;
use mpctl::bench::generate::{ORGANIZATION, PREFIX, Spec, generate};
use mpctl::bench::pipeline::{self, Target, fetch_minimum, write_minimum};
use mpctl::emulator::{Emulator, EmulatorConfig};
use mpctl::manifest::orgno::OrgNo;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_and_plan_make_exactly_the_minimum_requests() {
    let spec = Spec {
        scopes: 20,
        grants: 60,
        clients: 8,
        environments: 1,
        contacts: true,
        seed: 5,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = generate(&spec).write_to(dir.path()).unwrap();
    let now = mpctl::manifest::load::now_unix();
    let (loaded, _) = mpctl::manifest::load::load_at(&[path], now).unwrap();
    let env = mpctl::manifest::resolve::environments(&loaded.manifest)[0].clone();

    let emulator = Emulator::start(EmulatorConfig {
        contacts_extension: true,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let admin = emulator
        .bootstrap_org(&OrgNo::new_unchecked(ORGANIZATION), &[PREFIX.to_owned()])
        .await
        .unwrap();
    let target = Target {
        env: env.clone(),
        api_url: emulator.api_url(),
        token_url: emulator.token_url(),
        audience: emulator.issuer(),
        client_id: admin.client_id.clone(),
        kid: admin.kid.clone(),
        private_key_pem: admin.private_key_pem.clone(),
    };

    let client = pipeline::connect(&loaded, &target, Access::Write, 4, RetryPolicy::default())
        .await
        .unwrap();
    let (plan, live, report) = pipeline::apply(&loaded, &env, &client, 4, now)
        .await
        .unwrap();
    assert!(report.succeeded(), "{:?}", report.failed);
    assert!(plan.changes.len() > 60 + 20 + 8, "{}", plan.changes.len());
    assert_eq!(
        client.request_count(),
        fetch_minimum(&live) + write_minimum(&plan, 4),
        "apply: requests beyond the minimum"
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
    assert!(live.contacts_api);
    // 3 lists, the provider's contacts, 20 grant lists, and for each of the 8 clients its key
    // set and its contacts (the emulator's bootstrap admin client is not listed).
    assert_eq!(fetch_minimum(&live), 3 + 1 + 20 + 8 + 8);
    assert_eq!(
        client.request_count(),
        fetch_minimum(&live),
        "plan: requests beyond the minimum"
    );
}
