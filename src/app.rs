//! The root components: [`App`] wires the platform to the state; [`AppShell`] renders it.

use crate::components::{Header, UpdateBanner};
use crate::pages::{AssignmentDetailPage, AssignmentsPage, DutyPage, NotFoundPage, SettingsPage};
use crate::platform::alerts::on_notification_open;
use crate::platform::clock::Clock;
use crate::platform::leadership::{LeadershipRequest, request_leadership};
use crate::platform::next_task::in_next_task;
use crate::platform::service_worker::{switch_to_waiting_version, watch_for_update};
use crate::platform::sync_driver::{SyncDriver, SyncDriverOptions, drivers_left_behind};
use crate::platform::tab_channel::TabChannel;
use crate::platform::{browser, browser_support, debug_bridge, settings_storage, storage_persistence};
use crate::state::{Intent, Intents, OtherDriver, OtherDrivers, SyncState, TabRole};
use enroute_core::{BrowserSupport, Settings, SettingsChange, SyncView};
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use std::time::Duration;

/// The whole app: keeps the settings, runs tracking if this tab leads (or follows the tab that
/// does), and renders the shell.
#[component]
pub fn App(
    /// The settings the page started with: `settings_storage::load_with_sign_in_link()`, which
    /// `main` reads in the task before the first render.
    start_settings: Settings,
) -> impl IntoView {
    let settings = RwSignal::new(start_settings);
    let state = SyncState::new();
    let driver = StoredValue::new_local(None::<SyncDriver>);
    let follower_channel =
        StoredValue::new_local(TabChannel::subscribe(move |text| {
            match serde_json::from_str::<SyncView>(&text) {
                Ok(view) => state.view.set(view),
                Err(error) => log::warn!("ignoring a message from another tab: {error}"),
            }
        }));
    // Drivers this phone was used for before, still sending what they left.
    let other_drivers = OtherDrivers::default();
    let draining = StoredValue::new_local(Vec::<SyncDriver>::new());
    let drain = move |options: SyncDriverOptions| {
        let progress = SyncState::new();
        other_drivers.0.update(|list| {
            list.push(OtherDriver {
                driver_id: RwSignal::new(options.identity.driver_id.clone()),
                state: progress,
            })
        });
        draining.update_value(|drivers| drivers.push(SyncDriver::start(options, progress)));
    };
    // In a task of its own, after the lock is granted: the render of the new role and the
    // driver's start each fit in a short task, so a slow phone can paint and respond in between.
    let start_driver = move || {
        // Unmounted meanwhile (a test), or a settings change already started one.
        let Some(current) = settings.try_get_untracked() else { return };
        if driver.with_value(Option::is_some) {
            return;
        }
        let options = SyncDriverOptions::from_settings(&current);
        let (server, driver_id) = (options.url.clone(), options.identity.driver_id.clone());
        driver.set_value(Some(SyncDriver::start(options, state)));
        // Records another driver left on this phone (a switch before the last close).
        leptos::task::spawn_local(async move {
            for options in drivers_left_behind(&server, &driver_id).await {
                drain(options);
            }
        });
    };
    let lead = move || {
        follower_channel.set_value(None);
        state.role.set(TabRole::Leader);
        // The outbox must survive storage pressure: ask the browser to keep it.
        leptos::task::spawn_local(async {
            log::info!("storage: {:?}", storage_persistence::request().await);
        });
        in_next_task(start_driver);
    };
    let leadership = StoredValue::new_local(None::<LeadershipRequest>);
    // Asked in a task of its own, after the one that builds the app: the lock comes
    // asynchronously anyway, and the first call into the browser's lock manager is not cheap on
    // a slow phone (issue 15, total blocking time).
    in_next_task(move || {
        if leadership.is_disposed() {
            return; // the app was unmounted first (a test)
        }
        leadership.set_value(Some(request_leadership(lead)));
        // Not granted at once: another tab leads.
        set_timeout(
            move || {
                if state.role.try_get_untracked() == Some(TabRole::Starting) {
                    state.role.set(TabRole::Follower);
                }
            },
            Duration::from_millis(300),
        );
    });
    // Saved settings: the same driver on the same server takes a new token or policy over
    // without losing anything it holds; another driver or server gets device state of its own,
    // and the old driver ends its duty and goes on sending what it left.
    Effect::new(move |previous: Option<Settings>| {
        let current = settings.get();
        if let Some(previous) = previous.filter(|previous| *previous != current) {
            settings_storage::save(&current);
            if state.role.get_untracked() == TabRole::Leader {
                match previous.change_to(&current, &browser::page_origin()) {
                    SettingsChange::Nothing => {}
                    SettingsChange::SameDevice => driver.with_value(|driver| {
                        if let Some(driver) = driver {
                            driver.send(Intent::ApplySettings {
                                token: current.sign_in_token(),
                                throttle: current.throttle,
                            });
                        }
                    }),
                    SettingsChange::OtherDevice => {
                        if let Some(old) = driver.try_update_value(Option::take).flatten() {
                            let progress = SyncState::new();
                            old.retire(progress);
                            other_drivers.0.update(|list| {
                                list.push(OtherDriver {
                                    driver_id: RwSignal::new(previous.driver_id.clone()),
                                    state: progress,
                                })
                            });
                            draining.update_value(|drivers| drivers.push(old));
                        }
                        state.view.set(SyncView::starting());
                        driver.set_value(Some(SyncDriver::start(
                            SyncDriverOptions::from_settings(&current),
                            state,
                        )));
                    }
                }
            }
        }
        current
    });
    let intents = Intents::new(move |intent| {
        driver.with_value(|driver| {
            if let Some(driver) = driver {
                driver.send(intent);
            }
        })
    });
    debug_bridge::install(intents);
    let _clock = StoredValue::new_local(Clock::start(state.clock_ms));
    let update_ready = RwSignal::new(false);
    let _update_watch = StoredValue::new_local(watch_for_update(move || update_ready.set(true)));
    let switch_version = Callback::new(move |()| switch_to_waiting_version());
    let support = browser_support::detect();
    view! {
        <UpdateBanner ready=update_ready on_update=switch_version />
        <AppShell state settings intents support other_drivers />
    }
}

