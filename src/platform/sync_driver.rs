//! Runs the core [`Engine`] and [`Tracker`] against real sockets, storage, positions, timers and
//! browser events, and publishes what the driver should see into [`SyncState`] (and to other
//! tabs).
//!
//! All decisions are the core's; this loop only turns browser events into `handle_*` calls, the
//! tracker's records into `Engine::record`, and the engine's actions into socket and storage
//! operations. It also starts and stops the position watch and the screen wake lock as the
//! tracker wants.

use crate::platform::background_flush::{self, FlushDevice};
use crate::platform::device_registry::{self, DeviceDatabase};
use crate::platform::event_listener::EventListener;
use crate::platform::geolocation::{PositionEvent, PositionWatch, watch_position};
use crate::platform::outbox_storage::{AppOutboxStorage, IndexedDbOutbox, OutboxStorage};
use crate::platform::permissions::{PermissionWatch, watch_permission};
use crate::platform::tab_channel::TabChannel;
use crate::platform::wake_lock::ScreenWakeLock;
use crate::platform::websocket::{Socket, SocketEvent};
use crate::platform::{alerts, browser, debug_bridge};
use crate::state::{Intent, SyncState};
use enroute_core::job_view::job_views;
use enroute_core::{
    DeviceIdentity, Engine, EngineAction, EngineConfig, EventEffect, LinkStatus, LocationPermission, Now,
    Settings, SocketId, StorageWrite, SyncView, ThrottlePolicy, Tracker,
};
use enroute_protocol::{DriverStatus, RecordKind, ServerMessage};
use futures::StreamExt;
use futures::channel::mpsc;
use futures::future::{Either, select};
use leptos::prelude::Set;
use std::rc::Rc;
use std::time::Duration;

/// What the driver needs to run.
#[derive(Debug, Clone)]
pub struct SyncDriverOptions {
    /// WebSocket URL of the server.
    pub url: String,
    /// Who this device is.
    pub identity: DeviceIdentity,
    /// Timings and limits.
    pub config: EngineConfig,
    /// Which fixes become records.
    pub throttle: ThrottlePolicy,
    /// Where the service worker uploads records waiting when no app window is open.
    pub records_upload_url: String,
    /// The IndexedDB database holding the outbox and the jobs (one per server and driver, see
    /// `device_registry.rs`).
    pub database: String,
    /// Whether this driver is the one on screen, or only sends what another driver left.
    pub mode: DriverMode,
}

/// What a running driver is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverMode {
    /// The signed-in driver: tracks, alerts, and is what the screens show.
    Active,
    /// A driver this phone was used for before: sends the records it left, shows nothing but
    /// its own progress (Settings), never tracks or alerts, and stops once everything is
    /// acknowledged.
    Drain,
}

impl SyncDriverOptions {
    /// Options for the given settings, with the default timings (unless the debug bridge
    /// changes them).
    pub fn from_settings(settings: &Settings) -> SyncDriverOptions {
        let mut config = EngineConfig::default();
        debug_bridge::adjust_config(&mut config);
        let url = settings.websocket_url(&browser::page_origin());
        SyncDriverOptions {
            database: device_registry::database_for(&url, &settings.driver_id),
            url,
            identity: DeviceIdentity {
                driver_id: settings.driver_id.clone(),
                token: settings.sign_in_token(),
                app_version: crate::APP_VERSION.to_string(),
            },
            config,
            throttle: settings.throttle,
            records_upload_url: settings.records_upload_url(&browser::page_origin()),
            mode: DriverMode::Active,
        }
    }

    /// Options to send what `device` left, with its stored credentials.
    pub fn draining(device: &DeviceDatabase, flush: &FlushDevice) -> SyncDriverOptions {
        SyncDriverOptions {
            url: device.server.clone(),
            identity: DeviceIdentity {
                driver_id: flush.driver_id.clone(),
                token: flush.token.clone(),
                app_version: crate::APP_VERSION.to_string(),
            },
            config: EngineConfig::default(),
            throttle: ThrottlePolicy::default(),
            records_upload_url: flush.records_url.clone(),
            database: device.database.clone(),
            mode: DriverMode::Drain,
        }
    }
}

