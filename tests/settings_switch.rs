//! Saving settings, with the whole `App` mounted against the test server (issue: no silent loss
//! at the edges, items 7 and 8):
//!
//! - switching to another driver must not send the first driver's records as the second's,
//!   carry its last event id, or leave its jobs on screen: each (server, driver) pair has device
//!   state of its own, and the first driver's records still go, as that driver;
//! - saving a new location policy for the same driver must not drop the running engine (the
//!   records queued behind a write were lost).
//!
//! `scripts/test` registers `browser-switch-a`, `browser-switch-b` and `browser-policy`, and
//! offers `browser-switch-a` the job `browser-switch-a-job`. What the server holds is read with
//! a `hello` of our own: its `welcome` says how many of a driver's records it has.

#![cfg(target_arch = "wasm32")]

use enroute::app::App;
use enroute::platform::settings_storage;
use enroute::platform::websocket::{Socket, SocketEvent};
use enroute_protocol::{ClientMessage, Hello, PROTOCOL_VERSION, ServerMessage};
use futures::StreamExt;
use futures::channel::mpsc;
use leptos::mount::mount_to;
use leptos::prelude::*;
use leptos::task::tick;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

mod support;
use support::*;

wasm_bindgen_test_configure!(run_in_browser);

fn local_storage() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

/// A fresh device signed in as `driver_id`: no registry of databases, no saved settings.
fn fresh_device_signed_in_as(driver_id: &str) {
    let storage = local_storage();
    storage.remove_item("enroute.device-databases").unwrap();
    let settings = serde_json::json!({
        "driver_id": driver_id,
        "token": format!("{driver_id}-token"),
        "server_url": test_server_url(),
    });
    storage.set_item("enroute.settings", &settings.to_string()).unwrap();
}

/// The whole app, mounted as `main.rs` mounts it (without the service worker).
struct MountedApp {
    root: web_sys::HtmlElement,
    owner: Owner,
    handle: Option<leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>>,
}

impl MountedApp {
    fn mount(path: &str) -> MountedApp {
        let root = fresh_root_at(path);
        let owner = Owner::new();
        let handle = owner.with(|| {
            mount_to(root.clone(), || {
                view! { <App start_settings=settings_storage::load_with_sign_in_link() /> }.into_any()
            })
        });
        MountedApp { root, owner, handle: Some(handle) }
    }

    fn text(&self, selector: &str) -> String {
        self.root
            .query_selector(selector)
            .unwrap()
            .and_then(|element| element.text_content())
            .unwrap_or_default()
    }

    fn element(&self, selector: &str) -> web_sys::HtmlElement {
        self.root
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("nothing matches {selector} in {}", self.root.inner_html()))
            .unchecked_into()
    }

    fn link(&self, text: &str) -> web_sys::HtmlElement {
        let links = self.root.query_selector_all("a").unwrap();
        (0..links.length())
            .filter_map(|index| links.item(index))
            .map(|node| node.unchecked_into::<web_sys::HtmlElement>())
            .find(|link| link.text_content().as_deref() == Some(text))
            .unwrap_or_else(|| panic!("no link {text:?}"))
    }

    fn waiting(&self) -> usize {
        self.element("[data-testid=waiting]").get_attribute("data-waiting").unwrap().parse().unwrap()
    }

    async fn online(&self) {
        wait_until("Online", || self.text("[data-testid=connection]").contains("Online")).await;
    }

    /// Types into the settings form and saves it (the driver's own way of switching).
    async fn save_settings(&self, driver_id: &str, token: &str) {
        self.link("Settings").click();
        wait_until("the settings page", || self.text("h1") == "Settings").await;
        for (selector, value) in [("#driver-id", driver_id), ("#token", token)] {
            let input: web_sys::HtmlInputElement = self.element(selector).unchecked_into();
            input.set_value(value);
            input.dispatch_event(&web_sys::Event::new("input").unwrap()).unwrap();
        }
        self.element("button[type=submit]").click();
        tick().await;
    }
}

impl Drop for MountedApp {
    fn drop(&mut self) {
        drop(self.handle.take());
        self.owner.cleanup();
        self.root.remove();
    }
}

fn browser_event(name: &str) {
    web_sys::window().unwrap().dispatch_event(&web_sys::Event::new(name).unwrap()).unwrap();
}

/// How many of `driver_id`'s records the server holds, from its `welcome` to a `hello` of ours.
async fn records_held_for(driver_id: &str) -> u64 {
    let (events, mut received) = mpsc::unbounded();
    let socket = Socket::open(test_server_url(), move |event| {
        let _ = events.unbounded_send(event);
    });
    assert_eq!(received.next().await, Some(SocketEvent::Opened));
    socket.send(
        ClientMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            max_protocol: None,
            driver_id: driver_id.into(),
            token: Some(format!("{driver_id}-token")),
            app_version: "browser-test".into(),
            last_event_id: 0,
        })
        .encode(),
    );
    loop {
        match received.next().await {
            Some(SocketEvent::Frame(text)) => {
                if let Ok(ServerMessage::Welcome(welcome)) = ServerMessage::decode(&text) {
                    return welcome.acked_seq;
                }
            }
            other => panic!("no welcome for {driver_id}: {other:?}"),
        }
    }
}

