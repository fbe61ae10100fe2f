//! The state components render, as reactive signals, and the intents they send. The platform
//! layer writes the state; components only read it.

use enroute_core::SyncView;
use leptos::prelude::*;

/// Which tab runs tracking (see `platform::leadership`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TabRole {
    /// Asking the browser which tab leads.
    Starting,
    /// This tab owns geolocation, the outbox and the socket.
    Leader,
    /// Another tab of the app does; this one shows its state read-only.
    Follower,
}

/// Everything about synchronisation that the UI shows.
#[derive(Debug, Clone, Copy)]
pub struct SyncState {
    /// Connection, outbox, duty, tracking and jobs, as the engine sees them.
    pub view: RwSignal<SyncView>,
    /// Whether this tab leads.
    pub role: RwSignal<TabRole>,
    /// The wall clock (Unix milliseconds), ticking every second, for countdowns.
    pub clock_ms: RwSignal<i64>,
}

impl SyncState {
    /// State before anything is known.
    pub fn new() -> SyncState {
        SyncState {
            view: RwSignal::new(SyncView::starting()),
            role: RwSignal::new(TabRole::Starting),
            clock_ms: RwSignal::new(0),
        }
    }

    /// State showing `view`, in a leading tab (for tests and previews).
    pub fn showing(view: SyncView) -> SyncState {
        SyncState {
            view: RwSignal::new(view),
            role: RwSignal::new(TabRole::Leader),
            clock_ms: RwSignal::new(0),
        }
    }
}

impl Default for SyncState {
    fn default() -> SyncState {
        SyncState::new()
    }
}

/// Another driver this phone was used for, whose records are still being sent (after a switch
/// in Settings or a sign-in link), and how that goes.
#[derive(Debug, Clone, Copy)]
pub struct OtherDriver {
    /// Whose records.
    pub driver_id: RwSignal<String>,
    /// Their sending, as the draining driver sees it.
    pub state: SyncState,
}

/// The other drivers whose records are still on this phone (Settings shows them).
#[derive(Debug, Clone, Copy)]
pub struct OtherDrivers(pub RwSignal<Vec<OtherDriver>>);

impl Default for OtherDrivers {
    fn default() -> OtherDrivers {
        OtherDrivers(RwSignal::new(Vec::new()))
    }
}

/// What the driver asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// Start (`true`) or end (`false`) duty.
    SetDuty(bool),
    /// Act on a job (accept, pick up, …); `reason` for a failed delivery.
    Act { job_id: String, action: enroute_protocol::DriverAction, reason: Option<String> },
    /// The driver read the server's notice about a job.
    DismissNotice { job_id: String },
    /// Try the server again after it refused the sign-in or another device took over.
    Reconnect,
    /// Save the records dispatch refused as a JSON file, to hand to the office.
    ExportDeadLetters,
    /// Debug bridge only: reconnect asking for every event again (they must be handled once).
    ReplayEventsForTest,
    /// The driver saved settings that keep the same driver on the same server: a new token
    /// (reconnects with it) or a new location policy (the current track ends first).
    ApplySettings { token: Option<String>, throttle: enroute_core::ThrottlePolicy },
}

/// Where components send intents. The app routes them to the sync driver; tests record them.
#[derive(Clone, Copy)]
pub struct Intents(Callback<Intent>);

impl Intents {
    /// Intents handled by `handler`.
    pub fn new(handler: impl Fn(Intent) + Send + Sync + 'static) -> Intents {
        Intents(Callback::new(handler))
    }

    /// Sends one intent.
    pub fn send(&self, intent: Intent) {
        self.0.run(intent);
    }
}
