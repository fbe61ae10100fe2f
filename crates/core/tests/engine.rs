//! The engine against a simulated server, network, storage and clock: every reconnect race we
//! could think of, then randomized runs that mix them all. No sockets, no sleeps.

mod support;

use enroute_core::*;
use enroute_protocol::*;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;
use support::FakeStorage;

const T0: i64 = 1_763_769_600_000;

/// A server that behaves like the mock server: de-duplicates by sequence number, applies in
/// order, settles gaps, acknowledges cumulatively.
#[derive(Default)]
struct FakeServer {
    held: BTreeMap<u64, Record>,
    lost: Vec<SeqRange>,
    acked_seq: u64,
    duplicates: u64,
    live_batches: u64,
}

impl FakeServer {
    fn receive(&mut self, message: &ClientMessage) -> Vec<ServerMessage> {
        match message {
            ClientMessage::Hello(hello) => {
                assert_eq!(hello.protocol, PROTOCOL_VERSION);
                vec![ServerMessage::Welcome(Welcome {
                    protocol: PROTOCOL_VERSION,
                    acked_seq: self.acked_seq,
                    server_time_ms: T0,
                    rejected: Vec::new(),
                })]
            }
            ClientMessage::Records(batch) => {
                assert!(!batch.records.is_empty(), "empty batches waste a frame");
                if batch.live {
                    self.live_batches += 1;
                }
                for record in &batch.records {
                    if let RecordKind::Gap { lost, .. } = &record.kind {
                        assert!(
                            lost.iter().all(|range| range.last < record.seq),
                            "gap names only lower numbers"
                        );
                        self.lost.extend(lost.iter().copied());
                    }
                    if record.seq <= self.acked_seq || self.held.contains_key(&record.seq) {
                        self.duplicates += 1;
                    } else {
                        self.held.insert(record.seq, record.clone());
                    }
                }
                loop {
                    let next = self.acked_seq + 1;
                    if self.held.contains_key(&next) || self.lost.iter().any(|range| range.contains(next)) {
                        self.acked_seq = next;
                    } else {
                        break;
                    }
                }
                vec![ServerMessage::Ack(RecordAck { acked_seq: self.acked_seq, rejected: Vec::new() })]
            }
            ClientMessage::Ping(ping) => vec![ServerMessage::Pong(Pong { nonce: ping.nonce })],
            ClientMessage::Ack(_) => vec![],
        }
    }
}

/// The whole world: one device, one server, the network between them, storage and a clock.
struct World {
    engine: Engine,
    server: FakeServer,
    storage: FakeStorage,
    now_ms: u64,
    socket: Option<SocketId>,
    socket_open: bool,
    to_server: VecDeque<ClientMessage>,
    to_device: VecDeque<ServerMessage>,
    writes: VecDeque<StorageWrite>,
    created: u64,
    seed: u64,
    /// What the app keeps in localStorage (`EngineAction::RememberSequenceFloor`).
    sequence_floor: u64,
}

fn identity() -> DeviceIdentity {
    DeviceIdentity { driver_id: "driver-1".into(), token: None, app_version: "test".into() }
}

fn fix_kind(counter: u64) -> RecordKind {
    RecordKind::Location {
        fix: Fix {
            time_ms: T0 + counter as i64,
            lat: 48.0,
            lon: 11.0,
            accuracy_m: 5.0,
            speed_mps: None,
            heading_deg: None,
            altitude_m: None,
        },
    }
}

impl World {
    fn new(seed: u64) -> World {
        let mut engine = Engine::new(EngineConfig::default(), identity(), StoredOutbox::default(), seed);
        engine.start(Now { monotonic: Instant::from_millis(0), unix_ms: T0 });
        let mut world = World {
            engine,
            server: FakeServer::default(),
            storage: FakeStorage::default(),
            now_ms: 0,
            socket: None,
            socket_open: false,
            to_server: VecDeque::new(),
            to_device: VecDeque::new(),
            writes: VecDeque::new(),
            created: 0,
            seed,
            sequence_floor: 0,
        };
        world.pump();
        world
    }

    fn commit_all_writes(&mut self) {
        while !self.writes.is_empty() {
            self.commit_write();
        }
    }

    fn now(&self) -> Now {
        Now { monotonic: Instant::from_millis(self.now_ms), unix_ms: T0 + self.now_ms as i64 }
    }

