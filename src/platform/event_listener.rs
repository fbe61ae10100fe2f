//! A DOM event listener that is removed when dropped, so nothing outlives its owner.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

/// Keeps a listener registered on `target` for `event_type` until dropped.
pub struct EventListener {
    target: web_sys::EventTarget,
    event_type: &'static str,
    callback: Closure<dyn FnMut(web_sys::Event)>,
}

impl EventListener {
    /// Registers `callback` for `event_type` events on `target`.
    pub fn new(
        target: &web_sys::EventTarget,
        event_type: &'static str,
        callback: impl FnMut(web_sys::Event) + 'static,
    ) -> EventListener {
        let callback = Closure::<dyn FnMut(web_sys::Event)>::new(callback);
        if let Err(error) =
            target.add_event_listener_with_callback(event_type, callback.as_ref().unchecked_ref())
        {
            log::error!("cannot listen to {event_type}: {error:?}");
        }
        EventListener { target: target.clone(), event_type, callback }
    }
}

impl Drop for EventListener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.event_type, self.callback.as_ref().unchecked_ref());
    }
}
