//! The bytes-per-driving-hour table (`enroute-replay wire`): what one simulated driver sent and
//! received per trace, scaled to an hour, beside one Socket.IO event per fix.

use crate::drive::DriveReport;
use crate::wire_count::{
    CONNECTION_SETUP_BYTES, PerHour, TRANSPORT_BYTES_PER_FRAME, WireTraffic, socketio_event_per_fix,
};
use std::fmt::Write as _;

/// One trace's figures.
#[derive(Debug, Clone)]
pub struct WireRow {
    pub trace: String,
    /// Trace time driven, in hours.
    pub hours: f64,
    /// Positions in the trace.
    pub fixes: u64,
    /// Records the driver made (fixes the throttle sent, duty changes).
    pub records: u64,
    /// What the driver's connection carried, per protocol version offered.
    pub enroute: Vec<(u32, WireTraffic)>,
    /// The same drive as one Socket.IO event per fix (a model, not a run).
    pub socketio: WireTraffic,
}

impl WireRow {
    /// The rows for drives of one driver over `fixes`, one per protocol version (at least one).
    pub fn new(trace: &str, fixes: &[enroute_core::Fix], drives: Vec<(u32, DriveReport)>) -> WireRow {
        let seconds = drives.first().map_or(0.0, |(_, report)| report.trace_seconds);
        WireRow {
            trace: trace.to_string(),
            hours: seconds / 3600.0,
            fixes: fixes.len() as u64,
            records: drives.first().map_or(0, |(_, report)| report.records),
            enroute: drives.iter().map(|(version, report)| (*version, report.traffic)).collect(),
            socketio: socketio_event_per_fix("driver-7", fixes, seconds),
        }
    }
}

fn kb(bytes: f64) -> String {
    format!("{:.1}", bytes / 1000.0)
}

fn line(out: &mut String, trace: &str, design: &str, traffic: &WireTraffic, hours: f64) {
    let up = traffic.up.per_hour(hours);
    let down = traffic.down.per_hour(hours);
    let PerHour { frames: up_frames, payload_bytes: up_payload, .. } = up;
    let payload = up.payload_bytes + down.payload_bytes;
    let framing = up.framing_bytes + down.framing_bytes;
    let transport = up.transport_bytes + down.transport_bytes;
    let setup = traffic.connections as f64 * CONNECTION_SETUP_BYTES as f64 / hours;
    let deflated = (traffic.up.deflated_payload_bytes + traffic.down.deflated_payload_bytes) as f64 / hours;
    let deflated = if deflated > 0.0 { kb(deflated) } else { "–".to_string() };
    let _ = writeln!(
        out,
        "| {trace} | {design} | {up_frames:.0} / {:.0} | {} / {} | **{}** | {deflated} | {} | {} | {} | {} |",
        down.frames,
        kb(up_payload),
        kb(down.payload_bytes),
        kb(payload),
        kb(framing),
        kb(transport),
        kb(setup),
        kb(payload + framing + transport + setup),
    );
}

fn design(version: u32) -> String {
    match version {
        1 => "Enroute, protocol 1 (objects)".to_string(),
        2 => "Enroute, protocol 2 (compact)".to_string(),
        other => format!("Enroute, protocol {other}"),
    }
}

/// The table, in Markdown, with the model stated under it.
pub fn markdown(rows: &[WireRow]) -> String {
    let mut out = String::new();
    out.push_str(
        "| trace | design | frames per hour, up / down | payload KB/h, up / down | payload KB/h, both | payload with permessage-deflate KB/h (estimate) | WebSocket framing KB/h | TCP/IP+TLS KB/h (model) | connection set-up KB/h (model) | all KB/h |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let trace = format!(
            "{} ({} fixes, {:.1} min; {} records)",
            row.trace,
            row.fixes,
            row.hours * 60.0,
            row.records
        );
        for (index, (version, traffic)) in row.enroute.iter().enumerate() {
            let label = if index == 0 { trace.as_str() } else { row.trace.as_str() };
            line(&mut out, label, &design(*version), traffic, row.hours);
        }
        line(&mut out, &row.trace, "one Socket.IO event per fix (model)", &row.socketio, row.hours);
    }
    let _ = writeln!(
        out,
        "\nKB are 1,000 bytes. permessage-deflate: what the same messages would take compressed as RFC 7692 does by default (raw deflate, zlib's default level, 15-bit window, context kept between messages, 4-byte tail dropped), computed from the real frames; the server does not speak it (why: the text after this table). All KB/h counts the payload uncompressed. TCP/IP+TLS: {TRANSPORT_BYTES_PER_FRAME} bytes per frame (every frame in a TCP segment of its own: IPv4 20, TCP 20 + 12 timestamp option, TLS 1.3 record 5 + 1 + 16 tag; pure ACKs not counted). Connection set-up: {CONNECTION_SETUP_BYTES} bytes per connection (TCP and TLS 1.3 handshakes with a 3 KB certificate chain, HTTP upgrade)."
    );
    out
}

/// The figures as JSON (one object per trace and design, per hour).
pub fn json(rows: &[WireRow]) -> String {
    let entry = |row: &WireRow, design: &str, traffic: &WireTraffic| {
        let up = traffic.up.per_hour(row.hours);
        let down = traffic.down.per_hour(row.hours);
        serde_json::json!({
            "trace": row.trace,
            "design": design,
            "hours": row.hours,
            "records": row.records,
            "connections": traffic.connections,
            "up": { "frames": up.frames, "payload_bytes": up.payload_bytes, "deflated_payload_bytes": traffic.up.deflated_payload_bytes as f64 / row.hours, "framing_bytes": up.framing_bytes, "transport_bytes": up.transport_bytes },
            "down": { "frames": down.frames, "payload_bytes": down.payload_bytes, "deflated_payload_bytes": traffic.down.deflated_payload_bytes as f64 / row.hours, "framing_bytes": down.framing_bytes, "transport_bytes": down.transport_bytes },
        })
    };
    let entries: Vec<serde_json::Value> = rows
        .iter()
        .flat_map(|row| {
            row.enroute
                .iter()
                .map(|(version, traffic)| entry(row, &format!("enroute_protocol_{version}"), traffic))
                .chain([entry(row, "socketio_event_per_fix", &row.socketio)])
                .collect::<Vec<_>>()
        })
        .collect();
    serde_json::Value::Array(entries).to_string()
}
