//! Protocol versions 1 and 2 side by side on one server: an app that speaks only version 1 (as
//! every app before version 2 did) and one that offers version 2 each get the form they speak,
//! frame by frame, and their records end up stored the same.

#![cfg(not(target_arch = "wasm32"))] // the server is native only

mod support;

use support::{Client, connect, start_server};

use enroute_protocol::*;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

async fn send_text(client: &mut Client, text: String) {
    client.send(Message::text(text)).await.unwrap();
}

use support::next_text as receive_text;

fn hello(driver_id: &str, max_protocol: Option<u32>) -> ClientMessage {
    ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        max_protocol,
        driver_id: driver_id.into(),
        token: Some(support::token_of(driver_id)),
        app_version: "test".into(),
        last_event_id: 0,
    })
}

/// The same three records for every driver: on duty, a fix with every field, a fix with few.
fn drive(now_ms: i64) -> Vec<Record> {
    let fix = Fix {
        time_ms: now_ms - 1_000,
        lat: 48.1371545,
        lon: 11.5761249,
        accuracy_m: 4.5,
        speed_mps: Some(12.25),
        heading_deg: Some(271.5),
        altitude_m: Some(519.3),
    };
    vec![
        Record {
            seq: 1,
            id: RecordId::from_random_bits(1),
            created_at_ms: now_ms - 2_000,
            kind: RecordKind::Status { status: DriverStatus::OnDuty, reason: None },
        },
        Record {
            seq: 2,
            id: RecordId::from_random_bits(2),
            created_at_ms: now_ms - 900,
            kind: RecordKind::Location { fix },
        },
        Record {
            seq: 3,
            id: RecordId::from_random_bits(u128::MAX),
            created_at_ms: now_ms,
            kind: RecordKind::Location {
                fix: Fix { time_ms: now_ms, speed_mps: None, heading_deg: None, altitude_m: None, ..fix },
            },
        },
    ]
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test]
async fn a_version_1_app_and_a_version_2_app_work_side_by_side() {
    let state = support::test_state();
    let store = state.store.clone();
    let address = start_server(state).await;
    let mut old_app = connect(address).await;
    let mut new_app = connect(address).await;

    send_text(&mut old_app, hello("driver-1", None).encode()).await;
    send_text(&mut new_app, hello("driver-2", Some(MAX_PROTOCOL_VERSION)).encode()).await;
    let old_welcome = receive_text(&mut old_app).await;
    let new_welcome = receive_text(&mut new_app).await;
    let (ServerMessage::Welcome(old_welcome), ServerMessage::Welcome(new_welcome)) =
        (ServerMessage::decode(&old_welcome).unwrap(), ServerMessage::decode(&new_welcome).unwrap())
    else {
        panic!("both apps are welcomed");
    };
    assert_eq!(old_welcome.protocol, 1, "an app that did not offer version 2 gets version 1");
    assert_eq!(new_welcome.protocol, 2);
    let old_wire = WireFormat::after_welcome(&old_welcome);
    let new_wire = WireFormat::after_welcome(&new_welcome);

    let records = drive(now_ms());
    let batch = ClientMessage::Records(RecordBatch::new(records.clone()));
    let old_frame = old_wire.encode_client(&batch);
    let new_frame = new_wire.encode_client(&batch);
    assert!(old_frame.starts_with("{\"type\":\"records\""), "{old_frame}");
    assert!(new_frame.starts_with("[\"r\","), "{new_frame}");
    assert!(
        new_frame.len() * 2 < old_frame.len(),
        "compact: {} bytes, objects: {}",
        new_frame.len(),
        old_frame.len()
    );
    send_text(&mut old_app, old_frame).await;
    send_text(&mut new_app, new_frame).await;
    assert_eq!(receive_text(&mut old_app).await, r#"{"type":"ack","acked_seq":3}"#);
    assert_eq!(receive_text(&mut new_app).await, r#"["a",3]"#);

    // Pings and event acks, each in its connection's form; a version 2 app may use objects too.
    send_text(&mut old_app, old_wire.encode_client(&ClientMessage::Ping(Ping { nonce: 7 }))).await;
    assert_eq!(receive_text(&mut old_app).await, r#"{"type":"pong","nonce":7}"#);
    send_text(&mut new_app, new_wire.encode_client(&ClientMessage::Ping(Ping { nonce: 7 }))).await;
    assert_eq!(receive_text(&mut new_app).await, r#"["o",7]"#);
    send_text(&mut new_app, ClientMessage::Ping(Ping { nonce: 8 }).encode()).await;
    assert_eq!(receive_text(&mut new_app).await, r#"["o",8]"#);

    // A compact frame on a version 1 connection is a frame it cannot read; the socket stays.
    send_text(&mut old_app, r#"["p",9]"#.into()).await;
    let refused = ServerMessage::decode(&receive_text(&mut old_app).await).unwrap();
    assert!(
        matches!(refused, ServerMessage::Error(ErrorMessage { code: ErrorCode::BadMessage, .. })),
        "{refused:?}"
    );

    for driver in ["driver-1", "driver-2"] {
        assert_eq!(store.history(driver).unwrap().records, records, "{driver} stored exactly what it sent");
    }
}

#[tokio::test]
async fn a_bad_compact_record_is_rejected_alone_and_named_in_the_compact_ack() {
    let address = start_server(support::test_state()).await;
    let mut app = connect(address).await;
    send_text(&mut app, hello("driver-1", Some(2)).encode()).await;
    let ServerMessage::Welcome(welcome) = ServerMessage::decode(&receive_text(&mut app).await).unwrap()
    else {
        panic!("welcomed");
    };
    let wire = WireFormat::after_welcome(&welcome);
    let good = wire.encode_client(&ClientMessage::Records(RecordBatch::new(drive(now_ms())[..1].to_vec())));
    send_text(&mut app, good).await;
    assert_eq!(receive_text(&mut app).await, r#"["a",1]"#);
    send_text(&mut app, r#"["r",[2,"AAAAAAAAAAAAAAAAAAAAAg",0,0,"north",11.5,5]]"#.into()).await;
    let ack = ServerMessage::decode(&receive_text(&mut app).await).unwrap();
    let ServerMessage::Ack(ack) = ack else { panic!("an ack: {ack:?}") };
    assert_eq!(ack.acked_seq, 2, "a refused record is settled");
    assert_eq!(ack.rejected.len(), 1);
    assert!(ack.rejected[0].reason.contains("invalid type"), "{}", ack.rejected[0].reason);
}

#[tokio::test]
async fn a_hello_in_a_version_newer_than_the_server_speaks_is_refused_with_the_versions() {
    let address = start_server(support::test_state()).await;
    let mut app = connect(address).await;
    let mut hello = hello("driver-1", None);
    if let ClientMessage::Hello(inner) = &mut hello {
        inner.protocol = MAX_PROTOCOL_VERSION + 1;
    }
    send_text(&mut app, hello.encode()).await;
    let refusal = ServerMessage::decode(&receive_text(&mut app).await).unwrap();
    let ServerMessage::Error(error) = refusal else { panic!("refused: {refusal:?}") };
    assert_eq!(error.code, ErrorCode::UnsupportedProtocol);
    assert!(error.message.contains("1 to 2"), "{}", error.message);
}
