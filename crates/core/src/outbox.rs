//! The outbox: every record the driver produces, from creation until the server acknowledges it.
//!
//! The outbox keeps all unacknowledged records in memory and mirrors them in durable storage
//! (IndexedDB in the app). It never touches storage itself: it hands out [`StorageWrite`]s, one
//! at a time and in order, and is told when each is committed or failed. A record may only be
//! sent once a write holding it has committed, so a record the server has seen is always one the
//! device can still resend after a reload. When storage fails the outbox keeps working from
//! memory (nothing is refused, nothing is dropped) and retries storage later; the app shows that
//! records are not durable meanwhile.
//!
//! Sending happens in sessions, one per connection: `welcome` starts one (dropping what the
//! server already holds), acknowledgements free records, a disconnect ends it. Batches are
//! pipelined: up to `max_frames_in_flight` `records` frames may await their `ack`.

use crate::random::Random;
use crate::time::Instant;
use enroute_protocol::{
    DriverStatus, GapReason, Record, RecordBatch, RecordId, RecordKind, RecordRejection, SeqRange,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Limits of the outbox. The defaults are what the app uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutboxConfig {
    /// Most records kept; beyond it the oldest location fixes are evicted. Status records and
    /// gap reports are never evicted, so the outbox can exceed this if it holds only those.
    pub max_records: usize,
    /// Location fixes older than this (by creation time) are evicted.
    pub max_age: Duration,
    /// Most records in one `records` frame.
    pub batch_max_records: usize,
    /// Most bytes of encoded records in one `records` frame (at least one record is always sent).
    pub batch_max_bytes: usize,
    /// Most `records` frames awaiting their `ack` at once.
    pub max_frames_in_flight: usize,
    /// Wait before retrying storage after a failed write.
    pub storage_retry_after: Duration,
    /// Deleting acknowledged records is cleanup, not urgent (records at or below the stored
    /// acknowledged number are ignored on load): it waits until no new record has been written
    /// for this long, so it never delays storing a new record...
    pub cleanup_when_idle_for: Duration,
    /// ...or until it has waited this long, so a busy outbox still shrinks.
    pub cleanup_at_most_after: Duration,
}

impl Default for OutboxConfig {
    fn default() -> OutboxConfig {
        OutboxConfig {
            // A 10-hour shift at one fix every 5 s is 7,200 records: a week offline stays far below.
            max_records: 100_000,
            max_age: Duration::from_secs(7 * 24 * 3600),
            batch_max_records: 100,
            batch_max_bytes: 64 * 1024,
            max_frames_in_flight: 4,
            storage_retry_after: Duration::from_secs(5),
            cleanup_when_idle_for: Duration::from_secs(1),
            cleanup_at_most_after: Duration::from_secs(10),
        }
    }
}

/// Facts about the outbox that must survive reloads, stored beside the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboxCounters {
    /// Highest sequence number ever assigned on this device (0 for none).
    pub last_seq: u64,
    /// Highest sequence number the server acknowledged (0 for none).
    pub acked_seq: u64,
    /// Location fixes evicted over the device's lifetime.
    pub evicted_total: u64,
    /// When (device clock, Unix milliseconds) an acknowledgement last freed records.
    pub last_ack_unix_ms: Option<i64>,
    /// Whether a server `welcome` has confirmed this device's numbering. Until then the records
    /// are numbered provisionally and are renumbered after what the server already holds for
    /// the driver (a new phone, or cleared browser data, must not reuse sequence numbers).
    pub sequence_confirmed: bool,
    /// The last duty change recorded.
    pub duty: Option<DriverStatus>,
    /// Records the server refused for good, moved to the dead-letter store, ever.
    pub dead_letters_total: u64,
}

/// A record the server will never accept, kept aside (the dead-letter store) so it cannot block
/// the queue, and so the driver or support can export it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub record: Record,
    /// The server's reason.
    pub reason: String,
    /// When the refusal arrived (device clock, Unix milliseconds).
    pub rejected_at_unix_ms: i64,
}

