//! Small reads of browser state: the clock, the network flag, the page's origin and visibility,
//! and a random seed.

use enroute_core::Instant;

/// The monotonic clock (`performance.now()`), for the core state machines.
pub fn now() -> Instant {
    let milliseconds = web_sys::window()
        .and_then(|window| window.performance())
        .map_or_else(js_sys::Date::now, |performance| performance.now());
    Instant::from_millis(milliseconds.max(0.0) as u64)
}

/// `performance.now()` with its full resolution, for measurements.
pub fn precise_now_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map_or_else(js_sys::Date::now, |performance| performance.now())
}

/// Wall-clock time in milliseconds since the Unix epoch, for timestamps that leave the device.
pub fn unix_time_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// `navigator.onLine`: false means certainly offline; true means maybe online.
pub fn is_online() -> bool {
    web_sys::window().is_none_or(|window| window.navigator().on_line())
}

/// Whether the page is visible (not in a background tab, not minimised, screen on).
pub fn is_page_visible() -> bool {
    web_sys::window()
        .and_then(|window| window.document())
        .is_none_or(|document| document.visibility_state() == web_sys::VisibilityState::Visible)
}

/// The page's origin, e.g. `http://127.0.0.1:8080`.
pub fn page_origin() -> String {
    web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_else(|| "http://localhost".into())
}

/// 64 bits from the browser's cryptographic generator, to seed the core's jitter.
pub fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    let filled = web_sys::window()
        .and_then(|window| window.crypto().ok())
        .is_some_and(|crypto| crypto.get_random_values_with_u8_array(&mut bytes).is_ok());
    if filled {
        u64::from_le_bytes(bytes)
    } else {
        // No crypto: still spread phones apart by their clocks.
        (js_sys::Math::random() * u64::MAX as f64) as u64 ^ unix_time_ms() as u64
    }
}

/// A wall-clock time as the driver reads it: "14:05" today, "3 Nov 14:05" on other days, in the
/// phone's time zone.
pub fn format_clock_time(unix_ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix_ms as f64));
    let today = js_sys::Date::new_0();
    let same_day = date.get_full_year() == today.get_full_year()
        && date.get_month() == today.get_month()
        && date.get_date() == today.get_date();
    let time = format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
    if same_day {
        time
    } else {
        const MONTHS: [&str; 12] =
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        format!("{} {} {time}", date.get_date(), MONTHS[date.get_month() as usize % 12])
    }
}

/// Midnight today in the phone's time zone, as Unix milliseconds ("done today" starts there).
pub fn start_of_today_ms() -> i64 {
    let today = js_sys::Date::new_0();
    today.set_hours(0);
    today.set_minutes(0);
    today.set_seconds(0);
    today.set_milliseconds(0);
    today.get_time() as i64
}

/// Removes the element with `id` from the page, if there is one (the placeholder `index.html`
/// shows while the app loads).
pub fn remove_element(id: &str) {
    if let Some(element) = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.get_element_by_id(id))
    {
        element.remove();
    }
}

/// Offers `value` as a JSON file download called `file_name` (a Blob and a temporary link: no
/// server round trip, works offline).
pub fn download_json<T: serde::Serialize>(file_name: &str, value: &T) {
    let text = match serde_json::to_string_pretty(value) {
        Ok(text) => text,
        Err(error) => {
            log::error!("cannot encode {file_name}: {error}");
            return;
        }
    };
    let Some(document) = web_sys::window().and_then(|window| window.document()) else { return };
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(&text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/json");
    let blob = match web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) {
        Ok(blob) => blob,
        Err(error) => {
            log::error!("cannot make {file_name}: {error:?}");
            return;
        }
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    if let Ok(link) = document.create_element("a") {
        let _ = link.set_attribute("href", &url);
        let _ = link.set_attribute("download", file_name);
        if let Some(link) = wasm_bindgen::JsCast::dyn_ref::<web_sys::HtmlElement>(&link) {
            link.click();
        }
    }
    // The download starts after this returns: free the blob a minute later, not now.
    gloo_timers::callback::Timeout::new(60_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
}