enum DriverEvent {
    Socket(SocketId, SocketEvent),
    AssignmentsStored {
        id: u64,
        ok: bool,
    },
    /// A write finished; `finished_at_ms` is `performance.now()` at that moment.
    StorageDone {
        id: u64,
        result: Result<(), String>,
        finished_at_ms: f64,
    },
    Intent(Intent),
    Position(PositionEvent),
    Permission(LocationPermission),
    BrowserOnline(bool),
    PageVisibility(bool),
    PermissionWatchReady(Option<PermissionWatch>),
    /// Another driver signed in on this phone: end duty (recording the held fix and the end),
    /// stop tracking and alerting, show progress in `state` instead, and send what is left.
    Retire(SyncState),
    Stop,
}

/// A running driver. Dropping it closes the connection and stops the loop.
pub struct SyncDriver {
    events: mpsc::UnboundedSender<DriverEvent>,
    _listeners: Vec<EventListener>,
}

impl SyncDriver {
    /// Starts the app's driver: opens IndexedDB (or falls back to memory), loads the outbox,
    /// connects, and keeps `state` up to date until dropped. Publishes to other tabs.
    pub fn start(options: SyncDriverOptions, state: SyncState) -> SyncDriver {
        let database = options.database.clone();
        SyncDriver::spawn(options, state, TabChannel::open(), async move {
            AppOutboxStorage::open_named(&database).await
        })
    }

    /// Starts a driver on the given storage (tests use memory or a scratch database).
    pub fn start_with_storage<S: OutboxStorage + 'static>(
        options: SyncDriverOptions,
        storage: S,
        state: SyncState,
    ) -> SyncDriver {
        SyncDriver::spawn(options, state, None, async { storage })
    }

    fn spawn<S, F>(
        options: SyncDriverOptions,
        state: SyncState,
        channel: Option<TabChannel>,
        storage: F,
    ) -> SyncDriver
    where
        S: OutboxStorage + 'static,
        F: Future<Output = S> + 'static,
    {
        let (events, receiver) = mpsc::unbounded();
        let listeners = listen_to_browser(&events);
        let loop_events = events.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let storage = storage.await;
            run(options, Rc::new(storage), state, channel, loop_events, receiver).await;
        });
        SyncDriver { events, _listeners: listeners }
    }

    /// Passes a driver's intent (go on duty, …) to the engine.
    pub fn send(&self, intent: Intent) {
        let _ = self.events.unbounded_send(DriverEvent::Intent(intent));
    }

    /// Another driver took this phone over: this one ends its duty with nothing lost (held fix,
    /// records queued behind a write) and becomes a [`DriverMode::Drain`] driver that reports
    /// its progress in `state` and stops when everything is acknowledged.
    pub fn retire(&self, state: SyncState) {
        let _ = self.events.unbounded_send(DriverEvent::Retire(state));
    }
}

impl Drop for SyncDriver {
    fn drop(&mut self) {
        let _ = self.events.unbounded_send(DriverEvent::Stop);
    }
}

fn listen_to_browser(events: &mpsc::UnboundedSender<DriverEvent>) -> Vec<EventListener> {
    let Some(window) = web_sys::window() else { return Vec::new() };
    let mut listeners = Vec::new();
    for (event_type, online) in [("online", true), ("offline", false)] {
        let events = events.clone();
        listeners.push(EventListener::new(&window, event_type, move |_| {
            let _ = events.unbounded_send(DriverEvent::BrowserOnline(online));
        }));
    }
    if let Some(document) = window.document() {
        let events = events.clone();
        listeners.push(EventListener::new(&document, "visibilitychange", move |_| {
            let _ = events.unbounded_send(DriverEvent::PageVisibility(browser::is_page_visible()));
        }));
    }
    listeners
}

