//! HTTP routes: the WebSocket endpoint, health, metrics, the dispatcher's API and page (behind
//! the dispatcher token), and the app's files.

use crate::dispatcher_api;
use crate::feed::Feed;
use crate::hub::Hub;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::record_upload;
use crate::sign_ins::SignIns;
use crate::socket::{refuse_connection, serve_socket};
use crate::static_files::static_files;
use crate::store::{CommitListener, Store};
use crate::store_interface::CommitReport;
use crate::unsigned_connections::UnsignedConnections;
use axum::Extension;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use enroute_protocol::ErrorCode;
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tower_http::compression::CompressionLayer;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub hub: Hub,
    /// Every change dispatch consoles show, numbered in commit order (`/dispatch/ws`).
    pub feed: Feed,
    /// Required by the dispatcher API and page (`Authorization: Bearer …` or `?token=…`).
    pub dispatcher_token: Arc<str>,
    /// Which connection speaks for each driver.
    pub sign_ins: SignIns,
    pub limits: Limits,
    /// One permit per open WebSocket connection, `limits.max_connections` in all.
    pub connection_slots: Arc<Semaphore>,
    /// The app's Content Security Policy: the servers the app may connect to besides this one
    /// (`--connect-origin`) are in its `connect-src`.
    pub content_security_policy: Arc<str>,
    /// Connections not signed in yet, per address (`limits.max_unsigned_per_address`).
    pub unsigned_connections: UnsignedConnections,
    /// Where the dispatch console's map gets its tiles (`--tiles`); none: a coordinate grid.
    pub tiles: Option<Arc<TileSource>>,
    /// Held by every clone of the state: threads that serve it (`postgres_fanout`) end once the
    /// last clone is gone.
    pub(crate) clones: Arc<()>,
}

/// A map tile server for the dispatch console.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TileSource {
    /// An `{z}/{x}/{y}` URL template, as Leaflet takes it (`https://tile.example/{z}/{x}/{y}.png`).
    pub url_template: String,
    /// The attribution the tile server requires, shown on the map.
    pub attribution: String,
}

/// Hears each group commit of the store: pushes the events it stored, in commit order, to their
/// drivers' connections, and counts it.
struct PublishCommits {
    hub: Hub,
    feed: Feed,
    metrics: Arc<Metrics>,
}

impl CommitListener for PublishCommits {
    fn committed(
        &self,
        commit: &CommitReport,
        events: &[(String, enroute_protocol::Event)],
        changes: &[enroute_protocol::FeedChange],
    ) {
        self.metrics.commit_batches.observe(commit.batches as f64);
        self.metrics.commit_duration.observe(commit.seconds);
        for (driver_id, event) in events {
            self.hub.publish(driver_id, event);
        }
        self.feed.publish(changes.iter().cloned(), commit.at_ms);
    }

    fn announced(&self, changes: Vec<enroute_protocol::FeedChange>, at_ms: i64) {
        self.feed.publish(changes, at_ms);
    }
}

impl AppState {
    /// State with a fresh hub and metrics; `dispatcher_token` guards the dispatcher side.
    pub fn with_token(store: impl Store + 'static, dispatcher_token: &str) -> AppState {
        AppState::with_store(Arc::new(store), dispatcher_token)
    }

    /// [`AppState::with_token`] for a store already shared (the one `--db` chose).
    pub fn with_store(store: Arc<dyn Store>, dispatcher_token: &str) -> AppState {
        let limits = Limits::default();
        let metrics = Arc::new(Metrics::default());
        let hub = Hub::default();
        let feed = Feed::default();
        store.set_commit_listener(Arc::new(PublishCommits {
            hub: hub.clone(),
            feed: feed.clone(),
            metrics: metrics.clone(),
        }));
        AppState {
            store,
            metrics,
            hub,
            dispatcher_token: dispatcher_token.into(),
            sign_ins: SignIns::new(feed.clone()),
            feed,
            limits,
            connection_slots: Arc::new(Semaphore::new(limits.max_connections)),
            content_security_policy: crate::static_files::content_security_policy(&[]).into(),
            unsigned_connections: UnsignedConnections::default(),
            tiles: None,
            clones: Arc::new(()),
        }
    }

    /// The same state, letting the app connect to `origins` too (the driver's "Server
    /// address" setting can then name them).
    pub fn with_connect_origins(mut self, origins: &[String]) -> AppState {
        self.content_security_policy = crate::static_files::content_security_policy(origins).into();
        self
    }

    /// The same state, with the console's map drawn from `tiles`.
    pub fn with_tiles(mut self, tiles: Option<TileSource>) -> AppState {
        self.tiles = tiles.map(Arc::new);
        self
    }

    /// The same state with other limits.
    pub fn with_limits(mut self, limits: Limits) -> AppState {
        self.limits = limits;
        self.connection_slots = Arc::new(Semaphore::new(limits.max_connections));
        self
    }

