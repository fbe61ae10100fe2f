//! Which connection speaks for each driver. A driver has one: a new sign-in replaces the old
//! connection, which is told why (`replaced`) and closed, so two phones (or a phone and a
//! forgotten tab) cannot both send as the same driver unnoticed. Revoking a token ends the
//! driver's connection the same way (`token_revoked`).
//!
//! With several nodes on one database (PostgreSQL) a driver's connection may be on another
//! node: this module also holds which drivers are connected elsewhere, as the other nodes'
//! notices and their table say (`postgres_fanout`), and hands this node's own sign-ins and
//! sign-outs to the messenger that tells them (`node_messenger`). Dispatch consoles hear when
//! a driver gets its first connection anywhere and loses its last.

use crate::feed::Feed;
use crate::node_notice::DriverNews;
use enroute_protocol::{ErrorCode, FeedChange};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::sync::oneshot;

/// A connection on another node: the node's name and its number for the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionElsewhere {
    pub node: String,
    pub connection: u64,
}

#[derive(Default)]
struct Connections {
    /// By driver, the connection here: its number, when it signed in (server clock), and how
    /// to end it.
    here: HashMap<String, (u64, i64, oneshot::Sender<ErrorCode>)>,
    /// By driver, its connection on another node.
    elsewhere: HashMap<String, ConnectionElsewhere>,
}

impl Connections {
    fn is_connected(&self, driver_id: &str) -> bool {
        self.here.contains_key(driver_id) || self.elsewhere.contains_key(driver_id)
    }
}

/// The signed-in connection of every driver.
#[derive(Clone, Default)]
pub struct SignIns {
    connections: Arc<Mutex<Connections>>,
    next_id: Arc<AtomicU64>,
    /// Where connects and disconnects are told (none in unit tests).
    feed: Option<Feed>,
    /// Where this node's sign-ins and sign-outs go for the other nodes (set with PostgreSQL).
    messenger: Arc<OnceLock<std::sync::mpsc::Sender<DriverNews>>>,
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

    /// From now on, this node's sign-ins and sign-outs are also sent to `messenger`, in order.
    pub fn tell_other_nodes_through(&self, messenger: std::sync::mpsc::Sender<DriverNews>) {
        let _ = self.messenger.set(messenger);
    }

    /// Runs `change` on the connections, then tells the feed whether `driver_id` got its first
    /// connection or lost its last. Under the connections' lock, so a driver's connects and
    /// disconnects keep their order.
    fn changing<T>(&self, driver_id: &str, change: impl FnOnce(&mut Connections) -> T) -> T {
        let mut connections = self.lock();
        let before = connections.is_connected(driver_id);
        let done = change(&mut connections);
        let after = connections.is_connected(driver_id);
        if before != after
            && let Some(feed) = &self.feed
        {
            let driver_id = driver_id.to_string();
            let change = if after {
                FeedChange::Connected { driver_id }
            } else {
                FeedChange::Disconnected { driver_id }
            };
            feed.publish([change], crate::socket::unix_time_ms());
        }
        done
    }

    fn tell_nodes(&self, news: DriverNews) {
        if let Some(messenger) = self.messenger.get() {
            // The messenger ends only with the process.
            let _ = messenger.send(news);
        }
    }

    /// The drivers with a signed-in connection here.
    pub fn signed_in(&self) -> HashSet<String> {
        self.lock().here.keys().cloned().collect()
    }

    /// This node's connections: by driver, its number and when it signed in.
    pub fn connections_here(&self) -> HashMap<String, (u64, i64)> {
        self.lock()
            .here
            .iter()
            .map(|(driver_id, (id, at_ms, _))| (driver_id.clone(), (*id, *at_ms)))
            .collect()
    }

    /// The drivers with a signed-in connection here or on another node.
    pub fn connected(&self) -> HashSet<String> {
        let connections = self.lock();
        connections.here.keys().chain(connections.elsewhere.keys()).cloned().collect()
    }

    /// Signs a connection in as `driver_id` at `now_ms`, ending the driver's previous
    /// connection. The receiver fires if this connection must end in turn, with the reason.
    pub fn sign_in(&self, driver_id: &str, now_ms: i64) -> (SignIn, oneshot::Receiver<ErrorCode>) {
        let (sender, receiver) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.changing(driver_id, |connections| {
            if let Some((_, _, previous)) =
                connections.here.insert(driver_id.to_string(), (id, now_ms, sender))
            {
                let _ = previous.send(ErrorCode::Replaced);
            }
            self.tell_nodes(DriverNews::SignedIn {
                driver_id: driver_id.to_string(),
                at_ms: now_ms,
                connection: id,
            });
        });
        (SignIn { sign_ins: self.clone(), driver_id: driver_id.to_string(), id }, receiver)
    }

    /// Ends the driver's connection here, if any, telling it `code`.
    pub fn end(&self, driver_id: &str, code: ErrorCode) {
        self.changing(driver_id, |connections| {
            if let Some((id, _, connection)) = connections.here.remove(driver_id) {
                let _ = connection.send(code);
                self.tell_nodes(DriverNews::SignedOut { driver_id: driver_id.to_string(), connection: id });
            }
        });
    }

