//! Contract tests: the API client against the in-process emulator, for every call mpctl makes,
//! authentication (key and business certificate; expired, wrong-audience and wrong-organisation
//! cases), and retries under the emulator's injected faults.

use crate::support::client::client_key;

use std::collections::BTreeSet;
use std::time::Duration;

use mpctl::api::auth::build_grant;
use mpctl::api::connect::{Access, ConnectOptions, build_client, connect_with};
use mpctl::api::credentials::Credentials;
use mpctl::api::endpoints::Endpoints;
use mpctl::api::retry::RetryPolicy;
use mpctl::api::{ApiError, ContactTarget, HttpClient, SelfService};
use mpctl::emulator::faults::FaultConfig;
use mpctl::emulator::{AdminIdentity, Emulator, EmulatorConfig};
use mpctl::manifest::model::{Contacts, Invoice};
use mpctl::manifest::orgno::OrgNo;
use mpctl::state::{ClientState, ScopeState};

const ACME: &str = "910753282";
const OTHER: &str = "974760673";

fn org(s: &str) -> OrgNo {
    OrgNo::new_unchecked(s)
}

async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        contacts_extension: true,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts")
}

/// An emulator with [`ACME`] bootstrapped (prefix `acme`), and its admin identity.
async fn acme_emulator() -> (Emulator, AdminIdentity) {
    let emu = emulator().await;
    let admin = emu
        .bootstrap_org(&org(ACME), &["acme".into()])
        .await
        .unwrap();
    (emu, admin)
}

fn options(emu: &Emulator, access: Access, organization: &str) -> ConnectOptions {
    ConnectOptions {
        env: "local".into(),
        endpoints: Endpoints {
            api_url: emu.api_url(),
            token_url: emu.token_url(),
            audience: emu.issuer(),
            digdir: None,
        },
        access,
        concurrency: 4,
        retry: RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retry_after: Duration::from_secs(2),
            ..RetryPolicy::default()
        },
        organization: Some(org(organization)),
        clock: None,
    }
}

fn admin_credentials(admin: &AdminIdentity) -> Credentials {
    Credentials::from_private_key(
        admin.client_id.clone(),
        admin.private_key_pem.expose(),
        Some(&admin.kid),
        "admin key",
        "KID",
    )
    .expect("admin credentials")
}

async fn connected(emu: &Emulator, admin: &AdminIdentity) -> HttpClient {
    connect_with(
        options(emu, Access::Write, ACME),
        admin_credentials(admin),
        None,
    )
    .await
    .expect("connects")
    .client
}

