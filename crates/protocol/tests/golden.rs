//! Golden tests: every message's exact JSON text is pinned by a file in `tests/golden/`.
//! A change to the wire format shows up here as a failing test and a diff to review.
//!
//! To regenerate after an intended change: `UPDATE_GOLDEN=1 cargo test -p enroute-protocol`,
//! then review the diff of `tests/golden/` and `docs/protocol.md` by hand.

use enroute_protocol::*;
use std::path::PathBuf;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{name}.json"))
}

fn check_golden(name: &str, encoded: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, format!("{encoded}\n")).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    assert_eq!(encoded, expected.trim_end(), "wire format of `{name}` changed");
}

fn check_client(name: &str, message: ClientMessage) {
    let encoded = message.encode();
    check_golden(name, &encoded);
    assert_eq!(ClientMessage::decode(&encoded).unwrap(), message, "round trip of `{name}`");
}

fn check_server(name: &str, message: ServerMessage) {
    let encoded = message.encode();
    check_golden(name, &encoded);
    assert_eq!(ServerMessage::decode(&encoded).unwrap(), message, "round trip of `{name}`");
}

fn sample_fix() -> Fix {
    Fix {
        time_ms: 1_763_769_600_000,
        lat: 48.1371545,
        lon: 11.5761249,
        accuracy_m: 4.5,
        speed_mps: Some(12.25),
        heading_deg: Some(271.5),
        altitude_m: None,
    }
}

/// A duty change and a fix, as a `records` frame carries them (both versions' goldens).
fn on_duty_then_a_fix() -> Vec<Record> {
    vec![
        Record {
            seq: 41,
            id: RecordId::from_random_bits(0x0123_4567_89ab_cdef_0011_2233_4455_6677),
            created_at_ms: 1_763_769_599_000,
            kind: RecordKind::Status { status: DriverStatus::OnDuty, reason: None },
        },
        Record {
            seq: 42,
            id: RecordId::from_random_bits(0xfedc_ba98_7654_3210_8899_aabb_ccdd_eeff),
            created_at_ms: 1_763_769_600_010,
            kind: RecordKind::Location { fix: sample_fix() },
        },
    ]
}

#[test]
fn client_hello() {
    check_client(
        "client_hello",
        ClientMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            max_protocol: None,
            driver_id: "driver-7".into(),
            token: Some("4f2a9c1e7b3d5a8f0c6e2b9d4a7f1c3e".into()),
            app_version: "0.1.0".into(),
            last_event_id: 12,
        }),
    );
}

#[test]
fn client_hello_without_token() {
    check_client(
        "client_hello_without_token",
        ClientMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            max_protocol: None,
            driver_id: "driver-7".into(),
            token: None,
            app_version: "0.1.0".into(),
            last_event_id: 0,
        }),
    );
}

#[test]
fn client_records() {
    check_client(
        "client_records",
        ClientMessage::Records(RecordBatch {
            unreadable: Vec::new(),
            live: false,
            records: on_duty_then_a_fix(),
        }),
    );
}

#[test]
fn client_records_live() {
    check_client(
        "client_records_live",
        ClientMessage::Records(RecordBatch {
            unreadable: Vec::new(),
            live: true,
            records: vec![Record {
                seq: 980,
                id: RecordId::from_random_bits(7),
                created_at_ms: 1_763_769_600_010,
                kind: RecordKind::Location {
                    fix: Fix { speed_mps: None, heading_deg: None, altitude_m: Some(519.0), ..sample_fix() },
                },
            }],
        }),
    );
}

#[test]
fn client_status_off_duty() {
    check_client(
        "client_status_off_duty",
        ClientMessage::Records(RecordBatch {
            unreadable: Vec::new(),
            live: false,
            records: vec![Record {
                seq: 43,
                id: RecordId::from_random_bits(u128::MAX),
                created_at_ms: 1_763_773_200_000,
                kind: RecordKind::Status { status: DriverStatus::OffDuty, reason: None },
            }],
        }),
    );
}

#[test]
fn client_records_gap() {
    check_client(
        "client_records_gap",
        ClientMessage::Records(RecordBatch {
            unreadable: Vec::new(),
            live: false,
            records: vec![Record {
                seq: 5000,
                id: RecordId::from_random_bits(0xabc),
                created_at_ms: 1_763_769_600_000,
                kind: RecordKind::Gap {
                    reason: GapReason::Evicted,
                    lost: vec![SeqRange::new(1, 40), SeqRange::new(42, 97)],
                },
            }],
        }),
    );
}

