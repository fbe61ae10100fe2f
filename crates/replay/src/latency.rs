//! Latency percentiles for the load generator: exact, from all samples (a sorted `Vec` of
//! microseconds is fine up to a few million samples).
//!
//! Plain arithmetic: it must not depend on clocks, sockets or the protocol.

use serde::Serialize;

/// Percentiles of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// The summary of `micros` (sorted here; the order given does not matter).
    pub fn of_micros(mut micros: Vec<u32>) -> LatencySummary {
        if micros.is_empty() {
            return LatencySummary::default();
        }
        micros.sort_unstable();
        let count = micros.len();
        let ms = |micros: u32| f64::from(micros) / 1000.0;
        let total: u64 = micros.iter().map(|&value| u64::from(value)).sum();
        LatencySummary {
            count: count as u64,
            mean_ms: total as f64 / count as f64 / 1000.0,
            p50_ms: ms(nearest_rank(&micros, 50.0)),
            p95_ms: ms(nearest_rank(&micros, 95.0)),
            p99_ms: ms(nearest_rank(&micros, 99.0)),
            max_ms: ms(micros[count - 1]),
        }
    }
}

/// The nearest-rank percentile of sorted, non-empty `values`.
fn nearest_rank(sorted: &[u32], percent: f64) -> u32 {
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl std::fmt::Display for LatencySummary {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.count == 0 {
            return write!(formatter, "no samples");
        }
        write!(
            formatter,
            "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms (mean {:.1} ms, {} samples)",
            self.p50_ms, self.p95_ms, self.p99_ms, self.max_ms, self.mean_ms, self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_over_all_samples() {
        let summary = LatencySummary::of_micros((1..=100).rev().map(|ms| ms * 1000).collect());
        assert_eq!(summary.count, 100);
        assert_eq!(summary.p50_ms, 50.0);
        assert_eq!(summary.p95_ms, 95.0);
        assert_eq!(summary.p99_ms, 99.0);
        assert_eq!(summary.max_ms, 100.0);
        assert_eq!(summary.mean_ms, 50.5);
        let one = LatencySummary::of_micros(vec![1500]);
        assert_eq!((one.p50_ms, one.p99_ms, one.max_ms), (1.5, 1.5, 1.5));
        assert_eq!(LatencySummary::of_micros(Vec::new()), LatencySummary::default());
    }
}
