//! Pushes stored events to the connections of their driver, live. Events are always stored
//! first (see `assignment_store`); a connection that misses a push (not connected, or
//! subscribed a moment later) gets the event from the store on its next `hello`.

use enroute_protocol::Event;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

type Subscribers = HashMap<String, Vec<(u64, mpsc::UnboundedSender<Event>)>>;

/// Who listens for which driver's events.
#[derive(Clone, Default)]
pub struct Hub {
    subscribers: Arc<Mutex<Subscribers>>,
    next_id: Arc<AtomicU64>,
}

/// A connection's subscription. Dropping it unsubscribes.
pub struct Subscription {
    hub: Hub,
    driver_id: String,
    id: u64,
}

impl Hub {
    /// Starts receiving `driver_id`'s events.
    pub fn subscribe(&self, driver_id: &str) -> (Subscription, mpsc::UnboundedReceiver<Event>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().entry(driver_id.to_string()).or_default().push((id, sender));
        (Subscription { hub: self.clone(), driver_id: driver_id.to_string(), id }, receiver)
    }

    /// Sends a stored event to every connection of its driver.
    pub fn publish(&self, driver_id: &str, event: &Event) {
        if let Some(senders) = self.lock().get_mut(driver_id) {
            senders.retain(|(_, sender)| sender.send(event.clone()).is_ok());
        }
    }

    /// The drivers with a connection here.
    pub fn drivers(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// How many connections listen for `driver_id`.
    pub fn listeners(&self, driver_id: &str) -> usize {
        self.lock().get(driver_id).map_or(0, Vec::len)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Subscribers> {
        self.subscribers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut subscribers = self.hub.lock();
        if let Some(senders) = subscribers.get_mut(&self.driver_id) {
            senders.retain(|(id, _)| *id != self.id);
            if senders.is_empty() {
                subscribers.remove(&self.driver_id);
            }
        }
    }
}
