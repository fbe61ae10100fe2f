//! Which connection speaks for each driver. A driver has one: a new sign-in replaces the old
//! connection, which is told why (`replaced`) and closed, so two phones (or a phone and a
//! forgotten tab) cannot both send as the same driver unnoticed. Revoking a token ends the
//! driver's connection the same way (`token_revoked`). Dispatch consoles hear when a driver gets
//! its first connection and loses its last.

use crate::feed::Feed;
use enroute_protocol::{ErrorCode, FeedChange};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;

/// By driver: the connection's number, when it signed in (server clock), and how to end it.
type Connections = HashMap<String, (u64, i64, oneshot::Sender<ErrorCode>)>;

/// The signed-in connection of every driver.
#[derive(Clone, Default)]
pub struct SignIns {
    connections: Arc<Mutex<Connections>>,
    next_id: Arc<AtomicU64>,
    /// Where connects and disconnects are told (none in unit tests).
    feed: Option<Feed>,
}

/// A connection's sign-in. Dropping it signs out (unless a newer connection replaced it).
pub struct SignIn {
    sign_ins: SignIns,
    driver_id: String,
    id: u64,
}

impl SignIns {
    /// Sign-ins that tell `feed` when a driver connects and disconnects.
    pub fn new(feed: Feed) -> SignIns {
        SignIns { feed: Some(feed), ..SignIns::default() }
    }

    /// Tells the feed, under the connections' lock so a driver's connects and disconnects keep
    /// their order.
    fn tell(&self, change: FeedChange) {
        if let Some(feed) = &self.feed {
            feed.publish([change], crate::socket::unix_time_ms());
        }
    }

    /// The drivers with a signed-in connection.
    pub fn signed_in(&self) -> std::collections::HashSet<String> {
        self.lock().keys().cloned().collect()
    }

    /// Signs a connection in as `driver_id` at `now_ms`, ending the driver's previous
    /// connection. The receiver fires if this connection must end in turn, with the reason.
    pub fn sign_in(&self, driver_id: &str, now_ms: i64) -> (SignIn, oneshot::Receiver<ErrorCode>) {
        let (sender, receiver) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut connections = self.lock();
        match connections.insert(driver_id.to_string(), (id, now_ms, sender)) {
            Some((_, _, previous)) => {
                let _ = previous.send(ErrorCode::Replaced);
            }
            None => self.tell(FeedChange::Connected { driver_id: driver_id.to_string() }),
        }
        drop(connections);
        (SignIn { sign_ins: self.clone(), driver_id: driver_id.to_string(), id }, receiver)
    }

    /// Ends the driver's connection, if any, telling it `code`.
    pub fn end(&self, driver_id: &str, code: ErrorCode) {
        let mut connections = self.lock();
        if let Some((_, _, connection)) = connections.remove(driver_id) {
            let _ = connection.send(code);
            self.tell(FeedChange::Disconnected { driver_id: driver_id.to_string() });
        }
    }

    /// The driver signed in on another node at `at_ms`: ends its connection here if that one
    /// is older (`replaced`), as a second sign-in here would. A newer one here stays (the
    /// notice came late); clocks of the nodes are taken to agree to well under a sign-in's pace.
    pub fn replaced_elsewhere(&self, driver_id: &str, at_ms: i64) {
        let mut connections = self.lock();
        if connections.get(driver_id).is_some_and(|(_, signed_in_ms, _)| *signed_in_ms <= at_ms)
            && let Some((_, _, connection)) = connections.remove(driver_id)
        {
            let _ = connection.send(ErrorCode::Replaced);
            self.tell(FeedChange::Disconnected { driver_id: driver_id.to_string() });
        }
    }

    /// Whether `driver_id` has a signed-in connection.
    pub fn is_signed_in(&self, driver_id: &str) -> bool {
        self.lock().contains_key(driver_id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connections> {
        self.connections.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SignIn {
    fn drop(&mut self) {
        let mut connections = self.sign_ins.lock();
        if connections.get(&self.driver_id).is_some_and(|(id, _, _)| *id == self.id) {
            connections.remove(&self.driver_id);
            self.sign_ins.tell(FeedChange::Disconnected { driver_id: self.driver_id.clone() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_sign_in_replaces_the_first() {
        let sign_ins = SignIns::default();
        let (first, mut first_ended) = sign_ins.sign_in("driver-7", 1);
        let (_second, mut second_ended) = sign_ins.sign_in("driver-7", 2);
        assert_eq!(first_ended.try_recv(), Ok(ErrorCode::Replaced));
        drop(first); // the replaced connection closing does not sign the new one out
        assert!(sign_ins.is_signed_in("driver-7"));
        assert!(second_ended.try_recv().is_err());
        sign_ins.end("driver-7", ErrorCode::TokenRevoked);
        assert_eq!(second_ended.try_recv(), Ok(ErrorCode::TokenRevoked));
        assert!(!sign_ins.is_signed_in("driver-7"));
    }

    #[test]
    fn a_sign_in_on_another_node_replaces_an_older_connection_here_only() {
        let sign_ins = SignIns::default();
        let (_here, mut here_ended) = sign_ins.sign_in("driver-7", 1_000);
        // A notice of a sign-in elsewhere that happened before this one came late: kept.
        sign_ins.replaced_elsewhere("driver-7", 999);
        assert!(here_ended.try_recv().is_err());
        sign_ins.replaced_elsewhere("driver-7", 1_001);
        assert_eq!(here_ended.try_recv(), Ok(ErrorCode::Replaced));
        assert!(!sign_ins.is_signed_in("driver-7"));
        sign_ins.replaced_elsewhere("driver-8", 5); // nobody here: nothing happens
    }
}
