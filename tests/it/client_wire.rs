//! The API client against a scripted local server: what goes on the wire (encoding, paths,
//! bodies), the grant it signs, token caching, retries, ambiguous creates, and error messages.

use crate::support::client as client_support;

use std::time::{Duration, Instant};

use base64::Engine;
use client_support::{FakeServer, ORG, Reply};
use mpctl::api::auth::GrantClaims;
use mpctl::api::connect::{Access, connect_with};
use mpctl::api::{ApiError, SelfService};
use mpctl::manifest::orgno::OrgNo;
use mpctl::state::{ClientState, ScopeState};
use serde_json::json;

fn org(s: &str) -> OrgNo {
    OrgNo::new_unchecked(s)
}

fn decode_grant(form_body: &str) -> (serde_json::Value, GrantClaims) {
    let assertion = form_body
        .split('&')
        .find_map(|kv| kv.strip_prefix("assertion="))
        .expect("assertion in the form");
    assert!(form_body.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"));
    let mut parts = assertion.split('.');
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts.next().unwrap()).unwrap()).unwrap();
    let claims: GrantClaims =
        serde_json::from_slice(&b64.decode(parts.next().unwrap()).unwrap()).unwrap();
    assert!(parts.next().is_some_and(|s| !s.is_empty()), "signed");
    (header, claims)
}

#[tokio::test]
async fn scope_names_travel_percent_encoded_and_cannot_add_parameters() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Write);
    client
        .revoke("acme:orders/read&inactive=true", &org("974760673"))
        .await
        .unwrap();
    let requests = server.api_requests();
    assert_eq!(
        requests[0].line(),
        "DELETE /api/v1/scopes/access/974760673?scope=acme%3Aorders%2Fread%26inactive%3Dtrue"
    );
}

#[tokio::test]
async fn a_bad_consumer_number_is_refused_before_any_request() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Write);
    for bad in ["", "97476067", "974760674", "97476067a", "..%2F"] {
        let err = client.revoke("acme:a", &org(bad)).await.unwrap_err();
        assert!(matches!(err, ApiError::Refused { .. }), "{bad}: {err}");
        let err = client.grant("acme:a", &org(bad)).await.unwrap_err();
        assert!(matches!(err, ApiError::Refused { .. }), "{bad}: {err}");
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert_eq!(client.request_count(), 0);
}

#[tokio::test]
async fn writes_use_the_documented_paths_and_bodies() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Write);
    let scope = ScopeState {
        name: "acme:orders.read".into(),
        description: "Read orders".into(),
        active: true,
        ..Default::default()
    };
    client.create_scope(&scope).await.unwrap();
    client.update_scope(&scope).await.unwrap();
    client
        .grant("acme:orders.read", &org("974760673"))
        .await
        .unwrap();
    client.deactivate_scope("acme:orders.read").await.unwrap();
    server.push(Reply::json(
        201,
        json!({"client_id": "c-1", "client_name": "sync"}),
    ));
    let client_state = ClientState {
        name: "sync".into(),
        description: "Nightly".into(),
        scopes: ["acme:orders.read".to_owned()].into(),
        active: true,
        ..Default::default()
    };
    assert_eq!(client.create_client(&client_state).await.unwrap(), "c-1");
    client.update_client("c-1", &client_state).await.unwrap();
    client.put_keys("c-1", &[]).await.unwrap();
    client.deactivate_client("c-1").await.unwrap();

    let lines: Vec<String> = server.api_requests().iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [
            "POST /api/v1/scopes",
            // Updates send the object as read: read first when it was not read with a plan.
            "GET /api/v1/scopes?scope=acme%3Aorders.read",
            "PUT /api/v1/scopes?scope=acme%3Aorders.read",
            "PUT /api/v1/scopes/access/974760673?scope=acme%3Aorders.read",
            "DELETE /api/v1/scopes?scope=acme%3Aorders.read",
            "POST /api/v1/clients",
            "GET /api/v1/clients/c-1",
            "PUT /api/v1/clients/c-1",
            "DELETE /api/v1/clients/c-1/jwks",
            "DELETE /api/v1/clients/c-1",
        ]
    );
    let requests = server.api_requests();
    let create: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(
        create,
        json!({"prefix": "acme", "subscope": "orders.read", "description": "Read orders"})
    );
    let update: serde_json::Value = serde_json::from_str(&requests[2].body).unwrap();
    assert_eq!(update["active"], json!(true));
    let client_body: serde_json::Value = serde_json::from_str(&requests[5].body).unwrap();
    assert_eq!(
        client_body,
        json!({
            "client_name": "sync", "description": "Nightly", "integration_type": "maskinporten",
            "application_type": "web", "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "scopes": ["acme:orders.read"]
        })
    );
    assert!(requests.iter().all(|r| {
        r.authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer "))
    }));
}