/// The numbers in `acked_seq + 1 ..= floor` that storage knows nothing of: not a stored
/// record and not settled by a stored gap record. They were sent before they were stored and
/// lost with a restart; the server may or may not hold them.
fn numbers_missing_up_to(floor: u64, acked_seq: u64, entries: &BTreeMap<u64, Entry>) -> Vec<SeqRange> {
    if floor <= acked_seq {
        return Vec::new();
    }
    let mut settled: Vec<SeqRange> = entries
        .values()
        .filter_map(|entry| match &entry.record.kind {
            RecordKind::Gap { lost, .. } => Some(lost.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect();
    settled.sort_unstable();
    let is_known = |seq: u64| {
        entries.contains_key(&seq) || settled.iter().any(|range| range.first <= seq && seq <= range.last)
    };
    let mut missing = Vec::new();
    let mut seq = acked_seq + 1;
    while seq <= floor {
        if is_known(seq) {
            seq += 1;
            continue;
        }
        let first = seq;
        while seq <= floor && !is_known(seq) {
            seq += 1;
        }
        missing.push(SeqRange::new(first, seq - 1));
    }
    if missing.len() > enroute_protocol::MAX_GAP_RANGES {
        // The server refuses longer lists; fewer, wider ranges settle the same numbers (and the
        // ones it holds inside them stay held).
        let seqs: Vec<u64> = missing.iter().flat_map(|range| range.first..=range.last).collect();
        missing = SeqRange::collapse_capped(seqs, enroute_protocol::MAX_GAP_RANGES);
    }
    missing
}

/// What storage held at start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredOutbox {
    pub records: Vec<Record>,
    pub counters: OutboxCounters,
    /// The highest number ever sent before it was stored (kept outside the outbox's storage,
    /// see [`Outbox::take_sequence_floor`]); 0 when that never happened.
    pub sequence_floor: u64,
}

impl StoredOutbox {
    /// What storage held, with no sequence floor.
    pub fn new(records: Vec<Record>, counters: OutboxCounters) -> StoredOutbox {
        StoredOutbox { records, counters, sequence_floor: 0 }
    }

    /// Numbers new records above `floor`: records up to it were sent while storage was failing,
    /// so the server may hold them though storage does not (see [`Outbox::take_sequence_floor`]).
    pub fn raise_sequence_floor(&mut self, floor: u64) {
        self.sequence_floor = self.sequence_floor.max(floor);
    }
}

/// Changes to apply to storage in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageWrite {
    /// Identifies the write in [`Outbox::handle_storage_written`] and `handle_storage_failed`.
    pub id: u64,
    /// Records to store (insert or replace by sequence number).
    pub put: Vec<Record>,
    /// Delete every record with a sequence number up to this one.
    pub delete_up_to: Option<u64>,
    /// Delete these records.
    pub delete: Vec<u64>,
    /// Records the server refused, to add to the dead-letter store (keyed by record id).
    pub dead_letters: Vec<DeadLetter>,
    /// The counters to store: with every write that stores records (so the highest number
    /// assigned is always durable), and whenever they changed otherwise.
    pub counters: Option<OutboxCounters>,
}

/// What the driver should see about the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStatus {
    /// Records not yet acknowledged by the server.
    pub waiting: usize,
    /// Records not yet written to durable storage.
    pub unsaved: usize,
    /// False while storage is failing: records live in memory only.
    pub storage_ok: bool,
    pub evicted_total: u64,
    pub last_ack_unix_ms: Option<i64>,
    pub duty: Option<DriverStatus>,
    /// Records the server refused for good, ever (they are in the dead-letter store).
    pub dead_letters_total: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    record: Record,
    encoded_len: usize,
    stored: bool,
}

#[derive(Debug, Clone, Default)]
struct SendSession {
    /// Lowest sequence number not yet sent on this connection.
    next_unsent: u64,
    /// The newest fix, sent ahead of the backlog; skipped when the backlog reaches it.
    sent_live: Option<u64>,
    /// Whether the live-first step is still to be decided.
    live_step_pending: bool,
    frames_in_flight: usize,
}

/// Changes that must reach storage soon: new, renumbered or evicted records, and counters
/// that describe them.
#[derive(Debug, Clone, Default)]
struct PendingWrite {
    put: Vec<u64>,
    delete: Vec<u64>,
    dead_letters: Vec<DeadLetter>,
    counters_changed: bool,
    /// The write stores counters saying the numbering is confirmed.
    confirms_sequence: bool,
}

