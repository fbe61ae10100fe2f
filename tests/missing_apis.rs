//! No browser API can take the app down (browser layer): with each optional API removed (one at
//! a time, and all together), the app's own pieces (tab leadership, the sync driver with
//! IndexedDB, its alerts, wake lock, permission watch and background flush, the shell) still do
//! the whole driver flow against the test server: sign in, duty, positions, the offline queue,
//! a job offered over the socket (which alerts: the path `navigator.vibrate` used to kill),
//! accept, deliver, and a restart on the same storage.
//!
//! `scripts/test` registers a driver `browser-missing-<case>` for each case and offers it the job
//! `browser-missing-<case>-job` by scenario, so the offer arrives over the socket as the driver
//! signs in. Positions come from the test source (`geolocation::use_test_positions`): the test
//! page has no location permission.

#![cfg(target_arch = "wasm32")]

use enroute::app::AppShell;
use enroute::platform::geolocation::{PositionEvent, feed_test_position, use_test_positions};
use enroute::platform::leadership::{LeadershipRequest, request_leadership};
use enroute::platform::sync_driver::{SyncDriver, SyncDriverOptions};
use enroute::platform::{browser_support, storage_persistence};
use enroute::state::{Intent, Intents, SyncState};
use enroute_core::{DeviceIdentity, EngineConfig, Settings};
use enroute_protocol::{AssignmentStatus, DriverAction};
use leptos::mount::mount_to;
use leptos::prelude::*;
use leptos::task::tick;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

mod support;
use support::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
const SAVED = [];
function places(name) {
  switch (name) {
    case 'vibrate': return [[Navigator.prototype, 'vibrate']];
    case 'Notification': return [[globalThis, 'Notification']];
    case 'locks': return [[Navigator.prototype, 'locks']];
    case 'wakeLock': return [[Navigator.prototype, 'wakeLock']];
    case 'SyncManager': return [[globalThis, 'SyncManager']].concat(
      globalThis.ServiceWorkerRegistration ? [[ServiceWorkerRegistration.prototype, 'sync']] : []);
    case 'BroadcastChannel': return [[globalThis, 'BroadcastChannel']];
    case 'AudioContext': return [[globalThis, 'AudioContext'], [globalThis, 'webkitAudioContext']];
    case 'permissions': return [[Navigator.prototype, 'permissions']];
    case 'storage': return [[Navigator.prototype, 'storage']];
    default: throw new Error('unknown API ' + name);
  }
}
export function hide_api(name) {
  for (const [object, property] of places(name)) {
    const descriptor = Object.getOwnPropertyDescriptor(object, property);
    if (descriptor) {
      SAVED.push([object, property, descriptor]);
      delete object[property];
    }
  }
  return places(name).every(([object, property]) => !(property in object));
}
export function restore_apis() {
  while (SAVED.length > 0) {
    const [object, property, descriptor] = SAVED.pop();
    Object.defineProperty(object, property, descriptor);
  }
}
"#)]
extern "C" {
    fn hide_api(name: &str) -> bool;
    fn restore_apis();
}

const ALL: [&str; 9] = [
    "vibrate",
    "Notification",
    "locks",
    "wakeLock",
    "SyncManager",
    "BroadcastChannel",
    "AudioContext",
    "permissions",
    "storage",
];

/// The app as `App` assembles it, on a scratch database: leadership first, then the driver.
struct RunningApp {
    root: web_sys::HtmlElement,
    owner: Owner,
    handle: Option<leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>>,
    driver: Rc<RefCell<Option<SyncDriver>>>,
    _leadership: LeadershipRequest,
    state: SyncState,
}

impl RunningApp {
    fn start(options: SyncDriverOptions) -> RunningApp {
        let state = SyncState::new();
        let driver: Rc<RefCell<Option<SyncDriver>>> = Rc::default();
        let starting = driver.clone();
        let leadership = request_leadership(move || {
            state.role.set(enroute::state::TabRole::Leader);
            wasm_bindgen_futures::spawn_local(async {
                log::info!("storage: {:?}", storage_persistence::request().await);
            });
            *starting.borrow_mut() = Some(SyncDriver::start(options, state));
        });
        let sending = send_wrapper::SendWrapper::new(driver.clone());
        let intents = Intents::new(move |intent| {
            if let Some(driver) = sending.borrow().as_ref() {
                driver.send(intent);
            }
        });
        let document = web_sys::window().unwrap().document().unwrap();
        let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
        document.body().unwrap().append_child(&root).unwrap();
        let owner = Owner::new();
        let support = browser_support::detect();
        let settings = RwSignal::new(Settings::default());
        let handle = owner.with(|| {
            mount_to(root.clone(), move || view! { <AppShell state settings intents support /> }.into_any())
        });
        RunningApp { root, owner, handle: Some(handle), driver, _leadership: leadership, state }
    }

    fn send(&self, intent: Intent) {
        self.driver.borrow().as_ref().expect("this tab leads").send(intent);
    }

    fn click(&self, selector: &str) {
        let element: web_sys::HtmlElement =
            self.root.query_selector(selector).unwrap().expect(selector).unchecked_into();
        element.click();
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        self.driver.borrow_mut().take();
        drop(self.handle.take());
        self.owner.cleanup();
        self.root.remove();
    }
}

