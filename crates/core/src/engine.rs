//! The sync engine: the [`Connection`] and the [`Outbox`] working together. This is everything
//! the app decides about talking to the server; the platform layer only performs its actions.
//!
//! ```text
//!  platform ──handle_*(now, …)──▶ Engine ──poll_action()──▶ OpenSocket / Send / CloseSocket / Store
//!                                   │
//!                         Connection (link)  +  Outbox (records)
//! ```

use crate::assignments::{ActError, AssignmentBook, AssignmentWrite, EventEffect, StoredAssignments};
use crate::connection::{
    Connection, ConnectionAction, ConnectionConfig, DeviceIdentity, LinkStatus, SocketId,
};
use crate::outbox::{Outbox, OutboxConfig, OutboxStatus, StorageWrite, StoredOutbox};
use crate::time::Instant;
use enroute_protocol::{ClientMessage, DriverAction, EventAck, RecordKind, ServerMessage};
use std::collections::VecDeque;

/// The time, as both clocks see it: monotonic for deadlines, wall clock for timestamps that
/// leave the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    pub monotonic: Instant,
    pub unix_ms: i64,
}

/// Settings of the engine. The defaults are what the app uses.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EngineConfig {
    pub connection: ConnectionConfig,
    pub outbox: OutboxConfig,
}

/// What the platform must do.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineAction {
    /// Open a new socket; report its events with this id.
    OpenSocket(SocketId),
    /// Send this frame on the current socket.
    Send(ClientMessage),
    /// Close this socket.
    CloseSocket(SocketId),
    /// Apply this write to durable storage in one transaction, then call
    /// [`Engine::handle_storage_written`] or [`Engine::handle_storage_failed`].
    Store(StorageWrite),
    /// Store these jobs, then call [`Engine::handle_assignments_stored`] or
    /// [`Engine::handle_assignments_store_failed`]. Events are acknowledged to the server only
    /// once stored.
    StoreAssignments(AssignmentWrite),
    /// Keep this number where it survives a reload even while storage fails (the app uses
    /// `localStorage`), before the `Send` that follows; pass it to
    /// [`StoredOutbox::raise_sequence_floor`] at the next start.
    RememberSequenceFloor(u64),
}

/// Everything the UI shows about synchronisation.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncSnapshot {
    pub link: LinkStatus,
    pub outbox: OutboxStatus,
}

impl SyncSnapshot {
    /// Whether to ask the browser for a background flush (Background Sync): stored records are
    /// waiting and this app cannot send them now. Should the driver close the app before it
    /// reconnects, the service worker uploads them when the network returns.
    pub fn wants_background_flush(&self) -> bool {
        self.outbox.storage_ok
            && self.outbox.waiting > self.outbox.unsaved
            && !matches!(self.link, LinkStatus::Online)
    }
}

/// The sync engine. See the module documentation.
#[derive(Debug, Clone)]
pub struct Engine {
    connection: Connection,
    outbox: Outbox,
    assignments: AssignmentBook,
    effects: VecDeque<EventEffect>,
    /// The socket the outbox's sending session belongs to.
    session_socket: Option<SocketId>,
    actions: VecDeque<EngineAction>,
}

impl Engine {
    /// An engine starting from what storage held. `seed` drives jitter and record ids.
    pub fn new(config: EngineConfig, identity: DeviceIdentity, stored: StoredOutbox, seed: u64) -> Engine {
        let mut seeds = crate::random::Random::from_seed(seed);
        Engine {
            connection: Connection::new(config.connection, identity, seeds.next_u64()),
            outbox: Outbox::new(config.outbox, stored, seeds.next_u64()),
            assignments: AssignmentBook::default(),
            effects: VecDeque::new(),
            session_socket: None,
            actions: VecDeque::new(),
        }
    }

    /// The engine with the jobs and messages storage held.
    pub fn with_assignments(mut self, stored: StoredAssignments) -> Engine {
        self.assignments = AssignmentBook::new(stored);
        self.connection.set_last_event_id(self.assignments.stored_last_event_id());
        self
    }

