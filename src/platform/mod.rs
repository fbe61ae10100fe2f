//! The only part of the app that touches browser APIs: clock, events, WebSocket, storage,
//! service worker, geolocation, permissions, wake lock. Each module wraps one API and hands
//! plain Rust values to the rest of the app. APIs that an engine may lack or that may throw are
//! reached through [`js_api`] only, so a missing one degrades a feature and never the app.

pub mod alerts;
pub mod background_flush;
pub mod browser;
pub mod browser_support;
pub mod clock;
pub mod database;
pub mod debug_bridge;
pub mod device_registry;
pub mod event_listener;
pub mod geolocation;
pub mod js_api;
pub mod leadership;
pub mod next_task;
pub mod outbox_storage;
pub mod permissions;
pub mod service_worker;
pub mod settings_storage;
pub mod storage_persistence;
pub mod sync_driver;
pub mod tab_channel;
pub mod tab_lease;
pub mod wake_lock;
pub mod websocket;
