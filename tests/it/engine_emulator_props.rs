//! Property, on the real emulator over HTTP: from a random starting configuration to a random
//! target, apply keeps the portal's order — on the emulator's audit log no scope is deactivated
//! while it still has grants, and no client is given a scope before the grant (the emulator
//! refuses that, which would fail the apply) — and a second plan is empty.

use std::collections::{BTreeMap, BTreeSet};

use mpctl::api::SelfService;
use mpctl::api::connect::connect_with;
use mpctl::api::credentials::Credentials;
use mpctl::apply::{NoProgress, execute};
use mpctl::emulator::{Emulator, EmulatorConfig};
use mpctl::manifest::model::Settings;
use mpctl::manifest::orgno::OrgNo;
use mpctl::plan::diff::diff_for_org;
use mpctl::state::{ClientState, EnvState, ScopeState};
use proptest::prelude::*;

const ORG: &str = "910753282";
const ORGS: [&str; 3] = [ORG, "974760673", "991825827"];
const SCOPES: [&str; 4] = ["acme:a", "acme:b", "acme:c", "acme:d"];
const CLIENTS: [&str; 3] = ["c0", "c1", "c2"];

fn pick<'a>(all: &[&'a str], mask: u8) -> Vec<&'a str> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, s)| *s)
        .collect()
}

/// A configuration: per scope (present, grants mask, description variant), per client
/// (present, scopes mask).
type Config = (Vec<(bool, u8, bool)>, Vec<(bool, u8)>);

fn config() -> impl Strategy<Value = Config> {
    (
        prop::collection::vec((any::<bool>(), 0u8..8, any::<bool>()), 4),
        prop::collection::vec((any::<bool>(), 0u8..16), 3),
    )
}

fn desired((scopes, clients): &Config) -> EnvState {
    let mut state = EnvState::default();
    for (i, &(present, grants, variant)) in scopes.iter().enumerate() {
        if !present {
            continue;
        }
        state.scopes.insert(
            SCOPES[i].into(),
            ScopeState {
                name: SCOPES[i].into(),
                description: if variant { "first" } else { "second" }.into(),
                active: true,
                grants: pick(&ORGS, grants)
                    .into_iter()
                    .map(OrgNo::new_unchecked)
                    .collect(),
                ..ScopeState::default()
            },
        );
    }
    for (i, &(present, mask)) in clients.iter().enumerate() {
        if !present {
            continue;
        }
        // Only scopes this configuration grants to the organisation itself.
        let usable: BTreeSet<String> = pick(&SCOPES, mask)
            .into_iter()
            .filter(|s| {
                state
                    .scopes
                    .get(*s)
                    .is_some_and(|sc| sc.grants.contains(&OrgNo::new_unchecked(ORG)))
            })
            .map(str::to_owned)
            .collect();
        state.clients.insert(
            CLIENTS[i].into(),
            ClientState {
                name: CLIENTS[i].into(),
                description: "client".into(),
                scopes: usable,
                active: true,
                ..ClientState::default()
            },
        );
    }
    state
}

struct Setup {
    runtime: tokio::runtime::Runtime,
    emulator: Emulator,
    connection: mpctl::api::Connection,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let org = OrgNo::new_unchecked(ORG);
    let dir = tempfile::tempdir().unwrap();
    let (emulator, connection) = runtime.block_on(async {
        let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let admin = emulator
            .bootstrap_org(&org, &["acme".to_owned()])
            .await
            .unwrap();
        let key_file = dir.path().join("admin.pem");
        std::fs::write(&key_file, admin.private_key_pem.expose()).unwrap();
        let key_file = key_file.display().to_string();
        let credentials = Credentials::from_lookup("emu", |var| match var {
            "MPCTL_EMU_CLIENT_ID" => Some(admin.client_id.clone()),
            "MPCTL_EMU_KEY_FILE" => Some(key_file.clone()),
            "MPCTL_EMU_KEY_ID" => Some(admin.kid.clone()),
            _ => None,
        })
        .unwrap();
        let options = crate::support::emulator::connect_options(&emulator, &org);
        let connection = connect_with(options, credentials, None).await.unwrap();
        (emulator, connection)
    });
    Setup {
        runtime,
        emulator,
        connection,
        _dir: dir,
    }
}

/// Plans `want` against the live state and applies it; returns the second plan's changes.
fn converge(s: &Setup, want: &EnvState, settings: &Settings) -> Result<usize, String> {
    let org = OrgNo::new_unchecked(ORG);
    s.runtime.block_on(async {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let live = s
            .connection
            .client
            .fetch()
            .await
            .map_err(|e| e.to_string())?;
        let plan = diff_for_org(Some(&org), want, &live, settings, now);
        if !plan.errors.is_empty() {
            return Err(format!("plan errors: {:#?}", plan.errors));
        }
        let report = execute(&plan, &s.connection.client, 4, &NoProgress).await;
        if !report.succeeded() {
            return Err(format!("apply failed: {:#?}", report.failed));
        }
        let live = s
            .connection
            .client
            .fetch()
            .await
            .map_err(|e| e.to_string())?;
        Ok(diff_for_org(Some(&org), want, &live, settings, now)
            .changes
            .len())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn apply_follows_the_portals_order_on_the_emulator(start in config(), target in config(), prune in any::<bool>()) {
        let s = setup();
        let settings = Settings { prune, mass_destroy_percent: 100, ..Settings::default() };
        let first = desired(&start);
        let second = desired(&target);
        prop_assert_eq!(converge(&s, &first, &Settings::default()), Ok(0));
        // Clients the target does not list keep their scopes unless pruned; skip targets that
        // would revoke the organisation's own grant under such a client.
        let kept: Vec<&ClientState> = first.clients.values()
            .filter(|c| !prune && !second.clients.contains_key(&c.name))
            .collect();
        let org = OrgNo::new_unchecked(ORG);
        let conflict = kept.iter().any(|c| c.scopes.iter().any(|sc| {
            !second.scopes.get(sc).is_some_and(|t| t.grants.contains(&org))
        }));
        prop_assume!(!conflict);
        prop_assert_eq!(converge(&s, &second, &settings), Ok(0));

        // Replay the audit log's grants and revocations; at each deactivation none may be left.
        let mut grants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for entry in s.emulator.audit() {
            match entry.operation.as_str() {
                "grant" | "revoke" => {
                    let (scope, consumer) = entry.target.split_once(" -> ").unwrap();
                    let set = grants.entry(scope.to_owned()).or_default();
                    if entry.operation == "grant" {
                        set.insert(consumer.to_owned());
                    } else {
                        set.remove(consumer);
                    }
                }
                "deactivate_scope" => {
                    let held = grants.get(&entry.target).cloned().unwrap_or_default();
                    prop_assert!(held.is_empty(), "scope {} deactivated with grants {:?}", entry.target, held);
                }
                _ => {}
            }
        }
        let _ = s.runtime.block_on(s.emulator.shutdown());
    }
}
