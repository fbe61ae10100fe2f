//! HTTP routes: the WebSocket endpoint, health, and the app's files.

use crate::socket::serve_socket;
use crate::static_files::static_files;
use crate::store::Store;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::StreamExt;
use std::path::Path;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
}

impl AppState {
    pub fn new(store: Store) -> AppState {
        AppState { store }
    }
}

/// All routes of the server. `dist` is the directory of the built app.
pub fn router(state: AppState, dist: &Path) -> Router {
    Router::new()
        .route("/ws", get(websocket_upgrade))
        .route("/health", get(health))
        .with_state(state)
        .fallback_service(static_files(dist))
}

async fn websocket_upgrade(upgrade: WebSocketUpgrade, State(state): State<AppState>) -> impl IntoResponse {
    upgrade.max_message_size(enroute_protocol::MAX_FRAME_BYTES).on_upgrade(move |socket| {
        let (write, read) = socket.split();
        serve_socket(write, read, state.store)
    })
}

async fn health() -> &'static str {
    "ok\n"
}
