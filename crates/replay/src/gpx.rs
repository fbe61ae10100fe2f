//! GPX 1.1 tracks: every `trkpt` with its `time`, and `ele`, `hdop`, `speed` and `course` when
//! present (the last two are GPX 1.0 fields some recorders still write).

use crate::timestamp::parse_rfc3339;
use crate::trace::{TraceError, TraceFix};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// A receiver's horizontal dilution of precision times this is a usual estimate of its accuracy
/// radius in metres (user equivalent range error of a consumer GPS).
pub const METRES_PER_HDOP: f64 = 5.0;

#[derive(Default)]
struct PointBeingRead {
    line: usize,
    lat: f64,
    lon: f64,
    time_ms: Option<i64>,
    altitude_m: Option<f64>,
    hdop: Option<f64>,
    speed_mps: Option<f64>,
    heading_deg: Option<f64>,
}

/// Reads the track points of a GPX document.
pub fn read_gpx(text: &str) -> Result<Vec<TraceFix>, TraceError> {
    let line_at = |position: u64| {
        1 + text.as_bytes()[..(position as usize).min(text.len())]
            .iter()
            .filter(|byte| **byte == b'\n')
            .count()
    };
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut fixes = Vec::new();
    let mut point: Option<PointBeingRead> = None;
    let mut field: Option<String> = None;
    loop {
        let event = reader.read_event().map_err(|error| {
            TraceError::at(line_at(reader.error_position()), format!("invalid XML: {error}"))
        })?;
        // Just past the event: on the line where it ends (a start tag's '>', a text's last byte).
        let position = reader.buffer_position();
        match event {
            Event::Start(element) if local_name(&element) == "trkpt" => {
                if point.is_some() {
                    return Err(TraceError::at(line_at(position), "trkpt inside trkpt"));
                }
                point = Some(start_point(&element, line_at(position))?);
            }
            Event::Empty(element) if local_name(&element) == "trkpt" => {
                return Err(TraceError::at(line_at(position), "trkpt has no time"));
            }
            Event::Start(element) if point.is_some() => field = Some(local_name(&element)),
            Event::Text(content) => {
                if let (Some(point), Some(name)) = (point.as_mut(), field.as_deref()) {
                    let value = content
                        .decode()
                        .map_err(|error| TraceError::at(line_at(position), format!("bad text: {error}")))?;
                    read_field(point, name, value.trim(), line_at(position))?;
                }
            }
            Event::End(element) => {
                let name = String::from_utf8_lossy(element.local_name().as_ref()).into_owned();
                if name == "trkpt" {
                    let Some(finished) = point.take() else {
                        return Err(TraceError::at(line_at(position), "trkpt inside trkpt"));
                    };
                    fixes.push(finish_point(finished)?);
                } else {
                    field = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if fixes.is_empty() {
        return Err(TraceError::at(0, "the GPX document has no track points (trkpt)"));
    }
    Ok(fixes)
}

fn local_name(element: &BytesStart) -> String {
    String::from_utf8_lossy(element.local_name().as_ref()).into_owned()
}

fn start_point(element: &BytesStart, line: usize) -> Result<PointBeingRead, TraceError> {
    let mut lat = None;
    let mut lon = None;
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|error| TraceError::at(line, format!("bad attribute: {error}")))?;
        let value = attribute
            .unescape_value()
            .map_err(|error| TraceError::at(line, format!("bad attribute: {error}")))?;
        match attribute.key.local_name().as_ref() {
            b"lat" => lat = Some(parse_number(&value, "lat", line)?),
            b"lon" => lon = Some(parse_number(&value, "lon", line)?),
            _ => {}
        }
    }
    let (Some(lat), Some(lon)) = (lat, lon) else {
        return Err(TraceError::at(line, "trkpt needs lat and lon attributes"));
    };
    Ok(PointBeingRead { line, lat, lon, ..PointBeingRead::default() })
}

fn read_field(point: &mut PointBeingRead, name: &str, value: &str, line: usize) -> Result<(), TraceError> {
    match name {
        "time" => {
            point.time_ms = Some(parse_rfc3339(value).map_err(|message| TraceError::at(line, message))?)
        }
        "ele" => point.altitude_m = Some(parse_number(value, "ele", line)?),
        "hdop" => point.hdop = Some(parse_number(value, "hdop", line)?),
        "speed" => point.speed_mps = Some(parse_number(value, "speed", line)?),
        "course" => point.heading_deg = Some(parse_number(value, "course", line)?),
        _ => {}
    }
    Ok(())
}

fn finish_point(point: PointBeingRead) -> Result<TraceFix, TraceError> {
    let time_ms = point.time_ms.ok_or_else(|| TraceError::at(point.line, "trkpt has no time"))?;
    Ok(TraceFix {
        time_ms,
        lat: point.lat,
        lon: point.lon,
        accuracy_m: point.hdop.map(|hdop| hdop * METRES_PER_HDOP),
        speed_mps: point.speed_mps,
        heading_deg: point.heading_deg,
        altitude_m: point.altitude_m,
    })
}

fn parse_number(value: &str, what: &str, line: usize) -> Result<f64, TraceError> {
    value
        .trim()
        .parse::<f64>()
        .map_err(|_| TraceError::at(line, format!("{what} is not a number: {value:?}")))
}
