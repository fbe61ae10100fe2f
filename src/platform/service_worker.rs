//! Registers `service-worker.js`. Called from `main` only, never from tests: a worker registered
//! inside a browser test would outlive it and serve stale files to the next one.

/// Registers the service worker if the browser supports it. Failures are logged, not fatal: the
/// app works online without a worker.
pub fn register() {
    let Some(window) = web_sys::window() else { return };
    let navigator = window.navigator();
    let has_service_worker = js_sys::Reflect::has(&navigator, &"serviceWorker".into()).unwrap_or(false);
    if !has_service_worker {
        log::warn!("this browser has no service worker support; the app will not work offline");
        return;
    }
    let promise = navigator.service_worker().register("/service-worker.js");
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(error) = wasm_bindgen_futures::JsFuture::from(promise).await {
            log::warn!("service worker registration failed: {error:?}");
        }
    });
}
