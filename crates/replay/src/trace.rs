//! A trace: the fixes a receiver reported, in file order, from any supported format.

use enroute_core::Fix;
use std::fmt;
use std::path::Path;

/// One fix as the file gives it; missing fields are `None`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceFix {
    pub time_ms: i64,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub speed_mps: Option<f64>,
    pub heading_deg: Option<f64>,
    pub altitude_m: Option<f64>,
}

/// Accuracy assumed for fixes whose file gives none (a GPX track without `hdop`): what a phone
/// typically reports outdoors. It only matters for the accuracy limit and the jump check.
pub const ASSUMED_ACCURACY_M: f64 = 5.0;

impl TraceFix {
    /// The fix as the app would see it.
    pub fn to_fix(&self) -> Fix {
        Fix {
            time_ms: self.time_ms,
            lat: self.lat,
            lon: self.lon,
            accuracy_m: self.accuracy_m.unwrap_or(ASSUMED_ACCURACY_M),
            speed_mps: self.speed_mps,
            heading_deg: self.heading_deg,
            altitude_m: self.altitude_m,
        }
    }
}

/// Why a trace could not be read: what, and on which line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError {
    pub line: usize,
    pub message: String,
}

impl TraceError {
    pub fn at(line: usize, message: impl Into<String>) -> TraceError {
        TraceError { line, message: message.into() }
    }
}

impl fmt::Display for TraceError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(formatter, "{}", self.message)
        } else {
            write!(formatter, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for TraceError {}

/// The formats the readers understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    Gpx,
    Nmea,
    Csv,
}

impl TraceFormat {
    /// Guesses the format from the first non-blank characters.
    pub fn sniff(text: &str) -> Option<TraceFormat> {
        let start = text.trim_start_matches('\u{feff}').trim_start();
        if start.starts_with('<') {
            Some(TraceFormat::Gpx)
        } else if start.starts_with('$') || start.starts_with('!') {
            Some(TraceFormat::Nmea)
        } else if start.starts_with("time,") {
            Some(TraceFormat::Csv)
        } else {
            None
        }
    }
}

/// Reads a trace file of any supported format.
pub fn read_trace(path: &Path) -> Result<Vec<TraceFix>, TraceError> {
    let bytes = std::fs::read(path)
        .map_err(|error| TraceError::at(0, format!("cannot read {}: {error}", path.display())))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        let line = 1 + error.as_bytes()[..error.utf8_error().valid_up_to()]
            .iter()
            .filter(|byte| **byte == b'\n')
            .count();
        TraceError::at(line, "not UTF-8 text")
    })?;
    read_trace_text(&text)
}

/// Reads a trace from its text, sniffing the format.
pub fn read_trace_text(text: &str) -> Result<Vec<TraceFix>, TraceError> {
    match TraceFormat::sniff(text) {
        Some(TraceFormat::Gpx) => crate::gpx::read_gpx(text),
        Some(TraceFormat::Nmea) => crate::nmea::read_nmea(text),
        Some(TraceFormat::Csv) => crate::csv_trace::read_csv(text),
        None => Err(TraceError::at(
            1,
            "unknown format: expected GPX (starts with '<'), NMEA 0183 (starts with '$') or CSV (header 'time,lat,lon,accuracy_m,speed_mps,heading_deg')",
        )),
    }
}
