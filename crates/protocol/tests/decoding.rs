//! How the decoders treat frames that are not exactly what this version sends.

use enroute_protocol::*;

#[test]
fn unknown_message_type_is_malformed() {
    let error = ClientMessage::decode(r#"{"type":"teleport","to":"mars"}"#).unwrap_err();
    assert!(matches!(&error, DecodeError::Malformed { reason } if reason.contains("teleport")), "{error}");
}

#[test]
fn not_json_is_malformed() {
    let error = ServerMessage::decode("hello?").unwrap_err();
    assert!(matches!(error, DecodeError::Malformed { .. }));
    assert!(error.to_string().starts_with("malformed frame: "), "{error}");
}

#[test]
fn missing_field_is_malformed_and_names_the_field() {
    let error = ClientMessage::decode(r#"{"type":"hello","protocol":1,"app_version":"x","last_event_id":0}"#)
        .unwrap_err();
    assert!(error.to_string().contains("driver_id"), "{error}");
}

#[test]
fn negative_sequence_number_is_malformed() {
    let frame = r#"{"type":"records","records":[{"seq":-1,"id":"a","created_at_ms":0,"kind":"status","status":"on_duty"}]}"#;
    assert!(matches!(ClientMessage::decode(frame), Err(DecodeError::Malformed { .. })));
}

#[test]
fn a_record_of_unknown_kind_is_rejected_alone_and_the_rest_of_the_frame_is_read() {
    let frame = r#"{"type":"records","records":[
        {"seq":1,"id":"a","created_at_ms":0,"kind":"teleport"},
        {"seq":2,"id":"b","created_at_ms":0,"kind":"status","status":"on_duty"}]}"#;
    let ClientMessage::Records(batch) = ClientMessage::decode(frame).unwrap() else { panic!("not records") };
    assert_eq!(batch.records.len(), 1);
    assert_eq!(batch.records[0].seq, 2);
    assert_eq!(batch.unreadable.len(), 1);
    assert_eq!(batch.unreadable[0].seq, 1);
    assert!(batch.unreadable[0].reason.contains("teleport"), "{}", batch.unreadable[0].reason);
}

#[test]
fn a_record_without_a_readable_seq_fails_the_frame() {
    let frame =
        r#"{"type":"records","records":[{"seq":"one","id":"a","created_at_ms":0,"kind":"teleport"}]}"#;
    assert!(matches!(ClientMessage::decode(frame), Err(DecodeError::Malformed { .. })));
    let frame = r#"{"type":"records","records":[{"seq":0,"id":"a","created_at_ms":0,"kind":"teleport"}]}"#;
    assert!(matches!(ClientMessage::decode(frame), Err(DecodeError::Malformed { .. })));
}

#[test]
fn records_outside_the_limits_are_named_by_the_check() {
    let now_ms = 1_763_769_600_000;
    let fix = Fix {
        time_ms: now_ms,
        lat: 48.1,
        lon: 11.5,
        accuracy_m: 5.0,
        speed_mps: Some(10.0),
        heading_deg: Some(90.0),
        altitude_m: None,
    };
    let record =
        |kind: RecordKind| Record { seq: 7, id: RecordId::from_random_bits(7), created_at_ms: now_ms, kind };
    assert_eq!(check_record(&record(RecordKind::Location { fix }), now_ms), Ok(()));
    let bad_fixes = [
        Fix { lat: 91.0, ..fix },
        Fix { lon: f64::NAN, ..fix },
        Fix { accuracy_m: -1.0, ..fix },
        Fix { speed_mps: Some(f64::INFINITY), ..fix },
        Fix { heading_deg: Some(400.0), ..fix },
        Fix { time_ms: now_ms + 2 * 86_400_000, ..fix },
        Fix { time_ms: 0, ..fix },
    ];
    for bad in bad_fixes {
        assert!(check_record(&record(RecordKind::Location { fix: bad }), now_ms).is_err(), "{bad:?}");
    }
    let long_reason = record(RecordKind::Assignment {
        assignment_id: "job-1".into(),
        action: DriverAction::Fail,
        reason: Some("x".repeat(MAX_REASON_CHARS + 1)),
    });
    assert!(check_record(&long_reason, now_ms).unwrap_err().to_string().contains("more than 500"));
    let empty_job = record(RecordKind::Assignment {
        assignment_id: " ".into(),
        action: DriverAction::Accept,
        reason: None,
    });
    assert!(check_record(&empty_job, now_ms).is_err());
    // A gap's ranges that are not below its own number are ignored, not refused (refusing it
    // would leave its good ranges unsettled): the record passes, and the range settles nothing.
    let gap_ahead = record(RecordKind::Gap { reason: GapReason::Evicted, lost: vec![SeqRange::new(3, 9)] });
    assert_eq!(check_record(&gap_ahead, now_ms), Ok(()));
    if let RecordKind::Gap { lost, .. } = &gap_ahead.kind {
        assert_eq!(usable_gap_ranges(lost, gap_ahead.seq).count(), 0);
    }
    let fail_without_reason = record(RecordKind::Assignment {
        assignment_id: "job-1".into(),
        action: DriverAction::Fail,
        reason: None,
    });
    assert_eq!(
        check_record(&fail_without_reason, now_ms),
        Err(RecordProblem::MissingReason { record: "a fail action" })
    );
    let paused_without_reason =
        record(RecordKind::Status { status: DriverStatus::TrackingPaused, reason: None });
    assert_eq!(
        check_record(&paused_without_reason, now_ms),
        Err(RecordProblem::MissingReason { record: "a tracking_paused status" })
    );
    let bad_id = Record { id: RecordId("not hex".into()), ..record(RecordKind::Location { fix }) };
    assert_eq!(check_record(&bad_id, now_ms), Err(RecordProblem::BadRecordId));
    let from_the_future =
        Record { created_at_ms: now_ms + 2 * 86_400_000, ..record(RecordKind::Location { fix }) };
    assert!(check_record(&from_the_future, now_ms).is_err());
}

