//! Runs a closure in a task of its own, soon: after the current task and whatever the browser
//! queued meanwhile, which is how the app's start is split into short tasks.
//!
//! In a visible page that is `setTimeout(0)`, as the start was measured with (issue 15): in a
//! trace of Lighthouse's load the browser laid out and painted the app's first frame between the
//! mount's timer and the next, while messages ran those steps back to back. (Lighthouse's total
//! blocking time varied too much between runs on this machine to tell the two apart: 77–179 ms
//! with timers in eleven single runs, 93–225 ms with messages in four, interleaved.)
//!
//! But browsers hold a hidden page's timers back (Chromium checks them once a second), and a
//! phone starts the app hidden often enough: restored in the background, or opened while the
//! screen is off. Three timers in a row would then delay the mount, the tracking tab's lock and
//! the driver's start by up to three seconds. So a hidden page posts a message between the two
//! ports of a `MessageChannel`, which is not held back (nothing paints there anyway).
//!
//! Every wake-up, timer or message, runs the oldest waiting task, so tasks run in the order
//! queued even if the page is shown or hidden in between.

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
    /// Tasks waiting for their wake-up, oldest first; each wake-up runs one.
    static WAITING: RefCell<VecDeque<Box<dyn FnOnce()>>> = RefCell::new(VecDeque::new());
    static CHANNEL: Option<Channel> = open_channel();
}

fn open_channel() -> Option<Channel> {
    let channel = web_sys::MessageChannel::new()
        .inspect_err(|error| {
            log::warn!("no MessageChannel, a hidden page's tasks wait for timers: {error:?}")
        })
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

fn wake_by_timer() {
    leptos::prelude::set_timeout(run_oldest, std::time::Duration::ZERO);
}

/// Whether the wake-up was posted (false: no channel, or the post threw).
fn wake_by_message() -> bool {
    CHANNEL.with(|channel| {
        channel.as_ref().is_some_and(|channel| {
            channel
                .sender
                .post_message(&JsValue::NULL)
                .inspect_err(|error| log::warn!("cannot post to the task channel: {error:?}"))
                .is_ok()
        })
    })
}

/// Runs `task` in a task of its own, after the current one: a timer's in a visible page, a
/// message's in a hidden one. Tasks run in the order given.
pub fn in_next_task(task: impl FnOnce() + 'static) {
    queue_and_wake(Box::new(task), !super::browser::is_page_visible());
}

/// [`in_next_task`] as a hidden page does it, visible or not (for the browser tests, whose pages
/// are always visible).
#[doc(hidden)]
pub fn in_next_task_by_message(task: impl FnOnce() + 'static) {
    queue_and_wake(Box::new(task), true);
}

fn queue_and_wake(task: Box<dyn FnOnce()>, by_message: bool) {
    WAITING.with(|waiting| waiting.borrow_mut().push_back(task));
    if !(by_message && wake_by_message()) {
        wake_by_timer();
    }
}
