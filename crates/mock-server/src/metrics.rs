//! Counters for `/metrics`, in the Prometheus text format.

use crate::store::Store;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters. Per-driver figures are read from the store when scraped.
#[derive(Debug, Default)]
pub struct Metrics {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub records_received: AtomicU64,
    pub records_duplicate: AtomicU64,
    pub records_applied: AtomicU64,
    pub frames_refused: AtomicU64,
    pub records_rejected: AtomicU64,
    pub sign_ins_refused: AtomicU64,
    pub connections_refused: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    /// Renders every metric; per-driver lines come from `store`.
    pub fn render(&self, store: &Store) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        let read = |value: &AtomicU64| value.load(Ordering::Relaxed);
        counter("enroute_connections", "gauge", "Open WebSocket connections.", read(&self.connections_open));
        counter(
            "enroute_connections_total",
            "counter",
            "WebSocket connections accepted.",
            read(&self.connections_total),
        );
        counter(
            "enroute_records_received_total",
            "counter",
            "Records received, duplicates included.",
            read(&self.records_received),
        );
        counter(
            "enroute_records_duplicate_total",
            "counter",
            "Records received that were already held.",
            read(&self.records_duplicate),
        );
        counter(
            "enroute_records_applied_total",
            "counter",
            "Records applied in sequence order.",
            read(&self.records_applied),
        );
        counter(
            "enroute_frames_refused_total",
            "counter",
            "Frames answered with an error.",
            read(&self.frames_refused),
        );
        counter(
            "enroute_records_rejected_total",
            "counter",
            "Records refused for good (unreadable or outside the protocol's limits).",
            read(&self.records_rejected),
        );
        counter(
            "enroute_sign_ins_refused_total",
            "counter",
            "Hellos and uploads refused for their credentials.",
            read(&self.sign_ins_refused),
        );
        counter(
            "enroute_connections_refused_total",
            "counter",
            "Connections closed for a limit (rate, idle, size, connection count).",
            read(&self.connections_refused),
        );
        match store.drivers() {
            Ok(drivers) => {
                let _ = writeln!(
                    out,
                    "# HELP enroute_driver_waiting_records Records held behind a missing earlier record."
                );
                let _ = writeln!(out, "# TYPE enroute_driver_waiting_records gauge");
                for driver in &drivers {
                    let _ = writeln!(
                        out,
                        "enroute_driver_waiting_records{{driver=\"{}\"}} {}",
                        escape(&driver.driver_id),
                        driver.waiting
                    );
                }
                let _ = writeln!(
                    out,
                    "# HELP enroute_driver_acked_seq Highest contiguous sequence number applied."
                );
                let _ = writeln!(out, "# TYPE enroute_driver_acked_seq gauge");
                for driver in &drivers {
                    let _ = writeln!(
                        out,
                        "enroute_driver_acked_seq{{driver=\"{}\"}} {}",
                        escape(&driver.driver_id),
                        driver.acked_seq
                    );
                }
                let _ = writeln!(
                    out,
                    "# HELP enroute_driver_lag_seconds How late the last applied record arrived (receive time minus creation time)."
                );
                let _ = writeln!(out, "# TYPE enroute_driver_lag_seconds gauge");
                for driver in &drivers {
                    if let Some(lag_ms) = driver.last_delivery_lag_ms {
                        let _ = writeln!(
                            out,
                            "enroute_driver_lag_seconds{{driver=\"{}\"}} {:.3}",
                            escape(&driver.driver_id),
                            lag_ms as f64 / 1000.0
                        );
                    }
                }
            }
            Err(error) => {
                let _ = writeln!(out, "# per-driver metrics unavailable: {error}");
            }
        }
        out
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
