//! Hooks for benchmarks and manual debugging, active only when the page URL has `?debug`:
//! `window.enrouteDebug.makeRecords(n)` makes `n` duty changes through the normal intent path,
//! `window.enrouteDebug.storeLatencies()` returns how long each record took from the driver's
//! action to being durable in IndexedDB (ms), `window.enrouteDebug.seenFixes()` returns the
//! positions the tracker was given (JSON), `window.enrouteDebug.replayEvents()` reconnects asking
//! the server for every event again (to test that duplicates change nothing), and
//! `?debug&batch=1` sends one record per frame and waits for each ack (the naive baseline the
//! benchmarks compare against). `?debug&positions=test` replaces the Geolocation API with
//! `window.enrouteDebug.setPosition(lat, lon, accuracy_m)`, for engines whose tests cannot
//! emulate positions (WebKitGTK; see `geolocation.rs`).

use crate::state::{Intent, Intents};
use enroute_core::EngineConfig;
use std::cell::RefCell;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

thread_local! {
    static STORE_LATENCIES_MS: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
    static SEEN_FIXES: RefCell<Vec<enroute_core::Fix>> = const { RefCell::new(Vec::new()) };
}

fn query() -> String {
    web_sys::window().and_then(|window| window.location().search().ok()).unwrap_or_default()
}

/// Whether the page was opened with `?debug`.
pub fn is_enabled() -> bool {
    query().trim_start_matches('?').split('&').any(|pair| pair == "debug")
}

fn has_pair(wanted: &str) -> bool {
    query().trim_start_matches('?').split('&').any(|pair| pair == wanted)
}

/// Applies `batch=1` from the URL: one record per frame, one frame in flight.
pub fn adjust_config(config: &mut EngineConfig) {
    if is_enabled() && query().trim_start_matches('?').split('&').any(|pair| pair == "batch=1") {
        config.outbox.batch_max_records = 1;
        config.outbox.max_frames_in_flight = 1;
    }
}

/// Notes that a record took `milliseconds` to become durable.
pub fn note_store_latency(milliseconds: f64) {
    STORE_LATENCIES_MS.with(|latencies| latencies.borrow_mut().push(milliseconds));
}

/// Notes a position handed to the tracker (kept only when debugging).
pub fn note_fix(fix: &enroute_core::Fix) {
    if is_enabled() {
        SEEN_FIXES.with(|fixes| fixes.borrow_mut().push(*fix));
    }
}

/// Installs `window.enrouteDebug` if debugging is enabled.
pub fn install(intents: Intents) {
    if !is_enabled() {
        return;
    }
    let Some(window) = web_sys::window() else { return };
    let bridge = js_sys::Object::new();
    if has_pair("positions=test") {
        crate::platform::geolocation::use_test_positions();
        log::info!("positions come from window.enrouteDebug.setPosition, not the Geolocation API");
    }
    let set_position = Closure::<dyn Fn(f64, f64, f64)>::new(|lat: f64, lon: f64, accuracy_m: f64| {
        let fix = enroute_core::Fix {
            time_ms: js_sys::Date::now() as i64,
            lat,
            lon,
            accuracy_m,
            speed_mps: None,
            heading_deg: None,
            altitude_m: None,
        };
        crate::platform::geolocation::feed_test_position(crate::platform::geolocation::PositionEvent::Fix(
            fix,
        ));
    });
    let make_records = Closure::<dyn Fn(u32)>::new(move |count: u32| {
        for index in 0..count {
            intents.send(Intent::SetDuty(index % 2 == 0));
        }
    });
    let store_latencies = Closure::<dyn Fn() -> js_sys::Array>::new(|| {
        STORE_LATENCIES_MS
            .with(|latencies| latencies.borrow().iter().map(|value| JsValue::from_f64(*value)).collect())
    });
    let clear =
        Closure::<dyn Fn()>::new(|| STORE_LATENCIES_MS.with(|latencies| latencies.borrow_mut().clear()));
    let replay_events = Closure::<dyn Fn()>::new(move || intents.send(Intent::ReplayEventsForTest));
    let seen_fixes = Closure::<dyn Fn() -> String>::new(|| {
        SEEN_FIXES.with(|fixes| serde_json::to_string(&*fixes.borrow()).unwrap_or_else(|_| "[]".into()))
    });
    let _ = js_sys::Reflect::set(&bridge, &"makeRecords".into(), make_records.as_ref().unchecked_ref());
    let _ = js_sys::Reflect::set(&bridge, &"storeLatencies".into(), store_latencies.as_ref().unchecked_ref());
    let _ = js_sys::Reflect::set(&bridge, &"clearStoreLatencies".into(), clear.as_ref().unchecked_ref());
    let _ = js_sys::Reflect::set(&bridge, &"seenFixes".into(), seen_fixes.as_ref().unchecked_ref());
    let _ = js_sys::Reflect::set(&bridge, &"replayEvents".into(), replay_events.as_ref().unchecked_ref());
    let _ = js_sys::Reflect::set(&bridge, &"setPosition".into(), set_position.as_ref().unchecked_ref());
    let _ = js_sys::Reflect::set(&window, &"enrouteDebug".into(), &bridge);
    // The bridge lives as long as the page.
    make_records.forget();
    store_latencies.forget();
    clear.forget();
    seen_fixes.forget();
    replay_events.forget();
    set_position.forget();
    log::info!("debug bridge installed: window.enrouteDebug");
}
