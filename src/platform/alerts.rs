//! Getting the driver's attention for a new job: on screen, a short sound (Web Audio: browsers
//! have no custom notification sound) and a vibration; in the background, a system
//! notification through the service worker, which opens the app on the job when tapped.

use crate::platform::browser;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Alerts the driver about a job: sound and vibration when the app is on screen, a system
/// notification (if allowed) when it is not.
pub fn alert(title: &str, body: &str, url: &str, tag: &str) {
    if browser::is_page_visible() {
        beep();
        vibrate();
    } else {
        show_system_notification(title.to_string(), body.to_string(), url.to_string(), tag.to_string());
    }
}

/// Two short tones.
fn beep() {
    let Ok(context) = web_sys::AudioContext::new() else { return };
    for (index, frequency) in [880.0, 1175.0].into_iter().enumerate() {
        let (Ok(oscillator), Ok(gain)) = (context.create_oscillator(), context.create_gain()) else { return };
        oscillator.frequency().set_value(frequency);
        gain.gain().set_value(0.2);
        let _ = oscillator
            .connect_with_audio_node(&gain)
            .and_then(|_| gain.connect_with_audio_node(&context.destination()));
        let start = context.current_time() + index as f64 * 0.18;
        let _ = oscillator.start_with_when(start);
        let _ = oscillator.stop_with_when(start + 0.15);
    }
}

fn vibrate() {
    if let Some(window) = web_sys::window() {
        let pattern = js_sys::Array::of3(&200.into(), &100.into(), &200.into());
        let _ = window.navigator().vibrate_with_pattern(&pattern);
    }
}

/// The notification permission: "granted", "denied", "default" (not asked) or "unsupported".
pub fn notification_permission() -> String {
    let Some(window) = web_sys::window() else { return "unsupported".into() };
    let notification = js_sys::Reflect::get(&window, &"Notification".into()).unwrap_or(JsValue::UNDEFINED);
    if notification.is_undefined() {
        return "unsupported".into();
    }
    js_sys::Reflect::get(&notification, &"permission".into())
        .ok()
        .and_then(|value| value.as_string())
        .unwrap_or_else(|| "default".into())
}

/// Asks for the notification permission (call from a tap: browsers ignore it otherwise) and
/// returns the answer.
pub async fn request_notification_permission() -> String {
    let Some(window) = web_sys::window() else { return "unsupported".into() };
    let notification = js_sys::Reflect::get(&window, &"Notification".into()).unwrap_or(JsValue::UNDEFINED);
    let request = js_sys::Reflect::get(&notification, &"requestPermission".into())
        .ok()
        .and_then(|request| request.dyn_into::<js_sys::Function>().ok());
    let Some(request) = request else { return "unsupported".into() };
    match request.call0(&notification).ok().and_then(|promise| promise.dyn_into::<js_sys::Promise>().ok()) {
        Some(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|answer| answer.as_string())
            .unwrap_or_else(notification_permission),
        None => notification_permission(),
    }
}

/// Shows a notification through the service worker registration (the only way on phones).
fn show_system_notification(title: String, body: String, url: String, tag: String) {
    if notification_permission() != "granted" {
        return;
    }
    let Some(window) = web_sys::window() else { return };
    let container = window.navigator().service_worker();
    let Ok(ready) = container.ready() else { return };
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(registration) = JsFuture::from(ready).await else {
            log::warn!("no service worker to show a notification with");
            return;
        };
        let options = js_sys::Object::new();
        let data = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&data, &"url".into(), &url.into());
        let _ = js_sys::Reflect::set(&options, &"body".into(), &body.into());
        let _ = js_sys::Reflect::set(&options, &"tag".into(), &tag.into());
        let _ = js_sys::Reflect::set(&options, &"data".into(), &data);
        let _ = js_sys::Reflect::set(&options, &"icon".into(), &"/public/icons/icon-192.png".into());
        let show = js_sys::Reflect::get(&registration, &"showNotification".into())
            .ok()
            .and_then(|show| show.dyn_into::<js_sys::Function>().ok());
        if let Some(show) = show
            && let Ok(promise) = show.call2(&registration, &title.into(), &options)
            && let Ok(promise) = promise.dyn_into::<js_sys::Promise>()
            && let Err(error) = JsFuture::from(promise).await
        {
            log::warn!("cannot show a notification: {error:?}");
        }
    });
}

/// Calls `on_open` with the app path a tapped notification asks for (the service worker posts
/// `{type: "open", url}` to the page). Lives as long as the returned listener.
pub fn on_notification_open(
    on_open: impl Fn(String) + 'static,
) -> Option<crate::platform::event_listener::EventListener> {
    let container = web_sys::window()?.navigator().service_worker();
    Some(crate::platform::event_listener::EventListener::new(&container, "message", move |event| {
        let Some(data) = event.dyn_ref::<web_sys::MessageEvent>().map(|event| event.data()) else { return };
        let kind = js_sys::Reflect::get(&data, &"type".into()).ok().and_then(|kind| kind.as_string());
        let url = js_sys::Reflect::get(&data, &"url".into()).ok().and_then(|url| url.as_string());
        if let (Some(kind), Some(url)) = (kind, url)
            && kind == "open"
            && url.starts_with('/')
        {
            on_open(url);
        }
    }))
}