async fn delete_databases() {
    for name in ["enroute", "enroute:browser-switch-b@", "enroute:browser-policy@"] {
        let full =
            if name.ends_with('@') { format!("{name}{}", test_server_url()) } else { name.to_string() };
        let _ = rexie::Rexie::delete(&full).await;
    }
    local_storage().remove_item("enroute.device-databases").unwrap();
    local_storage().remove_item("enroute.settings").unwrap();
}

/// Regression (issue: changing the driver mixed two drivers' data): driver A's unsent records
/// went up as driver B's, B's hello carried A's last event id, and A's jobs stayed on screen.
#[wasm_bindgen_test]
async fn regression_switching_drivers_sends_each_drivers_records_as_that_driver() {
    console_error_panic_hook::set_once();
    report_uncaught_errors();
    let _ = console_log::init_with_level(log::Level::Info);
    delete_databases().await;
    // No position questions in a test page: the tracker records nothing but duty changes.
    enroute::platform::geolocation::use_test_positions();
    // (Counted before and after: the test server may have served an earlier run.)
    let held_before =
        (records_held_for("browser-switch-a").await, records_held_for("browser-switch-b").await);
    fresh_device_signed_in_as("browser-switch-a");
    let app = MountedApp::mount("/");
    app.online().await;
    app.link("Jobs").click();
    wait_until("A's job", || app.root.query_selector("[data-job=browser-switch-a-job]").unwrap().is_some())
        .await;
    app.link("Duty").click();
    wait_until("the duty page", || app.text("h1") == "Duty").await;

    // A goes on duty without a network: the records wait on the phone.
    browser_event("offline");
    wait_until("offline", || app.text("[data-testid=connection]").starts_with("Offline")).await;
    app.element("[data-testid=duty-toggle]").click();
    wait_until("A's records waiting", || app.waiting() >= 1).await;

    // B signs in on this phone, still without a network.
    app.save_settings("browser-switch-b", "browser-switch-b-token").await;
    wait_until("B's empty outbox", || app.waiting() == 0).await;
    app.link("Jobs").click();
    wait_until("the jobs page", || app.text("h1") == "Jobs").await;
    assert!(
        app.root.query_selector("[data-job=browser-switch-a-job]").unwrap().is_none(),
        "A's job is not B's"
    );

    // The network returns: A's records go up as A's, B has sent nothing.
    browser_event("online");
    app.online().await;
    app.link("Settings").click();
    wait_until("A's records sent", || {
        app.root
            .query_selector("[data-testid=other-driver][data-driver=browser-switch-a]")
            .unwrap()
            .is_some_and(|element| element.text_content().unwrap_or_default().contains("every record sent"))
    })
    .await;
    assert_eq!(
        records_held_for("browser-switch-a").await - held_before.0,
        2,
        "A's on duty and A's end of duty, as A's"
    );
    assert_eq!(
        records_held_for("browser-switch-b").await - held_before.1,
        0,
        "nothing of A's went up as B's"
    );
    drop(app);
    delete_databases().await;
}

/// Regression (issue: saving settings dropped the running engine without draining it): a new
/// location policy for the same driver restarted the engine, and the records queued behind the
/// write in flight were lost.
#[wasm_bindgen_test]
async fn regression_saving_a_new_policy_loses_no_record_queued_behind_a_write() {
    console_error_panic_hook::set_once();
    report_uncaught_errors();
    let _ = console_log::init_with_level(log::Level::Info);
    delete_databases().await;
    enroute::platform::geolocation::use_test_positions();
    let held_before = records_held_for("browser-policy").await;
    fresh_device_signed_in_as("browser-policy");
    let app = MountedApp::mount("/?debug");
    app.online().await;
    app.link("Settings").click();
    wait_until("the settings page", || app.text("h1") == "Settings").await;
    // Fifty duty changes in two bursts (through the debug bridge, as the benchmarks make them):
    // the second while the first one's write is in flight, so it queues behind it; and at once
    // a new policy (the form's "Send at least every").
    let heartbeat: web_sys::HtmlInputElement = app.element("#heartbeat").unchecked_into();
    heartbeat.set_value("60");
    heartbeat.dispatch_event(&web_sys::Event::new("input").unwrap()).unwrap();
    let bridge = js_sys::Reflect::get(&web_sys::window().unwrap(), &"enrouteDebug".into()).unwrap();
    let make_records: js_sys::Function =
        js_sys::Reflect::get(&bridge, &"makeRecords".into()).unwrap().unchecked_into();
    // (Each burst alternates on and off duty starting with "on": 26 changes end off duty, so the
    // next burst's first is a change too.)
    make_records.call1(&bridge, &26.into()).unwrap();
    sleep(0).await; // the driver takes the first burst and starts writing it
    make_records.call1(&bridge, &24.into()).unwrap();
    app.element("button[type=submit]").click();
    tick().await;
    wait_until("everything sent", || {
        app.waiting() == 0 && app.text("[data-testid=connection]").contains("Online")
    })
    .await;
    sleep(500).await;
    assert_eq!(app.waiting(), 0);
    assert_eq!(
        records_held_for("browser-policy").await - held_before,
        50,
        "every duty change reached the server"
    );
    drop(app);
    delete_databases().await;
}
