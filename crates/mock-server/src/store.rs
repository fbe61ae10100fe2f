//! What the server holds for each driver: records applied in sequence order, and the current
//! position. Kept in memory for now; every record is de-duplicated by (driver, sequence number).

use enroute_protocol::{Fix, Record, RecordKind};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// Shared handle to the records of every driver.
#[derive(Clone, Default)]
pub struct Store {
    drivers: Arc<Mutex<HashMap<String, DriverRecords>>>,
}

/// The records of one driver.
#[derive(Debug, Default, Clone)]
pub struct DriverRecords {
    /// Every record from 1 up to this sequence number is applied.
    pub acked_seq: u64,
    /// Applied records, in sequence order (the driver's history).
    pub applied: Vec<Record>,
    /// Records received ahead of a gap, waiting for the records before them.
    pub waiting: BTreeMap<u64, Record>,
    /// The newest fix by fix time, whatever order records arrived in.
    pub current_position: Option<Fix>,
    /// Records received that the store already had.
    pub duplicates: u64,
}

/// What storing one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOutcome {
    /// The driver's highest contiguous sequence number after the batch.
    pub acked_seq: u64,
    /// Records in the batch the store did not have before.
    pub new_records: u64,
    /// Records in the batch the store already had.
    pub duplicates: u64,
}

impl Store {
    /// A store that lives as long as the process.
    pub fn in_memory() -> Store {
        Store::default()
    }

    /// The highest contiguous sequence number held for a driver (0 if none).
    pub fn acked_seq(&self, driver_id: &str) -> u64 {
        self.lock().get(driver_id).map_or(0, |driver| driver.acked_seq)
    }

    /// A copy of everything held for a driver.
    pub fn driver(&self, driver_id: &str) -> Option<DriverRecords> {
        self.lock().get(driver_id).cloned()
    }

    /// Stores a batch: records already held are counted as duplicates and ignored; the rest are
    /// applied in sequence order as soon as every record before them is held.
    pub fn store_records(&self, driver_id: &str, records: Vec<Record>) -> StoreOutcome {
        let mut drivers = self.lock();
        let driver = drivers.entry(driver_id.to_string()).or_default();
        let mut new_records = 0;
        let mut duplicates = 0;
        for record in records {
            if record.seq <= driver.acked_seq || driver.waiting.contains_key(&record.seq) {
                duplicates += 1;
                continue;
            }
            new_records += 1;
            if let RecordKind::Location { fix } = &record.kind {
                let is_newer = driver.current_position.is_none_or(|current| fix.time_ms >= current.time_ms);
                if is_newer {
                    driver.current_position = Some(*fix);
                }
            }
            driver.waiting.insert(record.seq, record);
        }
        while let Some(next) = driver.waiting.remove(&(driver.acked_seq + 1)) {
            driver.acked_seq = next.seq;
            driver.applied.push(next);
        }
        driver.duplicates += duplicates;
        StoreOutcome { acked_seq: driver.acked_seq, new_records, duplicates }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, DriverRecords>> {
        // A panic while holding the lock cannot leave the map half-updated in a way that matters
        // more than losing the server, so keep serving.
        self.drivers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
