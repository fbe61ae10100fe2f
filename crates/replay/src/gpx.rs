//! GPX 1.1 tracks: every `trkpt` with its `time`, and `ele`, `hdop`, `speed` and `course` when
//! present (the last two are GPX 1.0 fields some recorders still write).

use crate::timestamp::parse_rfc3339;
use crate::trace::{Trace, TraceError, TraceFix};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// A receiver's horizontal dilution of precision times this is a usual estimate of its accuracy
/// radius in metres (user equivalent range error of a consumer GPS).
pub const METRES_PER_HDOP: f64 = 5.0;

#[derive(Default)]
struct PointBeingRead {
    line: usize,
    /// The first reason the point cannot be used, if any.
    problem: Option<TraceError>,
    lat: f64,
    lon: f64,
    time_ms: Option<i64>,
    altitude_m: Option<f64>,
    hdop: Option<f64>,
    speed_mps: Option<f64>,
    heading_deg: Option<f64>,
}

/// Reads the track points of a GPX document. A point it cannot use (no time, a field that is not
/// a number) is skipped and counted; a document that stops being XML (a truncated file) keeps the
/// points before that, and the rest is counted as one skip. It fails only when no point is left.
pub fn read_gpx(text: &str) -> Result<Trace, TraceError> {
    let line_at = |position: u64| {
        1 + text.as_bytes()[..(position as usize).min(text.len())]
            .iter()
            .filter(|byte| **byte == b'\n')
            .count()
    };
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut trace = Trace::default();
    let mut point: Option<PointBeingRead> = None;
    let mut field: Option<String> = None;
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                trace.skipped.note(TraceError::because(
                    line_at(reader.error_position()),
                    "invalid XML",
                    format!("invalid XML, the rest of the file is unread: {error}"),
                ));
                break;
            }
        };
        // Just past the event: on the line where it ends (a start tag's '>', a text's last byte).
        let position = reader.buffer_position();
        match event {
            Event::Start(element) if local_name(&element) == "trkpt" => {
                if let Some(unfinished) = point.take() {
                    trace.skipped.note(TraceError::because(
                        unfinished.line,
                        "bad point",
                        "trkpt inside trkpt",
                    ));
                }
                point = Some(start_point(&element, line_at(position)));
            }
            Event::Empty(element) if local_name(&element) == "trkpt" => {
                trace.skipped.note(TraceError::because(line_at(position), "bad point", "trkpt has no time"));
            }
            Event::Start(element) if point.is_some() => field = Some(local_name(&element)),
            Event::Text(content) => {
                if let (Some(point), Some(name)) = (point.as_mut(), field.as_deref()) {
                    match content.decode() {
                        Ok(value) => read_field(point, name, value.trim(), line_at(position)),
                        Err(error) => point.fail(TraceError::because(
                            line_at(position),
                            "bad point",
                            format!("bad text: {error}"),
                        )),
                    }
                }
            }
            Event::End(element) => {
                let name = String::from_utf8_lossy(element.local_name().as_ref()).into_owned();
                if name == "trkpt" {
                    match point.take().map(finish_point) {
                        Some(Ok(fix)) => trace.fixes.push(fix),
                        Some(Err(problem)) => trace.skipped.note(problem),
                        None => trace.skipped.note(TraceError::because(
                            line_at(position),
                            "bad point",
                            "</trkpt> without <trkpt>",
                        )),
                    }
                } else {
                    field = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    trace.or_nothing_usable("GPX document (no track points, trkpt)")
}

fn local_name(element: &BytesStart) -> String {
    String::from_utf8_lossy(element.local_name().as_ref()).into_owned()
}

fn start_point(element: &BytesStart, line: usize) -> PointBeingRead {
    let mut point = PointBeingRead { line, ..PointBeingRead::default() };
    let mut lat = None;
    let mut lon = None;
    for attribute in element.attributes() {
        let attribute = match attribute {
            Ok(attribute) => attribute,
            Err(error) => {
                point.fail(TraceError::because(line, "bad point", format!("bad attribute: {error}")));
                continue;
            }
        };
        let value = match attribute.unescape_value() {
            Ok(value) => value,
            Err(error) => {
                point.fail(TraceError::because(line, "bad point", format!("bad attribute: {error}")));
                continue;
            }
        };
        match attribute.key.local_name().as_ref() {
            b"lat" => lat = point.number(&value, "lat", line),
            b"lon" => lon = point.number(&value, "lon", line),
            _ => {}
        }
    }
    match (lat, lon) {
        (Some(lat), Some(lon)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => {
            point.lat = lat;
            point.lon = lon;
        }
        (Some(lat), Some(lon)) => {
            point.fail(TraceError::because(line, "bad coordinate", format!("{lat}, {lon} is not on Earth")))
        }
        _ => point.fail(TraceError::because(line, "bad point", "trkpt needs lat and lon attributes")),
    }
    point
}

fn read_field(point: &mut PointBeingRead, name: &str, value: &str, line: usize) {
    match name {
        "time" => match parse_rfc3339(value) {
            Ok(time_ms) => point.time_ms = Some(time_ms),
            Err(message) => point.fail(TraceError::because(line, "bad time", message)),
        },
        "ele" => point.altitude_m = point.number(value, "ele", line),
        "hdop" => point.hdop = point.number(value, "hdop", line),
        "speed" => point.speed_mps = point.number(value, "speed", line),
        "course" => point.heading_deg = point.number(value, "course", line),
        _ => {}
    }
}

fn finish_point(point: PointBeingRead) -> Result<TraceFix, TraceError> {
    if let Some(problem) = point.problem {
        return Err(problem);
    }
    let time_ms =
        point.time_ms.ok_or_else(|| TraceError::because(point.line, "bad point", "trkpt has no time"))?;
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

impl PointBeingRead {
    /// Remembers the first problem: the point is skipped when it ends.
    fn fail(&mut self, problem: TraceError) {
        self.problem.get_or_insert(problem);
    }

    /// A finite number, or `None` with the point marked unusable.
    fn number(&mut self, value: &str, what: &str, line: usize) -> Option<f64> {
        match value.trim().parse::<f64>() {
            Ok(number) if number.is_finite() => Some(number),
            _ => {
                self.fail(TraceError::because(
                    line,
                    "not a number",
                    format!("{what} is not a number: {value:?}"),
                ));
                None
            }
        }
    }
}
