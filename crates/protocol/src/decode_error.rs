use std::fmt;

/// Why a frame could not be decoded into a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame is larger than [`crate::MAX_FRAME_BYTES`]; it was not parsed.
    TooLarge { bytes: usize, limit: usize },
    /// The frame is not a JSON object of a known message type with the fields it needs.
    Malformed { reason: String },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge { bytes, limit } => {
                write!(formatter, "frame of {bytes} bytes is larger than the limit of {limit} bytes")
            }
            DecodeError::Malformed { reason } => write!(formatter, "malformed frame: {reason}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Parses one frame, refusing oversized ones before any parsing work is done.
pub(crate) fn decode_frame<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    if text.len() > crate::MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge { bytes: text.len(), limit: crate::MAX_FRAME_BYTES });
    }
    serde_json::from_str(text).map_err(|error| DecodeError::Malformed { reason: error.to_string() })
}

/// Serializes one message. Our message types contain only strings, integers, finite floats and
/// maps with string keys, for which serde_json cannot fail; a non-finite float is written as `null`.
pub(crate) fn encode_frame<T: serde::Serialize>(message: &T) -> String {
    serde_json::to_string(message).expect("protocol messages always serialize to JSON")
}
