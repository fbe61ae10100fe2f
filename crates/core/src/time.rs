//! A monotonic clock reading passed in by the caller.

use std::ops::{Add, Sub};
use std::time::Duration;

/// A point on the caller's monotonic clock, in milliseconds from an arbitrary origin (in the
/// browser, `performance.now()`; in tests, whatever the test says). Never read from the OS here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The clock reading `milliseconds` after the origin.
    pub const fn from_millis(milliseconds: u64) -> Instant {
        Instant(milliseconds)
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_add(duration.as_millis().min(u64::MAX as u128) as u64))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// Saturating: a reading before `earlier` gives zero rather than panicking.
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let early = Instant::from_millis(1_000);
        let late = early + Duration::from_millis(500);
        assert_eq!(late.as_millis(), 1_500);
        assert_eq!(late - early, Duration::from_millis(500));
        assert_eq!(early - late, Duration::ZERO);
        assert_eq!((Instant::from_millis(u64::MAX) + Duration::from_secs(1)).as_millis(), u64::MAX);
    }
}
