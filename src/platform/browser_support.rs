//! Detects what this browser offers (see `enroute_core::BrowserSupport` for what it means to the
//! driver, and `docs/browsers.md` for each engine). Detection only looks: it never calls an API.

use crate::platform::js_api;
use enroute_core::BrowserSupport;

/// The features of the browser the app runs in, as they are now.
pub fn detect() -> BrowserSupport {
    let navigator = js_api::navigator();
    let navigator_has = |name: &str| js_api::navigator_property(name).is_some();
    let user_agent = navigator.as_ref().and_then(|navigator| navigator.user_agent().ok()).unwrap_or_default();
    // iPadOS Safari presents itself as a Mac; a Mac has no touch screen.
    let touch_mac = navigator.as_ref().is_some_and(|navigator| {
        navigator.platform().is_ok_and(|platform| platform == "MacIntel") && navigator.max_touch_points() > 1
    });
    let apple_mobile =
        ["iPhone", "iPad", "iPod"].iter().any(|device| user_agent.contains(device)) || touch_mac;
    BrowserSupport {
        wake_lock: navigator_has("wakeLock"),
        vibration: navigator.as_ref().is_some_and(|navigator| {
            js_api::property(navigator.as_ref(), "vibrate").is_some_and(|vibrate| vibrate.is_function())
        }),
        background_sync: js_api::global("SyncManager").is_some(),
        notifications: js_api::global("Notification").is_some(),
        web_locks: navigator_has("locks"),
        service_worker: navigator_has("serviceWorker"),
        apple_mobile,
        installed: is_installed(),
    }
}

/// Whether the app runs from the Home Screen / as an installed app, not in a browser tab.
fn is_installed() -> bool {
    let Some(window) = web_sys::window() else { return false };
    let standalone_display =
        js_api::call(&window, "matchMedia", "matchMedia", &["(display-mode: standalone)".into()])
            .ok()
            .and_then(|list| js_api::property(&list, "matches"))
            .and_then(|matches| matches.as_bool())
            .unwrap_or(false);
    // Safari on iOS says so through its own flag.
    let ios_standalone =
        js_api::navigator_property("standalone").and_then(|flag| flag.as_bool()).unwrap_or(false);
    standalone_display || ios_standalone
}
