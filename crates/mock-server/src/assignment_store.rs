//! Jobs and the events that tell drivers about them, in the same SQLite database as records.
//!
//! Every event is stored (with the next event id for its driver) in the same transaction as the
//! change that caused it, before anyone pushes it: a driver who was offline gets every event
//! after the last one it has, however long ago, by asking in `hello`.

use crate::sql::{SqlConnection, SqliteSql};
use crate::sql_params;
use crate::store::{SqliteStore, StoreError};
use enroute_core::workflow::{Change, TransitionError, next_status};
use enroute_protocol::{
    Assignment, AssignmentStatus, DriverStatus, Event, EventPayload, FeedChange, JobChange, Record,
    RecordKind, Stop, TimeWindow,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What the dispatcher sends to create a job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NewAssignment {
    /// Chosen by the server when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub driver_id: String,
    pub pickup: Stop,
    pub dropoff: Stop,
    pub window: TimeWindow,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub accept_by_ms: Option<i64>,
}

/// A job as the dispatcher sees it: the job, its driver and every status change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssignmentRecord {
    pub driver_id: String,
    pub assignment: Assignment,
    pub history: Vec<HistoryEntry>,
}

/// One status change of a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub at_ms: i64,
    pub status: AssignmentStatus,
    /// "dispatcher", "driver" or "server" (expiry).
    pub changed_by: String,
    /// The driver's record that made the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_seq: Option<u64>,
}

/// Why a dispatcher's request about a job was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum AssignmentError {
    NotFound(String),
    AlreadyExists(String),
    Invalid(String),
    Refused(TransitionError),
}

impl fmt::Display for AssignmentError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssignmentError::NotFound(id) => write!(formatter, "no job {id:?}"),
            AssignmentError::AlreadyExists(id) => write!(formatter, "a job {id:?} exists already"),
            AssignmentError::Invalid(reason) => write!(formatter, "invalid job: {reason}"),
            AssignmentError::Refused(error) => write!(formatter, "{error}"),
        }
    }
}

impl std::error::Error for AssignmentError {}

/// Longest address, notes and ids the server accepts.
pub const MAX_ADDRESS_CHARS: usize = 200;
pub const MAX_NOTES_CHARS: usize = 2_000;
pub const MAX_ID_CHARS: usize = 64;