fn options(case: &str, database: &str) -> SyncDriverOptions {
    let url = test_server_url();
    SyncDriverOptions {
        url: url.to_string(),
        identity: DeviceIdentity {
            driver_id: format!("browser-missing-{case}"),
            token: Some(format!("browser-missing-{case}-token")),
            app_version: "browser-test".into(),
        },
        config: EngineConfig::default(),
        throttle: enroute_core::ThrottlePolicy::default(),
        records_upload_url: url.replace("ws://", "http://").replace("/ws", "/sync/records"),
        database: database.to_string(),
        mode: enroute::platform::sync_driver::DriverMode::Active,
    }
}

fn fix(lat: f64) -> PositionEvent {
    PositionEvent::Fix(enroute_core::Fix {
        time_ms: js_sys::Date::now() as i64,
        lat,
        lon: 11.5755,
        accuracy_m: 5.0,
        speed_mps: None,
        heading_deg: None,
        altitude_m: None,
    })
}

fn browser_event(name: &str) {
    web_sys::window().unwrap().dispatch_event(&web_sys::Event::new(name).unwrap()).unwrap();
}

async fn whole_flow(case: &str, hidden: &[&str]) {
    console_error_panic_hook::set_once();
    report_uncaught_errors();
    let _ = console_log::init_with_level(log::Level::Info);
    for name in hidden {
        assert!(hide_api(name), "{name} is still there");
    }
    use_test_positions();
    let database = format!("enroute-missing-{case}-{}", js_sys::Date::now());
    let job_id = format!("browser-missing-{case}-job");
    let app = RunningApp::start(options(case, &database));
    let state = app.state;
    let view = move || state.view.get_untracked();
    wait_until("online", || view().link_label.starts_with("Online")).await;
    // The job offered to this driver arrives over the socket as it signs in, and alerts.
    wait_until("the offer", || view().jobs.iter().any(|job| job.id == job_id)).await;
    tick().await;
    assert!(app.root.text_content().unwrap().contains("Missing-API pickup"), "the offer banner shows");

    // Duty and positions.
    app.click("[data-testid=duty-toggle]");
    for step in 0..4 {
        feed_test_position(fix(48.1374 + step as f64 * 0.0001));
        sleep(300).await;
    }
    wait_until("a position sent", || view().tracking.sent >= 1 && view().waiting == 0).await;

    // Offline: the duty change waits, stored; online again: it goes.
    browser_event("offline");
    wait_until("offline shown", || view().link_label.starts_with("Offline")).await;
    tick().await;
    app.click("[data-testid=duty-toggle]");
    wait_until("the change stored and waiting", || view().waiting >= 1 && view().unsaved == 0).await;
    browser_event("online");
    wait_until("the queue drained", || view().waiting == 0 && view().link_label.starts_with("Online")).await;

    // Accept and deliver.
    for action in [
        DriverAction::Accept,
        DriverAction::StartRoute,
        DriverAction::ArriveAtPickup,
        DriverAction::PickUp,
        DriverAction::ArriveAtDropoff,
        DriverAction::Deliver,
    ] {
        app.send(Intent::Act { job_id: job_id.clone(), action, reason: None });
        wait_until("the action confirmed", || {
            view().waiting == 0
                && view().jobs.iter().any(|job| job.id == job_id && !job.actions.contains(&action))
        })
        .await;
    }
    let delivered = |view: &enroute_core::SyncView| {
        view.jobs.iter().any(|job| job.id == job_id && job.status == AssignmentStatus::Delivered)
    };
    assert!(delivered(&view()));

    // Restart on the same storage: everything is still there, and nothing waits.
    drop(app);
    let again = RunningApp::start(options(case, &database));
    let state = again.state;
    let view = move || state.view.get_untracked();
    wait_until("online after the restart", || view().link_label.starts_with("Online")).await;
    wait_until("the delivered job after the restart", || delivered(&view())).await;
    assert_eq!(view().waiting, 0);
    assert!(!view().on_duty);
    drop(again);
    restore_apis();
    let _ = rexie::Rexie::delete(&database).await;
}

#[wasm_bindgen_test]
async fn without_every_optional_api_at_once_the_whole_flow_works() {
    whole_flow("all", &ALL).await;
}

#[wasm_bindgen_test]
async fn without_navigator_vibrate_the_whole_flow_works() {
    whole_flow("vibrate", &["vibrate"]).await;
}

#[wasm_bindgen_test]
async fn without_notification_the_whole_flow_works() {
    whole_flow("Notification", &["Notification"]).await;
}

#[wasm_bindgen_test]
async fn without_web_locks_the_whole_flow_works() {
    whole_flow("locks", &["locks"]).await;
}

#[wasm_bindgen_test]
async fn without_wake_lock_the_whole_flow_works() {
    whole_flow("wakeLock", &["wakeLock"]).await;
}

#[wasm_bindgen_test]
async fn without_background_sync_the_whole_flow_works() {
    whole_flow("SyncManager", &["SyncManager"]).await;
}

#[wasm_bindgen_test]
async fn without_broadcast_channel_the_whole_flow_works() {
    whole_flow("BroadcastChannel", &["BroadcastChannel"]).await;
}

#[wasm_bindgen_test]
async fn without_web_audio_the_whole_flow_works() {
    whole_flow("AudioContext", &["AudioContext"]).await;
}

#[wasm_bindgen_test]
async fn without_the_permissions_api_the_whole_flow_works() {
    whole_flow("permissions", &["permissions"]).await;
}

#[wasm_bindgen_test]
async fn without_the_storage_api_the_whole_flow_works() {
    whole_flow("storage", &["storage"]).await;
}
