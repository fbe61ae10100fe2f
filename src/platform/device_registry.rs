//! Which IndexedDB database holds which device state. Device state (the outbox, its numbering,
//! the jobs, the last event id, the dead letters) belongs to one (server, driver) pair: a
//! record numbered for driver A must never go up as driver B's, and B's `hello` must never
//! carry A's last event id (regression: switching drivers in Settings or with a sign-in link
//! did both, and left A's jobs on screen). So each pair has a database of its own, listed here
//! in `localStorage` (read synchronously at start).
//!
//! The first pair registered gets the database `enroute`, which versions before this one used
//! for whatever driver was signed in: that data stays with the pair that made it. Later pairs
//! get `enroute:<driver>@<server>`. The service worker finds them all by that prefix.

use crate::platform::database::{DATABASE_NAME, DRIVER_DATABASE_PREFIX};
use serde::{Deserialize, Serialize};

/// Where the registry lives in `localStorage`.
const REGISTRY_KEY: &str = "enroute.device-databases";

/// One (server, driver) pair and its database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceDatabase {
    pub database: String,
    pub driver_id: String,
    /// The WebSocket URL of the dispatch server.
    pub server: String,
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Every pair this device has been used for, oldest first.
pub fn all() -> Vec<DeviceDatabase> {
    local_storage()
        .and_then(|storage| storage.get_item(REGISTRY_KEY).ok().flatten())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn save(registry: &[DeviceDatabase]) {
    let Some(storage) = local_storage() else { return };
    match serde_json::to_string(registry) {
        Ok(text) => {
            if let Err(error) = storage.set_item(REGISTRY_KEY, &text) {
                log::warn!("cannot save the list of device databases: {error:?}");
            }
        }
        Err(error) => log::warn!("cannot encode the list of device databases: {error}"),
    }
}

/// The database of `driver_id` on `server`, registered now if it is new.
pub fn database_for(server: &str, driver_id: &str) -> String {
    let mut registry = all();
    if let Some(known) = registry.iter().find(|entry| entry.server == server && entry.driver_id == driver_id)
    {
        return known.database.clone();
    }
    let database = if registry.is_empty() {
        DATABASE_NAME.to_string()
    } else {
        format!("{DRIVER_DATABASE_PREFIX}{driver_id}@{server}")
    };
    registry.push(DeviceDatabase {
        database: database.clone(),
        driver_id: driver_id.into(),
        server: server.into(),
    });
    save(&registry);
    database
}

/// Every registered pair but `driver_id` on `server`.
pub fn others(server: &str, driver_id: &str) -> Vec<DeviceDatabase> {
    all().into_iter().filter(|entry| !(entry.server == server && entry.driver_id == driver_id)).collect()
}
