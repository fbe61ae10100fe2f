//! Messages between tabs of the app (BroadcastChannel): the leader tab publishes what it shows,
//! the others display it.

use crate::platform::event_listener::EventListener;
use wasm_bindgen::JsCast;

/// The channel's name, shared by every tab of the app on this origin.
pub const CHANNEL_NAME: &str = "enroute-sync";

/// An open channel. Dropping it stops listening.
pub struct TabChannel {
    channel: web_sys::BroadcastChannel,
    _listener: Option<EventListener>,
}

impl TabChannel {
    /// Opens the channel; `None` if the browser has no BroadcastChannel.
    pub fn open() -> Option<TabChannel> {
        let channel = web_sys::BroadcastChannel::new(CHANNEL_NAME).ok()?;
        Some(TabChannel { channel, _listener: None })
    }

    /// Opens the channel and calls `on_message` with every text another tab posts.
    pub fn subscribe(mut on_message: impl FnMut(String) + 'static) -> Option<TabChannel> {
        let mut opened = TabChannel::open()?;
        let listener = EventListener::new(&opened.channel, "message", move |event| {
            if let Some(text) =
                event.dyn_ref::<web_sys::MessageEvent>().and_then(|event| event.data().as_string())
            {
                on_message(text);
            }
        });
        opened._listener = Some(listener);
        Some(opened)
    }

    /// Posts `text` to every other tab listening.
    pub fn publish(&self, text: &str) {
        if let Err(error) = self.channel.post_message(&text.into()) {
            log::warn!("cannot post to other tabs: {error:?}");
        }
    }
}

impl Drop for TabChannel {
    fn drop(&mut self) {
        self.channel.close();
    }
}
