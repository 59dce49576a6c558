//! A few seeded soak trials (see `mpctl::bench::soak`): a small manifest applied while the
//! emulator injects 503s, 429s, latency spikes and dropped connections and is restarted from its
//! state file mid-apply; a re-run must converge to a plan with no changes and a state file equal
//! to the generator's specification. `mpctl bench soak` runs many more, larger ones. And the
//! final check itself: it passes on a clean apply and finds each kind of difference.

use mpctl::api::Access;
use mpctl::api::retry::RetryPolicy;
use mpctl::bench::generate::{ORGANIZATION, PREFIX, Spec, generate};
use mpctl::bench::pipeline::{self, Target};
use mpctl::bench::soak::{Options, run};
use mpctl::bench::state_check;
use mpctl::emulator::{Emulator, EmulatorConfig};
use mpctl::manifest::orgno::OrgNo;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_a_restart_mid_apply_converge_to_exactly_the_manifest() {
    let options = Options::quick(4, 101);
    let work = tempfile::tempdir().unwrap();
    let report = run(&options, work.path(), &|_| {}).await;
    assert_eq!(report.trials_run, 4);
    let failures: Vec<String> = report
        .trials
        .iter()
        .filter(|t| !t.passed)
        .map(|t| format!("seed {}: {}", t.seed, t.failure.as_deref().unwrap_or("?")))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        report.trials.iter().any(|t| t.interrupted_writes),
        "no trial restarted the emulator while writes remained: {:?}",
        report.trials.iter().map(|t| &t.restart).collect::<Vec<_>>()
    );
    assert!(
        report
            .trials
            .iter()
            .all(|t| t.restarted || !t.interrupted_writes)
    );
    assert!(
        report
            .trials
            .iter()
            .all(|t| t.requests >= t.minimum_requests)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_file_check_passes_a_clean_apply_and_finds_every_kind_of_difference() {
    let spec = Spec {
        scopes: 12,
        grants: 30,
        clients: 11,
        environments: 1,
        contacts: true,
        seed: 9,
    };
    let generated = generate(&spec);
    let org = &generated.organisation;
    let dir = tempfile::tempdir().unwrap();
    let path = generated.write_to(&dir.path().join("manifest")).unwrap();
    let now = mpctl::clock::system_now();
    let (loaded, _) = mpctl::manifest::load::load_at(&[path], now).unwrap();
    let env = loaded.manifest.environment_names()[0].clone();
    let state_file = dir.path().join("state.json");
    let emulator = Emulator::start(EmulatorConfig {
        state_file: Some(state_file.clone()),
        contacts_extension: true,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let admin = emulator
        .bootstrap_org(&OrgNo::new_unchecked(ORGANIZATION), &[PREFIX.to_owned()])
        .await
        .unwrap();
    let target = Target::of(&env, &emulator, &admin);
    let client = pipeline::connect(&loaded, &target, Access::Write, 4, RetryPolicy::default())
        .await
        .unwrap();
    let (_, _, report) = pipeline::apply(&loaded, &env, &client, 4, now)
        .await
        .unwrap();
    assert!(report.succeeded(), "{:?}", report.failed);
    emulator.shutdown().await.unwrap();

    assert_eq!(
        state_check::differences(&state_file, org, &env).unwrap(),
        Vec::<String>::new()
    );

    let snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    let state = &snapshot["state"];
    let id_of = |name: &str| -> String {
        state["clients"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, c)| c["client_name"] == name)
            .map(|(id, _)| id.clone())
            .unwrap()
    };
    let scope = org.scopes[1].name.clone();
    let consumer = org.scopes[1].grants[0].clone();
    let c0 = id_of("client-0000");
    let c10 = id_of("client-0010");
    let provider = format!("provider:{ORGANIZATION}");
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "`description`",
            Box::new(move |s| s["scopes"][&scope]["description"] = "changed".into()),
        ),
        (
            "`visibility`",
            Box::new({
                let scope = org.scopes[0].name.clone();
                move |s| s["scopes"][&scope]["visibility"] = "PUBLIC".into()
            }),
        ),
        (
            "is missing",
            Box::new({
                let scope = org.scopes[2].name.clone();
                move |s| {
                    s["scopes"].as_object_mut().unwrap().remove(&scope);
                }
            }),
        ),
        (
            "is not granted to",
            Box::new({
                let scope = org.scopes[1].name.clone();
                move |s| {
                    s["grants"][&scope]
                        .as_object_mut()
                        .unwrap()
                        .remove(&consumer);
                }
            }),
        ),
        (
            "`state`",
            Box::new({
                let scope = org.scopes[3].name.clone();
                let consumer = org.scopes[3].grants[0].clone();
                move |s| s["grants"][&scope][&consumer]["state"] = "PENDING".into()
            }),
        ),
        (
            "exists 2 times",
            Box::new({
                let c0 = c0.clone();
                move |s| {
                    let mut copy = s["clients"][&c0].clone();
                    copy["client_id"] = "duplicate".into();
                    s["clients"]["duplicate"] = copy;
                }
            }),
        ),
        (
            "`scopes`",
            Box::new({
                let c0 = c0.clone();
                move |s| s["clients"][&c0]["scopes"] = serde_json::json!([])
            }),
        ),
        (
            "`n`",
            Box::new({
                let c0 = c0.clone();
                move |s| s["jwks"][&c0]["keys"][1]["jwk"]["n"] = "AQAB".into()
            }),
        ),
        (
            "lacks key",
            Box::new({
                let c0 = c0.clone();
                move |s| {
                    s["jwks"][&c0]["keys"].as_array_mut().unwrap().pop();
                }
            }),
        ),
        (
            "client client-0010 `notifications`",
            Box::new(move |s| {
                s["contacts"][format!("client:{c10}")]["notifications"] = serde_json::json!([])
            }),
        ),
        (
            "the provider `invoice`",
            Box::new(move |s| {
                s["contacts"][&provider]["invoice"]["reference"] = "PO-2".into();
            }),
        ),
    ];
    for (expected, edit) in cases {
        let mut changed = state.clone();
        edit(&mut changed);
        let found = state_check::compare(&changed, org, &env);
        assert!(
            found.iter().any(|f| f.contains(expected)),
            "expected a difference with {expected:?}, found {found:?}"
        );
    }
}
