//! Seeded, deterministic fault injection: added latency, 5xx errors, 429 over a request-rate
//! limit, dropped connections (before the request is processed, or after — the response lost,
//! which leaves the caller unsure whether a create happened), and the propagation delay before
//! a new client or key works at the token endpoint.
//!
//! Spec syntax (`--faults`, [`FaultConfig::from_str`]): comma-separated `key=value` pairs,
//! `latency=20ms`, `error_rate=0.05`, `rate_limit=100/s`, `drop_rate=0.01`,
//! `drop_after_rate=0.01`, `propagation=2s`, `seed=7`. Durations take `ms`, `s` or `m`.
//! Faults apply to the self-service API and the token endpoint, never to `/emulator/…`.

use std::str::FromStr;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Which faults to inject. The default injects none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// Added to every request before it is processed.
    pub latency: Duration,
    /// Share of requests answered `503` without being processed.
    pub error_rate: f64,
    /// Requests per second served, as a token bucket holding one second's worth (bursts up to
    /// the limit, then the limit's rate); more get `429` with `Retry-After`.
    pub rate_limit: Option<u32>,
    /// Share of requests whose connection is closed before processing (nothing happened).
    pub drop_rate: f64,
    /// Share of requests whose connection is closed after processing (the change happened,
    /// the response is lost).
    pub drop_after_rate: f64,
    /// How long after creation a client or key becomes usable at the token endpoint.
    pub propagation: Duration,
    /// Seed of the random draws: the same seed and request order give the same faults.
    pub seed: u64,
}

/// A fault spec that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault spec `{part}`: {reason}")]
pub struct FaultSpecError {
    pub part: String,
    pub reason: String,
}

fn parse_duration(value: &str) -> Option<Duration> {
    let (number, unit) = if let Some(n) = value.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = value.strip_suffix('m') {
        (n, 60_000)
    } else {
        return None;
    };
    number
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .map(Duration::from_millis)
}

fn parse_rate(value: &str) -> Option<f64> {
    value
        .parse::<f64>()
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
}

impl FromStr for FaultConfig {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut config = FaultConfig::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let error = |reason: &str| FaultSpecError {
                part: part.to_owned(),
                reason: reason.to_owned(),
            };
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| error("expected key=value"))?;
            let value = value.trim();
            let rate_reason = "expected a share between 0 and 1, e.g. 0.05";
            let duration_reason = "expected a duration such as 20ms, 2s or 1m";
            match key.trim() {
                "latency" => {
                    config.latency = parse_duration(value).ok_or_else(|| error(duration_reason))?
                }
                "propagation" => {
                    config.propagation =
                        parse_duration(value).ok_or_else(|| error(duration_reason))?
                }
                "error_rate" => {
                    config.error_rate = parse_rate(value).ok_or_else(|| error(rate_reason))?
                }
                "drop_rate" => {
                    config.drop_rate = parse_rate(value).ok_or_else(|| error(rate_reason))?
                }
                "drop_after_rate" => {
                    config.drop_after_rate = parse_rate(value).ok_or_else(|| error(rate_reason))?
                }
                "rate_limit" => {
                    let n = value
                        .strip_suffix("/s")
                        .and_then(|n| n.trim().parse::<u32>().ok())
                        .filter(|n| *n > 0)
                        .ok_or_else(|| error("expected requests per second, e.g. 100/s"))?;
                    config.rate_limit = Some(n);
                }
                "seed" => {
                    config.seed = value
                        .parse()
                        .map_err(|_| error("expected a non-negative integer"))?
                }
                other => {
                    return Err(error(&format!(
                        "unknown fault `{other}`; known: latency, error_rate, rate_limit, drop_rate, drop_after_rate, propagation, seed"
                    )));
                }
            }
        }
        Ok(config)
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Process it (after `latency`), then drop the response if `drop_after`.
    Proceed { latency: Duration, drop_after: bool },
    /// Answer 429 with this `Retry-After` (seconds).
    RateLimited { retry_after_secs: u64 },
    /// Answer 503 without processing.
    ServerError,
    /// Close the connection without processing.
    DropBefore,
}

/// The live fault state: configuration, the seeded random sequence, the rate limit's bucket.
#[derive(Debug)]
pub struct Faults {
    config: RwLock<FaultConfig>,
    rng: Mutex<StdRng>,
    bucket: Mutex<Bucket>,
}

/// A token bucket: `tokens` (none yet: full) as of `at`. It outlives configuration changes, so
/// that changing another fault does not refill it.
#[derive(Debug)]
struct Bucket {
    tokens: Option<f64>,
    at: Instant,
}

