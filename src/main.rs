//! Entry point of the app in the browser: panic hook, logging, settings, service worker, mount.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    let _ = console_log::init_with_level(log::Level::Info);
    // The browser instantiated and started the module in this task; the app mounts in the next.
    // Two shorter tasks instead of one long one: a slow phone can paint in between, and the
    // first load blocks its main thread less (issue 15, total blocking time). The settings are
    // read in this one: the page's first use of localStorage is the slow part of reading them.
    let start_settings = enroute::platform::settings_storage::load_with_sign_in_link();
    enroute::platform::next_task::in_next_task(move || {
        // First: it only queues the registration, which then happens even if mounting fails.
        enroute::platform::service_worker::register();
        leptos::mount::mount_to_body(move || enroute::app::App(enroute::app::AppProps { start_settings }));
        enroute::platform::browser::remove_element("app-starting");
    });
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("Enroute runs in a browser: build it with `trunk build --release` (see README.md).");
    std::process::exit(2);
}
