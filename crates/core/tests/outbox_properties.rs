//! Property tests for the outbox against a model of storage and of the server: random sequences
//! of new records, storage successes and failures, sends, acks, lost connections and reloads.
//! Whatever the order, no record the server acknowledged before a `welcome` is sent after it,
//! nothing durable is lost, and every record reaches the server exactly once in the end.

mod support;

use enroute_core::*;
use enroute_protocol::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;
use support::FakeStorage;

const T0: i64 = 1_763_769_600_000;

#[derive(Debug, Clone)]
enum Step {
    NewStatus,
    NewFix,
    StoreNext,
    StoreFails,
    Connect,
    SendNext,
    DeliverNextAck,
    Disconnect,
    Reload,
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::NewStatus),
        5 => Just(Step::NewFix),
        6 => Just(Step::StoreNext),
        1 => Just(Step::StoreFails),
        2 => Just(Step::Connect),
        6 => Just(Step::SendNext),
        5 => Just(Step::DeliverNextAck),
        1 => Just(Step::Disconnect),
        1 => Just(Step::Reload),
        2 => (1..3_000u64).prop_map(Step::Wait),
    ]
}

/// The server: holds records by sequence number (a duplicate changes nothing) and acknowledges
/// the highest number up to which it holds everything.
#[derive(Default)]
struct ModelServer {
    held: BTreeMap<u64, Record>,
    times_applied: BTreeMap<u64, u32>,
    /// Numbers a gap record declared gone for good.
    settled: BTreeSet<u64>,
}

impl ModelServer {
    fn receive(&mut self, batch: &RecordBatch) -> u64 {
        for record in &batch.records {
            if let Some(existing) = self.held.get(&record.seq) {
                assert_eq!(existing.id, record.id, "seq {} reused for another record", record.seq);
                continue;
            }
            if let RecordKind::Gap { lost, .. } = &record.kind {
                for range in lost.iter().filter(|range| range.last < record.seq) {
                    self.settled.extend(range.first..=range.last);
                }
            }
            self.held.insert(record.seq, record.clone());
            *self.times_applied.entry(record.seq).or_default() += 1;
        }
        self.acked_seq()
    }

    fn acked_seq(&self) -> u64 {
        let mut acked = 0;
        while self.held.contains_key(&(acked + 1)) || self.settled.contains(&(acked + 1)) {
            acked += 1;
        }
        acked
    }
}

struct World {
    outbox: Outbox,
    storage: FakeStorage,
    server: ModelServer,
    connected: bool,
    acks_on_the_way: VecDeque<u64>,
    /// What the last `welcome` said the server held: nothing at or below may be sent again.
    welcomed_up_to: Option<u64>,
    now_ms: u64,
    seed: u64,
    created: u64,
    /// What the app keeps in localStorage: the floor for numbering after a reload.
    sequence_floor: u64,
}