impl PendingWrite {
    fn is_empty(&self) -> bool {
        self.put.is_empty()
            && self.delete.is_empty()
            && self.dead_letters.is_empty()
            && !self.counters_changed
    }
}

/// Changes that can wait for a quiet moment: deleting acknowledged records and storing the
/// acknowledgement counters.
#[derive(Debug, Clone, Default)]
struct PendingCleanup {
    delete_up_to: Option<u64>,
    counters_changed: bool,
    /// When the outbox first saw this cleanup waiting (set by `poll_storage_write`).
    noticed_at: Option<Instant>,
}

impl PendingCleanup {
    fn is_empty(&self) -> bool {
        self.delete_up_to.is_none() && !self.counters_changed
    }
}

/// The outbox state machine. See the module documentation.
#[derive(Debug, Clone)]
pub struct Outbox {
    config: OutboxConfig,
    entries: BTreeMap<u64, Entry>,
    counters: OutboxCounters,
    random: Random,
    pending: PendingWrite,
    cleanup: PendingCleanup,
    last_urgent_write_at: Option<Instant>,
    /// The write being applied: its id, what it held, and the cleanup it carried.
    write_in_flight: Option<(u64, PendingWrite, Option<u64>)>,
    next_write_id: u64,
    storage_failing: bool,
    storage_retry_at: Option<Instant>,
    /// Whether storage holds `sequence_confirmed`. Nothing is sent before: a page reloaded
    /// between sending and storing the confirmation would renumber records the server already
    /// holds and deliver them twice.
    sequence_confirmed_durably: bool,
    session: Option<SendSession>,
    /// See [`Outbox::poll_batch`].
    sequence_floor_to_remember: Option<u64>,
    /// Numbers sent before they were stored and lost with a restart, to report in a gap record
    /// at the next `welcome` (see [`Outbox::new`]).
    unsaved_gap: Vec<SeqRange>,
}

impl Outbox {
    /// An outbox holding what storage held. `seed` drives record ids.
    pub fn new(config: OutboxConfig, stored: StoredOutbox, seed: u64) -> Outbox {
        let mut counters = stored.counters;
        let mut entries = BTreeMap::new();
        let mut cleanup = PendingCleanup::default();
        for record in stored.records {
            // Records at or below the acknowledged sequence were waiting for cleanup when the
            // page closed; they are done.
            if record.seq <= counters.acked_seq {
                cleanup.delete_up_to = Some(counters.acked_seq);
                continue;
            }
            // The stored counters already say how far numbering went; the records can only
            // confirm it (or carry it further where an older version stored records alone).
            counters.last_seq = counters.last_seq.max(record.seq);
            if let RecordKind::Status {
                status: status @ (DriverStatus::OnDuty | DriverStatus::OffDuty),
                ..
            } = &record.kind
            {
                counters.duty = Some(*status);
            }
            let encoded_len = record.encode().len();
            entries.insert(record.seq, Entry { record, encoded_len, stored: true });
        }
        // Numbers up to the floor were sent before they were stored. Those storage does not
        // know of may be missing at the server too (a batch lost on the way, a live fix sent
        // ahead of the backlog): new records go above the floor, and a gap record settles the
        // numbers in between, or the server would wait for them forever.
        let unsaved_gap = numbers_missing_up_to(stored.sequence_floor, counters.acked_seq, &entries);
        counters.last_seq = counters.last_seq.max(stored.sequence_floor);
        if stored.sequence_floor > 0 {
            // Records are only sent after a `welcome` confirmed this device's numbering, so a
            // floor proves the confirmation even when storage failed to keep it.
            counters.sequence_confirmed = true;
        }
        Outbox {
            unsaved_gap,
            config,
            entries,
            counters,
            random: Random::from_seed(seed),
            pending: PendingWrite::default(),
            cleanup,
            last_urgent_write_at: None,
            write_in_flight: None,
            next_write_id: 1,
            storage_failing: false,
            storage_retry_at: None,
            sequence_confirmed_durably: counters.sequence_confirmed,
            session: None,
            sequence_floor_to_remember: None,
        }
    }