    /// State for tests, with the dispatcher token `test-dispatcher-token`.
    pub fn new(store: impl Store + 'static) -> AppState {
        AppState::with_token(store, "test-dispatcher-token")
    }
}

/// All routes of the server. `dist` is the directory of the built app.
pub fn router(state: AppState, dist: &Path) -> Router {
    let policy = state.content_security_policy.clone();
    let body_timeout = state.limits.http_body_timeout;
    Router::new()
        .route("/ws", get(websocket_upgrade))
        .route(
            "/sync/records",
            post(record_upload::upload_records)
                .layer(DefaultBodyLimit::max(enroute_protocol::MAX_FRAME_BYTES)),
        )
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .merge(crate::console_files::routes())
        .route("/dispatch/ws", get(feed_upgrade))
        .route("/api/drivers", get(dispatcher_api::list_drivers).post(dispatcher_api::register_driver))
        .route("/api/drivers/{driver_id}/token", post(dispatcher_api::rotate_driver_token))
        .route("/api/drivers/{driver_id}/revoke", post(dispatcher_api::revoke_driver))
        .route("/api/drivers/{driver_id}", get(dispatcher_api::show_driver))
        .route("/api/drivers/{driver_id}/records", get(dispatcher_api::driver_records))
        .route("/api/drivers/{driver_id}/messages", post(dispatcher_api::send_message))
        .route(
            "/api/assignments",
            get(dispatcher_api::list_assignments).post(dispatcher_api::create_assignment),
        )
        .route("/api/assignments/{assignment_id}/cancel", post(dispatcher_api::cancel_assignment))
        .with_state(state)
        .fallback_service(static_files(dist, policy).layer(CompressionLayer::new()))
        // A client that trickles a body holds a connection and a task: the whole request (body
        // included) must arrive within the limit, then it gets 408 and the connection closes.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            body_timeout,
        ))
        .layer(axum::middleware::map_response(close_after_refused_body))
}

/// A 408 or 413 leaves the request's body unread: close the connection rather than wait for it.
async fn close_after_refused_body(mut response: Response) -> Response {
    let status = response.status();
    if status == axum::http::StatusCode::REQUEST_TIMEOUT
        || status == axum::http::StatusCode::PAYLOAD_TOO_LARGE
    {
        response.headers_mut().insert(header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    response
}

/// Bytes each connection buffers for reading and before writing: `records` frames are a few
/// KiB, and tungstenite's 128 KiB defaults, times 20,000 connections, would be 5 GB.
const SOCKET_BUFFER_BYTES: usize = 4 * 1024;

async fn websocket_upgrade(
    upgrade: WebSocketUpgrade,
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> impl IntoResponse {
    let slot = state.connection_slots.clone().try_acquire_owned().ok();
    // Without the peer's address (a test serving the router without it) there is no per-address cap.
    let unsigned = peer.map(|Extension(ConnectInfo(peer))| {
        state.unsigned_connections.try_take(peer.ip(), state.limits.max_unsigned_per_address)
    });
    upgrade
        .max_message_size(enroute_protocol::MAX_FRAME_BYTES)
        .max_frame_size(enroute_protocol::MAX_FRAME_BYTES)
        .read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(SOCKET_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            let (write, read) = socket.split();
            match (slot, unsigned) {
                // Upgraded anyway, so the app learns why instead of seeing a failed handshake.
                (None, _) => {
                    let message = format!(
                        "the server has {} connections open; try again later",
                        state.limits.max_connections
                    );
                    refuse_connection(write, read, &state, ErrorCode::ServerFull, message).await;
                }
                (Some(_), Some(None)) => {
                    let message = format!(
                        "{} connections from your address have not signed in yet; try again later",
                        state.limits.max_unsigned_per_address
                    );
                    refuse_connection(write, read, &state, ErrorCode::RateLimited, message).await;
                }
                (Some(slot), unsigned) => {
                    serve_socket(write, read, state, unsigned.flatten()).await;
                    drop(slot);
                }
            }
        })
}

/// A dispatch console's feed (`docs/protocol.md`, "Dispatcher feed"), behind the dispatcher token.
async fn feed_upgrade(
    upgrade: WebSocketUpgrade,
    State(state): State<AppState>,
    _dispatcher: crate::dispatcher_api::Dispatcher,
) -> impl IntoResponse {
    let slot = state.connection_slots.clone().try_acquire_owned().ok();
    upgrade.max_message_size(enroute_protocol::MAX_FRAME_BYTES).on_upgrade(move |socket| async move {
        let (write, read) = socket.split();
        match slot {
            Some(slot) => {
                crate::feed_socket::serve_feed(write, read, state).await;
                drop(slot);
            }
            None => {
                let message = format!(
                    "the server has {} connections open; try again later",
                    state.limits.max_connections
                );
                refuse_connection(write, read, &state, ErrorCode::ServerFull, message).await;
            }
        }
    })
}

async fn health() -> &'static str {
    "ok\n"
}

/// Atomics only: a scrape never waits for the store, and no acknowledgement waits for a scrape.
async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}
