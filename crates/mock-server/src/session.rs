//! One connection's protocol logic, with no I/O of its own: frames in, frames out (the store
//! and the event hub are the only things it touches). A frame becomes a [`Step`]: a reply at
//! once, a `hello` to check against the store (blocking reads: the socket runs it off the
//! async threads), or records for the store's group commit (awaited, blocking nothing).

use crate::driver_registry::SignInRefusal;
use crate::hub::Subscription;
use crate::metrics::Metrics;
use crate::rate_limit::TokenBucket;
use crate::record_intake::{Intake, accept_records};
use crate::router::AppState;
use crate::sign_ins::SignIn;
use crate::store::StoreError;
use enroute_protocol::{
    ClientMessage, DecodeError, ErrorCode, ErrorMessage, Event, Hello, MAX_PROTOCOL_VERSION,
    MAX_RECORDS_PER_BATCH, MAX_REJECTIONS_IN_WELCOME, PROTOCOL_VERSION, Pong, Record, RecordAck,
    RecordRejection, ServerMessage, Welcome, WireFormat,
};
use tokio::sync::{mpsc, oneshot};

/// The state of one WebSocket connection.
pub struct Session {
    state: AppState,
    driver_id: Option<String>,
    /// Live events for this driver, while the connection lives.
    _subscription: Option<Subscription>,
    event_receiver: Option<mpsc::UnboundedReceiver<Event>>,
    /// The highest event id sent on this connection (or that the device said it had).
    last_event_sent: u64,
    /// This connection speaks for its driver until a newer one signs in.
    _sign_in: Option<SignIn>,
    ended: Option<oneshot::Receiver<ErrorCode>>,
    frames: TokenBucket,
    /// The form of this connection's frames: objects until a `welcome` says otherwise.
    wire: WireFormat,
}

/// What the connection should do after a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Frames to send, in order.
    pub messages: Vec<ServerMessage>,
    /// Close the connection after sending them, with this error's close code.
    pub close: Option<ErrorCode>,
}

/// What a frame asks of the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send this now.
    Reply(Reply),
    /// Check this `hello` with [`Session::handle_hello`] (blocking: reads the store).
    Hello(Hello),
    /// Store these records with [`Session::store_records`] (awaits the group commit).
    Records(RecordsFrame),
}

/// A signed-in driver's `records` frame, checked against the batch limit.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordsFrame {
    pub driver_id: String,
    pub records: Vec<Record>,
    pub unreadable: Vec<RecordRejection>,
}

impl Reply {
    fn send(message: ServerMessage) -> Reply {
        Reply { messages: vec![message], close: None }
    }

    fn nothing() -> Reply {
        Reply { messages: vec![], close: None }
    }

    /// An `error` frame, then the connection closes with the code's close code.
    pub fn refuse(code: ErrorCode, message: String) -> Reply {
        Reply { messages: vec![ServerMessage::Error(ErrorMessage { code, message })], close: Some(code) }
    }
}

impl Session {
    pub fn new(state: AppState) -> Session {
        let frames = TokenBucket::new(state.limits.frame_burst, state.limits.frames_per_second);
        Session {
            state,
            driver_id: None,
            _subscription: None,
            event_receiver: None,
            last_event_sent: 0,
            _sign_in: None,
            ended: None,
            frames,
            wire: WireFormat::Objects,
        }
    }

    /// Fires when this connection must end (replaced by a newer sign-in, token revoked), once
    /// `hello` was accepted: the socket waits on it, sends the reason and closes.
    pub fn take_end_receiver(&mut self) -> Option<oneshot::Receiver<ErrorCode>> {
        self.ended.take()
    }

    /// The live events of this connection's driver, once `hello` was accepted: the socket
    /// waits on them and hands each to [`Session::handle_pushed`].
    pub fn take_event_receiver(&mut self) -> Option<mpsc::UnboundedReceiver<Event>> {
        self.event_receiver.take()
    }

    /// Whether `event` skips ids this connection has not sent: events are stored (and their ids
    /// taken) in commit order, but publishers race after the commit, so N+1 can be pushed before
    /// N. Handling such an event reads the store (blocking).
    pub fn pushed_event_skips_ids(&self, event: &Event) -> bool {
        event.event_id > self.last_event_sent.saturating_add(1)
    }

    /// An event was pushed for this driver: the frames to send. Nothing if the connection sent
    /// it already; if it skips ids, every stored event after the last one sent, in id order
    /// (regression: N+1 pushed before N moved the high-water mark past N, and N was dropped
    /// when it came, so the device never got it). Reads the store only in that case.
    pub fn handle_pushed(&mut self, event: Event) -> Vec<ServerMessage> {
        if event.event_id <= self.last_event_sent {
            return Vec::new();
        }
        if !self.pushed_event_skips_ids(&event) {
            self.last_event_sent = event.event_id;
            return vec![ServerMessage::Event(event)];
        }
        let Some(driver_id) = self.driver_id.clone() else { return Vec::new() };
        let missed = match self.state.store.events_after(&driver_id, self.last_event_sent) {
            Ok(events) => events,
            Err(error) => {
                // The device asks again with its last id at the next hello.
                tracing::error!(driver = %driver_id, %error, "cannot load the events a push skipped");
                return Vec::new();
            }
        };
        let mut messages = Vec::new();
        for stored in missed {
            if stored.event_id > self.last_event_sent {
                self.last_event_sent = stored.event_id;
                messages.push(ServerMessage::Event(stored));
            }
        }
        messages
    }

