//! One tracking tab. The tab that holds the Web Lock `enroute-tracking` owns geolocation, the
//! outbox and the socket; other tabs of the app wait for the lock and show the leader's state
//! read-only. When the leader tab closes, the browser releases its lock and the next waiting
//! tab is granted it.

use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The lock's name, shared by every tab of the app on this origin.
pub const LOCK_NAME: &str = "enroute-tracking";

/// A request for leadership. Dropping it gives the lock up (or stops waiting for it).
pub struct LeadershipRequest {
    release: Rc<RefCell<Option<js_sys::Function>>>,
    abort: Option<web_sys::AbortController>,
    _on_granted: Option<Closure<dyn FnMut(JsValue) -> js_sys::Promise>>,
}

/// Asks for the lock; `on_granted` runs once this tab holds it. Browsers without Web Locks
/// (and pages that are not a secure context) make every tab a leader at once.
pub fn request_leadership(on_granted: impl FnOnce() + 'static) -> LeadershipRequest {
    let release: Rc<RefCell<Option<js_sys::Function>>> = Rc::default();
    let Some(locks) = web_sys::window()
        .map(|window| {
            js_sys::Reflect::get(&window.navigator(), &"locks".into()).unwrap_or(JsValue::UNDEFINED)
        })
        .filter(|locks| !locks.is_undefined() && !locks.is_null())
    else {
        log::warn!("Web Locks are unavailable: this tab tracks without checking for other tabs");
        on_granted();
        return LeadershipRequest { release, abort: None, _on_granted: None };
    };
    let mut on_granted = Some(on_granted);
    let holder = release.clone();
    let callback = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |_lock: JsValue| {
        if let Some(on_granted) = on_granted.take() {
            on_granted();
        }
        // The lock is held until this promise resolves: when the request is dropped, or never.
        let holder = holder.clone();
        js_sys::Promise::new(&mut |resolve, _reject| {
            *holder.borrow_mut() = Some(resolve);
        })
    });
    let abort = web_sys::AbortController::new().ok();
    let options = js_sys::Object::new();
    if let Some(abort) = &abort {
        let _ = js_sys::Reflect::set(&options, &"signal".into(), &abort.signal());
    }
    let request = js_sys::Reflect::get(&locks, &"request".into())
        .ok()
        .and_then(|request| request.dyn_into::<js_sys::Function>().ok());
    match request
        .map(|request| request.call3(&locks, &LOCK_NAME.into(), &options, callback.as_ref().unchecked_ref()))
    {
        Some(Ok(promise)) => {
            // Aborting a pending request rejects it: expected, not an error.
            if let Ok(promise) = promise.dyn_into::<js_sys::Promise>() {
                let ignore = Closure::<dyn FnMut(JsValue)>::new(|_| {});
                let _ = promise.catch(&ignore);
                ignore.forget();
            }
        }
        other => log::error!("cannot request the tracking lock: {other:?}"),
    }
    LeadershipRequest { release, abort, _on_granted: Some(callback) }
}

impl Drop for LeadershipRequest {
    fn drop(&mut self) {
        if let Some(resolve) = self.release.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        } else if let Some(abort) = &self.abort {
            abort.abort();
        }
    }
}