#[tokio::test]
async fn the_grant_is_what_maskinporten_requires() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Read);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    client.token().await.unwrap();
    let token_requests = server.token_requests();
    assert_eq!(token_requests.len(), 1);
    let (header, claims) = decode_grant(&token_requests[0].body);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], "kid-1");
    assert!(header.get("x5c").is_none());
    assert_eq!(claims.aud, server.endpoints().audience);
    assert_eq!(claims.iss, "admin-client");
    assert!((claims.iat - before).abs() <= 2);
    assert_eq!(claims.exp - claims.iat, 60);
    assert_eq!(claims.scope, "idporten:scopes.read idporten:dcr.read");
    assert!(uuid::Uuid::parse_str(&claims.jti).is_ok());

    // A second grant never reuses the jti.
    let write = server.client(Access::Write);
    write.token().await.unwrap();
    let (_, second) = decode_grant(&server.token_requests()[1].body);
    assert_ne!(second.jti, claims.jti);
    assert_eq!(
        second.scope,
        "idporten:scopes.read idporten:dcr.read idporten:scopes.write idporten:dcr.write idporten:dcr.modify"
    );
}

#[tokio::test]
async fn the_token_is_cached_and_renewed_after_a_401() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Read);
    client.list_scopes().await.unwrap();
    client.list_clients().await.unwrap();
    assert_eq!(server.token_requests().len(), 1, "cached");
    server.push(Reply::json(401, json!({"error": "invalid_token"})));
    client.list_scopes().await.unwrap();
    assert_eq!(server.token_requests().len(), 2, "renewed once after 401");
    assert_eq!(server.api_requests().len(), 4);
}

#[tokio::test]
async fn a_short_lived_token_is_renewed_before_it_expires() {
    let server = FakeServer::start().await;
    server.push_token_reply(Reply::json(
        200,
        json!({"access_token": client_support::fake_token(ORG), "expires_in": 10}),
    ));
    let client = server.client(Access::Read);
    client.list_scopes().await.unwrap();
    client.list_scopes().await.unwrap();
    // 10 s is inside the 20 s margin: every use asks for a new token.
    assert_eq!(server.token_requests().len(), 2);
}

#[tokio::test]
async fn server_errors_and_dropped_connections_are_retried_for_reads() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Read);
    server.push(Reply::json(503, json!({"message": "busy"})));
    server.push(Reply::Drop);
    server.push(Reply::json(
        200,
        json!([{"prefix": "acme", "subscope": "a", "description": "A"}]),
    ));
    let scopes = client.list_scopes().await.unwrap();
    assert_eq!(scopes.len(), 1);
    assert_eq!(server.api_requests().len(), 3);
    assert_eq!(client.request_count(), 3);
}

#[tokio::test]
async fn an_attempt_that_takes_too_long_times_out_and_is_retried() {
    let server = FakeServer::start().await;
    let mut options = server.options(Access::Read);
    options.retry.attempt_timeout = Duration::from_millis(300);
    let client =
        mpctl::api::connect::build_client(&options, client_support::kid_credentials("kid-1"))
            .unwrap();
    client.token().await.unwrap();
    // The first attempt would be answered after 30 s: it is given up at 0.3 s and retried.
    server.push(Reply::Stall(Duration::from_secs(30)));
    let started = Instant::now();
    client.list_clients().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.api_requests().len(), 2);

    // Every attempt too slow: the error says it timed out.
    for _ in 0..4 {
        server.push(Reply::Stall(Duration::from_secs(30)));
    }
    let err = client.list_clients().await.unwrap_err().to_string();
    assert!(err.contains("timed out"), "{err}");
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Read);
    server.push(Reply::Status(
        429,
        vec![("Retry-After".into(), "1".into())],
        "{}".into(),
    ));
    let started = Instant::now();
    client.list_clients().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.api_requests().len(), 2);
}

#[tokio::test]
async fn retries_give_up_and_name_what_failed() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Read);
    for _ in 0..4 {
        server.push(Reply::Status(
            502,
            Vec::new(),
            "<html>bad gateway</html>".into(),
        ));
    }
    let err = client.list_clients().await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("test-env"), "{text}");
    assert!(text.contains("list clients"), "{text}");
    assert!(text.contains("502"), "{text}");
    assert!(text.contains("<html>bad gateway</html>"), "{text}");
    assert_eq!(server.api_requests().len(), 4);
}

#[tokio::test]
async fn errors_carry_environment_operation_resource_and_the_servers_words() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Write);
    server.push(Reply::json(
        409,
        json!({"status": 409, "error": "Conflict", "message": "Scope acme:old is inactive"}),
    ));
    let scope = ScopeState {
        name: "acme:old".into(),
        description: "x".into(),
        active: true,
        ..Default::default()
    };
    let err = client.create_scope(&scope).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("test-env: create scope acme:old"), "{text}");
    assert!(text.contains("409"), "{text}");
    assert!(text.contains("Scope acme:old is inactive"), "{text}");
    assert_eq!(server.api_requests().len(), 1, "a 409 is not retried");
}

