//! The connection state machine: when to open a socket, when to give up on one, when to probe
//! it, and when to try again. It never touches a socket; it tells the caller what to do with
//! [`ConnectionAction`]s and when to call back with [`Connection::poll_timeout`].
//!
//! ```text
//!   Idle ──start──▶ Connecting ──opened──▶ Greeting ──welcome──▶ Open
//!                      ▲   │ timeout/closed     │ timeout/closed    │ closed / no pong
//!                      │   ▼                    ▼                   ▼
//!                      └─ Waiting (backoff) ◀───┴───────────────────┘
//!   any ──error it cannot retry (sign-in rejected, replaced, unsupported protocol)──▶ Refused
//!   Refused ──start (the driver changed the settings or tapped Reconnect)──▶ Connecting
//! ```

use crate::backoff::{Backoff, BackoffConfig};
use crate::random::Random;
use crate::time::Instant;
use enroute_protocol::{
    ClientMessage, ErrorCode, Hello, MAX_PROTOCOL_VERSION, PROTOCOL_VERSION, Ping, ServerMessage, WireFormat,
};
use std::collections::VecDeque;
use std::time::Duration;

/// Timings of the connection. The defaults are what the app uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionConfig {
    /// Delays between failed attempts.
    pub backoff: BackoffConfig,
    /// A connection that stayed open this long resets the backoff when it drops; one that drops
    /// sooner counts as a failed attempt, so a server that accepts and then crashes is not
    /// hammered.
    pub stable_after: Duration,
    /// Longest wait for the socket to open and for the server's `welcome`.
    pub connect_timeout: Duration,
    /// A ping is sent after this much silence from the server (a random time in the range, so
    /// pings from many phones do not line up). Any frame from the server restarts the wait.
    pub ping_after_silence: (Duration, Duration),
    /// No `pong` this long after a ping means the connection is dead.
    pub pong_timeout: Duration,
    /// While the browser says it is offline, retry after a random time in this range instead
    /// of the backoff. `navigator.onLine` can be wrong, so attempts never stop.
    pub offline_retry: (Duration, Duration),
    /// The newest protocol version to offer in `hello` (1 or 2; 2 writes the frequent frames
    /// compactly). Lower only to measure or test version 1.
    pub max_protocol: u32,
}

impl Default for ConnectionConfig {
    fn default() -> ConnectionConfig {
        ConnectionConfig {
            backoff: BackoffConfig::default(),
            stable_after: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            ping_after_silence: (Duration::from_secs(20), Duration::from_secs(25)),
            pong_timeout: Duration::from_secs(10),
            offline_retry: (Duration::from_secs(15), Duration::from_secs(30)),
            max_protocol: MAX_PROTOCOL_VERSION,
        }
    }
}

/// Identifies one socket, so events from a socket that was already given up on are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u64);

/// What the caller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionAction {
    /// Open a new socket to the server; report its events with this id.
    Open(SocketId),
    /// Send this frame on the open socket.
    Send(ClientMessage),
    /// Close this socket; it is dead, refused or no longer wanted.
    Close(SocketId),
}

/// What the driver should see about the link to the server.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkStatus {
    /// Not started.
    Idle,
    /// Opening a socket or waiting for the server's welcome.
    Connecting,
    /// The server welcomed us and answers.
    Online,
    /// Disconnected; the next attempt is at `retry_at`.
    Waiting { retry_at: Instant, browser_offline: bool },
    /// The server refused us for a reason retrying cannot fix.
    Refused { code: ErrorCode, message: String },
}

/// Who the device says it is in `hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub driver_id: String,
    pub token: Option<String>,
    pub app_version: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Idle,
    Waiting {
        retry_at: Instant,
    },
    Connecting {
        socket: SocketId,
        deadline: Instant,
    },
    Greeting {
        socket: SocketId,
        deadline: Instant,
    },
    Open {
        socket: SocketId,
        opened_at: Instant,
        ping_due_at: Instant,
        awaiting_pong: Option<(u64, Instant)>,
        /// The form of this connection's frames, from its `welcome`.
        wire: WireFormat,
    },
    Refused {
        code: ErrorCode,
        message: String,
    },
}

/// The connection state machine. See the module documentation.
#[derive(Debug, Clone)]
pub struct Connection {
    config: ConnectionConfig,
    identity: DeviceIdentity,
    last_event_id: u64,
    phase: Phase,
    backoff: Backoff,
    random: Random,
    browser_offline: bool,
    next_socket_id: u64,
    actions: VecDeque<ConnectionAction>,
}

impl Connection {
    /// A connection that does nothing until [`Connection::handle_start`]. `seed` drives jitter.
    pub fn new(config: ConnectionConfig, identity: DeviceIdentity, seed: u64) -> Connection {
        Connection {
            config,
            identity,
            last_event_id: 0,
            phase: Phase::Idle,
            backoff: Backoff::new(config.backoff),
            random: Random::from_seed(seed),
            browser_offline: false,
            next_socket_id: 1,
            actions: VecDeque::new(),
        }
    }

