//! Rate limiting is not failure: a 429 (or a 503 with `Retry-After`) means the request was not
//! processed, so it is waited out — without using up attempts, a create included, and without
//! a re-read — until the request's time budget runs out; the client's concurrency drops while
//! the server pushes back and rises again when it stops.

use crate::support::client as client_support;

use std::time::Duration;

use client_support::{FakeServer, Reply, kid_credentials};
use mpctl::api::connect::{Access, build_client};
use mpctl::api::{ApiError, SelfService};
use mpctl::state::ClientState;
use serde_json::json;

fn refused(status: u16) -> Reply {
    Reply::Status(
        status,
        vec![("Retry-After".into(), "0".into())],
        r#"{"error":"slow down"}"#.into(),
    )
}

fn new_client() -> ClientState {
    ClientState {
        name: "sync".into(),
        description: "Sync".into(),
        active: true,
        ..ClientState::default()
    }
}

#[tokio::test]
async fn refusals_do_not_use_up_attempts_and_a_create_is_simply_sent_again() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Write);
    // Far more refusals than the policy's 4 attempts, then the create goes through.
    for _ in 0..7 {
        server.push(refused(429));
    }
    server.push(refused(503));
    server.push(Reply::json(
        201,
        json!({"client_id": "new-id", "client_name": "sync"}),
    ));
    let id = client.create_client(&new_client()).await.unwrap();
    assert_eq!(id, "new-id");
    let lines: Vec<String> = server.api_requests().iter().map(|r| r.line()).collect();
    // Not ambiguous: no read to find out whether the create happened.
    assert_eq!(lines, vec!["POST /api/v1/clients".to_owned(); 9]);
    assert_eq!(client.throttled_count(), 8);
}

#[tokio::test]
async fn a_503_without_retry_after_is_still_a_failed_attempt() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Write);
    for _ in 0..4 {
        server.push(Reply::Status(503, Vec::new(), "down".into()));
    }
    server.push(Reply::json(200, json!([])));
    // A read: retried as a failure, 4 attempts in all, then given up.
    let err = client.list_clients().await.unwrap_err();
    assert!(matches!(err, ApiError::Status { status: 503, .. }), "{err}");
    assert_eq!(server.api_requests().len(), 4);
    assert_eq!(client.throttled_count(), 0);
}

#[tokio::test]
async fn rate_limiting_fails_only_when_the_budget_runs_out() {
    let server = FakeServer::start().await;
    let mut options = server.options(Access::Write);
    options.retry.throttle_budget = Duration::from_millis(1500);
    let client = build_client(&options, kid_credentials("kid-1")).unwrap();
    for _ in 0..10 {
        server.push(Reply::Status(
            429,
            vec![("Retry-After".into(), "1".into())],
            "rate limit exceeded".into(),
        ));
    }
    let err = client.list_clients().await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ApiError::Status { status: 429, .. }),
        "{text}"
    );
    assert!(text.contains("rate limiting"), "{text}");
    // One wait of a second fits the budget, a second one would not.
    assert_eq!(server.api_requests().len(), 2);
}

#[tokio::test]
async fn concurrency_drops_under_pushback_and_recovers_after_it() {
    let server = FakeServer::start().await;
    let client = server.client(Access::Read);
    assert_eq!(client.current_concurrency(), 4);
    server.push(refused(429));
    client.list_clients().await.unwrap();
    assert_eq!(client.current_concurrency(), 2, "halved by the refusal");
    for _ in 0..20 {
        client.list_clients().await.unwrap();
    }
    assert_eq!(
        client.current_concurrency(),
        4,
        "back to the configured maximum"
    );
}
