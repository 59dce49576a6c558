use super::*;

const NOW: i64 = 1_795_996_800; // 2026-11-30T00:00:00Z

fn key(kid: &str, exp: Option<i64>, cert: Option<i64>) -> KeyState {
    KeyState {
        kid: kid.into(),
        jwk: serde_json::Map::new(),
        exp,
        cert_not_after: cert,
        source: None,
        retire_after: None,
    }
}

fn client(name: &str, id: Option<&str>, keys: Vec<KeyState>) -> ClientState {
    ClientState {
        client_id: id.map(Into::into),
        name: name.into(),
        active: true,
        keys: keys.into_iter().map(|k| (k.kid.clone(), k)).collect(),
        ..ClientState::default()
    }
}

fn desired_key(kid: &str, cert: Option<i64>) -> KeyState {
    KeyState {
        source: Some(format!("keys/{kid}.jwk.json")),
        ..key(kid, None, cert)
    }
}

fn env_state(clients: Vec<ClientState>, by_id: bool) -> EnvState {
    EnvState {
        clients: clients
            .into_iter()
            .map(|c| {
                let key = if by_id {
                    c.client_id.clone().unwrap_or_default()
                } else {
                    c.name.clone()
                };
                (key, c)
            })
            .collect(),
        ..EnvState::default()
    }
}

/// Two environments: test with a key expiring soon, one expired, one fine, a key not yet
/// registered, a retiring one and an unmanaged client; prod with a pinned client.
fn overview() -> KeyOverview {
    let mut retiring = desired_key("old-key", None);
    retiring.retire_after = Some("2026-12-09".into());
    let test_desired = env_state(
        vec![
            client(
                "order-sync",
                None,
                vec![retiring, desired_key("new-key", None)],
            ),
            client(
                "reporting",
                None,
                vec![desired_key("cert-key", Some(NOW + 12 * DAY + 3600))],
            ),
        ],
        false,
    );
    let test_live = LiveEnv {
        state: env_state(
            vec![
                client(
                    "order-sync",
                    Some("id-1"),
                    vec![key("old-key", Some(NOW + 5 * DAY), None)],
                ),
                client(
                    "reporting",
                    Some("id-2"),
                    vec![
                        key(
                            "cert-key",
                            Some(NOW + 300 * DAY),
                            Some(NOW + 12 * DAY + 3600),
                        ),
                        key("stray-key", Some(NOW - 2 * DAY), None),
                    ],
                ),
                client(
                    "legacy",
                    Some("id-3"),
                    vec![key("legacy-key", Some(NOW + 90 * DAY), None)],
                ),
            ],
            true,
        ),
        ..LiveEnv::default()
    };
    let mut pinned = client(
        "order-sync",
        Some("prod-id"),
        vec![desired_key("prod-key", None)],
    );
    pinned.client_id = Some("prod-id".into());
    let prod_desired = env_state(vec![pinned], false);
    let mut prod_live_client = client(
        "order-sync-renamed-live",
        Some("prod-id"),
        vec![key("prod-key", Some(NOW + 200 * DAY), None)],
    );
    prod_live_client.active = true;
    let prod_live = LiveEnv {
        state: env_state(vec![prod_live_client], true),
        ..LiveEnv::default()
    };
    KeyOverview::build(
        &[
            EnvKeys {
                env: "test",
                desired: &test_desired,
                live: &test_live,
            },
            EnvKeys {
                env: "prod",
                desired: &prod_desired,
                live: &prod_live,
            },
        ],
        NOW,
        30,
    )
}

#[test]
fn rows_are_sorted_by_nearest_expiry_and_flagged() {
    let overview = overview();
    let order: Vec<(&str, &str, KeyStatus)> = overview
        .rows
        .iter()
        .map(|r| (r.env.as_str(), r.kid.as_str(), r.status))
        .collect();
    assert_eq!(
        order,
        [
            ("test", "stray-key", KeyStatus::Expired),
            ("test", "old-key", KeyStatus::Expiring),
            ("test", "cert-key", KeyStatus::Expiring),
            ("test", "legacy-key", KeyStatus::Ok),
            ("prod", "prod-key", KeyStatus::Ok),
            ("test", "new-key", KeyStatus::Unknown),
        ]
    );
    assert_eq!(overview.expired(), 1);
    assert_eq!(overview.expiring(), 2);
    let legacy = &overview.rows[3];
    assert!(!legacy.managed);
    let prod = &overview.rows[4];
    assert!(prod.managed && prod.registered && prod.in_manifest);
    assert_eq!(prod.client, "order-sync");
    let cert = &overview.rows[2];
    assert_eq!(cert.exp.unwrap().days_left, 300);
    assert_eq!(cert.cert_not_after.unwrap().days_left, 12);
    assert_eq!(overview.rows[0].exp.unwrap().days_left, -2);
}

#[test]
fn window_edges() {
    let desired = EnvState::default();
    let live = LiveEnv {
        state: env_state(
            vec![client(
                "c",
                Some("id"),
                vec![
                    key("at-now", Some(NOW), None),
                    key("edge", Some(NOW + 30 * DAY), None),
                    key("after", Some(NOW + 30 * DAY + 1), None),
                ],
            )],
            true,
        ),
        ..LiveEnv::default()
    };
    let overview = KeyOverview::build(
        &[EnvKeys {
            env: "test",
            desired: &desired,
            live: &live,
        }],
        NOW,
        30,
    );
    let status: BTreeMap<&str, KeyStatus> = overview
        .rows
        .iter()
        .map(|r| (r.kid.as_str(), r.status))
        .collect();
    assert_eq!(status["at-now"], KeyStatus::Expired);
    assert_eq!(status["edge"], KeyStatus::Expiring);
    assert_eq!(status["after"], KeyStatus::Ok);
}

#[test]
fn inactive_unmanaged_clients_are_left_out() {
    let mut gone = client("gone", Some("id"), vec![key("k", Some(NOW + DAY), None)]);
    gone.active = false;
    let live = LiveEnv {
        state: env_state(vec![gone], true),
        ..LiveEnv::default()
    };
    let overview = KeyOverview::build(
        &[EnvKeys {
            env: "test",
            desired: &EnvState::default(),
            live: &live,
        }],
        NOW,
        30,
    );
    assert!(overview.rows.is_empty());
    assert!(overview.render_human(false).contains("No keys."));
}

#[test]
fn unreadable_environments_are_named_in_every_format() {
    let mut overview = overview();
    overview.unreadable = vec!["prod".into()];
    let note = "Could not read the live state of prod";
    assert!(overview.render_human(false).contains(note));
    assert!(overview.render_markdown().contains(note));
    assert_eq!(
        overview.render_json()["unreadable_environments"],
        serde_json::json!(["prod"])
    );
}

#[test]
fn human_rendering() {
    insta::assert_snapshot!(overview().render_human(false));
}

#[test]
fn human_rendering_in_colour_colours_the_status() {
    let text = overview().render_human(true);
    assert!(text.contains("\u{1b}["));
    assert!(text.contains("EXPIRED"));
}

#[test]
fn markdown_rendering() {
    insta::assert_snapshot!(overview().render_markdown());
}

#[test]
fn json_rendering() {
    insta::assert_json_snapshot!(overview().render_json());
}
