//! What the server holds for each driver, durably, in SQLite.
//!
//! Records are de-duplicated by (driver, sequence number) and applied in sequence order: a
//! record that arrives after a gap is stored at once but only applied (counted in the driver's
//! history and acknowledged) once every record before it is held or declared lost by a gap
//! record. Every change is committed before the server acknowledges it (WAL journal,
//! `synchronous = FULL`), so a server killed at any moment loses nothing it acknowledged.

use enroute_protocol::{Fix, Record, RecordKind, RecordRejection, SeqRange};
use rusqlite::Connection;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::assignment_store::{AssignmentError, AssignmentRecord, NewAssignment};
use crate::checkpointer::Checkpointer;
use crate::driver_registry::{RegistryError, SignInRefusal};
pub use crate::group_commit::CommitListener;
use crate::group_commit::GroupCommit;
use crate::sql::{SqlConnection, SqliteSql};
use crate::sql_params;
pub use crate::store_interface::{Store, StoreFuture};
use enroute_protocol::{Assignment, Event};

/// Records one driver may have parked behind a missing earlier one before more are let go
/// (the app's outbox holds at most 3,000; it never sends out of order on its own).
pub const DEFAULT_MAX_PARKED_RECORDS: usize = 5_000;

/// Why the store failed.
#[derive(Debug)]
pub enum StoreError {
    /// The database could not be opened or created.
    Open { path: String, source: rusqlite::Error },
    /// The database's schema could not be brought up to this server's version.
    Schema { path: String, source: crate::sqlite_schema::SchemaError },
    /// A query failed (disk full, file removed, corruption).
    Query(rusqlite::Error),
    /// A PostgreSQL query or connection failed (the server restarted, the connection was ended).
    Postgres(postgres::Error),
    /// A stored value could not be read back.
    Corrupt(String),
    /// The group commit that held this change failed as a whole (its error is logged).
    Commit(String),
    /// The store's writer is not running (it could not start, or the process is ending).
    Writer(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Open { path, source } => write!(formatter, "cannot open database {path}: {source}"),
            StoreError::Schema { path, source } => write!(formatter, "cannot open database {path}: {source}"),
            StoreError::Query(source) => write!(formatter, "database query failed: {source}"),
            StoreError::Postgres(source) => write!(formatter, "PostgreSQL: {source}"),
            StoreError::Corrupt(detail) => write!(formatter, "database holds unreadable data: {detail}"),
            StoreError::Commit(detail) => write!(formatter, "the commit failed: {detail}"),
            StoreError::Writer(detail) => write!(formatter, "the store's writer is not running: {detail}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// Whether the database was out of reach (PostgreSQL restarting, the connection ended or
    /// refused) rather than wrong: the same request may succeed a moment later.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Postgres(error) = self else { return false };
        if error.is_closed() {
            return true;
        }
        match error.as_db_error() {
            // Class 57 (operator intervention: shutting down, terminated), 08 (connection), and
            // a lock not had in time (55P03: another node holds the row; try again).
            Some(db) => {
                let code = db.code().code();
                code.starts_with("57") || code.starts_with("08") || code == "55P03"
            }
            // Not from the server: unavailable only if the connection itself failed.
            None => std::error::Error::source(error).is_some_and(|source| source.is::<std::io::Error>()),
        }
    }
}

impl From<postgres::Error> for StoreError {
    fn from(source: postgres::Error) -> StoreError {
        StoreError::Postgres(source)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(source: rusqlite::Error) -> StoreError {
        StoreError::Query(source)
    }
}

/// What storing one batch did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoreOutcome {
    /// The driver's highest contiguous sequence number after the batch.
    pub acked_seq: u64,
    /// Records in the batch the store did not have before.
    pub new_records: u64,
    /// Records in the batch the store already had.
    pub duplicates: u64,
    /// Records that became part of the driver's history (applied in order) with this batch.
    pub applied: u64,
    /// Events the batch caused (refused job actions), stored; to push after the commit.
    pub events: Vec<enroute_protocol::Event>,
    /// The batch's records the server refused for good (now or on an earlier delivery).
    pub rejected: Vec<RecordRejection>,
    /// Records not kept because too many already wait behind a missing one (not acknowledged:
    /// the device sends them again).
    pub parked_refused: u64,
    /// What dispatch consoles show of the batch: the driver's newer position, applied duty and
    /// tracking changes, jobs its actions moved on.
    pub changes: Vec<enroute_protocol::FeedChange>,
}

/// A record refused for good: why, and its text if it could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRecord {
    pub rejection: RecordRejection,
    pub body: Option<String>,
}