#[test]
fn client_status_tracking_paused() {
    check_client(
        "client_status_tracking_paused",
        ClientMessage::Records(RecordBatch {
            unreadable: Vec::new(),
            live: false,
            records: vec![
                Record {
                    seq: 44,
                    id: RecordId::from_random_bits(44),
                    created_at_ms: 1_763_773_100_000,
                    kind: RecordKind::Status {
                        status: DriverStatus::TrackingPaused,
                        reason: Some(PauseReason::PageHidden),
                    },
                },
                Record {
                    seq: 45,
                    id: RecordId::from_random_bits(45),
                    created_at_ms: 1_763_773_160_000,
                    kind: RecordKind::Status { status: DriverStatus::TrackingResumed, reason: None },
                },
            ],
        }),
    );
}

#[test]
fn client_ack() {
    check_client("client_ack", ClientMessage::Ack(EventAck { event_id: 12 }));
}

#[test]
fn client_ping() {
    check_client("client_ping", ClientMessage::Ping(Ping { nonce: 3 }));
}

#[test]
fn server_welcome() {
    check_server(
        "server_welcome",
        ServerMessage::Welcome(Welcome {
            rejected: Vec::new(),
            protocol: PROTOCOL_VERSION,
            acked_seq: 40,
            server_time_ms: 1_763_769_600_123,
        }),
    );
}

#[test]
fn server_ack() {
    check_server("server_ack", ServerMessage::Ack(RecordAck { acked_seq: 42, rejected: Vec::new() }));
}

#[test]
fn server_event_message() {
    check_server(
        "server_event_message",
        ServerMessage::Event(Event {
            event_id: 13,
            created_at_ms: 1_763_769_700_000,
            payload: EventPayload::Message { text: "Call the depot <before> 10:00 & \"soon\"".into() },
        }),
    );
}

fn sample_assignment(status: AssignmentStatus) -> Assignment {
    Assignment {
        id: "job-481".into(),
        pickup: Stop { address: "Marienplatz 1, München".into(), lat: 48.1374, lon: 11.5755 },
        dropoff: Stop { address: "Leopoldstraße 50, München".into(), lat: 48.1600, lon: 11.5863 },
        window: TimeWindow { from_ms: 1_763_773_200_000, to_ms: 1_763_776_800_000 },
        notes: "Ring twice <b>not</b> a tag".into(),
        accept_by_ms: Some(1_763_770_000_000),
        status,
        failure_reason: None,
    }
}

#[test]
fn server_event_assignment_offered() {
    check_server(
        "server_event_assignment_offered",
        ServerMessage::Event(Event {
            event_id: 14,
            created_at_ms: 1_763_769_800_000,
            payload: EventPayload::Assignment {
                assignment: sample_assignment(AssignmentStatus::Offered),
                notice: None,
                refused_seq: None,
            },
        }),
    );
}

#[test]
fn server_event_assignment_refused_action() {
    check_server(
        "server_event_assignment_refused_action",
        ServerMessage::Event(Event {
            event_id: 15,
            created_at_ms: 1_763_769_900_000,
            payload: EventPayload::Assignment {
                assignment: sample_assignment(AssignmentStatus::Cancelled),
                notice: Some("The dispatcher cancelled this job before your accept arrived.".into()),
                refused_seq: Some(52),
            },
        }),
    );
}

#[test]
fn client_records_assignment_actions() {
    check_client(
        "client_records_assignment_actions",
        ClientMessage::Records(RecordBatch {
            unreadable: Vec::new(),
            live: false,
            records: vec![
                Record {
                    seq: 52,
                    id: RecordId::from_random_bits(52),
                    created_at_ms: 1_763_769_850_000,
                    kind: RecordKind::Assignment {
                        assignment_id: "job-481".into(),
                        action: DriverAction::Accept,
                        reason: None,
                    },
                },
                Record {
                    seq: 53,
                    id: RecordId::from_random_bits(53),
                    created_at_ms: 1_763_775_000_000,
                    kind: RecordKind::Assignment {
                        assignment_id: "job-481".into(),
                        action: DriverAction::Fail,
                        reason: Some("nobody home".into()),
                    },
                },
            ],
        }),
    );
}

#[test]
fn server_pong() {
    check_server("server_pong", ServerMessage::Pong(Pong { nonce: 3 }));
}

#[test]
fn server_error() {
    check_server(
        "server_error",
        ServerMessage::Error(ErrorMessage {
            code: ErrorCode::UnsupportedProtocol,
            message: "this server speaks protocol 1, the app spoke 2".into(),
        }),
    );
}

