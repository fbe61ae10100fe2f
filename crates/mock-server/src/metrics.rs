//! Counters, gauges and histograms for `/metrics`, in the Prometheus text format.
//!
//! Everything here is an atomic the data path bumps, so a scrape reads memory only: it never
//! takes the store's lock and never waits for (or stalls) an acknowledgement. Per-driver detail
//! is not here (20,000 drivers would make 60,000 series): it is in the dispatcher API.

use crate::histogram::{Histogram, SECONDS_BUCKETS, SIZE_BUCKETS};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide figures.
#[derive(Debug)]
pub struct Metrics {
    /// Open WebSocket connections that have not signed in yet.
    pub connections_awaiting_hello: AtomicU64,
    /// Open WebSocket connections signed in as a driver.
    pub connections_signed_in: AtomicU64,
    pub connections_accepted: AtomicU64,
    pub connections_refused: AtomicU64,
    pub records_received: AtomicU64,
    pub records_duplicate: AtomicU64,
    pub records_applied: AtomicU64,
    pub records_rejected: AtomicU64,
    pub records_parked_refused: AtomicU64,
    pub frames_refused: AtomicU64,
    pub sign_ins_refused: AtomicU64,
    /// WebSocket payload bytes received and sent (text and binary frames).
    pub received_bytes: AtomicU64,
    pub sent_bytes: AtomicU64,
    /// From a `records` frame's arrival to its `ack` being handed to the socket.
    pub ack_latency: Histogram,
    /// Record batches per group commit.
    pub commit_batches: Histogram,
    /// One group commit, fsync included.
    pub commit_duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            connections_awaiting_hello: AtomicU64::new(0),
            connections_signed_in: AtomicU64::new(0),
            connections_accepted: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            records_received: AtomicU64::new(0),
            records_duplicate: AtomicU64::new(0),
            records_applied: AtomicU64::new(0),
            records_rejected: AtomicU64::new(0),
            records_parked_refused: AtomicU64::new(0),
            frames_refused: AtomicU64::new(0),
            sign_ins_refused: AtomicU64::new(0),
            received_bytes: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            ack_latency: Histogram::new(SECONDS_BUCKETS),
            commit_batches: Histogram::new(SIZE_BUCKETS),
            commit_duration: Histogram::new(SECONDS_BUCKETS),
        }
    }
}

impl Metrics {
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn subtract(gauge: &AtomicU64, amount: u64) {
        gauge.fetch_sub(amount, Ordering::Relaxed);
    }

    /// Renders every metric. Reads atomics only.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let read = |value: &AtomicU64| value.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP enroute_open_connections Open WebSocket connections, by state.\n\
             # TYPE enroute_open_connections gauge\n\
             enroute_open_connections{{state=\"awaiting_hello\"}} {}\n\
             enroute_open_connections{{state=\"signed_in\"}} {}",
            read(&self.connections_awaiting_hello),
            read(&self.connections_signed_in),
        );
        let counters: [(&str, &str, &AtomicU64); 11] = [
            (
                "enroute_connections_accepted_total",
                "WebSocket connections accepted.",
                &self.connections_accepted,
            ),
            (
                "enroute_connections_refused_total",
                "Connections closed for a limit (rate, idle, hello deadline, size, connection count, unsigned per address).",
                &self.connections_refused,
            ),
            (
                "enroute_records_received_total",
                "Records received, duplicates included.",
                &self.records_received,
            ),
            (
                "enroute_records_duplicate_total",
                "Records received that were already held.",
                &self.records_duplicate,
            ),
            ("enroute_records_applied_total", "Records applied in sequence order.", &self.records_applied),
            (
                "enroute_records_rejected_total",
                "Records refused for good (unreadable or outside the protocol's limits).",
                &self.records_rejected,
            ),
            (
                "enroute_records_parked_refused_total",
                "Records let go unacknowledged because too many already waited behind a missing one.",
                &self.records_parked_refused,
            ),
            ("enroute_frames_refused_total", "Frames answered with an error.", &self.frames_refused),
            (
                "enroute_sign_ins_refused_total",
                "Hellos and uploads refused for their credentials.",
                &self.sign_ins_refused,
            ),
            ("enroute_received_bytes_total", "WebSocket payload bytes received.", &self.received_bytes),
            ("enroute_sent_bytes_total", "WebSocket payload bytes sent.", &self.sent_bytes),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", read(value));
        }
        let _ = writeln!(
            out,
            "# HELP enroute_commits_total Group commits of drivers' records.\n# TYPE enroute_commits_total counter\nenroute_commits_total {}",
            self.commit_batches.count()
        );
        self.ack_latency.render(
            &mut out,
            "enroute_ack_latency_seconds",
            "From a records frame's arrival to its ack being sent.",
        );
        self.commit_batches.render(&mut out, "enroute_commit_batches", "Record batches per group commit.");
        self.commit_duration.render(
            &mut out,
            "enroute_commit_duration_seconds",
            "One group commit, from its transaction's start to the end of its fsync.",
        );
        out
    }
}
