//! The service worker reads and writes the app's IndexedDB values by the field names that
//! `device-layout.json` lists (scripts/precache.js writes that file into the worker). The Rust
//! types that write those values must have exactly those fields, or the worker and the app
//! drift apart.

use enroute_core::{DeadLetter, OutboxCounters};
use enroute_protocol::{DriverStatus, Record, RecordId, RecordKind};
use std::collections::BTreeSet;

fn layout() -> serde_json::Value {
    serde_json::from_str(include_str!("../../../device-layout.json")).expect("device-layout.json is JSON")
}

fn listed(key: &str) -> BTreeSet<String> {
    layout()[key].as_array().unwrap().iter().map(|field| field.as_str().unwrap().to_string()).collect()
}

fn fields_of(value: serde_json::Value) -> BTreeSet<String> {
    value.as_object().expect("an object").keys().cloned().collect()
}

#[test]
fn the_counters_have_the_fields_the_worker_reads() {
    let counters =
        OutboxCounters { last_ack_unix_ms: Some(1), duty: Some(DriverStatus::OnDuty), ..Default::default() };
    assert_eq!(fields_of(serde_json::to_value(counters).unwrap()), listed("counter_fields"));
}

#[test]
fn a_dead_letter_has_the_fields_the_worker_writes() {
    let letter = DeadLetter {
        record: Record {
            seq: 1,
            id: RecordId::from_random_bits(1),
            created_at_ms: 1_763_769_600_000,
            kind: RecordKind::Status { status: DriverStatus::OnDuty, reason: None },
        },
        reason: "refused".into(),
        rejected_at_unix_ms: 1_763_769_600_001,
    };
    assert_eq!(fields_of(serde_json::to_value(&letter).unwrap()), listed("dead_letter_fields"));
    // What the worker writes reads back as a dead letter.
    let written = r#"{"record":{"seq":1,"id":"00000000000000000000000000000001","created_at_ms":1763769600000,"kind":"status","status":"on_duty"},"reason":"refused","rejected_at_unix_ms":1763769600001}"#;
    assert_eq!(serde_json::from_str::<DeadLetter>(written).unwrap(), letter);
}

#[test]
fn counters_written_by_the_worker_read_back() {
    // The worker raises last_seq, acked_seq and dead_letters_total in whatever it found.
    let written = r#"{"last_seq":9,"acked_seq":7,"evicted_total":0,"last_ack_unix_ms":null,"sequence_confirmed":true,"duty":"on_duty","dead_letters_total":2}"#;
    let counters: OutboxCounters = serde_json::from_str(written).unwrap();
    assert_eq!((counters.last_seq, counters.acked_seq, counters.dead_letters_total), (9, 7, 2));
    // And counters from before a field existed still read.
    let older: OutboxCounters =
        serde_json::from_str(r#"{"last_seq":3,"acked_seq":1,"sequence_confirmed":true}"#).unwrap();
    assert_eq!(older.last_seq, 3);
}
