use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable, machine-readable reason carried by an `error` message. Apps branch on the code;
/// the accompanying text is for humans and may change. When the server closes the connection
/// after an error, it uses the close code [`ErrorCode::close_code`] names, so a client that
/// missed the `error` frame still learns why.
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
    /// The `hello` had no token, or the driver id and token do not match a registered driver.
    /// (Unknown driver and wrong token get the same code, so ids cannot be probed.)
    Unauthorized,
    /// The driver's token was revoked by the dispatcher.
    TokenRevoked,
    /// Another connection signed in as the same driver and replaced this one.
    Replaced,
    /// A `records` frame held more records than [`crate::MAX_RECORDS_PER_BATCH`].
    TooManyRecords,
    /// A message was larger than [`crate::MAX_FRAME_BYTES`] (close code 1009, "message too big").
    TooLarge,
    /// The connection sent frames faster than the server's rate limit allows.
    RateLimited,
    /// Nothing arrived on the connection for longer than the server's idle timeout.
    IdleTimeout,
    /// The server is at its connection limit; try again later.
    ServerFull,
    /// The server failed to store or load data; the client should retry later.
    Internal,
    /// A code this version of the protocol crate does not know (sent by a newer peer).
    #[serde(other)]
    Unknown,
}

/// Every code the protocol defines, for documentation and tests.
pub const ALL_ERROR_CODES: [ErrorCode; 13] = [
    ErrorCode::BadMessage,
    ErrorCode::UnsupportedProtocol,
    ErrorCode::HelloRequired,
    ErrorCode::AlreadyGreeted,
    ErrorCode::Unauthorized,
    ErrorCode::TokenRevoked,
    ErrorCode::Replaced,
    ErrorCode::TooManyRecords,
    ErrorCode::TooLarge,
    ErrorCode::RateLimited,
    ErrorCode::IdleTimeout,
    ErrorCode::ServerFull,
    ErrorCode::Internal,
];

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadMessage => "bad_message",
            ErrorCode::UnsupportedProtocol => "unsupported_protocol",
            ErrorCode::HelloRequired => "hello_required",
            ErrorCode::AlreadyGreeted => "already_greeted",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::TokenRevoked => "token_revoked",
            ErrorCode::Replaced => "replaced",
            ErrorCode::TooManyRecords => "too_many_records",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::IdleTimeout => "idle_timeout",
            ErrorCode::ServerFull => "server_full",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// The WebSocket close code the server uses when it closes a connection after this error.
    /// Application codes are 4000 plus the nearest HTTP status; `internal` uses the standard 1011.
    pub fn close_code(self) -> u16 {
        match self {
            ErrorCode::BadMessage | ErrorCode::HelloRequired | ErrorCode::AlreadyGreeted => 4400,
            ErrorCode::Unauthorized => 4401,
            ErrorCode::TokenRevoked => 4403,
            ErrorCode::IdleTimeout => 4408,
            ErrorCode::Replaced => 4409,
            ErrorCode::TooManyRecords => 4413,
            ErrorCode::TooLarge => 1009,
            ErrorCode::UnsupportedProtocol => 4426,
            ErrorCode::RateLimited => 4429,
            ErrorCode::ServerFull => 4503,
            ErrorCode::Internal | ErrorCode::Unknown => 1011,
        }
    }

    /// The error a close code stands for, when a connection closed without its `error` frame.
    /// Several codes share 4400; it maps to `bad_message`.
    pub fn from_close_code(close_code: u16) -> Option<ErrorCode> {
        ALL_ERROR_CODES.into_iter().find(|code| code.close_code() == close_code)
    }

    /// Whether trying again later (with the same credentials and app) can succeed. A client
    /// must not reconnect by itself after the others: they need the driver or a new version.
    pub fn is_retryable(self) -> bool {
        !matches!(
            self,
            ErrorCode::Unauthorized
                | ErrorCode::TokenRevoked
                | ErrorCode::Replaced
                | ErrorCode::UnsupportedProtocol
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_wire_name_and_close_code() {
        for code in ALL_ERROR_CODES {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
            let close_code = code.close_code();
            assert!(
                close_code == 1011 || close_code == 1009 || (4000..5000).contains(&close_code),
                "{code}: {close_code}"
            );
            let back = ErrorCode::from_close_code(close_code).unwrap();
            assert_eq!(back.close_code(), close_code);
        }
        assert_eq!(ErrorCode::from_close_code(1000), None);
        assert_eq!(ErrorCode::from_close_code(4401), Some(ErrorCode::Unauthorized));
    }
}
