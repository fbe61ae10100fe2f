//! Storing a driver's records, whichever way they arrive: a `records` frame on the WebSocket
//! or an upload from the app's service worker (`POST /sync/records`). Both go through
//! [`accept_records`], so a record takes effect exactly once whichever path delivers it, and
//! both check every record against the protocol's limits the same way.

use crate::metrics::Metrics;
use crate::router::AppState;
use crate::store::{RejectedRecord, StoreError};
use enroute_protocol::{Record, RecordRejection, check_record};

/// What the device is told after a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    /// Every record up to here is applied or settled.
    pub acked_seq: u64,
    /// The batch's records refused for good.
    pub rejected: Vec<RecordRejection>,
}

/// Stores `records` for `driver_id`, received at `now_ms`, publishes the events their effects
/// produced, and returns what to acknowledge. Records outside the protocol's limits, and the
/// `unreadable` ones the decoder could not read, are refused one by one: they are settled so
/// nothing valid behind them waits, and the device moves them aside. Waits for the store's
/// group commit; blocks no thread.
pub async fn accept_records(
    state: &AppState,
    driver_id: &str,
    records: &[Record],
    unreadable: &[RecordRejection],
    now_ms: i64,
) -> Result<Intake, StoreError> {
    let metrics = &state.metrics;
    Metrics::add(&metrics.records_received, (records.len() + unreadable.len()) as u64);
    let mut rejected: Vec<RejectedRecord> = unreadable
        .iter()
        .map(|rejection| RejectedRecord { rejection: rejection.clone(), body: None })
        .collect();
    let problems: Vec<(usize, String)> = records
        .iter()
        .enumerate()
        .filter_map(|(index, record)| {
            check_record(record, now_ms).err().map(|problem| (index, problem.to_string()))
        })
        .collect();
    let valid: std::borrow::Cow<'_, [Record]> = if problems.is_empty() {
        records.into()
    } else {
        for (index, reason) in &problems {
            let record = &records[*index];
            tracing::warn!(driver = driver_id, seq = record.seq, %reason, "refused a record");
            rejected.push(RejectedRecord {
                rejection: RecordRejection { seq: record.seq, reason: reason.clone() },
                body: Some(record.encode()),
            });
        }
        let refused: std::collections::HashSet<usize> = problems.iter().map(|(index, _)| *index).collect();
        records
            .iter()
            .enumerate()
            .filter(|(index, _)| !refused.contains(index))
            .map(|(_, record)| record.clone())
            .collect::<Vec<_>>()
            .into()
    };
    let refused_now = rejected.len() as u64;
    let outcome = state.store.store_records(driver_id, valid.into_owned(), rejected, now_ms).await?;
    Metrics::add(&metrics.records_duplicate, outcome.duplicates);
    Metrics::add(&metrics.records_applied, outcome.applied);
    Metrics::add(&metrics.records_rejected, refused_now);
    Metrics::add(&metrics.records_parked_refused, outcome.parked_refused);
    if outcome.parked_refused > 0 {
        tracing::warn!(
            driver = driver_id,
            let_go = outcome.parked_refused,
            "too many records wait behind a missing one; the highest were let go unacknowledged"
        );
    }
    tracing::debug!(driver = driver_id, ?outcome, "records");
    // The events the records caused were published by the store's commit listener, in
    // commit order.
    Ok(Intake { acked_seq: outcome.acked_seq, rejected: outcome.rejected })
}