    /// The highest server event id the device has stored; sent in the next `hello`.
    pub fn set_last_event_id(&mut self, last_event_id: u64) {
        self.last_event_id = last_event_id;
    }

    /// What the driver should see.
    pub fn status(&self) -> LinkStatus {
        match &self.phase {
            Phase::Idle => LinkStatus::Idle,
            Phase::Waiting { retry_at } => {
                LinkStatus::Waiting { retry_at: *retry_at, browser_offline: self.browser_offline }
            }
            Phase::Connecting { .. } | Phase::Greeting { .. } => LinkStatus::Connecting,
            Phase::Open { .. } => LinkStatus::Online,
            Phase::Refused { code, message } => LinkStatus::Refused { code: *code, message: message.clone() },
        }
    }

    /// The form frames take on the open connection (the object form until a `welcome`).
    pub fn wire_format(&self) -> WireFormat {
        match self.phase {
            Phase::Open { wire, .. } => wire,
            _ => WireFormat::Objects,
        }
    }

    /// The socket that frames may be sent on, once the server has welcomed us.
    pub fn open_socket(&self) -> Option<SocketId> {
        match self.phase {
            Phase::Open { socket, .. } => Some(socket),
            _ => None,
        }
    }

    /// Failed attempts since the last stable connection.
    pub fn failed_attempts(&self) -> u32 {
        self.backoff.failed_attempts()
    }