    /// The driver signed in on another node at `at_ms`: ends its connection here if that one
    /// is older (`replaced`), as a second sign-in here would. A newer one here stays (the
    /// notice came late); clocks of the nodes are taken to agree to well under a sign-in's pace.
    pub fn replaced_elsewhere(&self, driver_id: &str, at_ms: i64) {
        self.changing(driver_id, |connections| {
            if connections.here.get(driver_id).is_some_and(|(_, signed_in_ms, _)| *signed_in_ms <= at_ms)
                && let Some((_, _, connection)) = connections.here.remove(driver_id)
            {
                // The other node's row replaced this one's: nothing to tell it.
                let _ = connection.send(ErrorCode::Replaced);
            }
        });
    }

    /// The driver signed in on another node (a notice): consoles here show it connected, and
    /// an older connection here ends.
    pub fn signed_in_elsewhere(&self, driver_id: &str, at_ms: i64, elsewhere: ConnectionElsewhere) {
        self.changing(driver_id, |connections| {
            connections.elsewhere.insert(driver_id.to_string(), elsewhere);
        });
        self.replaced_elsewhere(driver_id, at_ms);
    }

    /// That connection on another node closed (a notice); a newer one there or elsewhere stays.
    pub fn signed_out_elsewhere(&self, driver_id: &str, elsewhere: &ConnectionElsewhere) {
        self.changing(driver_id, |connections| {
            if connections.elsewhere.get(driver_id) == Some(elsewhere) {
                connections.elsewhere.remove(driver_id);
            }
        });
    }

    /// Every driver's connection on other nodes, as the table says (a sweep): replaces what the
    /// notices said, so a lost notice or a node that died is corrected.
    pub fn set_elsewhere(&self, elsewhere: HashMap<String, ConnectionElsewhere>) {
        let changed: HashSet<String> = {
            let connections = self.lock();
            connections
                .elsewhere
                .keys()
                .chain(elsewhere.keys())
                .filter(|driver_id| connections.elsewhere.get(*driver_id) != elsewhere.get(*driver_id))
                .cloned()
                .collect()
        };
        for driver_id in changed {
            self.changing(&driver_id, |connections| match elsewhere.get(&driver_id) {
                Some(connection) => {
                    connections.elsewhere.insert(driver_id.clone(), connection.clone());
                }
                None => {
                    connections.elsewhere.remove(&driver_id);
                }
            });
        }
    }

    /// Whether `driver_id` has a signed-in connection here.
    pub fn is_signed_in(&self, driver_id: &str) -> bool {
        self.lock().here.contains_key(driver_id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connections> {
        self.connections.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SignIn {
    /// This connection's number on this node.
    pub fn connection(&self) -> u64 {
        self.id
    }
}

impl Drop for SignIn {
    fn drop(&mut self) {
        let (sign_ins, driver_id, id) = (self.sign_ins.clone(), self.driver_id.clone(), self.id);
        sign_ins.changing(&driver_id, |connections| {
            if connections.here.get(&driver_id).is_some_and(|(current, _, _)| *current == id) {
                connections.here.remove(&driver_id);
                sign_ins.tell_nodes(DriverNews::SignedOut { driver_id: driver_id.clone(), connection: id });
            }
        });
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

    #[test]
    fn consoles_hear_a_driver_connect_once_wherever_it_connects_and_disconnect_once_it_is_gone_everywhere() {
        let feed = Feed::new("test".into());
        let mut heard = feed.subscribe().live;
        let sign_ins = SignIns::new(feed);
        let (messenger, told) = std::sync::mpsc::channel();
        sign_ins.tell_other_nodes_through(messenger);
        let on_b = ConnectionElsewhere { node: "b".into(), connection: 1 };
        sign_ins.signed_in_elsewhere("van-1", 1_000, on_b.clone());
        // The driver moves here: still connected, and this node tells the others.
        let (here, _) = sign_ins.sign_in("van-1", 2_000);
        assert!(
            matches!(told.try_recv(), Ok(DriverNews::SignedIn { connection, .. }) if connection == here.connection())
        );
        // Node B's old connection closes: a notice about it does not end what is here.
        sign_ins.signed_out_elsewhere("van-1", &on_b);
        drop(here);
        assert!(matches!(told.try_recv(), Ok(DriverNews::SignedOut { .. })));
        // A sweep finds the driver on node C, then nowhere (node C died).
        let on_c = ConnectionElsewhere { node: "c".into(), connection: 9 };
        sign_ins.set_elsewhere(HashMap::from([("van-1".to_string(), on_c)]));
        sign_ins.set_elsewhere(HashMap::new());
        let mut changes = Vec::new();
        while let Ok(delta) = heard.try_recv() {
            changes.push(delta.change.clone());
        }
        let connected = FeedChange::Connected { driver_id: "van-1".into() };
        let disconnected = FeedChange::Disconnected { driver_id: "van-1".into() };
        assert_eq!(changes, vec![connected.clone(), disconnected.clone(), connected, disconnected]);
        assert!(sign_ins.connected().is_empty());
    }
}
