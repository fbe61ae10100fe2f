//! What the load generator says to a server and how it reads the answers, for the two peers it
//! can load: the Enroute server (protocol v1 frames) and a Socket.IO 4 server carrying the same
//! Enroute messages as event payloads (`hello`, `records` out; `welcome`, `ack`, `error` in).
//!
//! Every Enroute message is encoded and decoded by `enroute-protocol`; Socket.IO framing comes
//! from [`crate::socketio_client`]. Sans-io: it must not depend on sockets or clocks, so it can be
//! tested on strings. Bad server input becomes [`Incoming::Bad`], never a panic.

use crate::socketio_client::{self, Frame};
use enroute_protocol::{
    ClientMessage, ErrorCode, ErrorMessage, EventAck, Hello, Ping, RecordAck, RecordBatch, ServerMessage,
    Welcome,
};

/// Which server the load goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The Enroute server: protocol v1 frames on its WebSocket.
    Enroute,
    /// A Socket.IO 4 server at `/socket.io/`, Enroute messages as event payloads.
    SocketIo,
}

impl Peer {
    pub fn as_str(self) -> &'static str {
        match self {
            Peer::Enroute => "enroute",
            Peer::SocketIo => "socketio",
        }
    }

    /// The WebSocket path and query to connect to (the Enroute server's comes from `--server`).
    pub fn socket_path(self, enroute_path: &str) -> String {
        match self {
            Peer::Enroute => enroute_path.to_string(),
            Peer::SocketIo => "/socket.io/?EIO=4&transport=websocket".to_string(),
        }
    }
}

/// What one frame from the server means to a simulated driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Welcome(Welcome),
    Ack(RecordAck),
    /// A server event: answer with [`PeerCodec::event_ack_frame`].
    Event(u64),
    /// The server refused something (`code` as on the wire).
    Error {
        code: String,
        message: String,
    },
    /// A frame the client must send now (Socket.IO: join the namespace, the `hello`, a pong).
    Reply(String),
    /// The server ended the session inside the framing (Socket.IO disconnect or connect error).
    Ended(String),
    /// Nothing to do (`pong`, engine.io noop, unknown events).
    Ignored,
    /// A frame that could not be read.
    Bad(String),
}

/// Encodes and reads one connection's frames.
#[derive(Debug, Clone)]
pub struct PeerCodec {
    peer: Peer,
    hello: Hello,
}

impl PeerCodec {
    pub fn new(peer: Peer, hello: Hello) -> PeerCodec {
        PeerCodec { peer, hello }
    }

    /// What the client sends as soon as the WebSocket is open.
    pub fn opening_frames(&self) -> Vec<String> {
        match self.peer {
            Peer::Enroute => vec![self.hello_frame()],
            // The server speaks first (engine.io open), see `read`.
            Peer::SocketIo => Vec::new(),
        }
    }

    fn hello_frame(&self) -> String {
        self.wrap("hello", ClientMessage::Hello(self.hello.clone()).encode())
    }

    /// A `records` frame.
    pub fn records_frame(&self, batch: RecordBatch) -> String {
        self.wrap("records", ClientMessage::Records(batch).encode())
    }

    /// The acknowledgement of a server event.
    pub fn event_ack_frame(&self, event_id: u64) -> String {
        self.wrap("ack", ClientMessage::Ack(EventAck { event_id }).encode())
    }

    /// A keep-alive after a long silence, when the client is the one who pings (Socket.IO
    /// servers ping the client instead).
    pub fn ping_frame(&self, nonce: u64) -> Option<String> {
        match self.peer {
            Peer::Enroute => Some(ClientMessage::Ping(Ping { nonce }).encode()),
            Peer::SocketIo => None,
        }
    }

    fn wrap(&self, event: &str, encoded: String) -> String {
        match self.peer {
            Peer::Enroute => encoded,
            Peer::SocketIo => socketio_client::event_frame(event, &encoded),
        }
    }

    /// Reads one text frame from the server.
    pub fn read(&self, text: &str) -> Incoming {
        match self.peer {
            Peer::Enroute => match ServerMessage::decode(text) {
                Ok(ServerMessage::Welcome(welcome)) => Incoming::Welcome(welcome),
                Ok(ServerMessage::Ack(ack)) => Incoming::Ack(ack),
                Ok(ServerMessage::Event(event)) => Incoming::Event(event.event_id),
                Ok(ServerMessage::Error(error)) => {
                    Incoming::Error { code: error.code.as_str().to_string(), message: error.message }
                }
                Ok(ServerMessage::Pong(_)) => Incoming::Ignored,
                Err(error) => Incoming::Bad(error.to_string()),
            },
            Peer::SocketIo => self.read_socketio(text),
        }
    }

