//! The store's one writer: drivers' records, hellos and event acknowledgements from every
//! connection are queued here, and a dedicated thread commits whatever is waiting in one
//! transaction (one fsync), then answers each batch. Nothing is answered before its commit is
//! on disk; a batch that fails alone is rolled back to its savepoint without taking the others
//! with it. Connections never block a thread of their own on the database.
//!
//! Events the committed batches caused are handed to the [`CommitListener`] in commit order,
//! before any batch of the group is answered.
//!
//! This module owns the write path of drivers' records; it must not know about sockets,
//! sessions or HTTP.

use crate::sql::{SqlConnection, SqliteSql};
use crate::store::{
    RejectedRecord, SequenceState, StoreError, StoreInner, StoreOutcome, apply_batch, load_sequence,
    note_event_ack_in, note_seen_in, notify_commit_in,
};
use enroute_protocol::{Event, FeedChange, Record};
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;
use tokio::sync::oneshot;

/// Most requests one commit takes: bounds how long the lock is held and one commit's size.
const MAX_GROUP: usize = 4_096;

/// Who hears what each commit did. Called while the store's lock is still held, after the
/// commit and before any batch is answered, so what it hears is in commit order: keep it short,
/// and never call the store from it.
pub trait CommitListener: Send + Sync {
    /// A group commit of drivers' records: the events it stored (driver id, event) and the
    /// changes dispatch consoles show, each in commit order.
    fn committed(&self, commit: &CommitReport, events: &[(String, Event)], changes: &[FeedChange]);
    /// Any other commit (a dispatcher's action, an expiry, a registration): what consoles show.
    fn announced(&self, changes: Vec<FeedChange>, at_ms: i64);
}

/// What one group commit held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommitReport {
    /// Record batches in the commit (hellos and event acks not counted).
    pub batches: usize,
    /// Records in those batches.
    pub records: usize,
    /// From the transaction's start to the end of its commit.
    pub seconds: f64,
    /// When it committed (server clock, milliseconds since the epoch).
    pub at_ms: i64,
}

/// A change waiting for the writer.
enum WriteRequest {
    Records {
        driver_id: String,
        records: Vec<Record>,
        rejected: Vec<RejectedRecord>,
        now_ms: i64,
        answer: oneshot::Sender<Result<StoreOutcome, StoreError>>,
    },
    Seen {
        driver_id: String,
        now_ms: i64,
    },
    EventAck {
        driver_id: String,
        event_id: u64,
    },
}

/// The handle connections queue their changes on. Cloned with the store; the writer thread
/// ends when the last handle is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    requests: mpsc::Sender<WriteRequest>,
    listener: Arc<RwLock<Option<Arc<dyn CommitListener>>>>,
}

/// The cache of drivers' sequence states an engine keeps, if it keeps one.
pub(crate) type SequenceCache<'a> = Option<&'a mut HashMap<String, SequenceState>>;

/// What the writer does with its connection.
pub(crate) type WriterWork<'w> = dyn FnMut(&mut dyn SqlConnection, SequenceCache<'_>) + 'w;

/// The database a writer commits to: each engine says how the writer gets its connection.
pub(crate) trait WriteTarget: Send + Sync + 'static {
    /// Runs `work` with the writer's connection and, when the engine keeps one (SQLite, the
    /// only writer of its file), the cache of drivers' sequence states; `None` means the state
    /// is read from the database, under a row lock, in every transaction (PostgreSQL, where
    /// other nodes write too).
    fn with_connection(&self, work: &mut WriterWork<'_>);
}

impl WriteTarget for Mutex<StoreInner> {
    fn with_connection(&self, work: &mut WriterWork<'_>) {
        let mut guard = self.lock().unwrap_or_else(PoisonError::into_inner);
        let StoreInner { connection, sequences } = &mut *guard;
        work(&mut SqliteSql(connection), Some(sequences));
    }
}

impl GroupCommit {
    /// Starts the writer thread over `target` (the database and what it keeps).
    pub(crate) fn start(target: Arc<dyn WriteTarget>, max_parked: usize) -> std::io::Result<GroupCommit> {
        let (requests, queue) = mpsc::channel();
        let listener: Arc<RwLock<Option<Arc<dyn CommitListener>>>> = Arc::new(RwLock::new(None));
        let writer_listener = listener.clone();
        std::thread::Builder::new()
            .name("enroute-writer".into())
            .spawn(move || run_writer(&*target, &queue, &writer_listener, max_parked))?;
        Ok(GroupCommit { requests, listener })
    }

