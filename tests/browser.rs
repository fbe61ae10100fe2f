//! Browser tests, run in headless Chromium by `wasm-pack test --headless --chrome`.
//!
//! `ENROUTE_TEST_SERVER` (set by scripts/test at compile time) is the WebSocket URL of a mock
//! server started for these tests.

#![cfg(target_arch = "wasm32")]

use enroute::app::AppShell;
use enroute::platform::outbox_storage::{AppOutboxStorage, IndexedDbOutbox, MemoryOutbox, OutboxStorage};
use enroute::platform::sync_driver::{SyncDriver, SyncDriverOptions};
use enroute::platform::websocket::{Socket, SocketEvent};
use enroute::platform::{browser, database};
use enroute::state::{Intent, Intents, SyncState};
use enroute_core::{
    DeviceIdentity, Engine, EngineAction, EngineConfig, Instant, LinkStatus, Now, OutboxConfig, Settings,
    StoredOutbox, SyncView,
};
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
        MountedShell::with_intents(path, state, settings, Intents::new(|_| {}))
    }

    fn with_intents(
        path: &str,
        state: SyncState,
        settings: RwSignal<Settings>,
        intents: Intents,
    ) -> MountedShell {
        let root = fresh_root_at(path);
        let owner = Owner::new();
        let handle = owner.with(|| {
            mount_to(root.clone(), move || view! { <AppShell state settings intents /> }.into_any())
        });
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

/// The view the engine would publish for `link` at `now`, with an empty outbox.
fn view_of(link: &LinkStatus, now: Instant) -> SyncView {
    let snapshot = enroute_core::SyncSnapshot {
        link: link.clone(),
        outbox: enroute_core::OutboxStatus { storage_ok: true, ..Default::default() },
    };
    SyncView::of(&snapshot, enroute_core::TrackingView::default(), now)
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
    let state = SyncState::showing(view_of(&LinkStatus::Online, Instant::default()));
    let shell = MountedShell::new("/", state, RwSignal::new(Settings::default()));
    let root = &shell.root;
    tick().await;
    let indicator = find(root, "[data-testid=connection]");
    assert!(indicator.text_content().unwrap().contains("Online"));
    assert!(indicator.class_name().contains("connection--good"));

    state.view.set(view_of(
        &LinkStatus::Waiting { retry_at: Instant::from_millis(4_000), browser_offline: true },
        Instant::from_millis(1_000),
    ));
    tick().await;
    assert!(indicator.text_content().unwrap().contains("Offline · retrying in 3 s"));
    assert!(indicator.class_name().contains("connection--bad"));
}

#[wasm_bindgen_test]
async fn navigation_switches_routes() {
    // Signed in: signed out, the sign-in warning has a Settings link of its own.
    let settings = Settings { token: Some("a-token-of-sixteen-chars".into()), ..Settings::default() };
    let shell = MountedShell::new("/", SyncState::new(), RwSignal::new(settings));
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
    let (driver_id, token) = unique_driver();
    let hello = ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        max_protocol: None,
        driver_id,
        token: Some(token),
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

/// Port 9 is on the browsers' list of ports they refuse: WebKit then fires `error` and never
/// `close` (regression: the socket task waited forever in WebKit and the test hung).
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
    let options = test_options(test_server_url(), unique_driver());
    let driver = SyncDriver::start_with_storage(options, MemoryOutbox::new(), state);
    wait_until("the link to say Online", || state.view.get_untracked().link_label == "Online").await;
    drop(driver);
}

#[wasm_bindgen_test]
async fn sync_driver_with_a_wrong_token_says_sign_in_rejected_and_stops_trying() {
    let state = SyncState::new();
    let (driver_id, _) = unique_driver();
    let options = test_options(test_server_url(), (driver_id, "not-the-right-token".into()));
    let driver = SyncDriver::start_with_storage(options, MemoryOutbox::new(), state);
    wait_until("the link to say Sign-in rejected", || {
        state.view.get_untracked().link_label == "Sign-in rejected"
    })
    .await;
    assert!(state.view.get_untracked().link_refused);
    // No retries: after the backoff's first delays it still says the same, not "retrying".
    sleep(2_500).await;
    assert_eq!(state.view.get_untracked().link_label, "Sign-in rejected");
    drop(driver);
}

#[wasm_bindgen_test]
async fn a_refused_sign_in_offers_reconnect_and_refused_records_offer_export() {
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorder = sent.clone();
    let intents = Intents::new(move |intent| recorder.lock().unwrap().push(intent));
    let refused = LinkStatus::Refused {
        code: enroute_protocol::ErrorCode::Unauthorized,
        message: "unknown driver or wrong token".into(),
    };
    let mut view = view_of(&refused, Instant::default());
    view.dead_letters_total = 2;
    let state = SyncState::showing(view);
    let settings = Settings { token: Some("a-wrong-token-of-16-chars".into()), ..Settings::default() };
    let shell = MountedShell::with_intents("/", state, RwSignal::new(settings), intents);
    tick().await;
    assert!(
        find(&shell.root, "[data-testid=connection]").text_content().unwrap().contains("Sign-in rejected")
    );
    assert!(
        find(&shell.root, "[data-testid=refused]").text_content().unwrap().contains("Check them in Settings")
    );
    find(&shell.root, "[data-testid=reconnect]").click();
    assert!(
        find(&shell.root, "[data-testid=dead-letters]")
            .text_content()
            .unwrap()
            .contains("2 records were refused")
    );
    find(&shell.root, "[data-testid=export-dead-letters]").click();
    tick().await;
    assert_eq!(*sent.lock().unwrap(), vec![Intent::Reconnect, Intent::ExportDeadLetters]);
    state.view.update(|view| *view = view_of(&LinkStatus::Online, Instant::default()));
    tick().await;
    assert!(shell.root.query_selector("[data-testid=refused]").unwrap().is_none(), "gone once online");
}

/// Regression (layout shift when opened signed out): with no token on the phone, the sign-in
/// warning is there from the first frame, not only once dispatch refuses, and keeps its words
/// (and so its size) when dispatch's refusal comes.
#[wasm_bindgen_test]
async fn with_no_token_the_sign_in_warning_is_there_from_the_first_frame() {
    let state = SyncState::showing(view_of(&LinkStatus::Connecting, Instant::default()));
    let shell = MountedShell::new("/", state, RwSignal::new(Settings::default()));
    tick().await;
    let warning = find(&shell.root, "[data-testid=refused]");
    assert!(warning.text_content().unwrap().contains("no sign-in token yet"), "{:?}", warning.text_content());
    let refused = LinkStatus::Refused {
        code: enroute_protocol::ErrorCode::Unauthorized,
        message: "unknown driver or wrong token".into(),
    };
    state.view.update(|view| *view = view_of(&refused, Instant::default()));
    tick().await;
    let answered = find(&shell.root, "[data-testid=refused]");
    assert!(answered.is_same_node(Some(&*warning)), "the same element");
    assert!(
        answered.text_content().unwrap().contains("no sign-in token yet"),
        "the same words: the same size"
    );
    assert!(
        find(&shell.root, "[data-testid=connection]").text_content().unwrap().contains("Sign-in rejected"),
        "the header says what dispatch answered"
    );

    // With a token, nothing is shown until dispatch answers.
    let settings = Settings { token: Some("a-token-of-sixteen-chars".into()), ..Settings::default() };
    let state = SyncState::showing(view_of(&LinkStatus::Connecting, Instant::default()));
    let signed_in = MountedShell::new("/", state, RwSignal::new(settings));
    tick().await;
    assert!(signed_in.root.query_selector("[data-testid=refused]").unwrap().is_none());
}

#[wasm_bindgen_test]
async fn a_record_dispatch_refuses_moves_to_the_dead_letters_in_indexeddb() {
    let (name, storage) = scratch_database().await;
    let identity = DeviceIdentity { driver_id: "d".into(), token: None, app_version: "t".into() };
    let mut engine = Engine::new(EngineConfig::default(), identity, storage.load().await.unwrap(), 4);
    for _ in 0..3 {
        engine.record(now(), status_record(true));
    }
    flush_writes(&mut engine, &storage).await;
    let socket = welcomed_session(&mut engine);
    flush_writes(&mut engine, &storage).await;
    let ack = enroute_protocol::ServerMessage::Ack(enroute_protocol::RecordAck {
        acked_seq: 3,
        rejected: vec![enroute_protocol::RecordRejection { seq: 2, reason: "reason is too long".into() }],
    });
    engine.handle_message(now(), socket, &ack);
    flush_writes(&mut engine, &storage).await;
    assert_eq!(engine.snapshot().outbox.dead_letters_total, 1);
    // Deleting acknowledged records waits until nothing new was written for a second.
    sleep(1_100).await;
    engine.handle_timeout(now());
    flush_writes(&mut engine, &storage).await;
    storage.close();

    let reopened = IndexedDbOutbox::open(&name).await.unwrap();
    let letters = reopened.load_dead_letters().await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].record.seq, 2);
    assert_eq!(letters[0].reason, "reason is too long");
    let stored = reopened.load().await.unwrap();
    assert!(stored.records.is_empty(), "the refused record left the outbox with the acknowledged ones");
    assert_eq!(stored.counters.dead_letters_total, 1, "the count survives a reload");
    reopened.close();
    rexie::Rexie::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn sync_driver_shows_disconnected_when_the_server_is_unreachable() {
    let state = SyncState::new();
    let options = test_options("ws://127.0.0.1:9/ws", ("nobody".into(), "no-such-token".into()));
    let driver = SyncDriver::start_with_storage(options, MemoryOutbox::new(), state);
    wait_until("the link to say it retries", || {
        state.view.get_untracked().link_label.starts_with("Disconnected · retrying in")
    })
    .await;
    drop(driver);
}

