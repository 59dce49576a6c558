//! Snapshots of the three renderings (human, markdown, JSON) of a rich two-environment plan,
//! the Markdown size limit, and colour only when asked.

use std::collections::BTreeSet;

use mpctl::manifest::model::{Contacts, Invoice, Settings, Visibility};
use mpctl::manifest::orgno::OrgNo;
use mpctl::plan::diff::diff_for_org;
use mpctl::plan::{EnvPlan, PLAN_FORMAT_VERSION, Plan};
use mpctl::render::{Purpose, human, json, markdown};
use mpctl::state::{ClientState, EnvState, KeyState, LiveEnv, ScopeState};

const NOW: i64 = 1_795_564_800; // 2026-11-25
const DAY: i64 = 86_400;
const ORG: &str = "910753282";
const OTHER: &str = "974760673";
const THIRD: &str = "991825827";

fn org(n: &str) -> OrgNo {
    OrgNo::new_unchecked(n)
}

fn scope(name: &str, description: &str, grants: &[&str]) -> ScopeState {
    ScopeState {
        name: name.into(),
        description: description.into(),
        active: true,
        grants: grants.iter().map(|g| org(g)).collect(),
        ..ScopeState::default()
    }
}

fn key(kid: &str, exp: Option<i64>, cert: Option<i64>) -> KeyState {
    let mut jwk = serde_json::Map::new();
    jwk.insert("kty".into(), "RSA".into());
    jwk.insert("kid".into(), kid.into());
    KeyState {
        kid: kid.into(),
        jwk,
        exp,
        cert_not_after: cert,
        source: None,
        retire_after: None,
    }
}

fn client(name: &str, id: Option<&str>, scopes: &[&str], keys: Vec<KeyState>) -> ClientState {
    ClientState {
        client_id: id.map(str::to_owned),
        name: name.into(),
        description: format!("{name} integration"),
        scopes: scopes
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>(),
        keys: keys.into_iter().map(|k| (k.kid.clone(), k)).collect(),
        active: true,
        integration_type: id.map(|_| "maskinporten".to_owned()),
        ..ClientState::default()
    }
}