impl Bucket {
    /// Takes a token at `limit` per second (capacity: `limit`), or says how long until one
    /// is there.
    fn take(&mut self, limit: u32, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(limit);
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        let tokens = self.tokens.map_or(rate, |t| (t + elapsed * rate).min(rate));
        self.at = now;
        if tokens >= 1.0 {
            self.tokens = Some(tokens - 1.0);
            Ok(())
        } else {
            self.tokens = Some(tokens);
            Err(Duration::from_secs_f64((1.0 - tokens) / rate))
        }
    }
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config: RwLock::new(config),
            bucket: Mutex::new(Bucket {
                tokens: None,
                at: Instant::now(),
            }),
        }
    }

    /// Replaces the configuration and restarts the random sequence from its seed.
    pub fn set(&self, config: FaultConfig) {
        if let Ok(mut rng) = self.rng.lock() {
            *rng = StdRng::seed_from_u64(config.seed);
        }
        if let Ok(mut current) = self.config.write() {
            *current = config;
        }
    }

    pub fn config(&self) -> FaultConfig {
        self.config.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// The propagation delay now configured.
    pub fn propagation(&self) -> Duration {
        self.config
            .read()
            .map(|c| c.propagation)
            .unwrap_or_default()
    }

    /// Decides the fate of the next request. Every call draws the same number of values from
    /// the seeded sequence, so the n-th request's fate depends only on the seed and n.
    pub fn decide(&self) -> Decision {
        let config = self.config();
        let (drop_draw, error_draw, after_draw) = match self.rng.lock() {
            Ok(mut rng) => (rng.r#gen::<f64>(), rng.r#gen::<f64>(), rng.r#gen::<f64>()),
            Err(_) => (1.0, 1.0, 1.0),
        };
        if let Some(limit) = config.rate_limit
            && let Ok(mut bucket) = self.bucket.lock()
            && let Err(wait) = bucket.take(limit, Instant::now())
        {
            // `Retry-After` takes whole seconds: the wait for the next token, rounded up.
            return Decision::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            };
        }
        if drop_draw < config.drop_rate {
            return Decision::DropBefore;
        }
        if error_draw < config.error_rate {
            return Decision::ServerError;
        }
        Decision::Proceed {
            latency: config.latency,
            drop_after: after_draw < config.drop_after_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_spec() {
        let config: FaultConfig =
            "latency=20ms,error_rate=0.05,rate_limit=100/s,drop_rate=0.01,propagation=2s,seed=7"
                .parse()
                .unwrap();
        assert_eq!(config.latency, Duration::from_millis(20));
        assert_eq!(config.error_rate, 0.05);
        assert_eq!(config.rate_limit, Some(100));
        assert_eq!(config.drop_rate, 0.01);
        assert_eq!(config.propagation, Duration::from_secs(2));
        assert_eq!(config.seed, 7);
    }

    #[test]
    fn rejects_bad_specs_with_the_offending_part() {
        let err = "latency=20,seed=1".parse::<FaultConfig>().unwrap_err();
        assert_eq!(err.part, "latency=20");
        assert!("error_rate=2".parse::<FaultConfig>().is_err());
        assert!("bogus=1".parse::<FaultConfig>().is_err());
        assert!("rate_limit=0/s".parse::<FaultConfig>().is_err());
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let config: FaultConfig = "error_rate=0.3,drop_rate=0.2,seed=42".parse().unwrap();
        let run = || {
            let faults = Faults::new(config.clone());
            (0..200).map(|_| faults.decide()).collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let errors = first
            .iter()
            .filter(|d| **d == Decision::ServerError)
            .count();
        assert!((30..=80).contains(&errors), "{errors} errors of 200");
    }

    #[test]
    fn rate_limit_answers_429_past_the_limit() {
        let faults = Faults::new("rate_limit=3/s".parse().unwrap());
        let decisions: Vec<_> = (0..5).map(|_| faults.decide()).collect();
        assert!(matches!(decisions[2], Decision::Proceed { .. }));
        assert_eq!(
            decisions[3],
            Decision::RateLimited {
                retry_after_secs: 1
            }
        );
    }

    #[test]
    fn the_bucket_refills_at_the_limit_and_holds_one_second() {
        let start = Instant::now();
        let mut bucket = Bucket {
            tokens: None,
            at: start,
        };
        for _ in 0..10 {
            assert_eq!(bucket.take(10, start), Ok(()));
        }
        let wait = bucket.take(10, start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // A tenth of a second later, one token is back; no more.
        let later = start + Duration::from_millis(100);
        assert_eq!(bucket.take(10, later), Ok(()));
        assert!(bucket.take(10, later).is_err());
        // Idle for long: the bucket holds one second's worth, not more.
        let idle = later + Duration::from_secs(60);
        let served = (0..50).filter(|_| bucket.take(10, idle).is_ok()).count();
        assert_eq!(served, 10);
    }
}
