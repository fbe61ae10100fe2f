//! The service worker from the page's side: registering it, noticing that a new version of the
//! app has installed and waits, and switching to it when the driver taps "Update now".
//!
//! Registration happens in `main` only, never in tests: a worker registered inside a browser
//! test would outlive it and serve stale files to the next one. Watching for updates without a
//! registration does nothing, so components using it can be tested.

use crate::platform::event_listener::EventListener;
use crate::platform::js_api;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ServiceWorker, ServiceWorkerRegistration, ServiceWorkerState};

/// How often a long-running app asks the server for a new version (browsers check on their own
/// only when the app is opened, and a shift can last all day).
const UPDATE_CHECK_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// Registers the service worker if the browser supports it. Failures are logged, not fatal: the
/// app works online without a worker.
pub fn register() {
    let Some(container) = js_api::service_worker_container() else {
        log::warn!("this browser has no service worker support; the app will not work offline");
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let script = JsValue::from_str("/service-worker.js");
        let registered =
            js_api::call_async(&container, "serviceWorker.register", "register", &[script]).await;
        if let Err(error) = registered {
            log::warn!("service worker registration failed: {error}");
        }
    });
}

/// The app's registration, if a worker was registered for this page.
pub async fn registration() -> Option<ServiceWorkerRegistration> {
    let container = js_api::service_worker_container()?;
    let found = js_api::call_async(&container, "serviceWorker.getRegistration", "getRegistration", &[])
        .await
        .map_err(|error| log::warn!("{error}"))
        .ok()?;
    found.dyn_into::<ServiceWorkerRegistration>().ok()
}

/// The registration once a worker is active for this page; pending forever without one.
async fn ready_registration() -> Option<ServiceWorkerRegistration> {
    let ready = js_api::service_worker_container()?.ready().ok()?;
    JsFuture::from(ready).await.ok()?.dyn_into::<ServiceWorkerRegistration>().ok()
}

/// Watches for a new version of the app while it lives; dropping it stops watching.
pub struct UpdateWatch {
    _listeners: Rc<RefCell<Vec<EventListener>>>,
    _periodic_check: Rc<RefCell<Option<gloo_timers::callback::Interval>>>,
}

/// Calls `on_ready` when a new version has installed and waits to take over. A worker installed
/// on the very first visit is not an update (no page is controlled yet), so it does not count.
pub fn watch_for_update(on_ready: impl Fn() + 'static) -> UpdateWatch {
    let listeners = Rc::new(RefCell::new(Vec::new()));
    let periodic_check = Rc::new(RefCell::new(None));
    let watch = UpdateWatch { _listeners: listeners.clone(), _periodic_check: periodic_check.clone() };
    let on_ready: Rc<dyn Fn()> = Rc::new(on_ready);
    let listeners = Rc::downgrade(&listeners);
    let periodic_check = Rc::downgrade(&periodic_check);
    wasm_bindgen_futures::spawn_local(async move {
        // `ready`, not `getRegistration()`: on the first visit the app starts before its worker
        // is registered, and a lookup then finds nothing and would never watch (regression: the
        // first day's session never offered an update). Without a worker it never resolves.
        let Some(registration) = ready_registration().await else { return };
        if registration.waiting().is_some() && is_controlled() {
            on_ready();
        }
        if let Some(installing) = registration.installing() {
            follow_installing(&installing, on_ready.clone(), &listeners);
        }
        let (Some(listeners_now), Some(periodic_check)) = (listeners.upgrade(), periodic_check.upgrade())
        else {
            return; // the watch was dropped meanwhile
        };
        let watched = registration.clone();
        let inner_listeners = listeners.clone();
        listeners_now.borrow_mut().push(EventListener::new(&registration, "updatefound", move |_| {
            let Some(installing) = watched.installing() else { return };
            follow_installing(&installing, on_ready.clone(), &inner_listeners);
        }));
        let checked = registration.clone();
        *periodic_check.borrow_mut() =
            Some(gloo_timers::callback::Interval::new(UPDATE_CHECK_INTERVAL.as_millis() as u32, move || {
                if let Ok(promise) = checked.update() {
                    wasm_bindgen_futures::spawn_local(async move {
                        if let Err(error) = JsFuture::from(promise).await {
                            log::info!("could not check for a new version: {error:?}");
                        }
                    });
                }
            }));
    });
    watch
}

fn follow_installing(
    installing: &ServiceWorker,
    on_ready: Rc<dyn Fn()>,
    listeners: &Weak<RefCell<Vec<EventListener>>>,
) {
    let Some(listeners) = listeners.upgrade() else { return };
    let worker = installing.clone();
    listeners.borrow_mut().push(EventListener::new(installing, "statechange", move |_| {
        if worker.state() == ServiceWorkerState::Installed && is_controlled() {
            on_ready();
        }
    }));
}

fn is_controlled() -> bool {
    js_api::service_worker_container().is_some_and(|container| container.controller().is_some())
}

/// Switches to the waiting version: asks it to take over and reloads the page once it has.
/// Only ever called from the driver's tap, so the app never reloads by itself mid-shift.
pub fn switch_to_waiting_version() {
    wasm_bindgen_futures::spawn_local(async {
        let Some(registration) = registration().await else { return };
        let Some(waiting) = registration.waiting() else {
            log::warn!("no new version is waiting");
            return;
        };
        let Some(container) = js_api::service_worker_container() else { return };
        let reload = wasm_bindgen::closure::Closure::once_into_js(move || {
            if let Some(window) = web_sys::window() {
                let _ = window.location().reload();
            }
        });
        // The page reloads when the new worker controls it; the closure lives until then.
        let _ = container.add_event_listener_with_callback("controllerchange", reload.unchecked_ref());
        let message = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&message, &"type".into(), &"skip-waiting".into());
        if let Err(error) = waiting.post_message(&message) {
            log::error!("cannot ask the new version to take over: {error:?}");
        }
    });
}
