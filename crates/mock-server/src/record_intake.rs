//! Storing a driver's records, whichever way they arrive: a `records` frame on the WebSocket
//! or an upload from the app's service worker (`POST /sync/records`). Both go through
//! [`accept_records`], so a record takes effect exactly once whichever path delivers it.

use crate::metrics::Metrics;
use crate::router::AppState;
use crate::store::StoreError;
use enroute_protocol::Record;

/// Stores `records` for `driver_id`, received at `now_ms`, publishes the events their effects
/// produced, and returns the sequence number acknowledged to the device. Blocking (SQLite).
pub fn accept_records(
    state: &AppState,
    driver_id: &str,
    records: &[Record],
    now_ms: i64,
) -> Result<u64, StoreError> {
    let metrics = &state.metrics;
    Metrics::add(&metrics.records_received, records.len() as u64);
    let outcome = state.store.store_records(driver_id, records, now_ms)?;
    Metrics::add(&metrics.records_duplicate, outcome.duplicates);
    Metrics::add(&metrics.records_applied, outcome.applied);
    tracing::debug!(driver = driver_id, ?outcome, "records");
    // Stored with the records; pushed to every connection of the driver.
    for event in &outcome.events {
        state.hub.publish(driver_id, event);
    }
    Ok(outcome.acked_seq)
}
