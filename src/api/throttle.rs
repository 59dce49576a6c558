//! Adaptive concurrency under rate limiting: how many requests one environment's client keeps in
//! flight while the server pushes back.
//!
//! AIMD, as TCP does with its window: every answer that is not a refusal raises the limit by
//! `1 / limit` (one more request per round of answers), every refusal (429, or 503 with
//! `Retry-After`) halves it — once per round: refusals of requests sent before the last decrease
//! are the same episode — never below one request nor above the configured concurrency. A
//! refusal's `Retry-After` also holds back every new request until it has passed, so one
//! refusal does not become as many as there are requests in flight.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The multiplicative decrease on a refusal.
const DECREASE: f64 = 0.5;

/// Shared by every request of one client.
#[derive(Debug)]
pub struct Throttle {
    max: usize,
    state: Mutex<State>,
    changed: Notify,
    refusals: AtomicU64,
}

#[derive(Debug)]
struct State {
    /// The current limit; requests in flight are at most its integer part (and at least one).
    limit: f64,
    in_flight: usize,
    /// No new request starts before this.
    paused_until: Option<Instant>,
    /// When the limit was last decreased.
    decreased_at: Option<Instant>,
}

/// One request's place in flight; dropping it frees the place.
#[derive(Debug)]
pub struct Permit<'a> {
    throttle: &'a Throttle,
    started: Instant,
}

impl Throttle {
    /// At most `max` requests in flight (and that many at the start).
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            max,
            state: Mutex::new(State {
                limit: max as f64,
                in_flight: 0,
                paused_until: None,
                decreased_at: None,
            }),
            changed: Notify::new(),
            refusals: AtomicU64::new(0),
        }
    }

    /// Refusals seen so far.
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    /// The number of requests now allowed in flight.
    pub fn limit(&self) -> usize {
        self.with_state(|s| allowed(s.limit, self.max))
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Waits until a request may start: no pause in force and a free place.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = Instant::now();
            let wait = self.with_state(|s| match s.paused_until {
                Some(until) if until > now => Err(Some(until)),
                _ if s.in_flight < allowed(s.limit, self.max) => {
                    s.in_flight += 1;
                    Ok(())
                }
                _ => Err(None),
            });
            match wait {
                Ok(()) => {
                    return Permit {
                        throttle: self,
                        started: now,
                    };
                }
                Err(Some(until)) => tokio::time::sleep_until(until).await,
                Err(None) => notified.await,
            }
        }
    }

    /// The server answered without pushing back: additive increase.
    pub fn answered(&self, _permit: &Permit<'_>) {
        let raised = self.with_state(|s| {
            let before = allowed(s.limit, self.max);
            s.limit = (s.limit + 1.0 / s.limit.max(1.0)).min(self.max as f64);
            allowed(s.limit, self.max) > before
        });
        if raised {
            self.changed.notify_waiters();
        }
    }

    /// The server refused the request unprocessed (rate limited): multiplicative decrease,
    /// once per round, and no new request for `retry_after`.
    pub fn refused(&self, permit: &Permit<'_>, retry_after: Option<Duration>) {
        let now = Instant::now();
        self.refusals.fetch_add(1, Ordering::Relaxed);
        self.with_state(|s| {
            if s.decreased_at.is_none_or(|at| permit.started >= at) {
                s.limit = (s.limit * DECREASE).max(1.0);
                s.decreased_at = Some(now);
            }
            if let Some(after) = retry_after {
                let until = now + after;
                if s.paused_until.is_none_or(|p| p < until) {
                    s.paused_until = Some(until);
                }
            }
        });
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.throttle
            .with_state(|s| s.in_flight = s.in_flight.saturating_sub(1));
        self.throttle.changed.notify_waiters();
    }
}

/// Requests allowed in flight at `limit`.
fn allowed(limit: f64, max: usize) -> usize {
    (limit.floor() as usize).clamp(1, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refusals_halve_the_limit_once_per_round_and_answers_raise_it_to_the_cap() {
        let throttle = Throttle::new(8);
        assert_eq!(throttle.limit(), 8);
        let a = throttle.acquire().await;
        let b = throttle.acquire().await;
        throttle.refused(&a, None);
        assert_eq!(throttle.limit(), 4);
        // `b` was sent before the decrease: the same episode, no second halving.
        throttle.refused(&b, None);
        assert_eq!(throttle.limit(), 4);
        drop((a, b));
        let c = throttle.acquire().await;
        throttle.refused(&c, None);
        assert_eq!(throttle.limit(), 2);
        drop(c);
        for _ in 0..3 {
            let p = throttle.acquire().await;
            throttle.refused(&p, None);
        }
        assert_eq!(throttle.limit(), 1, "never below one");
        for _ in 0..200 {
            let p = throttle.acquire().await;
            throttle.answered(&p);
        }
        assert_eq!(throttle.limit(), 8, "raised again, capped at the maximum");
    }

    #[tokio::test]
    async fn in_flight_requests_are_bounded_by_the_limit() {
        let throttle = std::sync::Arc::new(Throttle::new(2));
        let first = throttle.acquire().await;
        let _second = throttle.acquire().await;
        let t = throttle.clone();
        let third = tokio::spawn(async move {
            let _p = t.acquire().await;
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!third.is_finished(), "a third request waits for a place");
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), third)
            .await
            .expect("freed place is taken")
            .unwrap();
    }

    #[tokio::test]
    async fn retry_after_holds_back_every_new_request() {
        let throttle = Throttle::new(4);
        let p = throttle.acquire().await;
        throttle.refused(&p, Some(Duration::from_millis(150)));
        drop(p);
        let started = Instant::now();
        let _q = throttle.acquire().await;
        assert!(started.elapsed() >= Duration::from_millis(140));
    }
}