/// A driver as the dispatcher sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DriverSummary {
    pub driver_id: String,
    /// Every record up to this sequence number is applied.
    pub acked_seq: u64,
    /// Records held but waiting for an earlier one.
    pub waiting: usize,
    /// The newest fix by fix time, whatever order records arrived in.
    pub position: Option<Fix>,
    /// When the server last received anything from the driver (server clock).
    pub last_seen_ms: Option<i64>,
    /// How late the last applied record arrived: server receive time minus device creation time.
    pub last_delivery_lag_ms: Option<i64>,
    /// The last duty change applied: "on_duty", "off_duty", or none yet.
    pub duty: Option<String>,
}

/// A driver's applied history, in sequence order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DriverHistory {
    pub driver_id: String,
    pub acked_seq: u64,
    pub records: Vec<Record>,
    pub lost: Vec<SeqRange>,
}

/// In-memory view of one driver's sequence state, kept equal to the database.
#[derive(Debug, Clone, Default)]
pub(crate) struct SequenceState {
    acked_seq: u64,
    /// Held records above `acked_seq`.
    waiting: BTreeSet<u64>,
    /// Declared-lost ranges reaching above `acked_seq`.
    lost: Vec<SeqRange>,
    /// Rejected sequence numbers above `acked_seq`: settled, never applied.
    rejected: BTreeSet<u64>,
}

impl SequenceState {
    /// Moves `acked_seq` over every held or lost number; returns the held records it passed
    /// (now applied), in sequence order.
    fn advance(&mut self) -> Vec<u64> {
        let mut applied = Vec::new();
        loop {
            let next = self.acked_seq + 1;
            if self.waiting.remove(&next) {
                self.acked_seq = next;
                applied.push(next);
            } else if self.rejected.remove(&next) {
                self.acked_seq = next;
            } else if let Some(range) = self.lost.iter().find(|range| range.contains(next)) {
                // Records inside a lost range that did arrive are still applied.
                let range_end = range.last;
                applied.extend(self.waiting.range(next..=range_end).copied());
                self.waiting.retain(|seq| *seq > range_end);
                self.acked_seq = range_end;
            } else {
                break;
            }
        }
        let acked_seq = self.acked_seq;
        self.lost.retain(|range| range.last > acked_seq);
        applied
    }
}

/// Whether a gap record of the driver declared `seq` lost.
fn settled_as_lost(db: &mut dyn SqlConnection, driver_id: &str, seq: u64) -> Result<bool, StoreError> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM lost_ranges WHERE driver_id = ?1 AND first_seq <= ?2 AND last_seq >= ?2 LIMIT 1",
            sql_params![driver_id, seq],
        )?
        .is_some())
}

/// Shared handle to the database. Reads and the dispatcher's changes take the connection's
/// lock for one short transaction each; drivers' records go through the store's one writer
/// ([`crate::group_commit`]), which commits whatever batches are waiting together.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Mutex<StoreInner>>,
    writer: GroupCommit,
    /// Copies the write-ahead log into the database off the writer's path (SQLite's own
    /// checkpoints are off: they would run inside a group commit). Stops with the last handle.
    _checkpointer: Option<Arc<Checkpointer>>,
}