    /// The form this connection's frames take (chosen by its `welcome`).
    pub fn wire_format(&self) -> WireFormat {
        self.wire
    }

    /// The driver this connection belongs to, once `hello` was accepted.
    pub fn driver_id(&self) -> Option<&str> {
        self.driver_id.as_deref()
    }

    /// Handles one text frame. `now_ms` is the server clock in milliseconds since the epoch.
    /// Before `hello`, anything but a readable `hello` closes the connection: a socket that has
    /// not signed in gets no second chance to hold a slot.
    pub fn handle_text(&mut self, text: &str, now_ms: i64) -> Step {
        if let Some(refusal) = self.take_frame(now_ms) {
            return Step::Reply(refusal);
        }
        let step = match self.wire.decode_client(text) {
            Ok(message) => self.handle_message(message),
            Err(error @ DecodeError::TooLarge { .. }) => {
                Step::Reply(Reply::refuse(ErrorCode::TooLarge, error.to_string()))
            }
            Err(error) if self.driver_id.is_none() => {
                tracing::warn!(%error, "closing a connection whose first frame is not a hello");
                Step::Reply(Reply::refuse(ErrorCode::HelloRequired, format!("send hello first ({error})")))
            }
            Err(error) => {
                tracing::warn!(driver = ?self.driver_id, %error, "refused a frame");
                // A frame we cannot read is refused, but the connection stays usable: the records
                // in it were never acknowledged, so the device still holds them.
                Step::Reply(Reply::send(ServerMessage::Error(ErrorMessage {
                    code: ErrorCode::BadMessage,
                    message: error.to_string(),
                })))
            }
        };
        if let Step::Reply(reply) = &step {
            self.count_refusals(reply);
        }
        step
    }

    /// Takes one frame from the connection's rate limit (WebSocket control frames count too,
    /// so a ping flood is refused like any other): the refusal if it is spent.
    pub fn take_frame(&mut self, now_ms: i64) -> Option<Reply> {
        if self.frames.try_take(now_ms) {
            return None;
        }
        tracing::warn!(driver = ?self.driver_id, "closing a connection over the rate limit");
        Metrics::add(&self.state.metrics.connections_refused, 1);
        Some(Reply::refuse(
            ErrorCode::RateLimited,
            format!(
                "more than {} frames at once or {} a second",
                self.state.limits.frame_burst, self.state.limits.frames_per_second
            ),
        ))
    }

    fn count_refusals(&self, reply: &Reply) {
        let refusals =
            reply.messages.iter().filter(|message| matches!(message, ServerMessage::Error(_))).count();
        Metrics::add(&self.state.metrics.frames_refused, refusals as u64);
    }

    /// Handles one message to its reply, `hello` and records included: for tests and callers
    /// that may block on the hello's store reads.
    pub async fn respond(&mut self, message: ClientMessage, now_ms: i64) -> Reply {
        match self.handle_message(message) {
            Step::Reply(reply) => reply,
            Step::Hello(hello) => self.handle_hello(hello, now_ms),
            Step::Records(frame) => self.store_records(frame, now_ms).await,
        }
    }

    /// Stores a `records` frame (waiting for the group commit) and returns its `ack`.
    pub async fn store_records(&self, frame: RecordsFrame, now_ms: i64) -> Reply {
        let stored =
            accept_records(&self.state, &frame.driver_id, &frame.records, &frame.unreadable, now_ms).await;
        self.records_stored(&frame.driver_id, stored)
    }

    fn records_stored(&self, driver_id: &str, stored: Result<Intake, StoreError>) -> Reply {
        let reply = match stored {
            Ok(intake) => Reply::send(ServerMessage::Ack(RecordAck {
                acked_seq: intake.acked_seq,
                rejected: intake.rejected,
            })),
            Err(error) => {
                tracing::error!(driver = driver_id, %error, "cannot store records");
                Reply::refuse(ErrorCode::Internal, "the server could not store records; try again".into())
            }
        };
        self.count_refusals(&reply);
        reply
    }