#[tokio::test]
async fn precondition_required_on_client_creation_says_to_sign_the_terms() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Write);
    server.push(Reply::json(
        428,
        json!({"error": "PRECONDITION_REQUIRED", "error_description": "Virksomheten har ikke akseptert bruksvilkårene"}),
    ));
    let err = client
        .create_client(&ClientState {
            name: "sync".into(),
            active: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("bruksvilkårene"), "{text}");
    assert!(
        text.contains("terms of use") && text.contains("Samarbeidsportalen"),
        "{text}"
    );
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_by_reading_not_repeated() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Write);
    let scope = ScopeState {
        name: "acme:orders.read".into(),
        description: "Read orders".into(),
        active: true,
        ..Default::default()
    };
    server.push(Reply::Drop);
    server.push(Reply::json(
        200,
        json!({"prefix": "acme", "subscope": "orders.read", "name": "acme:orders.read", "active": true}),
    ));
    client.create_scope(&scope).await.unwrap();
    let lines: Vec<String> = server.api_requests().iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [
            "POST /api/v1/scopes",
            "GET /api/v1/scopes?scope=acme%3Aorders.read"
        ]
    );
}

#[tokio::test]
async fn a_create_that_did_not_happen_is_sent_again_after_reading() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Write);
    let scope = ScopeState {
        name: "acme:orders.read".into(),
        description: "Read orders".into(),
        active: true,
        ..Default::default()
    };
    server.push(Reply::json(500, json!({"message": "oops"})));
    server.push(Reply::json(404, json!({"message": "not found"})));
    server.push(Reply::json(201, json!({"name": "acme:orders.read"})));
    client.create_scope(&scope).await.unwrap();
    let lines: Vec<String> = server.api_requests().iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [
            "POST /api/v1/scopes",
            "GET /api/v1/scopes?scope=acme%3Aorders.read",
            "POST /api/v1/scopes"
        ]
    );
}

#[tokio::test]
async fn a_lost_client_creation_is_recognised_by_its_name() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Write);
    server.push(Reply::Drop);
    server.push(Reply::json(
        200,
        json!([
            {"client_id": "other", "client_name": "else", "active": true},
            {"client_id": "old", "client_name": "sync", "active": false},
            {"client_id": "new", "client_name": "sync", "active": true, "created": "2026-01-01T00:00:00Z"}
        ]),
    ));
    let id = client
        .create_client(&ClientState {
            name: "sync".into(),
            active: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(id, "new");
    let posts = server
        .api_requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "no duplicate client");
}

#[tokio::test]
async fn a_revoke_whose_first_answer_was_lost_succeeds_on_404() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Write);
    server.push(Reply::Drop);
    server.push(Reply::json(404, json!({"message": "no such grant"})));
    client.revoke("acme:a", &org("974760673")).await.unwrap();
    // But a first-attempt 404 is an error.
    server.push(Reply::json(404, json!({"message": "no such grant"})));
    assert!(client.revoke("acme:a", &org("974760673")).await.is_err());
}