    /// Performs the engine's actions: sockets open instantly, frames queue on the network,
    /// writes queue for storage.
    fn pump(&mut self) {
        while let Some(action) = self.engine.poll_action(self.now()) {
            match action {
                EngineAction::OpenSocket(socket) => {
                    self.socket = Some(socket);
                    self.socket_open = false;
                    self.to_server.clear();
                    self.to_device.clear();
                }
                EngineAction::Send(message) => {
                    if self.socket.is_some() {
                        self.to_server.push_back(message);
                    }
                }
                EngineAction::CloseSocket(socket) => {
                    if self.socket == Some(socket) {
                        self.socket = None;
                        self.socket_open = false;
                        self.to_server.clear();
                        self.to_device.clear();
                    }
                }
                EngineAction::Store(write) => self.writes.push_back(write),
                EngineAction::StoreAssignments(write) => self.engine.handle_assignments_stored(write.id),
                EngineAction::RememberSequenceFloor(floor) => {
                    self.sequence_floor = self.sequence_floor.max(floor)
                }
            }
        }
    }

    fn open_socket(&mut self) {
        if let Some(socket) = self.socket
            && !self.socket_open
        {
            self.socket_open = true;
            self.engine.handle_socket_opened(self.now(), socket);
        }
        self.pump();
    }

    fn deliver_to_server(&mut self) {
        if let Some(message) = self.to_server.pop_front() {
            let replies = self.server.receive(&message);
            self.to_device.extend(replies);
        }
    }

    fn deliver_to_device(&mut self) {
        if let (Some(socket), Some(message)) = (self.socket, self.to_device.pop_front()) {
            self.engine.handle_message(self.now(), socket, &message);
        }
        self.pump();
    }

    fn commit_write(&mut self) {
        if let Some(write) = self.writes.pop_front() {
            self.storage.apply(&write);
            self.engine.handle_storage_written(write.id);
        }
        self.pump();
    }

    fn drop_connection(&mut self) {
        if let Some(socket) = self.socket.take() {
            self.socket_open = false;
            self.to_server.clear();
            self.to_device.clear();
            self.engine.handle_socket_closed(self.now(), socket, None);
        }
        self.pump();
    }

    fn create(&mut self) {
        self.created += 1;
        self.engine.record(self.now(), fix_kind(self.created));
        self.pump();
    }

    /// The page reloads: memory is gone, writes not committed are gone, storage stays.
    fn reload(&mut self) {
        self.seed += 1000;
        let mut stored = self.storage.load();
        stored.raise_sequence_floor(self.sequence_floor);
        self.engine = Engine::new(EngineConfig::default(), identity(), stored, self.seed);
        self.socket = None;
        self.socket_open = false;
        self.to_server.clear();
        self.to_device.clear();
        self.writes.clear();
        self.engine.start(self.now());
        self.pump();
    }

    fn advance(&mut self, milliseconds: u64) {
        self.now_ms += milliseconds;
        if self.engine.poll_timeout().is_some_and(|deadline| deadline.as_millis() <= self.now_ms) {
            self.engine.handle_timeout(self.now());
        }
        self.pump();
    }

    /// Lets everything settle: network delivers, storage commits, retries happen.
    fn settle(&mut self) {
        for _ in 0..100_000 {
            if self.socket.is_some() && !self.socket_open {
                self.open_socket();
            }
            let busy = !self.to_server.is_empty() || !self.to_device.is_empty() || !self.writes.is_empty();
            self.deliver_to_server();
            self.deliver_to_device();
            self.commit_write();
            if !busy {
                if self.engine.outbox().status().waiting == 0 && self.socket_open {
                    return;
                }
                self.advance(1_000);
            }
        }
        panic!("the world never settled: {:?}", self.engine.snapshot());
    }

