//! The driver's jobs on the device: what the server pushed, what the driver did about them, and
//! whether the server has confirmed it. Works offline: a driver's action changes the job at
//! once and becomes an `assignment` record in the outbox; the server's acknowledgement confirms
//! it; a refusal from the server (it cancelled first) sets the job back, with a notice. The
//! server wins.
//!
//! Events are de-duplicated by their id: each is handled once, even when a reconnect replays it.

use crate::workflow::{Change, TransitionError, driver_actions, next_status};
use enroute_protocol::{Assignment, AssignmentStatus, DriverAction, Event, EventPayload, RecordKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Who changed a job's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangedBy {
    Driver,
    Dispatch,
}

/// Whether the server has confirmed a change the driver made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// Made on the device; not acknowledged yet.
    Pending,
    /// The server stored it.
    Confirmed,
    /// The server refused it.
    Refused,
    /// A change that came from the server itself.
    FromServer,
}

/// One status change in a job's history on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryItem {
    pub status: AssignmentStatus,
    pub at_ms: i64,
    pub by: ChangedBy,
    /// The record that carries a driver's change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub confirmation: Confirmation,
}

/// A job as the device keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignmentEntry {
    /// The job as the server last described it.
    pub assignment: Assignment,
    /// The status the driver sees: the server's, moved on by the driver's own actions.
    pub status: AssignmentStatus,
    pub history: Vec<HistoryItem>,
    /// What the server said about the last change it made (cancelled, refused, expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// When the device first heard of the job, and last saw it change (device clock).
    pub received_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A text from the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchMessage {
    pub event_id: u64,
    pub at_ms: i64,
    pub text: String,
}

/// What storage held at start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredAssignments {
    pub entries: Vec<AssignmentEntry>,
    pub messages: Vec<DispatchMessage>,
    /// The highest event id handled and stored.
    pub last_event_id: u64,
}

/// Changes to store, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentWrite {
    pub id: u64,
    /// Entries to store (insert or replace by job id).
    pub entries: Vec<AssignmentEntry>,
    /// The dispatcher's messages, all of them (a short list).
    pub messages: Vec<DispatchMessage>,
    pub last_event_id: u64,
}

/// What an event did, so the app can alert the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventEffect {
    /// Already handled (replayed after a reconnect): nothing changed.
    Duplicate,
    /// A new job is offered.
    NewOffer { assignment_id: String },
    /// A known job changed (cancelled, expired, an action refused).
    Changed { assignment_id: String },
    /// A text from the dispatcher.
    Message { text: String },
}

/// How many dispatcher messages the device keeps.
const MESSAGES_KEPT: usize = 20;

/// The driver's jobs. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct AssignmentBook {
    entries: BTreeMap<String, AssignmentEntry>,
    messages: Vec<DispatchMessage>,
    last_event_id: u64,
    stored_last_event_id: u64,
    dirty: BTreeSet<String>,
    messages_dirty: bool,
    write_in_flight: Option<(u64, u64)>,
    next_write_id: u64,
}

impl AssignmentBook {
    pub fn new(stored: StoredAssignments) -> AssignmentBook {
        AssignmentBook {
            entries: stored.entries.into_iter().map(|entry| (entry.assignment.id.clone(), entry)).collect(),
            messages: stored.messages,
            last_event_id: stored.last_event_id,
            stored_last_event_id: stored.last_event_id,
            next_write_id: 1,
            ..AssignmentBook::default()
        }
    }

    /// The highest event id handled and durably stored: what `hello` reports and `ack` confirms.
    pub fn stored_last_event_id(&self) -> u64 {
        self.stored_last_event_id
    }

    pub fn entries(&self) -> impl Iterator<Item = &AssignmentEntry> {
        self.entries.values()
    }

    pub fn entry(&self, id: &str) -> Option<&AssignmentEntry> {
        self.entries.get(id)
    }

    pub fn messages(&self) -> &[DispatchMessage] {
        &self.messages
    }

