//! What the server needs from its storage, as one interface: [`crate::store::SqliteStore`]
//! is the embedded implementation; another engine (PostgreSQL, for several nodes) implements the
//! same trait and the rest of the server does not change.
//!
//! The contract every implementation keeps:
//! - records are de-duplicated by (driver, sequence number) and applied in sequence order; a
//!   batch's `StoreOutcome` is returned only once the batch is durable (committed and flushed);
//! - the events a commit caused reach the [`CommitListener`] in commit order, before any batch
//!   of that commit is answered;
//! - batches from many connections may share one commit (group commit); no caller blocks a thread
//!   of its own waiting for one.
//!
//! Methods other than [`Store::store_records`] may block on the database: callers on async
//! threads run them with `spawn_blocking` (they are rare: a `hello`, a dispatcher request).

use crate::assignment_store::{AssignmentError, AssignmentRecord, NewAssignment};
use crate::driver_registry::{RegistryError, SignInRefusal};
use crate::fleet_snapshot::Fleet;
use crate::store::{DriverHistory, DriverSummary, RejectedRecord, StoreError, StoreOutcome};
use enroute_protocol::{Assignment, Event, Record, RecordRejection};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use crate::group_commit::{CommitListener, CommitReport};

/// A future a store returns for work done by its writer.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Everything the server keeps: drivers' records and their effects, jobs, events, accounts and
/// settings.
pub trait Store: Send + Sync {
    // Drivers' records (the hot path).

    /// Stores a batch for a driver, received at `now_ms` (server clock), with whatever other
    /// batches are waiting (group commit); resolves once it is durable.
    fn store_records(
        &self,
        driver_id: &str,
        records: Vec<Record>,
        rejected: Vec<RejectedRecord>,
        now_ms: i64,
    ) -> StoreFuture<'_, StoreOutcome>;
    /// Notes a `hello` at `now_ms`, with the next commit; not waited for.
    fn note_seen(&self, driver_id: &str, now_ms: i64);
    /// Notes that a device holds every event up to `event_id`, with the next commit.
    fn note_event_ack(&self, driver_id: &str, event_id: u64);
    /// Who hears of each commit (the event hub, the metrics).
    fn set_commit_listener(&self, listener: Arc<dyn CommitListener>);
    /// The highest contiguous sequence number applied for a driver (0 if none).
    fn acked_seq(&self, driver_id: &str) -> Result<u64, StoreError>;
    /// The driver's most recent refusals, newest first, at most `limit`.
    fn recent_rejections(&self, driver_id: &str, limit: usize) -> Result<Vec<RecordRejection>, StoreError>;

    // What the dispatcher reads.

    /// Every driver the server has heard from, by id.
    fn drivers(&self) -> Result<Vec<DriverSummary>, StoreError>;
    /// One driver's summary, if the server has heard from it.
    fn driver(&self, driver_id: &str) -> Result<Option<DriverSummary>, StoreError>;
    /// A driver's applied records in sequence order, and the ranges declared lost.
    fn history(&self, driver_id: &str) -> Result<DriverHistory, StoreError>;
    /// Every driver and job, for a dispatch console's snapshot (one consistent moment).
    fn fleet(&self) -> Result<Fleet, StoreError>;

    // Jobs and events.

    fn create_assignment(
        &self,
        new: NewAssignment,
        now_ms: i64,
    ) -> Result<Result<(Assignment, Event), AssignmentError>, StoreError>;
    fn cancel_assignment(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Result<(String, Assignment, Event), AssignmentError>, StoreError>;
    /// Expires the offers whose deadline passed; the events to push, by driver.
    fn expire_due(&self, now_ms: i64) -> Result<Vec<(String, Event)>, StoreError>;
    fn assignments(&self, driver_id: Option<&str>) -> Result<Vec<AssignmentRecord>, StoreError>;
    /// The driver's stored events after `after_event_id`, in id order.
    fn events_after(&self, driver_id: &str, after_event_id: u64) -> Result<Vec<Event>, StoreError>;
    fn send_message(&self, driver_id: &str, text: &str, now_ms: i64) -> Result<Event, StoreError>;

    // Accounts and settings.

    fn register_driver(&self, driver_id: &str, now_ms: i64) -> Result<String, RegistryError>;
    fn set_driver_token(&self, driver_id: &str, token: &str, now_ms: i64) -> Result<(), RegistryError>;
    fn rotate_driver_token(&self, driver_id: &str, now_ms: i64) -> Result<String, RegistryError>;
    fn revoke_driver(&self, driver_id: &str, now_ms: i64) -> Result<(), RegistryError>;
    fn is_registered(&self, driver_id: &str) -> Result<bool, StoreError>;
    fn registered_drivers(&self) -> Result<u64, StoreError>;
    fn check_sign_in(
        &self,
        driver_id: &str,
        token: Option<&str>,
    ) -> Result<Result<(), SignInRefusal>, StoreError>;
    fn setting(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError>;

    // The other processes sharing the database.

    /// Tells the other processes on this database about drivers' connections, in order (best
    /// effort: a notice lost is logged). With one process (SQLite) there is no one to tell.
    fn tell_nodes(&self, _news: &[crate::node_notice::DriverNews]) {}
    /// This process's name among those sharing the database, if others can share it.
    fn node_name(&self) -> Option<String> {
        None
    }
    /// Claims the playing of the scenario named `key` (`scenario.rs`), which lasts `length_ms`:
    /// the run's start time if this process is to play it (from that start: a run another
    /// process began and left unfinished when it died goes on where it was), `None` while
    /// another live process plays it. With one process (SQLite), always a new run from now.
    fn claim_scenario(&self, _key: &str, _length_ms: i64, now_ms: i64) -> Result<Option<i64>, StoreError> {
        Ok(Some(now_ms))
    }
}
