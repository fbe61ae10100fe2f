//! A wall clock for countdowns on screen: a signal set to the time every second.

use gloo_timers::callback::Interval;
use leptos::prelude::{RwSignal, Set};

/// Keeps `clock_ms` at the current Unix time, updated every second, until dropped.
pub struct Clock {
    _interval: Interval,
}

impl Clock {
    pub fn start(clock_ms: RwSignal<i64>) -> Clock {
        clock_ms.set(crate::platform::browser::unix_time_ms());
        Clock {
            _interval: Interval::new(1_000, move || clock_ms.set(crate::platform::browser::unix_time_ms())),
        }
    }
}
