//! How long to wait before the next connection attempt.
//!
//! Exponential backoff with full jitter and a floor: attempt `n` (from 0) waits a uniformly
//! random time between `floor` and `min(cap, initial * factor^n)`. Jitter spreads a fleet of
//! phones that lost the server at the same moment, so they do not all come back at once; the
//! floor keeps a flapping network from causing a tight reconnect loop.

use crate::random::Random;
use std::time::Duration;

/// The shape of the backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// Shortest wait, whatever the jitter draws.
    pub floor: Duration,
    /// Upper bound of the first attempt's wait.
    pub initial: Duration,
    /// Growth of the upper bound per failed attempt.
    pub factor: u32,
    /// Largest upper bound.
    pub cap: Duration,
}

impl Default for BackoffConfig {
    fn default() -> BackoffConfig {
        BackoffConfig {
            floor: Duration::from_millis(500),
            initial: Duration::from_secs(1),
            factor: 2,
            cap: Duration::from_secs(30),
        }
    }
}

/// Counts failed attempts and draws the next delay.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    failed_attempts: u32,
}

impl Backoff {
    pub fn new(config: BackoffConfig) -> Backoff {
        Backoff { config, failed_attempts: 0 }
    }

    /// Failed attempts since the last reset.
    pub fn failed_attempts(&self) -> u32 {
        self.failed_attempts
    }

    /// The upper bound of the next delay, before jitter.
    pub fn ceiling(&self) -> Duration {
        let growth = self.config.factor.checked_pow(self.failed_attempts).unwrap_or(u32::MAX);
        self.config.initial.checked_mul(growth).unwrap_or(self.config.cap).min(self.config.cap)
    }

    /// Draws the delay before the next attempt and counts one more failure.
    pub fn next_delay(&mut self, random: &mut Random) -> Duration {
        let ceiling = self.ceiling().max(self.config.floor);
        let delay_ms = random.next_in_range(self.config.floor.as_millis() as u64, ceiling.as_millis() as u64);
        self.failed_attempts = self.failed_attempts.saturating_add(1);
        Duration::from_millis(delay_ms)
    }

    /// Starts the schedule over, after a connection proved stable.
    pub fn reset(&mut self) {
        self.failed_attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_from_one_second_up_to_thirty() {
        let mut backoff = Backoff::new(BackoffConfig::default());
        let mut random = Random::from_seed(1);
        let mut ceilings = Vec::new();
        for _ in 0..8 {
            ceilings.push(backoff.ceiling().as_secs());
            backoff.next_delay(&mut random);
        }
        assert_eq!(ceilings, vec![1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn delays_stay_between_floor_and_ceiling_and_are_spread() {
        let config = BackoffConfig::default();
        let mut random = Random::from_seed(99);
        let mut first_delays = Vec::new();
        for _ in 0..1_000 {
            let mut backoff = Backoff::new(config);
            let delay = backoff.next_delay(&mut random);
            assert!(delay >= config.floor && delay <= config.initial, "{delay:?}");
            first_delays.push(delay.as_millis());
        }
        let spread = first_delays.iter().max().unwrap() - first_delays.iter().min().unwrap();
        assert!(spread > 400, "jitter spreads reconnects, spread was {spread} ms");
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::new(BackoffConfig::default());
        let mut random = Random::from_seed(3);
        for _ in 0..10 {
            backoff.next_delay(&mut random);
        }
        assert_eq!(backoff.ceiling(), Duration::from_secs(30));
        backoff.reset();
        assert_eq!(backoff.failed_attempts(), 0);
        assert_eq!(backoff.ceiling(), Duration::from_secs(1));
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut backoff = Backoff::new(BackoffConfig::default());
        let mut random = Random::from_seed(5);
        for _ in 0..100 {
            assert!(backoff.next_delay(&mut random) <= Duration::from_secs(30));
        }
    }
}
