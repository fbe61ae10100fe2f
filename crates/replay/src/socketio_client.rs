//! Socket.IO 4 client framing (engine.io protocol v4 over WebSocket text frames), just enough
//! for the load generator to speak to a Socket.IO server as a peer of the Enroute server:
//! parse the frames a server sends (`0{…}` open, `2` ping, `40{…}` connect, `42[…]` event,
//! `44{…}` connect error, `41` disconnect, `1` close) and make the few a client sends (`40`,
//! `3`, `42["name",{…}]`).
//!
//! Pure text in, text out: it must not depend on sockets, clocks, or the Enroute protocol crate
//! (event payloads are opaque JSON here; `load_peer` decides what they mean). Bad input is an
//! error value, never a panic.

use serde::Deserialize;
use std::fmt;

/// The frame a client sends to join the default namespace.
pub const CONNECT_FRAME: &str = "40";

/// One frame from a Socket.IO server.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// engine.io `0`: the session is open.
    Open(Handshake),
    /// engine.io `1`: the server closes the session.
    Close,
    /// engine.io `2`, with its optional data (answer with [`pong_frame`]).
    Ping(String),
    /// engine.io `3`.
    Pong(String),
    /// engine.io `6`.
    Noop,
    /// Socket.IO `0` (`40…`): the namespace is joined.
    Connect { namespace: String, sid: Option<String> },
    /// Socket.IO `1` (`41…`): the server left the namespace.
    Disconnect { namespace: String },
    /// Socket.IO `2` (`42…`): an event with its first argument (`null` when there is none).
    Event { namespace: String, ack_id: Option<u64>, name: String, payload: serde_json::Value },
    /// Socket.IO `4` (`44…`): the server refused to let the client join the namespace.
    ConnectError { namespace: String, message: String },
}

/// The server's opening parameters (`0{"sid":…}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    pub sid: String,
    #[serde(default)]
    pub upgrades: Vec<String>,
    #[serde(default)]
    pub ping_interval: u64,
    #[serde(default)]
    pub ping_timeout: u64,
    #[serde(default)]
    pub max_payload: u64,
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramingError {
    Empty,
    /// An engine.io packet type this client does not know (or `4` without a Socket.IO type).
    UnknownEnginePacket(char),
    /// A Socket.IO packet type this client does not handle (acks, binary events).
    UnsupportedSocketPacket(char),
    /// The JSON part is not what the packet type needs.
    BadJson(String),
    /// An event whose array is empty or does not start with a name.
    BadEvent(String),
}

impl fmt::Display for FramingError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramingError::Empty => write!(formatter, "empty frame"),
            FramingError::UnknownEnginePacket(kind) => write!(formatter, "unknown engine.io packet {kind:?}"),
            FramingError::UnsupportedSocketPacket(kind) => {
                write!(formatter, "unsupported Socket.IO packet {kind:?}")
            }
            FramingError::BadJson(reason) => write!(formatter, "bad JSON in frame: {reason}"),
            FramingError::BadEvent(reason) => write!(formatter, "bad event: {reason}"),
        }
    }
}

impl std::error::Error for FramingError {}

/// Reads one WebSocket text frame from the server.
pub fn parse_frame(text: &str) -> Result<Frame, FramingError> {
    let (kind, rest) = split_first(text).ok_or(FramingError::Empty)?;
    match kind {
        '0' => serde_json::from_str::<Handshake>(rest)
            .map(Frame::Open)
            .map_err(|error| FramingError::BadJson(error.to_string())),
        '1' => Ok(Frame::Close),
        '2' => Ok(Frame::Ping(rest.to_string())),
        '3' => Ok(Frame::Pong(rest.to_string())),
        '4' => parse_socket_packet(rest),
        '6' => Ok(Frame::Noop),
        other => Err(FramingError::UnknownEnginePacket(other)),
    }
}

/// The answer to a server's ping.
pub fn pong_frame(ping_data: &str) -> String {
    format!("3{ping_data}")
}

/// An event for the default namespace. `payload_json` must be one JSON value (as the protocol
/// crate encodes it); it is embedded as is.
pub fn event_frame(name: &str, payload_json: &str) -> String {
    let name = serde_json::Value::String(name.to_string());
    format!("42[{name},{payload_json}]")
}

fn split_first(text: &str) -> Option<(char, &str)> {
    let first = text.chars().next()?;
    Some((first, &text[first.len_utf8()..]))
}

