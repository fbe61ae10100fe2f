//! Runs the core [`Connection`] state machine against real sockets, timers and browser events,
//! and publishes what the driver should see into [`SyncState`].
//!
//! All decisions are the state machine's; this loop only turns browser events into
//! `handle_*` calls and the machine's actions into socket operations.

use crate::platform::browser;
use crate::platform::event_listener::EventListener;
use crate::platform::websocket::{Socket, SocketEvent};
use crate::state::SyncState;
use enroute_core::{
    Connection, ConnectionAction, ConnectionConfig, DeviceIdentity, LinkStatus, Settings, SocketId,
    summarize_link,
};
use enroute_protocol::ServerMessage;
use futures::StreamExt;
use futures::channel::mpsc;
use futures::future::{Either, select};
use leptos::prelude::Set;
use std::time::Duration;

/// What the driver needs to connect.
#[derive(Debug, Clone)]
pub struct SyncDriverOptions {
    /// WebSocket URL of the server.
    pub url: String,
    /// Who this device is.
    pub identity: DeviceIdentity,
    /// Timings of the connection.
    pub config: ConnectionConfig,
}

impl SyncDriverOptions {
    /// Options for the given settings, with the default timings.
    pub fn from_settings(settings: &Settings) -> SyncDriverOptions {
        SyncDriverOptions {
            url: settings.websocket_url(&browser::page_origin()),
            identity: DeviceIdentity {
                driver_id: settings.driver_id.clone(),
                token: None,
                app_version: crate::APP_VERSION.to_string(),
            },
            config: ConnectionConfig::default(),
        }
    }
}

enum DriverEvent {
    Socket(SocketId, SocketEvent),
    BrowserOnline(bool),
    PageVisible,
    Stop,
}

/// A running driver. Dropping it closes the connection and stops the loop.
pub struct SyncDriver {
    events: mpsc::UnboundedSender<DriverEvent>,
    _listeners: Vec<EventListener>,
}

impl SyncDriver {
    /// Starts connecting and keeps `state` up to date until dropped.
    pub fn start(options: SyncDriverOptions, state: SyncState) -> SyncDriver {
        let (events, receiver) = mpsc::unbounded();
        let listeners = listen_to_browser(&events);
        wasm_bindgen_futures::spawn_local(run(options, state, events.clone(), receiver));
        SyncDriver { events, _listeners: listeners }
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
            if browser::is_page_visible() {
                let _ = events.unbounded_send(DriverEvent::PageVisible);
            }
        }));
    }
    listeners
}

async fn run(
    options: SyncDriverOptions,
    state: SyncState,
    events: mpsc::UnboundedSender<DriverEvent>,
    mut receiver: mpsc::UnboundedReceiver<DriverEvent>,
) {
    let mut connection = Connection::new(options.config, options.identity, browser::random_seed());
    let mut socket: Option<(SocketId, Socket)> = None;
    connection.handle_browser_online(browser::now(), browser::is_online());
    connection.handle_start(browser::now());
    loop {
        while let Some(action) = connection.poll_action() {
            match action {
                ConnectionAction::Open(id) => {
                    let events = events.clone();
                    let opened = Socket::open(&options.url, move |event| {
                        let _ = events.unbounded_send(DriverEvent::Socket(id, event));
                    });
                    socket = Some((id, opened)); // replacing an old socket drops (closes) it
                }
                ConnectionAction::Send(message) => match &socket {
                    Some((_, current)) => current.send(message.encode()),
                    None => log::warn!("no socket to send {message:?} on"),
                },
                ConnectionAction::Close(id) => {
                    if socket.as_ref().is_some_and(|(current, _)| *current == id) {
                        socket = None;
                    }
                }
            }
        }
        let status = connection.status();
        state.link.set(summarize_link(&status, browser::now()));

        // `receiver` never ends: this loop holds a sender. `None` below means a timer fired.
        let event = match wait_time(&connection, &status) {
            Some(wait) => match select(receiver.next(), gloo_timers::future::sleep(wait)).await {
                Either::Left((event, _)) => event,
                Either::Right(((), _)) => None,
            },
            None => receiver.next().await,
        };
        let now = browser::now();
        match event {
            Some(DriverEvent::Socket(id, SocketEvent::Opened)) => connection.handle_socket_opened(now, id),
            Some(DriverEvent::Socket(id, SocketEvent::Frame(text))) => match ServerMessage::decode(&text) {
                Ok(message) => {
                    connection.handle_message(now, id, &message);
                }
                Err(error) => log::warn!("ignoring a frame from the server: {error}"),
            },
            Some(DriverEvent::Socket(id, SocketEvent::Closed { code })) => {
                log::info!("socket {id:?} closed (code {code:?})");
                connection.handle_socket_closed(now, id);
            }
            Some(DriverEvent::BrowserOnline(online)) => connection.handle_browser_online(now, online),
            Some(DriverEvent::PageVisible) => connection.handle_page_visible(now),
            Some(DriverEvent::Stop) => {
                connection.handle_stop();
                return; // dropping `socket` closes it
            }
            None => {} // a timer fired
        }
        connection.handle_timeout(browser::now());
    }
}

/// How long to sleep before the next deadline; at most a second while a countdown is shown.
fn wait_time(connection: &Connection, status: &LinkStatus) -> Option<Duration> {
    let until_deadline = connection.poll_timeout().map(|deadline| deadline - browser::now());
    match status {
        LinkStatus::Waiting { .. } => {
            Some(until_deadline.unwrap_or(Duration::MAX).min(Duration::from_secs(1)))
        }
        _ => until_deadline,
    }
}
