//! The server over a real socket: serve on 127.0.0.1:0 and connect a real WebSocket client.

#![cfg(not(target_arch = "wasm32"))] // the server is native only

mod support;

use support::{Client, connect, start_server};

use enroute_protocol::*;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

async fn send(client: &mut Client, message: ClientMessage) {
    client.send(Message::text(message.encode())).await.unwrap();
}

async fn receive(client: &mut Client) -> ServerMessage {
    ServerMessage::decode(&support::next_text(client).await).unwrap()
}

const T0: i64 = 1_763_769_600_000;

fn hello(driver_id: &str) -> ClientMessage {
    ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        max_protocol: None,
        driver_id: driver_id.into(),
        token: Some(support::token_of(driver_id)),
        app_version: "test".into(),
        last_event_id: 0,
    })
}

fn status_record(seq: u64) -> Record {
    Record {
        seq,
        id: RecordId::from_random_bits(seq as u128),
        created_at_ms: 1_700_000_000_000 + seq as i64,
        kind: RecordKind::Status { status: DriverStatus::OnDuty, reason: None },
    }
}

fn records(seqs: impl IntoIterator<Item = u64>) -> ClientMessage {
    ClientMessage::Records(RecordBatch {
        unreadable: Vec::new(),
        live: false,
        records: seqs.into_iter().map(status_record).collect(),
    })
}

async fn greet(client: &mut Client, driver_id: &str) -> Welcome {
    send(client, hello(driver_id)).await;
    match receive(client).await {
        ServerMessage::Welcome(welcome) => welcome,
        other => panic!("expected welcome, got {other:?}"),
    }
}

async fn expect_ack(client: &mut Client) -> u64 {
    match receive(client).await {
        ServerMessage::Ack(ack) => ack.acked_seq,
        other => panic!("expected ack, got {other:?}"),
    }
}

#[tokio::test]
async fn hello_gets_welcome_with_nothing_stored() {
    let address = start_server(support::test_state()).await;
    let mut client = connect(address).await;
    let welcome = greet(&mut client, "driver-1").await;
    assert_eq!(welcome.protocol, PROTOCOL_VERSION);
    assert_eq!(welcome.acked_seq, 0);
    assert!(welcome.server_time_ms > 1_700_000_000_000);
}