/// Every golden file must belong to a test above, so a renamed message cannot leave a stale file.
#[test]
fn upload_records() {
    let upload = RecordUpload {
        unreadable: Vec::new(),
        driver_id: "driver-7".into(),
        token: Some("4f2a9c1e7b3d5a8f0c6e2b9d4a7f1c3e".into()),
        records: vec![Record {
            seq: 42,
            id: RecordId::from_random_bits(0xfedc_ba98_7654_3210_8899_aabb_ccdd_eeff),
            created_at_ms: 1_763_769_600_010,
            kind: RecordKind::Location { fix: sample_fix() },
        }],
    };
    let encoded = upload.encode();
    check_golden("upload_records", &encoded);
    assert_eq!(RecordUpload::decode(&encoded).unwrap(), upload);
}

#[test]
fn upload_receipt() {
    let receipt = UploadReceipt {
        acked_seq: 42,
        rejected: vec![RecordRejection { seq: 40, reason: "fix.lat 91 is out of range".into() }],
    };
    let encoded = receipt.encode();
    check_golden("upload_receipt", &encoded);
    assert_eq!(UploadReceipt::decode(&encoded).unwrap(), receipt);
}

#[test]
fn server_ack_with_rejections() {
    check_server(
        "server_ack_with_rejections",
        ServerMessage::Ack(RecordAck {
            acked_seq: 42,
            rejected: vec![RecordRejection {
                seq: 41,
                reason: "unreadable record: unknown variant `teleport`".into(),
            }],
        }),
    );
}

#[test]
fn server_welcome_with_rejections() {
    check_server(
        "server_welcome_with_rejections",
        ServerMessage::Welcome(Welcome {
            protocol: PROTOCOL_VERSION,
            acked_seq: 42,
            server_time_ms: 1_763_769_600_000,
            rejected: vec![RecordRejection { seq: 41, reason: "fix.lat 91 is out of range".into() }],
        }),
    );
}

#[test]
fn server_error_unauthorized() {
    check_server(
        "server_error_unauthorized",
        ServerMessage::Error(ErrorMessage {
            code: ErrorCode::Unauthorized,
            message: "driver id and token do not match".into(),
        }),
    );
}

#[test]
fn every_golden_file_is_checked() {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().trim_end_matches(".json").to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "client_ack",
            "client_hello",
            "client_hello_offering_v2",
            "client_hello_without_token",
            "client_ping",
            "client_records",
            "client_records_assignment_actions",
            "client_records_gap",
            "client_records_live",
            "client_status_off_duty",
            "client_status_tracking_paused",
            "console_subscribe",
            "console_subscribe_resume",
            "feed_delta_connected",
            "feed_delta_job",
            "feed_delta_message",
            "feed_delta_position",
            "feed_delta_status",
            "feed_deltas",
            "feed_resumed",
            "feed_snapshot",
            "server_ack",
            "server_ack_with_rejections",
            "server_error",
            "server_error_unauthorized",
            "server_event_assignment_offered",
            "server_event_assignment_refused_action",
            "server_event_message",
            "server_pong",
            "server_welcome",
            "server_welcome_v2",
            "server_welcome_with_rejections",
            "upload_receipt",
            "upload_records",
            "v2_client_ack",
            "v2_client_ping",
            "v2_client_records",
            "v2_client_records_assignment_and_gap",
            "v2_client_records_live",
            "v2_server_ack",
            "v2_server_ack_with_rejections",
            "v2_server_pong",
        ]
    );
}

fn check_console(name: &str, message: ConsoleMessage) {
    let encoded = message.encode();
    check_golden(name, &encoded);
    assert_eq!(ConsoleMessage::decode(&encoded).unwrap(), message, "round trip of `{name}`");
}

fn check_feed(name: &str, message: FeedMessage) {
    let encoded = message.encode();
    check_golden(name, &encoded);
    assert_eq!(FeedMessage::decode(&encoded).unwrap(), message, "round trip of `{name}`");
}

#[test]
fn console_subscribe() {
    check_console("console_subscribe", ConsoleMessage::Subscribe(Subscribe { drivers: None, resume: None }));
    check_console(
        "console_subscribe_resume",
        ConsoleMessage::Subscribe(Subscribe {
            drivers: Some(vec!["driver-7".into(), "driver-9".into()]),
            resume: Some(FeedPosition { feed_id: "3f9c2a71".into(), feed_seq: 4120 }),
        }),
    );
}

