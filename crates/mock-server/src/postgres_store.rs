//! The store on PostgreSQL (`--db postgres://…`): the same logic as SQLite's (written once
//! against [`SqlConnection`]), the same group-commit writer, PostgreSQL's schema
//! (`postgres_schema.rs`).
//!
//! What differs from SQLite, and why:
//! - nothing about a driver's numbers is cached: each batch reads the driver's state with its
//!   row locked (`FOR UPDATE`) in the transaction that moves it on, so another process writing
//!   to the same database can never apply a record twice or out of order (the primary key
//!   `(driver_id, seq)` is the second guard);
//! - reads and the dispatcher's changes take a connection from a small pool; the writer keeps
//!   one of its own and connects again when it was lost (every batch of a failed group is
//!   refused, unacknowledged, and the phone sends it again);
//! - what consoles show of a commit (all but positions) is written into the shared feed in the
//!   same transaction (`shared_feed.rs`), and every node's consoles, this one's included, read
//!   it from there, so consoles on every node see one order; positions are told by the writer
//!   to this node's consoles and read from the `drivers` table by the others.

use crate::assignment_store::{
    AssignmentError, AssignmentRecord, Cancelled, Expired, NewAssignment, assignments_in,
    cancel_assignment_in, create_assignment_in, events_after_in, expire_due_in, send_message_in,
    set_setting_in, setting_in,
};
use crate::driver_registry::{
    RegistryError, SignInRefusal, check_sign_in_in, insert_account, is_registered_in, is_valid_driver_id,
    registered_drivers_in, revoke_account, set_account_token,
};
use crate::fleet_snapshot::{Fleet, fleet_in};
use crate::group_commit::{GroupCommit, WriteTarget, WriterWork};
use crate::node_notice::DriverNews;
use crate::postgres_sql::PgConnection;
use crate::sql::SqlConnection;
use crate::store::{
    DEFAULT_MAX_PARKED_RECORDS, DriverHistory, DriverSummary, RejectedRecord, StoreError, StoreOutcome,
    acked_seq_in, driver_history, driver_summaries_in, notify_commit_in, recent_rejections,
};
use crate::store_interface::{CommitListener, Store, StoreFuture};
use enroute_protocol::{Assignment, Event, FeedChange, Record, RecordRejection};
use std::sync::{Arc, Mutex, PoisonError};

/// Connections the pool opens at most, for reads and the dispatcher's changes (the writer has its
/// own): callers beyond it wait for one to be free, rather than open hundreds in a reconnect storm.
const POOL_SIZE: usize = 16;

/// Runs `work` where PostgreSQL's client may block: the client runs a runtime of its own for
/// each call, which tokio forbids inside another runtime's async code, so from there (a test's
/// body, say) the call goes to a thread of its own. The server itself calls from its writer
/// thread and from blocking tasks.
pub(crate) fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(done) => done,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Connections for everything but the writer, made when none is idle.
struct Pool {
    url: String,
    state: Mutex<PoolState>,
    /// Signalled when a connection is given back or given up.
    freed: std::sync::Condvar,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<PgConnection>,
    /// Connections open, idle or in use.
    open: usize,
}

impl Pool {
    fn with<T: Send>(
        &self,
        work: impl FnOnce(&mut PgConnection) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        off_runtime(|| self.with_here(work))
    }

    fn with_here<T>(
        &self,
        work: impl FnOnce(&mut PgConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut connection = self.take()?;
        let result = work(&mut connection);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if connection.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(connection);
        }
        drop(state);
        self.freed.notify_one();
        result
    }

