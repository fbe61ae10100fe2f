//! A token bucket: `capacity` frames at once, refilled at `per_second`. Time is an argument.

/// One connection's allowance of frames.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    capacity: f64,
    per_millisecond: f64,
    tokens: f64,
    last_ms: Option<i64>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(capacity: f64, per_second: f64) -> TokenBucket {
        TokenBucket { capacity, per_millisecond: per_second / 1000.0, tokens: capacity, last_ms: None }
    }

    /// Takes one token at `now_ms`; false when the bucket is empty (the frame is over the limit).
    pub fn try_take(&mut self, now_ms: i64) -> bool {
        if let Some(last_ms) = self.last_ms {
            let elapsed_ms = (now_ms - last_ms).max(0) as f64; // a clock step back refills nothing
            self.tokens = (self.tokens + elapsed_ms * self.per_millisecond).min(self.capacity);
        }
        self.last_ms = Some(now_ms.max(self.last_ms.unwrap_or(now_ms)));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TokenBucket;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let mut bucket = TokenBucket::new(10.0, 5.0);
        assert!((0..10).all(|_| bucket.try_take(0)), "the burst");
        assert!(!bucket.try_take(0), "over the burst");
        assert!(!bucket.try_take(100), "half a token is not a token");
        assert!(bucket.try_take(200), "one token after 200 ms at 5 per second");
        assert!(!bucket.try_take(200));
        assert!((0..10).all(|_| bucket.try_take(60_000)), "refilled to capacity, not beyond");
        assert!(!bucket.try_take(60_000));
    }

    #[test]
    fn a_clock_step_back_does_not_refill() {
        let mut bucket = TokenBucket::new(1.0, 1.0);
        assert!(bucket.try_take(10_000));
        assert!(!bucket.try_take(0));
        assert!(!bucket.try_take(10_500));
        assert!(bucket.try_take(11_000));
    }
}