fn test_options(url: &str, (driver_id, token): (String, String)) -> SyncDriverOptions {
    SyncDriverOptions {
        url: url.to_string(),
        identity: DeviceIdentity { driver_id, token: Some(token), app_version: "browser-test".into() },
        config: EngineConfig::default(),
        throttle: enroute_core::ThrottlePolicy::default(),
        records_upload_url: url.replace("ws://", "http://").replace("/ws", "/sync/records"),
        database: enroute::platform::database::DATABASE_NAME.to_string(),
        mode: enroute::platform::sync_driver::DriverMode::Active,
    }
}

/// How many drivers scripts/test registers on the browser tests' server (`browser-test-N` with
/// the token `browser-test-N-token`).
const REGISTERED_TEST_DRIVERS: u32 = 30;

/// A registered driver no other test of this run uses: its id and its token.
fn unique_driver() -> (String, String) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let number = NEXT.fetch_add(1, Ordering::Relaxed);
    assert!(number <= REGISTERED_TEST_DRIVERS, "register more drivers in scripts/test");
    (format!("browser-test-{number}"), format!("browser-test-{number}-token"))
}

fn now() -> Now {
    Now { monotonic: browser::now(), unix_ms: browser::unix_time_ms() }
}

fn status_record(on: bool) -> enroute_protocol::RecordKind {
    use enroute_protocol::{DriverStatus, RecordKind};
    RecordKind::Status { status: if on { DriverStatus::OnDuty } else { DriverStatus::OffDuty }, reason: None }
}

