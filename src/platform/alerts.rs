//! Getting the driver's attention for a new job: on screen, a short sound (Web Audio: browsers
//! have no custom notification sound) and a vibration; in the background, a system
//! notification through the service worker, which opens the app on the job when tapped.

use crate::platform::browser;
use crate::platform::js_api::{self, ApiError};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Alerts the driver about a job: sound and vibration when the app is on screen, a system
/// notification (if allowed) when it is not. Whatever this browser lacks (vibration on iPhones
/// and desktops, Web Audio, notifications outside an installed app on iOS) is left out: the
/// banner on screen is always there.
pub fn alert(title: &str, body: &str, url: &str, tag: &str) {
    if browser::is_page_visible() {
        if let Err(error) = beep() {
            log::info!("no sound for the alert: {error}");
        }
        if let Err(error) = vibrate() {
            log::info!("no vibration for the alert: {error}");
        }
    } else {
        show_system_notification(title.to_string(), body.to_string(), url.to_string(), tag.to_string());
    }
}

thread_local! {
    /// One audio context for the page's lifetime: browsers cap how many a page may open.
    static AUDIO: std::cell::RefCell<Option<web_sys::AudioContext>> = const { std::cell::RefCell::new(None) };
}

fn audio_context() -> Result<web_sys::AudioContext, ApiError> {
    if let Some(context) = AUDIO.with(|audio| audio.borrow().clone()) {
        return Ok(context);
    }
    // Safari before 14.1 only had the prefixed constructor.
    let context = js_api::construct("AudioContext", &[])
        .or_else(|_| js_api::construct("webkitAudioContext", &[]))?
        .dyn_into::<web_sys::AudioContext>()
        .map_err(|_| ApiError::Missing("AudioContext".into()))?;
    AUDIO.with(|audio| *audio.borrow_mut() = Some(context.clone()));
    Ok(context)
}

/// Two short tones.
fn beep() -> Result<(), ApiError> {
    let context = audio_context()?;
    let failed =
        |error: JsValue| ApiError::Failed { api: "AudioContext".into(), message: js_api::describe(&error) };
    for (index, frequency) in [880.0, 1175.0].into_iter().enumerate() {
        let oscillator = context.create_oscillator().map_err(failed)?;
        let gain = context.create_gain().map_err(failed)?;
        oscillator.frequency().set_value(frequency);
        gain.gain().set_value(0.2);
        oscillator
            .connect_with_audio_node(&gain)
            .and_then(|_| gain.connect_with_audio_node(&context.destination()))
            .map_err(failed)?;
        let start = context.current_time() + index as f64 * 0.18;
        oscillator.start_with_when(start).map_err(failed)?;
        oscillator.stop_with_when(start + 0.15).map_err(failed)?;
    }
    Ok(())
}

/// A short buzz. WebKit (every iPhone browser) and desktop Firefox have no `navigator.vibrate`.
fn vibrate() -> Result<(), ApiError> {
    let navigator = js_api::navigator().ok_or_else(|| ApiError::Missing("navigator".into()))?;
    let pattern: js_sys::Array = [200, 100, 200].into_iter().map(JsValue::from).collect();
    js_api::call(&navigator, "navigator.vibrate", "vibrate", &[pattern.into()]).map(|_| ())
}

/// The notification permission: "granted", "denied", "default" (not asked) or "unsupported".
pub fn notification_permission() -> String {
    let Some(notification) = js_api::global("Notification") else { return "unsupported".into() };
    js_api::property(&notification, "permission")
        .and_then(|value| value.as_string())
        .unwrap_or_else(|| "default".into())
}

/// Asks for the notification permission (call from a tap: browsers ignore it otherwise) and
/// returns the answer.
pub async fn request_notification_permission() -> String {
    let Some(notification) = js_api::global("Notification") else { return "unsupported".into() };
    match js_api::call_async(&notification, "Notification.requestPermission", "requestPermission", &[]).await
    {
        Ok(answer) => answer.as_string().unwrap_or_else(notification_permission),
        Err(error) => {
            log::warn!("cannot ask for notifications: {error}");
            notification_permission()
        }
    }
}

/// Shows a notification through the service worker registration (the only way on phones).
fn show_system_notification(title: String, body: String, url: String, tag: String) {
    let permission = notification_permission();
    if permission != "granted" {
        log::info!("no system notification for a job: the notification permission is {permission}");
        return;
    }
    let Some(container) = js_api::service_worker_container() else {
        log::info!("no system notification for a job: no service worker here");
        return;
    };
    let ready = match container.ready() {
        Ok(ready) => ready,
        Err(error) => {
            log::warn!("no system notification for a job: {}", js_api::describe(&error));
            return;
        }
    };
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
        let arguments = [JsValue::from(title), options.into()];
        match js_api::call_async(&registration, "showNotification", "showNotification", &arguments).await {
            Ok(_) => log::info!("system notification shown for a job"),
            Err(error) => log::warn!("cannot show a notification: {error}"),
        }
    });
}

/// Calls `on_open` with the app path a tapped notification asks for (the service worker posts
/// `{type: "open", url}` to the page). Lives as long as the returned listener.
pub fn on_notification_open(
    on_open: impl Fn(String) + 'static,
) -> Option<crate::platform::event_listener::EventListener> {
    let container = js_api::service_worker_container()?;
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
