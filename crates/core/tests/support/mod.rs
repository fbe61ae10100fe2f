//! What the core's integration tests share.

#![allow(dead_code)] // each test file uses part of it

use enroute_core::{OutboxCounters, StorageWrite, StoredOutbox};
use enroute_protocol::Record;
use std::collections::BTreeMap;

/// Durable storage as IndexedDB would hold it: every write applied whole, as the app's
/// `MemoryOutbox` does.
#[derive(Default, Clone)]
pub struct FakeStorage {
    pub records: BTreeMap<u64, Record>,
    pub counters: OutboxCounters,
}

impl FakeStorage {
    pub fn apply(&mut self, write: &StorageWrite) {
        if let Some(up_to) = write.delete_up_to {
            self.records.retain(|seq, _| *seq > up_to);
        }
        for seq in &write.delete {
            self.records.remove(seq);
        }
        for record in &write.put {
            self.records.insert(record.seq, record.clone());
        }
        if let Some(counters) = write.counters {
            self.counters = counters;
        }
    }

    /// What a restarted app would read back.
    pub fn load(&self) -> StoredOutbox {
        StoredOutbox::new(self.records.values().cloned().collect(), self.counters)
    }
}
