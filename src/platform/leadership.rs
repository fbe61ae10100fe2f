//! One tracking tab. The tab that holds the Web Lock `enroute-tracking` owns geolocation, the
//! outbox and the socket; other tabs of the app wait for the lock and show the leader's state
//! read-only. When the leader tab closes, the browser releases its lock and the next waiting
//! tab is granted it. Without Web Locks (Safari before 15.4, or a request that fails) a lease in
//! `localStorage` does the same job less strictly (`tab_lease.rs`); without that too, every tab
//! leads (and says so in the log).

use crate::platform::js_api;
use crate::platform::tab_lease::{self, TabLease};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The lock's name, shared by every tab of the app on this origin.
pub const LOCK_NAME: &str = "enroute-tracking";

type OnGranted = Rc<RefCell<Option<Box<dyn FnOnce()>>>>;

/// A request for leadership. Dropping it gives the lock up (or stops waiting for it).
pub struct LeadershipRequest {
    release: Rc<RefCell<Option<js_sys::Function>>>,
    abort: Option<web_sys::AbortController>,
    _on_granted: Option<Closure<dyn FnMut(JsValue) -> js_sys::Promise>>,
    _lease: Option<TabLease>,
}

/// Asks for the lock; `on_granted` runs once this tab holds it. Browsers without Web Locks use
/// the `localStorage` lease; without either, every tab leads at once.
pub fn request_leadership(on_granted: impl FnOnce() + 'static) -> LeadershipRequest {
    let on_granted: OnGranted = Rc::new(RefCell::new(Some(Box::new(on_granted))));
    let release: Rc<RefCell<Option<js_sys::Function>>> = Rc::default();
    let Some(locks) = js_api::navigator_property("locks") else {
        return without_web_locks(on_granted, "no Web Locks here");
    };
    let granted = on_granted.clone();
    let holder = release.clone();
    let callback = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |_lock: JsValue| {
        run_once(&granted);
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
    let arguments = [JsValue::from_str(LOCK_NAME), options.into(), callback.as_ref().clone()];
    match js_api::call(&locks, "navigator.locks.request", "request", &arguments) {
        Ok(promise) => {
            // Aborting a pending request rejects it: expected, not an error.
            if let Ok(promise) = promise.dyn_into::<js_sys::Promise>() {
                let ignore = Closure::<dyn FnMut(JsValue)>::new(|_| {});
                let _ = promise.catch(&ignore);
                ignore.forget();
            }
            LeadershipRequest { release, abort, _on_granted: Some(callback), _lease: None }
        }
        Err(error) => without_web_locks(on_granted, &error.to_string()),
    }
}

fn run_once(on_granted: &OnGranted) {
    let taken = on_granted.borrow_mut().take();
    if let Some(on_granted) = taken {
        on_granted();
    }
}

fn without_web_locks(on_granted: OnGranted, why: &str) -> LeadershipRequest {
    let release = Rc::default();
    if !tab_lease::available() {
        log::warn!("{why}, and no localStorage: this tab tracks without checking for other tabs");
        run_once(&on_granted);
        return LeadershipRequest { release, abort: None, _on_granted: None, _lease: None };
    }
    log::info!("{why}: tabs agree on the tracking tab through a lease in localStorage");
    let tab = format!("{:016x}", crate::platform::browser::random_seed());
    let lease = tab_lease::request(
        tab,
        move || run_once(&on_granted),
        || {
            // Two tabs must never run the outbox at once: start again as a follower. Every
            // record is durable before it is sent, so nothing is lost.
            log::error!("another tab took over tracking while this one was frozen: reloading");
            if let Some(window) = web_sys::window() {
                let _ = window.location().reload();
            }
        },
    );
    LeadershipRequest { release, abort: None, _on_granted: None, _lease: Some(lease) }
}

impl Drop for LeadershipRequest {
    fn drop(&mut self) {
        let release = self.release.borrow_mut().take();
        if let Some(resolve) = release {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        } else if let Some(abort) = &self.abort {
            abort.abort();
        }
    }
}
