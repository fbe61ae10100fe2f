//! A small seeded random number generator, so decisions that need randomness (backoff jitter,
//! ping nonces) are reproducible in tests. The app seeds it from `crypto.getRandomValues`.

/// SplitMix64: tiny, fast, and good enough for jitter. Not for secrets.
#[derive(Debug, Clone)]
pub struct Random {
    state: u64,
}

impl Random {
    /// A generator whose whole output is determined by `seed`.
    pub fn from_seed(seed: u64) -> Random {
        Random { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number uniformly distributed in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        // The top 53 bits fill an f64 mantissa exactly.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number uniformly distributed in `[low, high]` (milliseconds, say). Returns `low` if
    /// `high <= low`.
    pub fn next_in_range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        let span = high - low;
        low + ((self.next_unit() * (span as f64 + 1.0)) as u64).min(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut first = Random::from_seed(42);
        let mut second = Random::from_seed(42);
        for _ in 0..100 {
            assert_eq!(first.next_u64(), second.next_u64());
        }
    }

    #[test]
    fn ranges_are_respected_and_both_ends_are_reachable() {
        let mut random = Random::from_seed(7);
        let mut seen_low = false;
        let mut seen_high = false;
        for _ in 0..10_000 {
            let value = random.next_in_range(10, 13);
            assert!((10..=13).contains(&value));
            seen_low |= value == 10;
            seen_high |= value == 13;
        }
        assert!(seen_low && seen_high);
        assert_eq!(random.next_in_range(5, 5), 5);
        assert_eq!(random.next_in_range(9, 3), 9);
    }

    #[test]
    fn unit_values_stay_below_one() {
        let mut random = Random::from_seed(u64::MAX);
        assert!((0..10_000).all(|_| (0.0..1.0).contains(&random.next_unit())));
    }
}