    /// The driver's jobs.
    pub fn assignments(&self) -> &AssignmentBook {
        &self.assignments
    }

    /// The driver acts on a job: applied at once, sent as a record. Returns its sequence number.
    pub fn act(
        &mut self,
        now: Now,
        id: &str,
        action: DriverAction,
        reason: Option<String>,
    ) -> Result<u64, ActError> {
        let kind = self.assignments.act(id, action, reason, now.unix_ms)?;
        let seq = self.outbox.create(kind, now.unix_ms);
        self.assignments.attach_seq(id, seq);
        Ok(seq)
    }

    /// Reconnects asking the server for every event after `event_id` again, as a device whose
    /// stored events lag behind what it handled would. (A test hook: duplicates must change
    /// nothing.)
    pub fn reconnect_replaying_events_from(&mut self, now: Now, event_id: u64) {
        self.connection.handle_stop();
        self.sync_session();
        self.connection.set_last_event_id(event_id);
        self.connection.handle_start(now.monotonic);
    }

    /// The driver read the server's notice about a job.
    pub fn dismiss_notice(&mut self, id: &str) {
        self.assignments.dismiss_notice(id);
    }

    /// What the last events did (new offers, changes, messages), for alerts; oldest first.
    pub fn poll_event_effect(&mut self) -> Option<EventEffect> {
        self.effects.pop_front()
    }

    /// Storage committed assignment write `id`: events it holds can be acknowledged.
    pub fn handle_assignments_stored(&mut self, id: u64) {
        if let Some(event_id) = self.assignments.handle_written(id) {
            self.connection.set_last_event_id(event_id);
            if self.session_socket.is_some() {
                self.actions.push_back(EngineAction::Send(ClientMessage::Ack(EventAck { event_id })));
            }
        }
    }

    /// Storage failed assignment write `id`; it is retried with the next change.
    pub fn handle_assignments_store_failed(&mut self, id: u64) {
        self.assignments.handle_write_failed(id);
    }

    /// What the UI shows.
    pub fn snapshot(&self) -> SyncSnapshot {
        SyncSnapshot { link: self.connection.status(), outbox: self.outbox.status() }
    }

    /// The outbox, for reading.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Starts connecting.
    pub fn start(&mut self, now: Now) {
        self.connection.handle_start(now.monotonic);
    }

    /// Who this device signs in as.
    pub fn identity(&self) -> &DeviceIdentity {
        self.connection.identity()
    }

    /// Signs in again with a new token (the driver saved it in Settings); the outbox, its
    /// numbering and the jobs stay as they are: it is the same driver.
    pub fn set_token(&mut self, now: Now, token: Option<String>) {
        self.connection.set_token(now.monotonic, token);
        self.sync_session();
    }

    /// Stops: closes the socket and stays idle until [`Engine::start`].
    pub fn stop(&mut self) {
        self.connection.handle_stop();
        self.sync_session();
    }

    /// The driver produced something: it becomes a record, stored, then sent. Returns its
    /// sequence number. A location fix is kept at the precision the protocol sends
    /// ([`enroute_protocol::Fix::at_sent_precision`]).
    pub fn record(&mut self, now: Now, kind: RecordKind) -> u64 {
        let kind = match kind {
            RecordKind::Location { fix } => RecordKind::Location { fix: fix.at_sent_precision() },
            other => other,
        };
        self.outbox.create(kind, now.unix_ms)
    }

    /// A message of [`EngineAction::Send`] as the text frame to send on the current socket, in
    /// the form its `welcome` chose (`hello` and everything before a `welcome` as objects).
    pub fn encode(&self, message: &ClientMessage) -> String {
        self.connection.wire_format().encode_client(message)
    }

    pub fn handle_socket_opened(&mut self, now: Now, socket: SocketId) {
        self.connection.handle_socket_opened(now.monotonic, socket);
    }