    /// The counters as they are now (including changes not yet stored).
    pub fn counters(&self) -> OutboxCounters {
        self.counters
    }

    /// What the driver should see.
    pub fn status(&self) -> OutboxStatus {
        // Only records queued for a write, or in the write under way, can be unsaved: count
        // those rather than walking the whole outbox (this runs after every event).
        let in_flight = self.write_in_flight.iter().flat_map(|(_, write, _)| write.put.iter());
        let candidates: std::collections::BTreeSet<u64> =
            self.pending.put.iter().chain(in_flight).copied().collect();
        let unsaved =
            candidates.iter().filter(|seq| self.entries.get(seq).is_some_and(|entry| !entry.stored)).count();
        OutboxStatus {
            waiting: self.entries.len(),
            unsaved,
            storage_ok: !self.storage_failing,
            evicted_total: self.counters.evicted_total,
            last_ack_unix_ms: self.counters.last_ack_unix_ms,
            duty: self.counters.duty,
            dead_letters_total: self.counters.dead_letters_total,
        }
    }

    /// The records not yet acknowledged, oldest first.
    pub fn waiting_records(&self) -> impl Iterator<Item = &Record> {
        self.entries.values().map(|entry| &entry.record)
    }

    /// Creates a record, numbered after every earlier one, and queues it for storage. It is sent
    /// once stored. Evicts old location fixes if the outbox is over a cap; returns the new
    /// record's sequence number.
    pub fn create(&mut self, kind: RecordKind, now_unix_ms: i64) -> u64 {
        if let RecordKind::Status {
            status: status @ (DriverStatus::OnDuty | DriverStatus::OffDuty), ..
        } = &kind
        {
            self.counters.duty = Some(*status);
        }
        let seq = self.push_new_record(kind, now_unix_ms);
        self.enforce_caps(now_unix_ms);
        seq
    }

    /// The next storage write, if there is something to write and no write is in progress.
    /// New records go first; cleanup of acknowledged records waits for a quiet moment.
    pub fn poll_storage_write(&mut self, now: Instant) -> Option<StorageWrite> {
        if self.write_in_flight.is_some() || self.storage_retry_at.is_some_and(|retry_at| now < retry_at) {
            return None;
        }
        if !self.cleanup.is_empty() && self.cleanup.noticed_at.is_none() {
            self.cleanup.noticed_at = Some(now);
        }
        let (pending, cleanup_up_to) = if !self.pending.is_empty() {
            self.last_urgent_write_at = Some(now);
            (std::mem::take(&mut self.pending), None)
        } else if self.cleanup_due_at().is_some_and(|due| now >= due) {
            (PendingWrite::default(), self.cleanup.delete_up_to)
        } else {
            return None;
        };
        // The counters go with every write that stores a record, so the highest number assigned
        // is durable with it and never comes from the records alone (regression: an unreadable
        // newest record let its number be given again). The same transaction, one more put.
        let include_counters = pending.counters_changed || cleanup_up_to.is_some() || !pending.put.is_empty();
        if cleanup_up_to.is_some() {
            self.cleanup = PendingCleanup::default();
        }
        let mut pending = pending;
        pending.confirms_sequence = include_counters && self.counters.sequence_confirmed;
        let id = self.next_write_id;
        self.next_write_id += 1;
        let write = StorageWrite {
            id,
            put: pending
                .put
                .iter()
                .filter_map(|seq| self.entries.get(seq))
                .map(|entry| entry.record.clone())
                .collect(),
            delete_up_to: cleanup_up_to,
            delete: pending.delete.clone(),
            dead_letters: pending.dead_letters.clone(),
            counters: include_counters.then_some(self.counters),
        };
        self.write_in_flight = Some((id, pending, cleanup_up_to));
        Some(write)
    }

