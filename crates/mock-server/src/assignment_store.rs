//! Jobs and the events that tell drivers about them, in the same SQLite database as records.
//!
//! Every event is stored (with the next event id for its driver) in the same transaction as the
//! change that caused it, before anyone pushes it: a driver who was offline gets every event
//! after the last one it has, however long ago, by asking in `hello`.

use crate::store::{SqliteStore, StoreError};
use enroute_core::workflow::{Change, TransitionError, next_status};
use enroute_protocol::{
    Assignment, AssignmentStatus, DriverStatus, Event, EventPayload, FeedChange, JobChange, Record,
    RecordKind, Stop, TimeWindow,
};
use rusqlite::{Connection, OptionalExtension, params};
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
    transaction: &Connection,
    driver_id: &str,
    payload: EventPayload,
    now_ms: i64,
) -> Result<Event, StoreError> {
    let last: i64 = transaction.query_row(
        "SELECT COALESCE(MAX(event_id), 0) FROM events WHERE driver_id = ?1",
        [driver_id],
        |row| row.get(0),
    )?;
    let event = Event { event_id: last as u64 + 1, created_at_ms: now_ms, payload };
    let body = serde_json::to_string(&event).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    transaction.execute(
        "INSERT INTO events (driver_id, event_id, created_at_ms, body) VALUES (?1, ?2, ?3, ?4)",
        params![driver_id, event.event_id as i64, now_ms, body],
    )?;
    Ok(event)
}

