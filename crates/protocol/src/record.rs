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

impl Record {
    /// The record as JSON, exactly as it appears inside a `records` frame. The app stores
    /// records in this form, so storage and wire can never disagree.
    pub fn encode(&self) -> String {
        crate::decode_error::encode_frame(self)
    }

    /// Reads a record stored with [`Record::encode`].
    pub fn decode(text: &str) -> Result<Record, crate::DecodeError> {
        crate::decode_error::decode_frame(text)
    }
}

impl RecordKind {
    /// Location fixes are the only records an outbox may evict: they are superseded by later
    /// fixes. Status changes and gap reports carry facts nothing else repeats.
    pub fn is_evictable(&self) -> bool {
        matches!(self, RecordKind::Location { .. })
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
    /// A change in what the driver is doing. `reason` says why tracking paused.
    Status {
        status: DriverStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<PauseReason>,
    },
    /// The driver acted on a job. `reason` is required for `fail`.
    Assignment {
        assignment_id: String,
        action: crate::DriverAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Records that will never arrive: the device gave them up. The server treats every listed
    /// sequence number it does not hold as settled, so the records after them can be applied.
    /// `lost` only names sequence numbers below this record's own.
    Gap { reason: GapReason, lost: Vec<SeqRange> },
}

/// An inclusive range of sequence numbers, `[first, last]` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "(u64, u64)", into = "(u64, u64)")]
pub struct SeqRange {
    pub first: u64,
    pub last: u64,
}

impl SeqRange {
    /// The range from `first` to `last`, both included.
    pub fn new(first: u64, last: u64) -> SeqRange {
        SeqRange { first, last }
    }

    /// How many sequence numbers the range holds (0 if `last < first`).
    pub fn len(&self) -> u64 {
        if self.last < self.first { 0 } else { self.last - self.first + 1 }
    }

    /// Whether the range holds no sequence number.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `seq` is in the range.
    pub fn contains(&self, seq: u64) -> bool {
        self.first <= seq && seq <= self.last
    }

    /// Collapses sorted sequence numbers into ranges: `[1, 2, 3, 7]` gives `[1, 3]` and `[7, 7]`.
    pub fn collapse(sorted_seqs: impl IntoIterator<Item = u64>) -> Vec<SeqRange> {
        let mut ranges: Vec<SeqRange> = Vec::new();
        for seq in sorted_seqs {
            match ranges.last_mut() {
                Some(range) if range.last.checked_add(1) == Some(seq) => range.last = seq,
                Some(range) if range.contains(seq) => {}
                _ => ranges.push(SeqRange::new(seq, seq)),
            }
        }
        ranges
    }

    /// [`SeqRange::collapse`], then at most `max_ranges` ranges (`max_ranges` ≥ 1): the
    /// smallest holes between neighbouring ranges are bridged first, so the numbers covered
    /// without being asked for are as few as possible. Every given number stays covered.
    pub fn collapse_capped(sorted_seqs: impl IntoIterator<Item = u64>, max_ranges: usize) -> Vec<SeqRange> {
        let ranges = SeqRange::collapse(sorted_seqs);
        let max_ranges = max_ranges.max(1);
        if ranges.len() <= max_ranges {
            return ranges;
        }
        // Bridge the (len - max) smallest holes; ties go to the lower numbers.
        let mut holes: Vec<(u64, usize)> = ranges
            .windows(2)
            .enumerate()
            .map(|(index, pair)| (pair[1].first - pair[0].last, index))
            .collect();
        holes.sort_unstable();
        let mut bridged = vec![false; ranges.len()];
        for (_, index) in holes.iter().take(ranges.len() - max_ranges) {
            bridged[*index] = true; // joins range `index` with the next one
        }
        let mut capped: Vec<SeqRange> = Vec::with_capacity(max_ranges);
        let mut joining = false;
        for (index, range) in ranges.iter().enumerate() {
            match capped.last_mut() {
                Some(last) if joining => last.last = range.last,
                _ => capped.push(*range),
            }
            joining = bridged[index];
        }
        capped
    }
}

impl From<(u64, u64)> for SeqRange {
    fn from((first, last): (u64, u64)) -> SeqRange {
        SeqRange { first, last }
    }
}

impl From<SeqRange> for (u64, u64) {
    fn from(range: SeqRange) -> (u64, u64) {
        (range.first, range.last)
    }
}

/// Why records were given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// The device's outbox was over its size or age cap and dropped its oldest location fixes.
    Evicted,
    /// The server acknowledged these records and the device deleted them, but the server's
    /// `welcome` later said it no longer holds them (its data was lost or restored from backup).
    ServerLost,
    /// The device sent these while its storage was failing, then restarted before it could
    /// store them: the ones the server does not hold are gone.
    NotStored,
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

impl Fix {
    /// The fix at the precision the app records and sends: latitude and longitude to 7 decimal
    /// places (1.1 cm at most, far below what a phone can measure), accuracy, heading and
    /// altitude to 0.1, speed to 0.01 m/s. Phones give 15 to 17 digits, most of them noise,
    /// and every digit is a byte on the wire.
    pub fn at_sent_precision(self) -> Fix {
        let round = |value: f64, scale: f64| {
            let rounded = (value * scale).round() / scale;
            if rounded.is_finite() { rounded } else { value }
        };
        Fix {
            time_ms: self.time_ms,
            lat: round(self.lat, 1e7),
            lon: round(self.lon, 1e7),
            accuracy_m: round(self.accuracy_m, 10.0),
            speed_mps: self.speed_mps.map(|speed| round(speed, 100.0)),
            heading_deg: self.heading_deg.map(|heading| round(heading, 10.0)),
            altitude_m: self.altitude_m.map(|altitude| round(altitude, 10.0)),
        }
    }
}

/// A driver's status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverStatus {
    /// The driver started working: the app tracks location from now on.
    OnDuty,
    /// The driver stopped working: the app stops tracking location.
    OffDuty,
    /// On duty, but the phone stopped delivering positions (see the record's `reason`). Until
    /// `tracking_resumed`, a gap in the track is a gap, not a parked vehicle.
    TrackingPaused,
    /// Positions flow again after `tracking_paused`.
    TrackingResumed,
}

/// Why tracking paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// The app went to the background (another app, screen off): browsers stop delivering
    /// positions to hidden pages.
    PageHidden,
    /// The driver denied the location permission.
    PermissionDenied,
    /// The phone cannot determine its position (no GPS signal, location services off).
    PositionUnavailable,
    /// No position arrived in time.
    Timeout,
}
