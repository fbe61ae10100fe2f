//! NMEA 0183 logs: a fix for every valid `RMC` sentence (time, date, position, speed, course),
//! with the altitude and HDOP of the `GGA` of the same second, and the estimated horizontal error
//! of Garmin's `$PGRME` when present (it comes before the `RMC` it belongs to). Checksums are
//! verified; sentences the reader does not use are ignored, and lines it cannot use (comments,
//! corrupt sentences) are skipped and counted.

use crate::gpx::METRES_PER_HDOP;
use crate::timestamp::unix_ms;
use crate::trace::{Trace, TraceError, TraceFix};

const METRES_PER_SECOND_PER_KNOT: f64 = 1852.0 / 3600.0;

/// Reads the fixes of an NMEA 0183 log. Lines that are not sentences (comments, a logger's
/// header), sentences whose checksum does not match, and sentences with a corrupt field are
/// skipped and counted; it fails only when no fix is left.
pub fn read_nmea(text: &str) -> Result<Trace, TraceError> {
    let mut trace = Trace::default();
    // GGA fields wait for their RMC (matched by time of day), PGRME for the next RMC.
    let mut pending_error_m: Option<f64> = None;
    let mut last_rmc_second_of_day: Option<u32> = None;
    for (index, raw_line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = raw_line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        let read = read_sentence(
            line,
            line_number,
            &mut pending_error_m,
            &mut last_rmc_second_of_day,
            &mut trace.fixes,
        );
        if let Err(problem) = read {
            trace.skipped.note(problem);
        }
    }
    trace.or_nothing_usable("NMEA log (no valid RMC sentence)")
}

/// Reads one sentence into `fixes` (an RMC) or into the fix it completes (GGA, PGRME).
fn read_sentence(
    line: &str,
    line_number: usize,
    pending_error_m: &mut Option<f64>,
    last_rmc_second_of_day: &mut Option<u32>,
    fixes: &mut Vec<TraceFix>,
) -> Result<(), TraceError> {
    let fields = sentence_fields(line, line_number)?;
    let field = |position: usize| fields.get(position).copied().unwrap_or("");
    let kind = field(0);
    if kind == "PGRME" {
        *pending_error_m = optional_number(field(1), "horizontal error", line_number)?;
    } else if kind.len() == 5 && kind.ends_with("RMC") {
        if field(2) != "A" {
            return Ok(()); // "V": the receiver had no valid fix
        }
        let (second_of_day, millisecond) = time_of_day(field(1), line_number)?;
        let date = field(9);
        if date.len() != 6 || !date.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(TraceError::because(
                line_number,
                "bad date",
                format!("RMC date must be ddmmyy, got {date:?}"),
            ));
        }
        let day = date[0..2].parse().unwrap_or(0);
        let month = date[2..4].parse().unwrap_or(0);
        // Two-digit years: 80-99 are 1980-1999 (GPS began in 1980), the rest 2000-2079.
        let year_of_century: i64 = date[4..6].parse().unwrap_or(0);
        let year = if year_of_century >= 80 { 1900 + year_of_century } else { 2000 + year_of_century };
        let (hour, minute, second) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
        let time_ms = unix_ms(year, month, day, hour, minute, second, millisecond).ok_or_else(|| {
            TraceError::because(
                line_number,
                "bad date",
                format!("RMC date/time out of range: {date} {}", field(1)),
            )
        })?;
        let lat = coordinate(field(3), field(4), 'N', 'S', 2, line_number)?;
        let lon = coordinate(field(5), field(6), 'E', 'W', 3, line_number)?;
        let speed_knots = optional_number(field(7), "speed", line_number)?;
        let course = optional_number(field(8), "course", line_number)?;
        fixes.push(TraceFix {
            time_ms,
            lat,
            lon,
            accuracy_m: pending_error_m.take(),
            speed_mps: speed_knots.map(|knots| knots * METRES_PER_SECOND_PER_KNOT),
            heading_deg: course,
            altitude_m: None,
        });
        *last_rmc_second_of_day = Some(second_of_day);
    } else if kind.len() == 5 && kind.ends_with("GGA") {
        if field(6) == "0" || field(1).is_empty() {
            return Ok(()); // no fix
        }
        let (second_of_day, _) = time_of_day(field(1), line_number)?;
        let hdop = optional_number(field(8), "HDOP", line_number)?;
        let altitude = optional_number(field(9), "altitude", line_number)?;
        if *last_rmc_second_of_day == Some(second_of_day)
            && let Some(fix) = fixes.last_mut()
        {
            fix.altitude_m = altitude;
            if fix.accuracy_m.is_none() {
                fix.accuracy_m = hdop.map(|hdop| hdop * METRES_PER_HDOP);
            }
        }
    }
    Ok(())
}

