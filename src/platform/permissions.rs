//! The location permission as the Permissions API reports it, and its changes.

use crate::platform::event_listener::EventListener;
use crate::platform::js_api;
use enroute_core::LocationPermission;
use wasm_bindgen::JsCast;

/// Keeps listening to permission changes until dropped.
pub struct PermissionWatch {
    _listener: EventListener,
}

fn read(status: &web_sys::PermissionStatus) -> LocationPermission {
    match status.state() {
        web_sys::PermissionState::Granted => LocationPermission::Granted,
        web_sys::PermissionState::Denied => LocationPermission::Denied,
        web_sys::PermissionState::Prompt => LocationPermission::Prompt,
        _ => LocationPermission::Unknown,
    }
}

/// Reads the geolocation permission, calls `on_change` with it now and at every change.
/// `None` if the browser has no Permissions API (the app then learns from positions and errors).
pub async fn watch_permission(on_change: impl Fn(LocationPermission) + 'static) -> Option<PermissionWatch> {
    let permissions = js_api::navigator_property("permissions")?;
    let descriptor = js_sys::Object::new();
    js_sys::Reflect::set(&descriptor, &"name".into(), &"geolocation".into()).ok()?;
    let status =
        js_api::call_async(&permissions, "navigator.permissions.query", "query", &[descriptor.into()])
            .await
            .map_err(|error| log::info!("the location permission cannot be read ahead: {error}"))
            .ok()?;
    let status: web_sys::PermissionStatus = status.dyn_into().ok()?;
    on_change(read(&status));
    let listened = status.clone();
    let listener = EventListener::new(&status, "change", move |_| on_change(read(&listened)));
    Some(PermissionWatch { _listener: listener })
}
