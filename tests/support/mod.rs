//! What the browser test files share: the test server's address, waiting, and a fresh element
//! to mount into at a given URL.

#![allow(dead_code)] // each test file uses part of it

use std::time::Duration;
use wasm_bindgen::JsCast;

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
    panic!("{what}: not within 20 s");
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