/// The app's layout and routes, rendering the given state.
#[component]
pub fn AppShell(
    /// Synchronisation state shown in the header and on the duty screen.
    state: SyncState,
    /// The driver's settings; the settings page edits them.
    settings: RwSignal<Settings>,
    /// Where the driver's actions go.
    intents: Intents,
    /// What the browser offers (everything, unless given): screens explain what is missing.
    #[prop(optional)]
    support: BrowserSupport,
    /// Other drivers whose records this phone still sends (none, unless given).
    #[prop(optional)]
    other_drivers: OtherDrivers,
) -> impl IntoView {
    provide_context(state);
    provide_context(settings);
    provide_context(intents);
    provide_context(support);
    provide_context(other_drivers);
    view! {
        <Router>
            <NotificationTaps />
            <Header />
            <main id="main">
                <Routes fallback=|| view! { <NotFoundPage /> }>
                    <Route path=path!("/") view=DutyPage />
                    <Route path=path!("/assignments") view=AssignmentsPage />
                    <Route path=path!("/assignments/:id") view=AssignmentDetailPage />
                    <Route path=path!("/settings") view=SettingsPage />
                </Routes>
            </main>
        </Router>
    }
}

/// Opens the job a tapped system notification points to (the service worker asks the page).
#[component]
fn NotificationTaps() -> impl IntoView {
    let navigate = leptos_router::hooks::use_navigate();
    let listener =
        StoredValue::new_local(on_notification_open(move |url| navigate(&url, Default::default())));
    on_cleanup(move || listener.dispose());
}
