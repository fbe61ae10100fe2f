//! Counts the WebSocket connections of each IP address that have not signed in yet, so one
//! address cannot take every connection slot with sockets that never say `hello` (each may
//! hold one for at most the hello deadline, and only this many at once).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Not-yet-signed-in connections per address.
#[derive(Clone, Default)]
pub struct UnsignedConnections {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One not-yet-signed-in connection; dropping it (on sign-in or close) frees its place.
pub struct UnsignedSlot {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    address: IpAddr,
}

impl UnsignedConnections {
    /// A place for one more connection from `address`, unless it already holds `cap`.
    pub fn try_take(&self, address: IpAddr, cap: usize) -> Option<UnsignedSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(address).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(UnsignedSlot { counts: self.counts.clone(), address })
    }

    /// Connections from `address` that have not signed in.
    pub fn count(&self, address: IpAddr) -> usize {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).get(&address).copied().unwrap_or(0)
    }
}

impl Drop for UnsignedSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_the_cap_and_a_dropped_slot_frees_its_place() {
        let connections = UnsignedConnections::default();
        let address: IpAddr = "127.0.0.9".parse().unwrap();
        let other: IpAddr = "127.0.0.10".parse().unwrap();
        let first = connections.try_take(address, 2).unwrap();
        let _second = connections.try_take(address, 2).unwrap();
        assert!(connections.try_take(address, 2).is_none());
        assert!(connections.try_take(other, 2).is_some(), "other addresses are not affected");
        drop(first);
        assert!(connections.try_take(address, 2).is_some());
        assert_eq!(connections.count(other), 0);
    }
}
