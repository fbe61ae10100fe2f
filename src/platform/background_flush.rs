//! The page's half of the background flush: records still waiting when the driver closes the
//! app are uploaded by the service worker when the network returns (`service-worker.js`,
//! `sync` event). The page tells the worker where to upload and for whom (the `device` entry of
//! the `meta` store) and asks the browser for a Background Sync while records wait that it
//! cannot send itself. Browsers without Background Sync drain at the next start instead.

use crate::platform::{js_api, service_worker};
use serde::Serialize;

pub use crate::platform::database::{DEVICE_KEY, SYNC_TAG};

/// What the service worker needs to upload the outbox (stored as JSON under [`DEVICE_KEY`]).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct FlushDevice {
    pub driver_id: String,
    pub token: Option<String>,
    /// Where to post the records (`/sync/records` on the dispatch server).
    pub records_url: String,
}

/// Asks the browser to wake the service worker for a flush when the network is there. Does
/// nothing where there is no service worker or no Background Sync (Firefox, Safari): there the
/// app drains its outbox itself at start, when the network returns and when it is shown again.
pub fn request() {
    wasm_bindgen_futures::spawn_local(async {
        let Some(registration) = service_worker::registration().await else { return };
        let Some(sync) = js_api::property(&registration, "sync") else {
            log::info!(
                "no Background Sync here: waiting records are sent at the next start, when the network returns and when the app is shown again"
            );
            return;
        };
        if let Err(error) =
            js_api::call_async(&sync, "SyncManager.register", "register", &[SYNC_TAG.into()]).await
        {
            log::warn!("cannot register a background flush: {error}");
        }
    });
}
