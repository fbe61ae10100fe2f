//! What the browser test files share: the test server's address, waiting, and a fresh element
//! to mount into at a given URL.

#![allow(dead_code)] // each test file uses part of it

use enroute::platform::event_listener::EventListener;
use std::cell::Cell;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(label: &str, value: &JsValue);
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error_text(text: &str);
}

/// The mock server's WebSocket URL, which `scripts/test` passes at build time.
pub fn test_server_url() -> &'static str {
    match option_env!("ENROUTE_TEST_SERVER") {
        Some(url) => url,
        // A failure, not a skip: a browser run without the server would test nothing.
        None => panic!(
            "ENROUTE_TEST_SERVER must name the mock server's WebSocket URL; run the tests with scripts/test"
        ),
    }
}

pub async fn sleep(milliseconds: u64) {
    gloo_timers::future::sleep(Duration::from_millis(milliseconds)).await;
}

/// Polls `condition` for up to 20 s (CI machines are slow and busy); `what` names it on failure.
pub async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..1000 {
        if condition() {
            return;
        }
        sleep(20).await;
    }
    // Also outside the panic machinery: a panic that cannot run its hook aborts without a word.
    console_error_text(&format!("wait_until gave up: {what}"));
    panic!("{what}: not within 20 s");
}

/// Writes what is thrown in the page's other tasks (the app's timers, events and futures) to
/// the console, which the runner prints when a test fails. The runner itself reports only what
/// the test's own poll throws, so a trap elsewhere would show only as a test waiting in vain
/// (added after a WebKit run trapped once with no panic message). Once per page.
pub fn report_uncaught_errors() {
    thread_local! { static INSTALLED: Cell<bool> = const { Cell::new(false) }; }
    if INSTALLED.with(|installed| installed.replace(true)) {
        return;
    }
    let window = web_sys::window().unwrap();
    for (event_name, field) in [("error", "error"), ("unhandledrejection", "reason")] {
        let listener = EventListener::new(window.as_ref(), event_name, move |event: web_sys::Event| {
            let thrown = js_sys::Reflect::get(&event, &field.into()).unwrap_or(JsValue::UNDEFINED);
            let stack = js_sys::Reflect::get(&thrown, &"stack".into())
                .ok()
                .filter(|stack| !stack.is_undefined())
                .unwrap_or(thrown);
            console_error(&format!("thrown in another task ({event_name}):"), &stack);
        });
        std::mem::forget(listener); // for the page's life, like the runner's own hooks
    }
}

/// Moves the page to `path` (without loading it) and returns a new element in the body to
/// mount a component into.
pub fn fresh_root_at(path: &str) -> web_sys::HtmlElement {
    let window = web_sys::window().unwrap();
    window.history().unwrap().replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path)).unwrap();
    let document = window.document().unwrap();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    root
}