fn now() -> Now {
    Now { monotonic: browser::now(), unix_ms: browser::unix_time_ms() }
}

async fn run<S: OutboxStorage + 'static>(
    options: SyncDriverOptions,
    storage: Rc<S>,
    mut state: SyncState,
    mut channel: Option<TabChannel>,
    events: mpsc::UnboundedSender<DriverEvent>,
    mut receiver: mpsc::UnboundedReceiver<DriverEvent>,
) {
    // If the outbox cannot be read, this page must not write to it either: its numbering would
    // clash with what is stored. Records then live in memory and the driver is warned.
    let (mut stored, storage_usable) = match storage.load().await {
        Ok(stored) => (stored, true),
        Err(error) => {
            log::error!("cannot read the stored outbox, keeping records in memory: {error:?}");
            (enroute_core::StoredOutbox::default(), false)
        }
    };
    stored.raise_sequence_floor(storage.sequence_floor());
    let stored_assignments = if storage_usable {
        storage.load_assignments().await.unwrap_or_else(|error| {
            log::error!("cannot read the stored jobs; the server will send them again: {error:?}");
            Default::default()
        })
    } else {
        Default::default()
    };
    if storage_usable && options.mode == DriverMode::Active {
        let device = FlushDevice {
            driver_id: options.identity.driver_id.clone(),
            token: options.identity.token.clone(),
            records_url: options.records_upload_url.clone(),
        };
        let storage = storage.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(error) = storage.remember_flush_device(&device).await {
                log::warn!("the service worker cannot flush in the background: {error:?}");
            }
        });
    }
    let engine = Engine::new(options.config, options.identity.clone(), stored, browser::random_seed())
        .with_assignments(stored_assignments);
    // A draining driver never tracks, whatever duty it was left in.
    let on_duty =
        options.mode == DriverMode::Active && engine.snapshot().outbox.duty == Some(DriverStatus::OnDuty);
    let mut app = AppLoop {
        mode: options.mode,
        engine,
        tracker: Tracker::new(options.throttle, on_duty),
        url: options.url.clone(),
        storage,
        storage_usable,
        events: events.clone(),
        socket: None,
        position_watch: None,
        wake_lock: ScreenWakeLock::new(),
        _permission_watch: None,
        latency_probe: debug_bridge::is_enabled().then(StoreLatencyProbe::default),
        driver_acted: false,
        geolocation_missing: false,
    };
    if options.mode == DriverMode::Active {
        let permission_events = events.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let updates = permission_events.clone();
            let watch = watch_permission(move |permission| {
                let _ = updates.unbounded_send(DriverEvent::Permission(permission));
            })
            .await;
            let _ = permission_events.unbounded_send(DriverEvent::PermissionWatchReady(watch));
        });
    }
    app.engine.handle_browser_online(now(), browser::is_online());
    app.engine.start(now());
    let records = app.tracker.handle_visibility(browser::is_page_visible());
    app.record(records);
    let mut last_published: Option<SyncView> = None;
    let mut last_published_at: Option<enroute_core::Instant> = None;
    let mut background_flush_wanted = false;
    loop {
        app.perform_actions();
        app.follow_tracker();
        let urgent = app.alert_about_events() | std::mem::take(&mut app.driver_acted);
        let snapshot = app.engine.snapshot();
        // Asked once each time records start waiting that this page cannot send.
        let wants_flush = snapshot.wants_background_flush();
        if wants_flush && !background_flush_wanted {
            background_flush::request();
        }
        background_flush_wanted = wants_flush;
        let view = SyncView::of(&snapshot, app.tracker.view(), browser::now()).with_jobs(
            job_views(app.engine.assignments(), browser::start_of_today_ms()),
            app.engine.assignments().messages().to_vec(),
        );
        // A draining driver is done once the server holds everything it had to send.
        if app.mode == DriverMode::Drain
            && snapshot.link == LinkStatus::Online
            && snapshot.outbox.waiting == 0
            && snapshot.outbox.unsaved == 0
        {
            log::info!("every record of {} is delivered", options.identity.driver_id);
            state.view.set(view);
            app.engine.stop();
            return;
        }
        let mut publish_due = None;
        if last_published.as_ref() != Some(&view) {
            // At most ten updates a second: rendering costs the main thread, and a driver
            // cannot read faster anyway. A new job or the driver's own action shows at once.
            let due = match last_published_at {
                Some(at) if !urgent => at + PUBLISH_INTERVAL,
                _ => browser::now(),
            };
            if browser::now() >= due {
                if let (Some(channel), Ok(text)) = (&channel, serde_json::to_string(&view)) {
                    channel.publish(&text);
                }
                state.view.set(view.clone());
                last_published = Some(view);
                last_published_at = Some(browser::now());
            } else {
                publish_due = Some(due - browser::now());
            }
        }

        // `receiver` never ends: this loop holds a sender. `None` below means a timer fired.
        let wait = [wait_time(&app.engine, &snapshot.link), publish_due, app.tracker_wait()]
            .into_iter()
            .flatten()
            .min();
        let event = match wait {
            Some(wait) => match select(receiver.next(), gloo_timers::future::sleep(wait)).await {
                Either::Left((event, _)) => event,
                Either::Right(((), _)) => None,
            },
            None => receiver.next().await,
        };
        // Handle everything already queued before the next pass over actions and the UI: under
        // load (a drain, a burst of records) this keeps the loop from publishing per event.
        let mut next = Some(event);
        let mut budget = 64;
        while let Some(current) = next.take() {
            match app.handle_event(current) {
                LoopControl::Continue => {}
                LoopControl::Stop => return, // dropping the app closes the socket, the watches and the wake lock
                LoopControl::Retire(progress) => {
                    // From now on nothing of this driver reaches the screens or other tabs.
                    state = progress;
                    channel = None;
                    last_published = None;
                }
            }
            budget -= 1;
            if budget > 0 {
                next = receiver.try_recv().ok().map(Some);
            }
        }
        let now = now();
        app.engine.handle_timeout(now);
        let records = app.tracker.handle_timeout(now.unix_ms);
        app.record(records);
    }
}

