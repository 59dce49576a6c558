//! The connection loop: accepts connections, injects faults (including closing a connection
//! without an answer) and hands requests to the router.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::emulator::Shared;
use crate::emulator::clock::iso8601;
use crate::emulator::faults::Decision;

use super::http::error_response;

/// The error that makes hyper close a connection without answering (a dropped connection).
#[derive(Debug)]
struct DroppedConnection;

impl std::fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DroppedConnection {}

async fn handle(
    router: Router,
    shared: Arc<Shared>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response, DroppedConnection> {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let result = handle_with_faults(router, shared, request).await;
    match &result {
        Ok(response) => tracing::debug!(
            "emulator: {method} {path} -> {} in {:?}",
            response.status().as_u16(),
            started.elapsed()
        ),
        Err(_) => tracing::debug!("emulator: {method} {path} -> connection dropped (fault)"),
    }
    result
}

async fn handle_with_faults(
    router: Router,
    shared: Arc<Shared>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response, DroppedConnection> {
    let path = request.uri().path();
    let faulty = path.starts_with("/api/") || path == "/token";
    let request = request.map(Body::new);
    if !faulty {
        return Ok(call(router, request).await);
    }
    match shared.faults.decide() {
        Decision::DropBefore => Err(DroppedConnection),
        Decision::ServerError => Ok(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "injected fault: service unavailable",
            iso8601(shared.clock.now_ms()),
        )),
        Decision::RateLimited { retry_after_secs } => {
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "rate limit exceeded; retry after the time in Retry-After",
                iso8601(shared.clock.now_ms()),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Ok(response)
        }
        Decision::Proceed {
            latency,
            drop_after,
        } => {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let response = call(router, request).await;
            if drop_after {
                // The change (if any) is committed; the caller never hears of it.
                return Err(DroppedConnection);
            }
            Ok(response)
        }
    }
}

async fn call(router: Router, request: Request<Body>) -> Response {
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Accepts connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let shared = shared.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                handle(router.clone(), shared.clone(), request)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
}
