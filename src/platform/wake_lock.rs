//! Keeping the screen on while on duty (Screen Wake Lock API). Browsers release the lock when the
//! page is hidden, so it is requested again whenever the page becomes visible.

use crate::platform::js_api;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Holds the screen awake while wanted. Dropping it releases the lock.
#[derive(Default)]
pub struct ScreenWakeLock {
    sentinel: Rc<RefCell<Option<JsValue>>>,
    wanted: Rc<RefCell<bool>>,
    /// A request is under way, or was refused since the lock was last wanted afresh: do not ask
    /// again until it is (the browser refuses while the page is hidden or not allowed).
    asked: Rc<RefCell<bool>>,
}

impl ScreenWakeLock {
    pub fn new() -> ScreenWakeLock {
        ScreenWakeLock::default()
    }

    /// Asks for the lock if `wanted` and not held (again after the page was hidden), or
    /// releases it if not wanted. A refused request is not repeated until the lock is wanted
    /// afresh (after being unwanted, e.g. the page hidden and shown again).
    pub fn set_wanted(&self, wanted: bool) {
        *self.wanted.borrow_mut() = wanted;
        if !wanted {
            *self.asked.borrow_mut() = false;
            self.release();
            return;
        }
        let held = self.sentinel.borrow().as_ref().is_some_and(|sentinel| {
            !js_sys::Reflect::get(sentinel, &"released".into())
                .ok()
                .and_then(|released| released.as_bool())
                .unwrap_or(true)
        });
        if held || *self.asked.borrow() {
            return;
        }
        let Some(wake_lock) = js_api::navigator_property("wakeLock") else {
            return; // not supported: the duty screen asks the driver to keep the screen on
        };
        let request =
            match js_api::call(&wake_lock, "navigator.wakeLock.request", "request", &["screen".into()]) {
                Ok(promise) => promise.dyn_into::<js_sys::Promise>().ok(),
                Err(error) => {
                    log::info!("screen wake lock refused: {error}");
                    None
                }
            };
        let Some(promise) = request else { return };
        *self.asked.borrow_mut() = true;
        let asked = self.asked.clone();
        let sentinel = self.sentinel.clone();
        let still_wanted = self.wanted.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match JsFuture::from(promise).await {
                Ok(lock) => {
                    // Held until the browser releases it (page hidden); then it may be asked again.
                    *asked.borrow_mut() = false;
                    if *still_wanted.borrow() {
                        *sentinel.borrow_mut() = Some(lock);
                    } else {
                        release(&lock);
                    }
                }
                Err(error) => log::info!("screen wake lock refused: {}", js_api::describe(&error)),
            }
        });
    }

    fn release(&self) {
        if let Some(sentinel) = self.sentinel.borrow_mut().take() {
            release(&sentinel);
        }
    }
}

fn release(sentinel: &JsValue) {
    if let Err(error) = js_api::call(sentinel, "WakeLockSentinel.release", "release", &[]) {
        log::info!("{error}");
    }
}

/// Whether this browser can keep the screen on for the app (Safari since 16.4, not Firefox ESR
/// before 126).
pub fn supported() -> bool {
    js_api::navigator_property("wakeLock").is_some()
}

impl Drop for ScreenWakeLock {
    fn drop(&mut self) {
        self.release();
    }
}
