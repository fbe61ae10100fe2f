//! The only part of the app that touches browser APIs: clock, events, WebSocket, storage,
//! service worker, geolocation, permissions, wake lock. Each module wraps one API and hands plain Rust values to the rest of the app.

pub mod alerts;
pub mod background_flush;
pub mod browser;
pub mod clock;
pub mod database;
pub mod debug_bridge;
pub mod event_listener;
pub mod geolocation;
pub mod leadership;
pub mod outbox_storage;
pub mod permissions;
pub mod service_worker;
pub mod settings_storage;
pub mod sync_driver;
pub mod tab_channel;
pub mod wake_lock;
pub mod websocket;