enum LoopControl {
    Continue,
    Stop,
    /// Became a draining driver; publish to this state from now on.
    Retire(SyncState),
}

/// Everything the loop drives.
struct AppLoop<S: OutboxStorage + 'static> {
    mode: DriverMode,
    engine: Engine,
    tracker: Tracker,
    url: String,
    storage: Rc<S>,
    storage_usable: bool,
    events: mpsc::UnboundedSender<DriverEvent>,
    socket: Option<(SocketId, Socket)>,
    position_watch: Option<PositionWatch>,
    wake_lock: ScreenWakeLock,
    _permission_watch: Option<PermissionWatch>,
    latency_probe: Option<StoreLatencyProbe>,
    /// The driver did something since the last pass: show its effect at once.
    driver_acted: bool,
    /// `watchPosition` is not there: do not ask for it at every pass.
    geolocation_missing: bool,
}

impl<S: OutboxStorage + 'static> AppLoop<S> {
    /// Makes records of what the tracker decided.
    fn record(&mut self, kinds: Vec<RecordKind>) {
        let now = now();
        for kind in kinds {
            let seq = self.engine.record(now, kind);
            if let Some(probe) = &mut self.latency_probe {
                probe.created(seq);
            }
        }
    }

    /// Carries out what the engine asks for.
    fn perform_actions(&mut self) {
        while let Some(action) = self.engine.poll_action(now()) {
            match action {
                EngineAction::OpenSocket(id) => {
                    let events = self.events.clone();
                    let opened = Socket::open(&self.url, move |event| {
                        let _ = events.unbounded_send(DriverEvent::Socket(id, event));
                    });
                    self.socket = Some((id, opened)); // replacing an old socket drops (closes) it
                }
                EngineAction::Send(message) => match &self.socket {
                    Some((_, current)) => current.send(self.engine.encode(&message)),
                    None => log::warn!("no socket to send a frame on"),
                },
                EngineAction::CloseSocket(id) => {
                    if self.socket.as_ref().is_some_and(|(current, _)| *current == id) {
                        self.socket = None;
                    }
                }
                EngineAction::Store(write) => {
                    if let Some(probe) = &mut self.latency_probe {
                        probe.writing(&write);
                    }
                    store(self.storage.clone(), self.storage_usable, write, self.events.clone());
                }
                EngineAction::RememberSequenceFloor(floor) => self.storage.remember_sequence_floor(floor),
                EngineAction::StoreAssignments(write) => {
                    let storage = self.storage.clone();
                    let events = self.events.clone();
                    let usable = self.storage_usable;
                    wasm_bindgen_futures::spawn_local(async move {
                        let ok = usable
                            && storage
                                .write_assignments(&write)
                                .await
                                .map_err(|error| log::error!("storing jobs failed: {error:?}"))
                                .is_ok();
                        let _ = events.unbounded_send(DriverEvent::AssignmentsStored { id: write.id, ok });
                    });
                }
            }
        }
    }

    /// Tells the driver about new offers and changed jobs (sound, vibration, or a system
    /// notification when the app is in the background). Returns whether there was anything.
    fn alert_about_events(&mut self) -> bool {
        let mut any = false;
        while let Some(effect) = self.engine.poll_event_effect() {
            any = true;
            if self.mode == DriverMode::Drain {
                continue; // the driver on screen is someone else
            }
            match effect {
                EventEffect::NewOffer { assignment_id } => {
                    let body = self.engine.assignments().entry(&assignment_id).map(|entry| {
                        format!("{} → {}", entry.assignment.pickup.address, entry.assignment.dropoff.address)
                    });
                    alerts::alert(
                        "New job offered",
                        &body.unwrap_or_default(),
                        &format!("/assignments/{assignment_id}"),
                        &assignment_id,
                    );
                }
                EventEffect::Changed { assignment_id } => {
                    let notice = self
                        .engine
                        .assignments()
                        .entry(&assignment_id)
                        .and_then(|entry| entry.notice.clone());
                    if let Some(notice) = notice {
                        alerts::alert(
                            "Job changed",
                            &notice,
                            &format!("/assignments/{assignment_id}"),
                            &assignment_id,
                        );
                    }
                }
                EventEffect::Message { text } => {
                    alerts::alert("Message from dispatch", &text, "/assignments", "message")
                }
                EventEffect::Duplicate => {}
            }
        }
        any
    }

    /// Starts or stops the position watch and the wake lock as the tracker wants.
    fn follow_tracker(&mut self) {
        match (self.tracker.wants_position(), self.position_watch.is_some()) {
            (true, false) if !self.geolocation_missing => {
                let events = self.events.clone();
                self.position_watch = watch_position(move |event| {
                    let _ = events.unbounded_send(DriverEvent::Position(event));
                });
                if self.position_watch.is_none() {
                    // Not asked again: the tracker pauses as for a phone that cannot find itself.
                    log::error!("this browser has no geolocation");
                    self.geolocation_missing = true;
                    let unavailable =
                        PositionEvent::Error(enroute_core::GeolocationError::PositionUnavailable);
                    let _ = self.events.unbounded_send(DriverEvent::Position(unavailable));
                }
            }
            (false, true) => self.position_watch = None,
            _ => {}
        }
        self.wake_lock.set_wanted(self.tracker.wants_screen_awake());
    }

    /// How long until the tracker has something to do (a heartbeat, a pause), if ever.
    fn tracker_wait(&self) -> Option<Duration> {
        let due = self.tracker.timeout_ms()?;
        Some(Duration::from_millis((due - browser::unix_time_ms()).max(0) as u64))
    }

    fn handle_event(&mut self, event: Option<DriverEvent>) -> LoopControl {
        let now = now();
        if matches!(event, Some(DriverEvent::Intent(_))) {
            self.driver_acted = true;
        }
        match event {
            Some(DriverEvent::Socket(id, SocketEvent::Opened)) => self.engine.handle_socket_opened(now, id),
            Some(DriverEvent::Socket(id, SocketEvent::Frame(text))) => match ServerMessage::decode(&text) {
                Ok(message) => self.engine.handle_message(now, id, &message),
                Err(error) => log::warn!("ignoring a frame from the server: {error}"),
            },
            Some(DriverEvent::Socket(id, SocketEvent::Closed { code })) => {
                log::info!("socket {id:?} closed (code {code:?})");
                self.engine.handle_socket_closed(now, id, code);
            }
            Some(DriverEvent::StorageDone { id, result: Ok(()), finished_at_ms }) => {
                self.engine.handle_storage_written(id);
                if let Some(probe) = &mut self.latency_probe {
                    probe.written(id, finished_at_ms);
                }
            }
            Some(DriverEvent::StorageDone { id, result: Err(error), .. }) => {
                log::error!("storing the outbox failed: {error}");
                self.engine.handle_storage_failed(now, id);
            }
            Some(DriverEvent::Intent(Intent::SetDuty(on_duty))) => {
                let records = self.tracker.handle_duty(on_duty);
                self.record(records);
            }
            Some(DriverEvent::Intent(Intent::Act { job_id, action, reason })) => {
                if let Err(error) = self.engine.act(now, &job_id, action, reason) {
                    log::warn!("not done: {error}");
                }
            }
            Some(DriverEvent::Intent(Intent::DismissNotice { job_id })) => {
                self.engine.dismiss_notice(&job_id)
            }
            Some(DriverEvent::Intent(Intent::Reconnect)) => self.engine.start(now),
            Some(DriverEvent::Intent(Intent::ExportDeadLetters)) => {
                let storage = self.storage.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    match storage.load_dead_letters().await {
                        Ok(letters) => browser::download_json("enroute-refused-records.json", &letters),
                        Err(error) => log::error!("cannot read the refused records: {error:?}"),
                    }
                });
            }
            Some(DriverEvent::Intent(Intent::ReplayEventsForTest)) => {
                self.engine.reconnect_replaying_events_from(now, 0)
            }
            Some(DriverEvent::AssignmentsStored { id, ok: true }) => {
                self.engine.handle_assignments_stored(id)
            }
            Some(DriverEvent::AssignmentsStored { id, ok: false }) => {
                self.engine.handle_assignments_store_failed(id)
            }
            Some(DriverEvent::Position(PositionEvent::Fix(fix))) => {
                debug_bridge::note_fix(&fix);
                let records = self.tracker.handle_fix(fix);
                self.record(records);
            }
            Some(DriverEvent::Position(PositionEvent::Error(error))) => {
                let records = self.tracker.handle_error(error, now.unix_ms);
                self.record(records);
            }
            Some(DriverEvent::Permission(permission)) => {
                let records = self.tracker.handle_permission(permission);
                self.record(records);
            }
            Some(DriverEvent::PermissionWatchReady(watch)) => self._permission_watch = watch,
            Some(DriverEvent::BrowserOnline(online)) => self.engine.handle_browser_online(now, online),
            Some(DriverEvent::PageVisibility(visible)) => {
                if visible {
                    self.engine.handle_page_visible(now);
                }
                let records = self.tracker.handle_visibility(visible);
                self.record(records);
            }
            Some(DriverEvent::Retire(progress)) => {
                // Ends the track where the vehicle was last seen and records the end of duty: the
                // dispatcher must not see this driver on duty on a phone someone else now uses.
                let records = self.tracker.handle_duty(false);
                self.record(records);
                self.mode = DriverMode::Drain;
                self.wake_lock.set_wanted(false);
                self.position_watch = None;
                self._permission_watch = None;
                return LoopControl::Retire(progress);
            }
            Some(DriverEvent::Intent(Intent::ApplySettings { token, throttle })) => {
                // The same driver on the same server: the running engine keeps everything it
                // holds (regression: saving settings dropped it, losing the held fix and the
                // records queued behind a write). A new policy ends the current track first.
                let records = self.tracker.set_policy(throttle);
                self.record(records);
                if token != self.engine.identity().token {
                    self.engine.set_token(now, token);
                }
            }
            Some(DriverEvent::Stop) => {
                self.engine.stop();
                return LoopControl::Stop;
            }
            None => {}
        }
        LoopControl::Continue
    }
}

