//! The emulator's token endpoint over real HTTP (JWT-bearer grant with a registered key and
//! with a business certificate, every refusal), its fault injection, and its routes against
//! the committed OpenAPI description.

use crate::support::emulator as emulator_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use emulator_support::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use mpctl::emulator::{EmulatorConfig, FaultConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Org A owns `acme:orders.read` and grants it to org B; B has a client holding it with a
/// registered key. Returns (client id, kid, private key).
async fn consumer_client(env: &Env) -> (String, String, String) {
    env.create_scope(0, "acme", "orders.read").await;
    env.grant(0, "acme:orders.read", ORG_B).await;
    let (status, client) = env.create_client(1, &["acme:orders.read"]).await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let id = client["client_id"].as_str().unwrap().to_owned();
    let (pem, jwk) = new_key("order-sync-1");
    let (status, body) = env
        .call(
            1,
            Method::POST,
            &format!("/clients/{id}/jwks"),
            Some(json!({"keys": [jwk]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (id, "order-sync-1".into(), pem)
}

async fn try_token(env: &Env, assertion: &str) -> (StatusCode, Value) {
    post_token(&env.http, &env.emu.token_url(), assertion).await
}

fn assert_oauth_error(result: &(StatusCode, Value), error: &str, mentions: &str) {
    assert_eq!(result.0, StatusCode::BAD_REQUEST, "{}", result.1);
    assert_eq!(result.1["error"], error, "{}", result.1);
    let description = result.1["error_description"].as_str().unwrap();
    assert!(description.contains(mentions), "{description}");
    assert!(description.contains("correlation id"), "{description}");
}

#[tokio::test]
async fn a_client_key_grant_yields_a_verifiable_access_token() {
    let env = Env::start().await;
    let (id, kid, pem) = consumer_client(&env).await;
    let now = env.emu.clock().now_unix();
    let assertion = Assertion::new(&id, &env.emu.issuer(), "acme:orders.read", now)
        .sign(KeyRef::Kid(&kid), &pem);
    let (status, body) = try_token(&env, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "acme:orders.read");
    assert_eq!(body["expires_in"], 120);

    // The access token verifies against the published JWKS.
    let metadata: Value = env
        .get_json(&format!(
            "{}.well-known/oauth-authorization-server",
            env.emu.issuer()
        ))
        .await;
    assert_eq!(metadata["issuer"], env.emu.issuer());
    assert_eq!(metadata["token_endpoint"], env.emu.token_url());
    let jwks: JwkSet = env.get_json(metadata["jwks_uri"].as_str().unwrap()).await;
    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    let claims =
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap()
            .claims;
    assert_eq!(
        claims["consumer"],
        json!({"authority": "iso6523-actorid-upis", "ID": format!("0192:{ORG_B}")})
    );
    assert_eq!(claims["client_id"], id);
    assert_eq!(claims["scope"], "acme:orders.read");
    assert_eq!(claims["iss"], env.emu.issuer());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
    assert!(claims["jti"].as_str().is_some());

    // The same assertion again: jti replay.
    assert_oauth_error(&try_token(&env, &assertion).await, "invalid_grant", "jti");
}

#[tokio::test]
async fn assertions_with_bad_claims_are_refused() {
    let env = Env::start().await;
    let (id, kid, pem) = consumer_client(&env).await;
    let now = env.emu.clock().now_unix();
    let issuer = env.emu.issuer();
    let base = || Assertion::new(&id, &issuer, "acme:orders.read", now);

    let mut wrong_aud = base();
    wrong_aud.aud = json!("https://maskinporten.no/");
    assert_oauth_error(
        &try_token(&env, &wrong_aud.sign(KeyRef::Kid(&kid), &pem)).await,
        "invalid_grant",
        "aud",
    );

    let mut aud_array = base();
    aud_array.aud = json!([issuer]);
    assert_eq!(
        try_token(&env, &aud_array.sign(KeyRef::Kid(&kid), &pem))
            .await
            .0,
        StatusCode::OK
    );

    let mut long = base();
    long.exp = now + 121;
    assert_oauth_error(
        &try_token(&env, &long.sign(KeyRef::Kid(&kid), &pem)).await,
        "invalid_grant",
        "120",
    );

    let mut early = base();
    early.iat = now - 60;
    early.exp = now + 30;
    assert_oauth_error(
        &try_token(&env, &early.sign(KeyRef::Kid(&kid), &pem)).await,
        "invalid_grant",
        "iat",
    );

    let mut expired = base();
    expired.iat = now - 9;
    expired.exp = now - 30 + 9;
    assert_oauth_error(
        &try_token(&env, &expired.sign(KeyRef::Kid(&kid), &pem)).await,
        "invalid_grant",
        "expired",
    );

    let (other_pem, _) = fresh_key("unused");
    assert_oauth_error(
        &try_token(&env, &base().sign(KeyRef::Kid(&kid), &other_pem)).await,
        "invalid_grant",
        "signature",
    );
    assert_oauth_error(
        &try_token(&env, &base().sign(KeyRef::Kid("unknown-kid"), &pem)).await,
        "invalid_grant",
        "kid",
    );

    let mut other_client = base();
    other_client.iss = env.admins[1].client_id.clone();
    assert_oauth_error(
        &try_token(&env, &other_client.sign(KeyRef::Kid(&kid), &pem)).await,
        "invalid_grant",
        "not registered",
    );

    let mut unknown = base();
    unknown.iss = "no-such-client".into();
    assert_oauth_error(
        &try_token(&env, &unknown.sign(KeyRef::Kid(&kid), &pem)).await,
        "invalid_client",
        "unknown",
    );

    let mut not_held = base();
    not_held.scope = "acme:orders.read acme:other".into();
    assert_oauth_error(
        &try_token(&env, &not_held.sign(KeyRef::Kid(&kid), &pem)).await,
        "invalid_scope",
        "acme:other",
    );
    let mut admin_scope = base();
    admin_scope.scope = "idporten:scopes.write".into();
    assert_oauth_error(
        &try_token(&env, &admin_scope.sign(KeyRef::Kid(&kid), &pem)).await,
        "invalid_scope",
        "idporten",
    );
    let mut no_scope = base();
    no_scope.scope = String::new();
    assert_oauth_error(
        &try_token(&env, &no_scope.sign(KeyRef::Kid(&kid), &pem)).await,
        "invalid_scope",
        "scope",
    );

    // A revoked grant stops the scope at the token endpoint, though the client still lists it.
    env.call(
        0,
        Method::DELETE,
        &format!("/scopes/access/{ORG_B}?scope=acme%3Aorders.read"),
        None,
    )
    .await;
    assert_oauth_error(
        &try_token(&env, &base().sign(KeyRef::Kid(&kid), &pem)).await,
        "invalid_scope",
        "acme:orders.read",
    );

    // Form-level errors.
    let response = env
        .http
        .post(env.emu.token_url())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let response = env
        .http
        .post(env.emu.token_url())
        .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
}

#[tokio::test]
async fn extreme_claims_are_refused_without_harm() {
    let env = Env::start().await;
    let (id, kid, pem) = consumer_client(&env).await;
    let now = env.emu.clock().now_unix();
    for (iat, exp) in [
        (i64::MIN, i64::MAX),
        (now, i64::MIN),
        (now, i64::MAX),
        (i64::MAX, i64::MAX),
    ] {
        let mut assertion = Assertion::new(&id, &env.emu.issuer(), "acme:orders.read", now);
        assertion.iat = iat;
        assertion.exp = exp;
        let result = try_token(&env, &assertion.sign(KeyRef::Kid(&kid), &pem)).await;
        assert_eq!(
            result.1["error"], "invalid_grant",
            "iat {iat} exp {exp}: {}",
            result.1
        );
    }
    for garbage in [
        "",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.e30.",
        "x".repeat(10_000).as_str(),
    ] {
        let (status, body) = try_token(&env, garbage).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    // The emulator still answers.
    let (status, _) = env.call(0, Method::GET, "/scopes", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_key_is_refused_and_a_deactivated_client_too() {
    let env = Env::start().await;
    let (id, kid, pem) = consumer_client(&env).await;
    env.emu.clock().advance(Duration::from_secs(366 * 86_400));
    let now = env.emu.clock().now_unix();
    let assertion = Assertion::new(&id, &env.emu.issuer(), "acme:orders.read", now)
        .sign(KeyRef::Kid(&kid), &pem);
    assert_oauth_error(
        &try_token(&env, &assertion).await,
        "invalid_grant",
        "expired",
    );

    // The bootstrap admin key does not expire; deactivating the client stops its grants.
    let token = admin_token(&env.emu, &env.http, &env.admins[1], ADMIN_SCOPES).await;
    env.call_with(
        Some(&token),
        Method::DELETE,
        &format!("/clients/{id}"),
        None,
    )
    .await;
    let assertion = Assertion::new(&id, &env.emu.issuer(), "acme:orders.read", now)
        .sign(KeyRef::Kid(&kid), &pem);
    assert_oauth_error(
        &try_token(&env, &assertion).await,
        "invalid_client",
        "inactive",
    );
}

#[tokio::test]
async fn a_business_certificate_authenticates_the_admin_client() {
    let env = Env::start().await;
    let admin = &env.admins[0];
    let cert = env.emu.issue_business_certificate(&org(ORG_A), 30).unwrap();
    let now = env.emu.clock().now_unix();
    let assertion = Assertion::new(&admin.client_id, &env.emu.issuer(), ADMIN_SCOPES, now)
        .sign(KeyRef::X5c(&cert.x5c), cert.private_key_pem.expose());
    let (status, body) = try_token(&env, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let (status, _) = env
        .call_with(Some(token), Method::GET, "/scopes", None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Another organisation's certificate does not fit A's client.
    let cert_b = env.emu.issue_business_certificate(&org(ORG_B), 30).unwrap();
    let assertion = Assertion::new(&admin.client_id, &env.emu.issuer(), ADMIN_SCOPES, now)
        .sign(KeyRef::X5c(&cert_b.x5c), cert_b.private_key_pem.expose());
    assert_oauth_error(&try_token(&env, &assertion).await, "invalid_grant", ORG_B);

    // A certificate from an untrusted CA.
    let foreign = mpctl::emulator::ca::TestCa::generate()
        .unwrap()
        .issue(&org(ORG_A), now - 60, now + 86_400)
        .unwrap();
    let assertion = Assertion::new(&admin.client_id, &env.emu.issuer(), ADMIN_SCOPES, now)
        .sign(KeyRef::X5c(&foreign.x5c), foreign.private_key_pem.expose());
    assert_oauth_error(
        &try_token(&env, &assertion).await,
        "invalid_grant",
        "trusted",
    );

    // Signed with a key other than the certificate's.
    let assertion = Assertion::new(&admin.client_id, &env.emu.issuer(), ADMIN_SCOPES, now)
        .sign(KeyRef::X5c(&cert.x5c), cert_b.private_key_pem.expose());
    assert_oauth_error(
        &try_token(&env, &assertion).await,
        "invalid_grant",
        "signature",
    );

    // An expired certificate.
    env.emu.clock().advance(Duration::from_secs(31 * 86_400));
    let now = env.emu.clock().now_unix();
    let assertion = Assertion::new(&admin.client_id, &env.emu.issuer(), ADMIN_SCOPES, now)
        .sign(KeyRef::X5c(&cert.x5c), cert.private_key_pem.expose());
    assert_oauth_error(
        &try_token(&env, &assertion).await,
        "invalid_grant",
        "expired",
    );
}

#[tokio::test]
async fn iat_may_follow_the_machine_clock_when_the_emulator_clock_moved() {
    let env = Env::start().await;
    env.emu.clock().advance(Duration::from_secs(400 * 86_400));
    let admin = &env.admins[0];
    let assertion = Assertion::new(&admin.client_id, &env.emu.issuer(), ADMIN_SCOPES, now())
        .sign(KeyRef::Kid(&admin.kid), admin.private_key_pem.expose());
    let (status, body) = try_token(&env, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn new_clients_and_keys_work_only_after_the_propagation_delay() {
    let env = Env::start().await;
    env.emu.set_faults("propagation=120s".parse().unwrap());
    let (id, kid, pem) = consumer_client(&env).await;
    let sign = |env: &Env| {
        Assertion::new(
            &id,
            &env.emu.issuer(),
            "acme:orders.read",
            env.emu.clock().now_unix(),
        )
        .sign(KeyRef::Kid(&kid), &pem)
    };
    assert_oauth_error(
        &try_token(&env, &sign(&env)).await,
        "invalid_client",
        "unknown",
    );
    env.emu.clock().advance(Duration::from_secs(121));
    assert_eq!(try_token(&env, &sign(&env)).await.0, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn injected_errors_rate_limits_and_latency() {
    let env = Env::start().await;
    env.emu.set_faults("error_rate=1".parse().unwrap());
    let (status, body) = env.call(0, Method::GET, "/scopes", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // Diagnostics are never faulted.
    let audit = env
        .http
        .get(format!("{}emulator/audit", env.emu.issuer()))
        .send()
        .await
        .unwrap();
    assert_eq!(audit.status(), StatusCode::OK);

    env.emu.set_faults("rate_limit=2/s".parse().unwrap());
    let requests = (0..8).map(|_| {
        env.http
            .get(env.url("/scopes"))
            .bearer_auth(&env.tokens[0])
            .send()
    });
    let responses = futures_util::future::join_all(requests).await;
    let mut ok = 0;
    let mut retry_after = None;
    for response in responses {
        let response = response.unwrap();
        match response.status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(ok >= 2, "{ok} answered");
    assert!(retry_after.unwrap().parse::<u64>().unwrap() >= 1);

    env.emu.set_faults("latency=300ms".parse().unwrap());
    let started = Instant::now();
    let (status, _) = env.call(0, Method::GET, "/scopes", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Faults can be set over HTTP too.
    let response = env
        .http
        .put(format!("{}emulator/faults", env.emu.issuer()))
        .body("error_rate=1,seed=3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        env.call(0, Method::GET, "/scopes", None).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let response = env
        .http
        .put(format!("{}emulator/faults", env.emu.issuer()))
        .body("bogus=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn faults_are_deterministic_for_a_seed() {
    let env = Env::start().await;
    let config: FaultConfig = "error_rate=0.5,seed=11".parse().unwrap();
    let mut runs = Vec::new();
    for _ in 0..2 {
        env.emu.set_faults(config.clone());
        let mut statuses = Vec::new();
        for _ in 0..24 {
            statuses.push(env.call(0, Method::GET, "/scopes", None).await.0.as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    let errors = runs[0].iter().filter(|s| **s == 503).count();
    assert!((4..=20).contains(&errors), "{:?}", runs[0]);
}

#[tokio::test]
async fn dropped_connections_before_and_after_processing() {
    let env = Env::start().await;
    let create = |subscope: &'static str| {
        env.http
            .post(env.url("/scopes"))
            .bearer_auth(&env.tokens[0])
            .json(&json!({"prefix": "acme", "subscope": subscope, "description": "d"}))
            .send()
    };

    // Before processing: no answer, nothing happened.
    env.emu.set_faults("drop_rate=1".parse().unwrap());
    assert!(create("before").await.is_err());
    // After processing: no answer, but the scope was created (an ambiguous create).
    env.emu.set_faults("drop_after_rate=1".parse().unwrap());
    assert!(create("after").await.is_err());

    env.emu.set_faults(FaultConfig::default());
    let (_, list) = env.call(0, Method::GET, "/scopes", None).await;
    let names: BTreeSet<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["acme:after"]));
    let (status, _) = env
        .call(
            0,
            Method::POST,
            "/scopes",
            Some(json!({"prefix": "acme", "subscope": "after", "description": "d"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a blind retry of the create conflicts"
    );
}

#[tokio::test]
async fn the_clock_can_be_read_and_moved_over_http() {
    let env = Env::start().await;
    let url = format!("{}emulator/clock", env.emu.issuer());
    let response = env
        .http
        .post(&url)
        .json(&json!({"now": "2031-05-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let unix = env.emu.clock().now_unix();
    assert!((unix - 1_935_360_000).abs() < 5, "{unix}");
    let body: Value = env
        .http
        .post(&url)
        .json(&json!({"advance_seconds": 86_400}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body["now"].as_str().unwrap().starts_with("2031-05-02T"));
    let response = env
        .http
        .post(&url)
        .json(&json!({"now": "yesterday"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

fn openapi_routes() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/selfservice.openapi.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                routes.insert((method.clone(), path.clone()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn the_router_serves_exactly_the_openapi_description() {
    let documented = openapi_routes();
    let served: BTreeSet<(String, String)> = mpctl::emulator::server::ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, served);

    let env = Env::with(EmulatorConfig {
        contacts_extension: true,
        ..EmulatorConfig::default()
    })
    .await;
    let base = env.emu.issuer();
    for (method, path) in &served {
        let concrete = path
            .replace("{client_id}", "00000000-0000-4000-8000-000000000000")
            .replace("{consumer_orgno}", ORG_B);
        let url = format!("{}{}", base.trim_end_matches('/'), concrete);
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let status = env
            .http
            .request(method.clone(), &url)
            .send()
            .await
            .unwrap()
            .status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status}"
        );
    }
    // And something undocumented is not served.
    let status = env
        .http
        .get(format!("{base}api/v1/nothing"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::NOT_FOUND);
}