    fn read_socketio(&self, text: &str) -> Incoming {
        let frame = match socketio_client::parse_frame(text) {
            Ok(frame) => frame,
            Err(error) => return Incoming::Bad(error.to_string()),
        };
        match frame {
            Frame::Open(_) => Incoming::Reply(socketio_client::CONNECT_FRAME.to_string()),
            Frame::Connect { .. } => Incoming::Reply(self.hello_frame()),
            Frame::Ping(data) => Incoming::Reply(socketio_client::pong_frame(&data)),
            Frame::Pong(_) | Frame::Noop => Incoming::Ignored,
            Frame::Close => Incoming::Ended("engine.io close".into()),
            Frame::Disconnect { .. } => Incoming::Ended("socket.io disconnect".into()),
            Frame::ConnectError { message, .. } => Incoming::Ended(format!("connect_error {message}")),
            Frame::Event { name, payload, .. } => match name.as_str() {
                "welcome" => decode(payload, Incoming::Welcome),
                "ack" => decode(payload, Incoming::Ack),
                "error" => {
                    // Keep a code this protocol version does not know as the server spelled it.
                    let raw_code = payload.get("code").and_then(|code| code.as_str()).map(str::to_string);
                    decode(payload, |error: ErrorMessage| {
                        let code = match (error.code, raw_code) {
                            (ErrorCode::Unknown, Some(raw)) => raw,
                            (code, _) => code.as_str().to_string(),
                        };
                        Incoming::Error { code, message: error.message }
                    })
                }
                _ => Incoming::Ignored,
            },
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    payload: serde_json::Value,
    make: impl FnOnce(T) -> Incoming,
) -> Incoming {
    match serde_json::from_value::<T>(payload) {
        Ok(message) => make(message),
        Err(error) => Incoming::Bad(format!("bad event payload: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enroute_protocol::{Fix, Record, RecordId, RecordKind};

    fn hello() -> Hello {
        Hello {
            protocol: 1,
            max_protocol: None,
            driver_id: "load-1".into(),
            token: Some("secret".into()),
            app_version: "enroute-replay".into(),
            last_event_id: 0,
        }
    }

    fn batch() -> RecordBatch {
        RecordBatch::new(vec![Record {
            seq: 3,
            id: RecordId::from_random_bits(7),
            created_at_ms: 1_700_000_000_000,
            kind: RecordKind::Location {
                fix: Fix {
                    time_ms: 1_700_000_000_000,
                    lat: 48.137,
                    lon: 11.575,
                    accuracy_m: 5.0,
                    speed_mps: None,
                    heading_deg: None,
                    altitude_m: None,
                },
            },
        }])
    }

    #[test]
    fn socketio_hello_and_records_carry_exactly_the_enroute_messages_as_payloads() {
        let codec = PeerCodec::new(Peer::SocketIo, hello());
        assert!(codec.opening_frames().is_empty());
        assert_eq!(codec.read(r#"0{"sid":"a","pingInterval":25000}"#), Incoming::Reply("40".into()));
        let Incoming::Reply(hello_frame) = codec.read(r#"40{"sid":"b"}"#) else { panic!("no hello") };
        let Ok(Frame::Event { name, payload, .. }) = socketio_client::parse_frame(&hello_frame) else {
            panic!("not an event: {hello_frame}")
        };
        assert_eq!(name, "hello");
        assert_eq!(ClientMessage::decode(&payload.to_string()).unwrap(), ClientMessage::Hello(hello()));
        let records = codec.records_frame(batch());
        let Ok(Frame::Event { name, payload, .. }) = socketio_client::parse_frame(&records) else {
            panic!("not an event: {records}")
        };
        assert_eq!(name, "records");
        assert_eq!(ClientMessage::decode(&payload.to_string()).unwrap(), ClientMessage::Records(batch()));
        assert_eq!(codec.ping_frame(1), None);
    }

    #[test]
    fn socketio_welcome_ack_error_and_pings_are_read() {
        let codec = PeerCodec::new(Peer::SocketIo, hello());
        let welcome = codec.read(
            r#"42["welcome",{"type":"welcome","protocol":1,"acked_seq":4,"server_time_ms":1700000000000}]"#,
        );
        assert!(matches!(welcome, Incoming::Welcome(Welcome { acked_seq: 4, .. })), "{welcome:?}");
        let ack = codec.read(r#"42["ack",{"type":"ack","acked_seq":9}]"#);
        assert_eq!(ack, Incoming::Ack(RecordAck { acked_seq: 9, rejected: vec![] }));
        assert_eq!(
            codec.read(r#"42["error",{"code":"unauthorized","message":"no"}]"#),
            Incoming::Error { code: "unauthorized".into(), message: "no".into() }
        );
        assert_eq!(
            codec.read(r#"42["error",{"code":"too_busy","message":"later"}]"#),
            Incoming::Error { code: "too_busy".into(), message: "later".into() }
        );
        assert_eq!(codec.read("2"), Incoming::Reply("3".into()));
        assert!(matches!(codec.read(r#"42["ack",{"acked_seq":"x"}]"#), Incoming::Bad(_)));
        assert!(matches!(codec.read("41"), Incoming::Ended(_)));
        assert_eq!(codec.read(r#"42["something",{}]"#), Incoming::Ignored);
    }

    #[test]
    fn enroute_frames_are_the_protocol_crate_frames() {
        let codec = PeerCodec::new(Peer::Enroute, hello());
        assert_eq!(codec.opening_frames(), vec![ClientMessage::Hello(hello()).encode()]);
        assert_eq!(codec.records_frame(batch()), ClientMessage::Records(batch()).encode());
        let ack = ServerMessage::Ack(RecordAck { acked_seq: 2, rejected: vec![] }).encode();
        assert_eq!(codec.read(&ack), Incoming::Ack(RecordAck { acked_seq: 2, rejected: vec![] }));
        assert!(matches!(codec.read("{"), Incoming::Bad(_)));
        assert!(codec.ping_frame(5).is_some());
    }
}
