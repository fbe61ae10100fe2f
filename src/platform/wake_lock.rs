//! Keeping the screen on while on duty (Screen Wake Lock API). Browsers release the lock when the
//! page is hidden, so it is requested again whenever the page becomes visible.

use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;
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
        let Some(wake_lock) = web_sys::window()
            .and_then(|window| js_sys::Reflect::get(&window.navigator(), &"wakeLock".into()).ok())
            .filter(|wake_lock| !wake_lock.is_undefined())
        else {
            return; // not supported: the driver keeps the screen on by hand
        };
        let request = js_sys::Reflect::get(&wake_lock, &"request".into())
            .ok()
            .and_then(|request| wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(request).ok())
            .and_then(|request| request.call1(&wake_lock, &"screen".into()).ok())
            .and_then(|promise| wasm_bindgen::JsCast::dyn_into::<js_sys::Promise>(promise).ok());
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
                Err(error) => log::info!("screen wake lock refused: {error:?}"),
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
    if let Some(release) = js_sys::Reflect::get(sentinel, &"release".into())
        .ok()
        .and_then(|release| wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(release).ok())
    {
        let _ = release.call0(sentinel);
    }
}

impl Drop for ScreenWakeLock {
    fn drop(&mut self) {
        self.release();
    }
}
