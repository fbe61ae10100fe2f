//! What makes a record acceptable to a server, whatever its sender: the checks are part of the
//! protocol so the app can apply the same ones before it queues anything. Time is an argument.

use crate::{Fix, Record, RecordKind};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A record the server will never accept, and why. Sent back in `ack` (and `welcome`) so the
/// device can move the record aside instead of resending it forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRejection {
    pub seq: u64,
    pub reason: String,
}

/// Records made before this (2020-01-01T00:00:00Z) come from a clock that is not set.
pub const EARLIEST_RECORD_TIME_MS: i64 = 1_577_836_800_000;
/// How far ahead of the server's clock a device's clock may be (records carry device time).
pub const MAX_CLOCK_AHEAD_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest job id a record may name.
pub const MAX_ASSIGNMENT_ID_CHARS: usize = 100;
/// Longest free-text reason a record may carry.
pub const MAX_REASON_CHARS: usize = 500;
/// Most ranges one gap record may list.
pub const MAX_GAP_RANGES: usize = 1_000;
/// The highest sequence number: JavaScript's largest safe integer (2^53 - 1), so the app, the
/// service worker and any JavaScript client read every number exactly, and every number fits a
/// signed 64-bit database column. Numbers start at 1.
pub const MAX_SEQ: u64 = (1 << 53) - 1;

/// Why a record is not acceptable.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordProblem {
    ZeroSequenceNumber,
    SequenceNumberTooLarge,
    BadRecordId,
    TimeOutOfRange {
        field: &'static str,
        time_ms: i64,
    },
    CoordinateOutOfRange {
        field: &'static str,
        value: f64,
    },
    TextTooLong {
        field: &'static str,
        chars: usize,
        limit: usize,
    },
    EmptyText {
        field: &'static str,
    },
    BadGap {
        reason: &'static str,
    },
    /// A `fail` job action or a `tracking_paused` status without the reason the protocol requires.
    MissingReason {
        record: &'static str,
    },
}

impl fmt::Display for RecordProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordProblem::ZeroSequenceNumber => write!(formatter, "sequence numbers start at 1"),
            RecordProblem::SequenceNumberTooLarge => {
                write!(formatter, "sequence numbers end at {MAX_SEQ} (2^53 - 1)")
            }
            RecordProblem::BadRecordId => write!(formatter, "record id is not 32 lowercase hex digits"),
            RecordProblem::TimeOutOfRange { field, time_ms } => {
                write!(formatter, "{field} {time_ms} is before 2020 or more than a day ahead of the server")
            }
            RecordProblem::CoordinateOutOfRange { field, value } => {
                write!(formatter, "{field} {value} is out of range")
            }
            RecordProblem::TextTooLong { field, chars, limit } => {
                write!(formatter, "{field} has {chars} characters, more than {limit}")
            }
            RecordProblem::EmptyText { field } => write!(formatter, "{field} is empty"),
            RecordProblem::BadGap { reason } => write!(formatter, "gap record {reason}"),
            RecordProblem::MissingReason { record } => write!(formatter, "{record} needs a reason"),
        }
    }
}

impl std::error::Error for RecordProblem {}

/// Whether `seq` is a sequence number a record may have (1 to [`MAX_SEQ`]).
pub fn is_valid_seq(seq: u64) -> bool {
    (1..=MAX_SEQ).contains(&seq)
}

/// The ranges of a gap record numbered `gap_seq` that settle anything: non-empty, from 1, and
/// below the gap's own number. The others are ignored (docs/protocol.md, "gap").
pub fn usable_gap_ranges(lost: &[crate::SeqRange], gap_seq: u64) -> impl Iterator<Item = &crate::SeqRange> {
    lost.iter().filter(move |range| range.first >= 1 && range.first <= range.last && range.last < gap_seq)
}

