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
fn unknown_record_kind_is_malformed() {
    let frame = r#"{"type":"records","records":[{"seq":1,"id":"a","created_at_ms":0,"kind":"teleport"}]}"#;
    assert!(matches!(ClientMessage::decode(frame), Err(DecodeError::Malformed { .. })));
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
    for code in [
        ErrorCode::BadMessage,
        ErrorCode::UnsupportedProtocol,
        ErrorCode::HelloRequired,
        ErrorCode::AlreadyGreeted,
        ErrorCode::Internal,
    ] {
        assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{}\"", code.as_str()));
    }
}

#[test]
fn live_flag_defaults_to_false() {
    let frame = r#"{"type":"records","records":[]}"#;
    assert_eq!(
        ClientMessage::decode(frame).unwrap(),
        ClientMessage::Records(RecordBatch { live: false, records: vec![] })
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