    /// Every record the device stored is on the server exactly once, numbered 1..n without gaps,
    /// in creation order; and nothing is left waiting.
    fn assert_everything_delivered_once_in_order(&self) {
        assert_eq!(self.engine.outbox().status().waiting, 0);
        let seqs: Vec<u64> = self.server.held.keys().copied().collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "contiguous from 1");
        assert_eq!(self.server.acked_seq, seqs.len() as u64);
        let ids: HashSet<&RecordId> = self.server.held.values().map(|record| &record.id).collect();
        assert_eq!(ids.len(), seqs.len(), "no record twice");
        let creation_order: Vec<i64> = self
            .server
            .held
            .values()
            .map(|record| match &record.kind {
                RecordKind::Location { fix } => fix.time_ms,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert!(creation_order.windows(2).all(|pair| pair[0] < pair[1]), "in creation order");
    }
}

#[test]
fn happy_path_records_reach_the_server_and_are_freed() {
    let mut world = World::new(1);
    world.open_socket();
    world.deliver_to_server(); // hello
    world.deliver_to_device(); // welcome
    world.commit_all_writes(); // the confirmed numbering
    assert_eq!(world.engine.snapshot().link, LinkStatus::Online);
    for _ in 0..5 {
        world.create();
    }
    world.settle();
    world.assert_everything_delivered_once_in_order();
    assert_eq!(world.server.held.len(), 5);
    assert_eq!(world.storage.records.len(), 5, "cleanup waits for a quiet moment");
    world.advance(1_000);
    world.commit_all_writes();
    assert!(world.storage.records.is_empty(), "acknowledged records are deleted from storage");
    assert_eq!(world.storage.counters.acked_seq, 5);
}

#[test]
fn records_made_offline_are_sent_after_connecting() {
    let mut world = World::new(2);
    for _ in 0..250 {
        world.create();
    }
    world.settle();
    world.assert_everything_delivered_once_in_order();
    assert!(world.server.live_batches <= 1);
}

#[test]
fn regression_ack_for_a_batch_sent_on_a_previous_connection_is_ignored() {
    let mut world = World::new(3);
    world.settle();
    for _ in 0..3 {
        world.create();
    }
    world.commit_all_writes();
    world.deliver_to_server(); // the batch reaches the server, which queues an ack
    let stale_socket = world.socket.unwrap();
    let stale_ack = world.to_device.pop_front().unwrap();
    world.drop_connection();
    // The old socket's ack arrives late: it must not touch the new session's accounting.
    world.engine.handle_message(world.now(), stale_socket, &stale_ack);
    world.pump();
    assert_eq!(world.engine.outbox().status().waiting, 3);
    world.settle();
    world.assert_everything_delivered_once_in_order();
    assert_eq!(world.server.duplicates, 0, "welcome said the server holds them: none resent");
}

#[test]
fn duplicate_acks_do_not_open_the_window_twice() {
    let mut world = World::new(4);
    world.settle();
    for _ in 0..900 {
        world.create();
    }
    world.commit_all_writes();
    let frames_before: usize = world.to_server.len();
    assert_eq!(frames_before, 4, "the window holds four frames");
    let socket = world.socket.unwrap();
    world.engine.handle_message(
        world.now(),
        socket,
        &ServerMessage::Ack(RecordAck { acked_seq: 0, rejected: Vec::new() }),
    );
    world.pump();
    assert_eq!(world.to_server.len(), 5, "an ack that frees nothing still means one frame was answered");
    world.settle();
    world.assert_everything_delivered_once_in_order();
}

#[test]
fn welcome_lower_than_what_was_acked_is_healed_with_a_gap_record() {
    let mut world = World::new(5);
    world.settle();
    for _ in 0..10 {
        world.create();
    }
    world.settle();
    // The server restarts from an old backup: it only holds 1 to 4.
    world.server.held.retain(|seq, _| *seq <= 4);
    world.server.acked_seq = 4;
    world.drop_connection();
    world.create();
    world.settle();
    assert_eq!(world.server.acked_seq, 12, "5 to 10 settled as lost, 11 and the gap report stored");
    let gap = world.server.held.get(&12).unwrap();
    assert_eq!(gap.kind, RecordKind::Gap { reason: GapReason::ServerLost, lost: vec![SeqRange::new(5, 10)] });
    assert_eq!(world.engine.outbox().status().waiting, 0);
}

#[test]
fn a_reload_loses_nothing_stored_and_duplicates_nothing() {
    let mut world = World::new(6);
    world.settle();
    for _ in 0..20 {
        world.create();
    }
    world.commit_all_writes();
    while !world.to_server.is_empty() {
        world.deliver_to_server(); // the server holds them; the acks are lost with the page
    }
    world.reload();
    world.settle();
    world.assert_everything_delivered_once_in_order();
    assert_eq!(world.server.held.len(), 20);
    assert_eq!(world.server.duplicates, 0);
}

#[test]
fn the_server_dying_silently_is_detected_by_the_missing_pong() {
    let mut world = World::new(7);
    world.settle();
    let socket = world.socket.unwrap();
    // The network goes dark: frames vanish, no close event arrives.
    for _ in 0..40 {
        world.to_server.clear();
        world.advance(1_000);
    }
    assert_ne!(world.socket, Some(socket), "the dead socket was closed and a new one opened");
    world.create();
    world.settle();
    world.assert_everything_delivered_once_in_order();
}

/// Randomized runs: records are created while connections drop, frames are lost in flight,
/// storage commits late, the page reloads and time passes. Whatever happens, the end state is
/// every stored record on the server exactly once, in order.
#[test]
fn randomized_chaos_delivers_every_record_exactly_once_in_order() {
    for seed in 0..300 {
        let mut world = World::new(seed);
        let mut random = Random::from_seed(seed ^ 0x5eed);
        for _ in 0..400 {
            match random.next_in_range(0, 99) {
                0..=29 => world.create(),
                30..=44 => world.deliver_to_server(),
                45..=59 => world.deliver_to_device(),
                60..=74 => world.commit_write(),
                75..=79 => world.open_socket(),
                80..=83 => world.drop_connection(),
                84..=85 => world.reload(),
                _ => world.advance(random.next_in_range(1, 3_000)),
            }
        }
        world.settle();
        world.assert_everything_delivered_once_in_order();
        let durable_created = world.server.held.len() as u64;
        assert!(durable_created <= world.created, "seed {seed}");
    }
}

#[test]
fn storage_failure_then_recovery_keeps_sending_and_stores_later() {
    let mut world = World::new(9);
    world.settle();
    world.create();
    let write = world.writes.pop_front().unwrap();
    world.engine.handle_storage_failed(world.now(), write.id);
    world.pump();
    assert!(!world.engine.snapshot().outbox.storage_ok);
    // Sent from memory while storage is down.
    assert!(matches!(world.to_server.back(), Some(ClientMessage::Records(_))));
    world.advance(Duration::from_secs(6).as_millis() as u64);
    world.settle();
    assert!(world.engine.snapshot().outbox.storage_ok);
    world.assert_everything_delivered_once_in_order();
}

#[test]
fn a_background_flush_is_wanted_only_for_stored_records_the_app_cannot_send() {
    let offline = LinkStatus::Waiting { retry_at: Instant::default(), browser_offline: true };
    let stored_waiting = OutboxStatus { waiting: 3, unsaved: 0, storage_ok: true, ..OutboxStatus::default() };
    let wants = |link: &LinkStatus, outbox: OutboxStatus| {
        SyncSnapshot { link: link.clone(), outbox }.wants_background_flush()
    };
    assert!(wants(&offline, stored_waiting));
    assert!(wants(&LinkStatus::Connecting, stored_waiting));
    assert!(!wants(&LinkStatus::Online, stored_waiting), "the app sends them itself");
    assert!(!wants(&offline, OutboxStatus { waiting: 0, ..stored_waiting }), "nothing waits");
    assert!(!wants(&offline, OutboxStatus { unsaved: 3, ..stored_waiting }), "the worker cannot see them");
    assert!(!wants(&offline, OutboxStatus { storage_ok: false, ..stored_waiting }), "storage is failing");
}

/// A new token from Settings signs in again with it, as the same driver: nothing waiting is
/// dropped and the numbering goes on (regression: saving settings replaced the running engine).
#[test]
fn a_new_token_signs_in_again_and_keeps_the_outbox() {
    let identity = DeviceIdentity {
        driver_id: "driver-1".into(),
        token: Some("old".into()),
        app_version: "test".into(),
    };
    let mut engine = Engine::new(EngineConfig::default(), identity, StoredOutbox::default(), 7);
    let now = Now { monotonic: Instant::from_millis(0), unix_ms: 1_763_769_600_000 };
    engine.start(now);
    let first = match engine.poll_action(now) {
        Some(EngineAction::OpenSocket(socket)) => socket,
        other => panic!("expected a socket, got {other:?}"),
    };
    engine.record(
        now,
        enroute_protocol::RecordKind::Status { status: enroute_protocol::DriverStatus::OnDuty, reason: None },
    );
    engine.set_token(now, Some("new".into()));
    assert_eq!(engine.identity().token.as_deref(), Some("new"));
    let mut closed_old = false;
    let mut opened_new = false;
    while let Some(action) = engine.poll_action(now) {
        match action {
            EngineAction::CloseSocket(socket) if socket == first => closed_old = true,
            EngineAction::OpenSocket(socket) if socket != first => opened_new = true,
            _ => {}
        }
    }
    assert!(closed_old && opened_new, "signs in again on a new socket");
    assert_eq!(engine.snapshot().outbox.waiting, 1, "the waiting record is kept");
}
