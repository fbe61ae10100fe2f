//! The fleet as a dispatch console's snapshot shows it: every registered driver (and any the
//! server heard from), with duty, pause reason, last contact, waiting records and position, and
//! every job with its history. One read under the store's lock, so it is one consistent moment.

use crate::sql::{SqlConnection, SqliteSql};
use crate::store::{SqliteStore, StoreError};
use enroute_protocol::{FeedDriver, FeedJob, Fix, JobChange};
use std::collections::HashMap;

/// Drivers by id and jobs oldest first; `connected` is left false (the socket layer knows it).
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    pub drivers: Vec<FeedDriver>,
    pub jobs: Vec<FeedJob>,
    /// With several nodes (PostgreSQL): the newest shared feed change this moment holds
    /// (`shared_feed`), so a console skips those that reach it after the snapshot.
    pub shared_seq: Option<u64>,
}

/// A stored enum value (`on_duty`, `page_hidden`) back as its type; `None` if unreadable.
fn from_wire<T: serde::de::DeserializeOwned>(text: Option<String>) -> Option<T> {
    text.and_then(|text| serde_json::from_value(serde_json::Value::String(text)).ok())
}

impl SqliteStore {
    /// The whole fleet, for a console's snapshot: one read under the store's lock.
    pub fn fleet(&self) -> Result<Fleet, StoreError> {
        let inner = self.lock();
        fleet_in(&mut SqliteSql(&inner.connection))
    }
}

/// The whole fleet as the connection sees it (inside one transaction for one moment).
pub(crate) fn fleet_in(db: &mut dyn SqlConnection) -> Result<Fleet, StoreError> {
    let jobs = crate::assignment_store::assignments_in(db, None)?
        .into_iter()
        .rev()
        .map(|record| FeedJob {
            driver_id: record.driver_id,
            assignment: record.assignment,
            history: record
                .history
                .into_iter()
                .map(|entry| JobChange {
                    at_ms: entry.at_ms,
                    status: entry.status,
                    changed_by: entry.changed_by,
                    record_seq: entry.record_seq,
                })
                .collect(),
        })
        .collect();
    let waiting: HashMap<String, u64> = db
        .query(
            "SELECT r.driver_id, COUNT(*) FROM records r JOIN drivers d ON d.driver_id = r.driver_id
                 WHERE r.seq > d.acked_seq GROUP BY r.driver_id",
            &[],
        )?
        .iter()
        .map(|row| Ok((row.text(0)?, row.int(1)? as u64)))
        .collect::<Result<_, StoreError>>()?;
    let rows = db.query(
        "SELECT ids.driver_id, d.duty, d.paused_reason, d.last_seen_ms, d.position
             FROM (SELECT driver_id FROM driver_accounts UNION SELECT driver_id FROM drivers) ids
             LEFT JOIN drivers d ON d.driver_id = ids.driver_id
             ORDER BY ids.driver_id",
        &[],
    )?;
    let mut drivers = Vec::new();
    for row in rows {
        let (driver_id, duty, paused, last_seen_ms, position) =
            (row.text(0)?, row.opt_text(1)?, row.opt_text(2)?, row.opt_int(3)?, row.opt_text(4)?);
        let position = position
            .map(|text| {
                serde_json::from_str::<Fix>(&text).map_err(|error| StoreError::Corrupt(error.to_string()))
            })
            .transpose()?;
        drivers.push(FeedDriver {
            waiting: waiting.get(&driver_id).copied().unwrap_or(0),
            driver_id,
            connected: false,
            duty: from_wire(duty),
            paused: from_wire(paused),
            last_seen_ms,
            position,
        });
    }
    Ok(Fleet { drivers, jobs, shared_seq: None })
}
