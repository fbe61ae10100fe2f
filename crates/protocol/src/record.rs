use serde::{Deserialize, Serialize};
use std::fmt;

/// One thing a driver produced that the dispatcher must receive exactly once: a location fix or
/// a status change. Records are numbered per device; the number only grows, survives reloads
/// and is how the server de-duplicates and orders what it receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Per-device sequence number, starting at 1, without gaps.
    pub seq: u64,
    /// A random identifier, unique across devices, for tracing one record end to end.
    pub id: RecordId,
    /// When the device created the record, in milliseconds since the Unix epoch (device clock).
    pub created_at_ms: i64,
    /// What the record says.
    #[serde(flatten)]
    pub kind: RecordKind,
}

/// A record's unique identifier: 32 lowercase hexadecimal digits (128 random bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(pub String);

impl RecordId {
    /// Formats 128 random bits as a record id. The caller supplies the randomness.
    pub fn from_random_bits(bits: u128) -> RecordId {
        RecordId(format!("{bits:032x}"))
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// What a record says, tagged on the wire by its `kind` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordKind {
    /// Where the vehicle was.
    Location { fix: Fix },
    /// A change in what the driver is doing.
    Status { status: DriverStatus },
}

/// A position reported by the device's geolocation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// When the position was measured, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// Latitude in degrees (WGS 84), -90 to 90.
    pub lat: f64,
    /// Longitude in degrees (WGS 84), -180 to 180.
    pub lon: f64,
    /// Radius of 68% confidence, in metres.
    pub accuracy_m: f64,
    /// Ground speed in metres per second, when the device gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_mps: Option<f64>,
    /// Direction of travel in degrees clockwise from true north, when the device gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading_deg: Option<f64>,
    /// Altitude above the WGS 84 ellipsoid in metres, when the device gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_m: Option<f64>,
}

/// A driver's status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverStatus {
    /// The driver started working: the app tracks location from now on.
    OnDuty,
    /// The driver stopped working: the app stops tracking location.
    OffDuty,
}