#[test]
fn feed_snapshot_and_resumed() {
    check_feed(
        "feed_snapshot",
        FeedMessage::Snapshot(FeedSnapshot {
            feed_id: "3f9c2a71".into(),
            feed_seq: 4120,
            server_time_ms: 1_763_769_601_000,
            drivers: vec![
                FeedDriver {
                    driver_id: "driver-7".into(),
                    connected: true,
                    duty: Some(DriverStatus::OnDuty),
                    paused: Some(PauseReason::PageHidden),
                    last_seen_ms: Some(1_763_769_600_500),
                    waiting: 0,
                    position: Some(sample_fix()),
                },
                FeedDriver {
                    driver_id: "driver-9".into(),
                    connected: false,
                    duty: None,
                    paused: None,
                    last_seen_ms: None,
                    waiting: 0,
                    position: None,
                },
            ],
            jobs: vec![FeedJob {
                driver_id: "driver-7".into(),
                assignment: sample_assignment(AssignmentStatus::Accepted),
                history: vec![
                    JobChange {
                        at_ms: 1_763_769_500_000,
                        status: AssignmentStatus::Offered,
                        changed_by: "dispatcher".into(),
                        record_seq: None,
                    },
                    JobChange {
                        at_ms: 1_763_769_550_000,
                        status: AssignmentStatus::Accepted,
                        changed_by: "driver".into(),
                        record_seq: Some(52),
                    },
                ],
            }],
        }),
    );
    check_feed(
        "feed_resumed",
        FeedMessage::Resumed(FeedPosition { feed_id: "3f9c2a71".into(), feed_seq: 4120 }),
    );
}

#[test]
fn feed_several_deltas_in_one_frame() {
    let fix =
        |seconds: i64, lat: f64| Fix { time_ms: 1_763_769_600_000 + seconds * 1000, lat, ..sample_fix() };
    check_feed(
        "feed_deltas",
        FeedMessage::Deltas(FeedDeltas {
            deltas: vec![
                FeedDelta {
                    feed_seq: 4125,
                    at_ms: 1_763_769_601_300,
                    change: FeedChange::Position { driver_id: "driver-7".into(), fix: fix(1, 48.1372) },
                },
                FeedDelta {
                    feed_seq: 4126,
                    at_ms: 1_763_769_601_310,
                    change: FeedChange::Position { driver_id: "driver-9".into(), fix: fix(1, 48.1401) },
                },
                FeedDelta {
                    feed_seq: 4127,
                    at_ms: 1_763_769_601_320,
                    change: FeedChange::Disconnected { driver_id: "driver-9".into() },
                },
            ],
        }),
    );
}

#[test]
fn feed_deltas() {
    let delta =
        |feed_seq, change| FeedMessage::Delta(FeedDelta { feed_seq, at_ms: 1_763_769_601_200, change });
    check_feed(
        "feed_delta_position",
        delta(4121, FeedChange::Position { driver_id: "driver-7".into(), fix: sample_fix() }),
    );
    check_feed(
        "feed_delta_status",
        delta(
            4122,
            FeedChange::Status {
                driver_id: "driver-7".into(),
                status: DriverStatus::TrackingPaused,
                reason: Some(PauseReason::PermissionDenied),
            },
        ),
    );
    check_feed("feed_delta_connected", delta(4123, FeedChange::Connected { driver_id: "driver-9".into() }));
    check_feed(
        "feed_delta_job",
        delta(
            4124,
            FeedChange::Job {
                driver_id: "driver-7".into(),
                assignment: sample_assignment(AssignmentStatus::PickedUp),
                latest: JobChange {
                    at_ms: 1_763_769_601_100,
                    status: AssignmentStatus::PickedUp,
                    changed_by: "driver".into(),
                    record_seq: Some(61),
                },
            },
        ),
    );
    check_feed(
        "feed_delta_message",
        delta(
            4125,
            FeedChange::Message { driver_id: "driver-7".into(), event_id: 13, text: "Gate code 4711".into() },
        ),
    );
}

// Version 2: the compact forms (`WireFormat::Compact`), and the hello and welcome that choose them.

/// The `server_time_ms` of the version 2 welcome below: compact record times count from it.
const TIME_BASE_MS: i64 = 1_763_769_600_123;

fn compact() -> WireFormat {
    WireFormat::Compact { time_base_ms: TIME_BASE_MS }
}

fn check_client_v2(name: &str, message: ClientMessage) {
    let encoded = compact().encode_client(&message);
    check_golden(name, &encoded);
    assert_eq!(compact().decode_client(&encoded).unwrap(), message, "round trip of `{name}`");
}

fn check_server_v2(name: &str, message: ServerMessage) {
    let encoded = compact().encode_server(&message);
    check_golden(name, &encoded);
    assert_eq!(ServerMessage::decode(&encoded).unwrap(), message, "round trip of `{name}`");
}

