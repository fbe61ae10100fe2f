//! Entry point of the app in the browser: panic hook, logging, service worker, mount.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    let _ = console_log::init_with_level(log::Level::Info);
    enroute::platform::service_worker::register();
    leptos::mount::mount_to_body(enroute::app::App);
    enroute::platform::browser::remove_element("app-starting");
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("Enroute runs in a browser: build it with `trunk build --release` (see README.md).");
    std::process::exit(2);
}
