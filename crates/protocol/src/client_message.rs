use crate::decode_error::{decode_frame, encode_frame};
use crate::record_check::{RecordRejection, read_records};
use crate::{DecodeError, Record};
use serde::{Deserialize, Serialize};

/// A frame sent by the app to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message on every connection.
    Hello(Hello),
    /// A batch of records to store.
    Records(RecordBatch),
    /// The device has stored every event up to an id.
    Ack(EventAck),
    /// Liveness probe; the server answers with `pong`.
    Ping(Ping),
}

impl ClientMessage {
    /// Decodes one text frame in the object form (version 1); a version 2 connection reads
    /// its frames with [`crate::WireFormat::decode_client`].
    pub fn decode(text: &str) -> Result<ClientMessage, DecodeError> {
        decode_frame(text)
    }

    /// Encodes this message as one text frame in the object form (version 1);
    /// [`crate::WireFormat::encode_client`] writes a connection's form.
    pub fn encode(&self) -> String {
        encode_frame(self)
    }
}

/// Opens a session: who the device is and what it already has. Always written as an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The protocol version the app speaks, [`crate::PROTOCOL_VERSION`] (1).
    pub protocol: u32,
    /// The newest version the app also speaks, when newer than `protocol`: the server answers
    /// with the newest version both speak (a server that knows only version 1 ignores this
    /// field, so a newer app still works with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_protocol: Option<u32>,
    /// The driver this device belongs to.
    pub driver_id: String,
    /// The driver's secret, when the server requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The app's version, for the server's logs.
    pub app_version: String,
    /// The highest event id the device has stored (0 for none); the server sends every later one.
    pub last_event_id: u64,
}

/// Records for the server to store, in any order; the server applies them in sequence order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawRecordBatch")]
pub struct RecordBatch {
    /// True when this batch carries the newest location fix ahead of an older backlog, so the
    /// dispatcher sees where the vehicle is now before the history is filled in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live: bool,
    /// The records, at least one.
    pub records: Vec<Record>,
    /// Records of the frame that could not be read, by sequence number. Only decoding fills
    /// this (a sender has nothing unreadable to send); the server rejects them one by one.
    #[serde(skip)]
    pub unreadable: Vec<RecordRejection>,
}

impl RecordBatch {
    /// A batch of `records`.
    pub fn new(records: Vec<Record>) -> RecordBatch {
        RecordBatch { live: false, records, unreadable: Vec::new() }
    }
}

/// A batch as it arrives, before its records are read one by one.
#[derive(Deserialize)]
struct RawRecordBatch {
    #[serde(default)]
    live: bool,
    records: Vec<serde_json::Value>,
}

impl TryFrom<RawRecordBatch> for RecordBatch {
    type Error = String;

    fn try_from(raw: RawRecordBatch) -> Result<RecordBatch, String> {
        let (records, unreadable) = read_records(raw.records)?;
        Ok(RecordBatch { live: raw.live, records, unreadable })
    }
}

/// Cumulative acknowledgement of server events: every event up to `event_id` is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventAck {
    pub event_id: u64,
}

/// Liveness probe. The nonce is echoed in the `pong`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    pub nonce: u64,
}