/// Drivers this phone was used for before whose records still wait (their databases other than
/// the one of `driver_id` on `server`), as options to drain them with their stored credentials.
pub async fn drivers_left_behind(server: &str, driver_id: &str) -> Vec<SyncDriverOptions> {
    let mut left = Vec::new();
    for device in device_registry::others(server, driver_id) {
        let storage = match IndexedDbOutbox::open(&device.database).await {
            Ok(storage) => storage,
            Err(error) => {
                log::warn!("cannot look into {}: {error:?}", device.database);
                continue;
            }
        };
        match (storage.has_waiting_records().await, storage.flush_device().await) {
            (Ok(true), Ok(Some(flush))) => left.push(SyncDriverOptions::draining(&device, &flush)),
            (Ok(true), _) => {
                log::warn!("records of {} wait, but who they belong to is not stored", device.driver_id)
            }
            (Err(error), _) => log::warn!("cannot read {}: {error:?}", device.database),
            _ => {}
        }
        storage.close();
    }
    left
}

/// Applies a write in the background and reports back; the engine allows one at a time.
fn store<S: OutboxStorage + 'static>(
    storage: Rc<S>,
    storage_usable: bool,
    write: StorageWrite,
    events: mpsc::UnboundedSender<DriverEvent>,
) {
    wasm_bindgen_futures::spawn_local(async move {
        let result = if storage_usable {
            storage.write(&write).await.map_err(|error| format!("{error:?}"))
        } else {
            Err("the stored outbox could not be read at start".to_string())
        };
        let finished_at_ms = browser::precise_now_ms();
        let _ = events.unbounded_send(DriverEvent::StorageDone { id: write.id, result, finished_at_ms });
    });
}