    pub(crate) fn set_listener(&self, listener: Arc<dyn CommitListener>) {
        *self.listener.write().unwrap_or_else(PoisonError::into_inner) = Some(listener);
    }

    /// Tells the listener what a commit outside the writer changed. Call it while holding the
    /// store's lock, right after the commit, so consoles hear changes in commit order.
    pub(crate) fn announce(&self, changes: Vec<FeedChange>, at_ms: i64) {
        if changes.is_empty() {
            return;
        }
        if let Some(listener) = self.listener.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
            listener.announced(changes, at_ms);
        }
    }

    /// Queues a batch and waits (without blocking a thread) until it is committed.
    pub(crate) async fn store_records(
        &self,
        driver_id: String,
        records: Vec<Record>,
        rejected: Vec<RejectedRecord>,
        now_ms: i64,
    ) -> Result<StoreOutcome, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.requests
            .send(WriteRequest::Records { driver_id, records, rejected, now_ms, answer })
            .map_err(|_| StoreError::Writer("it has stopped".into()))?;
        // Dropped unanswered only when the group failed before reaching this batch.
        answered.await.map_err(|_| StoreError::Commit("the commit that held this batch failed".into()))?
    }

    pub(crate) fn note_seen(&self, driver_id: String, now_ms: i64) {
        let _ = self.requests.send(WriteRequest::Seen { driver_id, now_ms });
    }

    pub(crate) fn note_event_ack(&self, driver_id: String, event_id: u64) {
        let _ = self.requests.send(WriteRequest::EventAck { driver_id, event_id });
    }
}

fn run_writer(
    target: &dyn WriteTarget,
    queue: &mpsc::Receiver<WriteRequest>,
    listener: &RwLock<Option<Arc<dyn CommitListener>>>,
    max_parked: usize,
) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        commit_group(target, group, listener, max_parked);
    }
}

/// A note (a hello's time, an event ack) in a savepoint of its own: if it fails (a row lock
/// another node holds too long), it alone is undone and logged, and the group's batches commit.
fn best_effort(
    db: &mut dyn SqlConnection,
    what: &str,
    note: impl FnOnce(&mut dyn SqlConnection) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    db.execute("SAVEPOINT note", &[])?;
    match note(db) {
        Ok(()) => db.execute("RELEASE SAVEPOINT note", &[])?,
        Err(error) => {
            tracing::warn!(%error, "{what} was not noted");
            db.execute("ROLLBACK TO SAVEPOINT note", &[])?;
            db.execute("RELEASE SAVEPOINT note", &[])?
        }
    };
    Ok(())
}

