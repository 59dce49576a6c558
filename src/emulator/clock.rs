//! The emulator's clock: real time plus an adjustable offset, so that tests and users can move
//! time (key expiry, token lifetimes, propagation delay) without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

/// A clock that keeps ticking with real time from wherever it was set.
#[derive(Debug, Default)]
pub struct Clock {
    /// Milliseconds added to the system clock.
    offset_ms: AtomicI64,
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Clock {
    /// A clock showing real time.
    pub fn new() -> Self {
        Self::default()
    }

    /// A clock showing `start` now.
    pub fn starting_at(start: OffsetDateTime) -> Self {
        let clock = Self::new();
        clock.set(start);
        clock
    }

    /// Milliseconds since the Unix epoch, as the emulator sees it.
    pub fn now_ms(&self) -> i64 {
        system_ms().saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Seconds since the Unix epoch, as the emulator sees it.
    pub fn now_unix(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// The emulator's time as a date.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.now_ms()) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Makes the clock show `to` now; it keeps ticking from there.
    pub fn set(&self, to: OffsetDateTime) {
        let target_ms = i64::try_from(to.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        self.offset_ms
            .store(target_ms.saturating_sub(system_ms()), Ordering::Relaxed);
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let _ = self
            .offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |offset| {
                Some(offset.saturating_add(ms))
            });
    }
}

/// Formats Unix milliseconds as ISO-8601 with an explicit offset and milliseconds
/// (`2025-01-31T12:00:00.123+00:00`), the shape the API's timestamps have.
pub fn iso8601(ms: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
    );
    at.format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_advance_move_the_clock() {
        let clock = Clock::starting_at(time::macros::datetime!(2030-01-01 00:00 UTC));
        assert!((clock.now_unix() - 1_893_456_000).abs() <= 1);
        clock.advance(Duration::from_secs(3600));
        assert!((clock.now_unix() - 1_893_459_600).abs() <= 1);
    }

    #[test]
    fn timestamps_carry_an_offset() {
        assert_eq!(iso8601(1_893_456_000_123), "2030-01-01T00:00:00.123+00:00");
    }
}
