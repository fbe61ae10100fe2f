//! The root components: [`App`] wires the platform to the state; [`AppShell`] renders it.

use crate::components::Header;
use crate::pages::{AssignmentsPage, DutyPage, NotFoundPage, SettingsPage};
use crate::platform::settings_storage;
use crate::platform::sync_driver::{SyncDriver, SyncDriverOptions};
use crate::state::SyncState;
use enroute_core::Settings;
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The whole app: loads settings, keeps the connection to the server running, renders the shell.
#[component]
pub fn App() -> impl IntoView {
    let settings = RwSignal::new(settings_storage::load());
    let state = SyncState::new();
    let driver = StoredValue::new_local(None::<SyncDriver>);
    // Restart the connection whenever the settings change (and once at start).
    Effect::new(move |_| {
        let current = settings.get();
        settings_storage::save(&current);
        driver.set_value(None); // stops the old driver before the new one connects
        driver.set_value(Some(SyncDriver::start(SyncDriverOptions::from_settings(&current), state)));
    });
    view! { <AppShell state settings /> }
}

/// The app's layout and routes, rendering the given state.
#[component]
pub fn AppShell(
    /// Live synchronisation state shown in the header and on the duty screen.
    state: SyncState,
    /// The driver's settings; the settings page edits them.
    settings: RwSignal<Settings>,
) -> impl IntoView {
    provide_context(state);
    provide_context(settings);
    view! {
        <Router>
            <Header />
            <main id="main">
                <Routes fallback=|| view! { <NotFoundPage /> }>
                    <Route path=path!("/") view=DutyPage />
                    <Route path=path!("/assignments") view=AssignmentsPage />
                    <Route path=path!("/settings") view=SettingsPage />
                </Routes>
            </main>
        </Router>
    }
}
