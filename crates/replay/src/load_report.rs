//! The load generator's report: what `enroute-replay load` prints and writes as JSON, and the
//! problems that make it exit non-zero.
//!
//! Plain data and formatting: it must not depend on sockets, clocks or the runtime.

use crate::latency::LatencySummary;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Everything one load run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    /// `enroute` or `socketio`.
    pub peer: String,
    pub server: String,
    /// `steady` (a record every interval) or `backlog` (reconnect storm).
    pub mode: String,
    pub seed: u64,
    pub interval_s: f64,
    pub ramp_s: f64,
    /// The measurement window, after the ramp.
    pub duration_s: f64,
    pub drivers_asked: usize,
    pub drivers_connected: usize,
    /// Drivers that never got a `welcome`, by cause.
    pub connect_failures: BTreeMap<String, u64>,
    /// Signed-in connections the server (or the network) ended before the run did, by cause.
    pub disconnects: BTreeMap<String, u64>,
    /// Drivers still waiting for acks when the run's hard time bound tore them down.
    pub drivers_cut_off: u64,
    pub records_sent: u64,
    /// Acknowledged (stored or settled), rejected ones included.
    pub records_acked: u64,
    /// Acknowledged as refused (listed in an ack's `rejected`).
    pub records_rejected: u64,
    pub records_unacked: u64,
    /// `error` frames after sign-in, by code (`bad_frame`: a frame this tool could not read).
    pub errors_by_code: BTreeMap<String, u64>,
    pub events_received: u64,
    /// Records sent inside the measurement window (backlog mode: all).
    pub measured_records: u64,
    /// Measured records per second of measurement window (backlog mode: per second until the
    /// last backlog was acked).
    pub send_rate_per_s: f64,
    /// Ack latency of the measured records.
    pub latency: LatencySummary,
    /// With `--scrape`: the same, split by whether a record's round trip overlapped a scrape.
    pub latency_during_scrape: Option<LatencySummary>,
    pub latency_without_scrape: Option<LatencySummary>,
    pub scrapes: Option<ScrapeSummary>,
    pub backlog: Option<BacklogSummary>,
    pub server_process: Option<ServerProcess>,
    /// This generator's CPU use over the measurement window (100 = one core).
    pub generator_cpu_percent: Option<f64>,
    /// Time spent registering drivers through the dispatcher API (before the run's clock).
    pub registration_s: f64,
    /// From the first connection to the last teardown.
    pub wall_time_s: f64,
}

/// The `/metrics` scrapes made during the window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScrapeSummary {
    pub count: u64,
    pub failed: u64,
    pub mean_ms: f64,
    pub max_ms: f64,
}

/// The reconnect storm's outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BacklogSummary {
    pub records_per_driver: usize,
    /// Drivers whose whole backlog was acknowledged.
    pub drivers_drained: u64,
    /// From the start until the last driver's backlog was acknowledged (only when all were).
    pub all_drained_after_s: Option<f64>,
}

/// The server's cost, sampled from `/proc/PID` once a second.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerProcess {
    pub pid: u32,
    /// Average CPU over the measurement window (100 = one core).
    pub cpu_percent: Option<f64>,
    pub rss_max_kib: Option<u64>,
    pub rss_end_kib: Option<u64>,
    /// Why some figures are missing (the process went away, no `/proc`).
    pub problem: Option<String>,
}

impl LoadReport {
    /// What went wrong, one line each; empty when every driver connected, stayed connected
    /// and had every record acknowledged.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let failures: u64 = self.connect_failures.values().sum();
        if failures > 0 {
            problems.push(format!("{failures} of {} drivers could not connect", self.drivers_asked));
        }
        let disconnects: u64 = self.disconnects.values().sum();
        if disconnects > 0 {
            problems.push(format!("{disconnects} connections were ended by the server or lost"));
        }
        if self.records_unacked > 0 {
            problems.push(format!(
                "{} of {} records were not acknowledged",
                self.records_unacked, self.records_sent
            ));
        }
        if self.records_rejected > 0 {
            problems.push(format!("{} records were rejected", self.records_rejected));
        }
        problems
    }
}

fn causes(formatter: &mut fmt::Formatter<'_>, title: &str, causes: &BTreeMap<String, u64>) -> fmt::Result {
    let total: u64 = causes.values().sum();
    writeln!(formatter, "{title}: {total}")?;
    for (cause, count) in causes {
        writeln!(formatter, "  {count:>7}  {cause}")?;
    }
    Ok(())
}

fn kib(value: Option<u64>) -> String {
    value.map_or("?".into(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0))
}

fn percent(value: Option<f64>) -> String {
    value.map_or("?".into(), |percent| format!("{percent:.1} %"))
}

impl fmt::Display for LoadReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            formatter,
            "load: {} mode against {} ({}), seed {}",
            self.mode, self.server, self.peer, self.seed
        )?;
        if self.mode == "steady" {
            writeln!(
                formatter,
                "interval {} s, ramp {} s, measurement window {} s",
                self.interval_s, self.ramp_s, self.duration_s
            )?;
        }
        writeln!(formatter, "drivers asked: {}, connected: {}", self.drivers_asked, self.drivers_connected)?;
        causes(formatter, "connect failures", &self.connect_failures)?;
        causes(formatter, "disconnects after sign-in", &self.disconnects)?;
        if self.drivers_cut_off > 0 {
            writeln!(formatter, "drivers cut off at the time bound: {}", self.drivers_cut_off)?;
        }
        writeln!(
            formatter,
            "records sent: {}, acked: {} ({} rejected), not acked: {}",
            self.records_sent, self.records_acked, self.records_rejected, self.records_unacked
        )?;
        causes(formatter, "errors from the server", &self.errors_by_code)?;
        if self.events_received > 0 {
            writeln!(formatter, "events received (and acked): {}", self.events_received)?;
        }
        writeln!(
            formatter,
            "measured records: {}, send rate {:.1} records/s",
            self.measured_records, self.send_rate_per_s
        )?;
        writeln!(formatter, "ack latency: {}", self.latency)?;
        if let Some(scrapes) = &self.scrapes {
            writeln!(
                formatter,
                "scrapes: {} ({} failed), mean {:.1} ms, max {:.1} ms",
                scrapes.count, scrapes.failed, scrapes.mean_ms, scrapes.max_ms
            )?;
        }
        if let Some(during) = &self.latency_during_scrape {
            writeln!(formatter, "  ack latency overlapping a scrape: {during}")?;
        }
        if let Some(without) = &self.latency_without_scrape {
            writeln!(formatter, "  ack latency without a scrape:    {without}")?;
        }
        if let Some(backlog) = &self.backlog {
            let drained =
                backlog.all_drained_after_s.map_or("not all backlogs were acked".into(), |seconds| {
                    format!("all acked after {seconds:.2} s")
                });
            writeln!(
                formatter,
                "backlog: {} records per driver, {} drivers drained, {drained}",
                backlog.records_per_driver, backlog.drivers_drained
            )?;
        }
        if let Some(server) = &self.server_process {
            writeln!(
                formatter,
                "server pid {}: CPU {} (window average), RSS max {}, at end {}",
                server.pid,
                percent(server.cpu_percent),
                kib(server.rss_max_kib),
                kib(server.rss_end_kib)
            )?;
            if let Some(problem) = &server.problem {
                writeln!(formatter, "  ({problem})")?;
            }
        }
        writeln!(formatter, "generator CPU: {} (window average)", percent(self.generator_cpu_percent))?;
        write!(formatter, "registration: {:.1} s, wall time: {:.1} s", self.registration_s, self.wall_time_s)
    }
}