/// Shortest time between two updates of what the driver sees.
const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);

/// How long to sleep before the next deadline; at most a second while a countdown is shown.
fn wait_time(engine: &Engine, link: &LinkStatus) -> Option<Duration> {
    let until_deadline = engine.poll_timeout().map(|deadline| deadline - browser::now());
    match link {
        LinkStatus::Waiting { .. } => {
            Some(until_deadline.unwrap_or(Duration::MAX).min(Duration::from_secs(1)))
        }
        _ => until_deadline,
    }
}

/// Measures, for the debug bridge, how long records take from creation to durable storage
/// (with `performance.now()`'s sub-millisecond resolution).
#[derive(Default)]
struct StoreLatencyProbe {
    created: std::collections::HashMap<u64, f64>,
    writes: std::collections::HashMap<u64, Vec<u64>>,
}

impl StoreLatencyProbe {
    fn created(&mut self, seq: u64) {
        self.created.insert(seq, browser::precise_now_ms());
    }

    fn writing(&mut self, write: &StorageWrite) {
        self.writes.insert(write.id, write.put.iter().map(|record| record.seq).collect());
    }

    fn written(&mut self, id: u64, finished_at_ms: f64) {
        for seq in self.writes.remove(&id).unwrap_or_default() {
            if let Some(created) = self.created.remove(&seq) {
                debug_bridge::note_store_latency(finished_at_ms - created);
            }
        }
    }
}
