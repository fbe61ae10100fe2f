//! Checked access to browser APIs that an engine may lack or that may throw.
//!
//! A web-sys binding without `catch` that throws (calling `navigator.vibrate` where WebKit and
//! desktop Firefox have none, reading `controller` of a missing `navigator.serviceWorker`)
//! unwinds through the wasm stack: `RefCell`s borrowed on the way stay borrowed, the async
//! executor among them, and the app is dead until a reload. So every API that is optional in
//! some engine (see `docs/browsers.md`) is looked up and called through this module, which
//! turns "missing" and "threw" into an [`ApiError`] the caller logs and survives. Typed web-sys
//! bindings without `catch` are used only on objects every engine has, or on objects this
//! module has just produced.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why a browser API call did not happen or did not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The engine does not have it (or it was removed): the feature degrades.
    Missing(String),
    /// It exists but threw, or its promise rejected.
    Failed { api: String, message: String },
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Missing(api) => write!(formatter, "{api} is not available in this browser"),
            ApiError::Failed { api, message } => write!(formatter, "{api} failed: {message}"),
        }
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn failed(api: &str, error: &JsValue) -> ApiError {
        ApiError::Failed { api: api.to_string(), message: describe(error) }
    }
}

/// A thrown value as text: an `Error`'s name and message, or whatever it is.
pub fn describe(error: &JsValue) -> String {
    if let Some(error) = error.dyn_ref::<js_sys::Error>() {
        return format!("{}: {}", String::from(error.name()), String::from(error.message()));
    }
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}

/// `window.navigator`, if there is a window (there is none in a worker).
pub fn navigator() -> Option<web_sys::Navigator> {
    web_sys::window().map(|window| window.navigator())
}

/// `target[name]`, or `None` when it is missing, `undefined`, `null`, or its getter throws.
pub fn property(target: &JsValue, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(target, &JsValue::from_str(name))
        .ok()
        .filter(|value| !value.is_undefined() && !value.is_null())
}

/// A property of `navigator` (`"locks"`, `"wakeLock"`, `"serviceWorker"`, …), if the engine has it.
pub fn navigator_property(name: &str) -> Option<JsValue> {
    property(navigator()?.as_ref(), name)
}

/// A global (`"Notification"`, `"AudioContext"`, …), if the engine has it.
pub fn global(name: &str) -> Option<JsValue> {
    property(&js_sys::global(), name)
}

/// Calls `target[method](...args)`. `api` names it in errors (`"navigator.vibrate"`).
pub fn call(target: &JsValue, api: &str, method: &str, args: &[JsValue]) -> Result<JsValue, ApiError> {
    let function = property(target, method)
        .and_then(|function| function.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(|| ApiError::Missing(api.to_string()))?;
    let arguments: js_sys::Array = args.iter().collect();
    function.apply(target, &arguments).map_err(|error| ApiError::failed(api, &error))
}

/// Calls `target[method](...args)` and waits for the promise it returns (a plain value counts as
/// resolved).
pub async fn call_async(
    target: &JsValue,
    api: &str,
    method: &str,
    args: &[JsValue],
) -> Result<JsValue, ApiError> {
    let returned = call(target, api, method, args)?;
    match returned.dyn_into::<js_sys::Promise>() {
        Ok(promise) => JsFuture::from(promise).await.map_err(|error| ApiError::failed(api, &error)),
        Err(value) => Ok(value),
    }
}

/// `new Global(...args)` for a global constructor (`"AudioContext"`), checked.
pub fn construct(name: &str, args: &[JsValue]) -> Result<JsValue, ApiError> {
    let constructor = global(name)
        .and_then(|constructor| constructor.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(|| ApiError::Missing(name.to_string()))?;
    let arguments: js_sys::Array = args.iter().collect();
    js_sys::Reflect::construct(&constructor, &arguments).map_err(|error| ApiError::failed(name, &error))
}

/// `navigator.serviceWorker`, typed, if the engine has it (not in Firefox's private windows, nor
/// on pages that are not a secure context).
pub fn service_worker_container() -> Option<web_sys::ServiceWorkerContainer> {
    navigator_property("serviceWorker")?.dyn_into().ok()
}