    /// Starts connecting now (from idle), or again after a refusal.
    pub fn handle_start(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Idle | Phase::Refused { .. }) {
            self.backoff.reset();
            self.open_new_socket(now);
        }
    }

    /// Who this device signs in as.
    pub fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }

    /// The driver entered a new token: sign in again with it (a refused sign-in is tried again
    /// too, since the new token may be the fix).
    pub fn set_token(&mut self, now: Instant, token: Option<String>) {
        self.identity.token = token;
        self.handle_stop();
        self.handle_start(now);
    }

    /// Closes whatever is open and stays idle until [`Connection::handle_start`].
    pub fn handle_stop(&mut self) {
        if let Some(socket) = self.current_socket() {
            self.actions.push_back(ConnectionAction::Close(socket));
        }
        self.phase = Phase::Idle;
    }

    /// The socket `socket` finished opening: greet the server.
    pub fn handle_socket_opened(&mut self, now: Instant, socket: SocketId) {
        if let Phase::Connecting { socket: current, .. } = self.phase
            && current == socket
        {
            self.actions.push_back(ConnectionAction::Send(ClientMessage::Hello(Hello {
                protocol: PROTOCOL_VERSION,
                max_protocol: (self.config.max_protocol > PROTOCOL_VERSION)
                    .then_some(self.config.max_protocol),
                driver_id: self.identity.driver_id.clone(),
                token: self.identity.token.clone(),
                app_version: self.identity.app_version.clone(),
                last_event_id: self.last_event_id,
            })));
            self.phase = Phase::Greeting { socket, deadline: now + self.config.connect_timeout };
        }
    }

    /// The socket `socket` closed or failed, with the close code the server gave, if any.
    /// Events about sockets already given up on are ignored. A close code that stands for an
    /// error retrying cannot fix (the `error` frame itself may have been lost) refuses.
    pub fn handle_socket_closed(&mut self, now: Instant, socket: SocketId, close_code: Option<u16>) {
        if self.current_socket() != Some(socket) {
            return;
        }
        match close_code.and_then(ErrorCode::from_close_code) {
            Some(code) if !code.is_retryable() => {
                self.refuse(code, format!("the server closed the connection ({code})"))
            }
            _ => self.schedule_retry(now),
        }
    }

    /// A frame arrived from the server on `socket`. Returns whether it came from the current
    /// socket; frames from older sockets must be ignored by the caller too.
    pub fn handle_message(&mut self, now: Instant, socket: SocketId, message: &ServerMessage) -> bool {
        if self.current_socket() != Some(socket) {
            return false;
        }
        match (message, &mut self.phase) {
            (ServerMessage::Welcome(welcome), Phase::Greeting { .. }) => {
                let protocol = welcome.protocol;
                let newest = self.config.max_protocol.max(PROTOCOL_VERSION);
                if !(PROTOCOL_VERSION..=newest).contains(&protocol) {
                    self.refuse(
                        ErrorCode::UnsupportedProtocol,
                        format!("the server speaks protocol {protocol}, this app speaks {PROTOCOL_VERSION} to {newest}"),
                    );
                    return true;
                }
                let ping_due_at = now + self.draw_ping_wait();
                let wire = WireFormat::after_welcome(welcome);
                self.phase = Phase::Open { socket, opened_at: now, ping_due_at, awaiting_pong: None, wire };
            }
            (ServerMessage::Error(error), _) if !error.code.is_retryable() => {
                self.refuse(error.code, error.message.clone());
            }
            (message, Phase::Open { ping_due_at, awaiting_pong, .. }) => {
                if let (ServerMessage::Pong(pong), Some((nonce, _))) = (message, *awaiting_pong)
                    && pong.nonce == nonce
                {
                    *awaiting_pong = None;
                }
                // Any frame proves the link is alive, so the next probe can wait.
                let wait = self.config.ping_after_silence;
                let wait_ms = self.random.next_in_range(wait.0.as_millis() as u64, wait.1.as_millis() as u64);
                *ping_due_at = now + Duration::from_millis(wait_ms);
            }
            _ => {}
        }
        true
    }

    /// The browser's `online`/`offline` events (and `navigator.onLine` at start).
    ///
    /// `offline` is trusted: the phone has no network, so an open socket is closed at once (it
    /// would otherwise look alive until the ping times out) and retries slow down. `online` is
    /// only a hint, so it ends any wait and probes an open socket.
    pub fn handle_browser_online(&mut self, now: Instant, online: bool) {
        let went_offline = !online && !self.browser_offline;
        self.browser_offline = !online;
        if online {
            self.cut_wait_short_or_probe(now);
        } else if went_offline && let Some(socket) = self.current_socket() {
            self.actions.push_back(ConnectionAction::Close(socket));
            self.schedule_retry(now);
        }
    }

    /// The page became visible again: timers may have been throttled while it was hidden.
    pub fn handle_page_visible(&mut self, now: Instant) {
        self.cut_wait_short_or_probe(now);
    }

    /// Acts on every deadline that has passed by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase.clone() {
            Phase::Waiting { retry_at } if now >= retry_at => self.open_new_socket(now),
            Phase::Connecting { socket, deadline } | Phase::Greeting { socket, deadline }
                if now >= deadline =>
            {
                self.actions.push_back(ConnectionAction::Close(socket));
                self.schedule_retry(now);
            }
            Phase::Open { socket, awaiting_pong: Some((_, deadline)), .. } if now >= deadline => {
                self.actions.push_back(ConnectionAction::Close(socket));
                self.schedule_retry(now);
            }
            Phase::Open { ping_due_at, awaiting_pong: None, .. } if now >= ping_due_at => self.send_ping(now),
            _ => {}
        }
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<ConnectionAction> {
        self.actions.pop_front()
    }

    /// When [`Connection::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Idle | Phase::Refused { .. } => None,
            Phase::Waiting { retry_at } => Some(*retry_at),
            Phase::Connecting { deadline, .. } | Phase::Greeting { deadline, .. } => Some(*deadline),
            Phase::Open { awaiting_pong: Some((_, deadline)), .. } => Some(*deadline),
            Phase::Open { ping_due_at, awaiting_pong: None, .. } => Some(*ping_due_at),
        }
    }

    fn current_socket(&self) -> Option<SocketId> {
        match self.phase {
            Phase::Connecting { socket, .. }
            | Phase::Greeting { socket, .. }
            | Phase::Open { socket, .. } => Some(socket),
            _ => None,
        }
    }

    fn open_new_socket(&mut self, now: Instant) {
        let socket = SocketId(self.next_socket_id);
        self.next_socket_id += 1;
        self.actions.push_back(ConnectionAction::Open(socket));
        self.phase = Phase::Connecting { socket, deadline: now + self.config.connect_timeout };
    }

    fn schedule_retry(&mut self, now: Instant) {
        if let Phase::Open { opened_at, .. } = self.phase
            && now - opened_at >= self.config.stable_after
        {
            self.backoff.reset();
        }
        let delay = if self.browser_offline {
            let range = self.config.offline_retry;
            Duration::from_millis(
                self.random.next_in_range(range.0.as_millis() as u64, range.1.as_millis() as u64),
            )
        } else {
            self.backoff.next_delay(&mut self.random)
        };
        self.phase = Phase::Waiting { retry_at: now + delay };
    }

    fn refuse(&mut self, code: ErrorCode, message: String) {
        if let Some(socket) = self.current_socket() {
            self.actions.push_back(ConnectionAction::Close(socket));
        }
        self.phase = Phase::Refused { code, message };
    }

    fn cut_wait_short_or_probe(&mut self, now: Instant) {
        match self.phase {
            Phase::Waiting { .. } => self.open_new_socket(now),
            // The network changed or timers slept: the socket may be dead without a close event.
            Phase::Open { awaiting_pong: None, .. } => self.send_ping(now),
            _ => {}
        }
    }

    fn send_ping(&mut self, now: Instant) {
        let nonce = self.random.next_u64() >> 11; // fits a JavaScript number exactly
        self.actions.push_back(ConnectionAction::Send(ClientMessage::Ping(Ping { nonce })));
        if let Phase::Open { awaiting_pong, .. } = &mut self.phase {
            *awaiting_pong = Some((nonce, now + self.config.pong_timeout));
        }
    }

    fn draw_ping_wait(&mut self) -> Duration {
        let (low, high) = self.config.ping_after_silence;
        Duration::from_millis(self.random.next_in_range(low.as_millis() as u64, high.as_millis() as u64))
    }
}
