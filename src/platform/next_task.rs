//! Runs a closure in a task of its own, soon: after the current task and whatever the browser
//! queued meanwhile (a paint, a tap), which is how the app's start is split into short tasks.
//!
//! `setTimeout(0)` would do the same in a visible page, but browsers hold back a hidden page's
//! timers (in Chromium and Firefox to once a second), and a phone starts the app hidden often
//! enough: restored in the background, or opened from a notification while the screen is off.
//! Three timers in a row would then delay the mount, the tracking tab's lock and the driver's
//! start by up to three seconds. A message between the two ports of a `MessageChannel` is not
//! held back. Where no `MessageChannel` can be made, it falls back to `setTimeout(0)`.

use std::cell::RefCell;
use std::collections::VecDeque;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The channel's two ports and its listener, made once and kept for the page's life: a port
/// whose owner is gone could be collected with its messages still queued.
struct Channel {
    sender: web_sys::MessagePort,
    _receiver: web_sys::MessagePort,
    _on_message: Closure<dyn FnMut()>,
}

thread_local! {
    /// Tasks waiting for their message, oldest first; each message runs one.
    static WAITING: RefCell<VecDeque<Box<dyn FnOnce()>>> = RefCell::new(VecDeque::new());
    static CHANNEL: Option<Channel> = open_channel();
}

fn open_channel() -> Option<Channel> {
    let channel = web_sys::MessageChannel::new()
        .inspect_err(|error| log::warn!("no MessageChannel, tasks wait for timers: {error:?}"))
        .ok()?;
    let on_message = Closure::<dyn FnMut()>::new(run_oldest);
    let receiver = channel.port1();
    // Setting `onmessage` also starts the port.
    receiver.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    Some(Channel { sender: channel.port2(), _receiver: receiver, _on_message: on_message })
}

fn run_oldest() {
    // Taken out before it runs: it may queue another.
    let task = WAITING.with(|waiting| waiting.borrow_mut().pop_front());
    if let Some(task) = task {
        task();
    }
}

/// Runs `task` in a task of its own, after the current one. Tasks run in the order given.
pub fn in_next_task(task: impl FnOnce() + 'static) {
    WAITING.with(|waiting| waiting.borrow_mut().push_back(Box::new(task)));
    let posted = CHANNEL.with(|channel| {
        channel.as_ref().is_some_and(|channel| {
            channel
                .sender
                .post_message(&JsValue::NULL)
                .inspect_err(|error| log::warn!("cannot post to the task channel: {error:?}"))
                .is_ok()
        })
    });
    if !posted {
        leptos::prelude::set_timeout(run_oldest, std::time::Duration::ZERO);
    }
}