/// Checks one record against the protocol's limits, `now_ms` being the receiver's clock.
pub fn check_record(record: &Record, now_ms: i64) -> Result<(), RecordProblem> {
    if record.seq == 0 {
        return Err(RecordProblem::ZeroSequenceNumber);
    }
    if record.seq > MAX_SEQ {
        return Err(RecordProblem::SequenceNumberTooLarge);
    }
    let id = &record.id.0;
    if id.len() != 32 || !id.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)) {
        return Err(RecordProblem::BadRecordId);
    }
    check_time("created_at_ms", record.created_at_ms, now_ms)?;
    match &record.kind {
        RecordKind::Location { fix } => check_fix(fix, now_ms),
        RecordKind::Status { status: crate::DriverStatus::TrackingPaused, reason: None } => {
            Err(RecordProblem::MissingReason { record: "a tracking_paused status" })
        }
        RecordKind::Status { .. } => Ok(()),
        RecordKind::Assignment { assignment_id, action, reason } => {
            check_text("assignment_id", assignment_id, MAX_ASSIGNMENT_ID_CHARS)?;
            if assignment_id.trim().is_empty() {
                return Err(RecordProblem::EmptyText { field: "assignment_id" });
            }
            if *action == crate::DriverAction::Fail
                && reason.as_deref().is_none_or(|reason| reason.trim().is_empty())
            {
                return Err(RecordProblem::MissingReason { record: "a fail action" });
            }
            match reason {
                Some(reason) => check_text("reason", reason, MAX_REASON_CHARS),
                None => Ok(()),
            }
        }
        RecordKind::Gap { lost, .. } => {
            if lost.len() > MAX_GAP_RANGES {
                return Err(RecordProblem::BadGap { reason: "lists too many ranges" });
            }
            // Ranges that are empty or not below the gap's own number are ignored, not refused:
            // refusing the record would leave its good ranges unsettled, and every later record
            // of the driver waiting for them for ever. See `usable_gap_ranges`.
            Ok(())
        }
    }
}

fn check_time(field: &'static str, time_ms: i64, now_ms: i64) -> Result<(), RecordProblem> {
    if time_ms < EARLIEST_RECORD_TIME_MS || time_ms > now_ms.saturating_add(MAX_CLOCK_AHEAD_MS) {
        return Err(RecordProblem::TimeOutOfRange { field, time_ms });
    }
    Ok(())
}

fn check_text(field: &'static str, text: &str, limit: usize) -> Result<(), RecordProblem> {
    let chars = text.chars().count();
    if chars > limit {
        return Err(RecordProblem::TextTooLong { field, chars, limit });
    }
    Ok(())
}

fn check_fix(fix: &Fix, now_ms: i64) -> Result<(), RecordProblem> {
    check_time("fix.time_ms", fix.time_ms, now_ms)?;
    let in_range = |field: &'static str, value: f64, low: f64, high: f64| {
        if value.is_finite() && (low..=high).contains(&value) {
            Ok(())
        } else {
            Err(RecordProblem::CoordinateOutOfRange { field, value })
        }
    };
    in_range("fix.lat", fix.lat, -90.0, 90.0)?;
    in_range("fix.lon", fix.lon, -180.0, 180.0)?;
    in_range("fix.accuracy_m", fix.accuracy_m, 0.0, 100_000.0)?;
    if let Some(speed) = fix.speed_mps {
        in_range("fix.speed_mps", speed, 0.0, 350.0)?;
    }
    if let Some(heading) = fix.heading_deg {
        in_range("fix.heading_deg", heading, 0.0, 360.0)?;
    }
    if let Some(altitude) = fix.altitude_m {
        in_range("fix.altitude_m", altitude, -1_000.0, 20_000.0)?;
    }
    Ok(())
}

/// Reads the records of a frame one by one: a record that cannot be read (an unknown kind, a
/// missing field) becomes a rejection of its sequence number instead of failing the whole
/// frame, so one bad record cannot block every record behind it. A record without a readable
/// `seq` cannot be rejected individually, and fails the frame.
pub(crate) fn read_records(
    values: Vec<serde_json::Value>,
) -> Result<(Vec<Record>, Vec<RecordRejection>), String> {
    let mut records = Vec::with_capacity(values.len());
    let mut unreadable = Vec::new();
    for value in values {
        let seq = value.get("seq").and_then(serde_json::Value::as_u64).filter(|seq| *seq > 0);
        match serde_json::from_value::<Record>(value) {
            Ok(record) => records.push(record),
            Err(error) => match seq {
                Some(seq) => {
                    unreadable.push(RecordRejection { seq, reason: format!("unreadable record: {error}") })
                }
                None => return Err(format!("a record without a readable seq: {error}")),
            },
        }
    }
    Ok((records, unreadable))
}
