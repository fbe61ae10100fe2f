//! Entry point of the app in the browser: panic hook, logging, service worker, mount.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    let _ = console_log::init_with_level(log::Level::Info);
    // The browser compiled and started the module in this task; the app mounts in the next one.
    // Two shorter tasks instead of one long one: a slow phone can paint in between, and the
    // first load blocks its main thread less (issue 15, total blocking time). The settings are
    // read in this one: the page's first use of localStorage is the slow part of reading them.
    let start_settings = enroute::platform::settings_storage::load_with_sign_in_link();
    leptos::prelude::set_timeout(
        move || {
            leptos::mount::mount_to_body(move || {
                enroute::app::App(enroute::app::AppProps { start_settings: Some(start_settings) })
            });
            enroute::platform::browser::remove_element("app-starting");
            enroute::platform::service_worker::register();
        },
        std::time::Duration::ZERO,
    );
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("Enroute runs in a browser: build it with `trunk build --release` (see README.md).");
    std::process::exit(2);
}
