//! A trace: the fixes a receiver reported, in file order, from any supported format.

use enroute_core::Fix;
use std::collections::BTreeMap;
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

/// Why a trace, or one line or point of it, could not be read: the kind of problem (`cause`,
/// stable, for counting), what exactly, and on which line (1-based; 0 for the whole file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError {
    pub line: usize,
    pub cause: &'static str,
    pub message: String,
}

impl TraceError {
    /// A problem with the whole file (or, in a reader, one whose cause is its message).
    pub fn at(line: usize, message: impl Into<String>) -> TraceError {
        TraceError { line, cause: "unreadable", message: message.into() }
    }

    /// A problem of a kind the readers count (`"checksum mismatch"`, `"bad coordinate"`, …).
    pub fn because(line: usize, cause: &'static str, message: impl Into<String>) -> TraceError {
        TraceError { line, cause, message: message.into() }
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

/// What a reader made of a file: the fixes it could use, in file order, and what it skipped.
/// Real logs carry comment and header lines and, now and then, a corrupt sentence or field: the
/// readers skip those, count them by cause, and fail only when nothing usable is left.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace {
    pub fixes: Vec<TraceFix>,
    pub skipped: Skipped,
}

/// Lines or points a reader could not use, by cause: how many, and the first one's problem.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Skipped {
    by_cause: BTreeMap<&'static str, (usize, TraceError)>,
}

impl Skipped {
    /// Counts `problem` under its cause.
    pub fn note(&mut self, problem: TraceError) {
        self.by_cause.entry(problem.cause).and_modify(|(count, _)| *count += 1).or_insert((1, problem));
    }

    /// Everything skipped.
    pub fn total(&self) -> usize {
        self.by_cause.values().map(|(count, _)| count).sum()
    }

    /// How many were skipped for `cause`.
    pub fn count(&self, cause: &str) -> usize {
        self.by_cause.get(cause).map_or(0, |(count, _)| *count)
    }

    /// Each cause with its count and first occurrence, causes in alphabetical order.
    pub fn causes(&self) -> impl Iterator<Item = (&'static str, usize, &TraceError)> {
        self.by_cause.iter().map(|(cause, (count, first))| (*cause, *count, first))
    }
}

impl fmt::Display for Skipped {
    /// `"3 skipped: 2 checksum mismatch (first: line 4: …), 1 bad coordinate (first: line 9: …)"`
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} skipped", self.total())?;
        for (index, (cause, count, first)) in self.causes().enumerate() {
            write!(formatter, "{}{count} {cause} (first: {first})", if index == 0 { ": " } else { ", " })?;
        }
        Ok(())
    }
}

impl Trace {
    /// The fixes read, or an error when there are none, saying what was skipped.
    pub fn or_nothing_usable(self, what: &str) -> Result<Trace, TraceError> {
        if !self.fixes.is_empty() {
            return Ok(self);
        }
        let message = if self.skipped.total() == 0 {
            format!("the {what} has no fixes")
        } else {
            format!("the {what} has no usable fixes ({})", self.skipped)
        };
        Err(TraceError::at(0, message))
    }
}

/// The formats the readers understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    Gpx,
    Nmea,
    Csv,
}

impl TraceFormat {
    /// Guesses the format: XML is GPX; otherwise the first of the first 100 lines that is an NMEA
    /// sentence or the CSV header decides (logs often start with comments or a header of their
    /// own).
    pub fn sniff(text: &str) -> Option<TraceFormat> {
        let start = text.trim_start_matches('\u{feff}').trim_start();
        if start.starts_with('<') {
            return Some(TraceFormat::Gpx);
        }
        start.lines().take(100).map(str::trim).find_map(|line| {
            if line.starts_with('$') || line.starts_with('!') {
                Some(TraceFormat::Nmea)
            } else if line.trim_start_matches('\u{feff}') == crate::csv_trace::HEADER {
                Some(TraceFormat::Csv)
            } else {
                None
            }
        })
    }
}

/// Reads a trace file of any supported format.
pub fn read_trace(path: &Path) -> Result<Trace, TraceError> {
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
pub fn read_trace_text(text: &str) -> Result<Trace, TraceError> {
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