    /// Handles an event from the server (once per event id).
    pub fn handle_event(&mut self, event: &Event, now_ms: i64) -> EventEffect {
        if event.event_id <= self.last_event_id {
            return EventEffect::Duplicate;
        }
        self.last_event_id = event.event_id;
        self.messages_dirty = true; // the stored last event id moves with every event
        match &event.payload {
            EventPayload::Message { text } => {
                self.messages.push(DispatchMessage {
                    event_id: event.event_id,
                    at_ms: now_ms,
                    text: text.clone(),
                });
                let excess = self.messages.len().saturating_sub(MESSAGES_KEPT);
                self.messages.drain(..excess);
                EventEffect::Message { text: text.clone() }
            }
            EventPayload::Assignment { assignment, notice, refused_seq } => {
                let id = assignment.id.clone();
                self.dirty.insert(id.clone());
                match self.entries.get_mut(&id) {
                    None => {
                        let status = assignment.status;
                        self.entries.insert(
                            id.clone(),
                            AssignmentEntry {
                                assignment: assignment.clone(),
                                status,
                                history: vec![HistoryItem {
                                    status,
                                    at_ms: now_ms,
                                    by: ChangedBy::Dispatch,
                                    seq: None,
                                    confirmation: Confirmation::FromServer,
                                }],
                                notice: notice.clone(),
                                received_at_ms: now_ms,
                                updated_at_ms: now_ms,
                            },
                        );
                        if status == AssignmentStatus::Offered {
                            EventEffect::NewOffer { assignment_id: id }
                        } else {
                            EventEffect::Changed { assignment_id: id }
                        }
                    }
                    Some(entry) => {
                        if let Some(seq) = refused_seq
                            && let Some(item) = entry.history.iter_mut().find(|item| item.seq == Some(*seq))
                        {
                            item.confirmation = Confirmation::Refused;
                        }
                        // The server wins when it says a job is over or refused an action; an
                        // offer repeated while the driver already moved it on changes nothing.
                        if assignment.status.is_final() || refused_seq.is_some() {
                            if entry.status != assignment.status {
                                entry.history.push(HistoryItem {
                                    status: assignment.status,
                                    at_ms: now_ms,
                                    by: ChangedBy::Dispatch,
                                    seq: None,
                                    confirmation: Confirmation::FromServer,
                                });
                            }
                            entry.status = assignment.status;
                        }
                        entry.assignment = assignment.clone();
                        if notice.is_some() {
                            entry.notice = notice.clone();
                        }
                        entry.updated_at_ms = now_ms;
                        EventEffect::Changed { assignment_id: id }
                    }
                }
            }
        }
    }

    /// The driver acts on a job: applied at once. Returns the record to make, or why the
    /// workflow does not allow it (the same words the server would use).
    pub fn act(
        &mut self,
        id: &str,
        action: DriverAction,
        reason: Option<String>,
        now_ms: i64,
    ) -> Result<RecordKind, ActError> {
        let entry = self.entries.get_mut(id).ok_or_else(|| ActError::UnknownJob(id.to_string()))?;
        if action == DriverAction::Fail && reason.as_deref().is_none_or(|reason| reason.trim().is_empty()) {
            return Err(ActError::ReasonRequired);
        }
        let status = next_status(entry.status, Change::Driver(action)).map_err(ActError::Refused)?;
        entry.status = status;
        entry.notice = None;
        entry.updated_at_ms = now_ms;
        entry.history.push(HistoryItem {
            status,
            at_ms: now_ms,
            by: ChangedBy::Driver,
            seq: None,
            confirmation: Confirmation::Pending,
        });
        self.dirty.insert(id.to_string());
        Ok(RecordKind::Assignment { assignment_id: id.to_string(), action, reason })
    }