/// A report's messages, unwrapped.
fn chain(err: &miette::Report) -> String {
    err.chain()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Audit entries made by organisations (not the emulator's own setup).
fn api_calls(emu: &Emulator) -> usize {
    emu.audit().iter().filter(|e| e.org != "emulator").count()
}

fn scope(name: &str, description: &str) -> ScopeState {
    ScopeState {
        name: name.into(),
        description: description.into(),
        active: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn every_call_round_trips_through_the_emulator() {
    let (emu, admin) = acme_emulator().await;
    let api = connected(&emu, &admin).await;

    let mut orders = scope("acme:orders.read", "Read orders");
    api.create_scope(&orders).await.unwrap();
    orders.description = "Read all orders".into();
    api.update_scope(&orders).await.unwrap();
    api.grant("acme:orders.read", &org(OTHER)).await.unwrap();
    api.grant("acme:orders.read", &org(ACME)).await.unwrap();

    let key = client_key("sync-key-1");
    let client = ClientState {
        name: "order-sync".into(),
        description: "Nightly order sync".into(),
        scopes: ["acme:orders.read".to_owned()].into(),
        keys: [(key.kid.clone(), key.clone())].into(),
        active: true,
        ..Default::default()
    };
    let id = api.create_client(&client).await.unwrap();
    let contacts = Contacts {
        notifications: vec!["drift@acme.no".into()],
        invoice: Some(Invoice {
            email: "faktura@acme.no".into(),
            reference: Some("PO-1".into()),
        }),
    };
    api.put_contacts(&ContactTarget::Provider, &contacts)
        .await
        .unwrap();
    api.put_contacts(&ContactTarget::Client(id.clone()), &contacts)
        .await
        .unwrap();

    let live = api.fetch().await.unwrap();
    let s = &live.state.scopes["acme:orders.read"];
    assert_eq!(s.description, "Read all orders");
    assert!(s.active);
    assert_eq!(
        s.grants,
        [org(OTHER), org(ACME)].into_iter().collect::<BTreeSet<_>>()
    );
    let c = &live.state.clients[&id];
    assert_eq!(c.name, "order-sync");
    assert_eq!(c.description, "Nightly order sync");
    assert_eq!(c.scopes, client.scopes);
    assert_eq!(c.keys["sync-key-1"].jwk, key.jwk, "the key as registered");
    assert!(c.keys["sync-key-1"].exp.is_some(), "the server sets exp");
    assert!(live.contacts_api);
    assert_eq!(live.state.contacts.as_ref(), Some(&contacts));
    assert_eq!(c.contacts.as_ref(), Some(&contacts));
    assert!(live.accessible_scopes.contains("acme:orders.read"));

    let updated = ClientState {
        description: "Hourly".into(),
        ..client.clone()
    };
    api.update_client(&id, &updated).await.unwrap();
    api.put_keys(&id, &[key.clone(), client_key("sync-key-2")])
        .await
        .unwrap();
    let live = api.fetch().await.unwrap();
    assert_eq!(live.state.clients[&id].description, "Hourly");
    assert_eq!(live.state.clients[&id].keys.len(), 2);

    api.put_keys(&id, &[]).await.unwrap();
    api.deactivate_client(&id).await.unwrap();
    api.revoke("acme:orders.read", &org(OTHER)).await.unwrap();
    api.deactivate_scope("acme:orders.read").await.unwrap();
    let live = api.fetch().await.unwrap();
    assert!(!live.state.scopes["acme:orders.read"].active);
    assert_eq!(
        live.state.scopes["acme:orders.read"].grants,
        [org(ACME)].into()
    );
    assert!(!live.state.clients[&id].active);

    // Reactivation goes through update with active: true.
    api.update_scope(&orders).await.unwrap();
    api.update_client(&id, &client).await.unwrap();
    let live = api.fetch().await.unwrap();
    assert!(live.state.scopes["acme:orders.read"].active);
    assert!(live.state.clients[&id].active);
    assert!(!emu.audit().is_empty());
}

#[tokio::test]
async fn fetch_uses_the_minimum_number_of_requests() {
    let (emu, admin) = acme_emulator().await;
    let api = connected(&emu, &admin).await;
    for i in 0..5 {
        api.create_scope(&scope(&format!("acme:s{i}"), "x"))
            .await
            .unwrap();
    }
    for i in 0..3 {
        api.create_client(&ClientState {
            name: format!("c{i}"),
            description: "x".into(),
            active: true,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let before = api.request_count();
    let live = api.fetch().await.unwrap();
    let clients = live.state.clients.len() as u64;
    let scopes = live.state.scopes.len() as u64;
    // lists (scopes, clients, accessible, provider contacts) + per scope its grants + per
    // active client its keys and contacts (the extension is on).
    let expected = 4 + scopes + clients * 2;
    assert_eq!(api.request_count() - before, expected);
}

#[tokio::test]
async fn a_business_certificate_authenticates_with_x5c() {
    let (emu, admin) = acme_emulator().await;
    let cert = emu.issue_business_certificate(&org(ACME), 30).unwrap();
    let bundle = format!(
        "{}\n{}",
        cert.private_key_pem.expose(),
        cert.certificate_pem
    );
    let credentials =
        Credentials::from_private_key(admin.client_id.clone(), &bundle, None, "cert", "KID")
            .unwrap();
    assert!(matches!(
        credentials.identity(),
        mpctl::api::credentials::KeyIdentity::X5c(_)
    ));
    let api = connect_with(options(&emu, Access::Read, ACME), credentials, None)
        .await
        .unwrap()
        .client;
    api.fetch().await.unwrap();
}

#[tokio::test]
async fn an_expired_grant_is_refused_with_the_servers_message() {
    let (emu, admin) = acme_emulator().await;
    let opts = options(&emu, Access::Read, ACME);
    let api = build_client(&opts, admin_credentials(&admin)).unwrap();
    let now = emu.clock().now_unix();
    let grant = build_grant(
        &admin_credentials(&admin),
        &emu.issuer(),
        &Access::Read.scopes(),
        now - 600,
    )
    .unwrap();
    let _ = api;
    let tokens = mpctl::api::auth::TokenSource::new(
        reqwest::Client::new(),
        mpctl::api::auth::TokenConfig {
            env: "local".into(),
            token_url: emu.token_url(),
            audience: emu.issuer(),
            scope: Access::Read.scopes(),
            digdir: None,
            retry: RetryPolicy::none(),
        },
        admin_credentials(&admin),
    );
    let err = tokens.exchange(&grant).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ApiError::Auth(_)));
    assert!(text.contains("refused the grant"), "{text}");
    assert!(text.contains("clock"), "{text}");
}

#[tokio::test]
async fn a_grant_for_the_wrong_audience_is_refused() {
    let (emu, admin) = acme_emulator().await;
    let mut opts = options(&emu, Access::Read, ACME);
    opts.endpoints.audience = "https://maskinporten.example/".into();
    let err = connect_with(opts, admin_credentials(&admin), None)
        .await
        .unwrap_err();
    let text = chain(&err);
    assert!(text.contains("https://maskinporten.example/"), "{text}");
    assert!(text.contains("aud"), "the server's own words: {text}");
    assert_eq!(api_calls(&emu), 0);
}

#[tokio::test]
async fn credentials_of_another_organisation_stop_before_any_call() {
    let emu = emulator().await;
    emu.bootstrap_org(&org(ACME), &["acme".into()])
        .await
        .unwrap();
    let other = emu
        .bootstrap_org(&org(OTHER), &["other".into()])
        .await
        .unwrap();
    let err = connect_with(
        options(&emu, Access::Write, ACME),
        admin_credentials(&other),
        None,
    )
    .await
    .unwrap_err();
    let text = chain(&err);
    assert!(text.contains(ACME) && text.contains(OTHER), "{text}");
    assert_eq!(api_calls(&emu), 0, "{:?}", emu.audit());
}

#[tokio::test]
async fn creates_under_lost_answers_and_errors_never_duplicate() {
    let (emu, admin) = acme_emulator().await;
    let api = connected(&emu, &admin).await;
    emu.set_faults(FaultConfig {
        drop_after_rate: 0.25,
        drop_rate: 0.1,
        error_rate: 0.1,
        seed: 7,
        ..FaultConfig::default()
    });
    for i in 0..8 {
        api.create_scope(&scope(&format!("acme:f{i}"), "x"))
            .await
            .unwrap();
    }
    let mut ids = BTreeSet::new();
    for i in 0..6 {
        let id = api
            .create_client(&ClientState {
                name: format!("client-{i}"),
                description: "x".into(),
                active: true,
                ..Default::default()
            })
            .await
            .unwrap();
        ids.insert(id);
    }
    emu.set_faults(FaultConfig::default());
    assert!(
        api.request_count() > 14,
        "faults were injected and worked around ({} requests for 14 creates)",
        api.request_count()
    );
    let live = api.fetch().await.unwrap();
    assert_eq!(live.state.scopes.len(), 8);
    assert_eq!(live.state.clients.len(), 6, "no duplicate clients");
    assert_eq!(ids.len(), 6);
    let names: BTreeSet<_> = live
        .state
        .clients
        .values()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(names.len(), 6);
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    let (emu, admin) = acme_emulator().await;
    let api = connected(&emu, &admin).await;
    emu.set_faults(FaultConfig {
        rate_limit: Some(20),
        seed: 3,
        ..FaultConfig::default()
    });
    for i in 0..30 {
        api.create_scope(&scope(&format!("acme:r{i}"), "x"))
            .await
            .unwrap();
    }
    emu.set_faults(FaultConfig::default());
    assert_eq!(api.fetch().await.unwrap().state.scopes.len(), 30);
}