fn fix_record(time_ms: i64) -> enroute_protocol::RecordKind {
    enroute_protocol::RecordKind::Location {
        fix: enroute_protocol::Fix {
            time_ms,
            lat: 48.1,
            lon: 11.5,
            accuracy_m: 5.0,
            speed_mps: None,
            heading_deg: None,
            altitude_m: None,
        },
    }
}

/// Runs every storage write the engine asks for against `storage`, in order.
async fn flush_writes(engine: &mut Engine, storage: &impl OutboxStorage) {
    while let Some(action) = engine.poll_action(now()) {
        if let EngineAction::Store(write) = action {
            storage.write(&write).await.unwrap();
            engine.handle_storage_written(write.id);
        }
    }
}

/// Starts `engine`, opens its socket and answers its hello with an empty server's `welcome`.
fn welcomed_session(engine: &mut Engine) -> enroute_core::SocketId {
    engine.start(now());
    let socket = loop {
        match engine.poll_action(now()) {
            Some(EngineAction::OpenSocket(socket)) => break socket,
            Some(_) => {}
            None => panic!("the engine did not open a socket"),
        }
    };
    engine.handle_socket_opened(now(), socket);
    let welcome = enroute_protocol::ServerMessage::Welcome(enroute_protocol::Welcome {
        protocol: enroute_protocol::PROTOCOL_VERSION,
        acked_seq: 0,
        server_time_ms: 0,
        rejected: Vec::new(),
    });
    engine.handle_message(now(), socket, &welcome);
    socket
}

async fn scratch_database() -> (String, IndexedDbOutbox) {
    let name = format!("enroute-test-{}", browser::random_seed());
    let storage = IndexedDbOutbox::open(&name).await.unwrap();
    (name, storage)
}

