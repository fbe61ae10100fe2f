//! One tracking tab where the browser has no Web Locks (Safari before 15.4, or the API removed):
//! a lease in `localStorage` that the leading tab renews every second and a half. Another tab
//! takes over only when the lease has run out (its leader closed or froze) or was given back.
//!
//! `localStorage` has no compare-and-swap, so a tab that writes the lease reads it back a moment
//! later and leads only if its own write is still there: two tabs opened within the same few
//! milliseconds settle on the later writer. This is weaker than a Web Lock (a leader frozen for
//! longer than the lease loses it while it still thinks it leads), which is why Web Locks come
//! first (`leadership.rs`) and this is only the fallback.

use crate::platform::event_listener::EventListener;
use gloo_timers::callback::{Interval, Timeout};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;

/// The lease's key in `localStorage`, shared by every tab of the app on this origin.
pub const LEASE_KEY: &str = "enroute.tracking-lease";

/// How long a lease lasts without renewal.
const LEASE_MS: f64 = 5_000.0;

/// How often the leader renews and the others look.
const RENEW_MS: u32 = 1_500;

/// How long a writer waits before reading its write back.
const SETTLE_MS: u32 = 60;

#[derive(Serialize, Deserialize)]
struct Lease {
    tab: String,
    until_ms: f64,
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn read(storage: &web_sys::Storage) -> Option<Lease> {
    storage.get_item(LEASE_KEY).ok().flatten().and_then(|text| serde_json::from_str(&text).ok())
}

fn write(storage: &web_sys::Storage, tab: &str) -> bool {
    let lease = Lease { tab: tab.to_string(), until_ms: js_sys::Date::now() + LEASE_MS };
    let Ok(text) = serde_json::to_string(&lease) else { return false };
    storage.set_item(LEASE_KEY, &text).is_ok()
}

/// A tab's place in the lease: waiting for it, or holding it. Dropping it gives the lease back.
pub struct TabLease {
    tab: String,
    _timer: Rc<RefCell<Option<Interval>>>,
    _settle: Rc<RefCell<Option<Timeout>>>,
    _on_page_hide: Option<EventListener>,
}

/// Whether leases can work here at all (`localStorage` readable and writable).
pub fn available() -> bool {
    local_storage().is_some_and(|storage| storage.set_item("enroute.lease-probe", "1").is_ok())
}

/// Waits for the lease; `on_granted` runs once this tab holds it, and the tab then renews it
/// until the returned value is dropped. `on_lost` runs if another tab took the lease over
/// meanwhile (this tab was frozen for longer than the lease lasts).
pub fn request(tab: String, on_granted: impl FnOnce() + 'static, on_lost: impl Fn() + 'static) -> TabLease {
    let timer: Rc<RefCell<Option<Interval>>> = Rc::default();
    let settle: Rc<RefCell<Option<Timeout>>> = Rc::default();
    let granted = Rc::new(RefCell::new(Some(Box::new(on_granted) as Box<dyn FnOnce()>)));
    let leading = Rc::new(RefCell::new(false));
    let attempt = {
        let tab = tab.clone();
        let settle = settle.clone();
        move || {
            let Some(storage) = local_storage() else { return };
            if *leading.borrow() {
                let taken = read(&storage)
                    .is_some_and(|lease| lease.tab != tab && lease.until_ms >= js_sys::Date::now());
                if taken {
                    *leading.borrow_mut() = false;
                    on_lost();
                } else {
                    write(&storage, &tab);
                }
                return;
            }
            let free =
                read(&storage).is_none_or(|lease| lease.tab == tab || lease.until_ms < js_sys::Date::now());
            if !free || settle.borrow().is_some() || !write(&storage, &tab) {
                return;
            }
            let tab = tab.clone();
            let leading = leading.clone();
            let granted = granted.clone();
            let settle_slot = settle.clone();
            *settle.borrow_mut() = Some(Timeout::new(SETTLE_MS, move || {
                settle_slot.borrow_mut().take();
                let still_ours =
                    local_storage().and_then(|storage| read(&storage)).is_some_and(|lease| lease.tab == tab);
                if still_ours {
                    *leading.borrow_mut() = true;
                    if let Some(on_granted) = granted.borrow_mut().take() {
                        on_granted();
                    }
                }
            }));
        }
    };
    attempt();
    *timer.borrow_mut() = Some(Interval::new(RENEW_MS, attempt));
    // A page that goes away gives the lease back, so a reload leads at once instead of waiting
    // for the lease to run out. (Restored from the back-forward cache, it renews or, if another
    // tab took over meanwhile, finds out at the next renewal.)
    let leaving = tab.clone();
    let on_page_hide =
        web_sys::window().map(|window| EventListener::new(&window, "pagehide", move |_| give_back(&leaving)));
    TabLease { tab, _timer: timer, _settle: settle, _on_page_hide: on_page_hide }
}

fn give_back(tab: &str) {
    if let Some(storage) = local_storage()
        && read(&storage).is_some_and(|lease| lease.tab == tab)
    {
        let _ = storage.remove_item(LEASE_KEY);
    }
}

impl Drop for TabLease {
    fn drop(&mut self) {
        // Give the lease back at once, so the next tab need not wait for it to run out.
        give_back(&self.tab);
    }
}
