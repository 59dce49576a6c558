use super::*;

#[test]
fn the_imported_manifest_passes_validation() {
    let mut live = LiveEnv::default();
    let mut s = ScopeState {
        name: "acme:orders.read".into(),
        description: "Read".into(),
        active: true,
        ..Default::default()
    };
    s.grants.insert(OrgNo::new_unchecked("974760673"));
    s.grants.insert(OrgNo::new_unchecked("910753282"));
    live.state.scopes.insert(s.name.clone(), s);
    live.state.clients.insert(
        "id-1".into(),
        ClientState {
            client_id: Some("id-1".into()),
            name: "sync".into(),
            description: "Sync".into(),
            scopes: ["acme:orders.read".to_owned()].into(),
            active: true,
            ..Default::default()
        },
    );
    let envs = ["test", "prod"].map(|name| ImportedEnv {
        name: name.into(),
        environment: Environment::default(),
        live: live.clone(),
    });
    let imported = build(&OrgNo::new_unchecked("910753282"), &envs);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mpctl.yaml");
    std::fs::write(
        &path,
        to_yaml(&imported, &["test".into(), "prod".into()]).unwrap(),
    )
    .unwrap();
    match crate::manifest::load(&[path]) {
        Ok(loaded) => assert_eq!(loaded.manifest, imported.manifest),
        Err(diagnostics) => panic!("{:?}", miette::Report::new(diagnostics)),
    }
}
