//! Browser tests, run in headless Chromium by `wasm-pack test --headless --chrome`.
//!
//! `ENROUTE_TEST_SERVER` (set by scripts/test at compile time) is the WebSocket URL of a mock
//! server started for these tests.

#![cfg(target_arch = "wasm32")]

use enroute::app::AppShell;
use enroute::platform::sync_driver::{SyncDriver, SyncDriverOptions};
use enroute::platform::websocket::{Socket, SocketEvent};
use enroute::platform::{browser, database};
use enroute::state::SyncState;
use enroute_core::{ConnectionConfig, DeviceIdentity, Instant, LinkStatus, Settings};
use enroute_protocol::{ClientMessage, Hello, PROTOCOL_VERSION, ServerMessage};
use futures::StreamExt;
use futures::channel::mpsc;
use leptos::mount::mount_to;
use leptos::prelude::*;
use leptos::task::tick;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn test_server_url() -> &'static str {
    match option_env!("ENROUTE_TEST_SERVER") {
        Some(url) => url,
        // A failure, not a skip: a browser run without the server would test nothing.
        None => panic!(
            "ENROUTE_TEST_SERVER must name the mock server's WebSocket URL; run the tests with scripts/test"
        ),
    }
}

/// The shell mounted at `path` in a fresh element. Dropping it unmounts the view and disposes
/// its reactive owner, which removes the router's window listeners: a router left behind
/// would swallow the next test's link clicks.
struct MountedShell {
    root: web_sys::HtmlElement,
    owner: Owner,
    handle: Option<leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>>,
}

impl MountedShell {
    fn new(path: &str, state: SyncState, settings: RwSignal<Settings>) -> MountedShell {
        let window = web_sys::window().unwrap();
        window
            .history()
            .unwrap()
            .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path))
            .unwrap();
        let document = window.document().unwrap();
        let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
        document.body().unwrap().append_child(&root).unwrap();
        let owner = Owner::new();
        let handle =
            owner.with(|| mount_to(root.clone(), move || view! { <AppShell state settings /> }.into_any()));
        MountedShell { root, owner, handle: Some(handle) }
    }
}

impl Drop for MountedShell {
    fn drop(&mut self) {
        drop(self.handle.take());
        self.owner.cleanup();
        self.root.remove();
    }
}

fn find(root: &web_sys::HtmlElement, selector: &str) -> web_sys::HtmlElement {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("nothing matches {selector} in {}", root.inner_html()))
        .unchecked_into()
}

fn link_with_text(root: &web_sys::HtmlElement, text: &str) -> web_sys::HtmlElement {
    let links = root.query_selector_all("a").unwrap();
    (0..links.length())
        .filter_map(|index| links.item(index))
        .map(|node| node.unchecked_into::<web_sys::HtmlElement>())
        .find(|link| link.text_content().as_deref() == Some(text))
        .unwrap_or_else(|| panic!("no link {text:?} in {}", root.inner_html()))
}

async fn sleep(milliseconds: u64) {
    gloo_timers::future::sleep(Duration::from_millis(milliseconds)).await;
}

/// Waits until the page's heading reads `expected`: navigation finishes asynchronously.
async fn wait_for_heading(root: &web_sys::HtmlElement, expected: &str) {
    for _ in 0..100 {
        tick().await;
        if root.query_selector("h1").unwrap().and_then(|heading| heading.text_content()).as_deref()
            == Some(expected)
        {
            return;
        }
        sleep(10).await;
    }
    panic!("heading never became {expected:?}: {}", root.inner_html());
}

#[wasm_bindgen_test]
async fn shell_shows_the_connection_state_it_is_given() {
    let state = SyncState::showing(&LinkStatus::Online, Instant::default());
    let shell = MountedShell::new("/", state, RwSignal::new(Settings::default()));
    let root = &shell.root;
    tick().await;
    let indicator = find(root, "[data-testid=connection]");
    assert!(indicator.text_content().unwrap().contains("Online"));
    assert!(indicator.class_name().contains("connection--good"));

    state.link.set(enroute_core::summarize_link(
        &LinkStatus::Waiting { retry_at: Instant::from_millis(4_000), browser_offline: true },
        Instant::from_millis(1_000),
    ));
    tick().await;
    assert!(indicator.text_content().unwrap().contains("Offline · retrying in 3 s"));
    assert!(indicator.class_name().contains("connection--bad"));
}

#[wasm_bindgen_test]
async fn navigation_switches_routes() {
    let shell = MountedShell::new("/", SyncState::new(), RwSignal::new(Settings::default()));
    let root = &shell.root;
    tick().await;
    assert_eq!(find(root, "h1").text_content().unwrap(), "Duty");
    assert_eq!(find(root, "[data-testid=driver-id]").text_content().unwrap(), "demo-driver");

    link_with_text(root, "Settings").click();
    wait_for_heading(root, "Settings").await;
    assert_eq!(web_sys::window().unwrap().location().pathname().unwrap(), "/settings");
    assert_eq!(link_with_text(root, "Settings").get_attribute("aria-current").as_deref(), Some("page"));

    link_with_text(root, "Jobs").click();
    wait_for_heading(root, "Jobs").await;
    assert!(find(root, "[data-testid=no-assignments]").text_content().unwrap().contains("No jobs"));
}

