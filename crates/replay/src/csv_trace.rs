//! CSV traces with the header `time,lat,lon,accuracy_m,speed_mps,heading_deg`: RFC 3339 times,
//! degrees, metres, metres per second and degrees; every field after `lon` may be empty.

use crate::timestamp::parse_rfc3339;
use crate::trace::{Trace, TraceError, TraceFix};

/// The one header the reader accepts.
pub const HEADER: &str = "time,lat,lon,accuracy_m,speed_mps,heading_deg";

/// Reads a CSV trace. Lines before the header (a logger's comments) and rows it cannot use are
/// skipped and counted; it fails only when no row is left.
pub fn read_csv(text: &str) -> Result<Trace, TraceError> {
    let mut trace = Trace::default();
    let mut lines = text.lines().enumerate();
    let mut found_header = false;
    for (index, line) in lines.by_ref() {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line == HEADER {
            found_header = true;
            break;
        }
        if !line.is_empty() {
            trace.skipped.note(TraceError::because(
                index + 1,
                "before the header",
                format!("not a row: {line:?}"),
            ));
        }
    }
    if !found_header {
        return Err(TraceError::at(1, format!("the header must be {HEADER:?}, and there is none")));
    }
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        match read_row(line, index + 1) {
            Ok(fix) => trace.fixes.push(fix),
            Err(problem) => trace.skipped.note(problem),
        }
    }
    trace.or_nothing_usable("CSV trace")
}

fn read_row(line: &str, line_number: usize) -> Result<TraceFix, TraceError> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if fields.len() != 6 {
        return Err(TraceError::because(
            line_number,
            "bad row",
            format!("expected 6 fields, found {}", fields.len()),
        ));
    }
    let required = |position: usize, name: &str| -> Result<f64, TraceError> {
        match fields[position].parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(value),
            _ => Err(TraceError::because(
                line_number,
                "not a number",
                format!("{name} must be a number, got {:?}", fields[position]),
            )),
        }
    };
    let optional = |position: usize, name: &str| -> Result<Option<f64>, TraceError> {
        if fields[position].is_empty() { Ok(None) } else { required(position, name).map(Some) }
    };
    let lat = required(1, "lat")?;
    let lon = required(2, "lon")?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(TraceError::because(
            line_number,
            "bad coordinate",
            format!("{lat}, {lon} is not on Earth"),
        ));
    }
    Ok(TraceFix {
        time_ms: parse_rfc3339(fields[0])
            .map_err(|message| TraceError::because(line_number, "bad time", message))?,
        lat,
        lon,
        accuracy_m: optional(3, "accuracy_m")?,
        speed_mps: optional(4, "speed_mps")?,
        heading_deg: optional(5, "heading_deg")?,
        altitude_m: None,
    })
}

/// Writes fixes as CSV with [`HEADER`] (what `enroute-replay run --format csv` prints).
pub fn write_csv(fixes: &[enroute_core::Fix]) -> String {
    let mut out = format!("{HEADER}\n");
    let optional = |value: Option<f64>| value.map(|value| value.to_string()).unwrap_or_default();
    for fix in fixes {
        out.push_str(&format!(
            "{},{},{},{},{},{}\n",
            format_rfc3339(fix.time_ms),
            fix.lat,
            fix.lon,
            fix.accuracy_m,
            optional(fix.speed_mps),
            optional(fix.heading_deg)
        ));
    }
    out
}

/// Unix milliseconds as an RFC 3339 UTC time with milliseconds.
pub fn format_rfc3339(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let millisecond_of_day = unix_ms.rem_euclid(86_400_000);
    // Inverse of days_from_civil (Howard Hinnant).
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let seconds = millisecond_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        millisecond_of_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_round_trips_through_parse() {
        for unix_ms in [0, 1_410_324_847_250, 951_782_400_000, -86_400_000, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339(&format_rfc3339(unix_ms)), Ok(unix_ms), "{unix_ms}");
        }
    }
}