    /// Handles one decoded message.
    pub fn handle_message(&mut self, message: ClientMessage) -> Step {
        let reply = match (message, self.driver_id.as_deref()) {
            (ClientMessage::Hello(hello), None) => return Step::Hello(hello),
            (ClientMessage::Hello(_), Some(_)) => {
                Reply::refuse(ErrorCode::AlreadyGreeted, "this connection already sent hello".into())
            }
            (_, None) => Reply::refuse(ErrorCode::HelloRequired, "send hello first".into()),
            (ClientMessage::Records(batch), Some(_))
                if batch.records.len() + batch.unreadable.len() > MAX_RECORDS_PER_BATCH =>
            {
                Metrics::add(&self.state.metrics.connections_refused, 1);
                Reply::refuse(
                    ErrorCode::TooManyRecords,
                    format!(
                        "{} records in one frame; at most {MAX_RECORDS_PER_BATCH}",
                        batch.records.len() + batch.unreadable.len()
                    ),
                )
            }
            (ClientMessage::Records(batch), Some(driver_id)) => {
                return Step::Records(RecordsFrame {
                    driver_id: driver_id.to_string(),
                    records: batch.records,
                    unreadable: batch.unreadable,
                });
            }
            (ClientMessage::Ack(ack), Some(driver_id)) => {
                self.state.store.note_event_ack(driver_id, ack.event_id);
                Reply::nothing()
            }
            (ClientMessage::Ping(ping), Some(_)) => {
                Reply::send(ServerMessage::Pong(Pong { nonce: ping.nonce }))
            }
        };
        Step::Reply(reply)
    }

    /// Checks a `hello` against the store and signs the connection in: `welcome` and the events
    /// the device missed, or the refusal. Blocking (reads the store).
    pub fn handle_hello(&mut self, hello: Hello, now_ms: i64) -> Reply {
        // The app speaks `protocol` up to `max_protocol`; the connection gets the newest
        // version both speak. An app whose oldest version is newer than ours is refused.
        if !(PROTOCOL_VERSION..=MAX_PROTOCOL_VERSION).contains(&hello.protocol) {
            return Reply::refuse(
                ErrorCode::UnsupportedProtocol,
                format!(
                    "this server speaks protocol {PROTOCOL_VERSION} to {MAX_PROTOCOL_VERSION}, the app spoke {}",
                    hello.protocol
                ),
            );
        }
        let protocol =
            hello.max_protocol.unwrap_or(hello.protocol).clamp(hello.protocol, MAX_PROTOCOL_VERSION);
        match self.state.store.check_sign_in(&hello.driver_id, hello.token.as_deref()) {
            Ok(Ok(())) => {}
            Ok(Err(refusal)) => {
                tracing::warn!(driver = %hello.driver_id, ?refusal, "refused a sign-in");
                Metrics::add(&self.state.metrics.sign_ins_refused, 1);
                return match refusal {
                    SignInRefusal::Unauthorized => Reply::refuse(
                        ErrorCode::Unauthorized,
                        "this driver id and token do not match a registered driver".into(),
                    ),
                    SignInRefusal::Revoked => {
                        Reply::refuse(ErrorCode::TokenRevoked, "this driver's token was revoked".into())
                    }
                };
            }
            Err(error) => {
                tracing::error!(driver = %hello.driver_id, %error, "cannot check a sign-in");
                return Reply::refuse(
                    ErrorCode::Internal,
                    "the server could not check the sign-in; try again".into(),
                );
            }
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
        self.state.store.note_seen(&hello.driver_id, now_ms);
        // Subscribe before reading the stored events: an event stored in between is then both
        // replayed and pushed, and `handle_pushed` drops the copy; none can fall between.
        let (subscription, receiver) = self.state.hub.subscribe(&hello.driver_id);
        let rejected = match self.state.store.recent_rejections(&hello.driver_id, MAX_REJECTIONS_IN_WELCOME) {
            Ok(rejected) => rejected,
            Err(error) => {
                tracing::error!(driver = %hello.driver_id, %error, "cannot load rejections");
                return Reply::refuse(
                    ErrorCode::Internal,
                    "the server could not load this driver; try again".into(),
                );
            }
        };
        let missed = match self.state.store.events_after(&hello.driver_id, hello.last_event_id) {
            Ok(events) => events,
            Err(error) => {
                tracing::error!(driver = %hello.driver_id, %error, "cannot load events");
                return Reply::refuse(
                    ErrorCode::Internal,
                    "the server could not load this driver; try again".into(),
                );
            }
        };
        self.last_event_sent = hello.last_event_id.max(missed.last().map_or(0, |event| event.event_id));
        self._subscription = Some(subscription);
        self.event_receiver = Some(receiver);
        let (sign_in, ended) = self.state.sign_ins.sign_in(&hello.driver_id, now_ms);
        self._sign_in = Some(sign_in);
        self.ended = Some(ended);
        self.driver_id = Some(hello.driver_id);
        let welcome = Welcome { protocol, acked_seq, server_time_ms: now_ms, rejected };
        self.wire = WireFormat::after_welcome(&welcome);
        let mut messages = vec![ServerMessage::Welcome(welcome)];
        messages.extend(missed.into_iter().map(ServerMessage::Event));
        Reply { messages, close: None }
    }
}