#[tokio::test]
async fn records_are_acked_cumulatively_and_welcome_remembers_them() {
    let address = start_server(support::test_state()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    send(&mut client, records(1..=3)).await;
    assert_eq!(expect_ack(&mut client).await, 3);
    client.close(None).await.unwrap();

    let mut again = connect(address).await;
    assert_eq!(greet(&mut again, "driver-1").await.acked_seq, 3);
    assert_eq!(greet(&mut connect(address).await, "driver-2").await.acked_seq, 0, "drivers are separate");
}

#[tokio::test]
async fn duplicates_are_counted_and_not_applied_twice() {
    let state = support::test_state();
    let store = state.store.clone();
    let address = start_server(state.clone()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    send(&mut client, records(1..=2)).await;
    assert_eq!(expect_ack(&mut client).await, 2);
    send(&mut client, records(1..=3)).await;
    assert_eq!(expect_ack(&mut client).await, 3);
    let history = store.history("driver-1").unwrap();
    assert_eq!(history.records.iter().map(|record| record.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    let duplicates = state.metrics.records_duplicate.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(duplicates, 2);
}

#[tokio::test]
async fn records_after_a_gap_wait_and_the_ack_stays_contiguous() {
    let state = support::test_state();
    let store = state.store.clone();
    let address = start_server(state.clone()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    send(&mut client, records([5])).await;
    assert_eq!(expect_ack(&mut client).await, 0, "5 is held, but 1 to 4 are missing");
    send(&mut client, records(1..=4)).await;
    assert_eq!(expect_ack(&mut client).await, 5);
    let applied: Vec<u64> =
        store.history("driver-1").unwrap().records.iter().map(|record| record.seq).collect();
    assert_eq!(applied, vec![1, 2, 3, 4, 5], "applied in sequence order");
}

#[tokio::test]
async fn ping_gets_pong_with_the_same_nonce() {
    let address = start_server(support::test_state()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    send(&mut client, ClientMessage::Ping(Ping { nonce: 77 })).await;
    assert_eq!(receive(&mut client).await, ServerMessage::Pong(Pong { nonce: 77 }));
}

#[tokio::test]
async fn records_before_hello_are_refused_and_the_socket_closes() {
    let address = start_server(support::test_state()).await;
    let mut client = connect(address).await;
    send(&mut client, records([1])).await;
    match receive(&mut client).await {
        ServerMessage::Error(error) => assert_eq!(error.code, ErrorCode::HelloRequired),
        other => panic!("expected error, got {other:?}"),
    }
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), client.next()).await.unwrap();
    assert!(matches!(next, Some(Ok(Message::Close(_))) | None), "socket closes, got {next:?}");
}

#[tokio::test]
async fn wrong_protocol_version_is_refused_with_a_clear_message() {
    let address = start_server(support::test_state()).await;
    let mut client = connect(address).await;
    let frame = r#"{"type":"hello","protocol":99,"driver_id":"d","app_version":"x","last_event_id":0}"#;
    client.send(Message::text(frame)).await.unwrap();
    match receive(&mut client).await {
        ServerMessage::Error(error) => {
            assert_eq!(error.code, ErrorCode::UnsupportedProtocol);
            assert!(error.message.contains("99"), "{}", error.message);
        }
        other => panic!("expected error, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_frame_gets_an_error_and_the_connection_keeps_working() {
    let address = start_server(support::test_state()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    client.send(Message::text("{not json")).await.unwrap();
    match receive(&mut client).await {
        ServerMessage::Error(error) => assert_eq!(error.code, ErrorCode::BadMessage),
        other => panic!("expected error, got {other:?}"),
    }
    send(&mut client, records([1])).await;
    assert_eq!(expect_ack(&mut client).await, 1);
}

#[tokio::test]
async fn a_gap_record_settles_the_numbers_it_names() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    send(&mut client, records([1, 2, 5])).await;
    assert_eq!(expect_ack(&mut client).await, 2);
    let gap = Record {
        seq: 6,
        id: RecordId::from_random_bits(6),
        created_at_ms: 1_700_000_000_000,
        kind: RecordKind::Gap { reason: GapReason::Evicted, lost: vec![SeqRange::new(3, 4)] },
    };
    send(
        &mut client,
        ClientMessage::Records(RecordBatch { unreadable: Vec::new(), live: false, records: vec![gap] }),
    )
    .await;
    assert_eq!(expect_ack(&mut client).await, 6);
    let history = state.store.history("driver-1").unwrap();
    assert_eq!(history.records.iter().map(|record| record.seq).collect::<Vec<_>>(), vec![1, 2, 5, 6]);
    assert_eq!(history.lost, vec![SeqRange::new(3, 4)]);
}

#[tokio::test]
async fn regression_a_gap_record_cannot_settle_numbers_above_its_own() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    let gap = Record {
        seq: 1,
        id: RecordId::from_random_bits(1),
        created_at_ms: 1_700_000_000_000,
        kind: RecordKind::Gap { reason: GapReason::Evicted, lost: vec![SeqRange::new(2, 1_000)] },
    };
    send(
        &mut client,
        ClientMessage::Records(RecordBatch { unreadable: Vec::new(), live: false, records: vec![gap] }),
    )
    .await;
    assert_eq!(expect_ack(&mut client).await, 1, "numbers 2 to 1000 are still expected");
}

#[tokio::test]
async fn the_newest_fix_is_the_current_position_whatever_the_arrival_order() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    let fix_record = |seq: u64, time_ms: i64| Record {
        seq,
        id: RecordId::from_random_bits(seq as u128),
        created_at_ms: time_ms,
        kind: RecordKind::Location {
            fix: Fix {
                time_ms,
                lat: seq as f64, // 1, 2 or 3 degrees: which fix is the position
                lon: 11.0,
                accuracy_m: 5.0,
                speed_mps: None,
                heading_deg: None,
                altitude_m: None,
            },
        },
    };
    // The live fix (3) first, then the backlog.
    send(
        &mut client,
        ClientMessage::Records(RecordBatch {
            unreadable: Vec::new(),
            live: true,
            records: vec![fix_record(3, T0 + 3_000)],
        }),
    )
    .await;
    assert_eq!(expect_ack(&mut client).await, 0);
    assert_eq!(
        state.store.driver("driver-1").unwrap().unwrap().position.unwrap().lat,
        3.0,
        "shown before the backlog"
    );
    send(
        &mut client,
        ClientMessage::Records(RecordBatch {
            unreadable: Vec::new(),
            live: false,
            records: vec![fix_record(1, T0 + 1_000), fix_record(2, T0 + 2_000)],
        }),
    )
    .await;
    assert_eq!(expect_ack(&mut client).await, 3);
    let driver = state.store.driver("driver-1").unwrap().unwrap();
    assert_eq!(driver.position.unwrap().lat, 3.0, "older fixes do not move the vehicle back");
    assert_eq!(driver.waiting, 0);
}

#[tokio::test]
async fn metrics_count_connections_records_and_duplicates() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-9").await;
    send(&mut client, records(1..=3)).await;
    expect_ack(&mut client).await;
    send(&mut client, records(2..=4)).await;
    expect_ack(&mut client).await;
    let text = state.metrics.render();
    for line in [
        "enroute_open_connections{state=\"signed_in\"} 1",
        "enroute_open_connections{state=\"awaiting_hello\"} 0",
        "enroute_connections_accepted_total 1",
        "enroute_records_received_total 6",
        "enroute_records_duplicate_total 2",
        "enroute_records_applied_total 4",
        "enroute_ack_latency_seconds_count 2",
    ] {
        assert!(text.lines().any(|candidate| candidate == line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains("driver-9"), "per-driver detail is in the dispatcher API, not in /metrics");
    let bytes_in = text.lines().find_map(|line| line.strip_prefix("enroute_received_bytes_total "));
    assert!(bytes_in.is_some_and(|bytes| bytes.parse::<u64>().unwrap() > 100), "{text}");
}

fn batch(records: Vec<Record>) -> ClientMessage {
    ClientMessage::Records(RecordBatch { unreadable: Vec::new(), live: false, records })
}

fn gap(seq: u64, reason: GapReason, lost: Vec<SeqRange>) -> Record {
    Record {
        seq,
        id: RecordId::from_random_bits(seq as u128),
        created_at_ms: 1_700_000_000_000,
        kind: RecordKind::Gap { reason, lost },
    }
}

async fn expect_full_ack(client: &mut Client) -> RecordAck {
    match receive(client).await {
        ServerMessage::Ack(ack) => ack,
        other => panic!("expected ack, got {other:?}"),
    }
}

/// Regression (issue: a record after a gap that covers it disappeared): a record that a
/// `not_stored` or eviction gap had declared lost, arriving after the gap (on an older
/// connection, say), was acknowledged as a duplicate and neither applied nor refused.
/// docs/protocol.md: records inside a lost range that do arrive are still applied.
#[tokio::test]
async fn regression_a_record_arriving_after_the_gap_that_covers_it_is_applied() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    send(&mut client, records([1, 2])).await;
    assert_eq!(expect_ack(&mut client).await, 2);
    send(&mut client, batch(vec![gap(5, GapReason::NotStored, vec![SeqRange::new(3, 4)])])).await;
    assert_eq!(expect_ack(&mut client).await, 5);
    // Record 3 arrives after all.
    send(&mut client, records([3])).await;
    assert_eq!(expect_ack(&mut client).await, 5);
    let history = state.store.history("driver-1").unwrap();
    assert_eq!(history.records.iter().map(|record| record.seq).collect::<Vec<_>>(), vec![1, 2, 3, 5]);
    // Once: a second delivery is a duplicate.
    send(&mut client, records([3])).await;
    assert_eq!(expect_ack(&mut client).await, 5);
    assert_eq!(state.store.history("driver-1").unwrap().records.len(), 4);
    // A number the server never declared lost is still a plain duplicate.
    send(&mut client, records([2])).await;
    assert_eq!(expect_ack(&mut client).await, 5);
    assert_eq!(state.store.history("driver-1").unwrap().records.len(), 4);
}

/// Regression (issue: sequence numbers at or above 2^63 came back out of order, a signed wrap in
/// storage): numbers run from 1 to 2^53 - 1 (JavaScript's safe integers); a record outside
/// that is refused, named in the `ack`, and never stored.
#[tokio::test]
async fn regression_sequence_numbers_outside_one_to_two_to_the_53_are_refused_and_never_stored() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    send(&mut client, records([1, MAX_SEQ + 1, 1 << 63, u64::MAX])).await;
    let ack = expect_full_ack(&mut client).await;
    assert_eq!(ack.acked_seq, 1);
    let mut refused: Vec<u64> = ack.rejected.iter().map(|rejection| rejection.seq).collect();
    refused.sort_unstable();
    assert_eq!(refused, vec![MAX_SEQ + 1, 1 << 63, u64::MAX]);
    assert!(ack.rejected.iter().all(|rejection| rejection.reason.contains("2^53")), "{:?}", ack.rejected);
    send(&mut client, records([0])).await;
    let ack = expect_full_ack(&mut client).await;
    assert_eq!(
        ack.rejected.iter().map(|rejection| rejection.seq).collect::<Vec<_>>(),
        vec![0],
        "seq 0 is named too"
    );
    // The largest number is fine, and waits behind the gap below it like any other.
    let largest = Record { created_at_ms: 1_700_000_000_000, ..status_record(MAX_SEQ) };
    send(&mut client, batch(vec![largest, status_record(2)])).await;
    let ack = expect_full_ack(&mut client).await;
    assert_eq!(ack.acked_seq, 2);
    assert!(ack.rejected.is_empty());
    let history = state.store.history("driver-1").unwrap();
    assert_eq!(history.records.iter().map(|record| record.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(state.store.driver("driver-1").unwrap().unwrap().waiting, 1);
}

/// Regression (issue: live events pushed out of order, one lost): event ids are taken in commit
/// order, but publishers race after the commit. When N+1 was pushed before N, the connection
/// sent N+1, raised its high-water mark, and dropped N when it came: the device never asked for
/// it again. Now a push that skips ids sends every stored event after the last one sent.
#[tokio::test]
async fn regression_an_event_pushed_before_the_one_before_it_loses_neither() {
    let state = support::test_state();
    let address = start_server(state.clone()).await;
    let mut client = connect(address).await;
    greet(&mut client, "driver-1").await;
    let first = state.store.send_message("driver-1", "first", T0).unwrap();
    let second = state.store.send_message("driver-1", "second", T0 + 1).unwrap();
    assert_eq!(second.event_id, first.event_id + 1);
    // The second publisher wins the race.
    state.hub.publish("driver-1", &second);
    state.hub.publish("driver-1", &first);
    let mut received = Vec::new();
    for _ in 0..2 {
        match receive(&mut client).await {
            ServerMessage::Event(event) => received.push(event.event_id),
            other => panic!("expected an event, got {other:?}"),
        }
    }
    assert_eq!(received, vec![first.event_id, second.event_id], "both, in id order");
    // And nothing more: the late push of the first is not sent twice.
    send(&mut client, records([1])).await;
    assert_eq!(expect_ack(&mut client).await, 1);
}
