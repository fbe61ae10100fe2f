//! Enroute's app logic, with no I/O.
//!
//! Everything here is a plain state machine in the style of quinn-proto: the caller feeds in
//! what happened (`handle_*` methods, each given the current time) and asks what to do next
//! (`poll_*` methods). Time is always an argument and randomness comes from a seed the caller
//! supplies, so every decision can be replayed in a native test with simulated time.
//!
//! This crate must not depend on a browser, an async runtime, a clock or the network. It depends
//! only on `enroute-protocol` (for the messages it decides to send) and serde (for settings the
//! app persists).

pub mod assignments;
pub mod backoff;
pub mod browser_support;
pub mod connection;
pub mod engine;
pub mod random;
pub mod time;

pub use backoff::{Backoff, BackoffConfig};
pub use browser_support::{BrowserSupport, SupportNote};
pub use connection::{Connection, ConnectionAction, ConnectionConfig, DeviceIdentity, LinkStatus, SocketId};
pub use random::Random;
pub use time::Instant;
pub mod link_summary;
pub mod settings;

pub use link_summary::{LinkSummary, LinkTone, summarize_link};
pub use settings::{Settings, SettingsChange};
pub mod outbox;

pub use engine::{Engine, EngineAction, EngineConfig, Now, SyncSnapshot};
pub use outbox::{
    DeadLetter, Outbox, OutboxConfig, OutboxCounters, OutboxStatus, StorageWrite, StoredOutbox,
};
pub mod sync_view;

pub use sync_view::SyncView;
pub mod geo;
pub mod throttle;

pub use enroute_protocol::Fix;
pub use throttle::{
    Decision, DropReason, Throttle, ThrottleMode, ThrottlePolicy, ThrottleStats, ThrottleStep,
};
pub mod tracking;

pub use tracking::{
    GeolocationError, LocationPermission, PositionView, Tracker, TrackingState, TrackingView,
};
pub mod throttle_form;

pub use throttle_form::ThrottleForm;
pub mod workflow;

pub use assignments::{AssignmentBook, AssignmentEntry, AssignmentWrite, EventEffect, StoredAssignments};
pub mod job_view;

pub use job_view::JobView;