/// Commits one group and answers every batch in it.
fn commit_group(
    target: &dyn WriteTarget,
    group: Vec<WriteRequest>,
    listener: &RwLock<Option<Arc<dyn CommitListener>>>,
    max_parked: usize,
) {
    let started = Instant::now();
    let mut answers = Vec::new();
    let mut report = CommitReport { batches: 0, records: 0, seconds: 0.0, at_ms: 0 };
    let mut group = Some(group);
    let mut committed = Err(StoreError::Writer("the writer's connection was not reached".into()));
    target.with_connection(&mut |db, mut cache| {
        let Some(group) = group.take() else { return };
        // Sequence states this group moved on; they replace the cached ones only after the commit.
        let mut moved: HashMap<String, SequenceState> = HashMap::new();
        let result = (|| -> Result<(), StoreError> {
            db.execute("BEGIN", &[])?;
            // A panic inside must not leave the transaction open on the connection: the next
            // statements on it (SQLite's dispatcher changes share it) would join a transaction
            // that never commits. Rolled back, then the panic goes on.
            let work = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), StoreError> {
                for request in group {
                    match request {
                        WriteRequest::Records { driver_id, records, rejected, now_ms, answer } => {
                            report.batches += 1;
                            report.records += records.len() + rejected.len();
                            let cached = moved
                                .get(&driver_id)
                                .or_else(|| cache.as_deref().and_then(|cache| cache.get(&driver_id)))
                                .cloned();
                            db.execute("SAVEPOINT batch", &[])?;
                            let applied = (|| {
                                let mut sequence = match cached {
                                    Some(sequence) => sequence,
                                    None => load_sequence(db, &driver_id)?,
                                };
                                let outcome = apply_batch(
                                    db,
                                    &mut sequence,
                                    &driver_id,
                                    &records,
                                    &rejected,
                                    now_ms,
                                    max_parked,
                                )?;
                                Ok::<_, StoreError>((outcome, sequence))
                            })();
                            match applied {
                                Ok((outcome, sequence)) => {
                                    db.execute("RELEASE SAVEPOINT batch", &[])?;
                                    moved.insert(driver_id.clone(), sequence);
                                    answers.push((driver_id, answer, Ok(outcome)));
                                }
                                Err(error) => {
                                    // Back to the savepoint: this batch is undone, the others stay.
                                    db.execute("ROLLBACK TO SAVEPOINT batch", &[])?;
                                    db.execute("RELEASE SAVEPOINT batch", &[])?;
                                    tracing::error!(driver = %driver_id, %error, "a batch failed; the rest of its commit goes on");
                                    answers.push((driver_id, answer, Err(error)));
                                }
                            }
                        }
                        WriteRequest::Seen { driver_id, now_ms } => {
                            best_effort(db, "a hello's time", |db| note_seen_in(db, &driver_id, now_ms))?;
                        }
                        WriteRequest::EventAck { driver_id, event_id } => {
                            best_effort(db, "an event ack", |db| note_event_ack_in(db, &driver_id, event_id))?;
                        }
                    }
                }
                let with_events: Vec<&str> = answers
                    .iter()
                    .filter(|(_, _, outcome)| outcome.as_ref().is_ok_and(|outcome| !outcome.events.is_empty()))
                    .map(|(driver_id, _, _)| driver_id.as_str())
                    .collect();
                // What consoles show: on an engine other nodes share (PostgreSQL), all but
                // positions go into the shared feed in this transaction, and come back to this
                // node's consoles through it, in the order every node sees (`shared_feed`).
                let mut changes: Vec<FeedChange> = answers
                    .iter()
                    .filter_map(|(_, _, outcome)| outcome.as_ref().ok())
                    .flat_map(|outcome| outcome.changes.iter().cloned())
                    .collect();
                let shared = crate::shared_feed::take_shared(db.dialect(), &mut changes);
                notify_commit_in(db, &with_events, !shared.is_empty())?;
                crate::shared_feed::write_in(db, &shared, crate::socket::unix_time_ms())?;
                if report.batches > 0 {
                    crate::crash_points::reached(crate::crash_points::CrashPoint::BeforeCommit);
                }
                // The commit and the listener's call together, while the writer holds its
                // connection (with SQLite, the store's one lock, which a dispatcher's change
                // also takes to commit and tell): consoles hear commits in commit order.
                let mut told = Ok(());
                (|| {
                    if let Err(error) = db.execute("COMMIT", &[]) {
                        told = Err(error);
                        return;
                    }
                    if report.batches > 0 {
                        crate::crash_points::reached(crate::crash_points::CrashPoint::AfterCommit);
                    }
                    report.seconds = started.elapsed().as_secs_f64();
                    report.at_ms = crate::socket::unix_time_ms();
                    let events: Vec<(String, Event)> = answers
                        .iter()
                        .filter_map(|(driver_id, _, outcome)| outcome.as_ref().ok().map(|outcome| (driver_id, outcome)))
                        .flat_map(|(driver_id, outcome)| {
                            outcome.events.iter().map(move |event| (driver_id.clone(), event.clone()))
                        })
                        .collect();
                    if let Some(listener) = listener.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
                        listener.committed(&report, &events, &changes);
                    }
                })();
                told
            }));
            let work = match work {
                Ok(work) => work,
                Err(panic) => {
                    if let Err(error) = db.execute("ROLLBACK", &[]) {
                        tracing::warn!(%error, "rolling a group commit back after a panic failed");
                    }
                    std::panic::resume_unwind(panic);
                }
            };
            if work.is_err() {
                // Whatever failed, the transaction must not stay open on the writer's connection.
                if let Err(error) = db.execute("ROLLBACK", &[]) {
                    tracing::warn!(%error, "rolling a failed group commit back failed too");
                }
            }
            work
        })();
        if result.is_ok()
            && let Some(cache) = cache.as_deref_mut()
        {
            cache.extend(moved);
        }
        committed = result;
    });
    match committed {
        Ok(()) => {
            for (_, answer, outcome) in answers {
                let _ = answer.send(outcome);
            }
        }
        Err(error) => {
            tracing::error!(%error, batches = report.batches, "a group commit failed; every batch in it is refused");
            let detail = error.to_string();
            for (_, answer, _) in answers {
                let _ = answer.send(Err(StoreError::Commit(detail.clone())));
            }
        }
    }
}
