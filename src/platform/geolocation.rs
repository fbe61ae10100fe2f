//! Watching the phone's position (Geolocation API). Positions become plain [`Fix`]es; errors
//! become [`GeolocationError`]s. Dropping the [`PositionWatch`] stops watching.
//!
//! Tests in engines that cannot emulate positions (WebKitGTK has no test provider; the browser
//! tests have no permission) switch to a test source instead ([`use_test_positions`], or the
//! page opened with `?debug&positions=test`): the watch is then fed by [`feed_test_position`]
//! and never touches the Geolocation API. Chromium's and Firefox's end-to-end tests use the
//! real API with the browser's own emulation.

use enroute_core::{Fix, GeolocationError};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// What the watch reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PositionEvent {
    Fix(Fix),
    Error(GeolocationError),
}

/// A running `watchPosition` (or a watch on the test source).
pub enum PositionWatch {
    Browser {
        geolocation: web_sys::Geolocation,
        id: i32,
        // web-sys types positions only under its unstable flag: they are read as plain objects.
        _on_position: Closure<dyn FnMut(JsValue)>,
        _on_error: Closure<dyn FnMut(JsValue)>,
    },
    Test(Rc<dyn Fn(PositionEvent)>),
}

/// The test source: whether it replaces the Geolocation API, the watches it feeds, and the last
/// position (a new watch gets it at once, as from a browser that already knows where it is).
#[derive(Default)]
struct TestSource {
    enabled: bool,
    watches: Vec<std::rc::Weak<dyn Fn(PositionEvent)>>,
    last: Option<PositionEvent>,
}

thread_local! {
    static TEST_SOURCE: RefCell<TestSource> = RefCell::default();
}

/// From now on, watches are fed by [`feed_test_position`] instead of the Geolocation API.
pub fn use_test_positions() {
    TEST_SOURCE.with(|source| source.borrow_mut().enabled = true);
}

/// Gives every test watch a position (or an error), as the browser would.
pub fn feed_test_position(event: PositionEvent) {
    let watches: Vec<_> = TEST_SOURCE.with(|source| {
        let mut source = source.borrow_mut();
        source.last = Some(event);
        source.watches.retain(|watch| watch.strong_count() > 0);
        source.watches.iter().filter_map(|watch| watch.upgrade()).collect()
    });
    // Called outside the borrow: a watch may start or stop others.
    for watch in watches {
        watch(event);
    }
}

/// How long the browser may take for a position before reporting a timeout.
const TIMEOUT_MS: u32 = 30_000;

/// Starts watching with high accuracy; `None` if the browser has no geolocation.
pub fn watch_position(on_event: impl Fn(PositionEvent) + Clone + 'static) -> Option<PositionWatch> {
    if TEST_SOURCE.with(|source| source.borrow().enabled) {
        let watch: Rc<dyn Fn(PositionEvent)> = Rc::new(on_event);
        let last = TEST_SOURCE.with(|source| {
            let mut source = source.borrow_mut();
            source.watches.push(Rc::downgrade(&watch));
            source.last
        });
        if let Some(last) = last {
            watch(last);
        }
        return Some(PositionWatch::Test(watch));
    }
    let geolocation = web_sys::window()?.navigator().geolocation().ok()?;
    let on_fix = on_event.clone();
    let on_position = Closure::<dyn FnMut(JsValue)>::new(move |position: JsValue| match to_fix(&position) {
        Some(fix) => on_fix(PositionEvent::Fix(fix)),
        None => log::warn!("ignoring a position without coordinates: {position:?}"),
    });
    let on_error = Closure::<dyn FnMut(JsValue)>::new(move |error: JsValue| {
        let code = number(&error, "code").unwrap_or(2.0) as u16;
        let kind = match code {
            1 => GeolocationError::PermissionDenied,
            3 => GeolocationError::Timeout,
            _ => GeolocationError::PositionUnavailable,
        };
        let message =
            js_sys::Reflect::get(&error, &"message".into()).ok().and_then(|message| message.as_string());
        log::warn!("geolocation error {code}: {}", message.unwrap_or_default());
        on_event(PositionEvent::Error(kind));
    });
    let options = web_sys::PositionOptions::new();
    options.set_enable_high_accuracy(true);
    options.set_maximum_age(0);
    options.set_timeout(TIMEOUT_MS);
    let id = geolocation
        .watch_position_with_error_callback_and_options(
            on_position.as_ref().unchecked_ref(),
            Some(on_error.as_ref().unchecked_ref()),
            &options,
        )
        .ok()?;
    Some(PositionWatch::Browser { geolocation, id, _on_position: on_position, _on_error: on_error })
}

impl Drop for PositionWatch {
    fn drop(&mut self) {
        if let PositionWatch::Browser { geolocation, id, .. } = self {
            geolocation.clear_watch(*id);
        }
    }
}

/// A numeric property, if present and finite (`null` and `NaN` mean "not given").
fn number(object: &JsValue, name: &str) -> Option<f64> {
    js_sys::Reflect::get(object, &name.into())
        .ok()
        .and_then(|value| value.as_f64())
        .filter(|value| value.is_finite())
}

/// A browser position (`GeolocationPosition`) as a fix. Speed, heading and altitude are left out
/// when the browser gives none (or `NaN`, its way of saying "no heading" when standing still).
fn to_fix(position: &JsValue) -> Option<Fix> {
    let coords = js_sys::Reflect::get(position, &"coords".into()).ok()?;
    Some(Fix {
        time_ms: number(position, "timestamp")? as i64,
        lat: number(&coords, "latitude")?,
        lon: number(&coords, "longitude")?,
        accuracy_m: number(&coords, "accuracy")?,
        speed_mps: number(&coords, "speed"),
        heading_deg: number(&coords, "heading"),
        altitude_m: number(&coords, "altitude"),
    })
}
