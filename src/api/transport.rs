//! Sending one logical request: attempts with the retry policy, a tracing span per attempt
//! (method, path, status, duration — shown with `-v`), and the answer read in full. Headers and
//! bodies are never logged: they carry tokens and grants.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tracing::Instrument;

use super::retry::{Decision, Failure, RetryPolicy, is_throttled, parse_retry_after};
use super::throttle::Throttle;

/// How a request ended.
#[derive(Debug)]
pub(crate) enum Sent {
    /// A 2xx answer.
    Ok { body: String },
    /// An error status, after any retries. `ambiguous`: a non-idempotent request may still have
    /// taken effect.
    Status {
        status: u16,
        body: String,
        ambiguous: bool,
        /// How many attempts were made (a 404 on the second `DELETE` means the first worked).
        attempts: u32,
    },
    /// No answer, after any retries.
    Transport { message: String, ambiguous: bool },
}

/// Sends the request `build` makes (once per attempt), retrying as `policy` says.
/// `idempotent` tells whether repeating it is harmless; `method` and `path` are for the trace.
pub(crate) async fn send(
    policy: &RetryPolicy,
    idempotent: bool,
    method: &str,
    path: &str,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Sent {
    send_throttled(policy, None, idempotent, method, path, build).await
}

/// [`send`], with every attempt taking its place in flight from `throttle` (when given) and
/// telling it whether the server pushed back. Refusals for rate limiting do not count as
/// attempts: they are waited out within [`RetryPolicy::throttle_budget`].
pub(crate) async fn send_throttled(
    policy: &RetryPolicy,
    throttle: Option<&Throttle>,
    idempotent: bool,
    method: &str,
    path: &str,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Sent {
    let first = Instant::now();
    let mut attempt = 0u32;
    let mut refusals = 0u32;
    loop {
        attempt += 1;
        let span = tracing::info_span!("request", method, path, attempt);
        let permit = match throttle {
            Some(t) => Some(t.acquire().await),
            None => None,
        };
        let result = attempt_once(&build, method, path)
            .instrument(span.clone())
            .await;
        let (failure, retry_after, outcome) = match result {
            Attempt::Done(sent) => {
                if let (Some(t), Some(p)) = (throttle, &permit) {
                    t.answered(p);
                }
                return sent;
            }
            Attempt::Failed(failure, retry_after, outcome) => (failure, retry_after, outcome),
        };
        let decision = if is_throttled(failure, retry_after) {
            if let (Some(t), Some(p)) = (throttle, &permit) {
                t.refused(p, retry_after);
            }
            // Not processed: this attempt does not count.
            attempt -= 1;
            refusals += 1;
            policy.decide_throttled(refusals, first.elapsed(), retry_after)
        } else {
            // An answer other than a server error tells the server keeps up.
            if let (Some(t), Some(p), Failure::Status(status)) = (throttle, &permit, failure)
                && status < 500
            {
                t.answered(p);
            }
            policy.decide(attempt, failure, idempotent, retry_after)
        };
        drop(permit);
        match decision {
            Decision::RetryAfter(wait) => {
                span.in_scope(|| {
                    tracing::debug!(
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "retrying"
                    );
                });
                tokio::time::sleep(wait).await;
            }
            Decision::Ambiguous => return finish(outcome, attempt, true),
            Decision::Stop => return finish(outcome, attempt.max(1), false),
        }
    }
}

/// Attempts sent by this process, for progress displays.
static SENT: AtomicU64 = AtomicU64::new(0);

/// How many HTTP requests (attempts, retries included) this process has sent so far.
pub fn requests_sent() -> u64 {
    SENT.load(Ordering::Relaxed)
}

/// One attempt's result: final, or a failure the policy decides about.
enum Attempt {
    Done(Sent),
    Failed(Failure, Option<Duration>, Sent),
}

async fn attempt_once(
    build: &impl Fn() -> reqwest::RequestBuilder,
    method: &str,
    path: &str,
) -> Attempt {
    let started = Instant::now();
    SENT.fetch_add(1, Ordering::Relaxed);
    let response = match build().send().await {
        Ok(response) => response,
        Err(e) => {
            let failure = if e.is_connect() {
                Failure::Connect
            } else {
                Failure::NoAnswer
            };
            let message = describe(&e);
            tracing::info!(
                duration_ms = elapsed_ms(started),
                "{method} {path}: no answer: {message}"
            );
            return Attempt::Failed(
                failure,
                None,
                Sent::Transport {
                    message,
                    ambiguous: false,
                },
            );
        }
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    match response.text().await {
        Ok(body) => {
            let duration_ms = elapsed_ms(started);
            tracing::info!(
                status,
                duration_ms,
                "{method} {path} → {status} in {duration_ms} ms"
            );
            if (200..300).contains(&status) {
                Attempt::Done(Sent::Ok { body })
            } else {
                Attempt::Failed(
                    Failure::Status(status),
                    retry_after,
                    Sent::Status {
                        status,
                        body,
                        ambiguous: false,
                        attempts: 0,
                    },
                )
            }
        }
        Err(e) => {
            let message = format!("the answer ({status}) was cut off: {}", describe(&e));
            tracing::info!(
                status,
                duration_ms = elapsed_ms(started),
                "{method} {path}: {message}"
            );
            Attempt::Failed(
                Failure::NoAnswer,
                None,
                Sent::Transport {
                    message,
                    ambiguous: false,
                },
            )
        }
    }
}

/// The final outcome, with how many attempts it took and whether it is ambiguous.
fn finish(outcome: Sent, attempts: u32, ambiguous: bool) -> Sent {
    match outcome {
        Sent::Status { status, body, .. } => Sent::Status {
            status,
            body,
            ambiguous,
            attempts,
        },
        Sent::Transport { message, .. } => Sent::Transport { message, ambiguous },
        ok => ok,
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A transport error in words, without the URL's query (scope names are fine, but keep the
/// message short) and without any header.
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the answer was cut off"
    } else {
        "the connection failed"
    };
    let mut source = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

/// An HTTP client with rustls, the given timeouts (to open a connection, and for a whole
/// request) and mpctl's user agent.
pub fn http_client(
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .user_agent(concat!("mpctl/", env!("CARGO_PKG_VERSION")))
        .build()
}