#[wasm_bindgen_test]
async fn settings_form_saves_the_driver_id() {
    let settings = RwSignal::new(Settings::default());
    let shell = MountedShell::new("/", SyncState::new(), settings);
    let root = &shell.root;
    tick().await;
    link_with_text(root, "Settings").click();
    wait_for_heading(root, "Settings").await;
    let input: web_sys::HtmlInputElement = find(root, "#driver-id").unchecked_into();
    input.set_value("  driver-42 ");
    input.dispatch_event(&web_sys::Event::new("input").unwrap()).unwrap();
    find(root, "button[type=submit]").click();
    tick().await;
    assert_eq!(settings.get_untracked().driver_id, "driver-42");
    assert_eq!(settings.get_untracked().server_url, None);
    assert!(root.text_content().unwrap().contains("Saved."));
}

#[wasm_bindgen_test]
async fn unknown_route_shows_not_found() {
    let shell = MountedShell::new("/nowhere", SyncState::new(), RwSignal::new(Settings::default()));
    tick().await;
    assert_eq!(find(&shell.root, "h1").text_content().unwrap(), "Page not found");
}

#[wasm_bindgen_test]
async fn indexeddb_values_survive_closing_and_reopening_the_database() {
    let name = format!("enroute-test-{}", browser::random_seed());
    let database = database::open(&name).await.unwrap();
    assert_eq!(database::read_meta(&database, "device").await.unwrap(), None);
    database::write_meta(&database, "device", "phone-1").await.unwrap();
    database.close();

    let reopened = database::open(&name).await.unwrap();
    assert_eq!(database::read_meta(&reopened, "device").await.unwrap().as_deref(), Some("phone-1"));
    reopened.close();
    rexie::Rexie::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn websocket_greets_the_test_server_and_gets_welcome() {
    let (events, mut received) = mpsc::unbounded();
    let socket = Socket::open(test_server_url(), move |event| {
        let _ = events.unbounded_send(event);
    });
    assert_eq!(received.next().await, Some(SocketEvent::Opened));
    let hello = ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        driver_id: format!("browser-test-{}", browser::random_seed()),
        token: None,
        app_version: "browser-test".into(),
        last_event_id: 0,
    });
    socket.send(hello.encode());
    match received.next().await {
        Some(SocketEvent::Frame(text)) => match ServerMessage::decode(&text).unwrap() {
            ServerMessage::Welcome(welcome) => {
                assert_eq!(welcome.protocol, PROTOCOL_VERSION);
                assert_eq!(welcome.acked_seq, 0);
            }
            other => panic!("expected welcome, got {other:?}"),
        },
        other => panic!("expected a frame, got {other:?}"),
    }
}

#[wasm_bindgen_test]
async fn websocket_to_a_closed_port_reports_closed() {
    let (events, mut received) = mpsc::unbounded();
    let _socket = Socket::open("ws://127.0.0.1:9/ws", move |event| {
        let _ = events.unbounded_send(event);
    });
    assert!(matches!(received.next().await, Some(SocketEvent::Closed { .. })));
}

#[wasm_bindgen_test]
async fn sync_driver_goes_online_against_the_test_server() {
    let state = SyncState::new();
    let options = SyncDriverOptions {
        url: test_server_url().to_string(),
        identity: DeviceIdentity {
            driver_id: format!("browser-test-{}", browser::random_seed()),
            token: None,
            app_version: "browser-test".into(),
        },
        config: ConnectionConfig::default(),
    };
    let driver = SyncDriver::start(options, state);
    for _ in 0..100 {
        if state.link.get_untracked().label == "Online" {
            break;
        }
        sleep(50).await;
    }
    assert_eq!(state.link.get_untracked().label, "Online");
    drop(driver);
}

#[wasm_bindgen_test]
async fn sync_driver_shows_disconnected_when_the_server_is_unreachable() {
    let state = SyncState::new();
    let options = SyncDriverOptions {
        url: "ws://127.0.0.1:9/ws".into(),
        identity: DeviceIdentity {
            driver_id: "nobody".into(),
            token: None,
            app_version: "browser-test".into(),
        },
        config: ConnectionConfig::default(),
    };
    let driver = SyncDriver::start(options, state);
    for _ in 0..100 {
        if state.link.get_untracked().label.contains("retrying in") {
            break;
        }
        sleep(50).await;
    }
    assert!(
        state.link.get_untracked().label.starts_with("Disconnected · retrying in"),
        "{:?}",
        state.link.get_untracked()
    );
    drop(driver);
}
