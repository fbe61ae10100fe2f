//! Keeps [`Settings`] in `localStorage`, which is synchronous, so settings are there before the
//! first render.

use enroute_core::Settings;

const KEY: &str = "enroute.settings";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The saved settings, or the defaults if none are saved or they cannot be read.
pub fn load() -> Settings {
    let Some(text) = local_storage().and_then(|storage| storage.get_item(KEY).ok().flatten()) else {
        return Settings::default();
    };
    serde_json::from_str(&text).unwrap_or_else(|error| {
        log::warn!("ignoring unreadable saved settings: {error}");
        Settings::default()
    })
}

/// Saves the settings; logs if storage is unavailable (private mode, quota).
pub fn save(settings: &Settings) {
    let Some(storage) = local_storage() else {
        log::warn!("localStorage is unavailable; settings last until the page closes");
        return;
    };
    match serde_json::to_string(settings) {
        Ok(text) => {
            if let Err(error) = storage.set_item(KEY, &text) {
                log::warn!("cannot save settings: {error:?}");
            }
        }
        Err(error) => log::warn!("cannot encode settings: {error}"),
    }
}
