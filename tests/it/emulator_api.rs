//! Contract tests of the emulator's self-service API over real HTTP: every endpoint, every
//! rule (org isolation, prefixes, organisation numbers, deactivation semantics, client scopes,
//! keys), the extension endpoints and the audit log.

use crate::support::emulator as emulator_support;

use emulator_support::*;
use mpctl::emulator::EmulatorConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn is_iso_with_offset(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Iso8601::DEFAULT)
            .is_ok()
            && s.ends_with("+00:00")
    })
}

#[tokio::test]
async fn scope_lifecycle_create_read_update_deactivate_reactivate() {
    let env = Env::start().await;
    let created = env.create_scope(0, "acme", "orders.read").await;
    assert_eq!(created["name"], "acme:orders.read");
    assert_eq!(created["active"], true);
    assert_eq!(created["owner_orgno"], ORG_A);
    assert!(is_iso_with_offset(&created["created"]), "{created}");
    assert!(is_iso_with_offset(&created["last_updated"]));

    let (status, body) = env
        .call(
            0,
            Method::GET,
            &format!("/scopes?scope={}", enc("acme:orders.read")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["description"], "test scope");

    // Re-creating an existing scope is a conflict.
    let (status, _) = env
        .call(
            0,
            Method::POST,
            "/scopes",
            Some(json!({"prefix": "acme", "subscope": "orders.read", "description": "again"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Update: the name cannot change, other fields can.
    let (status, body) = env
        .call(
            0,
            Method::PUT,
            &format!("/scopes?scope={}", enc("acme:orders.read")),
            Some(json!({"description": "Read orders", "visibility": "PRIVATE", "at_max_age": 300})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["description"], "Read orders");
    assert_eq!(body["visibility"], "PRIVATE");
    assert_eq!(body["at_max_age"], 300);
    let (status, _) = env
        .call(
            0,
            Method::PUT,
            &format!("/scopes?scope={}", enc("acme:orders.read")),
            Some(json!({"subscope": "orders.write"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = env
        .call(
            0,
            Method::PUT,
            &format!("/scopes?scope={}", enc("acme:orders.read")),
            Some(json!({"visibility": "SECRET"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Deactivate: gone from the default list, present with inactive=true.
    let (status, body) = env
        .call(
            0,
            Method::DELETE,
            &format!("/scopes?scope={}", enc("acme:orders.read")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], false);
    let (_, list) = env.call(0, Method::GET, "/scopes", None).await;
    assert_eq!(list, json!([]));
    let (_, list) = env
        .call(0, Method::GET, "/scopes?inactive=true", None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["active"], false);

    // POST of a deactivated name: 409, not a reactivation.
    let (status, body) = env
        .call(
            0,
            Method::POST,
            "/scopes",
            Some(json!({"prefix": "acme", "subscope": "orders.read", "description": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body["message"].as_str().unwrap().contains("deactivated"),
        "{body}"
    );

    // PUT replaces the whole scope: without its description it is refused, and nothing
    // changes.
    let (status, _) = env
        .call(
            0,
            Method::PUT,
            &format!("/scopes?scope={}", enc("acme:orders.read")),
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // PUT of the whole scope with active: true reactivates; fields left out go back to their
    // defaults.
    let (status, body) = env
        .call(
            0,
            Method::PUT,
            &format!("/scopes?scope={}", enc("acme:orders.read")),
            Some(json!({"description": "Read orders", "active": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], true);
    assert_eq!(body["visibility"], "PUBLIC", "reset: not in the body");
    assert_eq!(body["at_max_age"], 120, "reset: not in the body");
    let (_, list) = env.call(0, Method::GET, "/scopes", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Unknown scope: 404. Missing parameter: 400.
    let (status, _) = env
        .call(0, Method::GET, "/scopes?scope=acme%3Anope", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = env.call(0, Method::DELETE, "/scopes", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn scopes_need_a_registered_prefix_and_a_valid_name() {
    let env = Env::start().await;
    // Org C has no prefix at all; org B does not own `acme`.
    for (who, prefix) in [(2, "acme"), (1, "acme"), (2, "gamma")] {
        let (status, body) = env
            .call(
                who,
                Method::POST,
                "/scopes",
                Some(json!({"prefix": prefix, "subscope": "x", "description": "d"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("prefix"),
            "{body}"
        );
    }
    for subscope in ["Orders", "orders.", "a b", "", "x//y"] {
        let (status, _) = env
            .call(
                0,
                Method::POST,
                "/scopes",
                Some(json!({"prefix": "acme", "subscope": subscope, "description": "d"})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{subscope:?}");
    }
    let (status, _) = env
        .call(
            0,
            Method::POST,
            "/scopes",
            Some(json!({"prefix": "acme", "subscope": "ok"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "description is required");
    let (status, _) = env
        .call(0, Method::POST, "/scopes", Some(json!("not an object")))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Scope names with `/` travel in the query.
    let created = env.create_scope(0, "acme", "v1/orders/read").await;
    assert_eq!(created["name"], "acme:v1/orders/read");
}

#[tokio::test]
async fn organisations_see_and_change_only_their_own_resources() {
    let env = Env::start().await;
    env.create_scope(0, "acme", "orders.read").await;
    let path = format!("/scopes?scope={}", enc("acme:orders.read"));
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let body = (method == Method::PUT).then(|| json!({"description": "hijack"}));
        let (status, _) = env.call(1, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}");
    }
    let (status, _) = env
        .call(
            1,
            Method::GET,
            &format!("/scopes/access?scope={}", enc("acme:orders.read")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = env.grant(1, "acme:orders.read", ORG_B).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = env.call(1, Method::GET, "/scopes", None).await;
    assert_eq!(list, json!([]));

    let (status, client) = env.create_client(0, &[]).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = client["client_id"].as_str().unwrap();
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let body = (method == Method::PUT).then(|| json!({"description": "hijack"}));
        let (status, _) = env
            .call(1, method.clone(), &format!("/clients/{id}"), body)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}");
    }
    let (status, _) = env
        .call(1, Method::GET, &format!("/clients/{id}/jwks"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Ownership is checked before the body: another organisation learns nothing from a 400.
    let (_, jwk) = new_key("hijack");
    for (method, path, body) in [
        (
            Method::POST,
            format!("/clients/{id}/jwks"),
            json!({"keys": []}),
        ),
        (
            Method::PUT,
            format!("/clients/{id}/jwks"),
            json!("not a key set"),
        ),
        (
            Method::POST,
            format!("/clients/{id}/jwks"),
            json!({"keys": [jwk]}),
        ),
        (
            Method::PUT,
            format!("/clients/{id}"),
            json!("not an object"),
        ),
    ] {
        let (status, body) = env.call(1, method.clone(), &path, Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
    }
    let (_, list) = env.call(1, Method::GET, "/clients", None).await;
    assert_eq!(list, json!([]));
    let (_, list) = env.call(0, Method::GET, "/clients", None).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "the admin client is not listed"
    );
}

#[tokio::test]
async fn tokens_and_self_service_scopes_are_required() {
    let env = Env::start().await;
    let (status, _) = env.call_with(None, Method::GET, "/scopes", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = env
        .call_with(Some("not-a-jwt"), Method::GET, "/clients", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A read-only token reads but cannot write.
    let read = admin_token(
        &env.emu,
        &env.http,
        &env.admins[0],
        "idporten:scopes.read idporten:dcr.read",
    )
    .await;
    let (status, _) = env
        .call_with(Some(&read), Method::GET, "/scopes", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = env
        .call_with(Some(&read), Method::GET, "/clients", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = env
        .call_with(
            Some(&read),
            Method::POST,
            "/scopes",
            Some(json!({"prefix": "acme", "subscope": "x", "description": "d"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("idporten:scopes.write")
    );
    let (status, _) = env
        .call_with(
            Some(&read),
            Method::POST,
            "/clients",
            Some(json!({"client_name": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let scopes_only =
        admin_token(&env.emu, &env.http, &env.admins[0], "idporten:scopes.read").await;
    let (status, _) = env
        .call_with(Some(&scopes_only), Method::GET, "/clients", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Expired: move the clock past the token's lifetime.
    env.emu
        .clock()
        .advance(std::time::Duration::from_secs(3600));
    let (status, body) = env.call(0, Method::GET, "/scopes", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn grants_are_validated_listed_and_survive_deactivation() {
    let env = Env::start().await;
    env.create_scope(0, "acme", "orders.read").await;
    let scope = "acme:orders.read";

    for bad in ["974760674", "12345678", "abcdefghi", "000000000"] {
        let (status, _) = env.grant(0, scope, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // 000000000 passes the mod-11 check: refused for its first digit, and said so.
    let (_, body) = env.grant(0, scope, "000000000").await;
    assert!(body.to_string().contains("starts with 8 or 9"), "{body}");
    let (status, grant) = env.grant(0, scope, ORG_B).await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    assert_eq!(grant["state"], "APPROVED");
    assert_eq!(grant["consumer_orgno"], ORG_B);
    assert_eq!(grant["owner_orgno"], ORG_A);
    assert_eq!(grant["scope"], scope);
    assert!(is_iso_with_offset(&grant["created"]));
    // Granting again is idempotent.
    let (status, again) = env.grant(0, scope, ORG_B).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["created"], grant["created"]);
    let (status, _) = env.grant(0, "acme:unknown", ORG_B).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, list) = env.grants_of(0, scope).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // The consumer sees it.
    let (status, visible) = env.accessible(1).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        visible
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["scope"] == scope)
    );

    // Deactivating keeps the grant: the consumer still sees the scope (revoke first!).
    env.call(
        0,
        Method::DELETE,
        &format!("/scopes?scope={}", enc(scope)),
        None,
    )
    .await;
    let (_, visible) = env.accessible(1).await;
    assert!(
        visible
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["scope"] == scope),
        "{visible}"
    );
    let (_, list) = env.grants_of(0, scope).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Revoke removes it; revoking again is 404.
    let (status, _) = env
        .call(
            0,
            Method::DELETE,
            &format!("/scopes/access/{ORG_B}?scope={}", enc(scope)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, visible) = env.accessible(1).await;
    assert!(
        !visible
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["scope"] == scope)
    );
    let (status, _) = env
        .call(
            0,
            Method::DELETE,
            &format!("/scopes/access/{ORG_B}?scope={}", enc(scope)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn public_and_open_scopes_are_listed() {
    let env = Env::start().await;
    env.create_scope(0, "acme", "public").await;
    env.call(0, Method::POST, "/scopes", Some(json!({"prefix": "acme", "subscope": "private", "description": "d", "visibility": "PRIVATE"}))).await;
    env.call(0, Method::POST, "/scopes", Some(json!({"prefix": "acme", "subscope": "open", "description": "d", "accessible_for_all": true}))).await;
    let (_, all) = env.call(2, Method::GET, "/scopes/all", None).await;
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"acme:public") && names.contains(&"acme:open"));
    assert!(!names.contains(&"acme:private"));

    let (_, without) = env.call(2, Method::GET, "/scopes/access/all", None).await;
    assert_eq!(without, json!([]));
    let (_, with) = env.accessible(2).await;
    assert_eq!(with.as_array().unwrap().len(), 1);
    assert_eq!(with[0]["scope"], "acme:open");
    assert_eq!(with[0]["consumer_orgno"], ORG_C);
}

#[tokio::test]
async fn clients_hold_only_granted_or_open_scopes() {
    let env = Env::start().await;
    env.create_scope(0, "acme", "orders.read").await;
    env.call(0, Method::POST, "/scopes", Some(json!({"prefix": "acme", "subscope": "open", "description": "d", "accessible_for_all": true}))).await;

    // Not granted: refused, also for the owner's own organisation.
    let (status, body) = env.create_client(1, &["acme:orders.read"]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = env.create_client(0, &["acme:orders.read"]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = env.create_client(1, &["idporten:scopes.write"]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    env.grant(0, "acme:orders.read", ORG_B).await;
    let (status, client) = env
        .create_client(1, &["acme:orders.read", "acme:open"])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let id = client["client_id"].as_str().unwrap().to_owned();
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    assert_eq!(uuid.get_version_num(), 4);
    assert_eq!(client["client_orgno"], ORG_B);
    assert_eq!(client["integration_type"], "maskinporten");
    assert_eq!(client["active"], true);
    assert!(is_iso_with_offset(&client["created"]));

    // integration_type is immutable; client_orgno of another org is refused.
    let (status, body) = env
        .call(
            1,
            Method::PUT,
            &format!("/clients/{id}"),
            Some(json!({"integration_type": "idporten"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("integration_type")
    );
    let (status, _) = env
        .call(
            1,
            Method::POST,
            "/clients",
            Some(json!({"client_name": "x", "client_orgno": ORG_A})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Update as read, minus timestamps.
    let mut update = client.clone();
    update["description"] = json!("Changed");
    update["scopes"] = json!(["acme:open"]);
    let (status, updated) = env
        .call(1, Method::PUT, &format!("/clients/{id}"), Some(update))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["description"], "Changed");
    assert_eq!(updated["scopes"], json!(["acme:open"]));

    // Deactivate: kept in the list, inactive; reactivate with PUT.
    let (status, body) = env
        .call(1, Method::DELETE, &format!("/clients/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], false);
    let (_, list) = env.call(1, Method::GET, "/clients", None).await;
    assert_eq!(list[0]["active"], false);
    let (_, body) = env
        .call(
            1,
            Method::PUT,
            &format!("/clients/{id}"),
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(body["active"], true);
    let (status, _) = env
        .call(
            1,
            Method::GET,
            "/clients/00000000-0000-4000-8000-000000000000",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn keys_follow_the_real_limits_and_lifecycle() {
    let env = Env::start().await;
    let (_, client) = env.create_client(0, &[]).await;
    let id = client["client_id"].as_str().unwrap().to_owned();
    let path = format!("/clients/{id}/jwks");
    let keys: Vec<Value> = (0..6).map(|i| new_key(&format!("k{i}")).1).collect();

    let (status, empty) = env.call(0, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty["keys"], json!([]));

    let (status, body) = env
        .call(0, Method::POST, &path, Some(json!({"keys": keys[..2]})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, read) = env.call(0, Method::GET, &path, None).await;
    assert_eq!(read["keys"].as_array().unwrap().len(), 2);
    assert!(is_iso_with_offset(&read["created"]) && is_iso_with_offset(&read["last_updated"]));
    let exp = read["keys"][0]["exp"].as_i64().unwrap();
    let year = 365 * 24 * 3600;
    assert!(
        (exp - (env.emu.clock().now_unix() + year)).abs() < 60,
        "exp defaults to one year"
    );

    // A sixth key: 409 with the real message.
    let (status, body) = env
        .call(0, Method::PUT, &path, Some(json!({"keys": keys})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["message"],
        format!("Client '{id}' already has the maximum number of registered keys: 5")
    );

    // `use` is required; only RSA-2048 / RS256.
    let mut no_use = keys[0].clone();
    no_use.as_object_mut().unwrap().remove("use");
    let (status, _) = env
        .call(0, Method::POST, &path, Some(json!({"keys": [no_use]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut es = keys[0].clone();
    es["alg"] = json!("ES256");
    let (status, _) = env
        .call(0, Method::POST, &path, Some(json!({"keys": [es]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = env
        .call(0, Method::POST, &path, Some(json!({"keys": []})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A requested exp beyond a year is capped; a later one moves forward on re-post.
    env.emu
        .clock()
        .advance(std::time::Duration::from_secs(10 * 86_400));
    let mut far = keys[0].clone();
    far["exp"] = json!(env.emu.clock().now_unix() + 5 * year);
    let (status, body) = env
        .call(0, Method::PUT, &path, Some(json!({"keys": [far, keys[1]]})))
        .await;
    // The clock moved ten days, so the old token expired: get a fresh one first.
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let token = admin_token(&env.emu, &env.http, &env.admins[0], ADMIN_SCOPES).await;
    let mut far = keys[0].clone();
    far["exp"] = json!(env.emu.clock().now_unix() + 5 * year);
    let (status, _) = env
        .call_with(
            Some(&token),
            Method::PUT,
            &path,
            Some(json!({"keys": [far, keys[1]]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, read) = env.call_with(Some(&token), Method::GET, &path, None).await;
    let moved = read["keys"][0]["exp"].as_i64().unwrap();
    assert!(
        moved - exp >= 10 * 86_400 - 60,
        "re-posting moves exp forward: {exp} -> {moved}"
    );
    assert!(moved <= env.emu.clock().now_unix() + year);

    // A kid registered to another client is refused.
    let (_, other) = env
        .call_with(
            Some(&token),
            Method::POST,
            "/clients",
            Some(json!({"client_name": "other"})),
        )
        .await;
    let other_id = other["client_id"].as_str().unwrap();
    let (status, _) = env
        .call_with(
            Some(&token),
            Method::POST,
            &format!("/clients/{other_id}/jwks"),
            Some(json!({"keys": [keys[0]]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // DELETE removes every key.
    let (status, _) = env
        .call_with(Some(&token), Method::DELETE, &path, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, read) = env.call_with(Some(&token), Method::GET, &path, None).await;
    assert_eq!(read["keys"], json!([]));
    // Now the kid is free again.
    let (status, _) = env
        .call_with(
            Some(&token),
            Method::POST,
            &format!("/clients/{other_id}/jwks"),
            Some(json!({"keys": [keys[0]]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_4096_bit_key_is_refused() {
    let env = Env::start().await;
    let (_, client) = env.create_client(0, &[]).await;
    let id = client["client_id"].as_str().unwrap();
    let (_, mut jwk) = new_key("big");
    let n = vec![0xc5u8; 512];
    jwk["n"] = json!(base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        n
    ));
    let (status, body) = env
        .call(
            0,
            Method::POST,
            &format!("/clients/{id}/jwks"),
            Some(json!({"keys": [jwk]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("2048"));
}

#[tokio::test]
async fn the_audit_log_records_mutations_in_order() {
    let env = Env::start().await;
    env.create_scope(0, "acme", "orders.read").await;
    env.grant(0, "acme:orders.read", ORG_B).await;
    env.grant(0, "acme:orders.read", ORG_B).await; // no change, not audited
    env.call(
        0,
        Method::DELETE,
        &format!("/scopes/access/{ORG_B}?scope=acme%3Aorders.read"),
        None,
    )
    .await;
    env.call(0, Method::DELETE, "/scopes?scope=acme%3Aorders.read", None)
        .await;
    env.call(0, Method::GET, "/scopes", None).await; // reads are not audited

    let ops: Vec<(String, String, String)> = env
        .emu
        .audit()
        .into_iter()
        .filter(|e| e.org == ORG_A)
        .map(|e| (e.org, e.operation, e.target))
        .collect();
    let expected = [
        ("create_scope", "acme:orders.read".to_owned()),
        ("grant", format!("acme:orders.read -> {ORG_B}")),
        ("revoke", format!("acme:orders.read -> {ORG_B}")),
        ("deactivate_scope", "acme:orders.read".to_owned()),
    ];
    assert_eq!(ops.len(), expected.len(), "{ops:?}");
    for (got, (op, target)) in ops.iter().zip(expected) {
        assert_eq!((got.1.as_str(), got.2.as_str()), (op, target.as_str()));
    }
    let over_http: Value = env
        .get_json(&format!("{}emulator/audit", env.emu.issuer()))
        .await;
    assert_eq!(over_http.as_array().unwrap().len(), env.emu.audit().len());
}

#[tokio::test]
async fn contacts_are_an_extension_that_is_off_by_default() {
    let env = Env::start().await;
    let (status, _) = env.call(0, Method::GET, "/extensions/contacts", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let env = Env::with(EmulatorConfig {
        contacts_extension: true,
        ..EmulatorConfig::default()
    })
    .await;
    let (status, body) = env.call(0, Method::GET, "/extensions/contacts", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"notifications": [], "invoice": null}));
    let contacts = json!({"notifications": ["drift@acme.no"], "invoice": {"email": "faktura@acme.no", "reference": "PO-1"}});
    let (status, _) = env
        .call(
            0,
            Method::PUT,
            "/extensions/contacts",
            Some(contacts.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = env.call(0, Method::GET, "/extensions/contacts", None).await;
    assert_eq!(body, contacts);
    let (_, other) = env.call(1, Method::GET, "/extensions/contacts", None).await;
    assert_eq!(other["notifications"], json!([]));
    let (status, _) = env
        .call(
            0,
            Method::PUT,
            "/extensions/contacts",
            Some(json!({"notifications": ["nope"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, client) = env.create_client(0, &[]).await;
    let id = client["client_id"].as_str().unwrap();
    let path = format!("/extensions/clients/{id}/contacts");
    let (status, _) = env
        .call(
            0,
            Method::PUT,
            &path,
            Some(json!({"notifications": ["int@acme.no"], "invoice": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = env.call(0, Method::GET, &path, None).await;
    assert_eq!(body["notifications"], json!(["int@acme.no"]));
    let (status, _) = env.call(1, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bootstrap_is_idempotent_and_prefixes_are_exclusive() {
    let env = Env::start().await;
    let again = env
        .emu
        .bootstrap_org(&org(ORG_A), &["acme2".into()])
        .await
        .unwrap();
    assert_eq!(again, env.admins[0]);
    assert_eq!(env.emu.prefixes(&org(ORG_A)).unwrap(), ["acme", "acme2"]);
    assert!(
        env.emu
            .bootstrap_org(&org(ORG_B), &["acme".into()])
            .await
            .is_err()
    );
    assert!(
        env.emu
            .bootstrap_org(
                &mpctl::manifest::orgno::OrgNo::new_unchecked("974760674"),
                &[]
            )
            .await
            .is_err()
    );
    assert!(!format!("{again:?}").contains("PRIVATE KEY"));
}
