use crate::RecordRejection;
use crate::decode_error::{decode_frame, encode_frame};
use crate::{DecodeError, ErrorCode, Event};
use serde::{Deserialize, Serialize};

/// A frame sent by the server to the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Answer to `hello`: the session is open.
    Welcome(Welcome),
    /// Cumulative acknowledgement of records.
    Ack(RecordAck),
    /// Something for the driver.
    Event(Event),
    /// Answer to `ping`.
    Pong(Pong),
    /// The server refused something.
    Error(ErrorMessage),
}

impl ServerMessage {
    /// Decodes one text frame, in either form: an object (every version) or a compact array
    /// (version 2, [`crate::WireFormat`]). Server frames carry no times that need the
    /// connection's time base, so no version is needed to read them.
    pub fn decode(text: &str) -> Result<ServerMessage, DecodeError> {
        if text.trim_start().starts_with('[') {
            return crate::wire_format::decode_compact_server(text);
        }
        decode_frame(text)
    }

    /// Encodes this message as one text frame in the object form (version 1, and version 2's
    /// rare messages); [`crate::WireFormat::encode_server`] writes a connection's form.
    pub fn encode(&self) -> String {
        encode_frame(self)
    }
}

/// The session is open. Tells the device what the server already holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The protocol version the server speaks on this connection.
    pub protocol: u32,
    /// The highest sequence number such that the server holds every record from 1 up to it
    /// for this driver (0 for none). The device drops those and resends the rest.
    pub acked_seq: u64,
    /// The server's clock, in milliseconds since the Unix epoch, for estimating clock skew.
    pub server_time_ms: i64,
    /// The driver's most recent rejected records (at most [`crate::MAX_REJECTIONS_IN_WELCOME`]),
    /// all at or below `acked_seq`: a device that missed the `ack` naming them learns here
    /// which of the records it drops were refused rather than applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RecordRejection>,
}

/// Every record from 1 up to `acked_seq` is durably stored or settled; the device may delete
/// them. Records of the acknowledged frame that the server will never accept (unreadable, or
/// outside the limits of [`crate::check_record`]) are listed in `rejected`: they are settled,
/// not applied, and the device moves them aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordAck {
    pub acked_seq: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RecordRejection>,
}

/// Answer to a `ping`, echoing its nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    pub nonce: u64,
}

/// Refusal with a stable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorMessage {
    /// Encodes the refusal alone, as the body of an HTTP error answer.
    pub fn encode(&self) -> String {
        encode_frame(self)
    }
}