    /// An idle connection, a new one while fewer than [`POOL_SIZE`] are open, or the next one freed.
    fn take(&self) -> Result<PgConnection, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(connection) = state.idle.pop() {
                if connection.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(connection);
            }
            if state.open < POOL_SIZE {
                state.open += 1;
                drop(state);
                return pool_connection(&self.url).inspect_err(|_| {
                    self.state.lock().unwrap_or_else(PoisonError::into_inner).open -= 1;
                    self.freed.notify_one();
                });
            }
            state = self.freed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A pool connection: like the writer's, it gives up on a row lock after 5 s (another node
/// stuck holding it, say) rather than hold a thread and a connection for as long.
fn pool_connection(url: &str) -> Result<PgConnection, StoreError> {
    let mut connection = PgConnection::connect(url)?;
    connection.batch("SET lock_timeout = '5s'")?;
    Ok(connection)
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing a connection talks to the server, through the client's own runtime.
        let idle = std::mem::take(&mut self.state.get_mut().unwrap_or_else(PoisonError::into_inner).idle);
        off_runtime(move || drop(idle));
    }
}

/// The writer's own connection. It is the one thread of this process that tells consoles of
/// commits directly (positions; everything else goes through the shared feed), so what it tells
/// is in commit order without a lock.
struct Writer {
    url: String,
    connection: Mutex<Option<PgConnection>>,
}

/// The writer's connection: a row lock it waits for longer than 5 s (another node's transaction
/// stuck, say) fails that one batch at its savepoint instead of holding up every driver's (or,
/// for the shared feed's counter, taken after the savepoints, the group: its batches are not
/// answered, and the phones send them again).
fn writer_connection(url: &str) -> Result<PgConnection, StoreError> {
    let mut connection = PgConnection::connect(url)?;
    connection.batch("SET lock_timeout = '5s'")?;
    Ok(connection)
}

impl WriteTarget for Writer {
    fn with_connection(&self, work: &mut WriterWork<'_>) {
        let mut slot = self.connection.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref().is_none_or(PgConnection::is_closed) {
            match writer_connection(&self.url) {
                Ok(connection) => *slot = Some(connection),
                Err(error) => {
                    // The group is refused unanswered; the next one tries again.
                    tracing::error!(%error, "the writer cannot reach PostgreSQL");
                    *slot = None;
                    return;
                }
            }
        }
        if let Some(connection) = slot.as_mut() {
            work(connection, None);
        }
    }
}

/// What a transaction did that others must hear of.
#[derive(Default)]
struct Told {
    /// What consoles show.
    changes: Vec<FeedChange>,
    /// Drivers it stored events for.
    events_for: Vec<String>,
}

impl Told {
    fn changes(changes: Vec<FeedChange>) -> Told {
        Told { changes, events_for: Vec::new() }
    }
}

/// The store on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: Arc<Pool>,
    writer: GroupCommit,
    /// This store's name among the nodes sharing the database (random): its notices say it.
    node: String,
}

impl PgStore {
    /// Connects to `url`, brings its schema up to date and starts the writer.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        PgStore::open_with_max_parked(url, DEFAULT_MAX_PARKED_RECORDS)
    }

    /// [`PgStore::open`], letting each driver park at most `max_parked` records behind a missing one.
    pub fn open_with_max_parked(url: &str, max_parked: usize) -> Result<PgStore, StoreError> {
        off_runtime(|| PgStore::open_here(url, max_parked))
    }

    fn open_here(url: &str, max_parked: usize) -> Result<PgStore, StoreError> {
        let mut connection = PgConnection::connect(url)?;
        let applied = crate::postgres_schema::migrate(&mut connection, crate::socket::unix_time_ms())
            .map_err(|error| StoreError::Writer(error.to_string()))?;
        if !applied.is_empty() {
            tracing::info!(?applied, "PostgreSQL schema migrations applied");
        }
        // From here on this connection is the writer's (see `writer_connection`).
        connection.batch("SET lock_timeout = '5s'")?;
        let writer_target =
            Arc::new(Writer { url: url.to_string(), connection: Mutex::new(Some(connection)) });
        let writer = GroupCommit::start(writer_target, max_parked)
            .map_err(|error| StoreError::Writer(error.to_string()))?;
        let pool = Arc::new(Pool {
            url: url.to_string(),
            state: Mutex::new(PoolState::default()),
            freed: std::sync::Condvar::new(),
        });
        Ok(PgStore { pool, writer, node: crate::random_token()[..12].to_string() })
    }

    /// Runs `work` in one transaction. What `tell` says it did goes with it: its changes into the
    /// shared feed (consoles on every node, this one's included, read them from there) and one
    /// notification naming the drivers with new events.
    fn transaction<T: Send>(
        &self,
        work: impl FnOnce(&mut dyn SqlConnection) -> Result<T, StoreError> + Send,
        tell: impl FnOnce(&T) -> Told + Send,
    ) -> Result<T, StoreError> {
        self.pool.with(|connection| {
            connection.batch("BEGIN")?;
            let done = (|| {
                let done = work(connection)?;
                let Told { mut changes, events_for } = tell(&done);
                let shared = crate::shared_feed::take_shared(connection.dialect(), &mut changes);
                let events_for: Vec<&str> = events_for.iter().map(String::as_str).collect();
                notify_commit_in(connection, &events_for, !shared.is_empty())?;
                crate::shared_feed::write_in(connection, &shared, crate::socket::unix_time_ms())?;
                Ok(done)
            })();
            let done = match done {
                Ok(done) => done,
                Err(error) => {
                    let _ = connection.batch("ROLLBACK");
                    return Err(error);
                }
            };
            connection.batch("COMMIT")?;
            Ok(done)
        })
    }

    /// A read outside any transaction.
    fn read<T: Send>(
        &self,
        work: impl FnOnce(&mut dyn SqlConnection) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        self.pool.with(|connection| work(connection))
    }
}