/// A Socket.IO packet: `<type>[/<namespace>,][<ack id>][<json>]`.
fn parse_socket_packet(text: &str) -> Result<Frame, FramingError> {
    let (kind, mut rest) = split_first(text).ok_or(FramingError::UnknownEnginePacket('4'))?;
    let mut namespace = "/".to_string();
    if rest.starts_with('/') {
        match rest.split_once(',') {
            Some((name, after)) => {
                namespace = name.to_string();
                rest = after;
            }
            None => {
                namespace = rest.to_string();
                rest = "";
            }
        }
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let ack_id = if digits > 0 { rest[..digits].parse::<u64>().ok() } else { None };
    let json = &rest[digits..];
    let value = || -> Result<serde_json::Value, FramingError> {
        if json.is_empty() {
            Ok(serde_json::Value::Null)
        } else {
            serde_json::from_str(json).map_err(|error| FramingError::BadJson(error.to_string()))
        }
    };
    match kind {
        '0' => {
            let sid = value()?.get("sid").and_then(|sid| sid.as_str()).map(str::to_string);
            Ok(Frame::Connect { namespace, sid })
        }
        '1' => Ok(Frame::Disconnect { namespace }),
        '2' => {
            let serde_json::Value::Array(mut items) = value()? else {
                return Err(FramingError::BadEvent("not a JSON array".into()));
            };
            if items.is_empty() {
                return Err(FramingError::BadEvent("empty array".into()));
            }
            let payload = if items.len() > 1 { items.swap_remove(1) } else { serde_json::Value::Null };
            let serde_json::Value::String(name) = items.swap_remove(0) else {
                return Err(FramingError::BadEvent("the first element is not an event name".into()));
            };
            Ok(Frame::Event { namespace, ack_id, name, payload })
        }
        '4' => {
            let value = value()?;
            let message = match &value {
                serde_json::Value::String(message) => message.clone(),
                other => other.get("message").and_then(|message| message.as_str()).unwrap_or("").to_string(),
            };
            Ok(Frame::ConnectError { namespace, message })
        }
        other => Err(FramingError::UnsupportedSocketPacket(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_engine_io_open_frame_gives_the_session_id_and_ping_parameters() {
        let frame = parse_frame(
            r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
        )
        .unwrap();
        assert_eq!(
            frame,
            Frame::Open(Handshake {
                sid: "abc".into(),
                upgrades: vec![],
                ping_interval: 25000,
                ping_timeout: 20000,
                max_payload: 1_000_000,
            })
        );
    }

    #[test]
    fn the_namespace_connect_answer_is_read_with_and_without_a_namespace() {
        assert_eq!(
            parse_frame(r#"40{"sid":"s1"}"#).unwrap(),
            Frame::Connect { namespace: "/".into(), sid: Some("s1".into()) }
        );
        assert_eq!(parse_frame("40").unwrap(), Frame::Connect { namespace: "/".into(), sid: None });
        assert_eq!(
            parse_frame(r#"40/admin,{"sid":"s2"}"#).unwrap(),
            Frame::Connect { namespace: "/admin".into(), sid: Some("s2".into()) }
        );
    }

    #[test]
    fn an_event_frame_gives_its_name_and_first_argument() {
        assert_eq!(
            parse_frame(r#"42["ack",{"type":"ack","acked_seq":7}]"#).unwrap(),
            Frame::Event {
                namespace: "/".into(),
                ack_id: None,
                name: "ack".into(),
                payload: json!({"type": "ack", "acked_seq": 7}),
            }
        );
        assert_eq!(
            parse_frame(r#"4212["tick"]"#).unwrap(),
            Frame::Event {
                namespace: "/".into(),
                ack_id: Some(12),
                name: "tick".into(),
                payload: json!(null)
            }
        );
    }

    #[test]
    fn pings_are_answered_with_pongs_carrying_the_same_data() {
        assert_eq!(parse_frame("2").unwrap(), Frame::Ping(String::new()));
        assert_eq!(pong_frame(""), "3");
        assert_eq!(parse_frame("2probe").unwrap(), Frame::Ping("probe".into()));
        assert_eq!(pong_frame("probe"), "3probe");
        assert_eq!(parse_frame("3").unwrap(), Frame::Pong(String::new()));
    }

    #[test]
    fn disconnects_closes_and_connect_errors_are_recognised() {
        assert_eq!(parse_frame("41").unwrap(), Frame::Disconnect { namespace: "/".into() });
        assert_eq!(parse_frame("1").unwrap(), Frame::Close);
        assert_eq!(parse_frame("6").unwrap(), Frame::Noop);
        assert_eq!(
            parse_frame(r#"44{"message":"Not authorized"}"#).unwrap(),
            Frame::ConnectError { namespace: "/".into(), message: "Not authorized".into() }
        );
    }

    #[test]
    fn event_frames_embed_the_payload_json_as_is() {
        let frame = event_frame("hello", r#"{"type":"hello","protocol":1}"#);
        assert_eq!(frame, r#"42["hello",{"type":"hello","protocol":1}]"#);
        assert_eq!(
            parse_frame(&frame).unwrap(),
            Frame::Event {
                namespace: "/".into(),
                ack_id: None,
                name: "hello".into(),
                payload: json!({"type": "hello", "protocol": 1}),
            }
        );
        assert_eq!(event_frame("we\"ird", "1"), r#"42["we\"ird",1]"#);
    }

    #[test]
    fn bad_input_is_an_error_and_never_a_panic() {
        assert_eq!(parse_frame(""), Err(FramingError::Empty));
        assert_eq!(parse_frame("9"), Err(FramingError::UnknownEnginePacket('9')));
        assert_eq!(parse_frame("é"), Err(FramingError::UnknownEnginePacket('é')));
        assert_eq!(parse_frame("4"), Err(FramingError::UnknownEnginePacket('4')));
        assert!(matches!(parse_frame("0{not json"), Err(FramingError::BadJson(_))));
        assert!(matches!(parse_frame(r#"0{"upgrades":[]}"#), Err(FramingError::BadJson(_))));
        assert!(matches!(parse_frame("42"), Err(FramingError::BadEvent(_))));
        assert!(matches!(parse_frame("42[]"), Err(FramingError::BadEvent(_))));
        assert!(matches!(parse_frame("42[1,2]"), Err(FramingError::BadEvent(_))));
        assert!(matches!(parse_frame(r#"42{"a":1}"#), Err(FramingError::BadEvent(_))));
        assert!(matches!(parse_frame(r#"42["x",{"#), Err(FramingError::BadJson(_))));
        assert_eq!(parse_frame("43[]"), Err(FramingError::UnsupportedSocketPacket('3')));
        assert_eq!(parse_frame("45-[]"), Err(FramingError::UnsupportedSocketPacket('5')));
        assert!(parse_frame("4299999999999999999999999[\"x\"]").is_ok()); // ack id too large: dropped
        assert!(parse_frame("42/ns").is_err());
    }
}