/// Regression: a transaction the browser aborted without a failed request (over quota, a disk
/// error at commit) came back from rexie as `Ok(TransactionResult::Aborted)`, and the writes
/// took it for a commit: records never stored would have been sent, then lost on a reload.
#[wasm_bindgen_test]
fn an_aborted_transaction_is_a_failed_write_not_a_commit() {
    use enroute::platform::database::committed;
    assert_eq!(committed(Ok(rexie::TransactionResult::Committed)), Ok(()));
    let aborted = committed(Ok(rexie::TransactionResult::Aborted)).unwrap_err();
    assert!(aborted.to_string().contains("aborted"), "{aborted}");
    assert!(committed(Err(rexie::Error::TransactionAbortFailed)).is_err());
}

#[wasm_bindgen_test]
async fn indexeddb_outbox_survives_closing_and_reopening_the_database() {
    let (name, storage) = scratch_database().await;
    let identity = DeviceIdentity { driver_id: "d".into(), token: None, app_version: "t".into() };
    let mut engine = Engine::new(EngineConfig::default(), identity.clone(), storage.load().await.unwrap(), 1);
    for index in 0..25 {
        engine.record(now(), status_record(index % 2 == 0));
    }
    flush_writes(&mut engine, &storage).await;
    storage.close();

    let reopened = IndexedDbOutbox::open(&name).await.unwrap();
    let stored = reopened.load().await.unwrap();
    assert_eq!(
        stored.records.iter().map(|record| record.seq).collect::<Vec<_>>(),
        (1..=25).collect::<Vec<_>>()
    );
    let mut reloaded_engine = Engine::new(EngineConfig::default(), identity, stored.clone(), 9);
    assert_eq!(
        reloaded_engine.record(now(), status_record(true)),
        26,
        "numbering continues from the records"
    );
    let ids: std::collections::HashSet<_> = stored.records.iter().map(|record| record.id.clone()).collect();
    assert_eq!(ids.len(), 25, "ids survive too");
    reopened.close();
    rexie::Rexie::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn sequence_numbers_continue_after_reopening_even_when_everything_was_acknowledged() {
    let (name, storage) = scratch_database().await;
    let identity = DeviceIdentity { driver_id: "d".into(), token: None, app_version: "t".into() };
    let mut engine = Engine::new(EngineConfig::default(), identity.clone(), storage.load().await.unwrap(), 2);
    for _ in 0..3 {
        engine.record(now(), status_record(true));
    }
    flush_writes(&mut engine, &storage).await;
    // The server acknowledges all three: they are deleted, but the numbering must go on.
    let socket = welcomed_session(&mut engine);
    flush_writes(&mut engine, &storage).await;
    let ack = enroute_protocol::ServerMessage::Ack(enroute_protocol::RecordAck {
        acked_seq: 3,
        rejected: Vec::new(),
    });
    engine.handle_message(now(), socket, &ack);
    flush_writes(&mut engine, &storage).await;
    // Deleting acknowledged records waits until nothing new was written for a second.
    sleep(1_100).await;
    engine.handle_timeout(now());
    flush_writes(&mut engine, &storage).await;
    storage.close();

    let reopened = IndexedDbOutbox::open(&name).await.unwrap();
    let stored = reopened.load().await.unwrap();
    assert!(stored.records.is_empty(), "acknowledged records are deleted");
    let mut engine = Engine::new(EngineConfig::default(), identity, stored, 3);
    assert_eq!(engine.record(now(), status_record(false)), 4);
    reopened.close();
    rexie::Rexie::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn eviction_drops_the_oldest_fixes_first_and_keeps_status_records_in_indexeddb() {
    let (name, storage) = scratch_database().await;
    let identity = DeviceIdentity { driver_id: "d".into(), token: None, app_version: "t".into() };
    let config = EngineConfig {
        outbox: OutboxConfig { max_records: 5, ..OutboxConfig::default() },
        ..Default::default()
    };
    let mut engine = Engine::new(config, identity, StoredOutbox::default(), 4);
    engine.record(now(), fix_record(1)); // 1
    engine.record(now(), status_record(true)); // 2
    engine.record(now(), fix_record(2)); // 3
    engine.record(now(), fix_record(3)); // 4
    engine.record(now(), fix_record(4)); // 5
    flush_writes(&mut engine, &storage).await;
    engine.record(now(), fix_record(5)); // 6: evicts fixes 1 and 3, adds report 7
    flush_writes(&mut engine, &storage).await;
    let stored = storage.load().await.unwrap();
    assert_eq!(stored.records.iter().map(|record| record.seq).collect::<Vec<_>>(), vec![2, 4, 5, 6, 7]);
    assert_eq!(stored.counters.evicted_total, 2);
    assert!(matches!(stored.records[4].kind, enroute_protocol::RecordKind::Gap { .. }));
    storage.close();
    rexie::Rexie::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn sync_driver_delivers_duty_changes_to_the_test_server() {
    let state = SyncState::new();
    let storage = MemoryOutbox::new();
    let driver =
        SyncDriver::start_with_storage(test_options(test_server_url(), unique_driver()), storage, state);
    wait_until("the link to say Online", || state.view.get_untracked().link_label == "Online").await;
    driver.send(Intent::SetDuty(true));
    driver.send(Intent::SetDuty(false));
    driver.send(Intent::SetDuty(true));
    wait_until("every record acknowledged", || {
        let view = state.view.get_untracked();
        view.waiting == 0 && view.last_ack_unix_ms.is_some()
    })
    .await;
    assert!(state.view.get_untracked().on_duty);
    drop(driver);
}

#[wasm_bindgen_test]
async fn a_database_blocked_by_an_older_version_falls_back_to_memory_instead_of_hanging() {
    let name = format!("enroute-test-{}", browser::random_seed());
    // Another tab of an older version holds the database open and ignores the upgrade (a raw
    // connection with no `versionchange` handler; rexie's own connections give way).
    let factory = js_sys::Reflect::get(&web_sys::window().unwrap(), &"indexedDB".into()).unwrap();
    let open: js_sys::Function = js_sys::Reflect::get(&factory, &"open".into()).unwrap().unchecked_into();
    let request = open.call2(&factory, &name.as_str().into(), &1.into()).unwrap();
    let opened = js_sys::Promise::new(&mut |resolve, _reject| {
        js_sys::Reflect::set(&request, &"onsuccess".into(), &resolve).unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(opened).await.unwrap();
    let older = js_sys::Reflect::get(&request, &"result".into()).unwrap();
    let storage = AppOutboxStorage::open_named(&name).await;
    assert!(matches!(storage, AppOutboxStorage::Unavailable { .. }), "it gave up waiting");
    let write = enroute_core::StorageWrite {
        id: 1,
        put: Vec::new(),
        delete_up_to: None,
        delete: Vec::new(),
        dead_letters: Vec::new(),
        counters: None,
    };
    assert!(storage.write(&write).await.is_err(), "writes report the failure");
    let close: js_sys::Function = js_sys::Reflect::get(&older, &"close".into()).unwrap().unchecked_into();
    close.call0(&older).unwrap();
}

#[wasm_bindgen_test]
async fn failing_storage_shows_a_lasting_warning_and_still_delivers() {
    let state = SyncState::new();
    let storage = std::rc::Rc::new(MemoryOutbox::failing("quota exceeded"));
    let driver = SyncDriver::start_with_storage(
        test_options(test_server_url(), unique_driver()),
        storage.clone(),
        state,
    );
    wait_until("the link to say Online", || state.view.get_untracked().link_label == "Online").await;
    driver.send(Intent::SetDuty(true));
    wait_until("the storage warning", || !state.view.get_untracked().storage_ok).await;
    wait_until("an acknowledgement", || state.view.get_untracked().last_ack_unix_ms.is_some()).await;
    assert!(!state.view.get_untracked().storage_ok, "the warning lasts while storage fails");
    assert!(storage.sequence_floor() >= 1, "records sent before they were stored raise the floor");

    // Storage heals (space was freed): the app returns to it by itself and the warning goes.
    storage.set_failure(None);
    driver.send(Intent::SetDuty(false));
    wait_until("storage to work again", || state.view.get_untracked().storage_ok).await;
    wait_until("the numbering to be confirmed", || storage.snapshot().counters.sequence_confirmed).await;
    drop(driver);
}

#[wasm_bindgen_test]
async fn the_duty_button_sends_an_intent_and_the_header_shows_waiting_records() {
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorder = sent.clone();
    let intents = Intents::new(move |intent| recorder.lock().unwrap().push(intent));
    let mut view = view_of(&LinkStatus::Online, Instant::default());
    view.waiting = 3;
    let state = SyncState::showing(view);
    let shell = MountedShell::with_intents("/", state, RwSignal::new(Settings::default()), intents);
    tick().await;
    let button = find(&shell.root, "[data-testid=duty-toggle]");
    assert_eq!(button.text_content().unwrap(), "Start duty");
    button.click();
    tick().await;
    assert_eq!(*sent.lock().unwrap(), vec![Intent::SetDuty(true)]);
    assert_eq!(find(&shell.root, "[data-testid=waiting]").text_content().unwrap(), "3 records waiting");
    state.view.update(|view| {
        view.on_duty = true;
        view.waiting = 0;
        view.storage_ok = false;
    });
    tick().await;
    assert_eq!(button.text_content().unwrap(), "End duty");
    assert_eq!(find(&shell.root, "[data-testid=waiting]").text_content().unwrap(), "All sent");
    assert!(
        find(&shell.root, "[data-testid=storage-warning]").text_content().unwrap().contains("cannot save")
    );
}

#[wasm_bindgen_test]
async fn a_follower_tab_cannot_change_duty_and_says_why() {
    let state = SyncState::showing(view_of(&LinkStatus::Online, Instant::default()));
    state.role.set(enroute::state::TabRole::Follower);
    let shell = MountedShell::new("/", state, RwSignal::new(Settings::default()));
    tick().await;
    let button: web_sys::HtmlButtonElement = find(&shell.root, "[data-testid=duty-toggle]").unchecked_into();
    assert!(button.disabled());
    assert!(find(&shell.root, "[data-testid=follower]").text_content().unwrap().contains("another tab"));
}

#[wasm_bindgen_test]
async fn the_tracking_panel_explains_a_blocked_permission_and_draws_the_track() {
    let mut view = view_of(&LinkStatus::Online, Instant::default());
    view.on_duty = true;
    view.tracking.state =
        enroute_core::TrackingState::Paused(enroute_protocol::PauseReason::PermissionDenied);
    view.tracking.permission = enroute_core::LocationPermission::Denied;
    let state = SyncState::showing(view);
    let shell = MountedShell::new("/", state, RwSignal::new(Settings::default()));
    tick().await;
    assert_eq!(
        find(&shell.root, "[data-testid=tracking-headline]").text_content().unwrap(),
        "Location blocked"
    );
    assert!(
        find(&shell.root, "[data-testid=tracking-guidance]")
            .text_content()
            .unwrap()
            .contains("allow Location")
    );
    assert!(shell.root.query_selector("[data-testid=track-sketch]").unwrap().is_none(), "no track yet");

    state.view.update(|view| {
        view.tracking.state = enroute_core::TrackingState::Tracking;
        view.tracking.permission = enroute_core::LocationPermission::Granted;
        view.tracking.position = Some(enroute_core::PositionView {
            lat: 48.13715,
            lon: 11.57612,
            accuracy_m: 6.0,
            speed_kmh: Some(43.0),
            time_ms: 0,
        });
        view.tracking.seen = 12;
        view.tracking.sent = 2;
        view.tracking.dropped = 1;
        view.tracking.recent_raw = vec![(48.1371, 11.5761), (48.1372, 11.5763), (48.1373, 11.5765)];
        view.tracking.recent_sent = vec![(48.1371, 11.5761), (48.1373, 11.5765)];
    });
    tick().await;
    assert_eq!(find(&shell.root, "[data-testid=tracking-headline]").text_content().unwrap(), "Tracking");
    assert_eq!(find(&shell.root, "[data-testid=position]").text_content().unwrap(), "48.13715, 11.57612");
    assert_eq!(find(&shell.root, "[data-testid=accuracy]").text_content().unwrap(), "± 6 m");
    assert_eq!(find(&shell.root, "[data-testid=speed]").text_content().unwrap(), "43 km/h");
    assert_eq!(
        find(&shell.root, "[data-testid=fix-counts]").text_content().unwrap(),
        "Positions: 12 seen · 2 sent · 1 dropped"
    );
    let sketch = find(&shell.root, "[data-testid=track-sketch]");
    assert_eq!(sketch.query_selector_all("circle").unwrap().length(), 2, "one dot per sent position");
}

#[wasm_bindgen_test]
async fn the_settings_form_refuses_a_bad_throttle_policy_and_saves_a_good_one() {
    let settings = RwSignal::new(Settings::default());
    let shell = MountedShell::new("/settings", SyncState::new(), settings);
    tick().await;
    let error_field: web_sys::HtmlInputElement = find(&shell.root, "#max-error").unchecked_into();
    error_field.set_value("-5");
    error_field.dispatch_event(&web_sys::Event::new("input").unwrap()).unwrap();
    find(&shell.root, "button[type=submit]").click();
    tick().await;
    assert!(
        find(&shell.root, "[data-testid=settings-problem]").text_content().unwrap().contains("error bound")
    );
    assert_eq!(settings.get_untracked().throttle, enroute_core::ThrottlePolicy::default(), "nothing saved");

    error_field.set_value("35");
    error_field.dispatch_event(&web_sys::Event::new("input").unwrap()).unwrap();
    find(&shell.root, "button[type=submit]").click();
    tick().await;
    assert_eq!(find(&shell.root, "[data-testid=settings-problem]").text_content().unwrap(), "");
    assert_eq!(
        settings.get_untracked().throttle.mode,
        enroute_core::ThrottleMode::ErrorBounded { max_error_m: 35.0, live_error_m: Some(100.0) }
    );
}

#[wasm_bindgen_test]
async fn the_update_banner_waits_for_the_drivers_tap() {
    use enroute::components::UpdateBanner;
    let document = web_sys::window().unwrap().document().unwrap();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    let ready = RwSignal::new(false);
    let taps = RwSignal::new(0);
    let on_update = Callback::new(move |()| taps.update(|taps| *taps += 1));
    let owner = Owner::new();
    let handle = owner.with(|| mount_to(root.clone(), move || view! { <UpdateBanner ready on_update /> }));
    tick().await;
    assert!(root.query_selector("[data-testid=update-banner]").unwrap().is_none(), "no update yet");

    ready.set(true);
    tick().await;
    let banner = find(&root, "[data-testid=update-banner]");
    assert!(banner.text_content().unwrap().contains("Update available"));
    assert_eq!(taps.get_untracked(), 0, "nothing switches by itself");

    let button = find(&root, "[data-testid=update-now]");
    button.click();
    tick().await;
    assert_eq!(taps.get_untracked(), 1);
    assert_eq!(button.text_content().unwrap(), "Updating…");
    button.click(); // a disabled button ignores a second tap
    tick().await;
    assert_eq!(taps.get_untracked(), 1);
    drop(handle);
    owner.cleanup();
    root.remove();
}

/// Issue (no silent loss at the edges, item 10): the app never asked the browser to keep its
/// storage, and the driver could not see whether waiting records are safe from clean-ups.
#[wasm_bindgen_test]
async fn the_settings_page_says_whether_waiting_records_are_kept() {
    let shell = MountedShell::new("/settings", SyncState::new(), RwSignal::new(Settings::default()));
    let root = shell.root.clone();
    wait_until("the storage persistence answer", move || {
        root.query_selector("[data-testid=storage-persistence]")
            .unwrap()
            .and_then(|element| element.text_content())
            .is_some_and(|text| text.starts_with("Waiting records: ") && !text.contains("checking"))
    })
    .await;
}

/// The app's start is split with `in_next_task` (a timer in a visible page, a message in a hidden
/// one, whose timers are held back): each task runs after the current one, in the order queued
/// whichever way it is woken, and one queued by a task runs after those already waiting.
#[wasm_bindgen_test]
async fn tasks_queued_for_the_next_task_run_after_the_current_one_in_order() {
    use enroute::platform::next_task::{in_next_task, in_next_task_by_message};
    use std::cell::RefCell;
    use std::rc::Rc;
    let ran = Rc::new(RefCell::new(Vec::<&str>::new()));
    let log = ran.clone();
    in_next_task_by_message(move || {
        log.borrow_mut().push("first, by message");
        let log = log.clone();
        in_next_task(move || log.borrow_mut().push("queued by the first"));
    });
    let log = ran.clone();
    in_next_task(move || log.borrow_mut().push("second, by timer"));
    let log = ran.clone();
    in_next_task_by_message(move || log.borrow_mut().push("third, by message"));
    assert!(ran.borrow().is_empty(), "a task ran in the task that queued it");
    let done = ran.clone();
    wait_until("four tasks run", move || done.borrow().len() == 4).await;
    assert_eq!(
        *ran.borrow(),
        ["first, by message", "second, by timer", "third, by message", "queued by the first"]
    );
}
