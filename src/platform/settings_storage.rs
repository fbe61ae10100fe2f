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

/// The saved settings, updated from a sign-in link (`?driver_id=…&token=…`) if the page was
/// opened with one. The credentials are then saved and taken out of the address bar and the
/// history, so they do not linger in a screenshot or a shared URL.
pub fn load_with_sign_in_link() -> Settings {
    let mut settings = load();
    let Some(window) = web_sys::window() else { return settings };
    let query = window.location().search().unwrap_or_default();
    if !query.contains("token=") {
        return settings;
    }
    if settings.apply_sign_in_link(&query) {
        save(&settings);
    }
    let kept: Vec<&str> = query
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("driver_id=") && !pair.starts_with("token="))
        .collect();
    let path = window.location().pathname().unwrap_or_else(|_| "/".into());
    let address = if kept.is_empty() { path } else { format!("{path}?{}", kept.join("&")) };
    if let Ok(history) = window.history()
        && let Err(error) = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&address))
    {
        log::warn!("cannot take the sign-in link out of the address bar: {error:?}");
    }
    settings
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