impl World {
    fn new() -> World {
        World {
            outbox: Outbox::new(config(), StoredOutbox::default(), 1),
            storage: FakeStorage::default(),
            server: ModelServer::default(),
            connected: false,
            acks_on_the_way: VecDeque::new(),
            welcomed_up_to: None,
            now_ms: 0,
            seed: 1,
            created: 0,
            sequence_floor: 0,
        }
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.now_ms)
    }

    fn unix_ms(&self) -> i64 {
        T0 + self.now_ms as i64
    }

    fn run(&mut self, step: &Step) {
        match step {
            Step::NewStatus => {
                let on = self.created.is_multiple_of(2);
                let kind = RecordKind::Status {
                    status: if on { DriverStatus::OnDuty } else { DriverStatus::OffDuty },
                    reason: None,
                };
                self.outbox.create(kind, self.unix_ms());
                self.created += 1;
            }
            Step::NewFix => {
                let fix = Fix {
                    time_ms: self.unix_ms(),
                    lat: 48.1 + self.created as f64 * 1e-4,
                    lon: 11.5,
                    accuracy_m: 5.0,
                    speed_mps: None,
                    heading_deg: None,
                    altitude_m: None,
                };
                self.outbox.create(RecordKind::Location { fix }, self.unix_ms());
                self.created += 1;
            }
            Step::StoreNext => {
                if let Some(write) = self.outbox.poll_storage_write(self.now()) {
                    self.storage.apply(&write);
                    self.outbox.handle_storage_written(write.id);
                }
            }
            Step::StoreFails => {
                if let Some(write) = self.outbox.poll_storage_write(self.now()) {
                    self.outbox.handle_storage_failed(self.now(), write.id);
                }
            }
            Step::Connect => {
                self.disconnect();
                let acked = self.server.acked_seq();
                self.outbox.handle_welcome(acked, &[], self.unix_ms());
                self.connected = true;
                self.welcomed_up_to = Some(acked);
            }
            Step::SendNext => {
                if !self.connected {
                    return;
                }
                if let Some(batch) = self.outbox.poll_batch() {
                    if let Some(floor) = self.outbox.take_sequence_floor() {
                        self.sequence_floor = self.sequence_floor.max(floor);
                    }
                    if let Some(welcomed) = self.welcomed_up_to {
                        for record in &batch.records {
                            assert!(
                                record.seq > welcomed,
                                "seq {} sent again after a welcome saying the server holds up to {welcomed}",
                                record.seq
                            );
                        }
                    }
                    let acked = self.server.receive(&batch);
                    self.acks_on_the_way.push_back(acked);
                }
            }
            Step::DeliverNextAck => {
                if let Some(acked) = self.acks_on_the_way.pop_front() {
                    self.outbox.handle_ack(acked, &[], self.unix_ms());
                }
            }
            Step::Disconnect => self.disconnect(),
            Step::Reload => {
                // The page closes: only what storage committed survives.
                self.disconnect();
                self.seed += 1;
                let mut stored = self.storage.load();
                stored.raise_sequence_floor(self.sequence_floor);
                self.outbox = Outbox::new(config(), stored, self.seed);
            }
            Step::Wait(milliseconds) => {
                self.now_ms += milliseconds;
            }
        }
    }

    fn disconnect(&mut self) {
        self.outbox.handle_disconnected();
        self.connected = false;
        self.acks_on_the_way.clear();
    }

    /// Network and storage work from now on: everything waiting must reach the server.
    fn drain(&mut self) {
        self.run(&Step::Connect);
        for _ in 0..10_000 {
            self.now_ms += 1_000;
            while let Some(write) = self.outbox.poll_storage_write(self.now()) {
                self.storage.apply(&write);
                self.outbox.handle_storage_written(write.id);
            }
            let mut sent_any = false;
            while let Some(batch) = self.outbox.poll_batch() {
                if let Some(floor) = self.outbox.take_sequence_floor() {
                    self.sequence_floor = self.sequence_floor.max(floor);
                }
                sent_any = true;
                let acked = self.server.receive(&batch);
                self.outbox.handle_ack(acked, &[], self.unix_ms());
            }
            if !sent_any && self.outbox.status().waiting == 0 {
                return;
            }
        }
        panic!("the outbox did not drain: {:?}", self.outbox.status());
    }
}

fn config() -> OutboxConfig {
    OutboxConfig {
        // Small batches and window so the sequences exercise pipelining and partial acks.
        batch_max_records: 3,
        max_frames_in_flight: 2,
        storage_retry_after: Duration::from_millis(500),
        ..OutboxConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn acked_records_are_never_resent_after_welcome_and_every_durable_record_arrives_once(
        steps in prop::collection::vec(step(), 1..200)
    ) {
        let mut world = World::new();
        let mut durable = BTreeSet::new();
        for step in &steps {
            world.run(step);
            durable.extend(world.storage.records.keys().copied());
        }
        world.drain();
        // Every record that was ever durable reached the server, each exactly once.
        for seq in &durable {
            prop_assert!(world.server.held.contains_key(seq), "durable record {} never arrived", seq);
        }
        for (seq, times) in &world.server.times_applied {
            prop_assert_eq!(*times, 1, "seq {} applied {} times", seq, times);
        }
        // Every number is held or was declared lost by a gap record (which only happens for
        // records sent before they were stored and then lost with a reload): nothing is pending.
        let last = world.server.held.keys().next_back().copied().unwrap_or(0);
        for seq in 1..=last {
            prop_assert!(
                world.server.held.contains_key(&seq) || world.server.settled.contains(&seq),
                "seq {} neither held nor settled", seq
            );
        }
        prop_assert_eq!(world.server.acked_seq(), last);
        prop_assert_eq!(world.outbox.status().waiting, 0);
    }
}
