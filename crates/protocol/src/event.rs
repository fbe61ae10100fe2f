use serde::{Deserialize, Serialize};

/// Something the server tells one driver. Events are numbered per driver; the number only grows,
/// so a device that says which event it saw last can be sent exactly the ones it missed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Per-driver event number, starting at 1.
    pub event_id: u64,
    /// When the server created the event, in milliseconds since the Unix epoch (server clock).
    pub created_at_ms: i64,
    /// What happened.
    pub payload: EventPayload,
}

/// What an event says, tagged on the wire by its `kind` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// A job is much larger than a message, but events are few and short-lived: boxing it would
// only add an allocation and noise at every construction.
#[allow(clippy::large_enum_variant)]
pub enum EventPayload {
    /// A short text from the dispatcher, shown to the driver as plain text.
    Message { text: String },
    /// A job, as the server now sees it: offered, changed by the dispatcher (cancelled), expired,
    /// or set back because the server refused one of the driver's actions (`refused_seq` is
    /// that record's sequence number and `notice` says what happened). The server wins.
    Assignment {
        assignment: crate::Assignment,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notice: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused_seq: Option<u64>,
    },
}
