use super::*;

fn org(orgno: &str) -> Mutation {
    Mutation::Org(OrgRecord {
        orgno: orgno.into(),
        prefixes: BTreeSet::from(["acme".to_owned()]),
        admin_client_id: None,
        admin_kid: None,
        admin_private_key_pem: None,
        name: None,
    })
}

fn add(store: &Store, orgno: &str) {
    let m = org(orgno);
    store
        .commit(|_: &()| None, move |_| Ok::<_, ()>(((), vec![m])))
        .unwrap();
}

#[test]
fn journal_survives_reopen_and_a_torn_last_line_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    {
        let store = Store::open(&path).unwrap();
        add(&store, "974760673");
        add(&store, "991825827");
    }
    // A half-written line after the acknowledged ones.
    let journal = sibling(&path, ".journal");
    let mut file = OpenOptions::new().append(true).open(&journal).unwrap();
    file.write_all(br#"{"seq":3,"audit":null,"muta"#).unwrap();
    drop(file);

    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.read().orgs.keys().cloned().collect::<Vec<_>>(),
        ["974760673", "991825827"]
    );
    add(&store, "889640782");
    drop(store);
    assert_eq!(Store::open(&path).unwrap().read().orgs.len(), 3);
}

#[test]
fn a_large_state_replays_and_compacts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let scope = |n: usize| ScopeRecord {
        description: "d".into(),
        ..ScopeRecord::new("acme".into(), format!("s{n}"), "974760673".into(), 0)
    };
    let consumers: Vec<String> = (0..10).map(|i| format!("99182582{i}")).collect();
    {
        let store = Store::open(&path).unwrap();
        for batch in 0..10 {
            let mut mutations = Vec::new();
            for n in batch * 100..(batch + 1) * 100 {
                mutations.push(Mutation::Scope(scope(n)));
                for consumer in &consumers {
                    mutations.push(Mutation::Grant(GrantRecord {
                        scope: format!("acme:s{n}"),
                        consumer_orgno: consumer.clone(),
                        owner_orgno: "974760673".into(),
                        state: "APPROVED".into(),
                        created: 0,
                        last_updated: 0,
                    }));
                }
            }
            store
                .commit(|_: &()| None, move |_| Ok::<_, ()>(((), mutations)))
                .unwrap();
        }
    }
    // Reopened from the journal alone, then from the snapshot written on open.
    for _ in 0..2 {
        let store = Store::open(&path).unwrap();
        let state = store.read();
        assert_eq!(state.scopes_of("974760673").count(), 1000);
        assert_eq!(
            state.grants.values().map(BTreeMap::len).sum::<usize>(),
            10_000
        );
        assert_eq!(state.grants_to(&consumers[3]).count(), 1000);
        assert!(state.is_granted("acme:s999", &consumers[9]));
    }
}

#[test]
fn a_second_store_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let _first = Store::open(&path).unwrap();
    assert!(matches!(
        Store::open(&path),
        Err(EmulatorError::Locked { .. })
    ));
}

#[test]
fn lines_already_in_the_snapshot_are_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = Store::open(&path).unwrap();
    add(&store, "974760673");
    // Simulate a crash between snapshot rename and journal truncation.
    let journal = std::fs::read(sibling(&path, ".journal")).unwrap();
    store.compact().unwrap();
    drop(store);
    std::fs::write(sibling(&path, ".journal"), journal).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.read().orgs.len(), 1);
}
