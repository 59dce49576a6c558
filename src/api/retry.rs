//! When to try a request again, and how long to wait first.
//!
//! Retried: 5xx, 429 (waiting what `Retry-After` says, within bounds) and transport failures
//! (connect errors, timeouts, dropped connections), with exponential backoff and full jitter.
//! A refusal for rate limiting — 429, or 503 with `Retry-After` — means the request was not
//! processed: it does not use up an attempt, and is retried (a create too) until the request
//! has waited [`RetryPolicy::throttle_budget`] in all.
//! Not retried: every other 4xx — the request itself is wrong. A non-idempotent request (a
//! `POST` that creates) is retried only when it surely never reached the server (a connect
//! error) or was refused unprocessed (429); after any other failure whether it happened is
//! unknown, and the caller re-reads instead of repeating it (see `client`).

use std::time::{Duration, SystemTime};

use rand::Rng;

/// Backoff parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first retry waits up to this long; each further one up to twice as long.
    pub base_delay: Duration,
    /// No backoff wait is longer.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is cut to it (a misconfigured server must not stall
    /// a run for hours).
    pub max_retry_after: Duration,
    /// One attempt fails when a connection takes longer than this to open…
    pub connect_timeout: Duration,
    /// …or when the whole attempt (connect, send, answer) takes longer than this.
    pub attempt_timeout: Duration,
    /// A request refused for rate limiting is tried again until this long has passed since
    /// its first attempt; only then is the refusal a failure.
    pub throttle_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(60),
            throttle_budget: Duration::from_secs(600),
        }
    }
}

/// What happened to one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection was never made: the server did not see the request.
    Connect,
    /// The request was sent (or may have been) but no complete answer came back.
    NoAnswer,
    /// The server answered with this status.
    Status(u16),
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try again after this long.
    RetryAfter(Duration),
    /// The request may have taken effect: find out by reading before doing anything else.
    Ambiguous,
    /// Give up and report the failure.
    Stop,
}

impl RetryPolicy {
    /// No retries at all (tests of single failures).
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Decides after attempt number `attempt` (1-based) failed. `idempotent` says whether
    /// repeating the request is harmless; `retry_after` is the server's `Retry-After` value.
    pub fn decide(
        &self,
        attempt: u32,
        failure: Failure,
        idempotent: bool,
        retry_after: Option<Duration>,
    ) -> Decision {
        let retryable = match failure {
            Failure::Connect => true,
            Failure::Status(429) => true,
            Failure::Status(s) if (500..=599).contains(&s) => idempotent,
            Failure::NoAnswer => idempotent,
            Failure::Status(_) => return Decision::Stop,
        };
        if !retryable {
            return Decision::Ambiguous;
        }
        if attempt >= self.max_attempts {
            return Decision::Stop;
        }
        let wait = match (failure, retry_after) {
            (Failure::Status(429 | 503), Some(after)) => after.min(self.max_retry_after),
            _ => self.backoff(attempt, &mut rand::thread_rng()),
        };
        Decision::RetryAfter(wait)
    }

    /// Decides after a refusal for rate limiting (see [`is_throttled`]): the `round`th refusal
    /// of a request whose first attempt was `elapsed` ago. Waits `Retry-After` (capped), or
    /// backs off without one; stops once the wait would end past the budget.
    pub fn decide_throttled(
        &self,
        round: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
    ) -> Decision {
        let wait = match retry_after {
            Some(after) => after.min(self.max_retry_after),
            None => self.backoff(round, &mut rand::thread_rng()),
        };
        if elapsed.saturating_add(wait) > self.throttle_budget {
            Decision::Stop
        } else {
            Decision::RetryAfter(wait)
        }
    }

    /// Full-jitter exponential backoff: uniformly random in `[0, min(max, base · 2^(n-1))]`
    /// for the `n`th retry, so that many clients failing together do not retry together.
    pub fn backoff(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let cap = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.gen_range(0..=millis))
    }
}