#[tokio::test]
async fn fetch_reads_everything_with_the_fewest_requests() {
    let scopes = json!([
        {"prefix": "acme", "subscope": "a", "description": "A", "active": true, "visibility": "PUBLIC"},
        {"prefix": "acme", "subscope": "b", "description": "B", "active": false}
    ]);
    let clients = json!([
        {"client_id": "c1", "client_name": "one", "scopes": ["acme:a"], "active": true, "integration_type": "maskinporten"},
        {"client_id": "c2", "client_name": "two", "active": false}
    ]);
    let server = RoutedServer::start(vec![
        ("/api/v1/scopes?inactive=true", scopes),
        ("/api/v1/clients", clients),
        (
            "/api/v1/scopes/access/all?accessible_for_all=true",
            json!([{"scope": "other:x", "state": "APPROVED"}, {"scope": "other:y", "state": "DENIED"}]),
        ),
        (
            "/api/v1/scopes/access?scope=acme%3Aa",
            json!([{"scope": "acme:a", "consumer_orgno": "974760673", "state": "APPROVED"},
                   {"scope": "acme:a", "consumer_orgno": "991825827", "state": "REQUESTED"}]),
        ),
        ("/api/v1/scopes/access?scope=acme%3Ab", json!([])),
        (
            "/api/v1/clients/c1/jwks",
            json!({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": "AQAB", "e": "AQAB", "exp": 1900000000}]}),
        ),
    ])
    .await;
    let client = server.client();
    let live = client.fetch().await.unwrap();
    let paths = server.paths();
    // 3 lists + 1 request per scope for its grants + 1 per active client for its keys, and
    // one probe for the contacts extension (this server has none).
    assert_eq!(paths.len(), 7, "{paths:?}");
    assert_eq!(paths.iter().filter(|p| p.contains("extensions")).count(), 1);
    assert!(
        !paths.iter().any(|p| p.contains("/clients/c2/jwks")),
        "no keys read for a deactivated client"
    );
    assert_eq!(client.request_count() as usize, paths.len());
    assert_eq!(live.state.scopes.len(), 2);
    assert_eq!(
        live.state.scopes["acme:a"].grants,
        [org("974760673")].into(),
        "only approved grants"
    );
    assert!(!live.state.scopes["acme:b"].active);
    assert_eq!(live.state.clients["c1"].keys["k1"].exp, Some(1_900_000_000));
    assert!(!live.state.clients["c2"].active);
    assert_eq!(live.accessible_scopes, ["other:x".to_owned()].into());
    assert!(!live.contacts_api);
}

#[tokio::test]
async fn digdir_environments_are_never_asked_for_the_contacts_extension() {
    let server = RoutedServer::start(vec![]).await;
    let mut options = server.options();
    options.endpoints.digdir = Some(mpctl::api::endpoints::DigdirEnv::Test);
    let client =
        mpctl::api::connect::build_client(&options, client_support::kid_credentials("k")).unwrap();
    // Every list answers 404 here: fetch fails on the first list, but never probes extensions.
    let _ = client.fetch().await;
    assert!(!server.paths().iter().any(|p| p.contains("extensions")));
}

#[tokio::test]
async fn the_wrong_organisation_stops_before_any_api_call() {
    let server = FakeServer::start().await;
    server.set_token_org("974760673");
    let err = connect_with(
        server.options(Access::Read),
        client_support::kid_credentials("kid-1"),
        None,
    )
    .await
    .unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("974760673") && text.contains(ORG), "{text}");
    assert!(server.api_requests().is_empty());
}

#[tokio::test]
async fn the_token_endpoints_refusal_is_explained() {
    let server = FakeServer::start().await;
    server.push_token_reply(Reply::json(
        400,
        json!({"error": "invalid_grant", "error_description": "Invalid assertion. Client/kid not found (correlation id: abc)"}),
    ));
    let client = server.client(Access::Read);
    let err = client.list_scopes().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("Client/kid not found (correlation id: abc)"),
        "{text}"
    );
    assert!(text.contains("test-env"), "{text}");
    assert_eq!(text.matches("authentication:").count(), 1, "{text}");
    assert!(server.api_requests().is_empty());
}

/// A server that answers by request target (for requests sent concurrently).
struct RoutedServer {
    addr: std::net::SocketAddr,
    recorded: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl RoutedServer {
    async fn start(routes: Vec<(&str, serde_json::Value)>) -> Self {
        let routes: std::collections::HashMap<String, serde_json::Value> =
            routes.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let recorded = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let log = recorded.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let routes = routes.clone();
            let log = log.clone();
            async move {
                let target = request
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default();
                let (status, body) = if target == "/token" {
                    (
                        200,
                        json!({"access_token": client_support::fake_token(ORG), "expires_in": 120})
                            .to_string(),
                    )
                } else {
                    log.lock().unwrap().push(target.clone());
                    match routes.get(&target) {
                        Some(body) => (200, body.to_string()),
                        None => (404, "no route".to_owned()),
                    }
                };
                axum::response::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body))
                    .unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, recorded }
    }

    fn options(&self) -> mpctl::api::connect::ConnectOptions {
        mpctl::api::connect::ConnectOptions {
            env: "test-env".into(),
            endpoints: mpctl::api::endpoints::Endpoints {
                api_url: format!("http://{}/api/v1", self.addr),
                token_url: format!("http://{}/token", self.addr),
                audience: format!("http://{}/", self.addr),
                digdir: None,
            },
            access: Access::Read,
            concurrency: 3,
            retry: client_support::fast_retry(),
            organization: Some(org(ORG)),
            clock: None,
        }
    }

    fn client(&self) -> mpctl::api::HttpClient {
        mpctl::api::connect::build_client(&self.options(), client_support::kid_credentials("k"))
            .unwrap()
    }

    fn paths(&self) -> Vec<String> {
        self.recorded.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_retried_token_request_signs_a_fresh_grant() {
    let server = FakeServer::start().await;
    server.push_token_reply(Reply::Drop);
    let client = server.client(Access::Read);
    client.token().await.unwrap();
    let requests = server.token_requests();
    assert_eq!(requests.len(), 2);
    let (_, first) = decode_grant(&requests[0].body);
    let (_, second) = decode_grant(&requests[1].body);
    assert_ne!(first.jti, second.jti, "a grant is never sent twice");
}