/// The comma-separated fields of a sentence after `$`, with its checksum verified.
fn sentence_fields(line: &str, line_number: usize) -> Result<Vec<&str>, TraceError> {
    let body = line.strip_prefix('$').or_else(|| line.strip_prefix('!')).ok_or_else(|| {
        TraceError::because(
            line_number,
            "not a sentence",
            format!("an NMEA sentence starts with '$': {line:?}"),
        )
    })?;
    let (data, checksum) = match body.rsplit_once('*') {
        Some((data, checksum)) => (data, Some(checksum)),
        None => (body, None),
    };
    if let Some(checksum) = checksum {
        let expected = u8::from_str_radix(checksum.trim(), 16).map_err(|_| {
            TraceError::because(line_number, "checksum mismatch", format!("bad checksum field {checksum:?}"))
        })?;
        let actual = data.bytes().fold(0u8, |sum, byte| sum ^ byte);
        if actual != expected {
            return Err(TraceError::because(
                line_number,
                "checksum mismatch",
                format!(
                    "checksum mismatch: the sentence says {expected:02X}, its content gives {actual:02X}"
                ),
            ));
        }
    }
    // The first field is the talker and type ("GPRMC", "GNGGA") or a proprietary name ("PGRME").
    Ok(data.split(',').collect())
}

/// `hhmmss` or `hhmmss.sss` as (second of the day, millisecond).
fn time_of_day(text: &str, line: usize) -> Result<(u32, u32), TraceError> {
    let bad = || TraceError::because(line, "bad time", format!("time must be hhmmss[.sss], got {text:?}"));
    if !text.get(..6).is_some_and(|digits| digits.bytes().all(|byte| byte.is_ascii_digit())) {
        return Err(bad());
    }
    let hour: u32 = text[0..2].parse().map_err(|_| bad())?;
    let minute: u32 = text[2..4].parse().map_err(|_| bad())?;
    let second: u32 = text[4..6].parse().map_err(|_| bad())?;
    if hour > 23 || minute > 59 || second > 60 {
        return Err(bad());
    }
    let millisecond = match text.get(6..) {
        None | Some("") => 0,
        Some(fraction) => {
            let value: f64 = format!("0{fraction}").parse().map_err(|_| bad())?;
            (value * 1000.0).round() as u32
        }
    };
    Ok((hour * 3600 + minute * 60 + second, millisecond.min(999)))
}

/// `ddmm.mmmm` (or `dddmm.mmmm`) with its hemisphere as signed degrees.
fn coordinate(
    text: &str,
    hemisphere: &str,
    positive: char,
    negative: char,
    degree_digits: usize,
    line: usize,
) -> Result<f64, TraceError> {
    let bad =
        || TraceError::because(line, "bad coordinate", format!("bad coordinate {text:?} {hemisphere:?}"));
    if text.len() < degree_digits + 2 {
        return Err(bad());
    }
    // `get`, not indexing: a corrupt field may hold multi-byte characters.
    let degrees: f64 = text.get(..degree_digits).and_then(|part| part.parse().ok()).ok_or_else(bad)?;
    let minutes: f64 = text.get(degree_digits..).and_then(|part| part.parse().ok()).ok_or_else(bad)?;
    if !degrees.is_finite() || !minutes.is_finite() {
        return Err(bad());
    }
    if !(0.0..60.0).contains(&minutes) {
        return Err(bad());
    }
    let value = degrees + minutes / 60.0;
    let limit = if degree_digits == 2 { 90.0 } else { 180.0 };
    if value > limit {
        return Err(bad());
    }
    match hemisphere.chars().next() {
        Some(letter) if letter == positive => Ok(value),
        Some(letter) if letter == negative => Ok(-value),
        _ => Err(bad()),
    }
}

/// An optional number: empty is `None`; anything but a finite number (`NaN`, `inf`, text) makes
/// the sentence unusable.
fn optional_number(text: &str, what: &str, line: usize) -> Result<Option<f64>, TraceError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(Some(value)),
        _ => Err(TraceError::because(line, "not a number", format!("{what} is not a number: {text:?}"))),
    }
}
