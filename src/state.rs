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
    /// Connection, outbox and duty, as the engine sees them.
    pub view: RwSignal<SyncView>,
    /// Whether this tab leads.
    pub role: RwSignal<TabRole>,
}

impl SyncState {
    /// State before anything is known.
    pub fn new() -> SyncState {
        SyncState { view: RwSignal::new(SyncView::starting()), role: RwSignal::new(TabRole::Starting) }
    }

    /// State showing `view`, in a leading tab (for tests and previews).
    pub fn showing(view: SyncView) -> SyncState {
        SyncState { view: RwSignal::new(view), role: RwSignal::new(TabRole::Leader) }
    }
}

impl Default for SyncState {
    fn default() -> SyncState {
        SyncState::new()
    }
}

/// What the driver asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Start (`true`) or end (`false`) duty.
    SetDuty(bool),
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