#[test]
fn client_hello_offering_version_2() {
    check_client(
        "client_hello_offering_v2",
        ClientMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            max_protocol: Some(MAX_PROTOCOL_VERSION),
            driver_id: "driver-7".into(),
            token: Some("4f2a9c1e7b3d5a8f0c6e2b9d4a7f1c3e".into()),
            app_version: "0.1.0".into(),
            last_event_id: 12,
        }),
    );
}

#[test]
fn server_welcome_version_2() {
    let welcome = Welcome { protocol: 2, acked_seq: 40, server_time_ms: TIME_BASE_MS, rejected: Vec::new() };
    assert_eq!(WireFormat::after_welcome(&welcome), compact());
    check_server("server_welcome_v2", ServerMessage::Welcome(welcome));
}

#[test]
fn v2_client_records() {
    check_client_v2(
        "v2_client_records",
        ClientMessage::Records(RecordBatch {
            unreadable: Vec::new(),
            live: false,
            records: [
                on_duty_then_a_fix(),
                vec![Record {
                    seq: 43,
                    id: RecordId::from_random_bits(43),
                    created_at_ms: 1_763_769_612_500,
                    kind: RecordKind::Location {
                        fix: Fix {
                            time_ms: 1_763_769_612_000,
                            accuracy_m: 5.0,
                            speed_mps: Some(0.0),
                            heading_deg: None,
                            ..sample_fix()
                        },
                    },
                }],
            ]
            .concat(),
        }),
    );
}

#[test]
fn v2_client_records_live_with_altitude_and_no_speed() {
    check_client_v2(
        "v2_client_records_live",
        ClientMessage::Records(RecordBatch {
            unreadable: Vec::new(),
            live: true,
            records: vec![Record {
                seq: 980,
                id: RecordId::from_random_bits(7),
                // Older than the connection: a backlog's fix counts back from the time base.
                created_at_ms: 1_763_760_000_000,
                kind: RecordKind::Location {
                    fix: Fix {
                        time_ms: 1_763_759_999_000,
                        speed_mps: None,
                        heading_deg: None,
                        altitude_m: Some(519.3),
                        ..sample_fix()
                    },
                },
            }],
        }),
    );
}

#[test]
fn v2_client_records_of_other_kinds_go_as_objects() {
    check_client_v2(
        "v2_client_records_assignment_and_gap",
        ClientMessage::Records(RecordBatch {
            unreadable: Vec::new(),
            live: false,
            records: vec![
                Record {
                    seq: 52,
                    id: RecordId::from_random_bits(52),
                    created_at_ms: 1_763_769_850_000,
                    kind: RecordKind::Assignment {
                        assignment_id: "job-481".into(),
                        action: DriverAction::Accept,
                        reason: None,
                    },
                },
                Record {
                    seq: 5000,
                    id: RecordId::from_random_bits(0xabc),
                    created_at_ms: 1_763_769_600_000,
                    kind: RecordKind::Gap { reason: GapReason::Evicted, lost: vec![SeqRange::new(1, 40)] },
                },
            ],
        }),
    );
}

#[test]
fn v2_client_ping_and_event_ack() {
    check_client_v2("v2_client_ping", ClientMessage::Ping(Ping { nonce: 3 }));
    check_client_v2("v2_client_ack", ClientMessage::Ack(EventAck { event_id: 12 }));
}

#[test]
fn v2_server_ack_and_pong() {
    check_server_v2("v2_server_ack", ServerMessage::Ack(RecordAck { acked_seq: 42, rejected: Vec::new() }));
    check_server_v2(
        "v2_server_ack_with_rejections",
        ServerMessage::Ack(RecordAck {
            acked_seq: 42,
            rejected: vec![RecordRejection {
                seq: 41,
                reason: "reason is 612 characters, at most 500".into(),
            }],
        }),
    );
    check_server_v2("v2_server_pong", ServerMessage::Pong(Pong { nonce: 3 }));
}

#[test]
fn v2_keeps_the_object_form_for_rare_server_messages() {
    let event = ServerMessage::Event(Event {
        event_id: 13,
        created_at_ms: 1_763_769_700_000,
        payload: EventPayload::Message { text: "Call the depot".into() },
    });
    assert_eq!(compact().encode_server(&event), event.encode());
    let error = ServerMessage::Error(ErrorMessage { code: ErrorCode::BadMessage, message: "x".into() });
    assert_eq!(compact().encode_server(&error), error.encode());
}