fn load_assignment(transaction: &Connection, id: &str) -> Result<Option<(String, Assignment)>, StoreError> {
    let row: Option<(String, String)> = transaction
        .query_row("SELECT driver_id, body FROM assignments WHERE id = ?1", [id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    row.map(|(driver_id, body)| {
        serde_json::from_str(&body)
            .map(|assignment| (driver_id, assignment))
            .map_err(|error| StoreError::Corrupt(error.to_string()))
    })
    .transpose()
}

fn save_assignment(
    transaction: &Connection,
    assignment: &Assignment,
    changed_by: &str,
    record_seq: Option<u64>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let body = serde_json::to_string(assignment).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    transaction.execute(
        "UPDATE assignments SET body = ?2, updated_at_ms = ?3 WHERE id = ?1",
        params![assignment.id, body, now_ms],
    )?;
    transaction.execute(
        "INSERT INTO assignment_history (assignment_id, at_ms, status, changed_by, record_seq) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![assignment.id, now_ms, assignment.status.as_str(), changed_by, record_seq.map(|seq| seq as i64)],
    )?;
    Ok(())
}

/// Gives an applied record its effect: duty and tracking changes update the driver, job actions
/// move the job on, or are refused with an event telling the driver why (the server wins).
/// What consoles show of it goes into `changes`.
pub(crate) fn apply_record(
    transaction: &Connection,
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
                    transaction.execute(
                        "UPDATE drivers SET duty = ?2, paused_reason = NULL WHERE driver_id = ?1",
                        params![driver_id, duty],
                    )?;
                }
                DriverStatus::TrackingPaused => {
                    let reason = reason.map(|reason| {
                        serde_json::to_value(reason).ok().and_then(|value| value.as_str().map(str::to_string))
                    });
                    transaction.execute(
                        "UPDATE drivers SET paused_reason = ?2 WHERE driver_id = ?1",
                        params![driver_id, reason.flatten()],
                    )?;
                }
                DriverStatus::TrackingResumed => {
                    transaction.execute(
                        "UPDATE drivers SET paused_reason = NULL WHERE driver_id = ?1",
                        [driver_id],
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
            let Some((owner, mut assignment)) = load_assignment(transaction, assignment_id)? else {
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
                    save_assignment(transaction, &assignment, "driver", Some(record.seq), now_ms)?;
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
                        transaction,
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
    // Time and a process-wide counter: unique within this server, which is all a mock needs.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    format!("job-{now:x}-{count}")
}

impl SqliteStore {
    /// Creates and offers a job; returns it and the event to push to its driver.
    pub fn create_assignment(
        &self,
        new: NewAssignment,
        now_ms: i64,
    ) -> Result<Result<(Assignment, Event), AssignmentError>, StoreError> {
        if let Some(problem) = new.problem() {
            return Ok(Err(AssignmentError::Invalid(problem)));
        }
        let mut inner = self.lock();
        let transaction = inner.connection.transaction()?;
        let id = new.id.clone().unwrap_or_else(random_id);
        if load_assignment(&transaction, &id)?.is_some() {
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
        let body =
            serde_json::to_string(&assignment).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        transaction.execute(
            "INSERT INTO assignments (id, driver_id, body, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![assignment.id, new.driver_id, body, now_ms],
        )?;
        transaction.execute(
            "INSERT INTO assignment_history (assignment_id, at_ms, status, changed_by) VALUES (?1, ?2, 'offered', 'dispatcher')",
            params![assignment.id, now_ms],
        )?;
        let event = append_event(
            &transaction,
            &new.driver_id,
            EventPayload::Assignment { assignment: assignment.clone(), notice: None, refused_seq: None },
            now_ms,
        )?;
        transaction.commit()?;
        self.announce(vec![job_changed(&new.driver_id, &assignment, "dispatcher", None, now_ms)], now_ms);
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
        let Some((driver_id, mut assignment)) = load_assignment(&transaction, id)? else {
            return Ok(Err(AssignmentError::NotFound(id.to_string())));
        };
        match next_status(assignment.status, Change::Cancel) {
            Ok(status) => assignment.status = status,
            Err(error) => return Ok(Err(AssignmentError::Refused(error))),
        }
        save_assignment(&transaction, &assignment, "dispatcher", None, now_ms)?;
        let event = append_event(
            &transaction,
            &driver_id,
            EventPayload::Assignment {
                assignment: assignment.clone(),
                notice: Some("The dispatcher cancelled this job.".into()),
                refused_seq: None,
            },
            now_ms,
        )?;
        transaction.commit()?;
        self.announce(vec![job_changed(&driver_id, &assignment, "dispatcher", None, now_ms)], now_ms);
        Ok(Ok((driver_id, assignment, event)))
    }

    /// Expires every offer whose accept deadline has passed; returns the events to push.
    pub fn expire_due(&self, now_ms: i64) -> Result<Vec<(String, Event)>, StoreError> {
        let mut inner = self.lock();
        let transaction = inner.connection.transaction()?;
        let offered: Vec<(String, String)> = {
            let mut statement = transaction.prepare("SELECT driver_id, body FROM assignments")?;
            statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<Result<_, _>>()?
        };
        let mut events = Vec::new();
        let mut expired = Vec::new();
        for (driver_id, body) in offered {
            let mut assignment: Assignment =
                serde_json::from_str(&body).map_err(|error| StoreError::Corrupt(error.to_string()))?;
            let due = assignment.status == AssignmentStatus::Offered
                && assignment.accept_by_ms.is_some_and(|deadline| now_ms > deadline);
            if !due {
                continue;
            }
            assignment.status = AssignmentStatus::Expired;
            save_assignment(&transaction, &assignment, "server", None, now_ms)?;
            expired.push(job_changed(&driver_id, &assignment, "server", None, now_ms));
            let event = append_event(
                &transaction,
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
        transaction.commit()?;
        self.announce(expired, now_ms);
        Ok(events)
    }

    /// Every job (of one driver when given), newest first, with its history.
    pub fn assignments(&self, driver_id: Option<&str>) -> Result<Vec<AssignmentRecord>, StoreError> {
        let inner = self.lock();
        let mut statement = inner.connection.prepare(
            "SELECT driver_id, body FROM assignments WHERE (?1 IS NULL OR driver_id = ?1) ORDER BY created_at_ms DESC, id",
        )?;
        let rows: Vec<(String, String)> = statement
            .query_map([driver_id], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut history_statement = inner.connection.prepare(
            "SELECT at_ms, status, changed_by, record_seq FROM assignment_history WHERE assignment_id = ?1 ORDER BY rowid",
        )?;
        rows.into_iter()
            .map(|(driver_id, body)| {
                let assignment: Assignment =
                    serde_json::from_str(&body).map_err(|error| StoreError::Corrupt(error.to_string()))?;
                let history = history_statement
                    .query_map([&assignment.id], |row| {
                        let status: String = row.get(1)?;
                        Ok((
                            row.get::<_, i64>(0)?,
                            status,
                            row.get::<_, String>(2)?,
                            row.get::<_, Option<i64>>(3)?,
                        ))
                    })?
                    .map(|row| {
                        let (at_ms, status, changed_by, record_seq) = row?;
                        let status = serde_json::from_value(serde_json::Value::String(status))
                            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                        Ok(HistoryEntry {
                            at_ms,
                            status,
                            changed_by,
                            record_seq: record_seq.map(|seq| seq as u64),
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok(AssignmentRecord { driver_id, assignment, history })
            })
            .collect()
    }

    /// Events for a driver after `after_event_id`, oldest first.
    pub fn events_after(&self, driver_id: &str, after_event_id: u64) -> Result<Vec<Event>, StoreError> {
        let inner = self.lock();
        let mut statement = inner
            .connection
            .prepare("SELECT body FROM events WHERE driver_id = ?1 AND event_id > ?2 ORDER BY event_id")?;
        let bodies: Vec<String> = statement
            .query_map(params![driver_id, after_event_id as i64], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        bodies
            .iter()
            .map(|body| serde_json::from_str(body).map_err(|error| StoreError::Corrupt(error.to_string())))
            .collect()
    }

    /// Stores a message for a driver; returns the event to push.
    pub fn send_message(&self, driver_id: &str, text: &str, now_ms: i64) -> Result<Event, StoreError> {
        let mut inner = self.lock();
        let transaction = inner.connection.transaction()?;
        let event =
            append_event(&transaction, driver_id, EventPayload::Message { text: text.to_string() }, now_ms)?;
        transaction.commit()?;
        let message = FeedChange::Message {
            driver_id: driver_id.to_string(),
            event_id: event.event_id,
            text: text.to_string(),
        };
        self.announce(vec![message], now_ms);
        Ok(event)
    }

    /// A server setting stored in the database (the dispatcher token), if set.
    pub fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .connection
            .query_row("SELECT value FROM settings WHERE name = ?1", [name], |row| row.get(0))
            .optional()?)
    }

    /// Stores a server setting.
    pub fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let inner = self.lock();
        inner.connection.execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }
}
