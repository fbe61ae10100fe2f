//! Property tests: the decoders take anything a socket or an upload can carry and answer with a
//! value or an error, never a panic; what the app encodes, the server decodes unchanged.

use enroute_protocol::{
    ClientMessage, DriverAction, DriverStatus, Fix, GapReason, PauseReason, Record, RecordBatch, RecordId,
    RecordKind, RecordUpload, SeqRange, ServerMessage, UploadReceipt, WireFormat, check_record,
};
use proptest::prelude::*;

/// Any JSON value, nested a few levels, with the protocol's own keys and tags among the names so
/// the generator reaches deep into the messages instead of failing at the first field.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let names = prop::sample::select(vec![
        "type",
        "kind",
        "seq",
        "id",
        "created_at_ms",
        "fix",
        "lat",
        "lon",
        "time_ms",
        "accuracy_m",
        "records",
        "live",
        "protocol",
        "driver_id",
        "token",
        "status",
        "reason",
        "lost",
        "acked_seq",
        "rejected",
        "hello",
        "records",
        "ping",
        "pong",
        "welcome",
        "ack",
        "event",
        "error",
        "code",
        "message",
        "location",
        "gap",
        "assignment",
        "assignment_id",
        "action",
        "last_event_id",
        "app_version",
        "nonce",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        names.clone().prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
            prop::collection::vec((names.clone(), inner), 0..8).prop_map(|pairs| {
                serde_json::Value::Object(
                    pairs.into_iter().map(|(name, value)| (name.to_string(), value)).collect(),
                )
            }),
        ]
    })
}

fn fix() -> impl Strategy<Value = Fix> {
    (
        any::<i64>(),
        -90.0..=90.0f64,
        -180.0..=180.0f64,
        0.0..10_000.0f64,
        prop::option::of(0.0..100.0f64),
        prop::option::of(0.0..360.0f64),
        prop::option::of(-500.0..9000.0f64),
    )
        .prop_map(|(time_ms, lat, lon, accuracy_m, speed_mps, heading_deg, altitude_m)| Fix {
            time_ms,
            lat,
            lon,
            accuracy_m,
            speed_mps,
            heading_deg,
            altitude_m,
        })
}

fn record_kind() -> impl Strategy<Value = RecordKind> {
    let status = prop::sample::select(vec![
        DriverStatus::OnDuty,
        DriverStatus::OffDuty,
        DriverStatus::TrackingPaused,
        DriverStatus::TrackingResumed,
    ]);
    let reason = prop::option::of(prop::sample::select(vec![
        PauseReason::PageHidden,
        PauseReason::PermissionDenied,
        PauseReason::PositionUnavailable,
        PauseReason::Timeout,
    ]));
    prop_oneof![
        fix().prop_map(|fix| RecordKind::Location { fix }),
        (status, reason).prop_map(|(status, reason)| RecordKind::Status { status, reason }),
        (".{1,40}", prop::sample::select(DriverAction::ALL.to_vec()), prop::option::of(".{0,60}")).prop_map(
            |(assignment_id, action, reason)| RecordKind::Assignment { assignment_id, action, reason }
        ),
        prop::collection::vec((1..1_000u64, 0..1_000u64), 1..5).prop_map(|ranges| RecordKind::Gap {
            reason: GapReason::Evicted,
            lost: ranges
                .into_iter()
                .map(|(first, length)| SeqRange { first, last: first + length })
                .collect(),
        }),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (any::<u64>(), any::<u128>(), any::<i64>(), record_kind()).prop_map(|(seq, bits, created_at_ms, kind)| {
        Record { seq, id: RecordId::from_random_bits(bits), created_at_ms, kind }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn decoders_never_panic_on_arbitrary_text(text in ".{0,300}") {
        let _ = ClientMessage::decode(&text);
        let _ = ServerMessage::decode(&text);
        let _ = RecordUpload::decode(&text);
        let _ = UploadReceipt::decode(&text);
        let _ = Record::decode(&text);
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_json(value in json_value()) {
        let text = value.to_string();
        let _ = ClientMessage::decode(&text);
        let _ = ServerMessage::decode(&text);
        let _ = RecordUpload::decode(&text);
        let _ = Record::decode(&text);
        // The same object as a records frame: every record in it is read, rejected or refused.
        let frame = serde_json::json!({ "type": "records", "live": false, "records": [value.clone(), value] });
        if let Ok(ClientMessage::Records(batch)) = ClientMessage::decode(&frame.to_string()) {
            prop_assert_eq!(batch.records.len() + batch.unreadable.len(), 2);
        }
    }

    #[test]
    fn a_record_survives_encoding_and_decoding(record in record()) {
        let decoded = Record::decode(&record.encode()).unwrap();
        prop_assert_eq!(decoded, record.clone());
        let batch = ClientMessage::Records(RecordBatch::new(vec![record.clone()]));
        match ClientMessage::decode(&batch.encode()).unwrap() {
            ClientMessage::Records(decoded) => prop_assert_eq!(decoded.records, vec![record]),
            other => prop_assert!(false, "decoded as {:?}", other),
        }
    }

    #[test]
    fn a_batch_survives_the_compact_form(records in prop::collection::vec(record(), 1..4), live in any::<bool>(), time_base_ms in any::<i64>()) {
        let wire = WireFormat::Compact { time_base_ms };
        let batch = ClientMessage::Records(RecordBatch { live, ..RecordBatch::new(records) });
        prop_assert_eq!(wire.decode_client(&wire.encode_client(&batch)).unwrap(), batch);
    }

    #[test]
    fn compact_decoders_never_panic_on_arbitrary_json(value in json_value(), tag in prop::sample::select(vec!["r", "R", "p", "e", "a", "o", "x"]), time_base_ms in any::<i64>()) {
        let wire = WireFormat::Compact { time_base_ms };
        let frame = serde_json::json!([tag, value.clone(), value]).to_string();
        let _ = wire.decode_client(&frame);
        let _ = ServerMessage::decode(&frame);
        let _ = wire.decode_client(&value.to_string());
    }

    #[test]
    fn record_checks_never_panic_and_accept_what_they_accept_again(record in record(), now_ms in any::<i64>()) {
        if check_record(&record, now_ms).is_ok() {
            let decoded = Record::decode(&record.encode()).unwrap();
            prop_assert!(check_record(&decoded, now_ms).is_ok());
        }
    }
}
