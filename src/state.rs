//! The state components render, as reactive signals. The platform layer writes it; components
//! only read it.

use enroute_core::{Instant, LinkStatus, LinkSummary, summarize_link};
use leptos::prelude::*;

/// Everything about synchronisation with the server that the UI shows.
#[derive(Debug, Clone, Copy)]
pub struct SyncState {
    /// The connection indicator's text and tone.
    pub link: RwSignal<LinkSummary>,
}

impl SyncState {
    /// State before the app has tried to connect.
    pub fn new() -> SyncState {
        SyncState { link: RwSignal::new(summarize_link(&LinkStatus::Idle, Instant::default())) }
    }

    /// State showing `status` as seen at `now` (also handy for tests).
    pub fn showing(status: &LinkStatus, now: Instant) -> SyncState {
        let state = SyncState::new();
        state.link.set(summarize_link(status, now));
        state
    }
}

impl Default for SyncState {
    fn default() -> SyncState {
        SyncState::new()
    }
}