impl Store for PgStore {
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
        self.read(|db| acked_seq_in(db, driver_id))
    }
    fn recent_rejections(&self, driver_id: &str, limit: usize) -> Result<Vec<RecordRejection>, StoreError> {
        self.read(|db| recent_rejections(db, driver_id, limit))
    }
    fn drivers(&self) -> Result<Vec<DriverSummary>, StoreError> {
        self.read(|db| driver_summaries_in(db, None))
    }
    fn driver(&self, driver_id: &str) -> Result<Option<DriverSummary>, StoreError> {
        self.read(|db| Ok(driver_summaries_in(db, Some(driver_id))?.into_iter().next()))
    }
    fn history(&self, driver_id: &str) -> Result<DriverHistory, StoreError> {
        // One transaction: the records read are those the number read covers.
        self.transaction(
            |db| {
                let acked_seq = acked_seq_in(db, driver_id)?;
                driver_history(db, driver_id, acked_seq)
            },
            |_| Told::default(),
        )
    }
    fn fleet(&self) -> Result<Fleet, StoreError> {
        // One transaction at REPEATABLE READ: one snapshot of drivers and jobs.
        self.pool.with(|connection| {
            connection.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            let fleet = fleet_in(connection).and_then(|mut fleet| {
                fleet.shared_seq = Some(crate::shared_feed::last_seq_in(connection)?);
                Ok(fleet)
            });
            let _ = connection.batch(if fleet.is_ok() { "COMMIT" } else { "ROLLBACK" });
            fleet
        })
    }
    fn create_assignment(
        &self,
        new: NewAssignment,
        now_ms: i64,
    ) -> Result<Result<(Assignment, Event), AssignmentError>, StoreError> {
        let created = self.transaction(
            |db| Ok((new.driver_id.clone(), create_assignment_in(db, new, now_ms)?)),
            |(driver_id, created)| match created {
                Ok((_, _, change)) => {
                    Told { changes: vec![change.clone()], events_for: vec![driver_id.clone()] }
                }
                Err(_) => Told::default(),
            },
        )?;
        Ok(created.1.map(|(assignment, event, _)| (assignment, event)))
    }
    fn cancel_assignment(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Result<(String, Assignment, Event), AssignmentError>, StoreError> {
        let cancelled = self.transaction(
            |db| cancel_assignment_in(db, id, now_ms),
            |cancelled| match cancelled {
                Ok(cancelled) => Told {
                    changes: vec![cancelled.change.clone()],
                    events_for: vec![cancelled.driver_id.clone()],
                },
                Err(_) => Told::default(),
            },
        )?;
        Ok(cancelled.map(|Cancelled { driver_id, assignment, event, .. }| (driver_id, assignment, event)))
    }
    fn expire_due(&self, now_ms: i64) -> Result<Vec<(String, Event)>, StoreError> {
        let Expired { events, .. } = self.transaction(
            |db| expire_due_in(db, now_ms),
            |expired| Told {
                changes: expired.changes.clone(),
                events_for: expired.events.iter().map(|(driver_id, _)| driver_id.clone()).collect(),
            },
        )?;
        Ok(events)
    }
    fn assignments(&self, driver_id: Option<&str>) -> Result<Vec<AssignmentRecord>, StoreError> {
        self.read(|db| assignments_in(db, driver_id))
    }
    fn events_after(&self, driver_id: &str, after_event_id: u64) -> Result<Vec<Event>, StoreError> {
        self.read(|db| events_after_in(db, driver_id, after_event_id))
    }
    fn send_message(&self, driver_id: &str, text: &str, now_ms: i64) -> Result<Event, StoreError> {
        let (event, _) = self.transaction(
            |db| send_message_in(db, driver_id, text, now_ms),
            |(_, message)| Told { changes: vec![message.clone()], events_for: vec![driver_id.to_string()] },
        )?;
        Ok(event)
    }
    fn register_driver(&self, driver_id: &str, now_ms: i64) -> Result<String, RegistryError> {
        if !is_valid_driver_id(driver_id) {
            return Err(RegistryError::BadDriverId(driver_id.to_string()));
        }
        let token = crate::random_token();
        let inserted = self.transaction(
            |db| insert_account(db, driver_id, &token, now_ms),
            |inserted| {
                if *inserted {
                    Told::changes(vec![FeedChange::DriverRegistered { driver_id: driver_id.to_string() }])
                } else {
                    Told::default()
                }
            },
        )?;
        if !inserted {
            return Err(RegistryError::AlreadyRegistered(driver_id.to_string()));
        }
        Ok(token)
    }
    fn set_driver_token(&self, driver_id: &str, token: &str, now_ms: i64) -> Result<(), RegistryError> {
        if !is_valid_driver_id(driver_id) {
            return Err(RegistryError::BadDriverId(driver_id.to_string()));
        }
        self.transaction(
            |db| set_account_token(db, driver_id, token, now_ms),
            |_| Told::changes(vec![FeedChange::DriverRegistered { driver_id: driver_id.to_string() }]),
        )?;
        Ok(())
    }
    fn rotate_driver_token(&self, driver_id: &str, now_ms: i64) -> Result<String, RegistryError> {
        if !self.is_registered(driver_id)? {
            return Err(RegistryError::NotRegistered(driver_id.to_string()));
        }
        let token = crate::random_token();
        self.set_driver_token(driver_id, &token, now_ms)?;
        Ok(token)
    }
    fn revoke_driver(&self, driver_id: &str, now_ms: i64) -> Result<(), RegistryError> {
        let revoked = self.transaction(
            |db| revoke_account(db, driver_id, now_ms),
            |revoked| {
                if *revoked {
                    Told::changes(vec![FeedChange::DriverRevoked { driver_id: driver_id.to_string() }])
                } else {
                    Told::default()
                }
            },
        )?;
        if !revoked {
            return Err(RegistryError::NotRegistered(driver_id.to_string()));
        }
        Ok(())
    }
    fn is_registered(&self, driver_id: &str) -> Result<bool, StoreError> {
        self.read(|db| is_registered_in(db, driver_id))
    }
    fn registered_drivers(&self) -> Result<u64, StoreError> {
        self.read(registered_drivers_in)
    }
    fn check_sign_in(
        &self,
        driver_id: &str,
        token: Option<&str>,
    ) -> Result<Result<(), SignInRefusal>, StoreError> {
        self.read(|db| check_sign_in_in(db, driver_id, token))
    }
    fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read(|db| setting_in(db, name))
    }
    fn tell_nodes(&self, news: &[DriverNews]) {
        if news.is_empty() {
            return;
        }
        let payloads = crate::node_notice::payloads(&self.node, news);
        let told = self.transaction(
            |db| {
                // Nothing here is acknowledged to anyone: a crash that loses it is corrected by
                // the sweeps (a dead node's rows count for nothing), so no flush to wait for.
                db.execute("SET LOCAL synchronous_commit = off", &[])?;
                // Kept in a table too: a node that missed the notice finds it on its next sweep,
                // and a console's snapshot on any node reads who is connected where.
                for news in news {
                    match news {
                        DriverNews::SignedIn { driver_id, at_ms, connection } => {
                            db.execute(
                                "INSERT INTO driver_sign_ins (driver_id, node, at_ms, connection)
                                 VALUES (?1, ?2, ?3, ?4)
                                 ON CONFLICT (driver_id) DO UPDATE SET node = excluded.node,
                                     at_ms = excluded.at_ms, connection = excluded.connection
                                 WHERE driver_sign_ins.at_ms <= excluded.at_ms",
                                crate::sql_params![driver_id.as_str(), self.node.as_str(), *at_ms, *connection],
                            )?;
                        }
                        DriverNews::SignedOut { driver_id, connection } => {
                            // Only this connection's row: a newer sign-in (here or elsewhere) stays.
                            db.execute(
                                "DELETE FROM driver_sign_ins WHERE driver_id = ?1 AND node = ?2 AND connection = ?3",
                                crate::sql_params![driver_id.as_str(), self.node.as_str(), *connection],
                            )?;
                        }
                        DriverNews::Revoked { .. } => {}
                    }
                }
                for payload in &payloads {
                    db.execute(
                        "SELECT pg_notify('enroute_drivers_' || current_schema(), ?1)",
                        crate::sql_params![payload.as_str()],
                    )?;
                }
                Ok(())
            },
            |_| Told::default(),
        );
        if let Err(error) = told {
            tracing::warn!(%error, notices = news.len(), "cannot tell the other nodes");
        }
    }
    fn node_name(&self) -> Option<String> {
        Some(self.node.clone())
    }
    fn claim_scenario(&self, key: &str, length_ms: i64, now_ms: i64) -> Result<Option<i64>, StoreError> {
        let name = format!("scenario {key}");
        let dead_after = format!("{} seconds", crate::postgres_fanout::NODE_DEAD_AFTER.as_secs());
        self.transaction(
            |db| {
                // `settings` holds "NODE START_MS" for the run; the row lock makes one claim at a time.
                db.execute(
                    "INSERT INTO settings (name, value) VALUES (?1, '') ON CONFLICT (name) DO NOTHING",
                    crate::sql_params![name.as_str()],
                )?;
                let claim = db
                    .query_one(&format!("SELECT value FROM settings WHERE name = ?1{}", db.dialect().for_update()), crate::sql_params![name.as_str()])?
                    .text(0)?;
                let (player, started_ms) = match claim.split_once(' ') {
                    Some((player, started)) => (player.to_string(), started.parse::<i64>().ok()),
                    None => (String::new(), None),
                };
                let run = match started_ms {
                    Some(started_ms) if now_ms < started_ms + length_ms => {
                        let alive = !db
                            .query(
                                "SELECT 1 FROM nodes WHERE node = ?1 AND seen_at > clock_timestamp() - ?2::text::interval",
                                crate::sql_params![player.as_str(), dead_after.as_str()],
                            )?
                            .is_empty();
                        if alive && player != self.node {
                            return Ok(None);
                        }
                        // Its player is gone: this node goes on with the same run.
                        started_ms
                    }
                    // Never played, or the last run is over: a new run.
                    _ => now_ms,
                };
                db.execute(
                    "UPDATE settings SET value = ?2 WHERE name = ?1",
                    crate::sql_params![name.as_str(), format!("{} {run}", self.node)],
                )?;
                Ok(Some(run))
            },
            |_| Told::default(),
        )
    }
    fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.transaction(|db| set_setting_in(db, name, value), |_| Told::default())
    }
}
