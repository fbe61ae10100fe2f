use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable, machine-readable reason carried by an `error` message. Apps branch on the code;
/// the accompanying text is for humans and may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame could not be decoded (not JSON, unknown type, missing or wrong fields, too large).
    BadMessage,
    /// The `hello` named a protocol version the server does not speak.
    UnsupportedProtocol,
    /// A message other than `hello` arrived before the handshake finished.
    HelloRequired,
    /// A second `hello` arrived on a connection that already finished its handshake.
    AlreadyGreeted,
    /// The server failed to store or load data; the client should retry later.
    Internal,
    /// A code this version of the protocol crate does not know (sent by a newer peer).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadMessage => "bad_message",
            ErrorCode::UnsupportedProtocol => "unsupported_protocol",
            ErrorCode::HelloRequired => "hello_required",
            ErrorCode::AlreadyGreeted => "already_greeted",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}
