//! The dispatcher feed: `GET /dispatch/ws` (dispatcher token), the live view of the fleet for
//! dispatch consoles. A console sends `subscribe`; the server answers with a `snapshot` (or,
//! when the console says where it left off and the server still has what followed, `resumed`),
//! then sends `delta`s, each with the next feed sequence number, in the order of the commits that
//! caused them. `docs/protocol.md` ("Dispatcher feed") describes the same in prose.

use crate::decode_error::{decode_frame, encode_frame};
use crate::{Assignment, AssignmentStatus, DecodeError, DriverStatus, ErrorMessage, Fix, PauseReason};
use serde::{Deserialize, Serialize};

/// A frame a console sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConsoleMessage {
    /// The first frame: which drivers the console follows, and where it left off.
    Subscribe(Subscribe),
    /// Keeps the connection alive; answered with `pong`.
    Ping(crate::Ping),
}

/// Which drivers, and where the console left off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribe {
    /// Only these drivers (a dispatcher's "room"); every driver when absent. Jobs and messages
    /// follow their driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drivers: Option<Vec<String>>,
    /// The last feed position the console applied, to get only what it missed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<FeedPosition>,
}

/// A place in one server's feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPosition {
    /// Which feed: changes when the server restarts (its numbers start again).
    pub feed_id: String,
    /// The last feed sequence number applied.
    pub feed_seq: u64,
}

impl ConsoleMessage {
    pub fn decode(text: &str) -> Result<ConsoleMessage, DecodeError> {
        decode_frame(text)
    }

    pub fn encode(&self) -> String {
        encode_frame(self)
    }
}

/// A frame the server sends to a console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
// A snapshot is large and rare; deltas are small and many. Boxing would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum FeedMessage {
    /// Everything the console follows, as of `feed_seq`: deltas after it follow.
    Snapshot(FeedSnapshot),
    /// The console's `resume` position was still known: the deltas after it follow.
    Resumed(FeedPosition),
    /// One change.
    Delta(FeedDelta),
    /// Changes that were ready together, in feed order: the same as that many `delta` frames,
    /// in one (a console following a thousand drivers would otherwise get a thousand frames a
    /// second).
    Deltas(FeedDeltas),
    /// Answer to `ping`.
    Pong(crate::Pong),
    /// The server refused the console (bad first frame, deadline); the socket closes.
    Error(ErrorMessage),
}

impl FeedMessage {
    pub fn decode(text: &str) -> Result<FeedMessage, DecodeError> {
        decode_frame(text)
    }

    pub fn encode(&self) -> String {
        encode_frame(self)
    }
}

/// The fleet as of one feed position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedSnapshot {
    pub feed_id: String,
    pub feed_seq: u64,
    /// The server clock when the snapshot was taken (milliseconds since the epoch).
    pub server_time_ms: i64,
    /// Every registered driver the console follows, by id.
    pub drivers: Vec<FeedDriver>,
    /// Every job of those drivers, oldest first.
    pub jobs: Vec<FeedJob>,
}

/// One driver as a console shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedDriver {
    pub driver_id: String,
    /// A connection is signed in as this driver now.
    pub connected: bool,
    /// The last duty change applied: `on_duty`, `off_duty`, or absent when none yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duty: Option<DriverStatus>,
    /// Why tracking is paused, while it is (from the last `tracking_paused` not followed by
    /// `tracking_resumed` or a duty change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<PauseReason>,
    /// When the server last heard from the driver (server clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<i64>,
    /// Records held behind a missing earlier one.
    pub waiting: u64,
    /// The newest fix by fix time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Fix>,
}

/// A job with its driver and history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedJob {
    pub driver_id: String,
    pub assignment: Assignment,
    pub history: Vec<JobChange>,
}

/// One status change of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobChange {
    pub at_ms: i64,
    pub status: AssignmentStatus,
    /// `dispatcher`, `driver` or `server` (expiry).
    pub changed_by: String,
    /// The driver's record that made the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_seq: Option<u64>,
}

/// One change, with its place in the feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedDelta {
    pub feed_seq: u64,
    /// When the change was committed (server clock): read right after the commit; on
    /// PostgreSQL, for the changes every node shares, right before it, since the time is stored
    /// in the same transaction.
    pub at_ms: i64,
    #[serde(flatten)]
    pub change: FeedChange,
}

/// Several changes in one frame (`{"type":"deltas","deltas":[…]}`), in the order they happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedDeltas {
    pub deltas: Vec<FeedDelta>,
}

/// What changed, tagged on the wire by its `change` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
// A job is larger than the other changes; they are all short-lived.
#[allow(clippy::large_enum_variant)]
pub enum FeedChange {
    /// A driver's newest applied fix. Consoles get at most about one a second per driver: a
    /// newer one replaces one not sent yet (the only change ever coalesced).
    Position { driver_id: String, fix: Fix },
    /// A duty or tracking change applied (`reason` with `tracking_paused`).
    Status {
        driver_id: String,
        status: DriverStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<PauseReason>,
    },
    /// A connection signed in as the driver.
    Connected { driver_id: String },
    /// The driver's last connection closed.
    Disconnected { driver_id: String },
    /// A job was offered, changed by its driver, cancelled or expired: the job as it is now and
    /// the change just made.
    Job { driver_id: String, assignment: Assignment, latest: JobChange },
    /// The dispatcher sent the driver a message.
    Message { driver_id: String, event_id: u64, text: String },
    /// A driver was registered (or given a new token).
    DriverRegistered { driver_id: String },
    /// A driver's token was revoked.
    DriverRevoked { driver_id: String },
}

impl FeedChange {
    /// The driver the change is about.
    pub fn driver_id(&self) -> &str {
        match self {
            FeedChange::Position { driver_id, .. }
            | FeedChange::Status { driver_id, .. }
            | FeedChange::Connected { driver_id }
            | FeedChange::Disconnected { driver_id }
            | FeedChange::Job { driver_id, .. }
            | FeedChange::Message { driver_id, .. }
            | FeedChange::DriverRegistered { driver_id }
            | FeedChange::DriverRevoked { driver_id } => driver_id,
        }
    }
}