    /// The socket closed, with the server's close code if it gave one.
    pub fn handle_socket_closed(&mut self, now: Now, socket: SocketId, close_code: Option<u16>) {
        self.connection.handle_socket_closed(now.monotonic, socket, close_code);
        self.sync_session();
    }

    /// A decoded frame from the server on `socket`.
    pub fn handle_message(&mut self, now: Now, socket: SocketId, message: &ServerMessage) {
        if !self.connection.handle_message(now.monotonic, socket, message) {
            return; // from a socket already given up on
        }
        match message {
            ServerMessage::Welcome(welcome) if self.connection.open_socket() == Some(socket) => {
                self.outbox.handle_welcome(welcome.acked_seq, &welcome.rejected, now.unix_ms);
                self.assignments.handle_acked(self.outbox.counters().acked_seq);
                self.session_socket = Some(socket);
            }
            ServerMessage::Ack(ack) if self.session_socket == Some(socket) => {
                self.outbox.handle_ack(ack.acked_seq, &ack.rejected, now.unix_ms);
                self.assignments.handle_acked(self.outbox.counters().acked_seq);
            }
            ServerMessage::Event(event) if self.session_socket == Some(socket) => {
                let effect = self.assignments.handle_event(event, now.unix_ms);
                if effect != EventEffect::Duplicate {
                    self.effects.push_back(effect);
                }
            }
            _ => {}
        }
        self.sync_session();
    }

    pub fn handle_browser_online(&mut self, now: Now, online: bool) {
        self.connection.handle_browser_online(now.monotonic, online);
        self.sync_session();
    }

    pub fn handle_page_visible(&mut self, now: Now) {
        self.connection.handle_page_visible(now.monotonic);
        self.sync_session();
    }

    /// Storage committed write `id`.
    pub fn handle_storage_written(&mut self, id: u64) {
        self.outbox.handle_storage_written(id);
    }

    /// Storage failed write `id`; records stay in memory and the write is retried later.
    pub fn handle_storage_failed(&mut self, now: Now, id: u64) {
        self.outbox.handle_storage_failed(now.monotonic, id);
    }

    /// Acts on every deadline that has passed.
    pub fn handle_timeout(&mut self, now: Now) {
        self.connection.handle_timeout(now.monotonic);
        self.sync_session();
    }

    /// The next thing to do. Call until it returns `None` after every `handle_*` call.
    pub fn poll_action(&mut self, now: Now) -> Option<EngineAction> {
        if let Some(action) = self.actions.pop_front() {
            return Some(action);
        }
        if let Some(action) = self.connection.poll_action() {
            let action = match action {
                ConnectionAction::Open(socket) => EngineAction::OpenSocket(socket),
                ConnectionAction::Send(message) => EngineAction::Send(message),
                ConnectionAction::Close(socket) => EngineAction::CloseSocket(socket),
            };
            self.sync_session();
            return Some(action);
        }
        if let Some(write) = self.outbox.poll_storage_write(now.monotonic) {
            return Some(EngineAction::Store(write));
        }
        if let Some(write) = self.assignments.poll_write() {
            return Some(EngineAction::StoreAssignments(write));
        }
        if self.session_socket.is_some()
            && let Some(batch) = self.outbox.poll_batch()
        {
            let send = EngineAction::Send(ClientMessage::Records(batch));
            if let Some(floor) = self.outbox.take_sequence_floor() {
                self.actions.push_back(send);
                return Some(EngineAction::RememberSequenceFloor(floor));
            }
            return Some(send);
        }
        None
    }

    /// When [`Engine::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.connection.poll_timeout(), self.outbox.poll_timeout()) {
            (Some(link), Some(storage)) => Some(link.min(storage)),
            (link, storage) => link.or(storage),
        }
    }

    /// Ends the outbox's sending session when its connection is no longer open.
    fn sync_session(&mut self) {
        if self.session_socket.is_some() && self.connection.open_socket() != self.session_socket {
            self.session_socket = None;
            self.outbox.handle_disconnected();
        }
    }
}
