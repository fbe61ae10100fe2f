//! HTTP routes: the WebSocket endpoint, health, metrics, the dispatcher's API and page (behind
//! the dispatcher token), and the app's files.

use crate::dispatcher_api;
use crate::hub::Hub;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::record_upload;
use crate::sign_ins::SignIns;
use crate::socket::{refuse_connection, serve_socket};
use crate::static_files::static_files;
use crate::store::Store;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use enroute_protocol::ErrorCode;
use futures_util::StreamExt;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tower_http::compression::CompressionLayer;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub hub: Hub,
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
}

impl AppState {
    /// State with a fresh hub and metrics; `dispatcher_token` guards the dispatcher side.
    pub fn with_token(store: Store, dispatcher_token: &str) -> AppState {
        let limits = Limits::default();
        AppState {
            store,
            metrics: Arc::new(Metrics::default()),
            hub: Hub::default(),
            dispatcher_token: dispatcher_token.into(),
            sign_ins: SignIns::default(),
            limits,
            connection_slots: Arc::new(Semaphore::new(limits.max_connections)),
            content_security_policy: crate::static_files::content_security_policy(&[]).into(),
        }
    }

    /// The same state, letting the app connect to `origins` too (the driver's "Server
    /// address" setting can then name them).
    pub fn with_connect_origins(mut self, origins: &[String]) -> AppState {
        self.content_security_policy = crate::static_files::content_security_policy(origins).into();
        self
    }

    /// The same state with other limits.
    pub fn with_limits(mut self, limits: Limits) -> AppState {
        self.limits = limits;
        self.connection_slots = Arc::new(Semaphore::new(limits.max_connections));
        self
    }

    /// State for tests, with the dispatcher token `test-dispatcher-token`.
    pub fn new(store: Store) -> AppState {
        AppState::with_token(store, "test-dispatcher-token")
    }
}

/// All routes of the server. `dist` is the directory of the built app.
pub fn router(state: AppState, dist: &Path) -> Router {
    let policy = state.content_security_policy.clone();
    Router::new()
        .route("/ws", get(websocket_upgrade))
        .route(
            "/sync/records",
            post(record_upload::upload_records)
                .layer(DefaultBodyLimit::max(enroute_protocol::MAX_FRAME_BYTES)),
        )
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/dispatch", get(dispatcher_api::dispatcher_page))
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
}

async fn websocket_upgrade(upgrade: WebSocketUpgrade, State(state): State<AppState>) -> impl IntoResponse {
    let slot = state.connection_slots.clone().try_acquire_owned().ok();
    upgrade.max_message_size(enroute_protocol::MAX_FRAME_BYTES).on_upgrade(move |socket| async move {
        let (write, read) = socket.split();
        match slot {
            Some(slot) => {
                serve_socket(write, read, state).await;
                drop(slot);
            }
            // Upgraded anyway, so the app learns why instead of seeing a failed handshake.
            None => refuse_connection(write, &state, ErrorCode::ServerFull).await,
        }
    })
}

async fn health() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<AppState>) -> Response {
    let body =
        tokio::task::spawn_blocking(move || state.metrics.render(&state.store)).await.unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