#[test]
fn oversized_frame_is_refused_before_parsing() {
    let frame = format!(r#"{{"type":"ping","nonce":1,"padding":"{}"}}"#, "x".repeat(MAX_FRAME_BYTES));
    assert_eq!(
        ClientMessage::decode(&frame),
        Err(DecodeError::TooLarge { bytes: frame.len(), limit: MAX_FRAME_BYTES })
    );
}

#[test]
fn unknown_fields_are_ignored_so_newer_peers_can_add_fields() {
    let message = ServerMessage::decode(r#"{"type":"pong","nonce":9,"server_load":0.3}"#).unwrap();
    assert_eq!(message, ServerMessage::Pong(Pong { nonce: 9 }));
}

#[test]
fn unknown_error_code_decodes_as_unknown() {
    let message =
        ServerMessage::decode(r#"{"type":"error","code":"quota_exceeded","message":"later"}"#).unwrap();
    assert_eq!(
        message,
        ServerMessage::Error(ErrorMessage { code: ErrorCode::Unknown, message: "later".into() })
    );
}

#[test]
fn error_code_as_str_matches_the_wire() {
    for code in ALL_ERROR_CODES {
        assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{}\"", code.as_str()));
    }
}

#[test]
fn live_flag_defaults_to_false() {
    let frame = r#"{"type":"records","records":[]}"#;
    assert_eq!(
        ClientMessage::decode(frame).unwrap(),
        ClientMessage::Records(RecordBatch { unreadable: Vec::new(), live: false, records: vec![] })
    );
}

#[test]
fn record_id_has_32_hex_digits() {
    assert_eq!(RecordId::from_random_bits(1).0, "00000000000000000000000000000001");
    assert_eq!(RecordId::from_random_bits(u128::MAX).0.len(), 32);
}

#[test]
fn seq_ranges_collapse_sorted_numbers() {
    assert_eq!(
        SeqRange::collapse([1, 2, 3, 7, 9, 10]),
        vec![SeqRange::new(1, 3), SeqRange::new(7, 7), SeqRange::new(9, 10)]
    );
    assert_eq!(SeqRange::collapse([]), vec![]);
    assert_eq!(SeqRange::collapse([4, 4, 5]), vec![SeqRange::new(4, 5)]);
    assert_eq!(SeqRange::new(3, 2).len(), 0);
    assert_eq!(SeqRange::new(u64::MAX - 1, u64::MAX).len(), 2);
}

#[test]
fn only_location_fixes_are_evictable() {
    let gap = RecordKind::Gap { reason: GapReason::ServerLost, lost: vec![] };
    assert!(!gap.is_evictable());
    assert!(!RecordKind::Status { status: DriverStatus::OnDuty, reason: None }.is_evictable());
}

/// Found by the property tests: without serde_json's `float_roundtrip` this heading came back
/// one ulp off (…654 instead of …657).
#[test]
fn regression_a_heading_decodes_to_the_exact_f64_that_was_encoded() {
    let record = enroute_protocol::Record {
        seq: 1,
        id: enroute_protocol::RecordId::from_random_bits(0),
        created_at_ms: 0,
        kind: enroute_protocol::RecordKind::Location {
            fix: enroute_protocol::Fix {
                time_ms: 0,
                lat: 0.0,
                lon: 0.0,
                accuracy_m: 0.0,
                speed_mps: None,
                heading_deg: Some(181.74542288358657),
                altitude_m: None,
            },
        },
    };
    assert_eq!(enroute_protocol::Record::decode(&record.encode()).unwrap(), record);
}

#[test]
fn capped_ranges_bridge_the_smallest_holes_first_and_cover_every_number() {
    let seqs = [1, 2, 4, 10, 11, 13, 30];
    let ranges = SeqRange::collapse_capped(seqs, 3);
    assert_eq!(ranges, vec![SeqRange::new(1, 4), SeqRange::new(10, 13), SeqRange::new(30, 30)]);
    assert_eq!(SeqRange::collapse_capped(seqs, 10), SeqRange::collapse(seqs));
    assert_eq!(SeqRange::collapse_capped(seqs, 1), vec![SeqRange::new(1, 30)]);
    assert_eq!(SeqRange::collapse_capped([], 1), Vec::<SeqRange>::new());
}

// Version 2's compact forms.

const BASE: i64 = 1_763_769_600_000;

fn compact() -> WireFormat {
    WireFormat::Compact { time_base_ms: BASE }
}

fn compact_records(frame: &str) -> RecordBatch {
    match compact().decode_client(frame) {
        Ok(ClientMessage::Records(batch)) => batch,
        other => panic!("not records: {other:?}"),
    }
}

#[test]
fn a_compact_location_reads_back_with_absolute_times() {
    let batch = compact_records(r#"["r",[7,"AAAAAAAAAAAAAAAAAAAABw",1500,500,48.1,11.5,5,null,90]]"#);
    assert!(batch.unreadable.is_empty());
    let record = &batch.records[0];
    assert_eq!(
        (record.seq, record.id.0.as_str(), record.created_at_ms),
        (7, "00000000000000000000000000000007", BASE + 1500)
    );
    let RecordKind::Location { fix } = &record.kind else { panic!("not a location") };
    assert_eq!(
        *fix,
        Fix {
            time_ms: BASE + 1000,
            lat: 48.1,
            lon: 11.5,
            accuracy_m: 5.0,
            speed_mps: None,
            heading_deg: Some(90.0),
            altitude_m: None
        }
    );
}

#[test]
fn a_bad_compact_location_is_rejected_alone_when_its_seq_is_readable() {
    let batch = compact_records(
        r#"["r",[1,"not an id",0,0,48.1,11.5,5],[2,"AAAAAAAAAAAAAAAAAAAABw",0,0,48.1,11.5],[3,"AAAAAAAAAAAAAAAAAAAABw",0.5,0,48.1,11.5,5],[4,"AAAAAAAAAAAAAAAAAAAABw",0,0,"north",11.5,5],[5,"AAAAAAAAAAAAAAAAAAAABw",0,0,48.1,11.5,5]]"#,
    );
    assert_eq!(batch.records.iter().map(|record| record.seq).collect::<Vec<_>>(), [5]);
    let mut reasons: Vec<(u64, String)> =
        batch.unreadable.iter().map(|rejection| (rejection.seq, rejection.reason.clone())).collect();
    reasons.sort();
    assert!(reasons[0].1.contains("id is not 22 characters"), "{reasons:?}");
    assert!(reasons[1].1.contains("7 to 10 fields"), "{reasons:?}");
    assert!(reasons[2].1.contains("not whole numbers"), "{reasons:?}");
    assert!(reasons[3].1.contains("invalid type"), "{reasons:?}");
    assert_eq!(reasons.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[test]
fn a_compact_entry_without_a_readable_seq_fails_the_frame() {
    for frame in [
        r#"["r",["one","AAAAAAAAAAAAAAAAAAAABw",0,0,48.1,11.5,5]]"#,
        r#"["r",[0,"x",0,0,1,1,1]]"#,
        r#"["r",[]]"#,
    ] {
        assert!(matches!(compact().decode_client(frame), Err(DecodeError::Malformed { .. })), "{frame}");
    }
}

#[test]
fn regression_a_compact_frame_whose_records_are_all_unreadable_encodes_and_decodes_again() {
    // Found by review: `["r",[5]]` decodes to a batch of no readable records; encoded again it
    // is `["r"]`, which must read back (version 1 reads `"records":[]` too).
    let batch = compact_records(r#"["r",[5]]"#);
    assert!(batch.records.is_empty());
    assert_eq!(batch.unreadable.len(), 1);
    let again = compact().encode_client(&ClientMessage::Records(batch));
    assert_eq!(again, r#"["r"]"#);
    assert!(compact_records(&again).records.is_empty());
}

#[test]
fn unknown_or_malformed_compact_frames_are_malformed_with_a_reason() {
    for (frame, says) in [
        (r#"["x",1]"#, "unknown compact frame"),
        (r#"["p"]"#, "one whole number"),
        (r#"["p",1,2]"#, "one whole number"),
        (r#"["e",-1]"#, "one whole number"),
        (r#"[1,2]"#, "starts with its tag"),
        (r#"["r",1"#, "EOF"),
    ] {
        let error = compact().decode_client(frame).unwrap_err();
        assert!(error.to_string().contains(says), "{frame}: {error}");
    }
    for frame in [r#"["x",1]"#, r#"["a"]"#, r#"["a","1"]"#, r#"["o",1,[[1,"x"]]]"#] {
        assert!(matches!(ServerMessage::decode(frame), Err(DecodeError::Malformed { .. })), "{frame}");
    }
}

#[test]
fn a_version_1_connection_reads_objects_only_and_version_2_reads_both() {
    let compact_ping = r#"["p",3]"#;
    assert!(WireFormat::Objects.decode_client(compact_ping).is_err());
    assert_eq!(compact().decode_client(compact_ping).unwrap(), ClientMessage::Ping(Ping { nonce: 3 }));
    let object_ping = r#"{"type":"ping","nonce":3}"#;
    assert_eq!(compact().decode_client(object_ping).unwrap(), ClientMessage::Ping(Ping { nonce: 3 }));
    assert_eq!(WireFormat::Objects.encode_client(&ClientMessage::Ping(Ping { nonce: 3 })), object_ping);
}

#[test]
fn an_oversized_compact_frame_is_refused_before_parsing() {
    let frame = format!("[\"r\",{}]", "1,".repeat(MAX_FRAME_BYTES / 2));
    assert!(matches!(compact().decode_client(&frame), Err(DecodeError::TooLarge { .. })));
    let frame = format!("[\"a\",1{}]", " ".repeat(MAX_FRAME_BYTES));
    assert!(matches!(ServerMessage::decode(&frame), Err(DecodeError::TooLarge { .. })));
}

#[test]
fn a_record_with_no_compact_form_goes_as_an_object_in_a_compact_frame() {
    let odd_id = Record {
        seq: 9,
        id: RecordId("not-hex".into()),
        created_at_ms: BASE,
        kind: RecordKind::Location {
            fix: Fix {
                time_ms: BASE,
                lat: 1.0,
                lon: 2.0,
                accuracy_m: 3.0,
                speed_mps: None,
                heading_deg: None,
                altitude_m: None,
            },
        },
    };
    let frame = compact().encode_client(&ClientMessage::Records(RecordBatch::new(vec![odd_id.clone()])));
    assert_eq!(frame, format!("[\"r\",{}]", odd_id.encode()));
    assert_eq!(compact_records(&frame).records, [odd_id]);
}

#[test]
fn fixes_are_kept_to_the_precision_the_app_sends() {
    let phone = Fix {
        time_ms: BASE,
        lat: 49.02370166666667,
        lon: -12.065176666666666,
        accuracy_m: 14.123456789,
        speed_mps: Some(10.340333333333335),
        heading_deg: Some(85.06),
        altitude_m: Some(347.149),
    };
    assert_eq!(
        phone.at_sent_precision(),
        Fix {
            time_ms: BASE,
            lat: 49.0237017,
            lon: -12.0651767,
            accuracy_m: 14.1,
            speed_mps: Some(10.34),
            heading_deg: Some(85.1),
            altitude_m: Some(347.1),
        }
    );
}