    /// When [`Outbox::poll_storage_write`] has something to do without any new event: a
    /// storage retry or a cleanup becoming due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.write_in_flight.is_some() {
            return None;
        }
        if !self.pending.is_empty() {
            return self.storage_retry_at;
        }
        match (self.cleanup_due_at(), self.storage_retry_at) {
            (Some(due), Some(retry_at)) => Some(due.max(retry_at)),
            (due, _) => due,
        }
    }

    fn cleanup_due_at(&self) -> Option<Instant> {
        if self.cleanup.is_empty() {
            return None;
        }
        let noticed_at = self.cleanup.noticed_at?;
        let when_idle =
            self.last_urgent_write_at.map_or(noticed_at, |last| last + self.config.cleanup_when_idle_for);
        Some(when_idle.min(noticed_at + self.config.cleanup_at_most_after))
    }

    /// Storage committed write `id`: its records are durable and may be sent.
    pub fn handle_storage_written(&mut self, id: u64) {
        let Some((in_flight_id, write, cleanup_up_to)) = self.write_in_flight.take() else { return };
        if in_flight_id != id {
            self.write_in_flight = Some((in_flight_id, write, cleanup_up_to));
            return;
        }
        for seq in write.put {
            // A record changed again since this write (an extended eviction report) waits for
            // the write that holds its newest version.
            if self.pending.put.contains(&seq) {
                continue;
            }
            if let Some(entry) = self.entries.get_mut(&seq) {
                entry.stored = true;
            }
        }
        if write.confirms_sequence {
            self.sequence_confirmed_durably = true;
        }
        self.storage_failing = false;
        self.storage_retry_at = None;
    }

    /// Storage failed write `id` (unavailable, quota, blocked). The outbox keeps the records in
    /// memory, lets them be sent anyway, and retries the write after `storage_retry_after`.
    pub fn handle_storage_failed(&mut self, now: Instant, id: u64) {
        let Some((in_flight_id, write, cleanup_up_to)) = self.write_in_flight.take() else { return };
        if in_flight_id != id {
            self.write_in_flight = Some((in_flight_id, write, cleanup_up_to));
            return;
        }
        if let Some(up_to) = cleanup_up_to {
            self.cleanup.delete_up_to = self.cleanup.delete_up_to.max(Some(up_to));
        }
        // Merge the failed write back in front of what was queued since.
        let mut put = write.put;
        put.append(&mut self.pending.put);
        put.sort_unstable();
        put.dedup();
        let mut delete = write.delete;
        delete.append(&mut self.pending.delete);
        let mut dead_letters = write.dead_letters;
        dead_letters.append(&mut self.pending.dead_letters);
        self.pending =
            PendingWrite { put, delete, dead_letters, counters_changed: true, confirms_sequence: false };
        self.storage_failing = true;
        self.storage_retry_at = Some(now + self.config.storage_retry_after);
    }

    /// The server's `welcome` opened a sending session: `acked_seq` is what it holds, and
    /// `rejected` its most recent refusals (a device that missed the `ack` naming them learns
    /// them here).
    pub fn handle_welcome(&mut self, acked_seq: u64, rejected: &[RecordRejection], now_unix_ms: i64) {
        let unsaved_gap = std::mem::take(&mut self.unsaved_gap);
        if !unsaved_gap.is_empty() {
            self.push_new_record(
                RecordKind::Gap { reason: GapReason::NotStored, lost: unsaved_gap },
                now_unix_ms,
            );
        }
        let first_waiting = self.entries.keys().next().copied();
        let numbering_collides = acked_seq > self.counters.last_seq
            || (!self.counters.sequence_confirmed && first_waiting.is_some_and(|first| first <= acked_seq));
        if !self.counters.sequence_confirmed {
            self.counters.sequence_confirmed = true;
            self.pending.counters_changed = true;
        }
        if numbering_collides {
            // The server holds numbers this device did not assign to what it holds (a new phone
            // or wiped storage reusing a driver id): number the waiting records after them, or
            // the server would discard them as duplicates.
            self.renumber_after(acked_seq);
        } else if acked_seq < self.counters.acked_seq {
            // The server lost records it had acknowledged and this device has deleted. Tell it
            // they are gone for good, or it would wait for them forever.
            let lost = SeqRange::new(acked_seq + 1, self.counters.acked_seq);
            self.counters.acked_seq = acked_seq;
            self.pending.counters_changed = true;
            self.push_new_record(
                RecordKind::Gap { reason: GapReason::ServerLost, lost: vec![lost] },
                now_unix_ms,
            );
        } else {
            // Refusals name this device's records only when its numbering is the server's.
            self.move_rejected_to_dead_letters(acked_seq, rejected, now_unix_ms);
        }
        self.apply_ack(acked_seq, now_unix_ms);
        self.enforce_caps(now_unix_ms);
        self.session = Some(SendSession {
            next_unsent: self.counters.acked_seq + 1,
            sent_live: None,
            live_step_pending: true,
            frames_in_flight: 0,
        });
    }

    /// The server acknowledged every record up to `acked_seq`; the ones in `rejected` it
    /// refused for good, and they go to the dead-letter store instead of being forgotten.
    pub fn handle_ack(&mut self, acked_seq: u64, rejected: &[RecordRejection], now_unix_ms: i64) {
        if let Some(session) = &mut self.session {
            session.frames_in_flight = session.frames_in_flight.saturating_sub(1);
        }
        self.move_rejected_to_dead_letters(acked_seq, rejected, now_unix_ms);
        self.apply_ack(acked_seq, now_unix_ms);
    }

    /// Moves the waiting records that `rejected` names (and `acked_seq` settles) aside, in the
    /// same write that will delete them.
    fn move_rejected_to_dead_letters(
        &mut self,
        acked_seq: u64,
        rejected: &[RecordRejection],
        now_unix_ms: i64,
    ) {
        let acked_seq = acked_seq.min(self.counters.last_seq);
        for rejection in rejected.iter().filter(|rejection| rejection.seq <= acked_seq) {
            let Some(entry) = self.entries.get(&rejection.seq) else { continue };
            if self.pending.dead_letters.iter().any(|letter| letter.record.id == entry.record.id) {
                continue;
            }
            self.pending.dead_letters.push(DeadLetter {
                record: entry.record.clone(),
                reason: rejection.reason.clone(),
                rejected_at_unix_ms: now_unix_ms,
            });
            self.counters.dead_letters_total += 1;
            self.pending.counters_changed = true;
        }
    }

    /// The connection is gone: whatever was in flight will be resent after the next `welcome`.
    pub fn handle_disconnected(&mut self) {
        self.session = None;
    }

    /// Whether a sending session is open.
    pub fn is_sending(&self) -> bool {
        self.session.is_some()
    }

    /// The next `records` batch to send, if the session has room in its window and a stored
    /// record is waiting. After a `welcome` with a backlog of more than one frame, the newest
    /// fix goes first, alone and flagged `live`; then the backlog, oldest first.
    ///
    /// While storage fails, records are sent before they are stored. Their numbers are then
    /// known only to the server, and a reload would give them to new records, which the server
    /// would drop as duplicates. So such a batch first raises a sequence floor that the caller
    /// must keep somewhere other than the failing storage (see [`Outbox::take_sequence_floor`]).
    pub fn poll_batch(&mut self) -> Option<RecordBatch> {
        let batch = self.next_batch()?;
        // Sending before storage holds the numbering's confirmation (possible only while
        // storage fails) needs the floor too: without it the next start would take the
        // numbering for unconfirmed and renumber records the server already holds.
        let confirmed = self.sequence_confirmed_durably;
        let highest_unsaved = batch
            .records
            .iter()
            .filter(|record| !confirmed || self.entries.get(&record.seq).is_some_and(|entry| !entry.stored))
            .map(|record| record.seq)
            .max();
        if let Some(seq) = highest_unsaved {
            self.sequence_floor_to_remember = Some(self.sequence_floor_to_remember.unwrap_or(0).max(seq));
        }
        Some(batch)
    }

    /// The number the next start must number records above (pass it to
    /// [`StoredOutbox::raise_sequence_floor`]), when the last batch sent records not yet stored.
    /// Keep it before sending that batch.
    pub fn take_sequence_floor(&mut self) -> Option<u64> {
        self.sequence_floor_to_remember.take()
    }

    fn next_batch(&mut self) -> Option<RecordBatch> {
        let storage_failing = self.storage_failing;
        let config = self.config;
        if !self.sequence_confirmed_durably && !storage_failing {
            return None;
        }
        let session = self.session.as_mut()?;
        if session.frames_in_flight >= config.max_frames_in_flight {
            return None;
        }
        let sendable = |entry: &Entry| entry.stored || storage_failing;
        // The live step only pays when the backlog takes more than one frame; otherwise the
        // newest fix arrives in the same frame as everything else.
        let backlog_fits_one_frame = || {
            let mut count = 0;
            let mut bytes = 0;
            for entry in self.entries.range(session.next_unsent..).map(|(_, entry)| entry) {
                count += 1;
                bytes += entry.encoded_len;
                if count > config.batch_max_records || bytes > config.batch_max_bytes {
                    return false;
                }
            }
            true
        };
        if std::mem::take(&mut session.live_step_pending) && !backlog_fits_one_frame() {
            let first_waiting = self.entries.range(session.next_unsent..).next().map(|(seq, _)| *seq);
            let newest_fix = self
                .entries
                .range(session.next_unsent..)
                .rev()
                .find(|(_, entry)| matches!(entry.record.kind, RecordKind::Location { .. }))
                .filter(|(_, entry)| sendable(entry));
            if let (Some((seq, entry)), Some(first)) = (newest_fix, first_waiting)
                && *seq != first
            {
                session.sent_live = Some(*seq);
                session.frames_in_flight += 1;
                return Some(RecordBatch { live: true, ..RecordBatch::new(vec![entry.record.clone()]) });
            }
        }
        let mut records = Vec::new();
        let mut bytes = 0;
        let mut last_taken = None;
        for (seq, entry) in self.entries.range(session.next_unsent..) {
            if !sendable(entry) {
                break; // keep sequence order: never skip past a record that is not stored yet
            }
            last_taken = Some(*seq);
            if session.sent_live == Some(*seq) {
                continue;
            }
            if !records.is_empty()
                && (records.len() >= config.batch_max_records
                    || bytes + entry.encoded_len > config.batch_max_bytes)
            {
                last_taken = Some(*seq - 1);
                break;
            }
            bytes += entry.encoded_len;
            records.push(entry.record.clone());
        }
        if let Some(last) = last_taken {
            session.next_unsent = session.next_unsent.max(last + 1);
        }
        if records.is_empty() {
            return None;
        }
        session.frames_in_flight += 1;
        Some(RecordBatch::new(records))
    }

    fn push_new_record(&mut self, kind: RecordKind, now_unix_ms: i64) -> u64 {
        self.counters.last_seq += 1;
        let seq = self.counters.last_seq;
        let bits = (u128::from(self.random.next_u64()) << 64) | u128::from(self.random.next_u64());
        let record = Record { seq, id: RecordId::from_random_bits(bits), created_at_ms: now_unix_ms, kind };
        let encoded_len = record.encode().len();
        self.entries.insert(seq, Entry { record, encoded_len, stored: false });
        self.pending.put.push(seq);
        seq
    }

    fn apply_ack(&mut self, acked_seq: u64, now_unix_ms: i64) {
        // An acknowledgement beyond anything this device numbered is a server fault; deleting on
        // its word would lose records.
        let acked_seq = acked_seq.min(self.counters.last_seq);
        if acked_seq <= self.counters.acked_seq {
            return;
        }
        let remaining = self.entries.split_off(&(acked_seq + 1));
        let freed = std::mem::replace(&mut self.entries, remaining);
        self.pending.put.retain(|seq| *seq > acked_seq);
        self.pending.delete.retain(|seq| *seq > acked_seq);
        self.cleanup.delete_up_to = Some(acked_seq);
        self.cleanup.counters_changed = true;
        self.counters.acked_seq = acked_seq;
        if !freed.is_empty() {
            self.counters.last_ack_unix_ms = Some(now_unix_ms);
        }
        if let Some(session) = &mut self.session {
            session.next_unsent = session.next_unsent.max(acked_seq + 1);
        }
    }

    fn renumber_after(&mut self, acked_seq: u64) {
        let old_entries = std::mem::take(&mut self.entries);
        let old_seqs: Vec<u64> = old_entries.keys().copied().collect();
        let mut next = acked_seq;
        for (_, mut entry) in old_entries {
            next += 1;
            entry.record.seq = next;
            entry.stored = false;
            self.entries.insert(next, entry);
        }
        // Delete the old keys first, then store the renumbered records (same transaction).
        self.pending.delete.extend(old_seqs.into_iter().filter(|seq| !self.entries.contains_key(seq)));
        self.pending.put = self.entries.keys().copied().collect();
        self.counters.last_seq = next;
        self.counters.acked_seq = acked_seq;
        self.pending.counters_changed = true;
    }

    fn enforce_caps(&mut self, now_unix_ms: i64) {
        let evicted = self.choose_evictions(now_unix_ms);
        let Some(&newest_evicted) = evicted.last() else { return };
        for seq in &evicted {
            self.entries.remove(seq);
        }
        self.pending.put.retain(|seq| self.entries.contains_key(seq));
        self.pending.delete.extend(evicted.iter().copied());
        self.counters.evicted_total += evicted.len() as u64;
        self.pending.counters_changed = true;

        // Extend an eviction report that has not been sent yet, rather than adding one record per
        // eviction (a full outbox evicts one fix per new fix). A report may only name sequence
        // numbers below its own, so it must be newer than everything it lists.
        let not_sent_from = self.session.as_ref().map_or(0, |session| session.next_unsent);
        let reusable =
            self.entries.range(newest_evicted + 1..).find_map(|(seq, entry)| match &entry.record.kind {
                RecordKind::Gap { reason: GapReason::Evicted, .. } if *seq >= not_sent_from => Some(*seq),
                _ => None,
            });
        match reusable {
            Some(report_seq) => {
                let entry = self.entries.get_mut(&report_seq).expect("found above");
                if let RecordKind::Gap { lost, .. } = &mut entry.record.kind {
                    let mut seqs: Vec<u64> = lost.iter().flat_map(|range| range.first..=range.last).collect();
                    seqs.extend(evicted);
                    seqs.sort_unstable();
                    *lost = SeqRange::collapse_capped(seqs, enroute_protocol::MAX_GAP_RANGES);
                }
                entry.encoded_len = entry.record.encode().len();
                entry.stored = false;
                if !self.pending.put.contains(&report_seq) {
                    self.pending.put.push(report_seq);
                }
            }
            None => {
                // The server refuses a report with more ranges than that (regression: statuses
                // between evicted fixes made one range each, and the report was refused for
                // good). Bridged holes cover statuses still waiting here: they are sent before
                // the report, which is newer, and stay applied.
                let lost = SeqRange::collapse_capped(evicted, enroute_protocol::MAX_GAP_RANGES);
                self.push_new_record(RecordKind::Gap { reason: GapReason::Evicted, lost }, now_unix_ms);
            }
        }
    }

    /// Location fixes past the age cap, then the oldest fixes until the count cap holds (leaving
    /// room for an eviction report). Status records and reports are never chosen.
    fn choose_evictions(&self, now_unix_ms: i64) -> Vec<u64> {
        let oldest_allowed_ms = now_unix_ms.saturating_sub(self.config.max_age.as_millis() as i64);
        // Fast path (this runs for every new record): under the count cap, and the oldest fix
        // (records are made in time order) is young enough.
        if self.entries.len() <= self.config.max_records {
            let oldest_fix = self.entries.values().find(|entry| entry.record.kind.is_evictable());
            if oldest_fix.is_none_or(|entry| entry.record.created_at_ms >= oldest_allowed_ms) {
                return Vec::new();
            }
        }
        let mut evicted: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, entry)| {
                entry.record.kind.is_evictable() && entry.record.created_at_ms < oldest_allowed_ms
            })
            .map(|(seq, _)| *seq)
            .collect();
        let kept = self.entries.len() - evicted.len();
        let room_for_report = usize::from(!evicted.is_empty() || kept > self.config.max_records);
        let mut still_over = (kept + room_for_report).saturating_sub(self.config.max_records);
        if still_over > 0 {
            let already_chosen = evicted.clone();
            for (seq, entry) in &self.entries {
                if still_over == 0 {
                    break;
                }
                if entry.record.kind.is_evictable() && !already_chosen.contains(seq) {
                    evicted.push(*seq);
                    still_over -= 1;
                }
            }
        }
        evicted.sort_unstable();
        evicted
    }
}