fn env_plan(env: &str, contacts_api: bool) -> EnvPlan {
    let mut read = scope(
        "acme:orders.read",
        "Read the orders of a customer, including lines and delivery status",
        &[OTHER, ORG],
    );
    read.attributes.visibility = Some(Visibility::Private);
    let mut desired = EnvState {
        scopes: [
            read,
            scope("acme:orders.write", "Write orders", &[THIRD]),
            scope("acme:archive", "Archive", &[]),
        ]
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect(),
        clients: [
            client(
                "order-sync",
                None,
                &["acme:orders.read", "other:thing"],
                vec![
                    key("k-new", None, Some(NOW + 400 * DAY)),
                    key("k-soon", None, None),
                ],
            ),
            client(
                "reporter",
                None,
                &["acme:orders.read", "skatt:secret"],
                vec![],
            ),
            client("legacy", None, &[], vec![]),
        ]
        .into_iter()
        .map(|c| (c.name.clone(), c))
        .collect(),
        contacts: Some(Contacts {
            notifications: vec!["drift@acme.no".into()],
            invoice: Some(Invoice {
                email: "faktura@acme.no".into(),
                reference: Some("PO-1234".into()),
            }),
        }),
    };
    desired.clients.get_mut("order-sync").unwrap().contacts = Some(Contacts {
        notifications: vec!["integrasjon@acme.no".into()],
        invoice: None,
    });
    let mut old_read = scope(
        "acme:orders.read",
        "Read the orders of a customer, including lines",
        &[OTHER, ORG, THIRD],
    );
    old_read.attributes.visibility = Some(Visibility::Public);
    let mut archive = scope("acme:archive", "Archive", &[]);
    archive.active = false;
    let mut legacy = client("legacy", Some("id-legacy"), &[], vec![]);
    legacy.integration_type = Some("idporten".into());
    let live = LiveEnv {
        state: EnvState {
            scopes: [old_read, archive, scope("acme:stray", "Stray", &[OTHER])]
                .into_iter()
                .map(|s| (s.name.clone(), s))
                .collect(),
            clients: [
                client(
                    "order-sync",
                    Some("id-sync"),
                    &["acme:orders.read", "acme:stray"],
                    vec![
                        key("k-soon", Some(NOW + 12 * DAY), None),
                        key("k-gone", Some(NOW + 100 * DAY), None),
                    ],
                ),
                client(
                    "forgotten",
                    Some("id-forgotten"),
                    &[],
                    vec![key("k-forgotten", Some(NOW - 3 * DAY), None)],
                ),
                legacy,
            ]
            .into_iter()
            .map(|c| (c.client_id.clone().unwrap(), c))
            .collect(),
            contacts: None,
        },
        accessible_scopes: ["acme:orders.read", "acme:stray", "other:thing"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        contacts_api,
        org_names: Default::default(),
    };
    let mut plan = diff_for_org(Some(&org(ORG)), &desired, &live, &Settings::default(), NOW);
    plan.env = env.into();
    plan
}

fn rich_plan() -> Plan {
    Plan {
        version: PLAN_FORMAT_VERSION,
        generated: "2026-11-25T00:00:00Z".into(),
        manifest_digest: "0".repeat(64),
        manifest_paths: vec!["mpctl.yaml".into()],
        environments: vec![env_plan("test", false), env_plan("local", true)],
    }
}

#[test]
fn human_rendering_of_a_rich_plan() {
    insta::assert_snapshot!(human::render(&rich_plan(), Purpose::Plan, false));
}

#[test]
fn human_rendering_of_drift() {
    insta::assert_snapshot!(human::render(&rich_plan(), Purpose::Drift, false));
}

#[test]
fn markdown_rendering_of_drift() {
    let text = markdown::render(&rich_plan(), Purpose::Drift);
    assert!(text.starts_with("<!-- mpctl-plan -->\n"));
    assert!(
        text.contains(
            "- grant of acme:orders.write to 991825827 was removed outside mpctl; apply adds it back"
        ),
        "{text}"
    );
    assert!(!text.contains("Phase 2"), "drift is not worded as a plan");
    insta::assert_snapshot!(text);
}

#[test]
fn json_rendering_of_drift_words_each_change_from_the_live_side() {
    let mut plan = rich_plan();
    mpctl::render::annotate_drift(&mut plan);
    let text = json::render(&plan);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let schema = mpctl::plan::json_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let changes = value["environments"][0]["changes"].as_array().unwrap();
    assert!(changes.iter().all(|c| c["drift"].is_string()), "{text}");
    let plain = json::render(&rich_plan());
    assert!(!plain.contains("\"drift\""), "a plan has no drift wording");
    insta::assert_snapshot!(text);
}

#[test]
fn markdown_rendering_of_a_rich_plan() {
    let text = markdown::render(&rich_plan(), Purpose::Plan);
    assert!(text.starts_with("<!-- mpctl-plan -->\n"));
    insta::assert_snapshot!(text);
}

#[test]
fn json_rendering_of_a_rich_plan_is_stable_and_matches_the_schema() {
    let plan = rich_plan();
    let text = json::render(&plan);
    assert_eq!(text, json::render(&plan.clone()));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let schema = mpctl::plan::json_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let back: Plan = serde_json::from_value(value).unwrap();
    assert_eq!(
        back.environments[0].changes.len(),
        plan.environments[0].changes.len()
    );
    insta::assert_snapshot!(text);
}

#[test]
fn committed_plan_schema_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/plan.schema.json");
    let expected = serde_json::to_string_pretty(&mpctl::plan::json_schema()).unwrap() + "\n";
    if std::env::var_os("MPCTL_WRITE_SCHEMA").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        committed, expected,
        "schema/plan.schema.json is stale: run `mpctl schema --write schema/` (or this test with MPCTL_WRITE_SCHEMA=1)"
    );
}

#[test]
fn colour_only_when_asked() {
    let plan = rich_plan();
    assert!(!human::render(&plan, Purpose::Plan, false).contains('\u{1b}'));
    assert!(human::render(&plan, Purpose::Plan, true).contains('\u{1b}'));
}

#[test]
fn markdown_is_cut_cleanly_under_the_limit_with_a_count() {
    let mut plan = rich_plan();
    let template = plan.environments[1].clone();
    plan.environments = (0..400)
        .map(|i| {
            let mut e = template.clone();
            e.env = format!("env-{i:03}");
            e
        })
        .collect();
    let text = markdown::render(&plan, Purpose::Plan);
    assert!(
        text.len() <= markdown::GITHUB_COMMENT_LIMIT,
        "{}",
        text.len()
    );
    assert!(text.starts_with(markdown::MARKER));
    assert!(
        text.contains("more items not shown"),
        "{}",
        &text[text.len() - 400..]
    );
    assert_eq!(
        text.matches("<details>").count(),
        text.matches("</details>").count()
    );
    assert_eq!(
        text.matches("```").count() % 2,
        0,
        "code fences are balanced"
    );
    let small = markdown::render_limited(&rich_plan(), Purpose::Plan, 3_000);
    assert!(small.len() <= 3_000);
    assert!(small.contains("not shown"));
}