/// Whether a failure is a refusal for rate limiting — the request was not processed: 429, or
/// 503 with `Retry-After` (a server shedding load says when to come back).
pub fn is_throttled(failure: Failure, retry_after: Option<Duration>) -> bool {
    matches!(
        (failure, retry_after),
        (Failure::Status(429), _) | (Failure::Status(503), Some(_))
    )
}

/// Parses a `Retry-After` header: delay-seconds or an HTTP-date (IMF-fixdate), relative to
/// `now`. A date in the past means no wait.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let date = time::PrimitiveDateTime::parse(value, &format)
        .ok()?
        .assume_utc();
    let target = SystemTime::from(date);
    Some(target.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn server_errors_and_throttling_are_retried_when_idempotent() {
        let policy = RetryPolicy::default();
        for failure in [
            Failure::Status(500),
            Failure::Status(503),
            Failure::Status(429),
            Failure::Connect,
            Failure::NoAnswer,
        ] {
            assert!(
                matches!(
                    policy.decide(1, failure, true, None),
                    Decision::RetryAfter(_)
                ),
                "{failure:?}"
            );
        }
    }

    #[test]
    fn client_errors_are_not_retried() {
        let policy = RetryPolicy::default();
        for status in [400, 401, 403, 404, 409, 428] {
            assert_eq!(
                policy.decide(1, Failure::Status(status), true, None),
                Decision::Stop
            );
        }
    }

    #[test]
    fn a_create_is_only_repeated_when_the_server_surely_did_not_act() {
        let policy = RetryPolicy::default();
        assert!(matches!(
            policy.decide(1, Failure::Connect, false, None),
            Decision::RetryAfter(_)
        ));
        assert!(matches!(
            policy.decide(1, Failure::Status(429), false, None),
            Decision::RetryAfter(_)
        ));
        assert_eq!(
            policy.decide(1, Failure::Status(500), false, None),
            Decision::Ambiguous
        );
        assert_eq!(
            policy.decide(1, Failure::NoAnswer, false, None),
            Decision::Ambiguous
        );
    }

    #[test]
    fn attempts_are_bounded() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..Default::default()
        };
        assert!(matches!(
            policy.decide(2, Failure::Status(502), true, None),
            Decision::RetryAfter(_)
        ));
        assert_eq!(
            policy.decide(3, Failure::Status(502), true, None),
            Decision::Stop
        );
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.decide(1, Failure::Status(429), true, Some(Duration::from_secs(3))),
            Decision::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(
            policy.decide(
                1,
                Failure::Status(429),
                true,
                Some(Duration::from_secs(86_400))
            ),
            Decision::RetryAfter(policy.max_retry_after)
        );
    }

    #[test]
    fn rate_limiting_is_waited_out_within_the_budget() {
        let policy = RetryPolicy {
            throttle_budget: Duration::from_secs(30),
            ..Default::default()
        };
        assert!(is_throttled(Failure::Status(429), None));
        assert!(is_throttled(
            Failure::Status(503),
            Some(Duration::from_secs(1))
        ));
        assert!(!is_throttled(Failure::Status(503), None));
        assert!(!is_throttled(
            Failure::Status(500),
            Some(Duration::from_secs(1))
        ));
        // Far more rounds than attempts: still retried while the budget lasts.
        assert_eq!(
            policy.decide_throttled(50, Duration::from_secs(20), Some(Duration::from_secs(2))),
            Decision::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            policy.decide_throttled(3, Duration::from_secs(29), Some(Duration::from_secs(2))),
            Decision::Stop
        );
        assert!(matches!(
            policy.decide_throttled(1, Duration::ZERO, None),
            Decision::RetryAfter(_)
        ));
    }

    #[test]
    fn backoff_grows_exponentially_within_the_cap() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..Default::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for attempt in 1..=10 {
            let cap = Duration::from_millis((100u64 << (attempt - 1)).min(1000));
            for _ in 0..50 {
                assert!(policy.backoff(attempt, &mut rng) <= cap);
            }
        }
        // Jitter: not every draw is the same.
        let draws: std::collections::BTreeSet<_> =
            (0..20).map(|_| policy.backoff(4, &mut rng)).collect();
        assert!(draws.len() > 1);
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