    /// The record made by the last [`AssignmentBook::act`] on job `id` got sequence number `seq`.
    pub fn attach_seq(&mut self, id: &str, seq: u64) {
        if let Some(item) = self
            .entries
            .get_mut(id)
            .and_then(|entry| entry.history.iter_mut().rev().find(|item| item.by == ChangedBy::Driver))
        {
            item.seq = Some(seq);
            self.dirty.insert(id.to_string());
        }
    }

    /// The server acknowledged records up to `acked_seq`: the driver's changes they carry are
    /// confirmed (unless a refusal already came).
    pub fn handle_acked(&mut self, acked_seq: u64) {
        for (id, entry) in &mut self.entries {
            for item in &mut entry.history {
                if item.confirmation == Confirmation::Pending && item.seq.is_some_and(|seq| seq <= acked_seq)
                {
                    item.confirmation = Confirmation::Confirmed;
                    self.dirty.insert(id.clone());
                }
            }
        }
    }

    /// The driver read the server's notice about a job.
    pub fn dismiss_notice(&mut self, id: &str) {
        if let Some(entry) = self.entries.get_mut(id)
            && entry.notice.take().is_some()
        {
            self.dirty.insert(id.to_string());
        }
    }

    /// The next write to storage, if something changed and no write is under way.
    pub fn poll_write(&mut self) -> Option<AssignmentWrite> {
        if self.write_in_flight.is_some() || (self.dirty.is_empty() && !self.messages_dirty) {
            return None;
        }
        let id = self.next_write_id;
        self.next_write_id += 1;
        let entries =
            std::mem::take(&mut self.dirty).iter().filter_map(|id| self.entries.get(id).cloned()).collect();
        self.messages_dirty = false;
        self.write_in_flight = Some((id, self.last_event_id));
        Some(AssignmentWrite {
            id,
            entries,
            messages: self.messages.clone(),
            last_event_id: self.last_event_id,
        })
    }

    /// Storage committed write `id`; returns the event id now durably stored, if it moved (the
    /// events up to it can be acknowledged to the server).
    pub fn handle_written(&mut self, id: u64) -> Option<u64> {
        match self.write_in_flight {
            Some((in_flight, last_event_id)) if in_flight == id => {
                self.write_in_flight = None;
                if last_event_id > self.stored_last_event_id {
                    self.stored_last_event_id = last_event_id;
                    return Some(last_event_id);
                }
                None
            }
            _ => None,
        }
    }

    /// Storage failed write `id`: everything it held is written again later.
    pub fn handle_write_failed(&mut self, id: u64) {
        if self.write_in_flight.is_some_and(|(in_flight, _)| in_flight == id) {
            self.write_in_flight = None;
            self.dirty.extend(self.entries.keys().cloned());
            self.messages_dirty = true;
        }
    }

    /// The driver's actions allowed on job `id` now.
    pub fn next_actions(&self, id: &str) -> Vec<DriverAction> {
        self.entries.get(id).map(|entry| driver_actions(entry.status)).unwrap_or_default()
    }
}

/// Why a driver's action was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActError {
    UnknownJob(String),
    ReasonRequired,
    Refused(TransitionError),
}

impl std::fmt::Display for ActError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActError::UnknownJob(id) => write!(formatter, "no job {id:?} on this device"),
            ActError::ReasonRequired => write!(formatter, "say why the delivery failed"),
            ActError::Refused(error) => write!(formatter, "{error}"),
        }
    }
}

impl std::error::Error for ActError {}

/// How the jobs list groups jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobGroup {
    /// Accepted and not finished.
    Active,
    Offered,
    /// Finished today.
    Done,
}

/// The group of a job, or `None` for jobs finished before `start_of_today_ms` (not listed).
pub fn job_group(entry: &AssignmentEntry, start_of_today_ms: i64) -> Option<JobGroup> {
    match entry.status {
        AssignmentStatus::Offered => Some(JobGroup::Offered),
        status if status.is_final() => (entry.updated_at_ms >= start_of_today_ms).then_some(JobGroup::Done),
        _ => Some(JobGroup::Active),
    }
}
