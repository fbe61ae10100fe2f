//! One connection's protocol logic, with no I/O: frames in, frames out.

use crate::metrics::Metrics;
use crate::router::AppState;
use enroute_protocol::{
    ClientMessage, DecodeError, ErrorCode, ErrorMessage, Hello, PROTOCOL_VERSION, Pong, RecordAck,
    ServerMessage, Welcome,
};

/// The state of one WebSocket connection.
pub struct Session {
    state: AppState,
    driver_id: Option<String>,
}

/// What the connection should do after a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Frames to send, in order.
    pub messages: Vec<ServerMessage>,
    /// Close the connection after sending them.
    pub close: bool,
}

impl Reply {
    fn send(message: ServerMessage) -> Reply {
        Reply { messages: vec![message], close: false }
    }

    fn refuse(code: ErrorCode, message: String) -> Reply {
        Reply { messages: vec![ServerMessage::Error(ErrorMessage { code, message })], close: true }
    }
}

impl Session {
    pub fn new(state: AppState) -> Session {
        Session { state, driver_id: None }
    }

    /// The driver this connection belongs to, once `hello` was accepted.
    pub fn driver_id(&self) -> Option<&str> {
        self.driver_id.as_deref()
    }

    /// Handles one text frame. `now_ms` is the server clock in milliseconds since the epoch.
    pub fn handle_text(&mut self, text: &str, now_ms: i64) -> Reply {
        let reply = match ClientMessage::decode(text) {
            Ok(message) => self.handle_message(message, now_ms),
            Err(error @ DecodeError::TooLarge { .. }) => {
                Reply::refuse(ErrorCode::BadMessage, error.to_string())
            }
            Err(error) => {
                tracing::warn!(driver = ?self.driver_id, %error, "refused a frame");
                // A frame we cannot read is refused, but the connection stays usable: the records
                // in it were never acknowledged, so the device still holds them.
                Reply::send(ServerMessage::Error(ErrorMessage {
                    code: ErrorCode::BadMessage,
                    message: error.to_string(),
                }))
            }
        };
        let refusals =
            reply.messages.iter().filter(|message| matches!(message, ServerMessage::Error(_))).count();
        Metrics::add(&self.state.metrics.frames_refused, refusals as u64);
        reply
    }

    /// Handles one decoded message.
    pub fn handle_message(&mut self, message: ClientMessage, now_ms: i64) -> Reply {
        match (message, self.driver_id.as_deref()) {
            (ClientMessage::Hello(hello), None) => self.handle_hello(hello, now_ms),
            (ClientMessage::Hello(_), Some(_)) => {
                Reply::refuse(ErrorCode::AlreadyGreeted, "this connection already sent hello".into())
            }
            (_, None) => Reply::refuse(ErrorCode::HelloRequired, "send hello first".into()),
            (ClientMessage::Records(batch), Some(driver_id)) => {
                let metrics = &self.state.metrics;
                Metrics::add(&metrics.records_received, batch.records.len() as u64);
                match self.state.store.store_records(driver_id, &batch.records, now_ms) {
                    Ok(outcome) => {
                        Metrics::add(&metrics.records_duplicate, outcome.duplicates);
                        Metrics::add(&metrics.records_applied, outcome.applied);
                        tracing::debug!(driver = driver_id, ?outcome, live = batch.live, "records");
                        Reply::send(ServerMessage::Ack(RecordAck { acked_seq: outcome.acked_seq }))
                    }
                    Err(error) => {
                        tracing::error!(driver = driver_id, %error, "cannot store records");
                        Reply::refuse(
                            ErrorCode::Internal,
                            "the server could not store records; try again".into(),
                        )
                    }
                }
            }
            (ClientMessage::Ack(_), Some(_)) => Reply { messages: vec![], close: false },
            (ClientMessage::Ping(ping), Some(_)) => {
                Reply::send(ServerMessage::Pong(Pong { nonce: ping.nonce }))
            }
        }
    }

    fn handle_hello(&mut self, hello: Hello, now_ms: i64) -> Reply {
        if hello.protocol != PROTOCOL_VERSION {
            return Reply::refuse(
                ErrorCode::UnsupportedProtocol,
                format!("this server speaks protocol {PROTOCOL_VERSION}, the app spoke {}", hello.protocol),
            );
        }
        if hello.driver_id.trim().is_empty() {
            return Reply::refuse(ErrorCode::BadMessage, "driver_id is empty".into());
        }
        tracing::info!(
            driver = %hello.driver_id,
            app_version = %hello.app_version,
            last_event_id = hello.last_event_id,
            "hello"
        );
        let acked_seq = match self.state.store.acked_seq(&hello.driver_id) {
            Ok(acked_seq) => acked_seq,
            Err(error) => {
                tracing::error!(driver = %hello.driver_id, %error, "cannot load driver");
                return Reply::refuse(
                    ErrorCode::Internal,
                    "the server could not load this driver; try again".into(),
                );
            }
        };
        self.driver_id = Some(hello.driver_id);
        Reply::send(ServerMessage::Welcome(Welcome {
            protocol: PROTOCOL_VERSION,
            acked_seq,
            server_time_ms: now_ms,
        }))
    }
}
