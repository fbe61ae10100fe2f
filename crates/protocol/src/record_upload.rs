use crate::decode_error::{decode_frame, encode_frame};
use crate::record_check::{RecordRejection, read_records};
use crate::{DecodeError, Record};
use serde::{Deserialize, Serialize};

/// Records uploaded over HTTP (`POST /sync/records`) by the service worker, when records are
/// still waiting but no app window is open to send them over the WebSocket. The server applies
/// them exactly as it applies a `records` frame, with the same de-duplication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawRecordUpload")]
pub struct RecordUpload {
    /// The driver the records belong to.
    pub driver_id: String,
    /// The driver's secret, as in `hello`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The records, in any order, at least one.
    pub records: Vec<Record>,
    /// Records that could not be read (filled by decoding only, as in [`crate::RecordBatch`]).
    #[serde(skip)]
    pub unreadable: Vec<RecordRejection>,
}

#[derive(Deserialize)]
struct RawRecordUpload {
    driver_id: String,
    #[serde(default)]
    token: Option<String>,
    records: Vec<serde_json::Value>,
}

impl TryFrom<RawRecordUpload> for RecordUpload {
    type Error = String;

    fn try_from(raw: RawRecordUpload) -> Result<RecordUpload, String> {
        let (records, unreadable) = read_records(raw.records)?;
        Ok(RecordUpload { driver_id: raw.driver_id, token: raw.token, records, unreadable })
    }
}

impl RecordUpload {
    /// Decodes a request body (at most [`crate::MAX_FRAME_BYTES`]).
    pub fn decode(text: &str) -> Result<RecordUpload, DecodeError> {
        decode_frame(text)
    }

    /// Encodes this upload as a request body.
    pub fn encode(&self) -> String {
        encode_frame(self)
    }
}

/// The server's answer to a [`RecordUpload`]: like a `records` acknowledgement, every record up
/// to `acked_seq` is stored and the device may delete them. Refusals are answered with an HTTP
/// error status and an [`crate::ErrorMessage`] body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReceipt {
    pub acked_seq: u64,
    /// Records of the upload the server will never accept (see [`crate::RecordAck`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RecordRejection>,
}

impl UploadReceipt {
    /// Decodes a response body.
    pub fn decode(text: &str) -> Result<UploadReceipt, DecodeError> {
        decode_frame(text)
    }

    /// Encodes this receipt as a response body.
    pub fn encode(&self) -> String {
        encode_frame(self)
    }
}
