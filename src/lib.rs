//! Enroute, the driver-side app: Leptos components, the state they render, and the platform
//! layer that talks to the browser.
//!
//! Components render [`state`] and send intents; they hold no protocol logic. Decisions live in
//! `enroute-core` and the wire format in `enroute-protocol`. Only [`platform`] touches browser
//! APIs (WebSocket, storage, service worker, events, clock).
//!
//! The crate is empty unless built for wasm32: the app only runs in a browser.

#![cfg(target_arch = "wasm32")]

pub mod app;
pub mod components;
pub mod pages;
pub mod platform;
pub mod state;

/// The app's version, sent in `hello` and shown on the settings page.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");