impl NewAssignment {
    fn problem(&self) -> Option<String> {
        let id_ok = |id: &str| {
            !id.is_empty()
                && id.len() <= MAX_ID_CHARS
                && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        if self.id.as_deref().is_some_and(|id| !id_ok(id)) {
            return Some(format!("the id must be 1 to {MAX_ID_CHARS} letters, digits, '-', '_' or '.'"));
        }
        if !id_ok(&self.driver_id) {
            return Some("driver_id must be 1 to 64 letters, digits, '-', '_' or '.'".into());
        }
        for (name, stop) in [("pickup", &self.pickup), ("dropoff", &self.dropoff)] {
            if stop.address.trim().is_empty() || stop.address.chars().count() > MAX_ADDRESS_CHARS {
                return Some(format!("the {name} address must have 1 to {MAX_ADDRESS_CHARS} characters"));
            }
            if !(stop.lat.is_finite()
                && (-90.0..=90.0).contains(&stop.lat)
                && stop.lon.is_finite()
                && (-180.0..=180.0).contains(&stop.lon))
            {
                return Some(format!("the {name} coordinates are out of range"));
            }
        }
        if self.window.to_ms < self.window.from_ms {
            return Some("the time window ends before it starts".into());
        }
        if self.notes.chars().count() > MAX_NOTES_CHARS {
            return Some(format!("notes are limited to {MAX_NOTES_CHARS} characters"));
        }
        None
    }
}

/// Stores an event for a driver with the next event id and returns it.
pub(crate) fn append_event(
    db: &mut dyn SqlConnection,
    driver_id: &str,
    payload: EventPayload,
    now_ms: i64,
) -> Result<Event, StoreError> {
    // The next id under a lock of the driver's events: where several nodes create events for
    // one driver at once, they take ids one after the other, and each becomes visible (commits)
    // before the next is taken, so devices see ids in order and without gaps.
    if let Some(lock) = db.dialect().named_lock() {
        db.execute(lock, sql_params![format!("events:{driver_id}")])?;
    }
    let last = db
        .query_one(
            "SELECT COALESCE(MAX(event_id), 0) FROM events WHERE driver_id = ?1",
            sql_params![driver_id],
        )?
        .int(0)?;
    let event = Event { event_id: last as u64 + 1, created_at_ms: now_ms, payload };
    let body = serde_json::to_string(&event).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    db.execute(
        "INSERT INTO events (driver_id, event_id, created_at_ms, body) VALUES (?1, ?2, ?3, ?4)",
        sql_params![driver_id, event.event_id, now_ms, body],
    )?;
    Ok(event)
}

fn load_assignment(db: &mut dyn SqlConnection, id: &str) -> Result<Option<(String, Assignment)>, StoreError> {
    let for_update = db.dialect().for_update();
    let row = db.query_opt(
        &format!("SELECT driver_id, body FROM assignments WHERE id = ?1{for_update}"),
        sql_params![id],
    )?;
    let row = row.map(|row| Ok::<_, StoreError>((row.text(0)?, row.text(1)?))).transpose()?;
    row.map(|(driver_id, body)| {
        serde_json::from_str(&body)
            .map(|assignment| (driver_id, assignment))
            .map_err(|error| StoreError::Corrupt(error.to_string()))
    })
    .transpose()
}

/// When an open offer expires (kept in its own column for the expiry pass); `None` once the
/// job is no longer an open offer, or if it has no deadline.
fn offer_deadline(assignment: &Assignment) -> Option<i64> {
    assignment.accept_by_ms.filter(|_| assignment.status == AssignmentStatus::Offered)
}

fn save_assignment(
    db: &mut dyn SqlConnection,
    assignment: &Assignment,
    changed_by: &str,
    record_seq: Option<u64>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let body = serde_json::to_string(assignment).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    db.execute(
        "UPDATE assignments SET body = ?2, updated_at_ms = ?3, offer_deadline_ms = ?4 WHERE id = ?1",
        sql_params![&assignment.id, body, now_ms, offer_deadline(assignment)],
    )?;
    db.execute(
        "INSERT INTO assignment_history (assignment_id, at_ms, status, changed_by, record_seq) VALUES (?1, ?2, ?3, ?4, ?5)",
        sql_params![&assignment.id, now_ms, assignment.status.as_str(), changed_by, record_seq],
    )?;
    Ok(())
}

/// Gives an applied record its effect: duty and tracking changes update the driver, job actions
/// move the job on, or are refused with an event telling the driver why (the server wins).
/// What consoles show of it goes into `changes`.
pub(crate) fn apply_record(
    db: &mut dyn SqlConnection,
    driver_id: &str,
    record: &Record,
    now_ms: i64,
    changes: &mut Vec<FeedChange>,
) -> Result<Vec<Event>, StoreError> {
    match &record.kind {
        RecordKind::Status { status, reason } => {
            match status {
                DriverStatus::OnDuty | DriverStatus::OffDuty => {
                    let duty = if *status == DriverStatus::OnDuty { "on_duty" } else { "off_duty" };
                    // A duty change ends any pause: the app starts or stops tracking afresh.
                    db.execute(
                        "UPDATE drivers SET duty = ?2, paused_reason = NULL WHERE driver_id = ?1",
                        sql_params![driver_id, duty],
                    )?;
                }
                DriverStatus::TrackingPaused => {
                    let reason = reason.map(|reason| {
                        serde_json::to_value(reason).ok().and_then(|value| value.as_str().map(str::to_string))
                    });
                    db.execute(
                        "UPDATE drivers SET paused_reason = ?2 WHERE driver_id = ?1",
                        sql_params![driver_id, reason.flatten()],
                    )?;
                }
                DriverStatus::TrackingResumed => {
                    db.execute(
                        "UPDATE drivers SET paused_reason = NULL WHERE driver_id = ?1",
                        sql_params![driver_id],
                    )?;
                }
            }
            changes.push(FeedChange::Status {
                driver_id: driver_id.to_string(),
                status: *status,
                reason: *reason,
            });
            Ok(Vec::new())
        }
        RecordKind::Assignment { assignment_id, action, reason } => {
            let Some((owner, mut assignment)) = load_assignment(db, assignment_id)? else {
                tracing::warn!(driver = driver_id, assignment_id, "action on an unknown job ignored");
                return Ok(Vec::new());
            };
            if owner != driver_id {
                tracing::warn!(driver = driver_id, assignment_id, "action on another driver's job ignored");
                return Ok(Vec::new());
            }
            match next_status(assignment.status, Change::Driver(*action)) {
                Ok(status) => {
                    assignment.status = status;
                    if status == AssignmentStatus::Failed {
                        assignment.failure_reason =
                            Some(reason.clone().unwrap_or_else(|| "no reason given".into()));
                    }
                    save_assignment(db, &assignment, "driver", Some(record.seq), now_ms)?;
                    changes.push(job_changed(driver_id, &assignment, "driver", Some(record.seq), now_ms));
                    Ok(Vec::new())
                }
                Err(error) => {
                    let notice = match assignment.status {
                        AssignmentStatus::Cancelled => format!(
                            "The dispatcher cancelled this job before your “{}” reached the server.",
                            action.label()
                        ),
                        AssignmentStatus::Expired => {
                            format!("This offer expired before your “{}” reached the server.", action.label())
                        }
                        _ => format!("The server did not accept “{}”: {error}.", action.label()),
                    };
                    let event = append_event(
                        db,
                        driver_id,
                        EventPayload::Assignment {
                            assignment,
                            notice: Some(notice),
                            refused_seq: Some(record.seq),
                        },
                        now_ms,
                    )?;
                    Ok(vec![event])
                }
            }
        }
        _ => Ok(Vec::new()),
    }
}

/// What consoles are told when a job changes.
fn job_changed(
    driver_id: &str,
    assignment: &Assignment,
    changed_by: &str,
    record_seq: Option<u64>,
    now_ms: i64,
) -> FeedChange {
    FeedChange::Job {
        driver_id: driver_id.to_string(),
        assignment: assignment.clone(),
        latest: JobChange {
            at_ms: now_ms,
            status: assignment.status,
            changed_by: changed_by.into(),
            record_seq,
        },
    }
}

fn random_id() -> String {
    // Time, then 64 random bits: unique across the nodes that share a database.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    format!("job-{now:x}-{}", &crate::random_token()[..16])
}

/// Creates and offers a job inside the open transaction; the job, the event for its driver and
/// what consoles are told.
pub(crate) fn create_assignment_in(
    db: &mut dyn SqlConnection,
    new: NewAssignment,
    now_ms: i64,
) -> Result<Result<(Assignment, Event, FeedChange), AssignmentError>, StoreError> {
    if let Some(problem) = new.problem() {
        return Ok(Err(AssignmentError::Invalid(problem)));
    }
    let id = new.id.clone().unwrap_or_else(random_id);
    if load_assignment(db, &id)?.is_some() {
        return Ok(Err(AssignmentError::AlreadyExists(id)));
    }
    let assignment = Assignment {
        id,
        pickup: new.pickup,
        dropoff: new.dropoff,
        window: new.window,
        notes: new.notes,
        accept_by_ms: new.accept_by_ms,
        status: AssignmentStatus::Offered,
        failure_reason: None,
    };
    let body = serde_json::to_string(&assignment).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    db.execute(
        "INSERT INTO assignments (id, driver_id, body, created_at_ms, updated_at_ms, offer_deadline_ms)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
        sql_params![&assignment.id, &new.driver_id, body, now_ms, offer_deadline(&assignment)],
    )?;
    db.execute(
        "INSERT INTO assignment_history (assignment_id, at_ms, status, changed_by) VALUES (?1, ?2, 'offered', 'dispatcher')",
        sql_params![&assignment.id, now_ms],
    )?;
    let event = append_event(
        db,
        &new.driver_id,
        EventPayload::Assignment { assignment: assignment.clone(), notice: None, refused_seq: None },
        now_ms,
    )?;
    let change = job_changed(&new.driver_id, &assignment, "dispatcher", None, now_ms);
    Ok(Ok((assignment, event, change)))
}

/// A job cancelled: its driver, the job, the event to push and what consoles are told.
pub(crate) struct Cancelled {
    pub driver_id: String,
    pub assignment: Assignment,
    pub event: Event,
    pub change: FeedChange,
}

/// Offers expired: the events to push, by driver, and what consoles are told.
pub(crate) struct Expired {
    pub events: Vec<(String, Event)>,
    pub changes: Vec<FeedChange>,
}

/// Cancels a job that is not over, inside the open transaction.
pub(crate) fn cancel_assignment_in(
    db: &mut dyn SqlConnection,
    id: &str,
    now_ms: i64,
) -> Result<Result<Cancelled, AssignmentError>, StoreError> {
    let Some((driver_id, mut assignment)) = load_assignment(db, id)? else {
        return Ok(Err(AssignmentError::NotFound(id.to_string())));
    };
    match next_status(assignment.status, Change::Cancel) {
        Ok(status) => assignment.status = status,
        Err(error) => return Ok(Err(AssignmentError::Refused(error))),
    }
    save_assignment(db, &assignment, "dispatcher", None, now_ms)?;
    let event = append_event(
        db,
        &driver_id,
        EventPayload::Assignment {
            assignment: assignment.clone(),
            notice: Some("The dispatcher cancelled this job.".into()),
            refused_seq: None,
        },
        now_ms,
    )?;
    let change = job_changed(&driver_id, &assignment, "dispatcher", None, now_ms);
    Ok(Ok(Cancelled { driver_id, assignment, event, change }))
}

/// Expires, inside the open transaction, every offer whose accept deadline has passed.
pub(crate) fn expire_due_in(db: &mut dyn SqlConnection, now_ms: i64) -> Result<Expired, StoreError> {
    let skip_locked = db.dialect().for_update_skip_locked();
    // Only offers past their deadline, by the indexed column: a pass reads (and, on
    // PostgreSQL, locks) the jobs it will change, not every job ever made.
    let offered = db.query(
        // In driver order: each expiry takes its driver's event lock, and two nodes' passes
        // taking them in different orders could deadlock.
        &format!(
            "SELECT driver_id, body FROM assignments WHERE offer_deadline_ms < ?1 ORDER BY driver_id, id{skip_locked}"
        ),
        sql_params![now_ms],
    )?;
    let mut events = Vec::new();
    let mut expired = Vec::new();
    for row in offered {
        let (driver_id, body) = (row.text(0)?, row.text(1)?);
        let mut assignment: Assignment =
            serde_json::from_str(&body).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let due = assignment.status == AssignmentStatus::Offered
            && assignment.accept_by_ms.is_some_and(|deadline| now_ms > deadline);
        if !due {
            continue;
        }
        assignment.status = AssignmentStatus::Expired;
        save_assignment(db, &assignment, "server", None, now_ms)?;
        expired.push(job_changed(&driver_id, &assignment, "server", None, now_ms));
        let event = append_event(
            db,
            &driver_id,
            EventPayload::Assignment {
                assignment,
                notice: Some("This offer expired: it was not accepted in time.".into()),
                refused_seq: None,
            },
            now_ms,
        )?;
        events.push((driver_id, event));
    }
    Ok(Expired { events, changes: expired })
}

/// Every job (of one driver when given), newest first, with its history.
pub(crate) fn assignments_in(
    db: &mut dyn SqlConnection,
    driver_id: Option<&str>,
) -> Result<Vec<AssignmentRecord>, StoreError> {
    let rows = match driver_id {
        Some(driver_id) => db.query(
            "SELECT driver_id, body FROM assignments WHERE driver_id = ?1 ORDER BY created_at_ms DESC, id",
            sql_params![driver_id],
        )?,
        None => db.query("SELECT driver_id, body FROM assignments ORDER BY created_at_ms DESC, id", &[])?,
    };
    let in_order = db.dialect().insertion_order();
    let history_sql = format!(
        "SELECT at_ms, status, changed_by, record_seq FROM assignment_history WHERE assignment_id = ?1 ORDER BY {in_order}"
    );
    rows.into_iter()
        .map(|row| {
            let driver_id = row.text(0)?;
            let assignment: Assignment = serde_json::from_str(&row.text(1)?)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            let history = db
                .query(&history_sql, sql_params![&assignment.id])?
                .iter()
                .map(|entry| {
                    let status = serde_json::from_value(serde_json::Value::String(entry.text(1)?))
                        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                    Ok(HistoryEntry {
                        at_ms: entry.int(0)?,
                        status,
                        changed_by: entry.text(2)?,
                        record_seq: entry.opt_int(3)?.map(|seq| seq as u64),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(AssignmentRecord { driver_id, assignment, history })
        })
        .collect()
}

/// Events for a driver after `after_event_id`, oldest first.
pub(crate) fn events_after_in(
    db: &mut dyn SqlConnection,
    driver_id: &str,
    after_event_id: u64,
) -> Result<Vec<Event>, StoreError> {
    db.query(
        "SELECT body FROM events WHERE driver_id = ?1 AND event_id > ?2 ORDER BY event_id",
        sql_params![driver_id, after_event_id],
    )?
    .iter()
    .map(|row| serde_json::from_str(&row.text(0)?).map_err(|error| StoreError::Corrupt(error.to_string())))
    .collect()
}

/// Stores a message for a driver inside the open transaction; the event to push and what
/// consoles are told.
pub(crate) fn send_message_in(
    db: &mut dyn SqlConnection,
    driver_id: &str,
    text: &str,
    now_ms: i64,
) -> Result<(Event, FeedChange), StoreError> {
    let event = append_event(db, driver_id, EventPayload::Message { text: text.to_string() }, now_ms)?;
    let message = FeedChange::Message {
        driver_id: driver_id.to_string(),
        event_id: event.event_id,
        text: text.to_string(),
    };
    Ok((event, message))
}

/// A server setting stored in the database (the dispatcher token), if set.
pub(crate) fn setting_in(db: &mut dyn SqlConnection, name: &str) -> Result<Option<String>, StoreError> {
    db.query_opt("SELECT value FROM settings WHERE name = ?1", sql_params![name])?
        .map(|row| row.text(0))
        .transpose()
}

/// Stores a server setting.
pub(crate) fn set_setting_in(db: &mut dyn SqlConnection, name: &str, value: &str) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        sql_params![name, value],
    )?;
    Ok(())
}

/// Each method: one transaction under the store's lock, then the consoles are told (with the
/// lock still held, so they hear commits in commit order).
impl SqliteStore {
    /// Creates and offers a job; returns it and the event to push to its driver.
    pub fn create_assignment(
        &self,
        new: NewAssignment,
        now_ms: i64,
    ) -> Result<Result<(Assignment, Event), AssignmentError>, StoreError> {
        let mut inner = self.lock();
        let transaction = inner.connection.transaction()?;
        let (assignment, event, change) =
            match create_assignment_in(&mut SqliteSql(&transaction), new, now_ms)? {
                Ok(created) => created,
                Err(refusal) => return Ok(Err(refusal)),
            };
        transaction.commit()?;
        self.announce(vec![change]);
        Ok(Ok((assignment, event)))
    }

    /// Cancels a job that is not over; returns it, its driver and the event to push.
    pub fn cancel_assignment(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Result<(String, Assignment, Event), AssignmentError>, StoreError> {
        let mut inner = self.lock();
        let transaction = inner.connection.transaction()?;
        let Cancelled { driver_id, assignment, event, change } =
            match cancel_assignment_in(&mut SqliteSql(&transaction), id, now_ms)? {
                Ok(cancelled) => cancelled,
                Err(refusal) => return Ok(Err(refusal)),
            };
        transaction.commit()?;
        self.announce(vec![change]);
        Ok(Ok((driver_id, assignment, event)))
    }

    /// Expires every offer whose accept deadline has passed; returns the events to push.
    pub fn expire_due(&self, now_ms: i64) -> Result<Vec<(String, Event)>, StoreError> {
        let mut inner = self.lock();
        let transaction = inner.connection.transaction()?;
        let Expired { events, changes } = expire_due_in(&mut SqliteSql(&transaction), now_ms)?;
        transaction.commit()?;
        self.announce(changes);
        Ok(events)
    }

    /// Every job (of one driver when given), newest first, with its history.
    pub fn assignments(&self, driver_id: Option<&str>) -> Result<Vec<AssignmentRecord>, StoreError> {
        let inner = self.lock();
        assignments_in(&mut SqliteSql(&inner.connection), driver_id)
    }

    /// Events for a driver after `after_event_id`, oldest first.
    pub fn events_after(&self, driver_id: &str, after_event_id: u64) -> Result<Vec<Event>, StoreError> {
        let inner = self.lock();
        events_after_in(&mut SqliteSql(&inner.connection), driver_id, after_event_id)
    }

    /// Stores a message for a driver; returns the event to push.
    pub fn send_message(&self, driver_id: &str, text: &str, now_ms: i64) -> Result<Event, StoreError> {
        let mut inner = self.lock();
        let transaction = inner.connection.transaction()?;
        let (event, message) = send_message_in(&mut SqliteSql(&transaction), driver_id, text, now_ms)?;
        transaction.commit()?;
        self.announce(vec![message]);
        Ok(event)
    }

    /// A server setting stored in the database (the dispatcher token), if set.
    pub fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let inner = self.lock();
        setting_in(&mut SqliteSql(&inner.connection), name)
    }

    /// Stores a server setting.
    pub fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let inner = self.lock();
        set_setting_in(&mut SqliteSql(&inner.connection), name, value)
    }
}
