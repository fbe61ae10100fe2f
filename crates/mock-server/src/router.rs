//! HTTP routes: the WebSocket endpoint, health, metrics, the read-only driver API, and the
//! app's files.

use crate::metrics::Metrics;
use crate::socket::serve_socket;
use crate::static_files::static_files;
use crate::store::Store;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use std::path::Path;
use std::sync::Arc;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(store: Store) -> AppState {
        AppState { store, metrics: Arc::new(Metrics::default()) }
    }
}

/// All routes of the server. `dist` is the directory of the built app.
pub fn router(state: AppState, dist: &Path) -> Router {
    Router::new()
        .route("/ws", get(websocket_upgrade))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/drivers", get(list_drivers))
        .route("/api/drivers/{driver_id}", get(show_driver))
        .route("/api/drivers/{driver_id}/records", get(driver_records))
        .with_state(state)
        .fallback_service(static_files(dist))
}

async fn websocket_upgrade(upgrade: WebSocketUpgrade, State(state): State<AppState>) -> impl IntoResponse {
    upgrade.max_message_size(enroute_protocol::MAX_FRAME_BYTES).on_upgrade(move |socket| {
        let (write, read) = socket.split();
        serve_socket(write, read, state)
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

async fn list_drivers(State(state): State<AppState>) -> Response {
    blocking_json(move || state.store.drivers().map(Some)).await
}

async fn show_driver(State(state): State<AppState>, UrlPath(driver_id): UrlPath<String>) -> Response {
    blocking_json(move || state.store.driver(&driver_id)).await
}

async fn driver_records(State(state): State<AppState>, UrlPath(driver_id): UrlPath<String>) -> Response {
    blocking_json(move || state.store.history(&driver_id).map(Some)).await
}

/// Runs a store query off the async threads and answers with JSON, 404 for `None`, or 500.
async fn blocking_json<T, F>(query: F) -> Response
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce() -> Result<Option<T>, crate::store::StoreError> + Send + 'static,
{
    match tokio::task::spawn_blocking(query).await {
        Ok(Ok(Some(value))) => axum::Json(value).into_response(),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "no such driver\n").into_response(),
        Ok(Err(error)) => {
            tracing::error!(%error, "query failed");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response()
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "query panicked\n").into_response(),
    }
}