pub(crate) struct StoreInner {
    pub(crate) connection: Connection,
    pub(crate) sequences: HashMap<String, SequenceState>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`; `:memory:` keeps it in memory.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with_max_parked(path, DEFAULT_MAX_PARKED_RECORDS)
    }

    /// [`SqliteStore::open`], letting each driver park at most `max_parked` records behind a missing
    /// one (more are let go unacknowledged).
    pub fn open_with_max_parked(path: &Path, max_parked: usize) -> Result<SqliteStore, StoreError> {
        let open_error = |source| StoreError::Open { path: path.display().to_string(), source };
        let mut connection = Connection::open(path).map_err(open_error)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA busy_timeout = 5000;
                 PRAGMA wal_autocheckpoint = 0;",
            )
            .map_err(open_error)?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as i64);
        let applied = crate::sqlite_schema::migrate(&mut connection, now_ms)
            .map_err(|source| StoreError::Schema { path: path.display().to_string(), source })?;
        if !applied.is_empty() {
            tracing::info!(database = %path.display(), ?applied, "schema migrations applied");
        }
        let inner = Arc::new(Mutex::new(StoreInner { connection, sequences: HashMap::new() }));
        let writer = GroupCommit::start(inner.clone(), max_parked)
            .map_err(|error| StoreError::Writer(error.to_string()))?;
        let checkpointer = Checkpointer::start(path)
            .map_err(|error| StoreError::Writer(format!("cannot start the checkpoint thread: {error}")))?
            .map(Arc::new);
        Ok(SqliteStore { inner, writer, _checkpointer: checkpointer })
    }

    /// A store that lives as long as the process.
    pub fn in_memory() -> SqliteStore {
        SqliteStore::open(Path::new(":memory:")).expect("an in-memory SQLite database always opens")
    }

    /// The highest contiguous sequence number applied for a driver (0 if none).
    pub fn acked_seq(&self, driver_id: &str) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        Ok(inner.sequence(driver_id)?.acked_seq)
    }

    /// Every driver the server has heard from, by id.
    pub fn drivers(&self) -> Result<Vec<DriverSummary>, StoreError> {
        let mut inner = self.lock();
        let ids = SqliteSql(&inner.connection)
            .query("SELECT driver_id FROM drivers ORDER BY driver_id", &[])?
            .iter()
            .map(|row| row.text(0))
            .collect::<Result<Vec<_>, _>>()?;
        ids.iter().map(|driver_id| inner.summary(driver_id)).collect()
    }

    /// One driver's summary, if the server has heard from it.
    pub fn driver(&self, driver_id: &str) -> Result<Option<DriverSummary>, StoreError> {
        let mut inner = self.lock();
        let known = SqliteSql(&inner.connection)
            .query_opt("SELECT driver_id FROM drivers WHERE driver_id = ?1", sql_params![driver_id])?;
        match known {
            Some(_) => inner.summary(driver_id).map(Some),
            None => Ok(None),
        }
    }

    /// A driver's applied records in sequence order, and the ranges declared lost.
    pub fn history(&self, driver_id: &str) -> Result<DriverHistory, StoreError> {
        let mut inner = self.lock();
        let acked_seq = inner.sequence(driver_id)?.acked_seq;
        driver_history(&mut SqliteSql(&inner.connection), driver_id, acked_seq)
    }

    /// Tells consoles what a commit outside the writer changed: call it with the lock still
    /// held, right after the commit. The changes are stamped now, after the commit, as the
    /// feed's `at_ms` promises (regression: they carried the request's time from before the
    /// lock and the fsync, so consoles' latency counted the commit itself).
    pub(crate) fn announce(&self, changes: Vec<enroute_protocol::FeedChange>) {
        self.writer.announce(changes, crate::socket::unix_time_ms());
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, StoreInner> {
        // A panic while holding the lock happens before commit, and the cached sequence state is
        // only replaced after a commit, so the data behind a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The highest contiguous sequence number applied for a driver (0 if none), as the tables say
/// (engines that keep no sequence cache).
pub(crate) fn acked_seq_in(db: &mut dyn SqlConnection, driver_id: &str) -> Result<u64, StoreError> {
    Ok(db
        .query_opt("SELECT acked_seq FROM drivers WHERE driver_id = ?1", sql_params![driver_id])?
        .map(|row| row.int(0))
        .transpose()?
        .unwrap_or(0) as u64)
}

/// A driver's applied records (up to `acked_seq`) in sequence order, and the ranges declared lost.
pub(crate) fn driver_history(
    db: &mut dyn SqlConnection,
    driver_id: &str,
    acked_seq: u64,
) -> Result<DriverHistory, StoreError> {
    let records = db
        .query(
            "SELECT body FROM records WHERE driver_id = ?1 AND seq <= ?2 ORDER BY seq",
            sql_params![driver_id, acked_seq],
        )?
        .iter()
        .map(|row| Record::decode(&row.text(0)?).map_err(|error| StoreError::Corrupt(error.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let lost = db
        .query(
            "SELECT first_seq, last_seq FROM lost_ranges WHERE driver_id = ?1 ORDER BY first_seq, last_seq",
            sql_params![driver_id],
        )?
        .iter()
        .map(|row| Ok(SeqRange::new(row.int(0)? as u64, row.int(1)? as u64)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(DriverHistory { driver_id: driver_id.to_string(), acked_seq, records, lost })
}

impl StoreInner {
    /// The driver's sequence state, loaded from the database on first use.
    fn sequence(&mut self, driver_id: &str) -> Result<&SequenceState, StoreError> {
        if !self.sequences.contains_key(driver_id) {
            let state = self.load_sequence(driver_id)?;
            self.sequences.insert(driver_id.to_string(), state);
        }
        Ok(&self.sequences[driver_id])
    }

    fn load_sequence(&self, driver_id: &str) -> Result<SequenceState, StoreError> {
        load_sequence(&mut SqliteSql(&self.connection), driver_id)
    }
}

/// A driver's sequence state as the database (or the open transaction) holds it. Where nodes
/// share the database, the driver's row is locked first (until the transaction ends), so two
/// nodes never move one driver's numbers on at once.
pub(crate) fn load_sequence(
    db: &mut dyn SqlConnection,
    driver_id: &str,
) -> Result<SequenceState, StoreError> {
    let for_update = db.dialect().for_update();
    if !for_update.is_empty() {
        // A row to lock even for a driver's first batch: two nodes taking a new driver's
        // first records at once then wait for each other here instead of both starting at 0.
        db.execute(
            "INSERT INTO drivers (driver_id) VALUES (?1) ON CONFLICT DO NOTHING",
            sql_params![driver_id],
        )?;
    }
    let acked_seq = db
        .query_opt(
            &format!("SELECT acked_seq FROM drivers WHERE driver_id = ?1{for_update}"),
            sql_params![driver_id],
        )?
        .map(|row| row.int(0))
        .transpose()?
        .unwrap_or(0);
    let waiting = db
        .query(
            "SELECT seq FROM records WHERE driver_id = ?1 AND seq > ?2 ORDER BY seq",
            sql_params![driver_id, acked_seq],
        )?
        .iter()
        .map(|row| row.int(0).map(|seq| seq as u64))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let lost = db
        .query(
            "SELECT first_seq, last_seq FROM lost_ranges WHERE driver_id = ?1 AND last_seq > ?2",
            sql_params![driver_id, acked_seq],
        )?
        .iter()
        .map(|row| Ok(SeqRange::new(row.int(0)? as u64, row.int(1)? as u64)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let rejected = db
        .query(
            "SELECT seq FROM rejected_records WHERE driver_id = ?1 AND seq > ?2",
            sql_params![driver_id, acked_seq],
        )?
        .iter()
        .map(|row| row.int(0).map(|seq| seq as u64))
        .collect::<Result<BTreeSet<_>, _>>()?;
    Ok(SequenceState { acked_seq: acked_seq as u64, waiting, lost, rejected })
}

impl StoreInner {
    fn summary(&mut self, driver_id: &str) -> Result<DriverSummary, StoreError> {
        let waiting = self.sequence(driver_id)?.waiting.len();
        let row = SqliteSql(&self.connection).query_one(
            "SELECT acked_seq, position, last_seen_ms, last_delivery_lag_ms, duty FROM drivers WHERE driver_id = ?1",
            sql_params![driver_id],
        )?;
        let (acked_seq, position, last_seen_ms, last_delivery_lag_ms, duty) =
            (row.int(0)?, row.opt_text(1)?, row.opt_int(2)?, row.opt_int(3)?, row.opt_text(4)?);
        let position = position
            .map(|text| {
                serde_json::from_str::<Fix>(&text).map_err(|error| StoreError::Corrupt(error.to_string()))
            })
            .transpose()?;
        Ok(DriverSummary {
            driver_id: driver_id.to_string(),
            acked_seq: acked_seq as u64,
            waiting,
            position,
            last_seen_ms,
            last_delivery_lag_ms,
            duty,
        })
    }
}

/// Stores one batch inside the open transaction `connection`, moving `sequence` (the driver's
/// state before the batch) on. Nothing here commits: the writer commits the whole group.
pub(crate) fn apply_batch(
    db: &mut dyn SqlConnection,
    sequence: &mut SequenceState,
    driver_id: &str,
    records: &[Record],
    rejected: &[RejectedRecord],
    now_ms: i64,
    max_parked: usize,
) -> Result<StoreOutcome, StoreError> {
    let mut outcome = StoreOutcome::default();
    let mut newest_fix: Option<Fix> = None;
    // Records a gap had settled as lost that arrived after all (applied below, first).
    let mut late_records: Vec<u64> = Vec::new();
    for rejected_record in rejected {
        let seq = rejected_record.rejection.seq;
        if !enroute_protocol::is_valid_seq(seq) {
            // Outside the numbering (0, or above 2^53 - 1): never stored, so it can neither
            // wrap in a signed column nor wait behind a gap; named in the ack all the same.
            outcome.rejected.push(rejected_record.rejection.clone());
            continue;
        }
        if seq <= sequence.acked_seq || sequence.waiting.contains(&seq) || sequence.rejected.contains(&seq) {
            outcome.duplicates += 1;
            continue;
        }
        db.execute(
            "INSERT INTO rejected_records (driver_id, seq, reason, received_at_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            sql_params![
                driver_id,
                seq,
                &rejected_record.rejection.reason,
                now_ms,
                rejected_record.body.clone()
            ],
        )?;
        sequence.rejected.insert(seq);
    }
    for record in records {
        if let RecordKind::Gap { lost, .. } = &record.kind {
            for range in enroute_protocol::usable_gap_ranges(lost, record.seq) {
                db.execute(
                    "INSERT INTO lost_ranges (driver_id, first_seq, last_seq) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    sql_params![driver_id, range.first, range.last],
                )?;
                if range.last > sequence.acked_seq {
                    sequence.lost.push(*range);
                }
            }
        }
        // A number at or below the acknowledged one is a duplicate, unless a gap settled it
        // without the server ever holding the record: then the record arrived late (on an
        // older connection, say) and is still applied, as docs/protocol.md promises
        // (regression: it was acknowledged as a duplicate and vanished).
        let late = record.seq <= sequence.acked_seq
            && !sequence.rejected.contains(&record.seq)
            && settled_as_lost(db, driver_id, record.seq)?;
        if (record.seq <= sequence.acked_seq && !late)
            || sequence.waiting.contains(&record.seq)
            || sequence.rejected.contains(&record.seq)
        {
            outcome.duplicates += 1;
            continue;
        }
        let inserted = db.execute(
            "INSERT INTO records (driver_id, seq, record_id, kind, created_at_ms, received_at_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
            sql_params![
                driver_id,
                record.seq,
                record.id.0.to_string(),
                kind_name(&record.kind),
                record.created_at_ms,
                now_ms,
                record.encode()
            ],
        )?;
        if inserted == 0 {
            outcome.duplicates += 1;
            continue;
        }
        outcome.new_records += 1;
        if late {
            late_records.push(record.seq);
        } else {
            sequence.waiting.insert(record.seq);
        }
        if let RecordKind::Location { fix } = &record.kind
            && newest_fix.is_none_or(|newest| fix.time_ms >= newest.time_ms)
        {
            newest_fix = Some(*fix);
        }
    }
    let previous_acked = sequence.acked_seq;
    late_records.sort_unstable();
    let applied: Vec<u64> = late_records.into_iter().chain(sequence.advance()).collect();
    outcome.applied = applied.len() as u64;
    outcome.acked_seq = sequence.acked_seq;
    // Records parked behind a missing one cost memory and disk until it comes: beyond
    // `max_parked`, the highest are let go again. They were never acknowledged, so the
    // device still holds them and sends them again once the gap is filled.
    while sequence.waiting.len() > max_parked {
        let Some(highest) = sequence.waiting.pop_last() else { break };
        db.execute("DELETE FROM records WHERE driver_id = ?1 AND seq = ?2", sql_params![driver_id, highest])?;
        outcome.new_records = outcome.new_records.saturating_sub(1);
        outcome.parked_refused += 1;
    }

    db.execute(
        "INSERT INTO drivers (driver_id, acked_seq, last_seen_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (driver_id) DO UPDATE SET acked_seq = excluded.acked_seq, last_seen_ms = excluded.last_seen_ms",
        sql_params![driver_id, sequence.acked_seq, now_ms],
    )?;
    // Apply what the records mean, in sequence order, in the same transaction: an
    // acknowledged duty change or job action has taken effect.
    for seq in applied {
        let record = match records.iter().find(|record| record.seq == seq) {
            Some(record) => record.clone(),
            None => load_record(db, driver_id, seq)?,
        };
        outcome.events.extend(crate::assignment_store::apply_record(
            db,
            driver_id,
            &record,
            now_ms,
            &mut outcome.changes,
        )?);
    }
    if let Some(fix) = newest_fix {
        let fix_json = serde_json::to_string(&fix).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let moved = db.execute(
            "UPDATE drivers SET position = ?2, position_time_ms = ?3
                 WHERE driver_id = ?1 AND (position_time_ms IS NULL OR position_time_ms <= ?3)",
            sql_params![driver_id, fix_json, fix.time_ms],
        )?;
        if moved > 0 {
            outcome
                .changes
                .push(enroute_protocol::FeedChange::Position { driver_id: driver_id.to_string(), fix });
        }
    }
    if sequence.acked_seq > previous_acked {
        db.execute(
            "UPDATE drivers SET last_delivery_lag_ms =
                     (SELECT received_at_ms - created_at_ms FROM records WHERE driver_id = ?1 AND seq <= ?2
                      ORDER BY seq DESC LIMIT 1)
                 WHERE driver_id = ?1",
            sql_params![driver_id, sequence.acked_seq],
        )?;
    }
    // Tell the device about every refused record of this batch, including ones refused on an
    // earlier delivery whose acknowledgement it missed (one range query, not one per record).
    let batch_seqs: BTreeSet<u64> =
        records.iter().map(|record| record.seq).chain(rejected.iter().map(|r| r.rejection.seq)).collect();
    if let (Some(first), Some(last)) = (batch_seqs.first(), batch_seqs.last()) {
        let refused = db.query(
            "SELECT seq, reason FROM rejected_records WHERE driver_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
            sql_params![driver_id, *first, *last],
        )?;
        for row in refused {
            let (seq, reason) = (row.int(0)? as u64, row.text(1)?);
            if batch_seqs.contains(&seq) && !outcome.rejected.iter().any(|known| known.seq == seq) {
                outcome.rejected.push(RecordRejection { seq, reason });
            }
        }
    }
    Ok(outcome)
}

/// A stored record, by driver and sequence number.
fn load_record(db: &mut dyn SqlConnection, driver_id: &str, seq: u64) -> Result<Record, StoreError> {
    let body = db
        .query_one("SELECT body FROM records WHERE driver_id = ?1 AND seq = ?2", sql_params![driver_id, seq])?
        .text(0)?;
    Record::decode(&body).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn kind_name(kind: &RecordKind) -> &'static str {
    match kind {
        RecordKind::Location { .. } => "location",
        RecordKind::Status { .. } => "status",
        RecordKind::Gap { .. } => "gap",
        RecordKind::Assignment { .. } => "assignment",
    }
}

impl SqliteStore {
    /// The driver's most recent refusals (newest first, at most `limit`), for `welcome`.
    pub fn recent_rejections(
        &self,
        driver_id: &str,
        limit: usize,
    ) -> Result<Vec<RecordRejection>, StoreError> {
        let inner = self.lock();
        recent_rejections(&mut SqliteSql(&inner.connection), driver_id, limit)
    }
}

/// Summaries of every driver the server has heard from (or of one), read from the tables alone
/// (engines that keep no sequence cache).
pub(crate) fn driver_summaries_in(
    db: &mut dyn SqlConnection,
    driver_id: Option<&str>,
) -> Result<Vec<DriverSummary>, StoreError> {
    let select =
        "SELECT d.driver_id, d.acked_seq, d.position, d.last_seen_ms, d.last_delivery_lag_ms, d.duty,
                (SELECT COUNT(*) FROM records r WHERE r.driver_id = d.driver_id AND r.seq > d.acked_seq)
         FROM drivers d";
    let rows = match driver_id {
        Some(driver_id) => db.query(&format!("{select} WHERE d.driver_id = ?1"), sql_params![driver_id])?,
        None => db.query(&format!("{select} ORDER BY d.driver_id"), &[])?,
    };
    rows.iter()
        .map(|row| {
            let position = row
                .opt_text(2)?
                .map(|text| {
                    serde_json::from_str::<Fix>(&text).map_err(|error| StoreError::Corrupt(error.to_string()))
                })
                .transpose()?;
            Ok(DriverSummary {
                driver_id: row.text(0)?,
                acked_seq: row.int(1)? as u64,
                waiting: row.int(6)? as usize,
                position,
                last_seen_ms: row.opt_int(3)?,
                last_delivery_lag_ms: row.opt_int(4)?,
                duty: row.opt_text(5)?,
            })
        })
        .collect()
}

/// Tells the other processes on the database, once this transaction commits, which drivers have
/// new events and whether the shared feed grew (one notification per transaction, `commit_hint`;
/// a hint only: they also look on a timer). Does nothing where no other process can share the
/// database, or when there is nothing to tell.
pub(crate) fn notify_commit_in(
    db: &mut dyn SqlConnection,
    driver_ids: &[&str],
    feed_grew: bool,
) -> Result<(), StoreError> {
    let Some(notify) = db.dialect().notify_commit() else { return Ok(()) };
    if let Some(payload) = crate::commit_hint::encode(driver_ids, feed_grew) {
        db.execute(notify, sql_params![payload])?;
    }
    Ok(())
}

/// Notes a `hello`: the driver was seen at `now_ms` (never moving the time back).
pub(crate) fn note_seen_in(
    db: &mut dyn SqlConnection,
    driver_id: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO drivers (driver_id, last_seen_ms) VALUES (?1, ?2)
         ON CONFLICT (driver_id) DO UPDATE SET last_seen_ms =
             CASE WHEN COALESCE(drivers.last_seen_ms, 0) > excluded.last_seen_ms THEN drivers.last_seen_ms
                  ELSE excluded.last_seen_ms END",
        sql_params![driver_id, now_ms],
    )?;
    Ok(())
}

/// Notes that the driver's device holds every event up to `event_id` (never moving it back).
pub(crate) fn note_event_ack_in(
    db: &mut dyn SqlConnection,
    driver_id: &str,
    event_id: u64,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE drivers SET acked_event_id = CASE WHEN acked_event_id > ?2 THEN acked_event_id ELSE ?2 END
         WHERE driver_id = ?1",
        sql_params![driver_id, event_id],
    )?;
    Ok(())
}

/// The driver's most recent refusals, newest first, at most `limit`.
pub(crate) fn recent_rejections(
    db: &mut dyn SqlConnection,
    driver_id: &str,
    limit: usize,
) -> Result<Vec<RecordRejection>, StoreError> {
    db.query(
        "SELECT seq, reason FROM rejected_records WHERE driver_id = ?1 ORDER BY seq DESC LIMIT ?2",
        sql_params![driver_id, limit as i64],
    )?
    .iter()
    .map(|row| Ok(RecordRejection { seq: row.int(0)? as u64, reason: row.text(1)? }))
    .collect()
}

/// The SQLite store behind the server's [`Store`] interface: each method is the inherent one
/// of the same name (in this file, `assignment_store.rs` and `driver_registry.rs`).
impl Store for SqliteStore {
    fn store_records(
        &self,
        driver_id: &str,
        records: Vec<Record>,
        rejected: Vec<RejectedRecord>,
        now_ms: i64,
    ) -> StoreFuture<'_, StoreOutcome> {
        Box::pin(self.writer.store_records(driver_id.to_string(), records, rejected, now_ms))
    }
    fn note_seen(&self, driver_id: &str, now_ms: i64) {
        self.writer.note_seen(driver_id.to_string(), now_ms);
    }
    fn note_event_ack(&self, driver_id: &str, event_id: u64) {
        self.writer.note_event_ack(driver_id.to_string(), event_id);
    }
    fn set_commit_listener(&self, listener: Arc<dyn CommitListener>) {
        self.writer.set_listener(listener);
    }
    fn acked_seq(&self, driver_id: &str) -> Result<u64, StoreError> {
        SqliteStore::acked_seq(self, driver_id)
    }
    fn recent_rejections(&self, driver_id: &str, limit: usize) -> Result<Vec<RecordRejection>, StoreError> {
        SqliteStore::recent_rejections(self, driver_id, limit)
    }
    fn drivers(&self) -> Result<Vec<DriverSummary>, StoreError> {
        SqliteStore::drivers(self)
    }
    fn driver(&self, driver_id: &str) -> Result<Option<DriverSummary>, StoreError> {
        SqliteStore::driver(self, driver_id)
    }
    fn history(&self, driver_id: &str) -> Result<DriverHistory, StoreError> {
        SqliteStore::history(self, driver_id)
    }
    fn fleet(&self) -> Result<crate::fleet_snapshot::Fleet, StoreError> {
        SqliteStore::fleet(self)
    }
    fn create_assignment(
        &self,
        new: NewAssignment,
        now_ms: i64,
    ) -> Result<Result<(Assignment, Event), AssignmentError>, StoreError> {
        SqliteStore::create_assignment(self, new, now_ms)
    }
    fn cancel_assignment(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Result<(String, Assignment, Event), AssignmentError>, StoreError> {
        SqliteStore::cancel_assignment(self, id, now_ms)
    }
    fn expire_due(&self, now_ms: i64) -> Result<Vec<(String, Event)>, StoreError> {
        SqliteStore::expire_due(self, now_ms)
    }
    fn assignments(&self, driver_id: Option<&str>) -> Result<Vec<AssignmentRecord>, StoreError> {
        SqliteStore::assignments(self, driver_id)
    }
    fn events_after(&self, driver_id: &str, after_event_id: u64) -> Result<Vec<Event>, StoreError> {
        SqliteStore::events_after(self, driver_id, after_event_id)
    }
    fn send_message(&self, driver_id: &str, text: &str, now_ms: i64) -> Result<Event, StoreError> {
        SqliteStore::send_message(self, driver_id, text, now_ms)
    }
    fn register_driver(&self, driver_id: &str, now_ms: i64) -> Result<String, RegistryError> {
        SqliteStore::register_driver(self, driver_id, now_ms)
    }
    fn set_driver_token(&self, driver_id: &str, token: &str, now_ms: i64) -> Result<(), RegistryError> {
        SqliteStore::set_driver_token(self, driver_id, token, now_ms)
    }
    fn rotate_driver_token(&self, driver_id: &str, now_ms: i64) -> Result<String, RegistryError> {
        SqliteStore::rotate_driver_token(self, driver_id, now_ms)
    }
    fn revoke_driver(&self, driver_id: &str, now_ms: i64) -> Result<(), RegistryError> {
        SqliteStore::revoke_driver(self, driver_id, now_ms)
    }
    fn is_registered(&self, driver_id: &str) -> Result<bool, StoreError> {
        SqliteStore::is_registered(self, driver_id)
    }
    fn registered_drivers(&self) -> Result<u64, StoreError> {
        SqliteStore::registered_drivers(self)
    }
    fn check_sign_in(
        &self,
        driver_id: &str,
        token: Option<&str>,
    ) -> Result<Result<(), SignInRefusal>, StoreError> {
        SqliteStore::check_sign_in(self, driver_id, token)
    }
    fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        SqliteStore::setting(self, name)
    }
    fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        SqliteStore::set_setting(self, name, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_passes_held_and_lost_numbers_only() {
        let mut state = SequenceState {
            acked_seq: 2,
            waiting: [3, 4, 9].into(),
            lost: vec![SeqRange::new(5, 7)],
            rejected: Default::default(),
        };
        assert_eq!(state.advance(), vec![3, 4]);
        assert_eq!(state.acked_seq, 7, "stops before 8, which is neither held nor lost");
        assert_eq!(state.waiting, [9].into());
        assert!(state.lost.is_empty());
    }

    #[test]
    fn records_inside_a_lost_range_that_did_arrive_are_applied() {
        let mut state = SequenceState {
            acked_seq: 0,
            waiting: [2, 5].into(),
            lost: vec![SeqRange::new(1, 3)],
            rejected: Default::default(),
        };
        assert_eq!(state.advance(), vec![2]);
        assert_eq!(state.acked_seq, 3);
        assert_eq!(state.waiting, [5].into());
    }
}
